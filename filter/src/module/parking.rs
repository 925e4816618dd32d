//! A teamed module's parked NBLs: sends the engine deferred (every path at its outstanding cap)
//! and, in `AllDown = queue:<ms>` mode, sends made while no path was usable. They wait here, in
//! arrival order, until a completion or the group's tick finds them a path, their time runs out,
//! the module pauses, or they are cancelled.
//!
//! The queue is per module, behind its own spin lock, and is touched only on those slow paths: the
//! common send takes no lock. Parked NBLs are linked through their own `Next` fields (nothing is
//! allocated) and each carries a send context saying why and since when it waits.

use super::drain_turn;
use crate::ndis::nbl::NblQueue;
use crate::ndis::{Nbl, NblChain, OwnedNbl, SpinLock};
use alloc::boxed::Box;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Most NBLs one module parks; the next one is completed (`NDIS_STATUS_RESOURCES` when deferred,
/// `NDIS_STATUS_MEDIA_DISCONNECTED` when no path is up) and counted.
pub const PARK_MAX_NBLS: u32 = 4_096;

/// Most data bytes one module parks (same treatment beyond).
pub const PARK_MAX_BYTES: u64 = 16 << 20;

struct Parked {
    nbls: NblQueue,
    bytes: u64,
}

/// One module's parked NBLs.
pub(crate) struct Parking {
    queue: Pin<Box<SpinLock<Parked>>>,
    /// How many wait: read without the lock to skip an empty queue.
    len: AtomicU32,
    /// One drain at a time: a send made while draining may complete inline and drain again.
    draining: AtomicBool,
    /// A drain was asked for while another processor held the turn (`drain_turn`).
    wanted: AtomicBool,
}

impl Parking {
    /// An empty queue (allocates its spin lock; PASSIVE_LEVEL, at attach).
    pub(crate) fn new() -> Self {
        Self {
            queue: SpinLock::new(Parked {
                nbls: NblQueue::new(),
                bytes: 0,
            }),
            len: AtomicU32::new(0),
            draining: AtomicBool::new(false),
            wanted: AtomicBool::new(false),
        }
    }

    /// Whether nothing waits (a hint while other processors park and drain).
    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }

    /// How many NBLs wait (a snapshot).
    pub(crate) fn len(&self) -> u32 {
        self.len.load(Ordering::Acquire)
    }

    /// Appends `nbl`; gives it back when the queue is full.
    pub(crate) fn push(&self, nbl: OwnedNbl) -> Result<(), OwnedNbl> {
        let bytes = nbl.data_length();
        let mut q = self.queue.lock();
        if q.nbls.len() >= PARK_MAX_NBLS as usize || q.bytes.saturating_add(bytes) > PARK_MAX_BYTES
        {
            return Err(nbl);
        }
        q.nbls.push_back(nbl);
        q.bytes += bytes;
        self.len.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Puts back at the head an NBL [`Parking::pop`] took that still cannot leave.
    pub(crate) fn unpop(&self, nbl: OwnedNbl) {
        let bytes = nbl.data_length();
        let mut q = self.queue.lock();
        q.nbls.push_front(nbl);
        q.bytes += bytes;
        self.len.fetch_add(1, Ordering::AcqRel);
    }

    /// Takes the oldest NBL.
    pub(crate) fn pop(&self) -> Option<OwnedNbl> {
        let mut q = self.queue.lock();
        let nbl = q.nbls.pop_front()?;
        q.bytes = q.bytes.saturating_sub(nbl.data_length());
        self.len.fetch_sub(1, Ordering::AcqRel);
        Some(nbl)
    }

    /// Takes every NBL for which `pred` holds (all of them with `|_| true`), in order.
    pub(crate) fn take_matching(&self, pred: impl FnMut(&Nbl) -> bool) -> NblChain {
        let mut q = self.queue.lock();
        let taken = q.nbls.take_matching(pred);
        q.bytes = q.bytes.saturating_sub(taken.data_length());
        // At most PARK_MAX_NBLS.
        #[allow(clippy::cast_possible_truncation)]
        self.len.fetch_sub(taken.len() as u32, Ordering::AcqRel);
        taken
    }

    /// Asks for a drain: true when the caller now holds the turn and must drain, false when
    /// another processor holds it and will drain again for this request.
    pub(crate) fn begin_drain(&self) -> bool {
        drain_turn::claim(&self.wanted, &self.draining)
    }

    /// Starts one pass of a drain (the requests so far are what it answers).
    pub(crate) fn begin_pass(&self) {
        drain_turn::begin_pass(&self.wanted);
    }

    /// Gives the turn back after a pass: true when a drain was asked for meanwhile and the
    /// caller holds the turn again, to make another pass.
    pub(crate) fn end_drain(&self) -> bool {
        drain_turn::hand_back(&self.wanted, &self.draining)
    }
}
