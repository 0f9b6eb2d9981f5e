//! Per-thread queues of finished spans, drained by the export thread.
//!
//! Each thread that records a span owns the [`Producer`] end of one queue;
//! the export thread holds the [`Consumer`] end. The contract (one writer,
//! one reader) is in the types: a producer is neither `Send` nor `Sync`
//! (it lives in its thread's local state), and both ends take `&mut self`.
//!
//! A queue is a chain of fixed-size blocks from the process-wide [`Pool`]:
//! queuing an item is one slot write and one release store, with no lock,
//! no allocation and no system call; once per block the producer takes the
//! next block from the pool. When the pool is exhausted (the exporters
//! cannot keep up, or memory is short) the item is handed back to the
//! caller to be counted as lost: memory stays bounded whatever the number
//! of threads, and the application is never slowed.

mod pool;

use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// Numbers queues, so a flush can name the ones it waits for.
static NEXT_QUEUE_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) use pool::{BLOCK_SLOTS, Pool, PoolLock};

use pool::Block;

/// What the two ends share.
struct Shared<T> {
    /// The producer's first block, handed to the consumer once.
    first: AtomicPtr<Block<T>>,
    /// Set by the producer when it is dropped, after its last write.
    closed: AtomicBool,
    /// Items the producer could not queue, not yet collected.
    dropped: AtomicU64,
}

/// A new queue: its producer and consumer ends, drawing on `pool`.
pub(crate) fn queue<T>(pool: &'static Pool<T>) -> (Producer<T>, Consumer<T>) {
    let shared = Arc::new(Shared {
        first: AtomicPtr::new(ptr::null_mut()),
        closed: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
    });
    let producer = Producer {
        shared: shared.clone(),
        pool,
        tail: None,
        index: 0,
        _local: PhantomData,
    };
    let consumer = Consumer {
        shared,
        pool,
        head: None,
        read: 0,
        id: NEXT_QUEUE_ID.fetch_add(1, Ordering::Relaxed),
        consumed: 0,
    };
    (producer, consumer)
}

/// The writing end of a queue, owned by one thread.
pub(crate) struct Producer<T: 'static> {
    shared: Arc<Shared<T>>,
    pool: &'static Pool<T>,
    /// The block being written; `None` until the first item.
    tail: Option<NonNull<Block<T>>>,
    /// The next slot of `tail` to write.
    index: usize,
    /// Stays on its thread.
    _local: PhantomData<*const ()>,
}

/// The outcome of [`Producer::push`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued in the current block.
    Queued,
    /// Queued in a block just taken from the pool: one more block is full.
    QueuedInNewBlock,
}

impl<T> Producer<T> {
    /// Queues `item`, or hands it back when no block is available (the
    /// pool is exhausted): the caller counts it as lost.
    #[inline]
    pub(crate) fn push(&mut self, item: T) -> Result<Pushed, T> {
        let mut pushed = Pushed::Queued;
        let block = match self.tail {
            Some(block) if self.index < BLOCK_SLOTS => block,
            _ => match self.next_block() {
                Some(block) => {
                    pushed = Pushed::QueuedInNewBlock;
                    block
                }
                None => {
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                    return Err(item);
                }
            },
        };
        // SAFETY: the producer alone writes slots at or after `index` of its
        // tail block; the consumer reads only slots below `written`, which
        // the release store below publishes after the write.
        unsafe {
            let block = block.as_ptr();
            (*(*block).slots[self.index].get()).write(item);
            self.index += 1;
            (*block).written.store(self.index, Ordering::Release);
        }
        Ok(pushed)
    }

    /// Links a block from the pool after the current one.
    #[cold]
    fn next_block(&mut self) -> Option<NonNull<Block<T>>> {
        let block = self.pool.take()?;
        match self.tail {
            // SAFETY: the tail block stays alive until the consumer has
            // seen its `next` (it frees a block only once it moved past it).
            Some(tail) => unsafe {
                (*tail.as_ptr())
                    .next
                    .store(block.as_ptr(), Ordering::Release)
            },
            None => self.shared.first.store(block.as_ptr(), Ordering::Release),
        }
        self.tail = Some(block);
        self.index = 0;
        Some(block)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // After the last write: the consumer may now take every block back.
        self.shared.closed.store(true, Ordering::Release);
    }
}

/// The reading end of a queue, held by the export thread.
pub(crate) struct Consumer<T: 'static> {
    shared: Arc<Shared<T>>,
    pool: &'static Pool<T>,
    /// The oldest block not yet given back; `None` until the first.
    head: Option<NonNull<Block<T>>>,
    /// The next slot of `head` to read.
    read: usize,
    id: u64,
    /// Items read since the queue was made.
    consumed: u64,
}

// SAFETY: the consumer end only reads slots the producer published (with
// release/acquire on `written`, `next` and `first`) and gives blocks back
// only once the producer has moved past them; it may run on any one thread
// at a time, which `&mut self` on every method ensures.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Consumer<T> {
    /// Moves up to `max` queued items, oldest first, into `out`; returns how
    /// many it moved. Blocks read to the end are given back to the pool.
    pub(crate) fn drain(&mut self, max: usize, mut out: impl FnMut(T)) -> usize {
        let mut moved = 0;
        while moved < max {
            let Some(head) = self.head_block() else {
                break;
            };
            let head = head.as_ptr();
            // SAFETY: `head` is alive (given back only below), and slots
            // below `written` were published by the producer's release store.
            let written = unsafe { (*head).written.load(Ordering::Acquire) };
            while self.read < written && moved < max {
                // SAFETY: each published slot is read exactly once.
                out(unsafe { (*(*head).slots[self.read].get()).assume_init_read() });
                self.read += 1;
                moved += 1;
                self.consumed += 1;
            }
            if self.read < BLOCK_SLOTS {
                break;
            }
            // SAFETY: as above.
            let next = unsafe { (*head).next.load(Ordering::Acquire) };
            let Some(next) = NonNull::new(next) else {
                break; // the producer has not needed a new block yet
            };
            // SAFETY: every slot of `head` was read, and the producer has
            // moved on to `next`: nobody uses `head` any more.
            unsafe { self.pool.give(NonNull::new_unchecked(head)) };
            self.head = Some(next);
            self.read = 0;
        }
        moved
    }

    /// The queue's number, unique in the process.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Items read since the queue was made.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Items queued and not read yet, counted without reading them.
    pub(crate) fn available(&mut self) -> u64 {
        let mut block = self.head_block();
        let mut read = self.read;
        let mut count = 0;
        while let Some(current) = block {
            // SAFETY: blocks from `head` on are alive (given back only by
            // `drain`), and their counts are published with release stores.
            let (written, next) = unsafe {
                let current = current.as_ptr();
                (
                    (*current).written.load(Ordering::Acquire),
                    (*current).next.load(Ordering::Acquire),
                )
            };
            count += written.saturating_sub(read) as u64;
            read = 0;
            block = NonNull::new(next);
        }
        count
    }

    fn head_block(&mut self) -> Option<NonNull<Block<T>>> {
        if self.head.is_none() {
            self.head = NonNull::new(self.shared.first.load(Ordering::Acquire));
        }
        self.head
    }

    /// Takes the count of items the producer could not queue.
    pub(crate) fn take_dropped(&self) -> u64 {
        self.shared.dropped.swap(0, Ordering::Relaxed)
    }

    /// Whether the producer is gone and every item was read.
    pub(crate) fn is_finished(&mut self) -> bool {
        if !self.shared.closed.load(Ordering::Acquire) {
            return false;
        }
        match self.head_block() {
            None => true,
            // SAFETY: `head` is alive while the consumer holds it.
            Some(head) => unsafe {
                let head = head.as_ptr();
                self.read == (*head).written.load(Ordering::Acquire)
                    && (*head).next.load(Ordering::Acquire).is_null()
            },
        }
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        if !self.shared.closed.load(Ordering::Acquire) {
            // The producer may still write: leave its blocks to it (a leak,
            // never a use after free). Registries drop only finished queues.
            return;
        }
        // The producer is gone: drop what is left and give every block back.
        self.drain(usize::MAX, drop);
        if let Some(head) = self.head.take() {
            // SAFETY: the producer is gone and every slot was read.
            unsafe { self.pool.give(head) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(blocks: usize) -> &'static Pool<u64> {
        Box::leak(Box::new(Pool::new(blocks)))
    }

    fn drained(consumer: &mut Consumer<u64>) -> Vec<u64> {
        let mut out = Vec::new();
        consumer.drain(usize::MAX, |item| out.push(item));
        out
    }

    #[test]
    fn items_come_out_in_order_across_blocks() {
        let (mut producer, mut consumer) = queue(pool(4));
        let count = BLOCK_SLOTS as u64 * 3 + 5;
        for i in 0..count {
            let pushed = producer.push(i).expect("room");
            assert_eq!(
                pushed == Pushed::QueuedInNewBlock,
                i % BLOCK_SLOTS as u64 == 0,
                "item {i}"
            );
        }
        assert_eq!(consumer.available(), count);
        assert_eq!(drained(&mut consumer), (0..count).collect::<Vec<_>>());
        assert_eq!((consumer.available(), consumer.consumed()), (0, count));
        assert!(drained(&mut consumer).is_empty());
        producer.push(99).expect("room");
        let mut first = Vec::new();
        assert_eq!(consumer.drain(1, |item| first.push(item)), 1);
        assert_eq!(first, [99]);
    }

    #[test]
    fn a_full_pool_hands_items_back_and_counts_them() {
        let pool = pool(1);
        let (mut producer, mut consumer) = queue(pool);
        for i in 0..BLOCK_SLOTS as u64 {
            producer.push(i).expect("room in the only block");
        }
        assert_eq!(producer.push(7), Err(7));
        assert_eq!(consumer.take_dropped(), 1);
        assert_eq!(consumer.take_dropped(), 0);
        assert_eq!(drained(&mut consumer).len(), BLOCK_SLOTS);
        // The consumer keeps the producer's current block: still no room.
        assert_eq!(producer.push(8), Err(8));
        assert_eq!(pool.live(), 1);
    }

    #[test]
    fn drained_blocks_return_to_the_pool_and_a_closed_queue_gives_all_back() {
        let pool = pool(3);
        let (mut producer, mut consumer) = queue(pool);
        for i in 0..(BLOCK_SLOTS * 3) as u64 {
            producer.push(i).expect("room");
        }
        assert!(producer.push(0).is_err(), "three full blocks");
        drained(&mut consumer);
        producer.push(1).expect("the drained blocks came back");
        drop(producer);
        assert!(!consumer.is_finished(), "one item still queued");
        assert_eq!(drained(&mut consumer), [1]);
        assert!(consumer.is_finished());
        drop(consumer);
        assert_eq!(pool.live(), 3, "blocks are kept in the pool for reuse");
        pool.trim(0);
        assert_eq!(pool.live(), 0);
    }

    #[test]
    fn items_left_in_a_dropped_queue_are_freed() {
        let pool: &'static Pool<Box<u64>> = Box::leak(Box::new(Pool::new(2)));
        let (mut producer, consumer) = queue(pool);
        for i in 0..40 {
            producer.push(Box::new(i)).expect("room");
        }
        drop(producer);
        drop(consumer); // the boxes are dropped (checked under Miri and ASan)
        assert_eq!(pool.live(), 2);
    }

    #[test]
    fn one_producer_and_one_consumer_on_two_threads() {
        let pool = pool(8);
        const COUNT: u64 = 300_000;
        let (send_consumer, receive_consumer) = std::sync::mpsc::channel();
        // The producer end stays on the thread that made it (it is not `Send`).
        let writer = std::thread::spawn(move || {
            let (mut producer, consumer) = queue(pool);
            send_consumer.send(consumer).expect("consumer");
            let mut queued = 0u64;
            for i in 0..COUNT {
                if producer.push(i).is_ok() {
                    queued += 1;
                }
            }
            queued
        });
        let mut consumer = receive_consumer.recv().expect("consumer");
        let mut seen = Vec::new();
        while !consumer.is_finished() {
            consumer.drain(usize::MAX, |item| seen.push(item));
        }
        let queued = writer.join().expect("writer");
        let dropped = consumer.take_dropped();
        assert_eq!(seen.len() as u64, queued);
        assert_eq!(queued + dropped, COUNT);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "order kept");
    }
}
