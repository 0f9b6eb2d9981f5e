//! Whether metering is on: read by every metered call and request, written
//! when a metrics pipeline starts and stops.

use std::sync::atomic::{AtomicBool, Ordering};

/// On while a metrics pipeline runs.
pub(crate) static ON: AtomicBool = AtomicBool::new(false);

pub(crate) fn on() {
    ON.store(true, Ordering::Release);
}

pub(crate) fn off() {
    ON.store(false, Ordering::Release);
}
