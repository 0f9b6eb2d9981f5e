//! `fork()`: the child process has a copy of the parent's memory but only
//! the thread that forked. Its export thread does not exist there, the
//! queues hold the parent's spans, and every random generator would repeat
//! the parent's ids.
//!
//! Handlers registered with `pthread_atfork` take the runtime's locks
//! before the fork (so that no other thread holds one at that instant) and
//! release them after it, in both processes. In the child, tracing is then
//! off until `init` is called there (as prefork servers do in each worker):
//! flushes and the inherited guard return at once, the parent's queues are
//! forgotten (the parent exports those spans), and every generator seeds
//! itself again.
//!
//! The child's handler runs before any other code of the child, with only
//! its own thread alive and the runtime's locks held by it; the memory
//! allocator is fork-safe on the platforms this supports (glibc, musl).

use std::cell::RefCell;
use std::sync::Once;

use crate::id;
use crate::span::stack;
use crate::state;
use crate::stats;

/// The runtime's locks, held across a fork by the forking thread.
struct Held {
    _state: state::ForkLocks,
    _stats: stats::ForkLock,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// Registers the handlers, once per process.
pub(crate) fn install_handlers() {
    static INSTALL: Once = Once::new();
    #[cfg(unix)]
    INSTALL.call_once(|| {
        // SAFETY: the handlers are `extern "C"` functions that never unwind.
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
    });
    #[cfg(not(unix))]
    INSTALL.call_once(|| {});
}

extern "C" fn prepare() {
    let held = Held {
        _state: state::lock_for_fork(),
        _stats: stats::lock_for_fork(),
    };
    let _ = HELD.try_with(|slot| *slot.borrow_mut() = Some(held));
}

extern "C" fn parent() {
    let _ = HELD.try_with(|slot| slot.borrow_mut().take());
}

extern "C" fn child() {
    id::note_fork();
    let _ = HELD.try_with(|slot| {
        if let Some(held) = slot.borrow_mut().take() {
            state::forget_after_fork(held._state);
            stats::forget_after_fork(held._stats);
        }
    });
    stack::forget_queue_after_fork();
}
