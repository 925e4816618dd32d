//! loom model of the snapshot publisher (`mpfilter::driver::publish::Published`). Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p mpfilter --release --test publish_loom`.
//!
//! `Published` is generic over its atomics; here it runs on loom's, so loom explores the
//! interleavings (and the weak-memory outcomes it models) of the very code the driver runs.
//!
//! How "freed" is observed without freeing: the writer keeps every value it gets back from
//! `replace` and *poisons* it instead, writing its loom `UnsafeCell` the way a free (and a reuse
//! of the memory) would. A reader reads that cell inside `read`. If `replace` could return while
//! a reader still uses the old value, the poisoning write and the reader's read are not ordered
//! by happens-before and loom reports the race (or the reader sees the poison). The same cell,
//! written when the value is built, checks that a reader sees a value fully initialised.
//!
//! Properties checked:
//! - a reader racing two replaces never uses a value after the writer got it back (the second
//!   replace is what a reader that skipped the epoch re-check would slip past: with the
//!   re-check removed from `Published::read`, loom finds that use-after-free here);
//! - a reader racing the first publication sees nothing or the whole value;
//! - readers never wait for a writer: a reader completes while the writer is stuck waiting for
//!   another reader that cannot leave until that reader has completed (a read that waited for
//!   the writer would deadlock, which loom reports).
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::Notify;
use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};
use loom::thread;
use mpfilter::driver::publish::{PublishAtomics, Published};

/// loom's atomics behind the publisher; the writer's wait yields to the other threads.
struct LoomAtomics;

impl PublishAtomics for LoomAtomics {
    type Counter = AtomicUsize;
    type Pointer<T> = AtomicPtr<T>;

    fn counter(value: usize) -> AtomicUsize {
        AtomicUsize::new(value)
    }
    fn load(counter: &AtomicUsize, order: Ordering) -> usize {
        counter.load(order)
    }
    fn fetch_add(counter: &AtomicUsize, value: usize, order: Ordering) -> usize {
        counter.fetch_add(value, order)
    }
    fn fetch_sub(counter: &AtomicUsize, value: usize, order: Ordering) -> usize {
        counter.fetch_sub(value, order)
    }
    fn pointer<T>(value: *mut T) -> AtomicPtr<T> {
        AtomicPtr::new(value)
    }
    fn load_pointer<T>(pointer: &AtomicPtr<T>, order: Ordering) -> *mut T {
        pointer.load(order)
    }
    fn swap_pointer<T>(pointer: &AtomicPtr<T>, value: *mut T, order: Ordering) -> *mut T {
        pointer.swap(value, order)
    }
    fn fence(order: Ordering) {
        fence(order);
    }
    fn relax() {
        thread::yield_now();
    }
}

/// What "freed" looks like to a reader.
const POISON: usize = usize::MAX;

/// A published value: its id, in a cell the writer poisons when it gets the value back.
struct Value {
    id: UnsafeCell<usize>,
}

// SAFETY: the cell is written when the value is built (before it is published) and when the
// writer poisons it (after `replace` returned it); loom checks that no reader overlaps either.
unsafe impl Sync for Value {}
// SAFETY: as above.
unsafe impl Send for Value {}

impl Value {
    /// A value whose id is written after allocation, in its heap place, like a group built
    /// field by field.
    #[allow(clippy::unnecessary_box_returns)]
    fn new(id: usize) -> Box<Value> {
        let v = Box::new(Value {
            id: UnsafeCell::new(0),
        });
        // SAFETY: nothing else can see the value yet.
        v.id.with_mut(|p| unsafe { *p = id });
        v
    }

    fn id(&self) -> usize {
        // SAFETY: readers only read; loom checks the writes are ordered before or after.
        self.id.with(|p| unsafe { *p })
    }

    /// Marks the value freed. Only for a value `replace` gave back.
    fn poison(&self) {
        // SAFETY: `replace` returned it, so no reader may still use it — which loom checks.
        self.id.with_mut(|p| unsafe { *p = POISON });
    }
}

type Shared = Published<Value, LoomAtomics>;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Reads the current id (None when empty); a poisoned value fails the model.
fn read_id(p: &Shared) -> Option<usize> {
    let id = p.read(|v| v.map(Value::id));
    assert_ne!(
        id,
        Some(POISON),
        "a reader used a value the writer got back"
    );
    id
}

#[test]
fn a_reader_never_uses_a_value_after_the_writer_got_it_back() {
    model(|| {
        let p = Arc::new(Shared::empty());
        assert!(p.replace(Some(Value::new(1))).is_none());
        let reader = {
            let p = Arc::clone(&p);
            thread::spawn(move || read_id(&p))
        };
        let mut retired = Vec::new();
        for id in [2, 3] {
            let old = p
                .replace(Some(Value::new(id)))
                .expect("a value was published");
            old.poison();
            retired.push(old);
        }
        let seen = reader.join().unwrap();
        assert!(matches!(seen, Some(1..=3)), "{seen:?}");
        assert_eq!(read_id(&p), Some(3));
    });
}

#[test]
fn a_reader_racing_the_first_publication_sees_nothing_or_the_whole_value() {
    model(|| {
        let p = Arc::new(Shared::empty());
        let reader = {
            let p = Arc::clone(&p);
            thread::spawn(move || read_id(&p))
        };
        assert!(p.replace(Some(Value::new(9))).is_none());
        let seen = reader.join().unwrap();
        assert!(matches!(seen, None | Some(9)), "{seen:?}");
    });
}

#[test]
fn readers_never_wait_for_a_writer() {
    model(|| {
        let p = Arc::new(Shared::empty());
        assert!(p.replace(Some(Value::new(1))).is_none());
        // The first reader stays inside `read` until the second reader has finished its read.
        let second_done = Arc::new(Notify::new());
        let first = {
            let (p, second_done) = (Arc::clone(&p), Arc::clone(&second_done));
            thread::spawn(move || {
                p.read(|v| {
                    second_done.wait();
                    v.map(Value::id)
                })
            })
        };
        // The writer waits for the first reader whenever that reader holds the old value.
        let writer = {
            let p = Arc::clone(&p);
            thread::spawn(move || {
                let old = p.replace(Some(Value::new(2)));
                old.inspect(|v| v.poison())
            })
        };
        let second = read_id(&p);
        second_done.notify();
        assert!(matches!(second, Some(1 | 2)), "{second:?}");
        assert!(matches!(first.join().unwrap(), Some(1 | 2)));
        assert!(writer.join().unwrap().is_some());
    });
}
