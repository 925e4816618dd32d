//! Flowlet affinity: a fixed-size, direct-mapped flow table mapping a flow hash to
//! (path, last seen).
//!
//! Each entry is one `AtomicU64`: bits 6..64 the last-seen time (ns, 58 bits, wrapping), bit 5
//! "valid", bits 0..5 the path. Flows whose hashes share an entry share its path and its last-seen
//! time; that only makes them stickier (an entry expires only when every flow using it has been
//! quiet for the gap), so the affinity guarantee holds for each of them.
//!
//! Guarantee: while a flow's packets are less than `gap` apart it keeps its path, unless the path
//! leaves the eligible set. To save a shared-cache-line write per packet, the last-seen time is
//! refreshed only when it is at least `slack = gap / 8` old, and an entry expires once it is
//! `gap + slack` old; so a flow is re-placed after an idle gap of at least `gap` (and at most
//! `gap + slack`).

use alloc::boxed::Box;

use super::mask::{bit, mix64};
use super::sync::{AtomicU64, Ordering, zeroed_u64};

const TIME_SHIFT: u32 = 6;
const TIME_MASK: u64 = (1 << (64 - TIME_SHIFT)) - 1;
const VALID: u64 = 1 << 5;
const PATH_MASK: u64 = 0x1f;

/// The flow table.
pub struct FlowTable {
    entries: Box<[AtomicU64]>,
    index_mask: usize,
    gap_ns: u64,
    slack_ns: u64,
}

/// What a lookup found.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    /// Entry index.
    pub index: usize,
    /// Entry value as read.
    pub value: u64,
}

impl FlowTable {
    /// A table of `entries` (power of two) entries with flowlet gap `gap_ns` (> 0).
    pub fn new(entries: usize, gap_ns: u64) -> Self {
        Self {
            entries: zeroed_u64(entries),
            index_mask: entries - 1,
            gap_ns,
            slack_ns: gap_ns / 8,
        }
    }

    /// Packs an entry.
    #[inline]
    pub fn pack(path: usize, now_ns: u64) -> u64 {
        ((now_ns & TIME_MASK) << TIME_SHIFT) | VALID | (path as u64 & PATH_MASK)
    }

    /// The path of an entry.
    #[inline]
    pub fn path_of(value: u64) -> usize {
        // PATH_MASK keeps 5 bits.
        usize::try_from(value & PATH_MASK).unwrap_or(0)
    }

    /// Age of an entry at `now` (0 if the entry's time is ahead of `now`, as can happen when CPUs
    /// pass slightly different clocks).
    #[inline]
    fn age(value: u64, now_ns: u64) -> u64 {
        let then = value >> TIME_SHIFT;
        let age = (now_ns & TIME_MASK).wrapping_sub(then) & TIME_MASK;
        if age > TIME_MASK / 2 { 0 } else { age }
    }

    /// Reads the entry for a flow hash.
    #[inline]
    pub fn slot(&self, flow_hash: u64) -> Slot {
        let index = usize::try_from(mix64(flow_hash)).unwrap_or(0) & self.index_mask;
        let value = self
            .entries
            .get(index)
            .map_or(0, |e| e.load(Ordering::Acquire));
        Slot { index, value }
    }

    /// The path an entry still pins at `now`: valid, not expired, and eligible under `mask`.
    #[inline]
    pub fn live_path(&self, value: u64, now_ns: u64, mask: u32) -> Option<usize> {
        if value & VALID == 0 || Self::age(value, now_ns) >= self.gap_ns + self.slack_ns {
            return None;
        }
        let p = Self::path_of(value);
        (mask & bit(p) != 0).then_some(p)
    }

    /// Refreshes the last-seen time of a live entry if it is at least `slack` old. A lost race
    /// means another CPU refreshed or re-placed it; either way nothing is to be done.
    #[inline]
    pub fn refresh(&self, slot: Slot, now_ns: u64) {
        if Self::age(slot.value, now_ns) >= self.slack_ns.max(1)
            && let Some(e) = self.entries.get(slot.index)
        {
            let new = Self::pack(Self::path_of(slot.value), now_ns);
            let _ = e.compare_exchange(slot.value, new, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// Places the flow on `path` if the entry still holds `slot.value`. On a lost race returns the
    /// entry's current value (the winner's placement).
    ///
    /// # Errors
    /// The entry changed since it was read; the error carries its current value.
    #[inline]
    pub fn place(&self, slot: Slot, path: usize, now_ns: u64) -> Result<(), u64> {
        match self.entries.get(slot.index) {
            Some(e) => e
                .compare_exchange(
                    slot.value,
                    Self::pack(path, now_ns),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .map(|_| ()),
            None => Ok(()),
        }
    }

    /// The configured gap.
    pub fn gap_ns(&self) -> u64 {
        self.gap_ns
    }
}
