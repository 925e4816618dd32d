//! Quota (the design's static balancer): weighted deficit round robin with a per-path data quota in
//! bytes per round, plus a maximum number of outstanding NBLs per (target, path).
//!
//! DRR: the CPU stays on its current path while that path's deficit is positive, charging each NBL's
//! length (the deficit may go negative: the debt is repaid in later rounds, so long-run bytes per
//! path are exactly proportional to the quotas). Moving to the next path adds that path's quota.
//! When a whole round ends with no positive deficit (NBLs longer than the quotas), the rounds that
//! would only add quotas are applied at once, so a selection costs at most three passes over the
//! paths. Each CPU runs its own DRR; their sum has the same proportions.
//!
//! Outstanding cap: targets hash into `target_slots` slots; each (slot, path) has an atomic count.
//! Selecting a path reserves one count with a compare-and-swap that fails at the maximum, so the
//! count never exceeds it, even with many CPUs selecting at once; `on_complete` (or `release`)
//! returns it. A path at the maximum for the NBL's target is skipped; when every eligible path is,
//! select returns `Defer`.

use alloc::boxed::Box;

use super::super::config::QuotaConfig;
use super::super::mask::{bit, mix64};
use super::super::sync::{AtomicU32, Ordering, zeroed_u32};
use super::super::types::{Completion, SendRequest, TargetKey};
use super::{Choice, HotCtx, Policy};

/// The quota policy.
pub struct Quota {
    paths: usize,
    max_outstanding: u32,
    slot_mask: u64,
    outstanding: Box<[AtomicU32]>,
}

impl Quota {
    /// Set-up: allocates the outstanding table.
    pub fn new(paths: usize, cfg: QuotaConfig) -> Self {
        let slots = if cfg.max_outstanding_per_target == 0 {
            0
        } else {
            cfg.target_slots as usize
        };
        Self {
            paths,
            max_outstanding: cfg.max_outstanding_per_target,
            slot_mask: u64::from(cfg.target_slots.max(1) - 1),
            outstanding: zeroed_u32(slots * paths),
        }
    }

    #[inline]
    fn counter(&self, target: TargetKey, path: usize) -> Option<&AtomicU32> {
        let slot = usize::try_from(mix64(target.0) & self.slot_mask).unwrap_or(0);
        self.outstanding.get(slot * self.paths + path)
    }

    /// Outstanding NBLs for (target, path) (statistics and tests).
    pub fn outstanding(&self, target: TargetKey, path: usize) -> u32 {
        self.counter(target, path)
            .map_or(0, |c| c.load(Ordering::Acquire))
    }

    /// The configured maximum (0 = unlimited).
    pub fn max_outstanding(&self) -> u32 {
        self.max_outstanding
    }

    #[inline]
    fn reserve(&self, target: TargetKey, path: usize) -> bool {
        if self.max_outstanding == 0 {
            return true;
        }
        let Some(c) = self.counter(target, path) else {
            return true;
        };
        let mut cur = c.load(Ordering::Relaxed);
        loop {
            if cur >= self.max_outstanding {
                return false;
            }
            match c.compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    #[inline]
    fn unreserve(&self, target: TargetKey, path: usize) {
        if self.max_outstanding == 0 {
            return;
        }
        if let Some(c) = self.counter(target, path) {
            // One locked instruction; if a caller completed something it never reserved, undo.
            if c.fetch_sub(1, Ordering::AcqRel) == 0 {
                c.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

/// Clamp for lengths charged to a deficit (keeps the arithmetic far from overflow).
const MAX_CHARGE: i64 = 1 << 30;

impl Policy for Quota {
    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, req: &SendRequest, _now_ns: u64) -> Choice {
        let shard = ctx.shard;
        shard.sync_mask(ctx.mask);
        let n = self.paths;
        let len = i64::from(req.len).clamp(1, MAX_CHARGE);
        let deficit = |p: usize| &shard.sched[2 * p];
        let quota = |p: usize| i64::from(ctx.paths[p].quota.load(Ordering::Relaxed).max(1));
        let mut capped = 0u32;
        let take = |p: usize, d: i64| {
            deficit(p).store(d - len, Ordering::Relaxed);
            #[allow(clippy::cast_possible_truncation)] // p < 16
            shard.cursor.store(p as u32, Ordering::Relaxed);
            Choice::Path(p)
        };

        // Stay on the current path while it has credit.
        let cur = (shard.cursor.load(Ordering::Relaxed) as usize) % n.max(1);
        if ctx.mask & bit(cur) != 0 {
            let d = deficit(cur).load(Ordering::Relaxed);
            if d > 0 {
                if self.reserve(req.target, cur) {
                    return take(cur, d);
                }
                capped |= bit(cur);
            }
        }
        for pass in 0..2 {
            // One round of arrivals: cur+1, ..., cur (each arrival adds the path's quota).
            for k in 1..=n {
                let p = (cur + k) % n;
                if ctx.mask & !capped & bit(p) == 0 {
                    continue;
                }
                let d = deficit(p).load(Ordering::Relaxed) + quota(p);
                deficit(p).store(d, Ordering::Relaxed);
                if d > 0 {
                    if self.reserve(req.target, p) {
                        return take(p, d);
                    }
                    capped |= bit(p);
                }
            }
            if pass == 1 {
                break;
            }
            // Nobody reached credit in a whole round: skip the rounds that would only add quotas.
            let live = ctx.mask & !capped;
            let mut rounds = i64::MAX;
            for p in super::super::mask::Bits(live) {
                let d = deficit(p).load(Ordering::Relaxed);
                let q = quota(p);
                rounds = rounds.min((1 - d + q - 1) / q);
            }
            if live == 0 || rounds == i64::MAX {
                break;
            }
            let extra = rounds.saturating_sub(1);
            if extra > 0 {
                for p in super::super::mask::Bits(live) {
                    let d = deficit(p).load(Ordering::Relaxed);
                    deficit(p).store(d + extra * quota(p), Ordering::Relaxed);
                }
            }
        }
        Choice::Defer
    }

    #[inline]
    fn admit(&self, _ctx: &HotCtx<'_>, path: usize, req: &SendRequest) -> bool {
        self.reserve(req.target, path)
    }

    #[inline]
    fn release(&self, _ctx: &HotCtx<'_>, path: usize, req: &SendRequest) {
        self.unreserve(req.target, path);
    }

    #[inline]
    fn on_complete(&self, _ctx: &HotCtx<'_>, c: &Completion, _now_ns: u64) {
        self.unreserve(c.target, c.path.index());
    }
}
