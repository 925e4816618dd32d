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
        // Best so far as (work, weight): work / weight is the estimated service time.
        let mut best: Option<(usize, u128, u128)> = None;
        for p in rotation(ctx.mask, cur) {
            let work = u128::from(ctx.shard.paths[p].inflight_view(Unit::Bytes)) + u128::from(len);
            let weight = u128::from(ctx.paths[p].weight.load(Ordering::Relaxed).max(1));
            match best {
                Some((_, bw, bwt)) if work * bwt >= bw * weight => {}
                _ => best = Some((p, work, weight)),
            }
        }
        match best {
            Some((p, _, _)) => {
                #[allow(clippy::cast_possible_truncation)] // p < 16
                ctx.shard.cursor.store(p as u32, Ordering::Relaxed);
                Choice::Path(p)
            }
            None => Choice::NoPath,
        }
    }

    fn tick(&self, ctx: &TickCtx<'_>, _now_ns: u64) {
        publish_inflight(ctx, Unit::Bytes);
    }
}
