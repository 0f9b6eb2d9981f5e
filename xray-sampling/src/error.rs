//! Errors from parsing rule files, API bodies and the adaptive configuration.

use std::fmt;

/// Why a document could not be read, and where.
///
/// `line` and `column` are 1-based, as the JSON and YAML parsers count them;
/// both are 0 when the problem has no position (for example an empty
/// environment value). For a value that is well-formed but not allowed (a
/// `FixedRate` of 1.5, an unsupported `version`), the position is where the
/// parser was when it rejected the value: at the end of the value, or at the
/// end of the enclosing object (its closing brace or the next character after
/// it) for a missing or inconsistent field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line, 0 if unknown.
    pub line: usize,
    /// 1-based column, 0 if unknown.
    pub column: usize,
    /// What is wrong, without the position.
    pub reason: String,
}

impl ParseError {
    pub(crate) fn without_position(reason: impl Into<String>) -> Self {
        ParseError {
            line: 0,
            column: 0,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.reason)
        } else {
            write!(
                f,
                "line {}, column {}: {}",
                self.line, self.column, self.reason
            )
        }
    }
}

impl std::error::Error for ParseError {}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        let (line, column) = (e.line(), e.column());
        // serde_json's message ends with " at line L column C"; keep the reason.
        let message = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        let reason = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
        ParseError {
            line,
            column,
            reason,
        }
    }
}

#[cfg(feature = "yaml")]
impl From<serde_norway::Error> for ParseError {
    fn from(e: serde_norway::Error) -> Self {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let message = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        let reason = match message.find(&suffix) {
            Some(at) => format!("{}{}", &message[..at], &message[at + suffix.len()..]),
            None => message,
        };
        ParseError {
            line,
            column,
            reason,
        }
    }
}
