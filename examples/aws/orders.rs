//! Orders through AWS, in one trace: the checkout writes the order to
//! DynamoDB and hands it to fulfilment through SQS; fulfilment receives the
//! message, continues the checkout's trace from its `AWSTraceHeader`, ships
//! the order (a DynamoDB update) and deletes the message.
//!
//! Against moto (`pip install 'moto[server]'`, then `moto_server -p 5000`):
//!
//! ```sh
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_REGION=us-west-2 \
//! AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
//!   cargo run --example aws-orders
//! ```
//!
//! Without `AWS_ENDPOINT_URL` it talks to AWS itself, with the credentials
//! and region the AWS SDKs find (it creates a table `xray-orders` and a
//! queue `xray-orders`).

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_sqs::types::Message;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use xray_runtime::{traced, xray_main, xray_root};

type Error = Box<dyn std::error::Error + Send + Sync>;

const TABLE: &str = "xray-orders";
const QUEUE: &str = "xray-orders";

#[xray_main(service = "orders")]
#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = sdk_config().await;
    // Every client traced, in one call each.
    let dynamodb = xray_runtime::aws_client!(aws_sdk_dynamodb, &config);
    let sqs = xray_runtime::aws_client!(aws_sdk_sqs, &config);

    let queue = set_up(&dynamodb, &sqs).await?;
    let trace = checkout(&dynamodb, &sqs, &queue, 7).await?;
    println!("order 7: trace {}", trace.unwrap_or_default());
    let shipped = fulfil(&dynamodb, &sqs, &queue).await?;
    println!("orders shipped: {shipped}");
    Ok(())
}

/// The SDK's configuration from the environment, with the SDK's HTTP client
/// on rustls and ring (the crypto xray-runtime already uses).
async fn sdk_config() -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await
}

/// The table and the queue (created when missing); returns the queue's URL.
#[xray_root(name = "set up")]
async fn set_up(
    dynamodb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
) -> Result<String, Error> {
    let tables = dynamodb.list_tables().send().await?;
    if !tables.table_names().iter().any(|t| t == TABLE) {
        dynamodb
            .create_table()
            .table_name(TABLE)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::N)
                    .build()?,
            )
            .send()
            .await?;
    }
    let queue = sqs.create_queue().queue_name(QUEUE).send().await?;
    Ok(queue.queue_url().unwrap_or_default().to_string())
}

/// Takes the order: stores it, and hands it to fulfilment.
#[xray_root(name = "POST /checkout", attrs(order.id = order))]
async fn checkout(
    dynamodb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    order: u64,
) -> Result<Option<String>, Error> {
    dynamodb
        .put_item()
        .table_name(TABLE)
        .item("id", AttributeValue::N(order.to_string()))
        .item("status", AttributeValue::S("placed".into()))
        .send()
        .await?;
    // The message carries this trace in its AWSTraceHeader attribute.
    sqs.send_message()
        .queue_url(queue)
        .message_body(order.to_string())
        .send()
        .await?;
    Ok(xray_runtime::current_trace_id())
}

/// Receives the waiting orders and ships each.
#[traced]
async fn fulfil(
    dynamodb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
) -> Result<usize, Error> {
    let received = sqs
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await?;
    for message in received.messages() {
        ship(dynamodb, sqs, queue, message).await?;
    }
    Ok(received.messages().len())
}

/// One order's message, in the trace of the checkout that sent it.
#[xray_root(kind = consumer, name = "ship order", trace_header = xray_runtime::aws::trace_header(message))]
async fn ship(
    dynamodb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    message: &Message,
) -> Result<(), Error> {
    let order = message.body().unwrap_or_default();
    dynamodb
        .update_item()
        .table_name(TABLE)
        .key("id", AttributeValue::N(order.to_string()))
        .update_expression("SET #status = :shipped")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":shipped", AttributeValue::S("shipped".into()))
        .send()
        .await?;
    sqs.delete_message()
        .queue_url(queue)
        .receipt_handle(message.receipt_handle().unwrap_or_default())
        .send()
        .await?;
    Ok(())
}
