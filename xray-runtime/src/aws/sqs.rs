//! Traces across SQS: the producer puts each message's trace context in its
//! `AWSTraceHeader` message system attribute (written into the serialized
//! `SendMessage` / `SendMessageBatch` request), `ReceiveMessage` asks for
//! that attribute back, and the consumer continues the trace from a
//! received message, or links to the traces of a batch it handles at once.

use std::collections::HashMap;
use std::hash::BuildHasher;

use opentelemetry::trace::SpanContext;

use super::json::{Level, Step, walk};
use crate::propagation::XrayHeader;
use crate::span::Span;

/// The message system attribute X-Ray's trace header travels in.
pub const AWS_TRACE_HEADER: &str = "AWSTraceHeader";

/// Where the serialized request of a send gets each message's header.
#[derive(Debug, PartialEq, Eq)]
struct Insertion {
    /// After this offset (an object's `{`).
    at: usize,
    /// Whether the object (or the attributes map) has members already: a
    /// comma follows what is inserted.
    has_members: bool,
    /// The message's own `MessageSystemAttributes` is there: only the
    /// attribute is inserted into it.
    into_attributes: bool,
}

/// Plans the insertions for the messages of a `SendMessage` (the request
/// object itself) or `SendMessageBatch` (each object of `Entries`). A
/// message that already carries an `AWSTraceHeader` keeps it (and gets no
/// insertion: `None` in its place). `None` overall for a body that is not
/// well-formed JSON.
fn plan(body: &[u8], batch: bool) -> Option<Vec<Option<Insertion>>> {
    #[derive(Clone, Copy)]
    struct Message {
        open: usize,
        has_members: bool,
        attributes: Option<(usize, bool)>,
        has_header: bool,
    }
    let is_message = |levels: &[Level<'_>]| {
        if batch {
            levels.len() == 3 && levels[1].key == Some("Entries") && !levels[2].is_array
        } else {
            levels.len() == 1 && !levels[0].is_array
        }
    };
    let depth = if batch { 3 } else { 1 };
    let mut messages: Vec<Message> = Vec::new();
    let mut current: Option<Message> = None;
    let well_formed = walk(body, usize::MAX, |levels, step| {
        match step {
            Step::Open if is_message(levels) => {
                current = Some(Message {
                    open: levels[depth - 1].open,
                    has_members: false,
                    attributes: None,
                    has_header: false,
                });
            }
            Step::Open
                if levels.len() == depth + 1
                    && levels[depth].key == Some("MessageSystemAttributes") =>
            {
                if let Some(message) = current.as_mut() {
                    message.attributes = Some((levels[depth].open, false));
                }
            }
            Step::Key(name)
                if levels.len() == depth + 1
                    && levels[depth].key == Some("MessageSystemAttributes") =>
            {
                if let Some(message) = current.as_mut() {
                    if let Some(attributes) = message.attributes.as_mut() {
                        attributes.1 = true;
                    }
                    message.has_header |= name == AWS_TRACE_HEADER;
                }
            }
            Step::Key(_) if levels.len() == depth => {
                if let Some(message) = current.as_mut() {
                    message.has_members = true;
                }
            }
            Step::Close if levels.len() == depth - 1 => {
                if let Some(message) = current.take() {
                    messages.push(message);
                }
            }
            _ => {}
        }
        true
    });
    if !well_formed {
        return None;
    }
    Some(
        messages
            .into_iter()
            .map(|message| match (message.has_header, message.attributes) {
                (true, _) => None,
                (false, Some((open, has_members))) => Some(Insertion {
                    at: open,
                    has_members,
                    into_attributes: true,
                }),
                (false, None) => Some(Insertion {
                    at: message.open,
                    has_members: message.has_members,
                    into_attributes: false,
                }),
            })
            .collect(),
    )
}

/// The number of messages of a send that get a trace header (those without
/// their own), in order: `Some(false)` for one that keeps its own.
pub(super) fn messages_to_mark(body: &[u8], batch: bool) -> Option<Vec<bool>> {
    plan(body, batch).map(|plan| plan.iter().map(Option::is_some).collect())
}

/// The request body with `headers[i]` as the `AWSTraceHeader` of the i-th
/// message that gets one (see [`messages_to_mark`]). `None` when the body
/// is not a send's JSON, or the counts do not match.
pub(super) fn with_trace_headers(body: &[u8], batch: bool, headers: &[String]) -> Option<Vec<u8>> {
    let plan = plan(body, batch)?;
    let insertions: Vec<&Insertion> = plan.iter().flatten().collect();
    if insertions.len() != headers.len() {
        return None;
    }
    let mut out =
        Vec::with_capacity(body.len() + headers.iter().map(|h| h.len() + 100).sum::<usize>());
    let mut copied = 0;
    for (insertion, header) in insertions.into_iter().zip(headers) {
        out.extend_from_slice(&body[copied..=insertion.at]);
        copied = insertion.at + 1;
        let value = format!(
            "\"{AWS_TRACE_HEADER}\":{{\"DataType\":\"String\",\"StringValue\":{}}}",
            json_string(header)
        );
        if insertion.into_attributes {
            out.extend_from_slice(value.as_bytes());
        } else {
            out.extend_from_slice(b"\"MessageSystemAttributes\":{");
            out.extend_from_slice(value.as_bytes());
            out.push(b'}');
        }
        if insertion.has_members {
            out.push(b',');
        }
    }
    out.extend_from_slice(&body[copied..]);
    Some(out)
}

/// A `ReceiveMessage` body that also asks for `AWSTraceHeader` (unless it
/// asks for it, or for `All`, already). `None`: leave the body as it is.
pub(super) fn asking_for_trace_header(body: &[u8]) -> Option<Vec<u8>> {
    let mut asked = false;
    let mut names_array: Option<(usize, bool)> = None;
    let mut top: Option<(usize, bool)> = None;
    let well_formed = walk(body, usize::MAX, |levels, step| {
        match step {
            Step::Open if levels.len() == 1 => top = Some((levels[0].open, false)),
            Step::Key(_) if levels.len() == 1 => {
                if let Some(top) = top.as_mut() {
                    top.1 = true;
                }
            }
            Step::Open
                if levels.len() == 2 && levels[1].key == Some("MessageSystemAttributeNames") =>
            {
                names_array = Some((levels[1].open, false));
            }
            Step::Str { key: None, value } if levels.len() == 2 => {
                let value = value.as_escaped_str();
                let list = levels[1].key;
                if list == Some("MessageSystemAttributeNames")
                    && let Some(array) = names_array.as_mut()
                {
                    array.1 = true;
                }
                if matches!(list, Some("MessageSystemAttributeNames" | "AttributeNames"))
                    && (value == AWS_TRACE_HEADER || value == "All")
                {
                    asked = true;
                }
            }
            _ => {}
        }
        true
    });
    if !well_formed || asked {
        return None;
    }
    let (at, insert) = match (names_array, top) {
        (Some((open, has)), _) => (
            open,
            format!("\"{AWS_TRACE_HEADER}\"{}", if has { "," } else { "" }),
        ),
        (None, Some((open, has))) => (
            open,
            format!(
                "\"MessageSystemAttributeNames\":[\"{AWS_TRACE_HEADER}\"]{}",
                if has { "," } else { "" }
            ),
        ),
        (None, None) => return None,
    };
    let mut out = Vec::with_capacity(body.len() + insert.len());
    out.extend_from_slice(&body[..=at]);
    out.extend_from_slice(insert.as_bytes());
    out.extend_from_slice(&body[at + 1..]);
    Some(out)
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A received SQS message whose `AWSTraceHeader` can be read: an
/// `aws_sdk_sqs::types::Message` (feature `aws-sdk-sqs`), or the
/// `attributes` map of a record of a Lambda SQS event
/// (`HashMap<String, String>`, as `aws_lambda_events`' `SqsMessage` has it,
/// or as you deserialize it yourself).
pub trait SqsMessage {
    /// The message's `AWSTraceHeader` system attribute, when it has one
    /// (ask for it with `MessageSystemAttributeNames`; the interceptor adds
    /// that to every `ReceiveMessage`).
    fn aws_trace_header(&self) -> Option<&str>;

    /// The message's id, when known.
    fn sqs_message_id(&self) -> Option<&str> {
        None
    }
}

impl<S: BuildHasher> SqsMessage for HashMap<String, String, S> {
    fn aws_trace_header(&self) -> Option<&str> {
        self.get(AWS_TRACE_HEADER).map(String::as_str)
    }
}

#[cfg(feature = "aws-sdk-sqs")]
impl SqsMessage for aws_sdk_sqs::types::Message {
    fn aws_trace_header(&self) -> Option<&str> {
        use aws_sdk_sqs::types::MessageSystemAttributeName;
        self.attributes()
            .and_then(|attributes| attributes.get(&MessageSystemAttributeName::AwsTraceHeader))
            .map(String::as_str)
    }

    fn sqs_message_id(&self) -> Option<&str> {
        self.message_id()
    }
}

impl<M: SqsMessage + ?Sized> SqsMessage for &M {
    fn aws_trace_header(&self) -> Option<&str> {
        (**self).aws_trace_header()
    }

    fn sqs_message_id(&self) -> Option<&str> {
        (**self).sqs_message_id()
    }
}

/// The `AWSTraceHeader` of a received message, for
/// `#[xray_root(trace_header = ...)]`: the function continues the
/// producer's trace (a new trace when the message has none, or a malformed
/// one).
///
/// ```
/// use std::collections::HashMap;
/// use xray_runtime::xray_root;
///
/// // A record of a Lambda SQS event, its `attributes` as a map.
/// #[xray_root(kind = consumer, name = "orders process", trace_header = xray_runtime::aws::trace_header(attributes))]
/// fn process(attributes: &HashMap<String, String>) -> Option<String> {
///     xray_runtime::current_trace_id()
/// }
///
/// let capture = xray_runtime::testing::capture();
/// let attributes = HashMap::from([(
///     "AWSTraceHeader".to_string(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_string(),
/// )]);
/// assert_eq!(process(&attributes).as_deref(), Some("1-5759e988-bd862e3fe1be46a994272793"));
/// assert_eq!(capture.span("orders process").parent_span_id.as_deref(), Some("53995c3f42cd8ad8"));
/// ```
pub fn trace_header<M: SqsMessage + ?Sized>(message: &M) -> Option<&str> {
    message.aws_trace_header()
}

/// The producer's span context of a received message, when its
/// `AWSTraceHeader` names one.
pub fn producer_context<M: SqsMessage + ?Sized>(message: &M) -> Option<SpanContext> {
    message
        .aws_trace_header()
        .and_then(XrayHeader::parse)
        .and_then(|header| header.span_context())
}

/// Links `span` to the producer of each message (one receive handling
/// many messages, each from its own trace): a link per message with a valid
/// `AWSTraceHeader`, with its `messaging.message.id` when known. Returns
/// how many were linked.
///
/// ```
/// use std::collections::HashMap;
/// use xray_runtime::{Span, SpanKind};
///
/// let capture = xray_runtime::testing::capture();
/// let header = |parent: &str| {
///     HashMap::from([(
///         "AWSTraceHeader".to_string(),
///         format!("Root=1-5759e988-bd862e3fe1be46a994272793;Parent={parent};Sampled=1"),
///     )])
/// };
/// let batch = [header("53995c3f42cd8ad8"), HashMap::new(), header("0102030405060708")];
///
/// let mut span = Span::root("orders process", SpanKind::Consumer, &xray_runtime::Context::new());
/// assert_eq!(xray_runtime::aws::link_messages(&mut span, &batch), 2);
/// drop(span);
/// let links = capture.span("orders process").links;
/// assert_eq!(links[1].span_id, "0102030405060708");
/// ```
pub fn link_messages<'a, M, I>(span: &mut Span, messages: I) -> usize
where
    M: SqsMessage + 'a + ?Sized,
    I: IntoIterator<Item = &'a M>,
{
    let mut linked = 0;
    for message in messages {
        let Some(context) = producer_context(message) else {
            continue;
        };
        match message.sqs_message_id() {
            Some(id) => span.add_link(context, [("messaging.message.id", id.to_string())]),
            None => span.add_link(context, std::iter::empty::<(&str, String)>()),
        }
        linked += 1;
    }
    linked
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn text(bytes: Option<Vec<u8>>) -> String {
        String::from_utf8(bytes.expect("rewritten")).unwrap()
    }

    fn attribute(header: &str) -> String {
        format!("\"AWSTraceHeader\":{{\"DataType\":\"String\",\"StringValue\":\"{header}\"}}")
    }

    #[test]
    fn a_single_message_gets_its_header() {
        let body = br#"{"QueueUrl":"q","MessageBody":"hi"}"#;
        assert_eq!(messages_to_mark(body, false), Some(vec![true]));
        let out = text(with_trace_headers(body, false, &[H.to_string()]));
        assert_eq!(
            out,
            format!(
                "{{\"MessageSystemAttributes\":{{{}}},\"QueueUrl\":\"q\",\"MessageBody\":\"hi\"}}",
                attribute(H)
            )
        );
        assert!(crate::aws::json::walk(
            out.as_bytes(),
            usize::MAX,
            |_, _| true
        ));
    }

    #[test]
    fn existing_attributes_are_kept_and_an_own_header_wins() {
        let body = br#"{"MessageSystemAttributes":{},"QueueUrl":"q"}"#;
        let out = text(with_trace_headers(body, false, &[H.to_string()]));
        assert_eq!(
            out,
            format!(
                "{{\"MessageSystemAttributes\":{{{}}},\"QueueUrl\":\"q\"}}",
                attribute(H)
            )
        );

        let own = br#"{"MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"mine"}}}"#;
        assert_eq!(messages_to_mark(own, false), Some(vec![false]));
        assert_eq!(with_trace_headers(own, false, &[]).unwrap(), own.to_vec());
    }

    #[test]
    fn each_entry_of_a_batch_gets_its_own_header() {
        let body = br#"{"QueueUrl":"q","Entries":[{"Id":"1","MessageBody":"a"},{"Id":"2","MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"own"}}},{"Id":"3","MessageAttributes":{"k":{"DataType":"String","StringValue":"{}"}}}]}"#;
        assert_eq!(messages_to_mark(body, true), Some(vec![true, false, true]));
        let out = text(with_trace_headers(
            body,
            true,
            &["h1".to_string(), "h3".to_string()],
        ));
        assert!(
            out.contains(&format!(
                "{{\"MessageSystemAttributes\":{{{}}},\"Id\":\"1\"",
                attribute("h1")
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{{\"MessageSystemAttributes\":{{{}}},\"Id\":\"3\"",
                attribute("h3")
            )),
            "{out}"
        );
        assert!(out.contains("\"StringValue\":\"own\""));
        assert!(crate::aws::json::walk(
            out.as_bytes(),
            usize::MAX,
            |_, _| true
        ));
        assert_eq!(
            with_trace_headers(body, true, &["only one".to_string()]),
            None
        );
        assert_eq!(with_trace_headers(b"{\"Entries\":[", true, &[]), None);
    }

    #[test]
    fn receives_ask_for_the_header() {
        assert_eq!(
            text(asking_for_trace_header(br#"{"QueueUrl":"q"}"#)),
            r#"{"MessageSystemAttributeNames":["AWSTraceHeader"],"QueueUrl":"q"}"#
        );
        assert_eq!(
            text(asking_for_trace_header(
                br#"{"MessageSystemAttributeNames":["SenderId"],"QueueUrl":"q"}"#
            )),
            r#"{"MessageSystemAttributeNames":["AWSTraceHeader","SenderId"],"QueueUrl":"q"}"#
        );
        assert_eq!(
            text(asking_for_trace_header(
                br#"{"MessageSystemAttributeNames":[]}"#
            )),
            r#"{"MessageSystemAttributeNames":["AWSTraceHeader"]}"#
        );
        assert_eq!(
            asking_for_trace_header(br#"{"AttributeNames":["All"]}"#),
            None
        );
        assert_eq!(
            asking_for_trace_header(br#"{"MessageSystemAttributeNames":["AWSTraceHeader"]}"#),
            None
        );
        assert_eq!(asking_for_trace_header(b"Action=ReceiveMessage"), None);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
