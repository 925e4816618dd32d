//! Least blocks: the eligible path with the fewest bytes in flight (ties rotate).

use super::super::types::SendRequest;
use super::{Choice, HotCtx, Inflight, Policy, argmin_rotating};

/// The least-blocks policy.
pub struct LeastBlocks;

impl Policy for LeastBlocks {
    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, _req: &SendRequest, _now_ns: u64) -> Choice {
        argmin_rotating(ctx, |p| ctx.paths[p].inflight_bytes())
    }

    fn inflight(&self) -> Inflight {
        Inflight::Bytes
    }
}
