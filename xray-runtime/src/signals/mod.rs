//! What the log and metric pipelines share: the thread that exports a
//! signal off the application's threads (`worker`), handing batches to the
//! exporters and counting what they do with them (`deliver`), OTLP for
//! either (`otlp`), and the counts (`stats`).

pub(crate) mod deliver;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod otlp;
pub(crate) mod stats;
pub(crate) mod worker;

pub use stats::SignalStats;

use crate::export::otlp::OtlpSettings;

/// Where a signal goes, as the configuration resolved it.
#[derive(Clone, Debug)]
pub(crate) enum ExporterSpec {
    /// Lines on stdout.
    Console,
    /// OTLP.
    Otlp(Box<OtlpSettings>),
}
