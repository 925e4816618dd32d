//! Weighted paths (the MSDSM policy of that name): the eligible path with the lowest admin weight
//! wins; paths tied at the lowest weight share the load round robin.

use super::super::mask::{Bits, bit};
use super::super::sync::Ordering;
use super::super::types::SendRequest;
use super::{Choice, HotCtx, PathStatus, Policy, TickCtx, argmin_rotating, equal_share};

/// The weighted-paths policy.
pub struct WeightedPaths;

impl Policy for WeightedPaths {
    fn name(&self) -> &'static str {
        "weighted-paths"
    }

    fn status(&self, ctx: &TickCtx<'_>, path: usize) -> PathStatus {
        let weight = |p: usize| ctx.paths.get(p).map(|s| s.weight.load(Ordering::Relaxed));
        // The eligible paths tied at the lowest weight share the traffic equally.
        let lowest = Bits(ctx.mask).filter_map(weight).min();
        let winners = Bits(ctx.mask)
            .filter(|&p| weight(p) == lowest)
            .fold(0u32, |m, p| m | bit(p));
        PathStatus {
            weight: weight(path),
            share_ppm: Some(equal_share(winners, path)),
            ..PathStatus::default()
        }
    }

    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, _req: &SendRequest, _now_ns: u64) -> Choice {
        argmin_rotating(ctx, |p| {
            u64::from(ctx.paths[p].weight.load(Ordering::Relaxed))
        })
    }
}
