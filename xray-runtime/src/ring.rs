//! Per-thread queues of finished spans, drained by the export thread.
//!
//! Each thread that records a span gets one bounded single-producer,
//! single-consumer ring, registered once. Ending a span is a slot write and
//! one release store: no lock, no allocation, no system call, and no
//! contention between application threads. When a ring is full the span is
//! dropped and counted (memory stays bounded and the application is never
//! slowed); the export thread is woken when a ring passes half full.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A bounded SPSC ring. The owning thread pushes; the export thread pops.
pub(crate) struct Ring<T> {
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: usize,
    /// Next slot to read; written only by the consumer.
    head: AtomicUsize,
    /// Next slot to write; written only by the producer.
    tail: AtomicUsize,
    /// Items refused because the ring was full.
    dropped: AtomicU64,
    /// Set when the producer thread has exited.
    closed: AtomicBool,
}

// SAFETY: slots are handed from the single producer to the single consumer
// through the release/acquire pair on `tail` (and back through `head`), so no
// slot is ever accessed by both threads at once. `T: Send` is what crossing
// threads requires.
unsafe impl<T: Send> Send for Ring<T> {}
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring holding at least `capacity` items (rounded up to a power of two).
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2).next_power_of_two();
        let slots = (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect();
        Self {
            slots,
            mask: capacity - 1,
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Producer side: appends `item` and returns how many items are now
    /// queued, or drops and counts it when the ring is full (`None`).
    ///
    /// Must only be called from the ring's owning thread.
    #[inline]
    pub(crate) fn push(&self, item: T) -> Option<usize> {
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        let queued = tail.wrapping_sub(head);
        if queued >= self.capacity() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        // SAFETY: the slot at `tail` is outside [head, tail), so the consumer
        // does not read it until the release store below publishes it.
        unsafe { (*self.slots[tail & self.mask].get()).write(item) };
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        Some(queued + 1)
    }

    /// Whether `queued` (as returned by `push`) just reached half capacity.
    #[inline]
    pub(crate) fn reached_half(&self, queued: usize) -> bool {
        queued == self.capacity() / 2
    }

    /// Consumer side: moves every queued item into `out`.
    ///
    /// Must only be called by one consumer at a time.
    pub(crate) fn drain_into(&self, out: &mut Vec<T>) -> usize {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        let count = tail.wrapping_sub(head);
        for i in 0..count {
            let index = head.wrapping_add(i) & self.mask;
            // SAFETY: slots in [head, tail) were written and published by the
            // producer's release store, and are read exactly once here before
            // `head` moves past them.
            out.push(unsafe { (*self.slots[index].get()).assume_init_read() });
        }
        self.head.store(tail, Ordering::Release);
        count
    }

    /// Takes the count of dropped items, resetting it.
    pub(crate) fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    fn is_closed_and_empty(&self) -> bool {
        self.closed.load(Ordering::Acquire)
            && self.head.load(Ordering::Relaxed) == self.tail.load(Ordering::Acquire)
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        let head = *self.head.get_mut();
        let tail = *self.tail.get_mut();
        for i in 0..tail.wrapping_sub(head) {
            let index = head.wrapping_add(i) & self.mask;
            // SAFETY: exclusive access; these slots hold initialised items.
            unsafe { self.slots[index].get_mut().assume_init_drop() };
        }
    }
}

/// Every thread's ring, for the export thread.
pub(crate) struct Registry<T> {
    rings: Mutex<Vec<Arc<Ring<T>>>>,
}

impl<T> Registry<T> {
    pub(crate) const fn new() -> Self {
        Self {
            rings: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn register(&self, ring: Arc<Ring<T>>) {
        self.rings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ring);
    }

    /// Drains every ring into `out`, forgets the rings of exited threads,
    /// and returns how many items the full rings dropped since last time.
    pub(crate) fn drain_into(&self, out: &mut Vec<T>) -> u64 {
        let mut rings = self.rings.lock().unwrap_or_else(|e| e.into_inner());
        let mut dropped = 0;
        for ring in rings.iter() {
            ring.drain_into(out);
            dropped += ring.take_dropped();
        }
        rings.retain(|ring| !ring.is_closed_and_empty());
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_bounded() {
        let ring = Ring::new(4);
        for i in 0..6 {
            ring.push(i);
        }
        let mut out = Vec::new();
        assert_eq!(ring.drain_into(&mut out), 4);
        assert_eq!(out, [0, 1, 2, 3]);
        assert_eq!(ring.take_dropped(), 2);
        ring.push(9);
        out.clear();
        ring.drain_into(&mut out);
        assert_eq!(out, [9]);
    }

    #[test]
    fn items_cross_threads_intact_and_undrained_items_are_dropped() {
        let ring = Arc::new(Ring::new(1024));
        let producer = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                let mut pushed = 0u64;
                for i in 0..200_000u64 {
                    if ring.push(Box::new(i)).is_some() {
                        pushed += 1;
                    }
                }
                ring.close();
                pushed
            })
        };
        let mut seen = Vec::new();
        while !ring.is_closed_and_empty() {
            ring.drain_into(&mut seen);
        }
        let producer_pushed = producer.join().unwrap();
        ring.drain_into(&mut seen);
        let dropped = ring.take_dropped();
        let pushed = producer_pushed;
        assert_eq!(seen.len() as u64, pushed);
        assert_eq!(pushed + dropped, 200_000);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "order kept");
        // Boxes left in a ring are freed with it (checked under Miri/ASan).
        let leftover = Ring::new(4);
        leftover.push(Box::new(1));
        drop(leftover);
    }
}
