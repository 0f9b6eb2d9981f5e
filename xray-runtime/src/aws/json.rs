//! Walking a serialized JSON request with the SDK's own tokenizer: each
//! token with the containers it is in (and the keys they sit under), so
//! that identifiers can be picked out and insertion points found without
//! building the document.

use std::borrow::Cow;

use aws_smithy_json::deserialize::{EscapedStr, Token, json_token_iter};

/// A container the walk is in.
#[derive(Clone, Copy, Debug)]
pub(super) struct Level<'a> {
    /// The key it sits under in its parent object (`None` in an array, or
    /// for the outermost value).
    pub key: Option<&'a str>,
    pub is_array: bool,
    /// The offset of its `{` or `[`.
    pub open: usize,
}

/// What the walk is at.
#[derive(Debug)]
pub(super) enum Step<'a> {
    /// A container starts; it is the last of the levels.
    Open,
    /// A container ends (it is no longer among the levels).
    Close,
    /// A string value, under `key` in an object (or `None` in an array);
    /// still escaped (most values are of no interest: see [`text`]).
    Str {
        key: Option<&'a str>,
        value: EscapedStr<'a>,
    },
    /// A key of an object (the object is the last level).
    Key(&'a str),
}

/// Walks `body` up to `limit` bytes (further tokens are not read), calling
/// `visit` with the levels the step is in; `visit` returns false to stop.
/// Returns false when the body is not well-formed JSON (up to where it
/// was read).
pub(super) fn walk<'a>(
    body: &'a [u8],
    limit: usize,
    mut visit: impl FnMut(&[Level<'a>], Step<'a>) -> bool,
) -> bool {
    let mut levels: Vec<Level<'a>> = Vec::with_capacity(8);
    let mut pending_key: Option<&'a str> = None;
    for token in json_token_iter(body) {
        let Ok(token) = token else {
            return false;
        };
        if token.offset().0 > limit {
            return true;
        }
        let key = pending_key.take();
        let keep_going = match token {
            Token::StartObject { offset } | Token::StartArray { offset } => {
                levels.push(Level {
                    key,
                    is_array: matches!(token, Token::StartArray { .. }),
                    open: offset.0,
                });
                visit(&levels, Step::Open)
            }
            Token::EndObject { .. } | Token::EndArray { .. } => {
                if levels.pop().is_none() {
                    return false;
                }
                visit(&levels, Step::Close)
            }
            Token::ObjectKey { key: name, .. } => {
                let name = name.as_escaped_str();
                pending_key = Some(name);
                visit(&levels, Step::Key(name))
            }
            Token::ValueString { value, .. } => visit(&levels, Step::Str { key, value }),
            Token::ValueBool { .. } | Token::ValueNull { .. } | Token::ValueNumber { .. } => true,
        };
        if !keep_going {
            return true;
        }
    }
    levels.is_empty()
}

/// A string value, unescaped; `None` when its escapes are malformed.
pub(super) fn text(value: EscapedStr<'_>) -> Option<Cow<'_, str>> {
    value.to_unescaped().ok()
}

/// The top-level string member `name` of a JSON object, read from the
/// first `limit` bytes. The bytes are scanned (strings skipped, depth
/// counted) rather than tokenized: this runs on every request.
pub(super) fn top_level_string<'a>(
    body: &'a [u8],
    name: &str,
    limit: usize,
) -> Option<Cow<'a, str>> {
    let body = &body[..body.len().min(limit)];
    let mut depth = 0usize;
    let mut expecting_key = false;
    let mut i = 0;
    while let Some(&byte) = body.get(i) {
        match byte {
            b'"' => {
                let end = string_end(body, i + 1)?;
                if depth == 1 && expecting_key {
                    expecting_key = false;
                    let key = &body[i + 1..end];
                    i = skip_space(body, end + 1);
                    if body.get(i) != Some(&b':') {
                        return None;
                    }
                    i = skip_space(body, i + 1);
                    if key == name.as_bytes() {
                        if body.get(i) != Some(&b'"') {
                            return None;
                        }
                        let value_end = string_end(body, i + 1)?;
                        let value = std::str::from_utf8(&body[i + 1..value_end]).ok()?;
                        return text(EscapedStr::new(value));
                    }
                    continue;
                }
                i = end + 1;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                expecting_key = depth == 1 && byte == b'{';
            }
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b',' if depth == 1 => expecting_key = true,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the `"` closing the string whose content starts at `start`.
fn string_end(body: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while let Some(&byte) = body.get(i) {
        match byte {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn skip_space(body: &[u8], mut i: usize) -> usize {
    while body.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_keys_and_offsets() {
        let body = br#"{"A":"x","B":{"C":[{"D":"y"}]},"E":[]}"#;
        let mut seen = Vec::new();
        assert!(walk(body, usize::MAX, |levels, step| {
            let path: Vec<_> = levels.iter().map(|l| l.key.unwrap_or("-")).collect();
            match step {
                Step::Str { key, value } => {
                    let value = text(value).unwrap();
                    seen.push(format!("{} {key:?}={value}", path.join("/")))
                }
                Step::Open => seen.push(format!(
                    "open {} at {}",
                    path.join("/"),
                    levels.last().unwrap().open
                )),
                Step::Close => seen.push(format!("close at depth {}", levels.len())),
                Step::Key(_) => {}
            }
            true
        }));
        assert_eq!(
            seen,
            [
                "open - at 0",
                "- Some(\"A\")=x",
                "open -/B at 13",
                "open -/B/C at 18",
                "open -/B/C/- at 19",
                "-/B/C/- Some(\"D\")=y",
                "close at depth 3",
                "close at depth 2",
                "close at depth 1",
                "open -/E at 35",
                "close at depth 1",
                "close at depth 0",
            ]
        );
    }

    #[test]
    fn top_level_strings_only() {
        let body = br#"{"Inner":{"QueueUrl":"no"},"QueueUrl":"http:\/\/q\/1"}"#;
        assert_eq!(
            top_level_string(body, "QueueUrl", usize::MAX).as_deref(),
            Some("http://q/1")
        );
        assert_eq!(
            top_level_string(body, "QueueUrl", 10),
            None,
            "beyond the limit"
        );
        assert_eq!(top_level_string(b"not json", "QueueUrl", usize::MAX), None);
        let tricky = br#"{ "A" : ["TableName", {"TableName": "no"}], "B": "x\"y,\"TableName\":\"z", "TableName" : "t" }"#;
        assert_eq!(
            top_level_string(tricky, "TableName", usize::MAX).as_deref(),
            Some("t")
        );
        assert_eq!(
            top_level_string(br#"{"TableName": 7}"#, "TableName", usize::MAX),
            None
        );
        assert_eq!(
            top_level_string(br#"{"TableName": "unterminated}"#, "TableName", usize::MAX),
            None
        );
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert!(!walk(b"{\"a\":", usize::MAX, |_, _| true));
        assert!(!walk(b"{\"a\":1]", usize::MAX, |_, _| true));
        assert!(walk(b"{}", usize::MAX, |_, _| true));
    }
}
