//! Errors and panics as spans record them: status Error and an `exception`
//! event, recorded once when the same error bubbles up through several
//! traced functions.

use std::cell::RefCell;
use std::sync::Once;

use opentelemetry::trace::Status;
use opentelemetry::{KeyValue, StringValue, Value};

use crate::clock;
use crate::record::{EXCEPTION_ORIGIN_KEY, Extra, RawEvent};
use crate::value::truncate;

/// An error as the span records it.
#[doc(hidden)]
#[derive(Debug)]
pub struct ErrorInfo {
    /// The error's type name.
    pub type_name: &'static str,
    /// Its `Display` (or `Debug`) text.
    pub message: String,
    /// The `source()` chain, outermost first.
    pub causes: Vec<String>,
}

impl ErrorInfo {
    /// A `std::error::Error`, with its causes.
    pub(crate) fn of<E: std::error::Error + ?Sized>(error: &E) -> Self {
        Self {
            type_name: std::any::type_name::<E>(),
            message: error.to_string(),
            causes: error_causes(error),
        }
    }
}

/// The most `source()` links recorded.
const MAX_CAUSES: usize = 16;

/// The `source()` chain of an error, outermost first.
pub(crate) fn error_causes<E: std::error::Error + ?Sized>(error: &E) -> Vec<String> {
    let mut causes = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        if causes.len() == MAX_CAUSES {
            break;
        }
        causes.push(cause.to_string());
        next = cause.source();
    }
    causes
}

/// The last error recorded on this thread, to recognise it when it bubbles up.
struct LastException {
    type_name: &'static str,
    message: String,
    /// The parent of the span that recorded it: the next level up.
    recorder_parent: u64,
    /// The span holding the `exception` event.
    origin: u64,
}

thread_local! {
    static LAST_EXCEPTION: RefCell<Option<LastException>> = const { RefCell::new(None) };
}

/// Records `error` on the span `span_id` (child of `parent_id`): status
/// Error, and an `exception` event unless the same error was just recorded
/// by a child, in which case the span points at that child's event.
pub(crate) fn record_error(extra: &mut Extra, span_id: u64, parent_id: u64, error: ErrorInfo) {
    let message = truncate(error.message);
    let origin = LAST_EXCEPTION.with(|last| {
        let mut last = last.borrow_mut();
        let bubbled = last.as_ref().and_then(|l| {
            (l.recorder_parent == span_id && l.type_name == error.type_name && l.message == message)
                .then_some(l.origin)
        });
        *last = Some(LastException {
            type_name: error.type_name,
            message: message.clone(),
            recorder_parent: parent_id,
            origin: bubbled.unwrap_or(span_id),
        });
        bubbled
    });
    if let Some(origin) = origin {
        extra.status = Status::error(message);
        extra.attributes.push(KeyValue::new(
            EXCEPTION_ORIGIN_KEY,
            format!("{origin:016x}"),
        ));
        return;
    }
    let mut attributes = vec![
        KeyValue::new("exception.type", error.type_name),
        KeyValue::new("exception.message", message.clone()),
    ];
    if !error.causes.is_empty() {
        let causes = error
            .causes
            .into_iter()
            .map(|c| StringValue::from(truncate(c)))
            .collect();
        attributes.push(KeyValue::new(
            "exception.causes",
            Value::Array(opentelemetry::Array::String(causes)),
        ));
    }
    extra.status = Status::error(message);
    extra.events.push(RawEvent {
        name: "exception".into(),
        at: clock::ticks(),
        attributes,
    });
}

struct PanicRecord {
    message: String,
    location: Option<(String, u32)>,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<PanicRecord>> = const { RefCell::new(None) };
}

/// Records the panic unwinding through a span: status Error "panicked" and
/// an `exception` event with the panic's message and location.
pub(crate) fn record_panic(extra: &mut Extra) {
    let mut attributes = vec![KeyValue::new("exception.type", "panic")];
    let _ = LAST_PANIC.try_with(|last| {
        if let Ok(last) = last.try_borrow()
            && let Some(panic) = last.as_ref()
        {
            attributes.push(KeyValue::new(
                "exception.message",
                truncate(panic.message.clone()),
            ));
            if let Some((file, line)) = &panic.location {
                attributes.push(KeyValue::new("code.file.path", file.clone()));
                attributes.push(KeyValue::new("code.line.number", i64::from(*line)));
            }
        }
    });
    attributes.push(KeyValue::new("exception.escaped", true));
    extra.status = Status::error("panicked");
    extra.events.push(RawEvent {
        name: "exception".into(),
        at: clock::ticks(),
        attributes,
    });
}

/// Remembers each panic's message and location for the spans it unwinds
/// through, then runs the previous hook. Installed once, by `init`.
pub(crate) fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "Box<dyn Any>".to_string());
            let location = info.location().map(|l| (l.file().to_string(), l.line()));
            let _ = LAST_PANIC.try_with(|last| {
                if let Ok(mut last) = last.try_borrow_mut() {
                    *last = Some(PanicRecord { message, location });
                }
            });
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_error_bubbling_up_is_recorded_once() {
        let error = || ErrorInfo::of(&Outer(std::io::Error::other("disk full")));
        let (mut child, mut parent, mut unrelated) =
            (Extra::default(), Extra::default(), Extra::default());
        record_error(&mut child, 2, 1, error());
        record_error(&mut parent, 1, 0, error());
        assert_eq!(child.events.len(), 1);
        assert!(child.events[0].attributes.contains(&KeyValue::new(
            "exception.causes",
            Value::Array(opentelemetry::Array::String(vec!["disk full".into()]))
        )));
        assert!(parent.events.is_empty());
        assert_eq!(parent.status, Status::error("outer failed"));
        assert!(
            parent
                .attributes
                .contains(&KeyValue::new(EXCEPTION_ORIGIN_KEY, format!("{:016x}", 2)))
        );
        // Span 9 is not the recorder's parent: its own error, its own event.
        record_error(&mut unrelated, 9, 0, error());
        assert_eq!(unrelated.events.len(), 1);
    }
}
