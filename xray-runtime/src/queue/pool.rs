//! The blocks every thread's queue is built from, taken from one pool with
//! a process-wide cap: however many threads record spans, the queues never
//! hold more than the cap's memory. Blocks are allocated on first need,
//! fallibly (no allocation failure aborts the process), and recycled when
//! drained.

use std::alloc::{Layout, alloc, dealloc};
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Items per block.
pub(crate) const BLOCK_SLOTS: usize = 32;

/// A fixed run of slots written by one producer and read by one consumer.
pub(crate) struct Block<T> {
    pub(super) slots: [UnsafeCell<MaybeUninit<T>>; BLOCK_SLOTS],
    /// How many slots the producer has written and published.
    pub(super) written: AtomicUsize,
    /// The producer's next block, once it moved on.
    pub(super) next: AtomicPtr<Block<T>>,
}

/// Free blocks. Raw pointers: each block is owned by exactly one of the
/// pool, a producer-consumer chain, or nobody (freed).
struct FreeList<T>(Vec<NonNull<Block<T>>>);

// SAFETY: the blocks in the list are owned by the pool alone; moving the
// pointers between threads moves that ownership, which `T: Send` allows.
unsafe impl<T: Send> Send for FreeList<T> {}

/// The pool of blocks. See the module documentation.
pub(crate) struct Pool<T> {
    free: Mutex<FreeList<T>>,
    /// Blocks allocated and not yet freed (in the free list or in chains).
    live: AtomicUsize,
    /// The most blocks that may be live at once.
    cap: AtomicUsize,
}

impl<T> Pool<T> {
    pub(crate) const fn new(cap: usize) -> Self {
        Self {
            free: Mutex::new(FreeList(Vec::new())),
            live: AtomicUsize::new(0),
            cap: AtomicUsize::new(cap),
        }
    }

    /// Sets the most blocks that may be live at once. Blocks beyond a lower
    /// cap are freed as they come back.
    pub(crate) fn set_cap(&self, blocks: usize) {
        self.cap.store(blocks.max(1), Ordering::Relaxed);
    }

    /// The most blocks that may be live at once.
    pub(crate) fn cap(&self) -> usize {
        self.cap.load(Ordering::Relaxed)
    }

    /// Blocks currently allocated.
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// An empty block, or `None` when the cap is reached or memory is short.
    pub(crate) fn take(&self) -> Option<NonNull<Block<T>>> {
        if let Some(block) = self.free.lock().unwrap_or_else(|e| e.into_inner()).0.pop() {
            return Some(block);
        }
        let cap = self.cap.load(Ordering::Relaxed);
        let reserved = self
            .live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |live| {
                (live < cap).then_some(live + 1)
            })
            .is_ok();
        if !reserved {
            return None;
        }
        let block = Self::allocate();
        if block.is_none() {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
        block
    }

    fn allocate() -> Option<NonNull<Block<T>>> {
        let layout = Layout::new::<Block<T>>();
        // SAFETY: the layout has a non-zero size.
        let block = NonNull::new(unsafe { alloc(layout) }.cast::<Block<T>>())?;
        // SAFETY: freshly allocated for a `Block<T>`; the slots may stay
        // uninitialised (`MaybeUninit`), the two atomics are written here.
        unsafe {
            ptr::addr_of_mut!((*block.as_ptr()).written).write(AtomicUsize::new(0));
            ptr::addr_of_mut!((*block.as_ptr()).next).write(AtomicPtr::new(ptr::null_mut()));
        }
        Some(block)
    }

    /// Takes back a block whose items have all been moved out.
    ///
    /// # Safety
    /// `block` came from [`take`](Self::take) of this pool, holds no item
    /// (every written slot was read out), and nothing else uses it.
    pub(crate) unsafe fn give(&self, block: NonNull<Block<T>>) {
        // SAFETY: the caller hands over sole ownership.
        unsafe {
            (*block.as_ptr()).written.store(0, Ordering::Relaxed);
            (*block.as_ptr())
                .next
                .store(ptr::null_mut(), Ordering::Relaxed);
        }
        let cap = self.cap.load(Ordering::Relaxed);
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if self.live.load(Ordering::Relaxed) > cap {
            drop(free);
            // SAFETY: sole owner, no item inside; the cap was lowered.
            unsafe { self.release(block) };
        } else {
            free.0.push(block);
        }
    }

    /// Frees free blocks beyond `keep`, returning memory after a burst.
    pub(crate) fn trim(&self, keep: usize) {
        let surplus: Vec<_> = {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            let keep = keep.min(free.0.len());
            free.0.split_off(keep)
        };
        for block in surplus {
            // SAFETY: blocks in the free list are owned by the pool alone.
            unsafe { self.release(block) };
        }
    }

    /// Holds the pool's lock across a `fork()`.
    pub(crate) fn lock_for_fork(&self) -> PoolLock<'_, T> {
        PoolLock {
            pool: self,
            _free: self.free.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// # Safety
    /// Sole ownership of an empty block of this pool.
    unsafe fn release(&self, block: NonNull<Block<T>>) {
        // SAFETY: allocated by `allocate` with this layout.
        unsafe { dealloc(block.as_ptr().cast(), Layout::new::<Block<T>>()) };
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The pool's lock, held across a `fork()`.
pub(crate) struct PoolLock<'a, T> {
    pool: &'a Pool<T>,
    _free: MutexGuard<'a, FreeList<T>>,
}

impl<T> PoolLock<'_, T> {
    /// In a child process: blocks lent to queues of threads that do not
    /// exist there will never come back; only the free ones count.
    pub(crate) fn forget_lent(&mut self) {
        self.pool.live.store(self._free.0.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_bounds_live_blocks_and_blocks_are_reused() {
        let pool: Pool<u64> = Pool::new(2);
        let a = pool.take().expect("first block");
        let b = pool.take().expect("second block");
        assert!(pool.take().is_none(), "the cap is 2 blocks");
        assert_eq!(pool.live(), 2);
        // SAFETY: empty blocks from this pool, no longer used.
        unsafe { pool.give(a) };
        let again = pool.take().expect("a recycled block");
        assert_eq!(again, a);
        unsafe {
            pool.give(again);
            pool.give(b);
        }
        pool.trim(0);
        assert_eq!(pool.live(), 0);
    }

    #[test]
    fn lowering_the_cap_frees_blocks_as_they_return() {
        let pool: Pool<u64> = Pool::new(3);
        let blocks: Vec<_> = (0..3).map(|_| pool.take().expect("block")).collect();
        pool.set_cap(1);
        for block in blocks {
            // SAFETY: as above.
            unsafe { pool.give(block) };
        }
        assert_eq!(pool.live(), 1);
        pool.trim(0);
        assert_eq!(pool.live(), 0);
    }
}
