//! Single clones: a parent with exactly one child, the shape the teamed send path uses (one NBL
//! rerouted to one other member). Because a [`SingleChild`] is by construction its parent's only
//! child, freeing it always gives the parent back, and a completed clone can be recognised safely
//! by the pool it came from.
//!
//! The invariant rests on [`NblPool`] handing out NBLs only through [`NblPool::clone_single`]:
//! every NBL of such a pool is a clone made with [`CloneFlags::NEW_MDLS`], the only child of its
//! parent, whose cloning count was dropped before the child was returned.

use super::child::{ChildNbl, CloneFlags};
use super::{Nbl, OwnedNbl};
use crate::ndis::consts::{NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL, NDIS_RECEIVE_FLAGS_RESOURCES};
use crate::ndis::pool::NblPool;
use crate::ndis::types::{NDIS_PORT_NUMBER, NDIS_STATUS, NET_BUFFER_LIST};
use crate::ndis::{FilterHandle, imports};
use core::ops::Deref;
use core::ptr::{self, NonNull};

/// The only clone of its parent (see the module docs).
#[must_use = "a child must be sent or released, or its parent is never completed"]
#[derive(Debug)]
pub struct SingleChild(ChildNbl);

impl Deref for SingleChild {
    type Target = Nbl;
    fn deref(&self) -> &Nbl {
        &self.0
    }
}

impl SingleChild {
    /// `NdisCopySendNetBufferListInfo` from the parent: checksum, LSO, 802.1Q, cancel id and the
    /// rest of the send information travel with the clone.
    pub fn copy_send_info(&self) {
        self.0.copy_send_info();
    }

    /// `NdisCopyReceiveNetBufferListInfo` from the parent (a clone indicated up in its place).
    pub fn copy_receive_info(&self) {
        self.0.copy_receive_info();
    }

    /// The clone's completion status and its LSO information (the miniport's write-back).
    pub fn completion(&self) -> (NDIS_STATUS, usize) {
        self.0.completion()
    }

    /// Gives up Rust ownership of the clone to send it (see [`ChildNbl::into_owned`]).
    pub fn into_owned(self) -> OwnedNbl {
        self.0.into_owned()
    }

    /// Indicates the clone, alone, up `filter`'s stack with `NDIS_RECEIVE_FLAGS_RESOURCES` (and
    /// DISPATCH when `dispatch`, which must be the caller's IRQL): the receivers must copy what
    /// they keep, so the clone stays the filter's throughout and is still this value afterwards.
    /// For indications the filter makes of its own, like NDIS's send loopback.
    pub fn indicate_lent(&self, filter: FilterHandle, port: NDIS_PORT_NUMBER, dispatch: bool) {
        let mut flags = NDIS_RECEIVE_FLAGS_RESOURCES;
        if dispatch {
            flags |= NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL;
        }
        // SAFETY: a live clone the filter owns and has never chained (its `Next` is NULL, so it
        // is a one-NBL chain), indicated on a live module handle; with RESOURCES no receiver
        // keeps it past the call, which returns it unchanged to its owner, `self`.
        unsafe {
            imports::NdisFIndicateReceiveNetBufferLists(
                filter.as_raw(),
                self.as_raw(),
                port,
                1,
                flags,
            );
        }
    }

    /// Frees the clone and returns its parent, owned again.
    pub fn release(self) -> OwnedNbl {
        let parent = NonNull::from(self.0.parent()).cast::<NET_BUFFER_LIST>();
        // The only child's release drops the last count, so it returns the parent; the fallback
        // names the same parent and is never taken.
        self.0.release().unwrap_or(OwnedNbl(parent))
    }
}

impl NblPool {
    /// A clone of `parent` from this pool, originated by `filter` (SourceHandle), as the parent's
    /// only child; the parent back when NDIS has no memory.
    ///
    /// # Errors
    /// The parent, unchanged, when no clone could be allocated.
    pub fn clone_single(
        &self,
        parent: OwnedNbl,
        filter: FilterHandle,
    ) -> Result<SingleChild, OwnedNbl> {
        let raw = parent.0;
        let cloning = parent.start_cloning(filter);
        // SAFETY: `self` is a live pool of this driver (type invariant); no NET_BUFFER pool.
        let child =
            unsafe { cloning.clone_child(self.as_raw(), ptr::null_mut(), CloneFlags::NEW_MDLS) };
        match child {
            Some(child) => {
                // The child now holds the parent; the cloning's own count goes.
                let _held_by_child = cloning.finish();
                Ok(SingleChild(child))
            }
            // No child out: finishing returns the parent (the fallback names the same NBL).
            None => Err(cloning.finish().unwrap_or(OwnedNbl(raw))),
        }
    }

    /// Recognises a completed NBL as one of this pool's clones.
    ///
    /// # Errors
    /// `nbl`, unchanged, when it is not from this pool.
    pub fn reclaim(&self, nbl: OwnedNbl) -> Result<SingleChild, OwnedNbl> {
        // SAFETY: a live NBL the caller owns; the call only reads which pool it came from.
        let pool = unsafe { imports::NdisGetPoolFromNetBufferList(nbl.0.as_ptr()) };
        if pool != self.as_raw() {
            return Err(nbl);
        }
        // SAFETY: every NBL of this pool is a clone made by `clone_single` with NEW_MDLS, handed
        // on with `into_owned`, and — being owned by the caller again — returned by NDIS now.
        unsafe { ChildNbl::from_returned(nbl, CloneFlags::NEW_MDLS) }.map(SingleChild)
    }
}
