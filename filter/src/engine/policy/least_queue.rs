//! Least queue depth: the eligible path with the fewest NBLs in flight (ties rotate).

use super::super::types::SendRequest;
use super::{Choice, HotCtx, Inflight, Policy, argmin_rotating};

/// The least-queue-depth policy.
pub struct LeastQueueDepth;

impl Policy for LeastQueueDepth {
    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, _req: &SendRequest, _now_ns: u64) -> Choice {
        argmin_rotating(ctx, |p| ctx.paths[p].inflight_nbls())
    }

    fn inflight(&self) -> Inflight {
        Inflight::Nbls
    }
}
