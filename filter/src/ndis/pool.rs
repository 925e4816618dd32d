//! [`NblPool`]: an NBL pool the filter owns, for the clones it sends down another module's stack
//! ([`NblPool::for_clones`]) or for the frames it originates ([`NblPool::for_frames`]).
//!
//! The pool is allocated on a module's filter handle (`NdisAllocateNetBufferListPool`) and freed
//! when the value is dropped (`NdisFreeNetBufferListPool`). It hands out bare NBLs: the clones
//! get their NET_BUFFERs from the clone call itself, so `DataSize` is 0 and `fAllocateNetBuffer`
//! FALSE. `ContextSize` is 0 too, and not for want of sizing: `NdisAllocateCloneNetBufferList`
//! gives a clone no initial NET_BUFFER_LIST_CONTEXT whatever the pool's `ContextSize` (DDI), so
//! the context backfill the drivers below a member ask for in their restart attributes
//! (`ContextBackFillSize`) is reserved where it can be: when the filter pushes its own context on
//! the clone (`Nbl::push_meta_with_backfill` with that member's backfill). Data backfill cannot be
//! given to a clone at all: it describes the parent's data from its first used byte (reroute
//! facts §1.2), and a driver below that retreats into it gets an MDL from NDIS.
//! `ProtocolId` is 0, as the DDI asks of filters and miniports (reroute facts §1.2).

use super::FilterHandle;
use super::consts::{
    MPFILTER_POOL_TAG, NDIS_OBJECT_TYPE_DEFAULT,
    NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
    NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
};
use super::imports;
use super::types::{NDIS_HANDLE, NDIS_OBJECT_HEADER, NET_BUFFER_LIST_POOL_PARAMETERS};
use core::ffi::c_void;
use core::fmt;
use core::ptr::NonNull;

/// An NBL pool owned by the filter; freed on drop.
///
/// Drop it only once every NBL allocated from it is freed again (for clones: after the module
/// that sends them has seen them all complete, which its pause waits for); NDIS requires that of
/// `NdisFreeNetBufferListPool`.
pub struct NblPool(NonNull<c_void>);

// SAFETY: a pool handle is an opaque token that NDIS accepts on any processor at IRQL <=
// DISPATCH_LEVEL; NDIS serialises allocations from one pool internally.
unsafe impl Send for NblPool {}
// SAFETY: as above; `&NblPool` only lends the token.
unsafe impl Sync for NblPool {}

/// The parameters of [`NblPool::for_clones`] (`with_net_buffers` false) and
/// [`NblPool::for_frames`] (true).
fn pool_parameters(with_net_buffers: bool) -> NET_BUFFER_LIST_POOL_PARAMETERS {
    NET_BUFFER_LIST_POOL_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        ),
        ProtocolId: 0,
        fAllocateNetBuffer: u8::from(with_net_buffers),
        ContextSize: 0,
        PoolTag: MPFILTER_POOL_TAG,
        DataSize: 0,
    }
}

impl NblPool {
    /// `NdisAllocateNetBufferListPool` on `filter`'s handle, for clones
    /// (`NdisAllocateCloneNetBufferList`); `None` when NDIS has no memory. Callable at IRQL <=
    /// DISPATCH_LEVEL.
    pub fn for_clones(filter: FilterHandle) -> Option<NblPool> {
        Self::allocate(filter, false)
    }

    /// `NdisAllocateNetBufferListPool` on `filter`'s handle for the filter's own frames
    /// (`NdisAllocateNetBufferAndNetBufferList`: an NBL and its NET_BUFFER together, over the
    /// filter's MDL, so `DataSize` stays 0); `None` when NDIS has no memory. IRQL <=
    /// DISPATCH_LEVEL.
    pub fn for_frames(filter: FilterHandle) -> Option<NblPool> {
        Self::allocate(filter, true)
    }

    fn allocate(filter: FilterHandle, with_net_buffers: bool) -> Option<NblPool> {
        let mut params = pool_parameters(with_net_buffers);
        // SAFETY: the handle is a live filter module handle (type invariant) and `params` a
        // complete revision-1 structure that NDIS reads during the call only.
        let raw =
            unsafe { imports::NdisAllocateNetBufferListPool(filter.as_raw(), &raw mut params) };
        NonNull::new(raw).map(NblPool)
    }

    /// The pool handle, for `NdisAllocateCloneNetBufferList`.
    pub fn as_raw(&self) -> NDIS_HANDLE {
        self.0.as_ptr()
    }
}

impl Drop for NblPool {
    fn drop(&mut self) {
        // SAFETY: the handle came from NdisAllocateNetBufferListPool and is freed once (drop);
        // that every NBL of the pool is freed is the owner's duty (type documentation).
        unsafe { imports::NdisFreeNetBufferListPool(self.as_raw()) };
    }
}

impl fmt::Debug for NblPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NblPool").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    //! Run under Miri with the rest of `ndis::`: the pool double allocates a real heap token, so
    //! a pool that is never freed is a leak the session reports.
    use super::*;
    use crate::ndis::mock::{Call, Config, PoolParams, Session};
    use core::ptr;

    const MODULE: usize = 0xF1_0000;

    fn filter() -> FilterHandle {
        // SAFETY: a test handle value, only compared and passed to the doubles.
        unsafe { FilterHandle::from_raw(ptr::without_provenance_mut(MODULE)) }.unwrap()
    }

    #[test]
    fn a_clone_pool_is_allocated_on_the_module_handle_with_filter_parameters_and_freed_on_drop() {
        let s = Session::new(Config::default());
        let pool = NblPool::for_clones(filter()).expect("the double has memory");
        let raw = pool.as_raw().addr();
        assert_eq!(s.live_pools(), 1);
        drop(pool);
        assert_eq!(s.live_pools(), 0);
        assert_eq!(
            s.take_nbl_calls(),
            [
                Call::AllocPool {
                    handle: MODULE,
                    params: PoolParams {
                        header: (NDIS_OBJECT_TYPE_DEFAULT, 1, 0x10),
                        protocol_id: 0,
                        allocate_net_buffer: 0,
                        context_size: 0,
                        pool_tag: u32::from_le_bytes(*b"mpfl"),
                        data_size: 0,
                    },
                    pool: raw,
                },
                Call::FreePool { pool: raw },
            ]
        );
    }

    #[test]
    fn no_memory_is_none_and_frees_nothing() {
        let s = Session::new(Config {
            pool_alloc_fails: true,
            ..Config::default()
        });
        assert!(NblPool::for_clones(filter()).is_none());
        let calls = s.take_nbl_calls();
        assert!(
            matches!(calls.as_slice(), [Call::AllocPool { pool: 0, .. }]),
            "{calls:?}"
        );
    }

    #[test]
    fn the_pool_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<NblPool>();
    }
}
