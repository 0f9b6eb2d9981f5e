//! `log` integration (feature `log`): a logger that wraps yours (such as
//! `env_logger`'s), adds the trace and span ids of the current traced span
//! to every record as key-values, and exports the records as OTLP logs.

use std::time::SystemTime;

use log::kv::{self, Key, Source, Value, VisitSource};
use log::{LevelFilter, Log, Metadata, Record, SetLoggerError};
use opentelemetry::KeyValue;

use super::queue;
use super::record::{LogRecord, Severity, SpanIds};
use crate::span::stack::is_suppressed;
use crate::value::truncate;

/// A `log` logger around yours: every record written inside a traced span
/// reaches your logger with two more key-values, `trace_id` (X-Ray form)
/// and `span_id`, and is exported as an OpenTelemetry log record with its
/// span context (`OTEL_LOGS_EXPORTER`). Records outside spans reach your
/// logger unchanged.
///
/// Your logger decides which records are written, and the same ones are
/// exported. With `env_logger`, turn on its `kv` feature so that its lines
/// show the key-values: `... order paid trace_id=1-... span_id=...`.
///
/// ```
/// use log::{LevelFilter, Log, Metadata, Record};
/// use xray_runtime::logs::XrayLogger;
///
/// /// Stands for any logger, `env_logger::Logger` for one.
/// struct Stderr;
///
/// impl Log for Stderr {
///     fn enabled(&self, metadata: &Metadata<'_>) -> bool {
///         metadata.level() <= log::Level::Info
///     }
///     fn log(&self, record: &Record<'_>) {
///         eprintln!("{} {}", record.level(), record.args());
///     }
///     fn flush(&self) {}
/// }
///
/// XrayLogger::new(Stderr).install(LevelFilter::Info).unwrap();
/// log::info!("ready");
/// ```
#[derive(Debug)]
pub struct XrayLogger<L> {
    inner: L,
}

impl<L: Log + 'static> XrayLogger<L> {
    /// Wraps `inner`.
    pub fn new(inner: L) -> Self {
        Self { inner }
    }

    /// Makes it the process's logger (`log::set_boxed_logger`), with
    /// `max_level` as `log`'s maximum level (`env_logger::Logger::filter()`
    /// says what yours wants). Fails when a logger is already set.
    pub fn install(self, max_level: LevelFilter) -> Result<(), SetLoggerError> {
        log::set_boxed_logger(Box::new(self))?;
        log::set_max_level(max_level);
        Ok(())
    }
}

impl<L: Log> Log for XrayLogger<L> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.inner.enabled(record.metadata()) {
            return;
        }
        let Some(ids) = SpanIds::current() else {
            export(record, None);
            self.inner.log(record);
            return;
        };
        export(record, Some(ids));
        let extra = Ids {
            trace_id: ids.xray_trace_id(),
            span_id: ids.span_id_hex(),
        };
        let both = Both {
            first: record.key_values(),
            then: &extra,
        };
        self.inner
            .log(&record.to_builder().key_values(&both).build());
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Queues `record` for export, when logs are exported.
fn export(record: &Record<'_>, span: Option<SpanIds>) {
    if !queue::accepting() || is_suppressed() {
        return;
    }
    let mut fields = Fields(Vec::new());
    let _ = record.key_values().visit(&mut fields);
    let mut attributes = fields.0;
    if let Some(file) = record.file() {
        attributes.push(KeyValue::new("code.file.path", file.to_string()));
    }
    if let Some(line) = record.line() {
        attributes.push(KeyValue::new("code.line.number", i64::from(line)));
    }
    queue::emit(LogRecord {
        time: SystemTime::now(),
        severity: match record.level() {
            log::Level::Error => Severity::Error,
            log::Level::Warn => Severity::Warn,
            log::Level::Info => Severity::Info,
            log::Level::Debug => Severity::Debug,
            log::Level::Trace => Severity::Trace,
        },
        target: record.target().to_string().into(),
        body: record.args().to_string(),
        attributes,
        span,
    });
}

/// The ids added to a record.
struct Ids {
    trace_id: String,
    span_id: String,
}

impl Source for Ids {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), kv::Error> {
        visitor.visit_pair(
            Key::from_str("trace_id"),
            Value::from(self.trace_id.as_str()),
        )?;
        visitor.visit_pair(Key::from_str("span_id"), Value::from(self.span_id.as_str()))
    }
}

/// A record's own key-values, then ours.
struct Both<'a> {
    first: &'a dyn Source,
    then: &'a dyn Source,
}

impl Source for Both<'_> {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), kv::Error> {
        self.first.visit(visitor)?;
        self.then.visit(visitor)
    }
}

/// A record's key-values as attributes.
struct Fields(Vec<KeyValue>);

impl<'kvs> VisitSource<'kvs> for Fields {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
        let key = key.as_str().to_string();
        let kv = if let Some(b) = value.to_bool() {
            KeyValue::new(key, b)
        } else if let Some(i) = value.to_i64() {
            KeyValue::new(key, i)
        } else if let Some(f) = value.to_f64() {
            KeyValue::new(key, f)
        } else {
            KeyValue::new(key, truncate(value.to_string()))
        };
        self.0.push(kv);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Keeps what it is given.
    #[derive(Default)]
    struct Keep(Mutex<Vec<String>>);

    impl Log for Keep {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Info
        }
        fn log(&self, record: &Record<'_>) {
            struct Line(String);
            impl<'kvs> VisitSource<'kvs> for Line {
                fn visit_pair(&mut self, k: Key<'kvs>, v: Value<'kvs>) -> Result<(), kv::Error> {
                    self.0.push_str(&format!(" {k}={v}"));
                    Ok(())
                }
            }
            let mut line = Line(record.args().to_string());
            let _ = record.key_values().visit(&mut line);
            self.0.lock().unwrap().push(line.0);
        }
        fn flush(&self) {}
    }

    #[test]
    fn records_outside_spans_pass_unchanged_and_filters_are_the_inner_loggers() {
        let logger = XrayLogger::new(Keep::default());
        let kvs = [("order", 7)];
        logger.log(
            &Record::builder()
                .args(format_args!("paid"))
                .level(log::Level::Info)
                .key_values(&kvs)
                .build(),
        );
        logger.log(
            &Record::builder()
                .args(format_args!("noise"))
                .level(log::Level::Debug)
                .build(),
        );
        assert_eq!(*logger.inner.0.lock().unwrap(), ["paid order=7"]);
    }

    #[test]
    fn fields_keep_their_types() {
        let kvs: [(&str, Value<'_>); 4] = [
            ("ok", Value::from(true)),
            ("n", Value::from(-3i64)),
            ("ratio", Value::from(0.5f64)),
            ("who", Value::from("ann")),
        ];
        let mut fields = Fields(Vec::new());
        kvs.as_slice().visit(&mut fields).unwrap();
        assert_eq!(
            fields.0,
            vec![
                KeyValue::new("ok", true),
                KeyValue::new("n", -3i64),
                KeyValue::new("ratio", 0.5),
                KeyValue::new("who", "ann"),
            ]
        );
    }
}
