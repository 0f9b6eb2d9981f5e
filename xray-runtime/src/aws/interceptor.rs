//! The interceptor: one span per operation, whatever the retries.
//!
//! The span starts in `read_before_serialization`, which the SDK calls
//! inside the first poll of the operation's future, so the caller's current
//! span is its parent. It is kept in the operation's own `ConfigBag` (the
//! interceptor is shared by every call of the client), which lives inside
//! the operation's future: the span moves with the future between threads
//! (it is `Send`, holding no thread's frame), every attempt injects the same
//! context into its request, and a future dropped before the end ends the
//! span as cancelled. It ends in `read_after_execution`, with the last
//! answer's status, request id and outcome, and the number of attempts;
//! each failed attempt that was retried is an `HTTP request failure` event.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Headers, Request};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_types::endpoint_config::EndpointUrl;
use aws_types::region::Region;
use opentelemetry::KeyValue;
use opentelemetry::global;
use opentelemetry::propagation::Injector;
use opentelemetry::trace::SpanKind;

use super::outcome::{Class, Failure, request_id};
use super::request::identifiers;
use super::service::Service;
use super::sqs;
use crate::record::CANCELLED_KEY;
use crate::span::{Span, current_context, current_trace_header};
use crate::value::truncate;

/// Attribute keys the interceptor writes beyond the request's identifiers.
mod key {
    pub const RPC_SYSTEM: &str = "rpc.system";
    pub const RPC_SERVICE: &str = "rpc.service";
    pub const RPC_METHOD: &str = "rpc.method";
    pub const CLOUD_REGION: &str = "cloud.region";
    pub const REQUEST_ID: &str = "aws.request_id";
    pub const EXTENDED_REQUEST_ID: &str = "aws.extended_request_id";
    pub const STATUS_CODE: &str = "http.response.status_code";
    pub const RESEND_COUNT: &str = "http.request.resend_count";
    pub const ERROR_TYPE: &str = "error.type";
    /// How many times the request was sent (1 without retries).
    pub const ATTEMPTS: &str = "xray.attempts";
    /// The operation was throttled: HTTP 429 (which X-Ray shows as
    /// throttled by itself) or a throttling error code with another status
    /// (DynamoDB's `ProvisionedThroughputExceededException` comes with 400).
    pub const THROTTLE: &str = "xray.throttle";
    /// Of a retried attempt's failure event, as X-Ray's exporters read it.
    pub const HTTP_ERROR_MESSAGE: &str = "aws.http.error_message";
}

/// The event of each failed attempt the SDK retried.
const ATTEMPT_FAILED: &str = "HTTP request failure";

/// Traces the calls of an AWS SDK for Rust client: add it to any
/// `aws-sdk-*` client's configuration.
///
/// Each operation becomes one CLIENT span named `{Service}.{Operation}`
/// (`DynamoDB.GetItem`), a child of the span current where the call is
/// awaited, with `rpc.system = "aws-api"`, `rpc.service`, `rpc.method`,
/// `cloud.region`, `aws.request_id`, `http.response.status_code`,
/// `xray.attempts` (and `http.request.resend_count` after retries), and the
/// identifiers the request names: `aws.dynamodb.table_names`,
/// `aws.s3.bucket` and `aws.s3.key`, `aws.sqs.queue.url` and the
/// `messaging.*` attributes, `aws.sns.topic.arn`, `aws.lambda.function.name`,
/// `aws.kinesis.stream_name`. Nothing else of a request or answer body is
/// read.
///
/// Every attempt's request carries the span's context in `X-Amzn-Trace-Id`
/// (and `traceparent`, as the configured propagators write it). SQS
/// `SendMessage` (a PRODUCER span) and `SendMessageBatch` (a CLIENT span
/// with one PRODUCER span per message) put each message's context in its
/// `AWSTraceHeader` system attribute; `ReceiveMessage` asks for that
/// attribute back, for [`trace_header`](super::trace_header).
///
/// A failure marks the span with the AWS error code (`error.type`), its
/// message (the status) and an `exception` event: a throttle (429, and
/// throttling codes such as `ProvisionedThroughputExceededException`, also
/// marked `xray.throttle = true`), a client error (4xx) or a fault (5xx,
/// timeouts, transport errors), which X-Ray tells apart by the status code.
///
/// ```
/// use xray_runtime::aws::XrayInterceptor;
///
/// # #[cfg(any())]
/// let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config)
///     .interceptor(XrayInterceptor::new())
///     .build();
/// let interceptor = XrayInterceptor::new();
/// # let _ = interceptor;
/// ```
#[derive(Clone, Debug, Default)]
pub struct XrayInterceptor {
    _private: (),
}

impl XrayInterceptor {
    /// The interceptor (it keeps no state of its own: one may serve any
    /// number of clients).
    pub fn new() -> Self {
        Self::default()
    }

    /// The interceptor as the SDK holds it, never disabled: a client's
    /// configuration takes it with `push_interceptor`, which spares the
    /// SDK a lookup (whether it was disabled) at each hook of each call.
    /// [`aws_client!`](crate::aws_client) uses it.
    ///
    /// ```
    /// use xray_runtime::aws::XrayInterceptor;
    ///
    /// let shared = XrayInterceptor::shared();
    /// # #[cfg(any())]
    /// aws_sdk_dynamodb::config::Builder::from(&sdk_config).push_interceptor(shared);
    /// # let _ = shared;
    /// ```
    pub fn shared() -> SharedInterceptor {
        SharedInterceptor::permanent(Self::new())
    }
}

/// One operation in flight: its span and what the attempts told so far.
#[derive(Debug)]
struct Operation {
    span: Span,
    service: Service,
    metadata: Metadata,
    attempts: u32,
    /// The last attempt's failure: an event once the next attempt starts.
    failed_attempt: Option<Failure>,
    /// The request's identifiers were recorded.
    identified: bool,
    finished: bool,
}

impl Storable for Operation {
    type Storer = StoreReplace<Self>;
}

impl Drop for Operation {
    fn drop(&mut self) {
        if !self.finished {
            // The operation's future was dropped before it completed.
            self.span
                .extend_attributes(vec![KeyValue::new(CANCELLED_KEY, true)]);
        }
    }
}

/// Writes propagation headers into a request's headers.
struct HeaderInjector<'a>(&'a mut Headers);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // An empty value (a `tracestate` with no entries) says nothing.
        if value.is_empty() {
            return;
        }
        // The usual names without a copy of the name.
        let _ = match key {
            "x-amzn-trace-id" => self.0.try_insert("x-amzn-trace-id", value),
            "traceparent" => self.0.try_insert("traceparent", value),
            "tracestate" => self.0.try_insert("tracestate", value),
            "baggage" => self.0.try_insert("baggage", value),
            _ => self.0.try_insert(key.to_string(), value),
        };
    }
}

// The hint tells the SDK which hooks are implemented: it skips the others
// without calling them (or looking the interceptor up in the bag).
#[aws_smithy_runtime_api::client::interceptors::dyn_dispatch_hint]
impl Intercept for XrayInterceptor {
    fn name(&self) -> &'static str {
        "XrayInterceptor"
    }

    // Not `read_before_execution`: a client's interceptors see it before
    // the operation's configuration (its name) is in the bag. This hook
    // runs next, still in the first poll of the operation's future.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let service = Service::of(metadata.service());
        let mut name = String::with_capacity(metadata.service().len() + metadata.name().len() + 1);
        name.push_str(metadata.service());
        name.push('.');
        name.push_str(metadata.name());
        let mut span = Span::child(name, service.kind(metadata.name()));
        if !span.span_context().is_valid() {
            // Tracing is off.
            return Ok(());
        }
        if span.is_recording() {
            // Room for what the request and the answer add.
            let mut attributes = Vec::with_capacity(16);
            attributes.push(KeyValue::new(key::RPC_SYSTEM, "aws-api"));
            attributes.push(KeyValue::new(
                key::RPC_SERVICE,
                metadata.service().to_string(),
            ));
            attributes.push(KeyValue::new(key::RPC_METHOD, metadata.name().to_string()));
            if let Some(region) = cfg.load::<Region>() {
                attributes.push(KeyValue::new(
                    key::CLOUD_REGION,
                    region.as_ref().to_string(),
                ));
            }
            span.extend_attributes(attributes);
        }
        let operation = Operation {
            span,
            service,
            metadata: metadata.clone(),
            attempts: 0,
            failed_attempt: None,
            identified: false,
            finished: false,
        };
        cfg.interceptor_state().store_put(operation);
        Ok(())
    }

    fn modify_before_retry_loop(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(operation) = cfg.get_mut_from_interceptor_state::<Operation>() else {
            return Ok(());
        };
        if operation.service != Service::Sqs {
            return Ok(());
        }
        let request = context.request_mut();
        let rewritten = match operation.metadata.name() {
            "SendMessage" => mark_messages(operation, request.body(), false),
            "SendMessageBatch" => mark_messages(operation, request.body(), true),
            "ReceiveMessage" => request
                .body()
                .bytes()
                .and_then(sqs::asking_for_trace_header),
            _ => None,
        };
        if let Some(body) = rewritten {
            replace_body(request, body);
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(operation) = cfg.get_mut_from_interceptor_state::<Operation>() {
            operation.attempts += 1;
            if let Some(failure) = operation.failed_attempt.take() {
                let mut attributes = Vec::with_capacity(2);
                if let Some(status) = failure.status {
                    attributes.push(KeyValue::new(key::STATUS_CODE, i64::from(status)));
                }
                attributes.push(KeyValue::new(
                    key::HTTP_ERROR_MESSAGE,
                    truncate(failure.description()),
                ));
                operation.span.push_event(ATTEMPT_FAILED, attributes);
            }
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // S3 tells a bucket in the host from the endpoint the client was given.
        let endpoint_url = match cfg.load::<Operation>() {
            Some(op) if !op.identified && op.service == Service::S3 => {
                cfg.load::<EndpointUrl>().map(|url| url.0.clone())
            }
            _ => None,
        };
        let Some(operation) = cfg.get_mut_from_interceptor_state::<Operation>() else {
            return Ok(());
        };
        let request = context.request_mut();
        if !operation.identified {
            operation.identified = true;
            if operation.span.is_recording() {
                operation.span.extend_attributes(identifiers(
                    operation.service,
                    operation.metadata.name(),
                    request,
                    endpoint_url.as_deref(),
                ));
            }
        }
        let cx = operation.span.in_scope(current_context);
        global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&cx, &mut HeaderInjector(request.headers_mut()));
        });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(operation) = cfg.get_mut_from_interceptor_state::<Operation>() {
            let error = context.output_or_error().and_then(Result::err);
            operation.failed_attempt = Failure::of(context.response(), error);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(operation) = cfg.get_mut_from_interceptor_state::<Operation>() else {
            return Ok(());
        };
        operation.finished = true;
        let attempts = operation.attempts;
        let mut span = std::mem::take(&mut operation.span);
        if !span.is_recording() {
            return Ok(());
        }
        let mut attributes = Vec::with_capacity(6);
        attributes.push(KeyValue::new(key::ATTEMPTS, i64::from(attempts)));
        if attempts > 1 {
            attributes.push(KeyValue::new(key::RESEND_COUNT, i64::from(attempts - 1)));
        }
        let response = context.response();
        if let Some(response) = response {
            let headers = response.headers();
            attributes.push(KeyValue::new(
                key::STATUS_CODE,
                i64::from(response.status().as_u16()),
            ));
            if let Some(id) = request_id(headers) {
                attributes.push(KeyValue::new(key::REQUEST_ID, id.to_string()));
            }
            if let Some(id) = headers.get("x-amz-id-2") {
                attributes.push(KeyValue::new(key::EXTENDED_REQUEST_ID, id.to_string()));
            }
        }
        let error = context.output_or_error().and_then(Result::err);
        if let Some(failure) = Failure::of(response, error) {
            let kind = failure
                .code
                .clone()
                .or_else(|| failure.status.map(|s| s.to_string()));
            if let Some(kind) = kind {
                attributes.push(KeyValue::new(key::ERROR_TYPE, kind));
            }
            if failure.class() == Class::Throttle {
                attributes.push(KeyValue::new(key::THROTTLE, true));
            }
            span.extend_attributes(attributes);
            span.push_event(
                "exception",
                vec![
                    KeyValue::new("exception.type", failure.code.clone().unwrap_or_default()),
                    KeyValue::new(
                        "exception.message",
                        truncate(failure.message.clone().unwrap_or_default()),
                    ),
                ],
            );
            span.set_error(truncate(failure.description()));
        } else {
            span.extend_attributes(attributes);
        }
        Ok(())
    }
}

/// Writes each message's `AWSTraceHeader` into a send's body: for one
/// message, the operation's own context; for a batch, that of a PRODUCER
/// span made for each message (and linked from the batch's span).
fn mark_messages(operation: &mut Operation, body: &SdkBody, batch: bool) -> Option<Vec<u8>> {
    let body = body.bytes()?;
    let marks = sqs::messages_to_mark(body, batch)?;
    if !marks.contains(&true) {
        return None;
    }
    let headers: Vec<String> = if batch {
        let name = queue_name(body);
        marks
            .iter()
            .filter(|mark| **mark)
            .filter_map(|_| {
                let span_name = match &name {
                    Some(name) => format!("create {name}"),
                    None => "create".to_string(),
                };
                let mut create = operation
                    .span
                    .in_scope(|| Span::child(span_name, SpanKind::Producer));
                if create.is_recording() {
                    let mut attributes = vec![
                        KeyValue::new("messaging.system", "aws_sqs"),
                        KeyValue::new("messaging.operation.type", "create"),
                    ];
                    if let Some(name) = &name {
                        attributes.push(KeyValue::new("messaging.destination.name", name.clone()));
                    }
                    create.extend_attributes(attributes);
                }
                let header = create.in_scope(current_trace_header);
                operation
                    .span
                    .add_link(create.span_context(), std::iter::empty::<(&str, bool)>());
                header
            })
            .collect()
    } else {
        vec![operation.span.in_scope(current_trace_header)?]
    };
    sqs::with_trace_headers(body, batch, &headers)
}

/// The queue's name, from the request's `QueueUrl`.
fn queue_name(body: &[u8]) -> Option<String> {
    let url = super::json::top_level_string(body, "QueueUrl", super::request::BODY_LIMIT)?;
    url.trim_end_matches('/')
        .rsplit('/')
        .next()
        .map(str::to_string)
}

/// Replaces a request's body, keeping its `Content-Length` true.
fn replace_body(request: &mut Request, body: Vec<u8>) {
    let length = body.len();
    *request.body_mut() = SdkBody::from(body);
    if request.headers().contains_key("content-length") {
        let _ = request
            .headers_mut()
            .try_insert("content-length", length.to_string());
    }
}
