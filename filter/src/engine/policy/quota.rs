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
//! Outstanding cap: targets hash into `target_slots` slots. Each (slot, path) owns exactly `max`
//! *credits*; an outstanding NBL holds one. A credit is always in exactly one place: the shared
//! pool of its (slot, path) (an `AtomicU32`), the local pool of one CPU (an `AtomicU8` that only
//! that CPU index writes, with a relaxed load and store: no locked instruction), or an NBL in
//! flight. Selecting takes a credit from the CPU's local pool; when that is empty it leases a batch
//! from the shared pool with one compare-and-swap (which fails when the pool is empty). Completion
//! (or `release`) returns the credit to the completing CPU's local pool, and spills a batch back to
//! the shared pool (one locked instruction) when the local pool reaches its hold limit. Credits are
//! conserved, so a (slot, path) never has more than `max` NBLs outstanding, however the CPUs
//! interleave (loom models `quota_reservation_never_exceeds_max`, `quota_leases_conserve_credits`).
//!
//! Trade-off: a CPU may hold up to `hold` idle credits per (slot, path), and another CPU cannot
//! take them (taking them safely would need a locked instruction or a store-load fence on the
//! owner's fast path, which is exactly what leasing avoids). `hold = min((max - 1) / cpus, 32)`,
//! so the idle credits of all CPUs together are fewer than `max`: a `Defer` is returned only while
//! at least `max - cpus · hold ≥ 1` NBLs of that (slot, path) are outstanding (a completion is
//! always on its way), and for the only CPU of a one-CPU group (or with `hold = 0`) `Defer` means
//! exactly `max` outstanding. CPU indices at or beyond the shard count have no local pool and use
//! the shared pool directly (exact, two locked instructions per NBL); so does every CPU when
//! `max ≤ cpus` (`hold = 0`).

use alloc::boxed::Box;

use super::super::config::QuotaConfig;
use super::super::mask::bit;
use super::super::sync::{AtomicU8, AtomicU32, Ordering, zeroed_u32};
use super::super::types::{Completion, SendRequest, TargetKey};
use super::{Choice, HotCtx, PathStatus, Policy, TickCtx, weighted_share};

/// Upper limit of the idle credits one CPU keeps per (slot, path).
const HOLD_MAX: u32 = 32;

/// The quota policy.
pub struct Quota {
    paths: usize,
    max_outstanding: u32,
    /// Right shift taking a target's multiplicative hash to its slot (`64 - log2(target_slots)`,
    /// at most 63) and the slot mask (0 with one slot).
    slot_shift: u32,
    slot_mask: u64,
    /// Credits not leased to a CPU, per (slot, path) (`slot * paths + path`).
    pool: Box<[AtomicU32]>,
    /// Credits leased to each CPU: CPU `c`'s entry for index `i` is `local[c * stride + i]`.
    local: Box<[AtomicU8]>,
    /// Entries per CPU, padded so that two CPUs' entries never share a cache line.
    stride: usize,
    /// Number of CPUs with a local pool (the group's shard count).
    cpus: usize,
    /// Most idle credits a CPU keeps per (slot, path).
    hold: u32,
}

impl Quota {
    /// Set-up: allocates the credit pools.
    pub fn new(paths: usize, cpus: u32, cfg: QuotaConfig) -> Self {
        let max = cfg.max_outstanding_per_target;
        let slots = if max == 0 {
            0
        } else {
            cfg.target_slots as usize
        };
        let entries = slots * paths;
        // cpus · hold < max: the idle credits of all local pools never add up to `max`, so a
        // caller finds none only while a completion is on its way.
        let hold = (max.saturating_sub(1) / cpus.max(1)).min(HOLD_MAX);
        let (cpus, stride) = if hold == 0 || entries == 0 {
            (0, 0)
        } else if cfg!(all(loom, test)) {
            (cpus as usize, entries)
        } else {
            // At least 63 bytes between two CPUs' entries, whatever the allocation's alignment.
            (cpus as usize, (entries + 2 * 63) & !63)
        };
        let pool = zeroed_u32(entries);
        for c in &*pool {
            c.store(max, Ordering::Relaxed);
        }
        Self {
            paths,
            max_outstanding: max,
            slot_shift: (64 - cfg.target_slots.max(1).trailing_zeros()).min(63),
            slot_mask: u64::from(cfg.target_slots.max(1) - 1),
            pool,
            local: (0..cpus * stride).map(|_| AtomicU8::new(0)).collect(),
            stride,
            cpus,
            hold,
        }
    }

    /// Index of (target's slot, path 0).
    #[inline]
    fn slot_base(&self, target: TargetKey) -> usize {
        // Fibonacci (multiplicative) hashing: one multiply, the slot from the high bits.
        let h = target.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        usize::try_from((h >> self.slot_shift) & self.slot_mask).unwrap_or(0) * self.paths
    }

    /// The local pool of `cpu` for entry `i`, if that CPU has one.
    #[inline]
    fn local(&self, cpu: u32, i: usize) -> Option<&AtomicU8> {
        let cpu = cpu as usize;
        if cpu < self.cpus {
            self.local.get(cpu * self.stride + i)
        } else {
            None
        }
    }

    /// Outstanding NBLs of entry `i` (statistics and tests): the credits that are in neither the
    /// shared pool nor a local pool. Read while other CPUs select it is approximate (a credit
    /// moving between pools may be missed or counted twice), but never above the maximum.
    fn outstanding_entry(&self, i: usize) -> u32 {
        let mut free = self.pool.get(i).map_or(0, |c| c.load(Ordering::Acquire));
        for cpu in 0..self.cpus {
            if let Some(l) = self.local.get(cpu * self.stride + i) {
                free = free.saturating_add(u32::from(l.load(Ordering::Acquire)));
            }
        }
        self.max_outstanding.saturating_sub(free)
    }

    /// The configured maximum (0 = unlimited).
    pub fn max_outstanding(&self) -> u32 {
        self.max_outstanding
    }

    /// Idle credits a CPU may keep per (slot, path) (see the module documentation).
    pub fn hold(&self) -> u32 {
        self.hold
    }

    /// Takes up to `want` credits from the shared pool of entry `i` (one successful CAS).
    #[inline]
    fn lease(&self, i: usize, want: u32) -> u32 {
        let Some(c) = self.pool.get(i) else {
            return 0;
        };
        let mut cur = c.load(Ordering::Relaxed);
        loop {
            if cur == 0 {
                return 0;
            }
            let take = cur.min(want);
            match c.compare_exchange_weak(cur, cur - take, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return take,
                Err(now) => cur = now,
            }
        }
    }

    /// Returns `n` credits to the shared pool of entry `i` (one locked instruction). The pool is
    /// never raised above the maximum (a caller completing NBLs it never sent cannot inflate it).
    #[cold]
    #[inline(never)]
    fn give_back(&self, i: usize, n: u32) {
        if let Some(c) = self.pool.get(i) {
            let mut cur = c.load(Ordering::Relaxed);
            loop {
                let new = cur.saturating_add(n).min(self.max_outstanding);
                match c.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed) {
                    Ok(_) => return,
                    Err(now) => cur = now,
                }
            }
        }
    }

    /// Refills an empty local pool: leases `hold / 2 + 1` credits, uses one, keeps the rest.
    #[cold]
    #[inline(never)]
    fn refill(&self, l: &AtomicU8, i: usize) -> bool {
        let got = self.lease(i, self.hold / 2 + 1);
        if got == 0 {
            return false;
        }
        // got - 1 <= hold / 2 <= HOLD_MAX fits a u8.
        l.store(u8::try_from(got - 1).unwrap_or(0), Ordering::Relaxed);
        true
    }

    /// Takes one credit of entry `i` for `cpu`; `false` when none is available to it.
    #[inline]
    fn reserve(&self, cpu: u32, i: usize) -> bool {
        if self.max_outstanding == 0 {
            return true;
        }
        match self.local(cpu, i) {
            Some(l) => {
                let have = l.load(Ordering::Relaxed);
                if have > 0 {
                    l.store(have - 1, Ordering::Relaxed);
                    true
                } else {
                    self.refill(l, i)
                }
            }
            None => self.lease(i, 1) == 1,
        }
    }

    /// Returns one credit of entry `i` on `cpu`.
    #[inline]
    fn unreserve(&self, cpu: u32, i: usize) {
        if self.max_outstanding == 0 {
            return;
        }
        match self.local(cpu, i) {
            Some(l) => {
                let have = u32::from(l.load(Ordering::Relaxed));
                if have < self.hold {
                    // have + 1 <= hold <= HOLD_MAX fits a u8.
                    l.store(u8::try_from(have + 1).unwrap_or(0), Ordering::Relaxed);
                } else {
                    // Keep half, spill the rest (and this credit) in one instruction.
                    let keep = self.hold / 2;
                    l.store(u8::try_from(keep).unwrap_or(0), Ordering::Relaxed);
                    self.give_back(i, have + 1 - keep);
                }
            }
            None => self.give_back(i, 1),
        }
    }
}

/// Clamp for lengths charged to a deficit (keeps the arithmetic far from overflow).
const MAX_CHARGE: i64 = 1 << 30;

impl Quota {
    /// The rest of `select` after the fast path (which tried the current path if `tried` is
    /// set and found it capped). Out of line, so the fast path needs few registers.
    #[inline(never)]
    fn select_slow(&self, ctx: &HotCtx<'_>, req: &SendRequest, base: usize, tried: bool) -> Choice {
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

        // Stay on the current path while it has credit. (The cursor is always a path index;
        // no division.)
        let cur = shard.cursor.load(Ordering::Relaxed) as usize;
        let cur = if cur < n { cur } else { 0 };
        if ctx.mask & bit(cur) != 0 {
            if tried {
                capped |= bit(cur);
            } else {
                let d = deficit(cur).load(Ordering::Relaxed);
                if d > 0 {
                    if self.reserve(ctx.cpu, base + cur) {
                        return take(cur, d);
                    }
                    capped |= bit(cur);
                }
            }
        }
        for pass in 0..2 {
            // One round of arrivals: cur+1, ..., cur (each arrival adds the path's quota).
            let mut p = cur;
            for _ in 0..n {
                p += 1;
                if p == n {
                    p = 0;
                }
                if ctx.mask & !capped & bit(p) == 0 {
                    continue;
                }
                let d = deficit(p).load(Ordering::Relaxed) + quota(p);
                deficit(p).store(d, Ordering::Relaxed);
                if d > 0 {
                    if self.reserve(ctx.cpu, base + p) {
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
}

impl Policy for Quota {
    fn name(&self) -> &'static str {
        "quota"
    }

    /// The quota, the share it gives among the eligible paths, and the NBLs outstanding over all
    /// target slots (`None` without a cap; costs one pass over slots × CPUs).
    fn status(&self, ctx: &TickCtx<'_>, path: usize) -> PathStatus {
        let quota = |p: usize| ctx.paths.get(p).map(|s| s.quota.load(Ordering::Relaxed));
        let outstanding = (self.max_outstanding != 0 && path < self.paths).then(|| {
            (path..self.pool.len())
                .step_by(self.paths)
                .map(|i| self.outstanding_entry(i))
                .fold(0u32, u32::saturating_add)
        });
        PathStatus {
            weight: quota(path),
            share_ppm: Some(weighted_share(ctx.mask, path, |p| {
                u64::from(quota(p).unwrap_or(0))
            })),
            outstanding,
            ..PathStatus::default()
        }
    }

    fn outstanding(&self, target: TargetKey, path: usize) -> Option<u32> {
        if self.max_outstanding == 0 || path >= self.paths {
            return Some(0);
        }
        Some(self.outstanding_entry(self.slot_base(target) + path))
    }

    // Small (the slow path is out of line): inlined into the group's dispatch, which measured
    // about 1 ns per NBL faster than leaving the choice to the inliner.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn select(&self, ctx: &HotCtx<'_>, req: &SendRequest, _now_ns: u64) -> Choice {
        let base = if self.max_outstanding == 0 {
            0
        } else {
            self.slot_base(req.target)
        };
        // Fast path: same eligible set as last time, and the current path still has a positive
        // deficit and a credit for this target.
        let shard = ctx.shard;
        let cur = shard.cursor.load(Ordering::Relaxed) as usize;
        if shard.mask_seen.load(Ordering::Relaxed) == ctx.mask
            && ctx.mask & bit(cur) != 0
            && let Some(deficit) = shard.sched.get(2 * cur)
        {
            let d = deficit.load(Ordering::Relaxed);
            if d > 0 {
                if !self.reserve(ctx.cpu, base + cur) {
                    return self.select_slow(ctx, req, base, true);
                }
                let len = i64::from(req.len).clamp(1, MAX_CHARGE);
                deficit.store(d - len, Ordering::Relaxed);
                return Choice::Path(cur);
            }
        }
        self.select_slow(ctx, req, base, false)
    }

    #[inline]
    fn admit(&self, ctx: &HotCtx<'_>, path: usize, req: &SendRequest) -> bool {
        path >= self.paths || self.reserve(ctx.cpu, self.slot_base(req.target) + path)
    }

    #[inline]
    fn release(&self, ctx: &HotCtx<'_>, path: usize, req: &SendRequest) {
        if path < self.paths && self.max_outstanding != 0 {
            self.unreserve(ctx.cpu, self.slot_base(req.target) + path);
        }
    }

    #[inline]
    fn on_complete(&self, ctx: &HotCtx<'_>, c: &Completion, _now_ns: u64) {
        let path = c.path.index();
        if path < self.paths && self.max_outstanding != 0 {
            self.unreserve(ctx.cpu, self.slot_base(c.target) + path);
        }
    }
}
