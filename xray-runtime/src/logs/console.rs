//! `OTEL_LOGS_EXPORTER=console`: one line per record on stdout, with the
//! trace and span ids of the span it was written in.

use std::fmt::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::{KeyValue, Value};

use super::record::LogRecord;
use crate::export::lane::Outcome;
use crate::signals::deliver::{Exporter, print};

/// Prints records on stdout.
pub(crate) struct ConsoleLogs;

impl Exporter<[LogRecord]> for ConsoleLogs {
    fn name(&self) -> &str {
        "console"
    }

    fn export(&mut self, batch: &[LogRecord], _deadline: Instant) -> Outcome {
        let mut text = String::new();
        for record in batch {
            line(&mut text, record);
        }
        print(&text)
    }

    fn shutdown(self: Box<Self>) {}
}

/// `2026-05-01T10:00:00.123456Z  INFO target: body key=value trace_id=1-... span_id=...`
pub(crate) fn line(out: &mut String, record: &LogRecord) {
    push_time(out, record.time);
    let _ = write!(
        out,
        " {:>5} {}: {}",
        record.severity.text(),
        record.target,
        record.body
    );
    for KeyValue { key, value, .. } in &record.attributes {
        match value {
            Value::String(text) => {
                let _ = write!(out, " {key}={:?}", text.as_str());
            }
            other => {
                let _ = write!(out, " {key}={other}");
            }
        }
    }
    if let Some(ids) = &record.span {
        let _ = write!(
            out,
            " trace_id={} span_id={}",
            ids.xray_trace_id(),
            ids.span_id_hex()
        );
    }
    out.push('\n');
}

/// RFC 3339 in UTC with microseconds.
fn push_time(out: &mut String, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_micros()
    );
}

/// The calendar date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::record::{Severity, SpanIds};
    use std::time::Duration;

    #[test]
    fn a_line_has_the_time_the_level_the_fields_and_the_ids() {
        let record = LogRecord {
            time: UNIX_EPOCH + Duration::from_micros(1_777_629_600_123_456),
            severity: Severity::Warn,
            target: "shop::cart".into(),
            body: "cart is empty".into(),
            attributes: vec![KeyValue::new("order.id", 7), KeyValue::new("tier", "gold")],
            span: Some(SpanIds {
                trace_id: 0x5759e988_bd862e3fe1be46a994272793,
                span_id: 0x53995c3f42cd8ad8,
                sampled: true,
            }),
        };
        let mut out = String::new();
        line(&mut out, &record);
        assert_eq!(
            out,
            "2026-05-01T10:00:00.123456Z  WARN shop::cart: cart is empty order.id=7 tier=\"gold\" \
             trace_id=1-5759e988-bd862e3fe1be46a994272793 span_id=53995c3f42cd8ad8\n"
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
