//! Reading the detectors' JSON answers (with the AWS SDK's own JSON reader).

use aws_smithy_json::deserialize::json_token_iter;
use aws_smithy_json::deserialize::token::expect_document;
use aws_smithy_types::{Document, Number};

/// `body` as one JSON value, `None` when it is not exactly that.
pub(super) fn parse(body: &[u8]) -> Option<Document> {
    let mut tokens = json_token_iter(body).peekable();
    let document = expect_document(&mut tokens).ok()?;
    tokens.next().is_none().then_some(document)
}

/// The value at `path` (object keys) in `document`.
pub(super) fn at<'a>(document: &'a Document, path: &[&str]) -> Option<&'a Document> {
    path.iter().try_fold(document, |node, key| match node {
        Document::Object(map) => map.get(*key),
        _ => None,
    })
}

/// The non-empty string at `path`.
pub(super) fn string<'a>(document: &'a Document, path: &[&str]) -> Option<&'a str> {
    match at(document, path)? {
        Document::String(value) if !value.trim().is_empty() => Some(value.trim()),
        _ => None,
    }
}

/// The string or integer at `path`, as text.
pub(super) fn text(document: &Document, path: &[&str]) -> Option<String> {
    match at(document, path)? {
        Document::String(value) if !value.trim().is_empty() => Some(value.trim().to_string()),
        Document::Number(Number::PosInt(n)) => Some(n.to_string()),
        Document::Number(Number::NegInt(n)) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_by_path() {
        let doc = parse(br#"{"a": {"b": " x "}, "n": 23, "e": "", "list": [1]}"#).unwrap();
        assert_eq!(string(&doc, &["a", "b"]), Some("x"));
        assert_eq!(string(&doc, &["e"]), None);
        assert_eq!(string(&doc, &["a", "missing"]), None);
        assert_eq!(text(&doc, &["n"]).as_deref(), Some("23"));
        assert_eq!(string(&doc, &["list", "0"]), None);
    }

    #[test]
    fn garbage_is_none() {
        assert!(parse(b"").is_none());
        assert!(parse(b"<<this is not JSON>> {\"unterminated").is_none());
        assert!(parse(b"{} trailing").is_none());
        assert!(parse(b"{\"a\": [1, 2}").is_none());
    }
}
