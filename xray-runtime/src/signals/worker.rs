//! The thread that exports one signal (logs or metrics) off the
//! application's threads: it runs its job on a schedule, when woken (a
//! batch is waiting), and on flush and shutdown requests, each bounded by a
//! deadline. Application threads never wait for it, except a caller of
//! flush or shutdown, and never past their own deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::span::stack::suppress_this_thread;

/// What the thread runs.
pub(crate) trait Job: Send + 'static {
    /// Exports what is waiting (everything when `all`: a flush), giving up
    /// at `deadline`; what could not be exported by then is counted lost.
    fn run(&mut self, all: bool, deadline: Instant);

    /// When the job must run next on its own.
    fn next_run(&self) -> Instant;

    /// How long a scheduled run may take.
    fn export_timeout(&self) -> Duration;

    /// Exports what is left and stops the exporters, by `deadline`.
    fn stop(&mut self, deadline: Instant);
}

enum Request {
    Flush(SyncSender<()>, Instant),
    Stop(SyncSender<()>, Instant),
}

struct Shared {
    requests: Mutex<Vec<Request>>,
    thread: OnceLock<Thread>,
    /// Set with every wake-up (an exporter's future parking the same
    /// thread would swallow the park token).
    woken: AtomicBool,
    stopped: AtomicBool,
    /// The process that started the thread: a child after `fork()` has none.
    pid: u32,
}

impl Shared {
    fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// The running thread of one signal.
pub(crate) struct Worker {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("stopped", &self.shared.stopped.load(Ordering::Relaxed))
            .finish()
    }
}

/// A flush or stop under way: [`Pending::wait`] returns when it is over,
/// or at its deadline.
pub(crate) struct Pending {
    answer: Option<Receiver<()>>,
    deadline: Instant,
}

impl Pending {
    /// Waits for the thread to finish; false when it did not by the
    /// deadline (or is not running).
    pub(crate) fn wait(self) -> bool {
        match self.answer {
            Some(answer) => answer
                .recv_timeout(self.deadline.saturating_duration_since(Instant::now()))
                .is_ok(),
            None => false,
        }
    }
}

impl Worker {
    /// Starts the thread `name` running `job`.
    pub(crate) fn start(name: &str, job: impl Job) -> Result<Self, String> {
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            thread: OnceLock::new(),
            woken: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            pid: std::process::id(),
        });
        let running = shared.clone();
        let handle = thread::Builder::new()
            .name(name.into())
            .spawn(move || run(running, job))
            .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
        let _ = shared.thread.set(handle.thread().clone());
        Ok(Self { shared })
    }

    /// What wakes the thread, for producers to hold.
    pub(crate) fn waker(&self) -> impl Fn() + Send + Sync + 'static {
        let shared = self.shared.clone();
        move || shared.wake()
    }

    fn request(&self, make: impl FnOnce(SyncSender<()>) -> Request) -> Option<Receiver<()>> {
        if self.shared.stopped.load(Ordering::Acquire) || std::process::id() != self.shared.pid {
            return None;
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(make(tx));
        self.shared.wake();
        Some(rx)
    }

    /// Asks the thread to export everything waiting now, by `deadline`,
    /// without waiting for it: several signals flush at once.
    pub(crate) fn begin_flush(&self, deadline: Instant) -> Pending {
        let answer = self.request(|tx| Request::Flush(tx, with_margin(deadline)));
        Pending { answer, deadline }
    }

    /// Asks the thread for its last export and to stop, by `deadline`,
    /// without waiting for it.
    pub(crate) fn begin_stop(&self, deadline: Instant) -> Pending {
        let answer = self.request(|tx| Request::Stop(tx, with_margin(deadline)));
        self.shared.stopped.store(true, Ordering::Release);
        Pending { answer, deadline }
    }
}

/// The thread's own deadline: a little before the caller's, so that what
/// it could not export is counted before the caller stops waiting.
fn with_margin(deadline: Instant) -> Instant {
    let wait = deadline.saturating_duration_since(Instant::now());
    deadline - (wait / 10).min(Duration::from_millis(50))
}

/// The thread's loop.
fn run(shared: Arc<Shared>, mut job: impl Job) {
    // Whatever the exporters do (HTTP clients log, TLS libraries log), it
    // must not come back to this thread as records to export.
    suppress_this_thread();
    loop {
        let woken_now = shared.woken.swap(false, Ordering::AcqRel);
        let requests =
            std::mem::take(&mut *shared.requests.lock().unwrap_or_else(|e| e.into_inner()));
        for request in requests {
            match request {
                Request::Flush(answer, deadline) => {
                    job.run(true, deadline);
                    let _ = answer.try_send(());
                }
                Request::Stop(answer, deadline) => {
                    job.stop(deadline);
                    let _ = answer.try_send(());
                    return;
                }
            }
        }
        let now = Instant::now();
        if woken_now || now >= job.next_run() {
            job.run(false, now + job.export_timeout());
        }
        if !woken(&shared) {
            thread::park_timeout(job.next_run().saturating_duration_since(Instant::now()));
        }
    }
}

fn woken(shared: &Shared) -> bool {
    shared.woken.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Counting {
        runs: Arc<AtomicUsize>,
        flushes: Arc<AtomicUsize>,
        stopped: Arc<AtomicBool>,
        next: Instant,
    }

    impl Job for Counting {
        fn run(&mut self, all: bool, _deadline: Instant) {
            self.runs.fetch_add(1, Ordering::SeqCst);
            if all {
                self.flushes.fetch_add(1, Ordering::SeqCst);
            }
            self.next = Instant::now() + Duration::from_secs(3600);
        }
        fn next_run(&self) -> Instant {
            self.next
        }
        fn export_timeout(&self) -> Duration {
            Duration::from_secs(1)
        }
        fn stop(&mut self, _deadline: Instant) {
            self.stopped.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn flushes_run_the_job_and_a_stop_ends_the_thread() {
        let (runs, flushes, stopped) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let worker = Worker::start(
            "xray-test-worker",
            Counting {
                runs: runs.clone(),
                flushes: flushes.clone(),
                stopped: stopped.clone(),
                next: Instant::now() + Duration::from_secs(3600),
            },
        )
        .expect("thread");
        assert!(
            worker
                .begin_flush(Instant::now() + Duration::from_secs(5))
                .wait()
        );
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
        let before = runs.load(Ordering::SeqCst);
        worker.waker()();
        let deadline = Instant::now() + Duration::from_secs(5);
        while runs.load(Ordering::SeqCst) == before && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert!(
            runs.load(Ordering::SeqCst) > before,
            "a wake-up runs the job"
        );
        assert!(
            worker
                .begin_stop(Instant::now() + Duration::from_secs(5))
                .wait()
        );
        assert!(stopped.load(Ordering::SeqCst));
        assert!(
            !worker
                .begin_flush(Instant::now() + Duration::from_millis(50))
                .wait(),
            "stopped"
        );
    }
}
