//! Round robin: each CPU rotates through the eligible paths independently (no shared cursor, so no
//! cache-line contention); across CPUs the load evens out.

use super::super::mask::next_after;
use super::super::sync::Ordering;
use super::super::types::SendRequest;
use super::{Choice, HotCtx, PathStatus, Policy, TickCtx, equal_share};

/// The round-robin policy.
pub struct RoundRobin;

impl Policy for RoundRobin {
    fn name(&self) -> &'static str {
        "round-robin"
    }

    fn status(&self, ctx: &TickCtx<'_>, path: usize) -> PathStatus {
        PathStatus {
            share_ppm: Some(equal_share(ctx.mask, path)),
            ..PathStatus::default()
        }
    }

    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, _req: &SendRequest, _now_ns: u64) -> Choice {
        let cur = ctx.shard.cursor.load(Ordering::Relaxed) as usize;
        match next_after(ctx.mask, cur) {
            Some(p) => {
                #[allow(clippy::cast_possible_truncation)] // p < 16
                ctx.shard.cursor.store(p as u32, Ordering::Relaxed);
                Choice::Path(p)
            }
            None => Choice::NoPath,
        }
    }
}
