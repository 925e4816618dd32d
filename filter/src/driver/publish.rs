//! [`Published`]: a heap value that data-path readers use without locks while a writer replaces
//! it, freed only once no reader can still see it.
//!
//! # Why
//! The send path reads its path group on every NBL, at DISPATCH_LEVEL, on every processor at
//! once; the control plane rebuilds the group now and then. Readers must neither lock nor
//! allocate nor wait for the writer, and the writer must not free the old group under a reader.
//!
//! # How: a two-counter grace period
//! An epoch counter and two reader counters, one per epoch parity.
//! - A reader loads the epoch, increments the counter of its parity, and, after a SeqCst fence,
//!   checks that the epoch has not moved (else it undoes the increment and starts again). Only
//!   then does it load the pointer, run, and decrement.
//! - The writer swaps the pointer, advances the epoch, and after a SeqCst fence waits until the
//!   counter of the *old* parity reads 0; then no reader can still hold the old value, and it is
//!   returned to the caller to drop.
//!
//! Why a reader that loaded the old value is always waited for: its fence and the writer's are
//! ordered one way or the other. If the reader's comes first, the writer's counter load sees the
//! reader's increment (made before that fence). If the writer's comes first, the reader's
//! re-check sees the new epoch and it retries without loading the pointer. And a reader that
//! registered under the new epoch loaded the epoch the writer released after its swap, so its
//! pointer load (after its fence, which acquires) sees the new value. The re-check matters: a
//! reader that loaded the epoch, stalled across a whole `replace`, and then registered under the
//! now-stale parity would be invisible to the *next* writer, which waits on the other parity
//! (`filter/tests/publish_loom.rs` finds exactly this use-after-free when the re-check is
//! removed).
//!
//! The waits rely on SeqCst *fences* only, never on SeqCst loads or stores, which is also all
//! that loom models of SeqCst.
//!
//! # Rules for callers
//! - Writers are serialised by the caller (the control-plane lock, or one thread).
//! - [`Published::replace`] spins until the readers of the old value are done, so it must not
//!   run where a reader it waits for cannot make progress: on the processor of a reader that it
//!   interrupted. Readers at PASSIVE_LEVEL can be interrupted by a writer at DISPATCH_LEVEL (a
//!   DPC, or code holding a spin lock), so call `replace` at PASSIVE_LEVEL unless every reader
//!   runs at DISPATCH_LEVEL.
//! - A reader's closure must not call `replace` on the same value (it would wait for itself).
//!
//! Generic over its atomics ([`PublishAtomics`]) so that the loom model runs this very code on
//! loom's atomics; the driver uses [`CoreAtomics`].

use alloc::boxed::Box;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};

/// The atomics [`Published`] is built from, and the hook the writer calls while it waits.
pub trait PublishAtomics {
    /// An atomic `usize` (the epoch and the reader counters).
    type Counter: Send + Sync;
    /// An atomic pointer to `T` (the published value).
    type Pointer<T>: Send + Sync;

    /// A counter holding `value`.
    fn counter(value: usize) -> Self::Counter;
    /// `load`.
    fn load(counter: &Self::Counter, order: Ordering) -> usize;
    /// `fetch_add`; the previous value.
    fn fetch_add(counter: &Self::Counter, value: usize, order: Ordering) -> usize;
    /// `fetch_sub`; the previous value.
    fn fetch_sub(counter: &Self::Counter, value: usize, order: Ordering) -> usize;
    /// A pointer holding `value`.
    fn pointer<T>(value: *mut T) -> Self::Pointer<T>;
    /// `load`.
    fn load_pointer<T>(pointer: &Self::Pointer<T>, order: Ordering) -> *mut T;
    /// `swap`; the previous value.
    fn swap_pointer<T>(pointer: &Self::Pointer<T>, value: *mut T, order: Ordering) -> *mut T;
    /// A memory fence.
    fn fence(order: Ordering);
    /// Called on every turn of the writer's wait for readers.
    fn relax();
}

/// `core::sync::atomic` and a spin-loop hint: what the driver runs on.
#[derive(Debug)]
pub struct CoreAtomics;

impl PublishAtomics for CoreAtomics {
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
        core::hint::spin_loop();
    }
}

/// A reader counter on a cache line of its own: every processor's reads write it, and the
/// pointer and the epoch beside it are read on every read.
#[repr(align(64))]
struct ReaderCount<C>(C);

/// A value readers use without locks while a serialised writer replaces it (see the module
/// documentation).
pub struct Published<T, A: PublishAtomics = CoreAtomics> {
    current: A::Pointer<T>,
    epoch: A::Counter,
    readers: [ReaderCount<A::Counter>; 2],
    owns: PhantomData<Box<T>>,
}

// SAFETY: the value is shared with readers on any thread (`T: Sync`) and handed back to the
// writer, or dropped, on any thread (`T: Send`); the rest is atomics.
unsafe impl<T: Send + Sync, A: PublishAtomics> Send for Published<T, A> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync, A: PublishAtomics> Sync for Published<T, A> {}

impl<T> Published<T> {
    /// An empty value on the driver's atomics.
    pub fn new() -> Self {
        Self::empty()
    }
}

impl<T> Default for Published<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A reader's registration: leaves its counter when dropped, also if the reader's closure
/// unwinds (host builds), so a panicking reader cannot hold a writer forever.
struct ReadGuard<'a, A: PublishAtomics> {
    count: &'a A::Counter,
}

impl<A: PublishAtomics> Drop for ReadGuard<'_, A> {
    fn drop(&mut self) {
        // Release: the reader's uses of the value happen before the writer's Acquire load that
        // sees the count drop, and so before the value is freed.
        A::fetch_sub(self.count, 1, Ordering::Release);
    }
}

impl<T, A: PublishAtomics> Published<T, A> {
    /// An empty value on the atomics `A`.
    pub fn empty() -> Self {
        Self {
            current: A::pointer(ptr::null_mut()),
            epoch: A::counter(0),
            readers: [ReaderCount(A::counter(0)), ReaderCount(A::counter(0))],
            owns: PhantomData,
        }
    }

    /// Registers a reader under the current epoch (see the module documentation).
    fn enter(&self) -> ReadGuard<'_, A> {
        loop {
            let epoch = A::load(&self.epoch, Ordering::Relaxed);
            let count = &self.readers[epoch & 1].0;
            A::fetch_add(count, 1, Ordering::Relaxed);
            A::fence(Ordering::SeqCst);
            if A::load(&self.epoch, Ordering::Relaxed) == epoch {
                return ReadGuard { count };
            }
            // A writer flipped the epoch meanwhile: it may not wait for this parity. Only a
            // writer's flip brings the reader here, so the loop ends once writers pause.
            A::fetch_sub(count, 1, Ordering::Release);
        }
    }

    /// Runs `f` on the current value (`None` when empty); the value is not freed before `f`
    /// returns. Lock-free (it retries only when a writer flipped the epoch meanwhile), allocates
    /// nothing and never waits for a writer; callable at any IRQL <= DISPATCH_LEVEL.
    pub fn read<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        let _registered = self.enter();
        let current = A::load_pointer(&self.current, Ordering::Acquire);
        // SAFETY: NULL or a value installed by `replace` (from `Box::into_raw`, fully written
        // before the Release swap this Acquire load pairs with). It is not freed while this
        // reader is registered: a writer that swaps it out waits for this reader's counter
        // (module documentation), and `_registered` leaves only after `f` returns.
        f(unsafe { current.as_ref() })
    }

    /// Installs `new` (or empties the value) and returns the old value once no reader can
    /// still see it. Callers serialise writers; see the module documentation for where this
    /// may spin.
    pub fn replace(&self, new: Option<Box<T>>) -> Option<Box<T>> {
        let new = new.map_or(ptr::null_mut(), Box::into_raw);
        // Release publishes the new value's contents to readers; Acquire takes over the old
        // value from the writer that installed it.
        let old = A::swap_pointer(&self.current, new, Ordering::AcqRel);
        // Release: a reader that loads the new epoch also sees the new pointer.
        let epoch = A::fetch_add(&self.epoch, 1, Ordering::Release);
        A::fence(Ordering::SeqCst);
        let old_readers = &self.readers[epoch & 1].0;
        while A::load(old_readers, Ordering::Acquire) != 0 {
            A::relax();
        }
        // SAFETY: `old` is NULL or came from `Box::into_raw` in an earlier `replace`; it is no
        // longer published and every reader that could have loaded it has left (the wait
        // above), so the caller gets sole ownership.
        NonNull::new(old).map(|p| unsafe { Box::from_raw(p.as_ptr()) })
    }
}

impl<T, A: PublishAtomics> Drop for Published<T, A> {
    fn drop(&mut self) {
        // `&mut self`: no reader is registered, and the writer's pointer is ours.
        let current = A::load_pointer(&self.current, Ordering::Acquire);
        if !current.is_null() {
            // SAFETY: from `Box::into_raw` in `replace`, still published, so never freed, and no
            // reader can exist any more.
            drop(unsafe { Box::from_raw(current) });
        }
    }
}

impl<T, A: PublishAtomics> core::fmt::Debug for Published<T, A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Published")
            .field("epoch", &A::load(&self.epoch, Ordering::Relaxed))
            .field(
                "empty",
                &A::load_pointer(&self.current, Ordering::Relaxed).is_null(),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    //! Single-threaded behaviour, and one real-thread run of the writer's wait. The concurrency
    //! proofs are the loom models in `filter/tests/publish_loom.rs`.
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::sync::mpsc;
    use std::thread;

    /// A value that counts its drops.
    struct Tracked {
        id: u32,
        drops: Arc<AtomicUsize>,
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A new value to install (`replace` takes an `Option`).
    #[allow(clippy::unnecessary_wraps)]
    fn tracked(id: u32, drops: &Arc<AtomicUsize>) -> Option<Box<Tracked>> {
        Some(Box::new(Tracked {
            id,
            drops: Arc::clone(drops),
        }))
    }

    #[test]
    fn empty_then_replaced_values_are_read_and_returned_in_turn() {
        let drops = Arc::new(AtomicUsize::new(0));
        let p = Published::<Tracked>::new();
        assert_eq!(p.read(|v| v.map(|t| t.id)), None);
        assert!(p.replace(tracked(1, &drops)).is_none());
        assert_eq!(p.read(|v| v.map(|t| t.id)), Some(1));
        let old = p.replace(tracked(2, &drops)).expect("the first value");
        assert_eq!(old.id, 1);
        assert_eq!(drops.load(Ordering::SeqCst), 0, "returned, not dropped");
        drop(old);
        assert_eq!(p.read(|v| v.map(|t| t.id)), Some(2));
        assert_eq!(p.replace(None).map(|t| t.id), Some(2));
        assert_eq!(p.read(|v| v.map(|t| t.id)), None);
        assert!(p.replace(None).is_none());
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn dropping_frees_the_current_value() {
        let drops = Arc::new(AtomicUsize::new(0));
        let p = Published::<Tracked>::default();
        assert!(p.replace(tracked(7, &drops)).is_none());
        drop(p);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn many_replaces_keep_the_epoch_parity_in_step() {
        let drops = Arc::new(AtomicUsize::new(0));
        let p = Published::<Tracked>::new();
        for id in 0..10 {
            let old = p.replace(tracked(id, &drops));
            assert_eq!(old.map(|t| t.id), id.checked_sub(1));
            assert_eq!(p.read(|v| v.map(|t| t.id)), Some(id));
        }
        assert_eq!(A::load(&p.epoch, Ordering::SeqCst), 10);
        assert_eq!(
            p.readers
                .iter()
                .map(|r| r.0.load(Ordering::SeqCst))
                .sum::<usize>(),
            0,
            "every reader left"
        );
    }

    type A = CoreAtomics;

    /// Core atomics whose relax hook counts the writer's waiting turns.
    struct Counted;
    static WAITING_TURNS: AtomicUsize = AtomicUsize::new(0);

    impl PublishAtomics for Counted {
        type Counter = AtomicUsize;
        type Pointer<T> = AtomicPtr<T>;
        fn counter(value: usize) -> AtomicUsize {
            A::counter(value)
        }
        fn load(counter: &AtomicUsize, order: Ordering) -> usize {
            A::load(counter, order)
        }
        fn fetch_add(counter: &AtomicUsize, value: usize, order: Ordering) -> usize {
            A::fetch_add(counter, value, order)
        }
        fn fetch_sub(counter: &AtomicUsize, value: usize, order: Ordering) -> usize {
            A::fetch_sub(counter, value, order)
        }
        fn pointer<T>(value: *mut T) -> AtomicPtr<T> {
            A::pointer(value)
        }
        fn load_pointer<T>(pointer: &AtomicPtr<T>, order: Ordering) -> *mut T {
            A::load_pointer(pointer, order)
        }
        fn swap_pointer<T>(pointer: &AtomicPtr<T>, value: *mut T, order: Ordering) -> *mut T {
            A::swap_pointer(pointer, value, order)
        }
        fn fence(order: Ordering) {
            A::fence(order);
        }
        fn relax() {
            WAITING_TURNS.fetch_add(1, Ordering::SeqCst);
            thread::yield_now();
        }
    }

    #[test]
    fn the_writer_waits_for_a_reader_of_the_old_value_while_new_readers_pass() {
        let drops = Arc::new(AtomicUsize::new(0));
        let p = Arc::new(Published::<Tracked, Counted>::empty());
        assert!(p.replace(tracked(1, &drops)).is_none());
        let (inside_tx, inside_rx) = mpsc::channel();
        let (leave_tx, leave_rx) = mpsc::channel::<()>();
        let reader = {
            let p = Arc::clone(&p);
            let drops = Arc::clone(&drops);
            thread::spawn(move || {
                p.read(|v| {
                    let v = v.expect("a value");
                    inside_tx.send(v.id).unwrap();
                    leave_rx.recv().unwrap();
                    // Still the old value, not dropped, after the writer swapped it out.
                    (v.id, drops.load(Ordering::SeqCst))
                })
            })
        };
        assert_eq!(inside_rx.recv().unwrap(), 1);
        let returned = Arc::new(AtomicBool::new(false));
        let writer = {
            let (p, returned, drops) = (Arc::clone(&p), Arc::clone(&returned), Arc::clone(&drops));
            thread::spawn(move || {
                let old = p.replace(tracked(2, &drops));
                returned.store(true, Ordering::SeqCst);
                old.map(|t| t.id)
            })
        };
        // The writer has swapped and is waiting for the reader inside.
        while WAITING_TURNS.load(Ordering::SeqCst) == 0 {
            thread::yield_now();
        }
        assert!(
            !returned.load(Ordering::SeqCst),
            "the writer returned under a reader"
        );
        // A new reader passes the waiting writer and sees the new value.
        assert_eq!(p.read(|v| v.map(|t| t.id)), Some(2));
        assert!(!returned.load(Ordering::SeqCst));
        leave_tx.send(()).unwrap();
        assert_eq!(reader.join().unwrap(), (1, 0));
        assert_eq!(writer.join().unwrap(), Some(1));
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the old value, once the writer got it"
        );
    }
}
