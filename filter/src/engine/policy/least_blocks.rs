//! Least blocks: the eligible path with the fewest bytes in flight (ties rotate).
//!
//! Bytes in flight are read as least-queue-depth reads NBLs: the caller's own now, the other
//! CPUs' as of the last tick.

use super::super::counters::Unit;
use super::super::types::SendRequest;
use super::{
    Choice, HotCtx, PathStatus, Policy, TickCtx, argmin_rotating, inflight_load, publish_inflight,
};

/// The least-blocks policy.
pub struct LeastBlocks;

impl Policy for LeastBlocks {
    fn name(&self) -> &'static str {
        "least-blocks"
    }

    fn status(&self, ctx: &TickCtx<'_>, path: usize) -> PathStatus {
        PathStatus {
            inflight: Some(inflight_load(ctx, path, Unit::Bytes)),
            ..PathStatus::default()
        }
    }

    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, _req: &SendRequest, _now_ns: u64) -> Choice {
        argmin_rotating(ctx, |p| ctx.shard.paths[p].inflight_view(Unit::Bytes))
    }

    fn tick(&self, ctx: &TickCtx<'_>, _now_ns: u64) {
        publish_inflight(ctx, Unit::Bytes);
    }
}
