//! Weighted paths (the MSDSM policy of that name): the eligible path with the lowest admin weight
//! wins; paths tied at the lowest weight share the load round robin.

use super::super::sync::Ordering;
use super::super::types::SendRequest;
use super::{Choice, HotCtx, Policy, argmin_rotating};

/// The weighted-paths policy.
pub struct WeightedPaths;

impl Policy for WeightedPaths {
    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, _req: &SendRequest, _now_ns: u64) -> Choice {
        argmin_rotating(ctx, |p| {
            u64::from(ctx.paths[p].weight.load(Ordering::Relaxed))
        })
    }
}
