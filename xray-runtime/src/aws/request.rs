//! What an operation names, read from its serialized request: the
//! identifiers of the semantic conventions (tables, buckets and keys,
//! queues, topics, functions, streams) and nothing else. JSON bodies are
//! read with the SDK's tokenizer up to [`BODY_LIMIT`]; query-protocol bodies
//! as forms; S3 and Lambda identifiers come from the URL.

use std::borrow::Cow;

use aws_smithy_runtime_api::http::Request;
use opentelemetry::{Array, KeyValue, StringValue, Value};

use super::json::{Step, text, top_level_string, walk};
use super::service::Service;

/// How much of a request body is read for identifiers (a batch naming a
/// table beyond it has that table left out).
pub(super) const BODY_LIMIT: usize = 256 * 1024;

/// The attributes an operation's request gives.
pub(super) fn identifiers(
    service: Service,
    operation: &str,
    request: &Request,
    endpoint_url: Option<&str>,
) -> Vec<KeyValue> {
    let mut out = Vec::new();
    let body = request.body().bytes().unwrap_or_default();
    match service {
        Service::DynamoDb => dynamodb(operation, body, &mut out),
        Service::S3 => s3(request, endpoint_url, &mut out),
        Service::Sqs => sqs(operation, body, &mut out),
        Service::Sns => sns(operation, body, &mut out),
        Service::Lambda => lambda(request, &mut out),
        Service::Kinesis => {
            if let Some(name) = field(body, "StreamName") {
                out.push(KeyValue::new("aws.kinesis.stream_name", name.into_owned()));
            }
            if let Some(arn) = field(body, "StreamARN") {
                out.push(KeyValue::new("aws.kinesis.stream.arn", arn.into_owned()));
            }
        }
        Service::Other => {}
    }
    out
}

/// A top-level string member of a JSON body, or a field of a form body
/// (query protocol).
fn field<'a>(body: &'a [u8], name: &str) -> Option<Cow<'a, str>> {
    match body.first() {
        Some(b'{') => top_level_string(body, name, BODY_LIMIT),
        Some(_) => form_field(body, name),
        None => None,
    }
}

/// `name=value` in an `application/x-www-form-urlencoded` body.
fn form_field<'a>(body: &'a [u8], name: &str) -> Option<Cow<'a, str>> {
    let body = std::str::from_utf8(&body[..body.len().min(BODY_LIMIT)]).ok()?;
    body.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if key != name {
            return None;
        }
        percent_decode(&value.replace('+', " ")).map(|v| Cow::Owned(v.into_owned()))
    })
}

/// Percent-decoding; `None` when the result is not UTF-8.
pub(super) fn percent_decode(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('%') {
        return Some(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn string_array(key: &'static str, values: Vec<String>) -> KeyValue {
    KeyValue::new(
        key,
        Value::Array(Array::String(
            values.into_iter().map(StringValue::from).collect(),
        )),
    )
}

/// `aws.dynamodb.table_names`: `TableName`, the keys of a batch's
/// `RequestItems`, the tables of a transaction's `TransactItems`. An
/// operation on one table is read up to its `TableName` only.
fn dynamodb(operation: &str, body: &[u8], out: &mut Vec<KeyValue>) {
    let one_table = !matches!(
        operation,
        "BatchGetItem" | "BatchWriteItem" | "TransactGetItems" | "TransactWriteItems"
    );
    let mut tables: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !tables.iter().any(|t| t == name) {
            tables.push(name.to_string());
        }
    };
    if one_table {
        if let Some(table) = top_level_string(body, "TableName", BODY_LIMIT) {
            out.push(string_array(
                "aws.dynamodb.table_names",
                vec![table.into_owned()],
            ));
        }
        return;
    }
    walk(body, BODY_LIMIT, |levels, step| {
        match step {
            Step::Str {
                key: Some("TableName"),
                value,
            } => {
                let in_transaction = levels
                    .get(1)
                    .is_some_and(|l| l.key == Some("TransactItems"));
                if (levels.len() == 1 || in_transaction)
                    && let Some(value) = text(value)
                {
                    add(&value);
                }
            }
            Step::Key(name) if levels.len() == 2 && levels[1].key == Some("RequestItems") => {
                add(name)
            }
            _ => {}
        }
        true
    });
    if !tables.is_empty() {
        out.push(string_array("aws.dynamodb.table_names", tables));
    }
}

/// The queue (URL, name), and what the operation does with messages.
fn sqs(operation: &str, body: &[u8], out: &mut Vec<KeyValue>) {
    out.push(KeyValue::new("messaging.system", "aws_sqs"));
    let url = field(body, "QueueUrl");
    let name = url
        .as_deref()
        .and_then(|url| url.trim_end_matches('/').rsplit('/').next())
        .map(str::to_string)
        .or_else(|| field(body, "QueueName").map(Cow::into_owned));
    if let Some(url) = url {
        out.push(KeyValue::new("aws.sqs.queue.url", url.into_owned()));
    }
    if let Some(name) = name {
        out.push(KeyValue::new("messaging.destination.name", name));
    }
    let kind = match operation {
        "SendMessage" | "SendMessageBatch" => Some("send"),
        "ReceiveMessage" => Some("receive"),
        "DeleteMessage"
        | "DeleteMessageBatch"
        | "ChangeMessageVisibility"
        | "ChangeMessageVisibilityBatch" => Some("settle"),
        _ => None,
    };
    if let Some(kind) = kind {
        out.push(KeyValue::new("messaging.operation.type", kind));
        out.push(KeyValue::new(
            "messaging.operation.name",
            operation.to_string(),
        ));
    }
    if operation == "SendMessageBatch" {
        let entries = count_entries(body);
        out.push(KeyValue::new(
            "messaging.batch.message_count",
            entries as i64,
        ));
    }
}

/// The objects of the top-level `Entries` array.
pub(super) fn count_entries(body: &[u8]) -> usize {
    let mut entries = 0;
    walk(body, usize::MAX, |levels, step| {
        if matches!(step, Step::Open)
            && levels.len() == 3
            && levels[1].key == Some("Entries")
            && !levels[2].is_array
        {
            entries += 1;
        }
        true
    });
    entries
}

/// The topic (ARN, name).
fn sns(operation: &str, body: &[u8], out: &mut Vec<KeyValue>) {
    let arn = field(body, "TopicArn").or_else(|| field(body, "TargetArn"));
    if let Some(arn) = arn {
        if let Some(name) = arn.rsplit(':').next().filter(|n| !n.is_empty()) {
            out.push(KeyValue::new(
                "messaging.destination.name",
                name.to_string(),
            ));
        }
        out.push(KeyValue::new("aws.sns.topic.arn", arn.into_owned()));
    }
    if operation == "Publish" || operation == "PublishBatch" {
        out.push(KeyValue::new("messaging.system", "aws_sns"));
        out.push(KeyValue::new("messaging.operation.type", "send"));
        out.push(KeyValue::new(
            "messaging.operation.name",
            operation.to_string(),
        ));
    }
}

/// The function, from `/2015-03-31/functions/{FunctionName}/...`.
fn lambda(request: &Request, out: &mut Vec<KeyValue>) {
    let path = request.uri_path();
    let mut segments = path.split('/');
    if segments.any(|s| s == "functions")
        && let Some(name) = segments.next().filter(|s| !s.is_empty())
        && let Some(name) = percent_decode(name)
    {
        out.push(KeyValue::new("aws.lambda.function.name", name.to_string()));
        out.push(KeyValue::new("faas.invoked_name", name.into_owned()));
        out.push(KeyValue::new("faas.invoked_provider", "aws"));
    }
}

/// The bucket and key, from the URL: the host names the bucket
/// (virtual-hosted style) or the first path segment does (path style).
fn s3(request: &Request, endpoint_url: Option<&str>, out: &mut Vec<KeyValue>) {
    let Some((host, path)) = split_url(request.uri()) else {
        return;
    };
    let path = path.split('?').next().unwrap_or_default();
    let path = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = match virtual_host_bucket(host, endpoint_url) {
        Some(bucket) => (Some(bucket), path),
        None => match path.split_once('/') {
            Some((bucket, key)) => (Some(bucket), key),
            None => (Some(path), ""),
        },
    };
    if let Some(bucket) = bucket.filter(|b| !b.is_empty()).and_then(percent_decode) {
        out.push(KeyValue::new("aws.s3.bucket", bucket.into_owned()));
    }
    if !key.is_empty()
        && let Some(key) = percent_decode(key)
    {
        out.push(KeyValue::new("aws.s3.key", key.into_owned()));
    }
    if let Some(source) = request.headers().get("x-amz-copy-source") {
        out.push(KeyValue::new("aws.s3.copy_source", source.to_string()));
    }
    for pair in request
        .uri()
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
    {
        match pair.split_once('=') {
            Some(("uploadId", id)) => {
                if let Some(id) = percent_decode(id) {
                    out.push(KeyValue::new("aws.s3.upload_id", id.into_owned()));
                }
            }
            Some(("partNumber", number)) => {
                if let Ok(number) = number.parse::<i64>() {
                    out.push(KeyValue::new("aws.s3.part_number", number));
                }
            }
            _ => {}
        }
    }
}

/// `(host without port, path and query)` of an absolute URL.
fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.split_once("://")?.1;
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .map(|h| &h[1..])
            .unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    Some((host, path))
}

/// The bucket a virtual-hosted-style host names: the labels before an
/// S3 label (`s3`, `s3-...`, `s3express...`) of an AWS host, or before the
/// configured endpoint's host.
fn virtual_host_bucket<'a>(host: &'a str, endpoint_url: Option<&str>) -> Option<&'a str> {
    if let Some(endpoint_host) = endpoint_url.and_then(|url| split_url(url)).map(|(h, _)| h) {
        if host.eq_ignore_ascii_case(endpoint_host) {
            return None;
        }
        let cut = host.len().checked_sub(endpoint_host.len() + 1)?;
        if host.as_bytes().get(cut) == Some(&b'.')
            && host[cut + 1..].eq_ignore_ascii_case(endpoint_host)
        {
            return Some(&host[..cut]);
        }
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let mut start = 0;
    for label in host.split('.') {
        if start > 0
            && (label == "s3" || label.starts_with("s3-") || label.starts_with("s3express"))
        {
            return Some(&host[..start - 1]);
        }
        start += label.len() + 1;
    }
    None
}

/// The URI's path (what comes before `?`).
trait UriPath {
    fn uri_path(&self) -> &str;
}

impl UriPath for Request {
    fn uri_path(&self) -> &str {
        let uri = self.uri();
        let without_query = uri.split('?').next().unwrap_or(uri);
        match split_url(without_query) {
            Some((_, path)) => path,
            None => without_query,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::body::SdkBody;

    fn request(uri: &str, body: &str) -> Request {
        let mut request = Request::new(SdkBody::from(body.to_string()));
        request.set_uri(uri).unwrap();
        request
    }

    fn strings(attrs: &[KeyValue], key: &str) -> Option<String> {
        attrs
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    }

    #[test]
    fn dynamodb_tables_of_single_batch_and_transaction_requests() {
        let single = request(
            "https://dynamodb.us-east-1.amazonaws.com/",
            r#"{"TableName":"orders","Key":{"TableName":{"S":"not a table"}}}"#,
        );
        let attrs = identifiers(Service::DynamoDb, "GetItem", &single, None);
        assert_eq!(
            strings(&attrs, "aws.dynamodb.table_names").as_deref(),
            Some("[\"orders\"]")
        );

        let batch = request(
            "https://d/",
            r#"{"RequestItems":{"orders":{"Keys":[{"id":{"S":"1"}}]},"stock":{"Keys":[]}}}"#,
        );
        let attrs = identifiers(Service::DynamoDb, "BatchGetItem", &batch, None);
        assert_eq!(
            strings(&attrs, "aws.dynamodb.table_names").as_deref(),
            Some("[\"orders\",\"stock\"]")
        );

        let transaction = request(
            "https://d/",
            r#"{"TransactItems":[{"Put":{"TableName":"orders","Item":{}}},{"Update":{"TableName":"stock"}},{"Put":{"TableName":"orders"}}]}"#,
        );
        let attrs = identifiers(Service::DynamoDb, "TransactWriteItems", &transaction, None);
        assert_eq!(
            strings(&attrs, "aws.dynamodb.table_names").as_deref(),
            Some("[\"orders\",\"stock\"]")
        );

        assert!(
            identifiers(
                Service::DynamoDb,
                "ListTables",
                &request("https://d/", "{}"),
                None
            )
            .is_empty()
        );
    }

    #[test]
    fn s3_buckets_and_keys_in_either_style() {
        let virtual_hosted = request(
            "https://my.bucket.s3.eu-west-1.amazonaws.com/photos/a%20b.jpg?x-id=GetObject",
            "",
        );
        let attrs = identifiers(Service::S3, "GetObject", &virtual_hosted, None);
        assert_eq!(
            strings(&attrs, "aws.s3.bucket").as_deref(),
            Some("my.bucket")
        );
        assert_eq!(
            strings(&attrs, "aws.s3.key").as_deref(),
            Some("photos/a b.jpg")
        );

        let path_style = request(
            "http://127.0.0.1:5000/bucket/dir/key.txt?partNumber=2&uploadId=abc",
            "",
        );
        let attrs = identifiers(
            Service::S3,
            "UploadPart",
            &path_style,
            Some("http://127.0.0.1:5000"),
        );
        assert_eq!(strings(&attrs, "aws.s3.bucket").as_deref(), Some("bucket"));
        assert_eq!(
            strings(&attrs, "aws.s3.key").as_deref(),
            Some("dir/key.txt")
        );
        assert_eq!(strings(&attrs, "aws.s3.upload_id").as_deref(), Some("abc"));
        assert_eq!(strings(&attrs, "aws.s3.part_number").as_deref(), Some("2"));

        let custom_virtual = request("http://bucket.localhost:4566/key", "");
        let attrs = identifiers(
            Service::S3,
            "GetObject",
            &custom_virtual,
            Some("http://localhost:4566"),
        );
        assert_eq!(strings(&attrs, "aws.s3.bucket").as_deref(), Some("bucket"));
        assert_eq!(strings(&attrs, "aws.s3.key").as_deref(), Some("key"));

        let list = request("https://s3.us-east-1.amazonaws.com/bucket?list-type=2", "");
        let attrs = identifiers(Service::S3, "ListObjectsV2", &list, None);
        assert_eq!(strings(&attrs, "aws.s3.bucket").as_deref(), Some("bucket"));
        assert_eq!(strings(&attrs, "aws.s3.key"), None);
    }

    #[test]
    fn queues_topics_functions_streams() {
        let send = request(
            "https://sqs/",
            r#"{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/1234/orders","Entries":[{"Id":"1"},{"Id":"2"}]}"#,
        );
        let attrs = identifiers(Service::Sqs, "SendMessageBatch", &send, None);
        assert_eq!(
            strings(&attrs, "messaging.destination.name").as_deref(),
            Some("orders")
        );
        assert_eq!(
            strings(&attrs, "messaging.batch.message_count").as_deref(),
            Some("2")
        );
        assert_eq!(
            strings(&attrs, "messaging.operation.type").as_deref(),
            Some("send")
        );

        let form = request(
            "https://sqs/",
            "Action=SendMessage&QueueUrl=https%3A%2F%2Fq%2F1%2Fjobs&MessageBody=x",
        );
        let attrs = identifiers(Service::Sqs, "SendMessage", &form, None);
        assert_eq!(
            strings(&attrs, "aws.sqs.queue.url").as_deref(),
            Some("https://q/1/jobs")
        );

        let publish = request(
            "https://sns/",
            "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3Aalerts&Message=hi",
        );
        let attrs = identifiers(Service::Sns, "Publish", &publish, None);
        assert_eq!(
            strings(&attrs, "aws.sns.topic.arn").as_deref(),
            Some("arn:aws:sns:us-east-1:1:alerts")
        );
        assert_eq!(
            strings(&attrs, "messaging.destination.name").as_deref(),
            Some("alerts")
        );

        let invoke = request(
            "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Aresize/invocations",
            "{}",
        );
        let attrs = identifiers(Service::Lambda, "Invoke", &invoke, None);
        assert_eq!(
            strings(&attrs, "aws.lambda.function.name").as_deref(),
            Some("arn:aws:lambda:us-east-1:1:function:resize")
        );

        let put = request(
            "https://kinesis/",
            r#"{"StreamName":"clicks","Data":"eA=="}"#,
        );
        let attrs = identifiers(Service::Kinesis, "PutRecord", &put, None);
        assert_eq!(
            strings(&attrs, "aws.kinesis.stream_name").as_deref(),
            Some("clicks")
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%20c").as_deref(), Some("a/b c"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%FF"), None);
    }
}
