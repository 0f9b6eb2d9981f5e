//! The services whose identifiers the interceptor reads, and the kind of
//! span each operation gets.

use opentelemetry::trace::SpanKind;

/// A service, as the SDK's operation metadata names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Service {
    DynamoDb,
    S3,
    Sqs,
    Sns,
    Lambda,
    Kinesis,
    Other,
}

impl Service {
    pub(super) fn of(name: &str) -> Self {
        match name {
            "DynamoDB" => Self::DynamoDb,
            "S3" => Self::S3,
            "SQS" => Self::Sqs,
            "SNS" => Self::Sns,
            "Lambda" => Self::Lambda,
            "Kinesis" => Self::Kinesis,
            _ => Self::Other,
        }
    }

    /// CLIENT, as the semantic conventions say for AWS SDK calls, except
    /// operations that send one message: PRODUCER, as the messaging
    /// conventions say (a batch is a CLIENT span with a PRODUCER span per
    /// message).
    pub(super) fn kind(self, operation: &str) -> SpanKind {
        match (self, operation) {
            (Self::Sqs, "SendMessage") | (Self::Sns, "Publish") => SpanKind::Producer,
            _ => SpanKind::Client,
        }
    }
}
