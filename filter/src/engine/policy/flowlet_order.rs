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
//! shares when flowlets are alike: after `n` flowlets over `k` paths, a path of share `s` has
//! carried `c` with `-1 < c - n·s < k·s` (docs/engine.md; the rounding favours the faster paths). A path that lagged (left out by an avoid mask, or re-learned
//! with a larger share) is charged from at most one of its own flowlets behind the latest
//! placement's start (the latest of the paths' `finish - reciprocal share`), so it does not catch
//! up in a burst; a path that re-enters the eligible set starts from the latest finish time.
//!
//! Concurrency. The finish time is moved with a CAS loop, so concurrent placements on one path are
//! each charged; two CPUs choosing at the same instant may both pick the same path where one of
//! them would have picked another — one flowlet out of order, not a lost charge. A placement whose
//! flow another CPU placed at the same moment (the flow table's CAS lost, the flow follows the
//! winner) stays charged: one flowlet too many on the books of a path, on a race that needs two
//! CPUs starting the same flow at once. Times wrap; they
//! are compared as signed offsets from one eligible path's, and every eligible path's is within a
//! few reciprocal shares (at most 2^32 each) of the others'. A placement reads the finish times
//! (one or two cache lines) and writes one of them: nothing else is shared.

use alloc::boxed::Box;

use super::super::mask::Bits;
use super::super::sync::{AtomicU64, Ordering, zeroed_u64};

/// The shared placement order of one group: each path's virtual finish time. (Nothing else is
/// shared: the latest placement's start is derived from the finish times, so a placement writes
/// one word.)
pub struct FlowletOrder {
    finish: Box<[AtomicU64]>,
}

impl FlowletOrder {
    /// An order over `paths` paths, every finish time at 0.
    pub fn new(paths: usize) -> Self {
        Self {
            finish: zeroed_u64(paths),
        }
    }

    /// Places one flowlet among `mask`, `inverse(p)` being path `p`'s reciprocal share (Q32, at
    /// most 2^32, nonzero). `None` when no path of `mask` is known.
    ///
    /// A path's key is its finish time plus one flowlet, but no earlier than one flowlet after the
    /// latest start (the latest `finish - inverse` of the paths): `max(finish + inverse, start)`.
    /// The minimum of those is `max(min(finish + inverse), start)`, so one pass finds both; when
    /// the clamp decides, the most lagging path is taken (it is charged from `start - inverse`).
    #[inline]
    pub fn place(&self, mask: u32, inverse: impl Fn(usize) -> u64) -> Option<usize> {
        let first = usize::try_from(mask.trailing_zeros()).ok()?;
        let base = self.finish.get(first)?.load(Ordering::Relaxed);
        // Times as signed offsets from `base` (module docs: they are close to each other).
        let offset = |t: u64| {
            // Reinterpreting the wrapped difference as signed is the point.
            #[allow(clippy::cast_possible_wrap)]
            let d = t.wrapping_sub(base) as i64;
            d
        };
        let mut best = i64::MAX;
        let mut start = i64::MIN;
        for p in Bits(mask) {
            let Some(f) = self.finish.get(p) else {
                continue;
            };
            let f = f.load(Ordering::Relaxed);
            let inv = inverse(p);
            // The offset is within a few 2^32 of 0: room for the index in the low 4 bits.
            #[allow(clippy::cast_possible_wrap)]
            let key = (offset(f.wrapping_add(inv)) << 4) | p as i64;
            best = best.min(key);
            start = start.max(offset(f.wrapping_sub(inv)));
        }
        let p = usize::try_from(best & 15).ok()?;
        let f = self.finish.get(p)?;
        let inv = inverse(p);
        // The earliest a flowlet on `p` may be charged from: one flowlet before the latest start.
        let floor = base.wrapping_add_signed(start).wrapping_sub(inv);
        let mut seen = f.load(Ordering::Relaxed);
        loop {
            // Reinterpreting the wrapped difference as signed is the point.
            #[allow(clippy::cast_possible_wrap)]
            let lagging = floor.wrapping_sub(seen) as i64 > 0;
            let from = if lagging { floor } else { seen };
            match f.compare_exchange_weak(
                seen,
                from.wrapping_add(inv),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(p),
                Err(now) => seen = now,
            }
        }
    }

    /// `path` re-entered the eligible set: its finish time moves to the latest of the other paths',
    /// not left wherever it stood when the path left — after a long absence that could be so far
    /// back that it would wrap (control plane).
    pub fn reinstate(&self, path: usize) {
        let Some(f) = self.finish.get(path) else {
            return;
        };
        let others = self.finish.iter().enumerate().filter(|&(p, _)| p != path);
        let latest = others
            .map(|(_, g)| g.load(Ordering::Relaxed))
            .reduce(|a, b| {
                // Reinterpreting the wrapped difference as signed is the point.
                #[allow(clippy::cast_possible_wrap)]
                let later = a.wrapping_sub(b) as i64 > 0;
                if later { a } else { b }
            });
        if let Some(t) = latest {
            f.store(t, Ordering::Relaxed);
        }
    }
}
