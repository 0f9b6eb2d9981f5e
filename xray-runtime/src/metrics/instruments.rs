//! The instruments (three duration histograms) and their series, one per
//! set of attributes, for the life of the process. A series is looked up
//! once per HTTP request, and once per call site for traced calls (which
//! then keep it). Each instrument has at most [`MAX_SERIES`] series; beyond,
//! measurements go to one series marked `otel.metric.overflow`, as the
//! OpenTelemetry SDKs do.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, RwLock};

use opentelemetry::{KeyValue, Value};

use super::histogram::Series;

/// The most series of one instrument (the SDKs' default cardinality limit).
pub(crate) const MAX_SERIES: usize = 2000;

/// A duration histogram.
#[derive(Debug)]
pub(crate) struct Instrument {
    pub name: &'static str,
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub description: &'static str,
    series: RwLock<BTreeMap<String, Arc<Series>>>,
    overflow: OnceLock<Arc<Series>>,
}

impl Instrument {
    pub(crate) const fn new(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            description,
            series: RwLock::new(BTreeMap::new()),
            overflow: OnceLock::new(),
        }
    }

    /// The series of `attributes` (made on first use).
    pub(crate) fn series(&self, attributes: Vec<KeyValue>) -> Arc<Series> {
        let key = key_of(&attributes);
        if let Some(series) = self
            .series
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return series.clone();
        }
        let mut all = self.series.write().unwrap_or_else(|e| e.into_inner());
        if let Some(series) = all.get(&key) {
            return series.clone();
        }
        if all.len() >= MAX_SERIES {
            return self
                .overflow
                .get_or_init(|| {
                    Arc::new(Series::new(vec![KeyValue::new(
                        "otel.metric.overflow",
                        true,
                    )]))
                })
                .clone();
        }
        let series = Arc::new(Series::new(attributes));
        all.insert(key, series.clone());
        series
    }

    /// Every series, the overflow one last.
    pub(crate) fn all_series(&self) -> Vec<Arc<Series>> {
        let mut all: Vec<Arc<Series>> = self
            .series
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        all.extend(self.overflow.get().cloned());
        all
    }
}

/// `key=value` pairs in order, with the value's type: the identity of a
/// set of attributes.
fn key_of(attributes: &[KeyValue]) -> String {
    let mut key = String::new();
    for KeyValue { key: k, value, .. } in attributes {
        let kind = match value {
            Value::Bool(_) => 'b',
            Value::I64(_) => 'i',
            Value::F64(_) => 'f',
            Value::String(_) => 's',
            _ => 'a',
        };
        let _ = write!(key, "{}\u{1}{kind}{value}\u{2}", k.as_str());
    }
    key
}

/// `xray.call.duration`: `#[xray_root]` and `#[traced(metrics)]` calls.
pub(crate) static CALLS: Instrument = Instrument::new(
    super::CALL_DURATION,
    "Duration of traced calls, by function and outcome",
);

/// `http.server.request.duration`: requests `XrayLayer` served.
pub(crate) static HTTP_SERVER: Instrument = Instrument::new(
    super::HTTP_SERVER_DURATION,
    "Duration of HTTP server requests.",
);

/// `http.client.request.duration`: requests traced clients sent.
pub(crate) static HTTP_CLIENT: Instrument = Instrument::new(
    super::HTTP_CLIENT_DURATION,
    "Duration of HTTP client requests.",
);

/// Every instrument, in the order they are exported.
pub(crate) static ALL: [&Instrument; 3] = [&CALLS, &HTTP_SERVER, &HTTP_CLIENT];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_series_per_set_of_attributes_then_overflow() {
        let instrument = Instrument::new("test.duration", "test");
        let a = instrument.series(vec![KeyValue::new("code", 200)]);
        let b = instrument.series(vec![KeyValue::new("code", 200)]);
        let c = instrument.series(vec![KeyValue::new("code", "200")]);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c), "an integer and a string differ");
        for i in 0..MAX_SERIES {
            instrument.series(vec![KeyValue::new("i", i as i64)]);
        }
        let overflow = instrument.series(vec![KeyValue::new("i", -1)]);
        assert_eq!(
            overflow.attributes,
            vec![KeyValue::new("otel.metric.overflow", true)]
        );
        assert_eq!(instrument.all_series().len(), MAX_SERIES + 1);
    }
}
