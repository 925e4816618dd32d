//! Clones of an NBL the filter owns (`NdisAllocateCloneNetBufferList`), with the parent/child
//! bookkeeping that NDIS leaves to the cloning driver (`ParentNetBufferList`, `ChildRefCount`).
//!
//! Ownership rules, enforced by the types:
//! - [`OwnedNbl::start_cloning`] turns an owned NBL into the parent of a [`Cloning`]. From then on
//!   the parent can only be read (through [`ParentNbl`]), never passed on or completed, until it
//!   comes back as an [`OwnedNbl`].
//! - [`Cloning::clone_child`] allocates a clone, points its `ParentNetBufferList` at the parent,
//!   sets its `SourceHandle` to the filter module (the originator rule for filter sends) and
//!   counts it in the parent's `ChildRefCount`.
//! - A [`ChildNbl`] owns its clone. It leaves Rust ownership only to be sent
//!   ([`ChildNbl::into_owned`]) and is recovered from the send completion with
//!   [`ChildNbl::from_returned`].
//! - [`ChildNbl::release`] takes the child by value, so a clone is freed exactly once and never
//!   used after: it frees the clone with the flags it was allocated with and drops its count. The
//!   release that brings `ChildRefCount` to zero returns the parent, owned again, for the caller
//!   to complete.
//! - While clones are still being made, the [`Cloning`] value holds one count of its own, so a
//!   child that completes before its siblings exist cannot hand the parent back early;
//!   [`Cloning::finish`] drops that count (and returns the parent if no child is out).
//!
//! `ChildRefCount` is updated atomically: children complete on any processor. A decrement is a
//! release, and the one that reaches zero is followed by an acquire fence, so every child's
//! accesses to the shared data happen before the parent is handed back.

use super::refcount::{give_count, take_count};
use super::{Nbl, OwnedNbl};
use crate::ndis::consts::{
    NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS, TCP_LARGE_SEND_NET_BUFFER_LIST_INFO,
};
use crate::ndis::imports;
use crate::ndis::types::{NDIS_HANDLE, NDIS_STATUS, NET_BUFFER_LIST};
use crate::ndis::{FilterHandle, NblPool};
use core::fmt;
use core::ops::Deref;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicI32, Ordering};

/// The `NDIS_CLONE_FLAGS_*` of a clone; freeing must pass the same value, so each [`ChildNbl`]
/// keeps the flags it was allocated with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloneFlags(u32);

impl CloneFlags {
    /// New MDLs over the same data (NDIS's default).
    pub const NEW_MDLS: Self = Self(0);
    /// `NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS`: the clone shares the parent's MDL chain.
    pub const USE_ORIGINAL_MDLS: Self = Self(NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS);

    /// The raw value.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

/// The parent's `ChildRefCount` as an atomic.
///
/// # Safety
/// `parent` is a live NBL that stays live for `'a`, and every concurrent access to its
/// `ChildRefCount` goes through this function.
unsafe fn child_ref_count<'a>(parent: NonNull<NET_BUFFER_LIST>) -> &'a AtomicI32 {
    // SAFETY: `parent` is live; taking the field's address reads nothing.
    let field = unsafe { &raw mut (*parent.as_ptr()).ChildRefCount };
    // SAFETY: the field is an aligned i32 (offset 0x84 of a 16-aligned struct) that lives for
    // `'a` and is only accessed atomically while children exist (caller's contract).
    unsafe { AtomicI32::from_ptr(field) }
}

/// Drops one count from `parent`; the parent back when it was the last.
///
/// # Safety
/// `parent` is the parent of a [`Cloning`], and the caller owns one of its counts (a child's or
/// the cloning's own), which it gives up here.
unsafe fn drop_count(parent: NonNull<NET_BUFFER_LIST>) -> Option<OwnedNbl> {
    // SAFETY: the count the caller holds keeps the parent live until this decrement.
    let count = unsafe { child_ref_count(parent) };
    if !give_count(count) {
        return None;
    }
    // The last count is gone: nothing else refers to the parent, which is the filter's again
    // (unlinked since `start_cloning`).
    Some(OwnedNbl(parent))
}

/// A read-only view of a parent NBL while clones of it are out. It offers only reads: children on
/// several processors may look at their parent at once.
#[repr(transparent)]
pub struct ParentNbl(Nbl);

impl ParentNbl {
    /// # Safety
    /// `p` is the parent of a live [`Cloning`] or [`ChildNbl`] that outlives `'a`.
    unsafe fn from_ptr<'a>(p: NonNull<NET_BUFFER_LIST>) -> &'a ParentNbl {
        // SAFETY: `ParentNbl` is a transparent wrapper of `Nbl`, itself transparent over the NBL;
        // the caller guarantees liveness.
        unsafe { p.cast::<ParentNbl>().as_ref() }
    }

    /// The parent's address (read by the unit tests, to match a child to its parent).
    #[cfg(test)]
    pub fn addr(&self) -> usize {
        self.0.as_raw().addr()
    }

    /// Sum of the parent's NET_BUFFER data lengths (read by the unit tests).
    #[cfg(test)]
    pub fn data_length(&self) -> u64 {
        self.0.data_length()
    }

    /// The parent's `NDIS_NBL_FLAGS_*` (read by the unit tests).
    #[cfg(test)]
    pub fn flags(&self) -> u32 {
        self.0.flags()
    }

    /// `NET_BUFFER_LIST_INFO(parent, slot)`, as [`Nbl::info`] (read by the unit tests).
    #[cfg(test)]
    pub fn info(&self, slot: usize) -> Option<usize> {
        self.0.info(slot)
    }

    /// The [`SendMeta`] the filter pushed on the parent before cloning it, as [`Nbl::meta`].
    /// Only reads: while clones are out nobody can write the parent's meta. Read by the unit
    /// tests.
    #[cfg(test)]
    pub fn meta(&self) -> super::SendMeta {
        self.0.meta()
    }

    /// The current `ChildRefCount`: children out, plus one while the [`Cloning`] is unfinished.
    pub fn child_count(&self) -> i32 {
        // SAFETY: the parent is live while `self` is borrowed; its count is only used atomically.
        unsafe { child_ref_count(NonNull::from(&self.0).cast()) }.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for ParentNbl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParentNbl")
            .field("at", &self.0.as_raw())
            .field("child_count", &self.child_count())
            .finish()
    }
}

impl OwnedNbl {
    /// Makes this NBL the parent of clones that `filter` will send. Its `ChildRefCount` must be 0
    /// (NDIS zeroes it at allocation, and the filter has no clone of it out yet).
    pub fn start_cloning(self, filter: FilterHandle) -> Cloning {
        let parent = self.0;
        // SAFETY: the NBL is live and owned; from here on its count is only used atomically.
        let count = unsafe { child_ref_count(parent) };
        // The cloning's own count (see the module docs).
        take_count(count);
        Cloning { parent, filter }
    }
}

/// A parent NBL while clones of it are being made.
#[must_use = "finish the cloning, or the parent is never completed"]
pub struct Cloning {
    parent: NonNull<NET_BUFFER_LIST>,
    filter: FilterHandle,
}

impl Cloning {
    /// The parent, read-only.
    pub fn parent(&self) -> &ParentNbl {
        // SAFETY: the cloning holds a count, so the parent is live while `self` is borrowed.
        unsafe { ParentNbl::from_ptr(self.parent) }
    }

    /// `NdisAllocateCloneNetBufferList`: a clone of the parent over the same data, linked to it
    /// and originated by the filter module. `None` when NDIS has no memory (nothing changes).
    ///
    /// # Safety
    /// `nbl_pool` and `nb_pool` are NULL or live pools of this driver.
    pub unsafe fn clone_child(
        &self,
        nbl_pool: NDIS_HANDLE,
        nb_pool: NDIS_HANDLE,
        flags: CloneFlags,
    ) -> Option<ChildNbl> {
        // SAFETY: the parent is a live NBL the filter owns; the pools are valid (contract); the
        // filter's callbacks run at IRQL <= DISPATCH_LEVEL, as the call requires.
        let raw = unsafe {
            imports::NdisAllocateCloneNetBufferList(
                self.parent.as_ptr(),
                nbl_pool,
                nb_pool,
                flags.bits(),
            )
        };
        let clone = NonNull::new(raw)?;
        // SAFETY: a fresh NBL owned by the filter that nobody else sees yet.
        unsafe { (*raw).ParentNetBufferList = self.parent.as_ptr() };
        // SAFETY: as above.
        unsafe { (*raw).SourceHandle = self.filter.as_raw() };
        // SAFETY: as above; an owned child is unlinked.
        unsafe { (*raw).Next = ptr::null_mut() };
        // SAFETY: the cloning's own count keeps the parent live.
        take_count(unsafe { child_ref_count(self.parent) });
        Some(ChildNbl {
            clone,
            parent: self.parent,
            flags,
        })
    }

    /// [`Cloning::clone_child`] from the filter's clone pool (NET_BUFFERs from NDIS's default
    /// pool): safe, since the borrow proves the pool live for the call, and the pool's owner
    /// keeps it until its clones are freed (see [`NblPool`]).
    pub fn clone_in(&self, pool: &NblPool, flags: CloneFlags) -> Option<ChildNbl> {
        // SAFETY: `pool` is a live NBL pool of this driver (borrowed); NULL for the NET_BUFFER
        // pool is allowed.
        unsafe { self.clone_child(pool.as_raw(), ptr::null_mut(), flags) }
    }

    /// No more clones: drops the cloning's own count. The parent comes back here when no child
    /// is out (none was made, or all were released already); otherwise the last
    /// [`ChildNbl::release`] returns it.
    pub fn finish(self) -> Option<OwnedNbl> {
        // SAFETY: the cloning's own count is given up, once (`self` is consumed).
        unsafe { drop_count(self.parent) }
    }
}

impl fmt::Debug for Cloning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cloning")
            .field("parent", self.parent())
            .finish_non_exhaustive()
    }
}

/// An owned clone of a parent NBL. See the module docs for the ownership rules.
#[must_use = "a child must be sent or released, or its parent is never completed"]
pub struct ChildNbl {
    clone: NonNull<NET_BUFFER_LIST>,
    /// Equal to the clone's `ParentNetBufferList`; kept so that releasing never depends on a
    /// field the drivers below could have touched.
    parent: NonNull<NET_BUFFER_LIST>,
    flags: CloneFlags,
}

impl Deref for ChildNbl {
    type Target = Nbl;
    fn deref(&self) -> &Nbl {
        // SAFETY: the child owns its live clone.
        unsafe { self.clone.cast::<Nbl>().as_ref() }
    }
}

impl ChildNbl {
    /// The parent, read-only.
    pub fn parent(&self) -> &ParentNbl {
        // SAFETY: this child's count keeps the parent live while `self` is borrowed.
        unsafe { ParentNbl::from_ptr(self.parent) }
    }

    /// The flags the clone was allocated with (read by the unit tests).
    #[cfg(test)]
    pub fn flags(&self) -> CloneFlags {
        self.flags
    }

    /// `NdisCopySendNetBufferListInfo(child, parent)`: the parent's send out-of-band info
    /// (checksum and LSO requests, 802.1Q, cancel id, …; reroute facts §1.4) onto the clone,
    /// before it is sent. NDIS reads the parent only, so children on other processors may do
    /// the same at once.
    pub fn copy_send_info(&self) {
        // SAFETY: the clone is owned and live; the parent is live (this child's count) and only
        // read; the filter's send path runs at IRQL <= DISPATCH_LEVEL.
        unsafe {
            imports::NdisCopySendNetBufferListInfo(self.clone.as_ptr(), self.parent.as_ptr());
        }
    }

    /// `NdisCopyReceiveNetBufferListInfo` from the parent: a received frame's checksum results,
    /// 802.1Q tag, hash and frame type go up with the clone indicated in its place, so the
    /// stack above need not verify what the miniport already did. IRQL <= DISPATCH_LEVEL.
    pub fn copy_receive_info(&self) {
        // SAFETY: the clone is owned and live; the parent is live (this child's count) and only
        // read; the receive path runs at IRQL <= DISPATCH_LEVEL.
        unsafe {
            imports::NdisCopyReceiveNetBufferListInfo(self.clone.as_ptr(), self.parent.as_ptr());
        }
    }

    /// What the miniport left on the completed clone for its parent: its `Status` and its
    /// `TcpLargeSendNetBufferListInfo` slot (the LSOv1 `TcpPayload` / LSOv2 completion
    /// write-back; reroute facts §1.4), to copy to the parent with [`Nbl::set_status`] and
    /// [`Nbl::set_info`] before the parent completes.
    pub fn completion(&self) -> (NDIS_STATUS, usize) {
        (
            self.status(),
            self.info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO).unwrap_or(0),
        )
    }

    /// Gives up Rust ownership of the clone, to link it into a chain and send it. Its parent stays
    /// counted until the child is recovered with [`ChildNbl::from_returned`] and released.
    pub fn into_owned(self) -> OwnedNbl {
        OwnedNbl(self.clone)
    }

    /// Takes back a child that returned from NDIS (split off a completion with
    /// [`NblChain::split_by_source`](super::NblChain::split_by_source)). Gives the NBL back
    /// unchanged if it has no parent (an NBL the filter originated otherwise, e.g. from a pool).
    ///
    /// # Errors
    /// `nbl`'s `ParentNetBufferList` is NULL: it is no child.
    ///
    /// # Safety
    /// `nbl` is one of the filter's own NBLs (its SourceHandle is the module's handle; other
    /// drivers' NBLs may be children of *their* parents). If it has a parent, it was made by
    /// [`Cloning::clone_child`] with `flags`, passed on with [`ChildNbl::into_owned`], and not
    /// released since.
    pub unsafe fn from_returned(nbl: OwnedNbl, flags: CloneFlags) -> Result<ChildNbl, OwnedNbl> {
        // SAFETY: a plain field read of an owned NBL.
        let parent = unsafe { (*nbl.0.as_ptr()).ParentNetBufferList };
        let Some(parent) = NonNull::new(parent) else {
            return Err(nbl);
        };
        Ok(ChildNbl {
            clone: nbl.0,
            parent,
            flags,
        })
    }

    /// `NdisFreeCloneNetBufferList` with the allocation flags, then drops the child's count on
    /// the parent: the parent, owned again, when this was its last child.
    pub fn release(self) -> Option<OwnedNbl> {
        let parent = self.parent;
        // SAFETY: the clone is owned, unlinked from any chain NDIS holds, made by
        // `NdisAllocateCloneNetBufferList` with `self.flags`, and freed once (`self` is consumed).
        // It is freed before the count drops, so the parent's data outlives every clone over it.
        unsafe { imports::NdisFreeCloneNetBufferList(self.clone.as_ptr(), self.flags.bits()) };
        // SAFETY: this child's count is given up, once.
        unsafe { drop_count(parent) }
    }
}

impl fmt::Debug for ChildNbl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildNbl")
            .field("at", &self.clone)
            .field("parent", &self.parent)
            .field("flags", &self.flags)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    //! Run under Miri with the rest of `ndis::`: fake heap parents, clones from the recording
    //! doubles (real heap NBLs, freed by the free double; the session fails on a leak).
    use super::*;
    use crate::ndis::NblChain;
    use crate::ndis::mock::{Call, Config, Session};
    use crate::ndis::nbl::SendMeta;
    use crate::ndis::testkit::FakeNbls;
    use std::vec::Vec;

    const MODULE: usize = 0xF1_0000;

    fn filter() -> FilterHandle {
        // SAFETY: a test handle value, only compared and passed to the doubles.
        unsafe { FilterHandle::from_raw(ptr::without_provenance_mut(MODULE)) }.unwrap()
    }

    /// NBL 0 of `f`, as the filter would own it after taking it off a send chain.
    fn owned_parent(f: &FakeNbls) -> OwnedNbl {
        // SAFETY: a one-NBL chain of a live fake NBL.
        let mut chain = unsafe { NblChain::from_raw(f.link(0..1)) };
        chain.pop_front().unwrap()
    }

    fn clone_of(cloning: &Cloning, flags: CloneFlags) -> ChildNbl {
        // SAFETY: NULL pools are allowed.
        unsafe { cloning.clone_child(ptr::null_mut(), ptr::null_mut(), flags) }.unwrap()
    }

    #[test]
    fn a_clone_is_linked_to_its_parent_originated_by_the_filter_and_counted() {
        let s = Session::new(Config::default());
        let f = FakeNbls::simple(1);
        let cloning = owned_parent(&f).start_cloning(filter());
        assert_eq!(cloning.parent().child_count(), 1, "the cloning's own count");
        let child = clone_of(&cloning, CloneFlags::USE_ORIGINAL_MDLS);
        assert_eq!(child.parent().addr(), f.addr(0));
        assert_eq!(child.parent().data_length(), 100);
        assert_eq!(child.source_handle().addr(), MODULE);
        assert_eq!(child.flags(), CloneFlags::USE_ORIGINAL_MDLS);
        assert_eq!(cloning.parent().child_count(), 2);
        assert_eq!(
            s.take_calls(),
            [Call::CloneNbl {
                original: f.addr(0),
                clone: child.as_raw().addr(),
                flags: NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS,
            }]
        );
        assert!(cloning.finish().is_none(), "a child is out");
        let parent = child
            .release()
            .expect("the last child hands the parent back");
        assert_eq!(parent.as_raw().addr(), f.addr(0));
        assert!(parent.next_nbl().is_none());
        assert_eq!(s.live_nbl_clones(), 0);
        // SAFETY: a plain read of the live fake parent.
        assert_eq!(unsafe { (*f.ptr(0)).ChildRefCount }, 0);
    }

    #[test]
    fn only_the_release_that_reaches_zero_returns_the_parent() {
        let s = Session::new(Config::default());
        let f = FakeNbls::simple(1);
        let cloning = owned_parent(&f).start_cloning(filter());
        let children: Vec<ChildNbl> = (0..3)
            .map(|_| clone_of(&cloning, CloneFlags::NEW_MDLS))
            .collect();
        assert!(cloning.finish().is_none());
        let mut returned = Vec::new();
        for child in children {
            assert_eq!(
                child.parent().child_count(),
                3 - i32::try_from(returned.len()).unwrap()
            );
            returned.push(child.release().map(|p| p.as_raw().addr()));
        }
        assert_eq!(returned, [None, None, Some(f.addr(0))]);
        let frees = s
            .take_calls()
            .into_iter()
            .filter(|c| matches!(c, Call::FreeCloneNbl { flags: 0, .. }))
            .count();
        assert_eq!(frees, 3, "each clone freed once, with its allocation flags");
    }

    #[test]
    fn a_child_returning_before_the_cloning_finishes_cannot_complete_the_parent_early() {
        let _s = Session::new(Config::default());
        let f = FakeNbls::simple(1);
        let cloning = owned_parent(&f).start_cloning(filter());
        let first = clone_of(&cloning, CloneFlags::NEW_MDLS);
        assert!(
            first.release().is_none(),
            "the cloning still holds its count"
        );
        let second = clone_of(&cloning, CloneFlags::NEW_MDLS);
        assert!(cloning.finish().is_none());
        assert_eq!(second.release().map(|p| p.as_raw().addr()), Some(f.addr(0)));
    }

    #[test]
    fn with_no_child_out_finish_hands_the_parent_back() {
        let s = Session::new(Config {
            nbl_clone_fails: true,
            ..Config::default()
        });
        let f = FakeNbls::simple(1);
        let cloning = owned_parent(&f).start_cloning(filter());
        // SAFETY: NULL pools are allowed.
        let failed =
            unsafe { cloning.clone_child(ptr::null_mut(), ptr::null_mut(), CloneFlags::NEW_MDLS) };
        assert!(failed.is_none());
        assert_eq!(
            cloning.parent().child_count(),
            1,
            "a failed clone is not counted"
        );
        let parent = cloning.finish().expect("nothing is out");
        assert_eq!(parent.as_raw().addr(), f.addr(0));
        assert!(s.take_calls().is_empty());
    }

    #[test]
    fn a_sent_child_is_recovered_from_the_completion_and_released() {
        let s = Session::new(Config::default());
        let f = FakeNbls::simple(2);
        let cloning = owned_parent(&f).start_cloning(filter());
        let child = clone_of(&cloning, CloneFlags::USE_ORIGINAL_MDLS);
        let clone_addr = child.as_raw().addr();
        assert!(cloning.finish().is_none());
        // The completion mixes the filter's child with a pass-through NBL (fake NBL 1).
        let mut completion = NblChain::from(child.into_owned());
        // SAFETY: a one-NBL chain of a live fake NBL.
        completion.append(unsafe { NblChain::from_raw(f.link(1..2)) });
        let split = completion.split_by_source(filter());
        let mut own = split.own;
        let nbl = own.pop_front().unwrap();
        assert!(own.is_empty());
        // SAFETY: made by clone_child with these flags, sent with into_owned, not yet released.
        let child = unsafe { ChildNbl::from_returned(nbl, CloneFlags::USE_ORIGINAL_MDLS) }
            .expect("it has a parent");
        assert_eq!(child.as_raw().addr(), clone_addr);
        assert_eq!(child.release().map(|p| p.as_raw().addr()), Some(f.addr(0)));

        let mut pass = split.pass_through;
        let pool_nbl = pass.pop_front().unwrap();
        // SAFETY: stands for an NBL the filter allocated from a pool: its own, without a parent.
        let back = unsafe { ChildNbl::from_returned(pool_nbl, CloneFlags::NEW_MDLS) };
        assert_eq!(back.err().map(|n| n.as_raw().addr()), Some(f.addr(1)));
        assert_eq!(s.live_nbl_clones(), 0);
    }

    #[test]
    fn send_info_is_copied_from_the_parent_and_the_completion_goes_back_to_it() {
        use crate::ndis::consts::{
            IEEE8021Q_NET_BUFFER_LIST_INFO, NDIS_STATUS_MEDIA_DISCONNECTED, NDIS_STATUS_SUCCESS,
            TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO,
        };
        let s = Session::new(Config::default());
        let f = FakeNbls::simple(1);
        let parent = owned_parent(&f);
        parent.set_info(TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO, 0x11);
        parent.set_info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO, 0x2_0000_05DC);
        parent.set_info(IEEE8021Q_NET_BUFFER_LIST_INFO, 0x64);
        let cloning = parent.start_cloning(filter());
        let child = clone_of(&cloning, CloneFlags::NEW_MDLS);
        assert_eq!(child.info(TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO), Some(0));
        child.copy_send_info();
        assert_eq!(child.info(TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO), Some(0x11));
        assert_eq!(child.info(IEEE8021Q_NET_BUFFER_LIST_INFO), Some(0x64));
        assert_eq!(
            s.take_nbl_calls(),
            [Call::CopySendInfo {
                dst: child.as_raw().addr(),
                src: f.addr(0),
            }]
        );
        // The miniport below completes the clone and writes the LSOv1 payload bytes sent.
        child.set_status(NDIS_STATUS_MEDIA_DISCONNECTED);
        child.set_info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO, 4380);
        assert_eq!(child.completion(), (NDIS_STATUS_MEDIA_DISCONNECTED, 4380));
        let (status, lso) = child.completion();
        assert!(cloning.finish().is_none());
        let parent = child.release().expect("the only child");
        assert_eq!(parent.status(), NDIS_STATUS_SUCCESS);
        parent.set_status(status);
        parent.set_info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO, lso);
        assert_eq!(f.status(0), NDIS_STATUS_MEDIA_DISCONNECTED);
        assert_eq!(parent.info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO), Some(4380));
        parent.set_info(crate::ndis::types::MAX_NET_BUFFER_LIST_INFO, 1);
        assert_eq!(
            parent.info(crate::ndis::types::MAX_NET_BUFFER_LIST_INFO),
            None,
            "an out-of-range slot is ignored"
        );
    }

    #[test]
    fn clones_from_the_filters_pool_need_no_unsafe() {
        let s = Session::new(Config::default());
        let pool = NblPool::for_clones(filter()).unwrap();
        let f = FakeNbls::simple(1);
        let cloning = owned_parent(&f).start_cloning(filter());
        let child = cloning
            .clone_in(&pool, CloneFlags::USE_ORIGINAL_MDLS)
            .expect("the double has memory");
        assert_eq!(child.parent().addr(), f.addr(0));
        assert!(cloning.finish().is_none());
        assert!(child.release().is_some());
        drop(pool);
        assert_eq!(s.live_pools(), 0);
        assert_eq!(s.live_nbl_clones(), 0);
    }

    #[test]
    fn the_parents_meta_is_readable_while_its_clones_are_out() {
        let s = Session::new(Config::default());
        let f = FakeNbls::simple(1);
        let parent = owned_parent(&f);
        let meta = SendMeta {
            sent_ns: 77,
            path: 2,
            ..SendMeta::default()
        };
        assert!(parent.push_meta(meta));
        let cloning = parent.start_cloning(filter());
        let child = clone_of(&cloning, CloneFlags::NEW_MDLS);
        assert_eq!(cloning.parent().meta(), meta);
        assert_eq!(child.parent().meta(), meta);
        assert_eq!(
            child.meta(),
            SendMeta::default(),
            "a clone has no context of its own"
        );
        assert!(cloning.finish().is_none());
        let parent = child.release().unwrap();
        assert_eq!(parent.pop_meta(), meta);
        assert_eq!(s.live_context_areas(), 0);
    }
}
