//! Balancing policies. One trait ([`Policy`]), one file per policy; the group dispatches through
//! [`AnyPolicy`] (an enum, so calls are static and inlinable).
//!
//! The hooks follow dm-multipath's path selectors: `select` chooses among the paths the control plane
//! made eligible (it never sees a Failed, Recovering or lower-tier path), `on_send` /
//! `on_complete` observe traffic, `on_fail` / `on_reinstate` are called when a path leaves or
//! enters the eligible set, and `tick` runs periodic work on the control plane. Hot hooks take
//! `&self` and run concurrently on many CPUs; per-CPU state lives in the caller's
//! `CpuShard`.
//!
//! Policies describe themselves: [`Policy::name`] (the configuration's name) and
//! [`Policy::status`] (a [`PathStatus`] of generic fields), so that nothing outside a policy's own
//! file needs to know which policy it is.

pub mod failover;
pub mod flowlet_order;
pub mod hash;
pub mod least_blocks;
pub mod least_queue;
pub mod quota;
pub mod round_robin;
pub mod service_time;
pub mod speed_share;
pub mod weighted;

use super::config::{GroupConfig, PolicyConfig};
use super::counters::{CpuShard, Unit};
use super::mask::Bits;
use super::table::PathShared;
use super::types::{Completion, SendRequest, TargetKey};

/// A policy's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Use this path index.
    Path(usize),
    /// Every eligible path is at its limit: the caller should queue.
    Defer,
    /// Nothing eligible.
    NoPath,
}

/// What a hot hook sees.
pub struct HotCtx<'a> {
    /// Eligible paths (bit per path), already reduced to the best tier.
    pub mask: u32,
    /// The calling CPU's index as passed by the caller (may be out of the shard range: then
    /// `shard` is shared with another index and policies must not keep per-CPU leases in it).
    pub cpu: u32,
    /// The calling CPU's shard.
    pub shard: &'a CpuShard,
    /// The shared path table.
    pub paths: &'a [PathShared],
}

/// What the control-plane hooks (`tick`, `status`) see.
pub struct TickCtx<'a> {
    /// Eligible paths.
    pub mask: u32,
    /// All shards (to sum counters).
    pub shards: &'a [CpuShard],
    /// The shared path table.
    pub paths: &'a [PathShared],
}

/// An in-flight load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// NBLs in flight.
    Nbls(u64),
    /// Bytes in flight.
    Bytes(u64),
}

/// What a policy reports about one path: generic fields, each `None` when the policy has no such
/// notion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathStatus {
    /// The share of the group's traffic the policy currently directs to the path, in parts per
    /// million of the eligible paths' total (0 for a path outside the eligible set). `None` when
    /// it depends on the traffic itself (address hash, the in-flight balancers).
    pub share_ppm: Option<u32>,
    /// Position in the policy's order of preference (0 = the path it uses first).
    pub rank: Option<u8>,
    /// The weight the policy schedules by, in its own unit (admin weight, quota bytes per round,
    /// Q16 speed share).
    pub weight: Option<u32>,
    /// The in-flight load the policy balances, summed over all CPUs.
    pub inflight: Option<Load>,
    /// Measured transfer speed, bits per second.
    pub speed_bps: Option<u64>,
    /// NBLs holding a credit of an outstanding cap, over all targets.
    pub outstanding: Option<u32>,
}

/// `part / total` in parts per million (0 when `total` is 0).
pub(crate) fn ppm(part: u64, total: u64) -> u32 {
    u32::try_from(u128::from(part) * 1_000_000 / u128::from(total.max(1))).unwrap_or(u32::MAX)
}

/// Share of an equal split over `mask`: `1/k` of the traffic for each of its `k` paths.
pub(crate) fn equal_share(mask: u32, path: usize) -> u32 {
    if mask & super::mask::bit(path) == 0 {
        0
    } else {
        ppm(1, u64::from(mask.count_ones()))
    }
}

/// Share proportional to `weight(p)` over `mask`.
pub(crate) fn weighted_share(mask: u32, path: usize, weight: impl Fn(usize) -> u64) -> u32 {
    if mask & super::mask::bit(path) == 0 {
        return 0;
    }
    let total: u64 = Bits(mask).map(&weight).sum();
    ppm(weight(path), total)
}

/// The policy hooks.
pub trait Policy {
    /// The policy's stable lower-case name, as the configuration spells it (`"speed-share"`).
    fn name(&self) -> &'static str;

    /// What the policy knows about `path` (control plane: statistics, the path table).
    fn status(&self, _ctx: &TickCtx<'_>, _path: usize) -> PathStatus {
        PathStatus::default()
    }

    /// NBLs outstanding for (`target`, `path`) under the policy's outstanding cap; `None` when the
    /// policy has no such cap.
    fn outstanding(&self, _target: TargetKey, _path: usize) -> Option<u32> {
        None
    }

    /// Chooses a path for one NBL among `ctx.mask` (non-empty).
    fn select(&self, ctx: &HotCtx<'_>, req: &SendRequest, now_ns: u64) -> Choice;

    /// Chooses a path for a new flowlet (a flow's first NBL, or its first after an idle gap)
    /// among `ctx.mask` (non-empty); with flowlets on, the group calls this instead of `select`
    /// when the flow table pins no path. The default is `select`.
    #[inline]
    fn place(&self, ctx: &HotCtx<'_>, req: &SendRequest, now_ns: u64) -> Choice {
        self.select(ctx, req, now_ns)
    }

    /// Admission of a path chosen by flowlet affinity rather than by `select` (the quota policy
    /// reserves an outstanding slot here). `false` means the caller must defer.
    fn admit(&self, _ctx: &HotCtx<'_>, _path: usize, _req: &SendRequest) -> bool {
        true
    }

    /// Undoes `select` / `admit` for an NBL that will not be sent.
    fn release(&self, _ctx: &HotCtx<'_>, _path: usize, _req: &SendRequest) {}

    /// An NBL was handed to `path`.
    fn on_send(&self, _ctx: &HotCtx<'_>, _path: usize, _req: &SendRequest, _now_ns: u64) {}

    /// An NBL completed.
    fn on_complete(&self, _ctx: &HotCtx<'_>, _c: &Completion, _now_ns: u64) {}

    /// `path` left the eligible set.
    fn on_fail(&self, _path: usize, _now_ns: u64) {}

    /// `path` entered the eligible set.
    fn on_reinstate(&self, _path: usize, _now_ns: u64) {}

    /// `path`'s link now runs at `bps` bits per second (control plane, one caller at a time).
    fn on_link_speed(&self, _path: usize, _bps: u64, _now_ns: u64) {}

    /// Periodic control-plane work (one caller at a time).
    fn tick(&self, _ctx: &TickCtx<'_>, _now_ns: u64) {}
}

/// Every policy, for static dispatch.
pub enum AnyPolicy {
    /// Failover only.
    Failover(failover::FailoverOnly),
    /// Round robin.
    RoundRobin(round_robin::RoundRobin),
    /// Weighted paths.
    Weighted(weighted::WeightedPaths),
    /// Least queue depth.
    LeastQueue(least_queue::LeastQueueDepth),
    /// Least blocks.
    LeastBlocks(least_blocks::LeastBlocks),
    /// Address hash.
    Hash(hash::AddressHash),
    /// Service time.
    ServiceTime(service_time::ServiceTime),
    /// Quota.
    Quota(quota::Quota),
    /// Speed share.
    SpeedShare(speed_share::SpeedShare),
}

impl AnyPolicy {
    /// Builds the configured policy (set-up: allocates).
    pub fn build(cfg: &GroupConfig) -> Self {
        let n = cfg.paths.len();
        match cfg.policy {
            PolicyConfig::FailoverOnly => Self::Failover(failover::FailoverOnly::new(&cfg.paths)),
            PolicyConfig::RoundRobin => Self::RoundRobin(round_robin::RoundRobin),
            PolicyConfig::WeightedPaths => Self::Weighted(weighted::WeightedPaths),
            PolicyConfig::LeastQueueDepth => Self::LeastQueue(least_queue::LeastQueueDepth),
            PolicyConfig::LeastBlocks => Self::LeastBlocks(least_blocks::LeastBlocks),
            PolicyConfig::AddressHash(layer) => Self::Hash(hash::AddressHash::new(layer)),
            PolicyConfig::ServiceTime => Self::ServiceTime(service_time::ServiceTime),
            PolicyConfig::Quota(q) => Self::Quota(quota::Quota::new(n, cfg.cpus, q)),
            PolicyConfig::SpeedShare(s) => {
                Self::SpeedShare(speed_share::SpeedShare::new(&cfg.paths, cfg.cpus, s))
            }
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $p:ident => $e:expr) => {
        match $self {
            AnyPolicy::Failover($p) => $e,
            AnyPolicy::RoundRobin($p) => $e,
            AnyPolicy::Weighted($p) => $e,
            AnyPolicy::LeastQueue($p) => $e,
            AnyPolicy::LeastBlocks($p) => $e,
            AnyPolicy::Hash($p) => $e,
            AnyPolicy::ServiceTime($p) => $e,
            AnyPolicy::Quota($p) => $e,
            AnyPolicy::SpeedShare($p) => $e,
        }
    };
}

impl AnyPolicy {
    /// `select` of the policies other than the two balancers.
    #[inline]
    fn select_other(&self, ctx: &HotCtx<'_>, req: &SendRequest, now_ns: u64) -> Choice {
        dispatch!(self, p => p.select(ctx, req, now_ns))
    }
}

impl Policy for AnyPolicy {
    fn name(&self) -> &'static str {
        dispatch!(self, p => p.name())
    }
    fn status(&self, ctx: &TickCtx<'_>, path: usize) -> PathStatus {
        dispatch!(self, p => p.status(ctx, path))
    }
    fn outstanding(&self, target: TargetKey, path: usize) -> Option<u32> {
        dispatch!(self, p => p.outstanding(target, path))
    }
    /// The fast paths of the two balancers (a few instructions; their slow paths are out of line)
    /// are tested first and inlined into the group's `select`; the others go through the full
    /// dispatch (which the compiler may keep out of line). Forcing this small match inline
    /// measured about 1.3 ns per NBL faster for those two than leaving it to the inliner.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn select(&self, ctx: &HotCtx<'_>, req: &SendRequest, now_ns: u64) -> Choice {
        match self {
            Self::SpeedShare(s) => s.select(ctx, req, now_ns),
            Self::Quota(q) => q.select(ctx, req, now_ns),
            other => other.select_other(ctx, req, now_ns),
        }
    }
    #[inline]
    fn place(&self, ctx: &HotCtx<'_>, req: &SendRequest, now_ns: u64) -> Choice {
        match self {
            Self::SpeedShare(s) => s.place(ctx, req, now_ns),
            other => other.select(ctx, req, now_ns),
        }
    }
    #[inline]
    fn admit(&self, ctx: &HotCtx<'_>, path: usize, req: &SendRequest) -> bool {
        dispatch!(self, p => p.admit(ctx, path, req))
    }
    #[inline]
    fn release(&self, ctx: &HotCtx<'_>, path: usize, req: &SendRequest) {
        dispatch!(self, p => p.release(ctx, path, req));
    }
    #[inline]
    fn on_send(&self, ctx: &HotCtx<'_>, path: usize, req: &SendRequest, now_ns: u64) {
        dispatch!(self, p => p.on_send(ctx, path, req, now_ns));
    }
    #[inline]
    fn on_complete(&self, ctx: &HotCtx<'_>, c: &Completion, now_ns: u64) {
        dispatch!(self, p => p.on_complete(ctx, c, now_ns));
    }
    fn on_fail(&self, path: usize, now_ns: u64) {
        dispatch!(self, p => p.on_fail(path, now_ns));
    }
    fn on_reinstate(&self, path: usize, now_ns: u64) {
        dispatch!(self, p => p.on_reinstate(path, now_ns));
    }
    fn on_link_speed(&self, path: usize, bps: u64, now_ns: u64) {
        dispatch!(self, p => p.on_link_speed(path, bps, now_ns));
    }
    fn tick(&self, ctx: &TickCtx<'_>, now_ns: u64) {
        dispatch!(self, p => p.tick(ctx, now_ns));
    }
}

/// Index of the minimum of `key` over `mask`, ties broken in rotation order after the CPU's
/// cursor (which is then moved to the winner), so equal paths share the load.
#[inline]
pub(crate) fn argmin_rotating(ctx: &HotCtx<'_>, key: impl Fn(usize) -> u64) -> Choice {
    use super::sync::Ordering;
    if ctx.mask == 0 {
        return Choice::NoPath;
    }
    let cur = ctx.shard.cursor.load(Ordering::Relaxed) as usize;
    // Branch-free arg-min (the winner is unpredictable, so branches would mispredict): pack the
    // key with the path's position in rotation order after `cur` in the low 4 bits; the minimum
    // packed value is the smallest key, ties going to the first path in rotation order.
    let mut best = u64::MAX;
    for p in super::mask::Bits(ctx.mask) {
        let rank = (p.wrapping_sub(cur + 1) & 15) as u64;
        best = best.min((key(p).min(1 << 59) << 4) | rank);
    }
    // The low 4 bits hold a rank < 16.
    let p = (usize::try_from(best & 15).unwrap_or(0) + cur + 1) & 15;
    #[allow(clippy::cast_possible_truncation)] // p < 16
    ctx.shard.cursor.store(p as u32, Ordering::Relaxed);
    Choice::Path(p)
}

/// `tick` of an in-flight balancer: publishes every path's in-flight load to every CPU (see
/// [`super::counters::publish_inflight`]).
pub(crate) fn publish_inflight(ctx: &TickCtx<'_>, unit: Unit) {
    for p in 0..ctx.paths.len() {
        super::counters::publish_inflight(ctx.shards, p, unit);
    }
}

/// The in-flight load of `path` summed over all CPUs now.
pub(crate) fn inflight_load(ctx: &TickCtx<'_>, path: usize, unit: Unit) -> Load {
    let t = super::counters::totals(ctx.shards, path);
    match unit {
        Unit::Nbls => Load::Nbls(t.inflight_nbls()),
        Unit::Bytes => Load::Bytes(t.inflight_bytes()),
    }
}
