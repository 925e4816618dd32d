//! One earliest-finish order, shared by all CPUs, in which speed-share places new flowlets.
//!
//! Why shared. With flowlets on, `select` runs once per flowlet, not per NBL; for long-lived
//! flows that never pause (bulk transfers), where the first NBL goes is all the balancing there is,
//! and it has to be right to one flow per path: 64 equal flows over 10G / 10G / 1G need 31 / 30 / 3,
//! and one flow too many on a 10G path costs the team 6 % of its rate. Per-CPU orders each start in
//! phase — every CPU hands its first placements to the fast paths, and the slow path's first turn
//! comes after 20 of them — so four CPUs placing 16 flows each gave the 1G path one flow or none
//! (docs/balancing.md, (d)). Placements are rare (one per flowlet, next to the flow table's own CAS
//! per placement), so one order for the whole group costs a shared write per flowlet, not per NBL.
//!
//! The order. Each path has a virtual finish time; a new flowlet goes to the path whose finish
//! time plus its reciprocal share is smallest (ties: the lowest index), and that path's finish time
//! moves on by its reciprocal share. Every flowlet is charged the same — its size is unknown when
//! it starts — so paths receive new flowlets in proportion to their shares, and bytes follow the
//! shares when flowlets are alike. A path that lagged (left out by an avoid mask, or re-learned
//! with a larger share) is charged from at most one of its own flowlets behind the latest
//! placement's start, so it does not catch up in a burst; a path that re-enters the eligible set
//! starts at that point.
//!
//! Concurrency. The finish time is moved with a CAS loop, so concurrent placements on one path are
//! each charged; two CPUs choosing at the same instant may both pick the same path where one of
//! them would have picked another — one flowlet out of order, not a lost charge. Times wrap; they
//! are compared as signed offsets from the latest start, within a few reciprocal shares (at most
//! 2^32 each) of it for every eligible path.

use alloc::boxed::Box;

use super::super::mask::Bits;
use super::super::sync::{AtomicU64, Ordering, zeroed_u64};

/// The shared placement order of one group.
pub struct FlowletOrder {
    /// Each path's virtual finish time.
    finish: Box<[AtomicU64]>,
    /// The start time of the latest placement.
    start: AtomicU64,
}

impl FlowletOrder {
    /// An order over `paths` paths, every finish time at 0.
    pub fn new(paths: usize) -> Self {
        Self {
            finish: zeroed_u64(paths),
            start: AtomicU64::new(0),
        }
    }

    /// Places one flowlet among `mask`, `inverse(p)` being path `p`'s reciprocal share (Q32, at
    /// most 2^32, nonzero). `None` when no path of `mask` is known.
    #[inline]
    pub fn place(&self, mask: u32, inverse: impl Fn(usize) -> u64) -> Option<usize> {
        let v = self.start.load(Ordering::Relaxed);
        let mut best = u64::MAX;
        for p in Bits(mask) {
            let Some(f) = self.finish.get(p) else {
                continue;
            };
            let inv = inverse(p);
            let key = lag_clamped(f.load(Ordering::Relaxed), v, inv).wrapping_add(inv);
            // The key's offset from `v` is below 2^34 (see the module docs): room for the index
            // in the low 4 bits.
            best = best.min((key.wrapping_sub(v) << 4) | p as u64);
        }
        let p = usize::try_from(best & 15)
            .ok()
            .filter(|_| best != u64::MAX)?;
        let inv = inverse(p);
        let f = &self.finish[p];
        let mut seen = f.load(Ordering::Relaxed);
        loop {
            let s = lag_clamped(seen, v, inv);
            match f.compare_exchange_weak(
                seen,
                s.wrapping_add(inv),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if later(s, self.start.load(Ordering::Relaxed)) {
                        self.start.store(s, Ordering::Relaxed);
                    }
                    return Some(p);
                }
                Err(now) => seen = now,
            }
        }
    }

    /// `path` re-entered the eligible set: its next flowlet is charged from the latest start, not
    /// from wherever its finish time stood when it left (control plane).
    pub fn reinstate(&self, path: usize) {
        if let Some(f) = self.finish.get(path) {
            f.store(self.start.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// `finish`, or `start - inv` if it lags further behind: at most one of its own flowlets behind.
#[inline]
fn lag_clamped(finish: u64, start: u64, inv: u64) -> u64 {
    let floor = start.wrapping_sub(inv);
    if later(floor, finish) { floor } else { finish }
}

/// `a` is after `b` on the wrapping time line.
#[inline]
fn later(a: u64, b: u64) -> bool {
    // Reinterpreting the wrapped difference as signed is the point.
    #[allow(clippy::cast_possible_wrap)]
    let d = a.wrapping_sub(b) as i64;
    d > 0
}
