//! [`OwnFrame`]: one NBL the filter originates, over a buffer of its own — for the frames no
//! protocol sent (the path probe's ARP requests and neighbour solicitations).
//!
//! Everything is allocated once, at attach (PASSIVE_LEVEL): a pool that allocates NET_BUFFERs
//! (`fAllocateNetBuffer`), a heap buffer, an MDL over it (`NdisAllocateMdl`) and one NBL with one
//! NET_BUFFER over that MDL (`NdisAllocateNetBufferAndNetBufferList`). Sending then allocates
//! nothing: [`OwnFrame::take`] writes the frame into the buffer and lends the NBL out, and the
//! send completion gives it back through [`OwnFrame::reclaim`], recognised by its address. One
//! frame is out at a time; a `take` while it is away is refused, so the buffer is never written
//! while a miniport may read it.
//!
//! The NBL's `SourceHandle` is the filter module (the originator rule for filter sends), so its
//! completion comes back to this module and never goes up the stack.

use super::OwnedNbl;
use super::lend::{give_back, is_out, lend};
use crate::ndis::consts::NDIS_STATUS_SUCCESS;
use crate::ndis::imports;
use crate::ndis::types::{MDL, NDIS_STATUS, NET_BUFFER_LIST};
use crate::ndis::{FilterHandle, NblPool};
use alloc::boxed::Box;
use core::ffi::c_void;
use core::fmt;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};
use core::sync::atomic::AtomicBool;

/// The largest frame an [`OwnFrame`] carries, in bytes.
pub const OWN_FRAME_CAPACITY: usize = 128;

/// One filter-originated NBL and its storage; see the module documentation.
pub struct OwnFrame {
    filter: FilterHandle,
    /// A leaked `Box`: the MDL points into it, so it must never move or be retagged by a Box.
    buffer: NonNull<[u8; OWN_FRAME_CAPACITY]>,
    mdl: NonNull<MDL>,
    nbl: NonNull<NET_BUFFER_LIST>,
    away: AtomicBool,
    pool: ManuallyDrop<NblPool>,
}

// SAFETY: the NBL, MDL and buffer are owned by this value; the buffer is written only by the one
// caller whose `take` flipped `away` from false to true, and read by NDIS only while away.
unsafe impl Send for OwnFrame {}
// SAFETY: as above; `&OwnFrame` exposes only the atomic flag and the exclusive `take`.
unsafe impl Sync for OwnFrame {}

impl OwnFrame {
    /// Allocates the pool, buffer, MDL and NBL on `filter`'s handle; `None` when NDIS has no
    /// resources (whatever was allocated is freed again). IRQL <= DISPATCH_LEVEL.
    pub fn new(filter: FilterHandle) -> Option<OwnFrame> {
        let pool = NblPool::for_frames(filter)?;
        let buffer = NonNull::from(Box::leak(Box::new([0u8; OWN_FRAME_CAPACITY])));
        // The capacity is a small constant.
        #[allow(clippy::cast_possible_truncation)]
        let capacity = OWN_FRAME_CAPACITY as u32;
        // SAFETY: the handle is live (type invariant); the buffer is a live heap allocation of
        // `capacity` bytes that this value keeps, unmoved, until after the MDL is freed in `drop`.
        let mdl = unsafe {
            imports::NdisAllocateMdl(filter.as_raw(), buffer.as_ptr().cast::<c_void>(), capacity)
        };
        let Some(mdl) = NonNull::new(mdl) else {
            // SAFETY: leaked from a Box above and never shared.
            drop(unsafe { Box::from_raw(buffer.as_ptr()) });
            return None;
        };
        // SAFETY: the pool allocates NET_BUFFERs; the MDL describes `capacity` bytes and lives
        // until `drop`, which frees the NBL first.
        let nbl = unsafe {
            imports::NdisAllocateNetBufferAndNetBufferList(
                pool.as_raw(),
                0,
                0,
                mdl.as_ptr(),
                0,
                OWN_FRAME_CAPACITY,
            )
        };
        let Some(nbl) = NonNull::new(nbl) else {
            // SAFETY: allocated above, never used.
            unsafe { imports::NdisFreeMdl(mdl.as_ptr()) };
            // SAFETY: leaked from a Box above; the MDL over it is freed.
            drop(unsafe { Box::from_raw(buffer.as_ptr()) });
            return None;
        };
        Some(OwnFrame {
            filter,
            buffer,
            mdl,
            nbl,
            away: AtomicBool::new(false),
            pool: ManuallyDrop::new(pool),
        })
    }

    /// Writes `frame` and lends the NBL out to be sent down this module's stack; `None` while
    /// the last frame is still away, or when `frame` is empty or longer than
    /// [`OWN_FRAME_CAPACITY`]. Any IRQL <= DISPATCH_LEVEL, any CPU.
    pub fn take(&self, frame: &[u8]) -> Option<OwnedNbl> {
        if frame.is_empty() || frame.len() > OWN_FRAME_CAPACITY {
            return None;
        }
        if !lend(&self.away) {
            return None;
        }
        // SAFETY: winning the exchange makes this caller the only writer; NDIS does not read the
        // buffer while the NBL is home (it was away and came back through `reclaim`, whose
        // release store this acquire pairs with).
        let buffer = unsafe { &mut *self.buffer.as_ptr() };
        buffer[..frame.len()].copy_from_slice(frame);
        // SAFETY: the NBL is this value's and home (exclusive, as above).
        let nbl = unsafe { &mut *self.nbl.as_ptr() };
        nbl.Next = ptr::null_mut();
        nbl.SourceHandle = self.filter.as_raw();
        nbl.Status = NDIS_STATUS_SUCCESS;
        // SAFETY: its one NET_BUFFER was allocated with it and is as exclusively ours.
        let nb = unsafe { &mut *nbl.FirstNetBuffer };
        // The length fits: it is at most the capacity.
        nb.DataLength.DataLength = u32::try_from(frame.len()).unwrap_or(0);
        Some(OwnedNbl(self.nbl))
    }

    /// A completed NBL: `Ok(status)` when it is this frame's (now home again), `Err(nbl)` when
    /// it is another.
    ///
    /// # Errors
    /// The NBL back, when it is not this frame's.
    pub fn reclaim(&self, nbl: OwnedNbl) -> Result<NDIS_STATUS, OwnedNbl> {
        if nbl.0 != self.nbl {
            return Err(nbl);
        }
        let status = nbl.status();
        let _ = nbl.into_raw();
        give_back(&self.away);
        Ok(status)
    }

    /// Whether `nbl` is this frame's NBL.
    pub fn owns(&self, nbl: &super::Nbl) -> bool {
        ptr::eq(nbl.as_raw(), self.nbl.as_ptr())
    }

    /// Whether the frame is out (sent and not yet completed).
    pub fn is_away(&self) -> bool {
        is_out(&self.away)
    }
}

/// Takes the NBLs of `frames` (the filter's own, back from below) out of a completed `chain`, each
/// reclaimed by its frame; returns the rest of the chain and how many were taken (for the pause
/// gate). Nothing is walked while none of the frames is out.
pub fn reclaim_from<'f, I>(chain: super::NblChain, frames: impl Fn() -> I) -> (super::NblChain, u64)
where
    I: Iterator<Item = &'f OwnFrame>,
{
    if !frames().any(OwnFrame::is_away) {
        return (chain, 0);
    }
    let (mut mine, rest) = chain.split_by(|nbl| frames().any(|f| f.owns(nbl)));
    let mut n = 0;
    while let Some(nbl) = mine.pop_front() {
        n += 1;
        let back = match frames().find(|f| f.owns(&nbl)) {
            Some(f) => f.reclaim(nbl).err(),
            None => Some(nbl),
        };
        if let Some(nbl) = back {
            // `owns` chose it: unreachable; kept from going anywhere it could be used.
            super::NblChain::from(nbl).leave_with_indicator();
        }
    }
    (rest, n)
}

impl Drop for OwnFrame {
    fn drop(&mut self) {
        if self.is_away() {
            // NDIS still has the NBL (its owner's pause should have waited for it): freeing it,
            // its pool or the memory under it would let the miniport touch freed memory. All of
            // it is leaked instead.
            return;
        }
        // SAFETY: home, so nothing else references the NBL; allocated in `new`, freed once.
        unsafe { imports::NdisFreeNetBufferList(self.nbl.as_ptr()) };
        // SAFETY: the only NBL over the MDL is freed; allocated in `new`, freed once.
        unsafe { imports::NdisFreeMdl(self.mdl.as_ptr()) };
        // SAFETY: leaked from a Box in `new`; the NBL and the MDL over it are freed above.
        drop(unsafe { Box::from_raw(self.buffer.as_ptr()) });
        // SAFETY: not used again: its one NBL is freed above.
        unsafe { ManuallyDrop::drop(&mut self.pool) };
    }
}

impl fmt::Debug for OwnFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnFrame")
            .field("nbl", &self.nbl)
            .field("away", &self.is_away())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    //! Run under Miri with the rest of `ndis::`: the doubles allocate real heap NBLs, NET_BUFFERs
    //! and MDLs, and the session fails on any not freed.
    use super::*;
    use crate::ndis::mock::{Config, Session};

    fn filter() -> FilterHandle {
        // SAFETY: a test handle value, only compared and passed to the doubles.
        unsafe { FilterHandle::from_raw(ptr::without_provenance_mut(0xF1_0000)) }.unwrap()
    }

    /// The bytes the NBL describes, read through its NET_BUFFER as a driver below would.
    fn described(nbl: &OwnedNbl) -> Vec<u8> {
        let mut storage = [0u8; OWN_FRAME_CAPACITY];
        let n = usize::try_from(nbl.data_length()).unwrap();
        let seen = nbl.peek_front(&mut storage).to_vec();
        assert_eq!(seen.len(), n, "the whole frame is readable");
        seen
    }

    use alloc::vec::Vec;

    #[test]
    fn a_frame_is_lent_once_and_comes_back_through_reclaim() {
        let s = Session::new(Config::default());
        let frame = OwnFrame::new(filter()).expect("the doubles have memory");
        assert_eq!(s.live_frames_and_mdls(), (1, 1));
        let nbl = frame.take(&[1, 2, 3, 4]).expect("home");
        assert_eq!(described(&nbl), [1, 2, 3, 4]);
        assert_eq!(nbl.source_handle(), filter().as_raw());
        assert!(frame.owns(&nbl));
        assert!(frame.is_away());
        assert!(frame.take(&[9]).is_none(), "one frame out at a time");
        nbl.set_status(0x1234);
        assert_eq!(frame.reclaim(nbl).ok(), Some(0x1234));
        assert!(!frame.is_away());
        let again = frame.take(&[7; 60]).expect("home again");
        assert_eq!(described(&again), [7; 60]);
        assert_eq!(frame.reclaim(again).ok(), Some(NDIS_STATUS_SUCCESS));
        drop(frame);
        assert_eq!(s.live_frames_and_mdls(), (0, 0));
        assert_eq!(s.live_pools(), 0);
    }

    #[test]
    fn frames_too_long_or_empty_are_refused_and_other_nbls_are_not_taken_back() {
        let _s = Session::new(Config::default());
        let frame = OwnFrame::new(filter()).unwrap();
        assert!(frame.take(&[]).is_none());
        assert!(frame.take(&[0; OWN_FRAME_CAPACITY + 1]).is_none());
        assert!(!frame.is_away(), "a refused take lends nothing");
        let other = OwnFrame::new(filter()).unwrap();
        let theirs = other.take(&[5]).unwrap();
        let theirs = frame.reclaim(theirs).expect_err("not this frame's NBL");
        assert_eq!(other.reclaim(theirs).ok(), Some(NDIS_STATUS_SUCCESS));
    }

    #[test]
    fn no_pool_means_no_frame_and_nothing_left_allocated() {
        let s = Session::new(Config {
            pool_alloc_fails: true,
            ..Config::default()
        });
        assert!(OwnFrame::new(filter()).is_none());
        assert_eq!(s.live_frames_and_mdls(), (0, 0));
    }
}
