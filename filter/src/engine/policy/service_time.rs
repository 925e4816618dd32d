//! Service time (dm-multipath's default selector): the eligible path minimising
//! `(in-flight bytes + len) / relative throughput`, where the relative throughput is the admin
//! weight. Compared by cross-multiplication (no division); ties rotate. In-flight bytes are read
//! as least-blocks reads them: the caller's own now, the other CPUs' as of the last tick.

use super::super::counters::Unit;
use super::super::mask::rotation;
use super::super::sync::Ordering;
use super::super::types::SendRequest;
use super::{Choice, HotCtx, PathStatus, Policy, TickCtx, inflight_load, publish_inflight};

/// The service-time policy.
pub struct ServiceTime;

impl Policy for ServiceTime {
    fn name(&self) -> &'static str {
        "service-time"
    }

    fn status(&self, ctx: &TickCtx<'_>, path: usize) -> PathStatus {
        PathStatus {
            weight: ctx
                .paths
                .get(path)
                .map(|p| p.weight.load(Ordering::Relaxed)),
            inflight: Some(inflight_load(ctx, path, Unit::Bytes)),
            ..PathStatus::default()
        }
    }

    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, req: &SendRequest, _now_ns: u64) -> Choice {
        let cur = ctx.shard.cursor.load(Ordering::Relaxed) as usize;
        let len = u64::from(req.len);
        // (work, weight) of a path: work / weight is its estimated service time. Work is clamped
        // at 2^40 bytes and weights are at most 2^20, so the cross products fit a u64.
        let load = |p: usize| {
            let work = ctx.shard.paths[p].inflight_view(Unit::Bytes).min(1 << 40) + len;
            let weight = u64::from(
                ctx.paths[p]
                    .weight
                    .load(Ordering::Relaxed)
                    .clamp(1, 1 << 20),
            );
            (work, weight)
        };
        let mut order = rotation(ctx.mask, cur);
        let Some(first) = order.next() else {
            return Choice::NoPath;
        };
        let (mut best, (mut bw, mut bwt)) = (first, load(first));
        for p in order {
            let (w, wt) = load(p);
            // Strictly better only, so ties stay with the first in rotation order; selects
            // rather than branches (the winner is unpredictable).
            let better = w * bwt < bw * wt;
            best = if better { p } else { best };
            bw = if better { w } else { bw };
            bwt = if better { wt } else { bwt };
        }
        #[allow(clippy::cast_possible_truncation)] // best < 16
        ctx.shard.cursor.store(best as u32, Ordering::Relaxed);
        Choice::Path(best)
    }

    fn tick(&self, ctx: &TickCtx<'_>, _now_ns: u64) {
        publish_inflight(ctx, Unit::Bytes);
    }
}
