//! Handing one signal's batches to its exporters: each batch goes to every
//! exporter, each outcome is counted, and an exporter's first failure is
//! said once on stderr (the losses are reported again at shutdown).

use std::io::{self, Write};
use std::time::Instant;

use super::ExporterSpec;
use super::stats::Counters;
use crate::export::lane::Outcome;

/// An exporter of one signal's batches.
pub(crate) trait Exporter<B: ?Sized>: Send {
    /// The name used in messages (`OTLP/HTTP`, `console`).
    fn name(&self) -> &str;

    /// Exports `batch`, giving up at `deadline`.
    fn export(&mut self, batch: &B, deadline: Instant) -> Outcome;

    /// Stops, without blocking.
    fn shutdown(self: Box<Self>);
}

/// Starts the exporters of `specs` with `start`; one that cannot start is
/// said on stderr and left out.
pub(crate) fn start_exporters<B: ?Sized>(
    specs: Vec<ExporterSpec>,
    items: &str,
    start: impl Fn(ExporterSpec) -> Result<Box<dyn Exporter<B>>, String>,
) -> Vec<Box<dyn Exporter<B>>> {
    specs
        .into_iter()
        .filter_map(|spec| match start(spec) {
            Ok(exporter) => Some(exporter),
            Err(why) => {
                eprintln!("xray: {why}; {items} will not be exported there");
                None
            }
        })
        .collect()
}

/// Writes `text` on stdout: what the console exporters do.
pub(crate) fn print(text: &str) -> Outcome {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Outcome::Exported,
        Err(err) => Outcome::Failed(format!("cannot write to stdout: {err}")),
    }
}

struct Entry<B: ?Sized> {
    exporter: Box<dyn Exporter<B>>,
    /// Its failure was said on stderr already.
    told: bool,
}

/// The exporters of one signal, and where their outcomes are counted.
pub(crate) struct Exporters<B: ?Sized> {
    entries: Vec<Entry<B>>,
    counters: &'static Counters,
    /// What the items are, in messages: `log records`, `metric points`.
    items: &'static str,
}

impl<B: ?Sized> Exporters<B> {
    pub(crate) fn new(
        exporters: Vec<Box<dyn Exporter<B>>>,
        counters: &'static Counters,
        items: &'static str,
    ) -> Self {
        Self {
            entries: exporters
                .into_iter()
                .map(|exporter| Entry {
                    exporter,
                    told: false,
                })
                .collect(),
            counters,
            items,
        }
    }

    /// Exports `batch` of `count` items to every exporter, by `deadline`.
    pub(crate) fn deliver(&mut self, batch: &B, count: u64, deadline: Instant) {
        for entry in &mut self.entries {
            let failure = match entry.exporter.export(batch, deadline) {
                Outcome::Exported => {
                    self.counters.exported(count);
                    None
                }
                Outcome::Rejected { spans, message } => {
                    self.counters.exported(count.saturating_sub(spans));
                    self.counters.export_failed(spans.min(count));
                    Some(format!(
                        "the receiver rejected {spans} of {count} {} ({message})",
                        self.items
                    ))
                }
                Outcome::Failed(reason) => {
                    self.counters.export_failed(count);
                    Some(format!(
                        "could not deliver {count} {} ({reason})",
                        self.items
                    ))
                }
                Outcome::Panicked(message) => {
                    self.counters.export_failed(count);
                    Some(format!(
                        "panicked ({message}); {count} {} are lost, export goes on",
                        self.items
                    ))
                }
            };
            if let Some(failure) = failure
                && !entry.told
            {
                entry.told = true;
                eprintln!(
                    "xray: the {} exporter of {} {failure}; the application goes on, later losses \
                     are counted and reported at shutdown",
                    entry.exporter.name(),
                    self.items
                );
            }
        }
    }

    /// Counts `count` items that could not be exported in time by any exporter.
    pub(crate) fn timed_out(&self, count: u64) {
        self.counters
            .export_failed(count * self.entries.len() as u64);
    }

    /// Stops every exporter.
    pub(crate) fn shutdown(self) {
        for entry in self.entries {
            entry.exporter.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Outcome);

    impl Exporter<[u8]> for Fixed {
        fn name(&self) -> &str {
            "fixed"
        }
        fn export(&mut self, _batch: &[u8], _deadline: Instant) -> Outcome {
            self.0.clone()
        }
        fn shutdown(self: Box<Self>) {}
    }

    #[test]
    fn every_exporter_counts_its_own_outcome() {
        static COUNTERS: Counters = Counters::new();
        let mut exporters: Exporters<[u8]> = Exporters::new(
            vec![
                Box::new(Fixed(Outcome::Exported)),
                Box::new(Fixed(Outcome::Rejected {
                    spans: 2,
                    message: "too old".into(),
                })),
                Box::new(Fixed(Outcome::Failed("down".into()))),
            ],
            &COUNTERS,
            "log records",
        );
        exporters.deliver(&[1, 2, 3], 5, Instant::now());
        let stats = COUNTERS.read();
        assert_eq!(stats.exported, 5 + 3);
        assert_eq!(stats.export_failed, 2 + 5);
        exporters.timed_out(1);
        assert_eq!(COUNTERS.read().export_failed, 7 + 3);
        exporters.shutdown();
    }
}
