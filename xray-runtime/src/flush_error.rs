//! Why a flush or a shutdown did not export everything.

use std::fmt;
use std::time::Duration;

use crate::stats::Stats;

/// Why a flush or shutdown did not complete.
///
/// ```
/// use xray_runtime::FlushError;
///
/// fn describe(result: Result<(), FlushError>) -> &'static str {
///     match result {
///         Ok(()) => "exported",
///         Err(FlushError::Timeout(_)) => "the exporters are slow or unreachable",
///         Err(FlushError::Export(_)) => "an exporter failed",
///         Err(FlushError::Lost(stats)) if stats.queue_full > 0 => "the queue overflowed",
///         Err(_) => "tracing is not running",
///     }
/// }
/// assert_eq!(describe(Ok(())), "exported");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushError {
    /// The exporters did not finish within this time.
    Timeout(Duration),
    /// An exporter reported an error (its message).
    Export(String),
    /// Tracing was already shut down.
    ShutDown,
    /// The export thread is not running (it could not start, or this is a
    /// child process after `fork()`: call `init` again there).
    NotRunning,
    /// Called from the export path itself (an exporter), which would wait
    /// for itself: nothing was waited for.
    InsideExport,
    /// Everything was exported, but spans were lost since the previous
    /// flush: what was counted in between.
    Lost(Stats),
}

impl fmt::Display for FlushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("spans may not all have been exported: ")?;
        match self {
            Self::Timeout(waited) => write!(
                f,
                "the exporters did not finish within {} ms",
                waited.as_millis()
            ),
            Self::Export(message) => f.write_str(message),
            Self::ShutDown => f.write_str("already shut down"),
            Self::NotRunning => f.write_str("the export thread is not running"),
            Self::InsideExport => {
                f.write_str("flush was called from the export path, which cannot wait for itself")
            }
            Self::Lost(stats) => write!(f, "since the previous flush: {stats}"),
        }
    }
}

impl std::error::Error for FlushError {}
