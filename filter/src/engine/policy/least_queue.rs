//! Least queue depth: the eligible path with the fewest NBLs in flight (ties rotate).
//!
//! The in-flight count is read from the caller's own shard: its own NBLs in flight now plus the
//! other CPUs' as of the last tick (see `counters::publish_inflight`), so selection writes and
//! reads nothing another CPU writes per NBL.

use super::super::counters::Unit;
use super::super::types::SendRequest;
use super::{
    Choice, HotCtx, PathStatus, Policy, TickCtx, argmin_rotating, inflight_load, publish_inflight,
};

/// The least-queue-depth policy.
pub struct LeastQueueDepth;

impl Policy for LeastQueueDepth {
    fn name(&self) -> &'static str {
        "least-queue-depth"
    }

    fn status(&self, ctx: &TickCtx<'_>, path: usize) -> PathStatus {
        PathStatus {
            inflight: Some(inflight_load(ctx, path, Unit::Nbls)),
            ..PathStatus::default()
        }
    }

    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, _req: &SendRequest, _now_ns: u64) -> Choice {
        argmin_rotating(ctx, |p| ctx.shard.paths[p].inflight_view(Unit::Nbls))
    }

    fn tick(&self, ctx: &TickCtx<'_>, _now_ns: u64) {
        publish_inflight(ctx, Unit::Nbls);
    }
}
