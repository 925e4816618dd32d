//! Balancing policies. One trait ([`Policy`]), one file per policy; the group dispatches through
//! [`AnyPolicy`] (an enum, so calls are static and inlinable).
//!
//! The hooks follow dm-multipath's path selectors: `select` chooses among the paths the control plane
//! made eligible (it never sees a Failed, Recovering or lower-tier path), `on_send` /
//! `on_complete` observe traffic, `on_fail` / `on_reinstate` are called when a path leaves or
//! enters the eligible set, and `tick` runs periodic work on the control plane. Hot hooks take
//! `&self` and run concurrently on many CPUs; per-CPU state lives in the caller's
//! `CpuShard`.

pub mod failover;
pub mod hash;
pub mod least_blocks;
pub mod least_queue;
pub mod quota;
pub mod round_robin;
pub mod service_time;
pub mod speed_share;
pub mod weighted;

use super::config::{GroupConfig, PolicyConfig};
use super::counters::CpuShard;
use super::table::PathShared;
use super::types::{Completion, SendRequest};

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

/// What `tick` sees.
pub struct TickCtx<'a> {
    /// Eligible paths.
    pub mask: u32,
    /// All shards (to sum counters).
    pub shards: &'a [CpuShard],
    /// The shared path table.
    pub paths: &'a [PathShared],
}

/// The policy hooks.
pub trait Policy {
    /// Chooses a path for one NBL among `ctx.mask` (non-empty).
    fn select(&self, ctx: &HotCtx<'_>, req: &SendRequest, now_ns: u64) -> Choice;

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

    /// Periodic control-plane work (one caller at a time).
    fn tick(&self, _ctx: &TickCtx<'_>, _now_ns: u64) {}

    /// Which shared in-flight counter the group must maintain for this policy.
    fn inflight(&self) -> Inflight {
        Inflight::None
    }
}

/// Shared in-flight counters a policy reads (each costs two locked instructions per NBL, so the
/// group maintains only the one the policy needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inflight {
    /// None.
    None,
    /// NBLs in flight per path.
    Nbls,
    /// Bytes in flight per path.
    Bytes,
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
                Self::SpeedShare(speed_share::SpeedShare::new(&cfg.paths, s))
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

impl Policy for AnyPolicy {
    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, req: &SendRequest, now_ns: u64) -> Choice {
        dispatch!(self, p => p.select(ctx, req, now_ns))
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
    fn tick(&self, ctx: &TickCtx<'_>, now_ns: u64) {
        dispatch!(self, p => p.tick(ctx, now_ns));
    }
    fn inflight(&self) -> Inflight {
        dispatch!(self, p => p.inflight())
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
