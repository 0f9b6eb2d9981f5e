//! AWS services in the trace (feature `aws-sdk`): the calls of every
//! AWS SDK for Rust client, and traces that cross SQS.
//!
//! * [`XrayInterceptor`]: one span per AWS operation (`DynamoDB.GetItem`,
//!   `S3.PutObject`, `SQS.SendMessage`, ...), with the semantic conventions'
//!   attributes, the outcome as X-Ray tells it (throttled, client error,
//!   fault), and the trace context on every request. Add it to a client's
//!   configuration, or make the client with [`aws_client!`](crate::aws_client).
//! * SQS: messages sent through a traced client carry their trace context
//!   in the `AWSTraceHeader` system attribute; a consumer continues the
//!   trace with [`trace_header`] and `#[xray_root(trace_header = ...)]`, or
//!   links a batch's traces with [`link_messages`]. [`SqsMessage`] reads an
//!   `aws_sdk_sqs::types::Message` (feature `aws-sdk-sqs`) or the
//!   `attributes` of a Lambda SQS event record.
//!
//! ```no_run
//! # #[cfg(feature = "aws-sdk-sqs")]
//! # async fn run(sdk_config: aws_types::SdkConfig) -> Result<(), aws_sdk_sqs::Error> {
//! use xray_runtime::aws::XrayInterceptor;
//! use xray_runtime::{traced, xray_root};
//!
//! // One client, traced:
//! let sqs = aws_sdk_sqs::Client::from_conf(
//!     aws_sdk_sqs::config::Builder::from(&sdk_config)
//!         .interceptor(XrayInterceptor::new())
//!         .build(),
//! );
//! // or, the same in one call, for any aws-sdk-* crate:
//! let sqs = xray_runtime::aws_client!(aws_sdk_sqs, &sdk_config);
//!
//! #[traced]
//! async fn place(sqs: &aws_sdk_sqs::Client, queue: &str) -> Result<(), aws_sdk_sqs::Error> {
//!     // A PRODUCER span `SQS.SendMessage`; the message carries its context.
//!     sqs.send_message().queue_url(queue).message_body("order 7").send().await?;
//!     Ok(())
//! }
//!
//! // The consumer: each message continues its producer's trace.
//! #[xray_root(kind = consumer, name = "orders process", trace_header = xray_runtime::aws::trace_header(message))]
//! async fn process(message: &aws_sdk_sqs::types::Message) {
//!     // ...
//! }
//!
//! let received = sqs.receive_message().queue_url("https://...").send().await?;
//! for message in received.messages() {
//!     process(message).await;
//! }
//! # Ok(())
//! # }
//! ```

mod interceptor;
mod json;
mod outcome;
mod request;
mod service;
mod sqs;

pub use interceptor::XrayInterceptor;
pub use sqs::{AWS_TRACE_HEADER, SqsMessage, link_messages, producer_context, trace_header};

/// Makes a client of any `aws-sdk-*` crate from an `SdkConfig`, with the
/// [`XrayInterceptor`](crate::aws::XrayInterceptor) added: the one call for
/// every client of a program. The SDK's shared configuration has no place
/// for interceptors, so each client's own configuration gets one.
///
/// `aws_client!(aws_sdk_dynamodb, &sdk_config)` is the client of
/// `aws_sdk_dynamodb::config::Builder::from(&sdk_config)` with
/// `push_interceptor(XrayInterceptor::shared())` (the interceptor, held so
/// that the SDK never asks whether it was disabled).
/// The crate may be named by a path (`aws_client!(my::sdk::sqs, &config)`).
///
#[cfg_attr(feature = "aws-sdk-sqs", doc = "```no_run")]
#[cfg_attr(not(feature = "aws-sdk-sqs"), doc = "```ignore")]
/// # fn run(sdk_config: aws_types::SdkConfig) {
/// let sqs = xray_runtime::aws_client!(aws_sdk_sqs, &sdk_config);
/// # let _ = sqs;
/// # }
/// ```
#[macro_export]
macro_rules! aws_client {
    ($($service:ident)::+, $sdk_config:expr $(,)?) => {{
        let mut builder = $($service)::+::config::Builder::from($sdk_config);
        builder.push_interceptor($crate::aws::XrayInterceptor::shared());
        $($service)::+::Client::from_conf(builder.build())
    }};
}
