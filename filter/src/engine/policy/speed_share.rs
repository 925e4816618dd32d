//! Speed share (the design's dynamic balancer): each path gets a share of the bytes proportional to
//! its measured transfer speed.
//!
//! Measurement. On every successful completion the completing CPU extends its busy time for the
//! path by the part of the NBL's service that did not overlap the path's previous completion:
//! `busy += now - max(now - latency, last_completion)`. The busy time is per CPU; the time of the
//! path's last completion is the later of the CPU's own and the path's shared one (one cache line
//! per path, stored by the completing CPU when it moves it forward — the one shared write per
//! completion, and only the first NBL of a completion chain on a CPU moves it). For a path that
//! serves its queue in order this is exactly `len / speed`, whether the path is idle, queueing or
//! backlogged, and on however many CPUs it completes. With only the CPU's own last completion (as
//! before), an NBL that queued behind NBLs completed on other CPUs counted their service again:
//! a path that was busy but not saturated was measured at the throughput it carried rather than
//! its speed, and shares settled a few percent away from the speed ratio (docs/balancing.md, (i)).
//! Two CPUs completing at the same instant may both miss the other's store (or move it back by
//! their clock difference): one NBL's overlap counted twice, bounded by the cap below. `tick` sums
//! bytes and busy time over the CPUs, caps the busy time at the wall time since the previous tick,
//! and folds `bytes / busy` into an EWMA whose half-life is measured in busy time:
//! `est = est * 2^(-busy/H) + sample * (1 - 2^(-busy/H))`.
//!
//! Shares. `tick` normalises the estimates into Q16 weights and publishes them on a
//! [`ShareBoard`]. A path with no completion for `stale_after_ns` gets at least the probe share,
//! so a path whose estimate is stale (or was learned while it was slow) still carries some traffic
//! and its speed is re-learned.
//!
//! Selection (per CPU, no shared writes): earliest virtual finish time (default) or byte-weighted
//! smooth weighted round robin; see docs/engine.md for the choice and the measured comparison.
//!
//! Placement of new flowlets (flowlets on): one order shared by all CPUs, a flowlet per turn, by
//! the same shares ([`FlowletOrder`]: why per-CPU orders place long-lived flows badly).

use alloc::boxed::Box;

use super::super::config::{PathConfig, ShareScheduler, SpeedShareConfig};
use super::super::ewma::{decay_q32, ewma_mix};
use super::super::mask::{Bits, bit};
use super::super::shares::{SHARE_ONE, ShareBoard, inverse_of, weight_of};
use super::super::sync::{AtomicI64, AtomicU64, Ordering, local_add, zeroed_u64};
use super::super::types::{Completion, CompletionStatus, MAX_PATHS, SendRequest};
use super::flowlet_order::FlowletOrder;
use super::{Choice, HotCtx, PathStatus, Policy, TickCtx, ppm};

/// Speed assumed for a path whose link speed is unknown: 1 Gbit/s, in bytes per second.
const DEFAULT_BYTES_PER_S: u64 = 125_000_000;
/// Lengths charged to the scheduler are clamped to this (16 MiB).
const MAX_CHARGE: u64 = 1 << 24;

/// The speed-share policy.
pub struct SpeedShare {
    cfg: SpeedShareConfig,
    board: ShareBoard,
    /// Estimated speed, bytes per second.
    estimate: Box<[AtomicU64]>,
    last_bytes: Box<[AtomicU64]>,
    /// Each CPU's busy time per path at the previous tick (`cpu * paths + path`).
    seen_busy: Box<[AtomicU64]>,
    last_measured: Box<[AtomicU64]>,
    /// Time of the previous tick (the busy time of one tick period is capped at the wall time).
    last_tick: AtomicU64,
    /// Time of each path's latest completion on any CPU.
    last_done: Box<[LastDone]>,
    /// The order new flowlets are placed in.
    flowlets: FlowletOrder,
}

/// The time of a path's latest completion, on a cache line of its own (it is written on
/// completions of that path only).
#[repr(align(64))]
struct LastDone(AtomicU64);

impl SpeedShare {
    /// Set-up for `cpus` shards: estimates start at the configured link speeds.
    pub fn new(paths: &[PathConfig], cpus: u32, cfg: SpeedShareConfig) -> Self {
        let n = paths.len();
        let estimate = zeroed_u64(n);
        for (e, p) in estimate.iter().zip(paths) {
            let bps = if p.link_speed_bps == 0 {
                DEFAULT_BYTES_PER_S
            } else {
                (p.link_speed_bps / 8).max(1)
            };
            e.store(bps, Ordering::Relaxed);
        }
        let mut weights = [0u32; MAX_PATHS];
        normalise(&estimate, &mut weights[..n]);
        Self {
            cfg,
            board: ShareBoard::new(&weights[..n]),
            estimate,
            last_bytes: zeroed_u64(n),
            seen_busy: zeroed_u64(n * cpus as usize),
            last_measured: zeroed_u64(n),
            last_tick: AtomicU64::new(0),
            last_done: (0..n).map(|_| LastDone(AtomicU64::new(0))).collect(),
            flowlets: FlowletOrder::new(n),
        }
    }

    /// Refreshes this CPU's copies of the shares when the board moved on (or the scheduler
    /// state was reset). One shared load per selection otherwise.
    #[inline]
    fn sync_shares(&self, ctx: &HotCtx<'_>, reset: bool) {
        let g = self.board.generation();
        let shard = ctx.shard;
        let seen = seen_key(g, ctx.mask);
        if !reset && shard.gen_seen.load(Ordering::Relaxed) == seen {
            return;
        }
        let slot = self.board.slot(g);
        match self.cfg.scheduler {
            ShareScheduler::SmoothWrr => {
                for (p, e) in slot.iter().enumerate() {
                    // Packed entries are below 2^53 (see `shares::pack`).
                    #[allow(clippy::cast_possible_wrap)]
                    shard.sched[2 * p + 1]
                        .store(e.load(Ordering::Relaxed) as i64, Ordering::Relaxed);
                }
            }
            ShareScheduler::EarliestFinish => {
                // Compacted entries: the reciprocal share shifted past the 4 index bits that
                // the finish times carry.
                let order = shard.order.load(Ordering::Relaxed);
                for j in 0..ctx.mask.count_ones() as usize {
                    let p = usize::try_from((order >> (4 * j)) & 15).unwrap_or(0);
                    if let (Some(e), Some(d)) = (slot.get(p), shard.sched.get(2 * j + 1)) {
                        // The reciprocal is at most 2^32 (see `shares::pack`).
                        #[allow(clippy::cast_possible_wrap)]
                        d.store(
                            (inverse_of(e.load(Ordering::Relaxed)) << 4) as i64,
                            Ordering::Relaxed,
                        );
                    }
                }
            }
        }
        shard.gen_seen.store(seen, Ordering::Relaxed);
    }

    #[inline]
    fn select_wrr(ctx: &HotCtx<'_>, len: i64) -> Choice {
        let s = &ctx.shard.sched;
        let mut total = 0i64;
        let mut best = None;
        let mut best_credit = i64::MIN;
        for p in Bits(ctx.mask) {
            // Weights are below 2^20 (see `shares::pack`).
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_wrap)]
            let w = weight_of(s[2 * p + 1].load(Ordering::Relaxed) as u64) as i64;
            let c = s[2 * p].load(Ordering::Relaxed) + w * len;
            s[2 * p].store(c, Ordering::Relaxed);
            total += w;
            // Compiles to conditional moves (no mispredicted branch).
            if c > best_credit {
                best_credit = c;
                best = Some(p);
            }
        }
        match best {
            Some(p) => {
                s[2 * p].store(best_credit - total * len, Ordering::Relaxed);
                Choice::Path(p)
            }
            None => Choice::NoPath,
        }
    }

    /// Earliest finish time over the compacted entries of this CPU (entry `j` = the `j`-th
    /// eligible path): `sched[2j]` holds the path's virtual finish time shifted left by 4 with
    /// `j` in the low 4 bits, `sched[2j + 1]` its reciprocal share shifted left by 4. A path's
    /// key is then `vft + len·inv` in one multiply-add: the finish time with the entry index as
    /// tie-break, and the minimum is directly the chosen entry's new finish time. Virtual times
    /// wrap; they stay within a few NBLs' worth of each other, so keys are compared as signed
    /// offsets from the first entry's time. Branch-free, no bounds checks in the loop.
    #[inline]
    fn select_eft(ctx: &HotCtx<'_>, len: u64) -> Choice {
        let shard = ctx.shard;
        let k = ctx.mask.count_ones() as usize;
        let Some(s) = shard.sched.get(..2 * k) else {
            return Choice::NoPath;
        };
        let Some(first) = s.first() else {
            return Choice::NoPath;
        };
        #[allow(clippy::cast_sign_loss)]
        let base = first.load(Ordering::Relaxed) as u64;
        let key = |e: &[AtomicI64]| {
            #[allow(clippy::cast_sign_loss)]
            let f = (e[0].load(Ordering::Relaxed) as u64)
                .wrapping_add(len * e[1].load(Ordering::Relaxed) as u64);
            #[allow(clippy::cast_possible_wrap)]
            let offset = f.wrapping_sub(base) as i64;
            offset
        };
        // Two entries per step, so the chain of dependent minimums (the critical path from one
        // NBL's finish-time store to the next NBL's choice) is half as long.
        let mut best = i64::MAX;
        let mut quads = s.chunks_exact(4);
        for q in &mut quads {
            best = best.min(key(&q[..2]).min(key(&q[2..])));
        }
        let rest = quads.remainder();
        if rest.len() == 2 {
            best = best.min(key(rest));
        }
        #[allow(clippy::cast_sign_loss)]
        let vft = base.wrapping_add(best as u64);
        let j = usize::try_from(vft & 15).unwrap_or(0);
        if let Some(e) = s.get(2 * j) {
            #[allow(clippy::cast_possible_wrap)]
            e.store(vft as i64, Ordering::Relaxed);
        }
        let p = (shard.order.load(Ordering::Relaxed) >> (4 * j)) & 15;
        Choice::Path(usize::try_from(p).unwrap_or(0))
    }

    /// `select` after the eligible set or the share board changed: resynchronise this CPU's
    /// scheduler state and share copies first. Out of line (rare).
    #[inline(never)]
    fn select_resync(&self, ctx: &HotCtx<'_>, len: u64) -> Choice {
        let shard = ctx.shard;
        let reset = shard.sync_mask(ctx.mask);
        if reset && self.cfg.scheduler == ShareScheduler::EarliestFinish {
            // Compact the eligible paths; finish times start at 0 (with the entry index).
            let mut order = 0u64;
            for (j, p) in Bits(ctx.mask).enumerate() {
                order |= (p as u64) << (4 * j);
                if let Some(e) = shard.sched.get(2 * j) {
                    #[allow(clippy::cast_possible_wrap)]
                    e.store(j as i64, Ordering::Relaxed);
                }
            }
            shard.order.store(order, Ordering::Relaxed);
        }
        self.sync_shares(ctx, reset);
        self.schedule(ctx, len)
    }

    #[inline]
    fn schedule(&self, ctx: &HotCtx<'_>, len: u64) -> Choice {
        match self.cfg.scheduler {
            ShareScheduler::SmoothWrr => Self::select_wrr(ctx, i64::try_from(len).unwrap_or(1)),
            ShareScheduler::EarliestFinish => Self::select_eft(ctx, len),
        }
    }
}

/// What a CPU's share copies were made for: board generation and eligible mask.
#[inline]
fn seen_key(generation: u32, mask: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(mask)
}

/// Q16 weights proportional to the estimates (at least 1 each).
fn normalise(estimate: &[AtomicU64], out: &mut [u32]) {
    let total: u128 = estimate
        .iter()
        .map(|e| u128::from(e.load(Ordering::Relaxed)))
        .sum();
    for (o, e) in out.iter_mut().zip(estimate) {
        let w = (u128::from(e.load(Ordering::Relaxed)) * u128::from(SHARE_ONE))
            .checked_div(total)
            .unwrap_or(1);
        *o = u32::try_from(w).unwrap_or(SHARE_ONE).max(1);
    }
}

impl SpeedShare {
    /// Folds the bytes and busy time completed since the previous tick, `wall_ns` ago, into the
    /// speed estimates.
    fn measure(&self, ctx: &TickCtx<'_>, now_ns: u64, wall_ns: u64) {
        let n = self.estimate.len();
        for p in 0..n {
            let mut bytes = 0u64;
            let mut d_busy = 0u64;
            let mut cpus = 0u32;
            for (c, s) in ctx.shards.iter().enumerate() {
                let (Some(e), Some(seen)) = (s.paths.get(p), self.seen_busy.get(c * n + p)) else {
                    continue;
                };
                bytes = bytes.wrapping_add(e.done_bytes.load(Ordering::Relaxed));
                let busy = e.policy[0].load(Ordering::Relaxed);
                // Only tick writes `seen` (one caller at a time): a load and a store, not a
                // locked swap.
                let d = busy.wrapping_sub(seen.load(Ordering::Relaxed));
                seen.store(busy, Ordering::Relaxed);
                if d != 0 {
                    cpus += 1;
                    d_busy = d_busy.wrapping_add(d);
                }
            }
            let d_bytes = bytes.wrapping_sub(self.last_bytes[p].load(Ordering::Relaxed));
            self.last_bytes[p].store(bytes, Ordering::Relaxed);
            if cpus > 1 {
                // CPUs completing at the same instant can each miss the other's last completion
                // and count an overlap twice; the path cannot have been busy longer than the
                // period (exact for a path kept busy through it).
                d_busy = d_busy.min(wall_ns);
            }
            if d_busy == 0 || d_bytes == 0 {
                continue;
            }
            let sample = u128::from(d_bytes) * 1_000_000_000 / u128::from(d_busy);
            let sample = u64::try_from(sample).unwrap_or(u64::MAX).max(1);
            let decay = decay_q32(d_busy, self.cfg.half_life_ns);
            let old = self.estimate[p].load(Ordering::Relaxed);
            self.estimate[p].store(ewma_mix(old, sample, decay).max(1), Ordering::Relaxed);
            self.last_measured[p].store(now_ns, Ordering::Relaxed);
        }
    }
}

impl Policy for SpeedShare {
    fn name(&self) -> &'static str {
        "speed-share"
    }

    /// The published Q16 weight, the share it gives among the eligible paths and the estimated
    /// speed.
    fn status(&self, ctx: &TickCtx<'_>, path: usize) -> PathStatus {
        let mut w = [0u32; MAX_PATHS];
        let n = self.estimate.len().min(MAX_PATHS);
        self.board.weights(&mut w[..n]);
        let eligible: u64 = Bits(ctx.mask)
            .filter_map(|p| w.get(p))
            .map(|&x| u64::from(x))
            .sum();
        let weight = w.get(path).copied().filter(|_| path < n);
        let share = if ctx.mask & bit(path) == 0 {
            0
        } else {
            ppm(u64::from(weight.unwrap_or(0)), eligible)
        };
        PathStatus {
            weight,
            share_ppm: weight.map(|_| share),
            speed_bps: self
                .estimate
                .get(path)
                .map(|e| e.load(Ordering::Relaxed).saturating_mul(8)),
            ..PathStatus::default()
        }
    }

    // Small (the slow path is out of line): inlined into the group's dispatch, which measured
    // about 1 ns per NBL faster than leaving the choice to the inliner.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn select(&self, ctx: &HotCtx<'_>, req: &SendRequest, _now_ns: u64) -> Choice {
        let len = u64::from(req.len).clamp(1, MAX_CHARGE);
        let shard = ctx.shard;
        // Fast path: the scheduler state and share copies are current (one per-CPU load and one
        // read-only load of the board's generation, one compare).
        if shard.gen_seen.load(Ordering::Relaxed) != seen_key(self.board.generation(), ctx.mask) {
            return self.select_resync(ctx, len);
        }
        self.schedule(ctx, len)
    }

    /// Places a new flowlet in the group's shared order, by the published shares (read-only loads
    /// of the board; one CAS on the chosen path's finish time).
    #[inline]
    fn place(&self, ctx: &HotCtx<'_>, _req: &SendRequest, _now_ns: u64) -> Choice {
        let slot = self.board.current();
        let inverse = |p: usize| {
            slot.get(p)
                .map_or(1 << 32, |e| inverse_of(e.load(Ordering::Relaxed)))
                .max(1)
        };
        self.flowlets
            .place(ctx.mask, inverse)
            .map_or(Choice::NoPath, Choice::Path)
    }

    #[inline]
    fn on_complete(&self, ctx: &HotCtx<'_>, c: &Completion, now_ns: u64) {
        if c.status != CompletionStatus::Ok {
            return;
        }
        let Some(e) = ctx.shard.paths.get(c.path.index()) else {
            return;
        };
        let [busy, last_done] = &e.policy;
        let mine = last_done.load(Ordering::Relaxed);
        let path_last = self.last_done.get(c.path.index()).map(|l| &l.0);
        let anyone = path_last.map_or(0, |l| l.load(Ordering::Relaxed));
        let start = now_ns.saturating_sub(c.latency_ns).max(mine).max(anyone);
        if now_ns > mine {
            last_done.store(now_ns, Ordering::Relaxed);
        }
        // Written only when it moves forward: a chain of completions on one CPU at one instant
        // writes the shared line once.
        if now_ns > anyone
            && let Some(l) = path_last
        {
            l.store(now_ns, Ordering::Relaxed);
        }
        local_add(busy, now_ns.saturating_sub(start));
    }

    fn on_reinstate(&self, path: usize, _now_ns: u64) {
        self.flowlets.reinstate(path);
    }

    fn on_link_speed(&self, path: usize, bps: u64, _now_ns: u64) {
        // A path never moves data faster than its link: a lower link speed caps the estimate at
        // once (the next tick publishes the shares), where measuring alone would take the EWMA's
        // half-lives. A higher one is left to measurement, except for a path not measured yet,
        // whose estimate is still the configured speed.
        let Some(e) = self.estimate.get(path) else {
            return;
        };
        let cap = (bps / 8).max(1);
        let never_measured = self
            .last_measured
            .get(path)
            .is_some_and(|m| m.load(Ordering::Relaxed) == 0);
        let current = e.load(Ordering::Relaxed);
        if current > cap || never_measured {
            e.store(cap, Ordering::Relaxed);
        }
    }

    fn tick(&self, ctx: &TickCtx<'_>, now_ns: u64) {
        let n = self.estimate.len();
        let prev = self.last_tick.load(Ordering::Relaxed);
        if now_ns > prev {
            self.last_tick.store(now_ns, Ordering::Relaxed);
            self.measure(ctx, now_ns, now_ns - prev);
        }
        let mut weights = [0u32; MAX_PATHS];
        normalise(&self.estimate, &mut weights[..n]);
        let floor =
            u32::try_from(u64::from(self.cfg.probe_share_ppm) * u64::from(SHARE_ONE) / 1_000_000)
                .unwrap_or(1)
                .max(1);
        for (p, w) in weights[..n].iter_mut().enumerate() {
            let stale = now_ns.saturating_sub(self.last_measured[p].load(Ordering::Relaxed))
                > self.cfg.stale_after_ns;
            if stale && ctx.mask & bit(p) != 0 {
                *w = (*w).max(floor);
            }
        }
        self.board.publish(&weights[..n]);
    }
}
