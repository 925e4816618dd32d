//! The driver registry: which filter modules are attached, found by NDIS filter handle, by
//! IfIndex, or by path group.
//!
//! This is what a module's send path will use to hand NBLs to another module of its path group
//! (rerouting across modules), and where driver-wide status handling and the control device's
//! IOCTL dispatch will find the modules they act on.
//!
//! # Shape
//! A fixed array of [`MAX_MODULES`] atomic pointer slots, kept in the driver state (the
//! driver-object extension; no global). A module is registered at the end of a successful
//! FilterAttach and deregistered at the start of its FilterDetach.
//! - Register claims the first empty slot with one compare-and-swap (Release: the module's fields,
//!   written before, are visible to whoever loads the pointer with Acquire). When every slot is
//!   taken it fails, and FilterAttach fails with `NDIS_STATUS_RESOURCES`; the filter is optional
//!   (the INF's FilterRunType 2), so that adapter's stack runs without it.
//! - Deregister empties the slot holding the module with one compare-and-swap.
//! - Lookups take no lock and allocate nothing: one Acquire load per slot, then the module's
//!   immutable keys are compared. They are linear in the capacity and callable at DISPATCH_LEVEL,
//!   concurrently with attaches and detaches of other modules.
//!
//! # Lifetime rule
//! A module found by a lookup is the caller's to use only while that module is attached: its
//! FilterDetach deregisters it and then frees it, and nothing here stops a lookup that loaded the
//! pointer just before from using it after. Today nothing in the driver looks modules up while
//! they may detach; the send-path issue that adds rerouting must add rundown protection (a
//! per-module reference the lookup takes and detach waits for) before it does. Until then the
//! lookups are `unsafe` and say so.

use crate::module::Module;
use crate::ndis::types::NDIS_HANDLE;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

/// How many modules can be attached at once: one per adapter stack the filter binds to. A host
/// with more Ethernet adapters than this gets the filter on the first ones only.
pub const MAX_MODULES: usize = 64;

/// The keys the registry finds an entry by. They must not change while the entry is registered.
pub trait Registrant: Sync {
    /// The NdisFilterHandle of the module.
    fn filter_handle(&self) -> NDIS_HANDLE;
    /// The interface index of the filter module.
    fn if_index(&self) -> u32;
    /// The path group the module belongs to ([`crate::module::NOT_TEAMED`] when none).
    fn path_group(&self) -> u32;
}

impl Registrant for Module {
    fn filter_handle(&self) -> NDIS_HANDLE {
        self.handle().as_raw()
    }
    fn if_index(&self) -> u32 {
        self.info().if_index
    }
    fn path_group(&self) -> u32 {
        self.info().path_group
    }
}

/// The atomic pointer a slot is made of.
///
/// The registry is generic over it so that the loom model (`filter/tests/registry_loom.rs`, run
/// with `--cfg loom`) drives the very same code on loom's atomics; the driver uses
/// `core::sync::atomic::AtomicPtr`.
pub trait Slot<T>: Send + Sync {
    /// An empty (NULL) slot.
    fn empty() -> Self;
    /// `load`.
    fn load(&self, order: Ordering) -> *mut T;
    /// `compare_exchange` (strong).
    ///
    /// # Errors
    /// The current value, when it is not `current`.
    fn compare_exchange(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T>;
}

impl<T> Slot<T> for AtomicPtr<T> {
    fn empty() -> Self {
        AtomicPtr::new(ptr::null_mut())
    }
    fn load(&self, order: Ordering) -> *mut T {
        AtomicPtr::load(self, order)
    }
    fn compare_exchange(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        AtomicPtr::compare_exchange(self, current, new, success, failure)
    }
}

/// Every slot is taken: the module cannot be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistryFull;

/// The attached modules (see the module documentation for the rules).
pub struct Registry<T, S = AtomicPtr<T>, const N: usize = MAX_MODULES> {
    slots: [S; N],
    entries: PhantomData<*const T>,
}

// SAFETY: the registry holds only pointers to `T: Sync` entries in its slots, which are
// themselves `Send + Sync` atomics; sharing or moving it only shares `&T`, which `T: Sync` allows.
unsafe impl<T: Sync, S: Slot<T>, const N: usize> Send for Registry<T, S, N> {}
// SAFETY: as above.
unsafe impl<T: Sync, S: Slot<T>, const N: usize> Sync for Registry<T, S, N> {}

impl<T: Registrant, S: Slot<T>, const N: usize> Default for Registry<T, S, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Registrant, S: Slot<T>, const N: usize> Registry<T, S, N> {
    /// An empty registry.
    pub fn new() -> Self {
        Self {
            slots: core::array::from_fn(|_| S::empty()),
            entries: PhantomData,
        }
    }

    /// The number of slots.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Registers `entry` in the first empty slot.
    ///
    /// # Errors
    /// [`RegistryFull`] when every slot is taken; nothing changes then.
    ///
    /// # Safety
    /// `entry` must stay valid until [`Registry::deregister`] has removed it and no reference a
    /// lookup returned for it is used any more (the lifetime rule of the module documentation),
    /// and it must not be registered twice.
    pub unsafe fn register(&self, entry: &T) -> Result<(), RegistryFull> {
        let p = ptr::from_ref(entry).cast_mut();
        for slot in &self.slots {
            // Release publishes the entry's fields to lookups; a failed claim orders nothing.
            if slot
                .compare_exchange(ptr::null_mut(), p, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return Ok(());
            }
        }
        Err(RegistryFull)
    }

    /// Removes `entry`; returns whether it was registered. Lookups that start afterwards do not
    /// find it.
    pub fn deregister(&self, entry: &T) -> bool {
        let p = ptr::from_ref(entry).cast_mut();
        // Relaxed: the entry is freed only after its detach, and a lookup racing that detach is
        // outside the lifetime rule whatever the ordering here.
        self.slots.iter().any(|slot| {
            slot.compare_exchange(p, ptr::null_mut(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        })
    }

    /// How many entries are registered (a snapshot while attaches and detaches run).
    pub fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| !slot.load(Ordering::Relaxed).is_null())
            .count()
    }

    /// Whether nothing is registered (a snapshot, as for [`Registry::len`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The registered entries, in slot order.
    ///
    /// # Safety
    /// No registered entry may be freed while this runs, and the references must not be used
    /// after their entry's deregistration (the lifetime rule of the module documentation).
    unsafe fn entries(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|slot| {
            // SAFETY: a non-NULL slot holds a registered entry, valid by `register`'s contract
            // for as long as this function's caller may use it; Acquire pairs with the Release of
            // `register`, so its fields are initialised.
            unsafe { slot.load(Ordering::Acquire).as_ref() }
        })
    }

    /// The entry whose NdisFilterHandle is `handle`.
    ///
    /// # Safety
    /// As for every lookup: the entries must not be freed during the call, and the result must
    /// not be used after its entry is deregistered (the lifetime rule of the module
    /// documentation).
    pub unsafe fn by_filter_handle(&self, handle: NDIS_HANDLE) -> Option<&T> {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.entries() }.find(|e| e.filter_handle() == handle)
    }

    /// The entry whose filter module IfIndex is `if_index`.
    ///
    /// # Safety
    /// As for [`Registry::by_filter_handle`].
    pub unsafe fn by_if_index(&self, if_index: u32) -> Option<&T> {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.entries() }.find(|e| e.if_index() == if_index)
    }

    /// Calls `f` with every entry of path group `group`, in slot order; returns how many.
    ///
    /// # Safety
    /// As for [`Registry::by_filter_handle`].
    pub unsafe fn for_each_in_group(&self, group: u32, mut f: impl FnMut(&T)) -> usize {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.entries() }
            .filter(|e| e.path_group() == group)
            .fold(0, |n, e| {
                f(e);
                n + 1
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    struct Entry {
        handle: usize,
        if_index: u32,
        group: u32,
    }

    impl Registrant for Entry {
        fn filter_handle(&self) -> NDIS_HANDLE {
            ptr::without_provenance_mut(self.handle)
        }
        fn if_index(&self) -> u32 {
            self.if_index
        }
        fn path_group(&self) -> u32 {
            self.group
        }
    }

    /// Entries whose handle is `100 + i` and IfIndex `i`, in `group`.
    fn entries(if_indexes: &[u32], group: u32) -> Vec<Entry> {
        if_indexes
            .iter()
            .map(|&i| Entry {
                handle: 100 + i as usize,
                if_index: i,
                group,
            })
            .collect()
    }

    type Small = Registry<Entry, AtomicPtr<Entry>, 3>;

    // Every test declares its entries before its registry, so they outlive it: the registry's
    // contract holds and the helpers below can be safe.

    fn register(registry: &Small, entry: &Entry) -> Result<(), RegistryFull> {
        // SAFETY: the entry outlives the registry (see above) and is registered once.
        unsafe { registry.register(entry) }
    }

    /// The IfIndex of the entry found by filter handle `100 + i`.
    fn by_handle(registry: &Small, i: u32) -> Option<u32> {
        let handle = ptr::without_provenance_mut(100 + i as usize);
        // SAFETY: no entry is freed while the registry lives.
        unsafe { registry.by_filter_handle(handle) }.map(|e| e.if_index)
    }

    /// The filter handle of the entry found by IfIndex `i`.
    fn by_if_index(registry: &Small, i: u32) -> Option<usize> {
        // SAFETY: as above.
        unsafe { registry.by_if_index(i) }.map(|e| e.handle)
    }

    /// The IfIndexes of the members of `group`, in slot order.
    fn members(registry: &Small, group: u32) -> Vec<u32> {
        let mut seen = Vec::new();
        // SAFETY: as above.
        let count = unsafe { registry.for_each_in_group(group, |e| seen.push(e.if_index)) };
        assert_eq!(count, seen.len());
        seen
    }

    #[test]
    fn lookups_find_registered_entries_by_every_key() {
        let e = entries(&[7, 9], 0);
        let registry = Small::new();
        register(&registry, &e[0]).unwrap();
        register(&registry, &e[1]).unwrap();
        assert_eq!(registry.len(), 2);
        assert_eq!(by_handle(&registry, 9), Some(9));
        assert_eq!(by_handle(&registry, 7), Some(7));
        assert_eq!(by_handle(&registry, 8), None);
        assert_eq!(by_if_index(&registry, 7), Some(107));
        assert_eq!(by_if_index(&registry, 9), Some(109));
        assert_eq!(by_if_index(&registry, 8), None);
    }

    #[test]
    fn a_deregistered_entry_is_not_found_and_its_slot_is_reused() {
        let e = entries(&[1, 2, 3, 4], 0);
        let registry = Small::new();
        for entry in &e[..3] {
            register(&registry, entry).unwrap();
        }
        assert!(registry.deregister(&e[1]));
        assert!(
            !registry.deregister(&e[1]),
            "a second deregister finds nothing"
        );
        assert_eq!(by_if_index(&registry, 2), None);
        assert_eq!(by_handle(&registry, 2), None);
        register(&registry, &e[3]).unwrap();
        assert_eq!(by_if_index(&registry, 4), Some(104));
        assert_eq!(by_if_index(&registry, 3), Some(103));
        assert_eq!(registry.len(), 3);
    }

    #[test]
    fn a_full_registry_refuses_and_changes_nothing() {
        let e = entries(&[1, 2, 3, 4], 0);
        let registry = Small::new();
        for entry in &e[..3] {
            register(&registry, entry).unwrap();
        }
        assert_eq!(register(&registry, &e[3]), Err(RegistryFull));
        assert_eq!(registry.len(), registry.capacity());
        assert_eq!(by_handle(&registry, 4), None);
        assert!(registry.deregister(&e[0]));
        assert_eq!(register(&registry, &e[3]), Ok(()));
        assert_eq!(by_handle(&registry, 4), Some(4));
    }

    #[test]
    fn group_listing_names_exactly_the_members() {
        let mut e = entries(&[1, 2, 3], 0);
        e[1].group = 5;
        let registry = Small::new();
        for entry in &e {
            register(&registry, entry).unwrap();
        }
        assert_eq!(members(&registry, 0), [1, 3]);
        assert_eq!(members(&registry, 5), [2]);
        assert!(members(&registry, 6).is_empty());
        assert!(registry.deregister(&e[0]));
        assert_eq!(members(&registry, 0), [3]);
        assert!(!registry.is_empty());
    }
}
