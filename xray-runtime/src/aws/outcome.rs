//! How an AWS call ended, as X-Ray tells outcomes apart: throttled (HTTP
//! 429, and the throttling error codes services answer with other
//! statuses), client error (other 4xx), fault (5xx, timeouts, transport
//! errors, answers that could not be read). The error code and message come
//! from the answer: its `x-amzn-ErrorType` header or its JSON or XML error
//! body (read up to [`ERROR_BODY_LIMIT`]).

use std::borrow::Cow;

use aws_smithy_runtime_api::client::interceptors::context::Error;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::http::{Headers, Response};

use super::json::{Step, text, walk};

/// How much of an error answer's body is read for its code and message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Error codes that mean "slow down", whatever the HTTP status (DynamoDB's
/// `ProvisionedThroughputExceededException` comes with a 400, S3's
/// `SlowDown` with a 503).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Whether `code` tells the caller to slow down.
pub(super) fn is_throttling(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
        || code.starts_with("Throttling")
        || code.starts_with("ProvisionedThroughputExceeded")
        || code.starts_with("TooManyRequests")
}

/// The outcome's class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    Throttle,
    ClientError,
    Fault,
}

/// A failed attempt or operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Failure {
    /// The answer's HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The AWS error code (`ResourceNotFoundException`), or what failed
    /// without one (`timeout`, `io`, ...).
    pub code: Option<String>,
    pub message: Option<String>,
}

impl Failure {
    /// Reads a failure from the answer (if any) and the SDK's error (if
    /// any); `None` for a success.
    pub(super) fn of(
        response: Option<&Response>,
        error: Option<&OrchestratorError<Error>>,
    ) -> Option<Self> {
        let status = response.map(|r| r.status().as_u16());
        let failed_status = status.filter(|s| *s >= 300);
        if failed_status.is_none() && error.is_none() {
            return None;
        }
        let mut failure = Failure {
            status,
            ..Failure::default()
        };
        if let (Some(response), Some(_)) = (response, failed_status) {
            let (code, message) = error_details(response);
            failure.code = code;
            failure.message = message;
        }
        if let Some(error) = error {
            if failure.code.is_none() {
                failure.code = Some(error_kind(error).to_string());
            }
            if failure.message.is_none() {
                let text = aws_smithy_types::error::display::DisplayErrorContext(error).to_string();
                failure.message = Some(text);
            }
        }
        Some(failure)
    }

    pub(super) fn class(&self) -> Class {
        let throttling_code = self.code.as_deref().is_some_and(is_throttling);
        match self.status {
            Some(429) => Class::Throttle,
            _ if throttling_code => Class::Throttle,
            Some(status) if (400..500).contains(&status) => Class::ClientError,
            _ => Class::Fault,
        }
    }

    /// `code: message`, or whichever there is.
    pub(super) fn description(&self) -> String {
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.clone(),
            (None, Some(message)) => message.clone(),
            (None, None) => self
                .status
                .map_or_else(|| "failed".to_string(), |s| format!("HTTP {s}")),
        }
    }
}

/// What failed, for an error without an AWS error code.
fn error_kind(error: &OrchestratorError<Error>) -> &'static str {
    if error.is_timeout_error() {
        "timeout"
    } else if let Some(connector) = error.as_connector_error() {
        if connector.is_timeout() {
            "timeout"
        } else if connector.is_io() {
            "io"
        } else {
            "connector"
        }
    } else if error.is_response_error() {
        "response"
    } else if error.is_interceptor_error() {
        "interceptor"
    } else {
        "error"
    }
}

/// The request id of an answer (`x-amzn-RequestId`, S3's `x-amz-request-id`).
pub(super) fn request_id(headers: &Headers) -> Option<&str> {
    ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
        .iter()
        .find_map(|name| headers.get(*name))
        .filter(|id| !id.is_empty())
}

/// The AWS error code and message of a failed answer.
fn error_details(response: &Response) -> (Option<String>, Option<String>) {
    let headers = response.headers();
    let body = response.body().bytes().unwrap_or_default();
    let body = &body[..body.len().min(ERROR_BODY_LIMIT)];
    let (mut code, mut message) = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => json_error(body),
        Some(b'<') => (xml_element(body, "Code"), xml_element(body, "Message")),
        _ => (None, None),
    };
    if code.is_none() {
        code = headers
            .get("x-amzn-errortype")
            .or_else(|| headers.get("x-amzn-query-error"))
            .and_then(|value| value.split([':', ';']).next())
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
    }
    if message.as_deref().is_some_and(str::is_empty) {
        message = None;
    }
    (code, message)
}

/// `__type` (or `code`) and `message` of a JSON error body.
fn json_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let (mut code, mut message) = (None, None);
    walk(body, ERROR_BODY_LIMIT, |levels, step| {
        if let (
            1,
            Step::Str {
                key: Some(key),
                value,
            },
        ) = (levels.len(), step)
            && let Some(value) = text(value)
        {
            match key {
                "__type" | "code" | "Code" if code.is_none() => {
                    // `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`,
                    // sometimes followed by `:http://...`.
                    let name = value.rsplit('#').next().unwrap_or(&value);
                    let name = name.split(':').next().unwrap_or(name).trim();
                    if !name.is_empty() {
                        code = Some(name.to_string());
                    }
                }
                "message" | "Message" | "errorMessage" if message.is_none() => {
                    message = Some(value.into_owned());
                }
                _ => {}
            }
        }
        true
    });
    (code, message)
}

/// The text of the first `<name>` element of an XML body.
fn xml_element(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{name}>"))?;
    let value = xml_unescape(text[start..end].trim());
    (!value.is_empty()).then(|| value.into_owned())
}

fn xml_unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        let mut response = Response::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_string()),
        );
        for (name, value) in headers {
            response
                .headers_mut()
                .insert(name.to_string(), value.to_string());
        }
        response
    }

    #[test]
    fn codes_and_messages_of_each_protocol() {
        let json = response(
            400,
            &[],
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded"}"#,
        );
        let failure = Failure::of(Some(&json), None).unwrap();
        assert_eq!(
            failure.code.as_deref(),
            Some("ProvisionedThroughputExceededException")
        );
        assert_eq!(failure.class(), Class::Throttle);
        assert_eq!(
            failure.description(),
            "ProvisionedThroughputExceededException: Rate exceeded"
        );

        let xml = response(
            404,
            &[("x-amz-request-id", "R1")],
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key &amp; more</Message></Error>",
        );
        let failure = Failure::of(Some(&xml), None).unwrap();
        assert_eq!(failure.code.as_deref(), Some("NoSuchKey"));
        assert_eq!(failure.message.as_deref(), Some("The key & more"));
        assert_eq!(failure.class(), Class::ClientError);
        assert_eq!(request_id(xml.headers()), Some("R1"));

        let header_only = response(
            503,
            &[("x-amzn-ErrorType", "ServiceUnavailable:http://x")],
            "",
        );
        let failure = Failure::of(Some(&header_only), None).unwrap();
        assert_eq!(failure.code.as_deref(), Some("ServiceUnavailable"));
        assert_eq!(failure.class(), Class::Fault);

        let garbage = response(500, &[], "<<this is not JSON>> {\"unterminated");
        let failure = Failure::of(Some(&garbage), None).unwrap();
        assert_eq!(failure.code, None);
        assert_eq!(failure.description(), "HTTP 500");

        let too_many = response(429, &[], "");
        assert_eq!(
            Failure::of(Some(&too_many), None).unwrap().class(),
            Class::Throttle
        );
        assert_eq!(Failure::of(Some(&response(200, &[], "{}")), None), None);
    }

    #[test]
    fn throttling_codes() {
        for code in [
            "ThrottlingException",
            "Throttling",
            "SlowDown",
            "TooManyRequestsException",
            "ProvisionedThroughputExceededException",
        ] {
            assert!(is_throttling(code), "{code}");
        }
        assert!(!is_throttling("ResourceNotFoundException"));
        assert!(!is_throttling("ValidationException"));
    }
}
