//! A `SpanExporter` (custom, console or JSON) on its own thread: one batch
//! at a time, as the `SpanExporter` contract requires, while the export
//! thread goes on draining. A panic in the exporter loses its batch, not
//! the lane; an exporter that hangs holds up only its own thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SpanData;

use crate::export::block_on::block_on;
use crate::export::boxed::BoxedExporter;
use crate::export::lane::{Batch, Completions, Lane, Outcome, panic_message};
use crate::export::span_data::span_data;
use crate::span::stack::suppress_this_thread;

enum Message {
    Export(Batch),
    Shutdown(Duration),
}

/// The export thread's handle on an exporter's thread.
pub(crate) struct ExporterLane {
    name: &'static str,
    sender: SyncSender<Message>,
    /// Receives once the exporter's `shutdown` returned.
    stopped: Receiver<()>,
    completions: Completions,
    stall_after: Duration,
}

/// Batches it holds: one being exported, one waiting.
const MAX_IN_FLIGHT: usize = 2;

impl ExporterLane {
    /// Starts the exporter's thread.
    pub(crate) fn start(
        exporter: BoxedExporter,
        scope: InstrumentationScope,
        completions: Completions,
        stall_after: Duration,
    ) -> std::io::Result<Self> {
        let name = exporter.name();
        let lane_completions = completions.clone();
        let (sender, receiver) = mpsc::sync_channel(MAX_IN_FLIGHT + 1);
        let (stopped_sender, stopped) = mpsc::sync_channel(1);
        let worker = Worker {
            exporter,
            scope,
            completions,
            stopped: stopped_sender,
        };
        thread::Builder::new()
            .name(format!("xray-export-{name}"))
            .spawn(move || worker.run(receiver))?;
        Ok(Self {
            name,
            sender,
            stopped,
            completions: lane_completions,
            stall_after,
        })
    }
}

impl Lane for ExporterLane {
    fn name(&self) -> &str {
        self.name
    }

    fn max_in_flight(&self) -> usize {
        MAX_IN_FLIGHT
    }

    fn stall_after(&self) -> Duration {
        self.stall_after
    }

    fn submit(&mut self, batch: Batch) {
        // The export thread never submits more than `MAX_IN_FLIGHT`, and the
        // channel holds one more: it is never full, so this never blocks. A
        // thread that is gone cannot report the batch: report it here.
        if let Err(
            mpsc::TrySendError::Full(Message::Export(batch))
            | mpsc::TrySendError::Disconnected(Message::Export(batch)),
        ) = self.sender.try_send(Message::Export(batch))
        {
            self.completions.report(
                batch.seq,
                batch.len() as u64,
                Outcome::Failed("the exporter's thread has stopped".into()),
            );
        }
    }

    fn shutdown(self: Box<Self>, timeout: Duration) {
        if self.sender.try_send(Message::Shutdown(timeout)).is_ok() {
            // Wait for the exporter's own shutdown, but no longer than
            // allowed: an exporter stuck in an export never gets to it.
            let _ = self.stopped.recv_timeout(timeout);
        }
    }
}

struct Worker {
    exporter: BoxedExporter,
    scope: InstrumentationScope,
    completions: Completions,
    stopped: SyncSender<()>,
}

impl Worker {
    fn run(self, receiver: Receiver<Message>) {
        suppress_this_thread();
        while let Ok(message) = receiver.recv() {
            match message {
                Message::Export(batch) => self.export(batch),
                Message::Shutdown(timeout) => {
                    let _ = catch_unwind(AssertUnwindSafe(|| {
                        self.exporter.shutdown_with_timeout(timeout)
                    }));
                    let _ = self.stopped.try_send(());
                    return;
                }
            }
        }
    }

    fn export(&self, batch: Batch) {
        let (seq, spans) = (batch.seq, batch.len() as u64);
        let mut data: Vec<SpanData> = Vec::with_capacity(batch.len());
        let converter = batch.converter;
        data.extend(
            batch
                .spans
                .into_iter()
                .map(|span| span_data(span, &converter, &self.scope)),
        );
        data.extend(batch.sdk_spans);
        let exported = catch_unwind(AssertUnwindSafe(|| block_on(self.exporter.export(data))));
        let outcome = match exported {
            Ok(Ok(())) => Outcome::Exported,
            Ok(Err(err)) => Outcome::Failed(err.to_string()),
            Err(panic) => Outcome::Panicked(panic_message(panic.as_ref())),
        };
        self.completions.report(seq, spans, outcome);
    }
}
