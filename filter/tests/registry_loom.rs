//! loom model of the driver registry (`mpfilter::driver::registry::Registry`). Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p mpfilter --release --test registry_loom`.
//!
//! The registry is generic over its slot type; here it runs on loom's `AtomicPtr`, so loom
//! explores every interleaving (and every weak-memory outcome it models) of the very code the
//! driver runs on `core::sync::atomic::AtomicPtr`.
//!
//! The entries' IfIndex lives in a loom `UnsafeCell` written by the registering thread just
//! before it registers, so a lookup on another thread that reads it without the
//! register-Release / lookup-Acquire pairing is reported as a data race.
//!
//! Properties checked:
//! - concurrent registers take distinct slots, and a concurrent lookup sees a registered entry
//!   fully initialised or not at all;
//! - with one slot left, exactly one of two racing registers succeeds;
//! - a lookup racing a detach and a re-attach into the same slot returns the old entry, the new
//!   one, or nothing — never an entry under another's key.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicPtr, Ordering};
use loom::thread;
use mpfilter::driver::registry::{Registrant, Registry, RegistryFull, Slot};
use mpfilter::ndis::types::NDIS_HANDLE;

/// loom's atomic pointer behind the registry's slot trait.
struct LoomSlot<T>(AtomicPtr<T>);

impl<T> Slot<T> for LoomSlot<T> {
    fn empty() -> Self {
        LoomSlot(AtomicPtr::new(core::ptr::null_mut()))
    }
    fn load(&self, order: Ordering) -> *mut T {
        self.0.load(order)
    }
    fn compare_exchange(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        self.0.compare_exchange(current, new, success, failure)
    }
}

/// A module stand-in whose IfIndex is written after construction, by the thread that registers it.
struct Entry {
    handle: usize,
    if_index: UnsafeCell<u32>,
}

// SAFETY: `if_index` is written only by the thread that creates the entry, before it registers
// it; every other thread reads it only after finding the entry in the registry (loom checks that
// this ordering is real).
unsafe impl Sync for Entry {}
// SAFETY: as above.
unsafe impl Send for Entry {}

impl Entry {
    /// A new entry, its IfIndex written the way FilterAttach fills a module before registering.
    fn new(handle: usize, if_index: u32) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            handle,
            if_index: UnsafeCell::new(0),
        });
        // SAFETY: nothing else can see the entry yet.
        entry.if_index.with_mut(|p| unsafe { *p = if_index });
        entry
    }
}

impl Registrant for Entry {
    fn filter_handle(&self) -> NDIS_HANDLE {
        core::ptr::without_provenance_mut(self.handle)
    }
    fn if_index(&self) -> u32 {
        // SAFETY: written once before the entry was published (see `Sync` above).
        self.if_index.with(|p| unsafe { *p })
    }
    fn path_group(&self) -> u32 {
        0
    }
}

type Reg<const N: usize> = Registry<Entry, LoomSlot<Entry>, N>;

fn register<const N: usize>(registry: &Reg<N>, entry: &Entry) -> Result<(), RegistryFull> {
    // SAFETY: every entry of these models lives (in an `Arc` the model holds) until the model
    // ends, after every lookup.
    unsafe { registry.register(entry) }
}

/// The (handle, IfIndex) of the entry found by IfIndex `i`.
fn lookup<const N: usize>(registry: &Reg<N>, i: u32) -> Option<(usize, u32)> {
    // SAFETY: as above: no entry is freed while the model runs.
    unsafe { registry.by_if_index(i) }.map(|e| (e.handle, e.if_index()))
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

#[test]
fn concurrent_registers_take_distinct_slots_and_publish_their_keys() {
    model(|| {
        let registry: Arc<Reg<2>> = Arc::new(Registry::new());
        let attach = |handle, if_index| {
            let registry = registry.clone();
            thread::spawn(move || {
                let entry = Entry::new(handle, if_index);
                register(&registry, &entry).unwrap();
                entry
            })
        };
        let first = attach(0x10, 1);
        let second = attach(0x20, 2);
        // A lookup on the send path while both attaches run.
        if let Some(found) = lookup(&registry, 1) {
            assert_eq!(found, (0x10, 1));
        }
        let _first = first.join().unwrap();
        let _second = second.join().unwrap();
        assert_eq!(lookup(&registry, 1), Some((0x10, 1)));
        assert_eq!(lookup(&registry, 2), Some((0x20, 2)));
        assert_eq!(registry.len(), 2);
    });
}

#[test]
fn with_one_slot_left_exactly_one_of_two_racing_registers_succeeds() {
    model(|| {
        let registry: Arc<Reg<1>> = Arc::new(Registry::new());
        let attach = |handle, if_index| {
            let registry = registry.clone();
            thread::spawn(move || {
                let entry = Entry::new(handle, if_index);
                let outcome = register(&registry, &entry);
                (entry, outcome)
            })
        };
        let first = attach(0x10, 1);
        let second = attach(0x20, 2);
        let (_a, a) = first.join().unwrap();
        let (_b, b) = second.join().unwrap();
        assert!(
            matches!(
                (a, b),
                (Ok(()), Err(RegistryFull)) | (Err(RegistryFull), Ok(()))
            ),
            "{a:?} {b:?}"
        );
        let winner = if a.is_ok() { 1 } else { 2 };
        assert_eq!(lookup(&registry, winner).map(|f| f.1), Some(winner));
        assert_eq!(lookup(&registry, 3 - winner), None);
    });
}

#[test]
fn a_lookup_racing_a_detach_and_a_reattach_never_returns_a_wrong_entry() {
    model(|| {
        let registry: Arc<Reg<1>> = Arc::new(Registry::new());
        let old = Entry::new(0x10, 1);
        register(&registry, &old).unwrap();
        let churn = {
            let registry = registry.clone();
            let old = old.clone();
            thread::spawn(move || {
                assert!(registry.deregister(&old));
                let new = Entry::new(0x20, 2);
                register(&registry, &new).unwrap();
                new
            })
        };
        match lookup(&registry, 1) {
            None | Some((0x10, 1)) => {}
            other => panic!("IfIndex 1 found {other:?}"),
        }
        match lookup(&registry, 2) {
            None | Some((0x20, 2)) => {}
            other => panic!("IfIndex 2 found {other:?}"),
        }
        let _new = churn.join().unwrap();
        assert_eq!(lookup(&registry, 1), None);
        assert_eq!(lookup(&registry, 2), Some((0x20, 2)));
    });
}
