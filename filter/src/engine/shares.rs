//! Share publication for speed-share: a two-slot board written only by `tick` and read without
//! locks by selection.
//!
//! `tick` writes the new weights into the slot readers are not directed to, then publishes it by
//! incrementing the generation with `Release`; readers load the generation with `Acquire` and read
//! that slot. A reader that overlaps two publications (two ticks during one select, which takes
//! nanoseconds) may read a mix of two generations: every value read is still a valid published
//! weight, and the schedulers compute totals from the values they read, so a mixed read only
//! affects that one choice.

use alloc::boxed::Box;

use super::sync::{AtomicU32, AtomicU64, Ordering, zeroed_u64};

/// Weights are Q16 shares: the weights of all paths sum to about this.
pub const SHARE_ONE: u32 = 1 << 16;

const WEIGHT_BITS: u32 = 20;
const WEIGHT_MASK: u64 = (1 << WEIGHT_BITS) - 1;

/// Packs a weight with its Q32 reciprocal.
#[inline]
pub fn pack(weight: u32) -> u64 {
    let w = u64::from(weight.clamp(1, SHARE_ONE * 4));
    let inv = (1u64 << 32) / w;
    (inv << WEIGHT_BITS) | w
}

/// The weight of a packed entry.
#[inline]
pub fn weight_of(entry: u64) -> u64 {
    // `pack` stores weights >= 1.
    entry & WEIGHT_MASK
}

/// The Q32 reciprocal weight of a packed entry.
#[inline]
pub fn inverse_of(entry: u64) -> u64 {
    entry >> WEIGHT_BITS
}

/// The two-slot board.
pub struct ShareBoard {
    generation: AtomicU32,
    slots: [Box<[AtomicU64]>; 2],
}

impl ShareBoard {
    /// A board for `paths` paths with initial weights.
    pub fn new(initial: &[u32]) -> Self {
        let board = Self {
            generation: AtomicU32::new(0),
            slots: [zeroed_u64(initial.len()), zeroed_u64(initial.len())],
        };
        for (slot, w) in board.slots[0].iter().zip(initial) {
            slot.store(pack(*w), Ordering::Relaxed);
        }
        board
    }

    /// The currently published slot (packed entries).
    #[inline]
    pub fn current(&self) -> &[AtomicU64] {
        self.slot(self.generation())
    }

    /// The current generation (`Acquire`: entries of its slot are visible after this load).
    #[inline]
    pub fn generation(&self) -> u32 {
        self.generation.load(Ordering::Acquire)
    }

    /// The slot of generation `g`.
    #[inline]
    pub fn slot(&self, g: u32) -> &[AtomicU64] {
        &self.slots[(g & 1) as usize]
    }

    /// Publishes new weights (single writer: the control plane).
    pub fn publish(&self, weights: &[u32]) {
        let g = self.generation.load(Ordering::Relaxed);
        let next = &self.slots[((g + 1) & 1) as usize];
        for (slot, w) in next.iter().zip(weights) {
            slot.store(pack(*w), Ordering::Relaxed);
        }
        self.generation.store(g.wrapping_add(1), Ordering::Release);
    }

    /// The published weights (unpacked), for statistics and tests.
    pub fn weights(&self, out: &mut [u32]) {
        for (o, e) in out.iter_mut().zip(self.current()) {
            *o = u32::try_from(weight_of(e.load(Ordering::Relaxed))).unwrap_or(u32::MAX);
        }
    }
}
