//! Failover only: all traffic on the eligible path with the best (lowest) priority; ties go to the
//! lower path id. Standby paths are used only when no Active path exists (the eligible-set tiers
//! guarantee that).

use super::super::config::PathConfig;
use super::super::mask::bit;
use super::super::types::{MAX_PATHS, SendRequest};
use super::{Choice, HotCtx, PathStatus, Policy, TickCtx};

/// The failover-only policy.
pub struct FailoverOnly {
    order: [u8; MAX_PATHS],
    len: usize,
}

impl FailoverOnly {
    /// Precomputes the priority order.
    pub fn new(paths: &[PathConfig]) -> Self {
        let mut order = [0u8; MAX_PATHS];
        let len = paths.len().min(MAX_PATHS);
        for (i, o) in order.iter_mut().enumerate().take(len) {
            #[allow(clippy::cast_possible_truncation)] // i < 16
            {
                *o = i as u8;
            }
        }
        order[..len].sort_by_key(|&i| (paths[usize::from(i)].priority, i));
        Self { order, len }
    }
}

impl FailoverOnly {
    /// The first path of `mask` in priority order.
    #[inline]
    fn first(&self, mask: u32) -> Option<usize> {
        self.order[..self.len]
            .iter()
            .map(|&p| usize::from(p))
            .find(|&p| mask & bit(p) != 0)
    }
}

impl Policy for FailoverOnly {
    fn name(&self) -> &'static str {
        "failover-only"
    }

    fn status(&self, ctx: &TickCtx<'_>, path: usize) -> PathStatus {
        let rank = self.order[..self.len]
            .iter()
            .position(|&p| usize::from(p) == path)
            .and_then(|r| u8::try_from(r).ok());
        let share = if self.first(ctx.mask) == Some(path) {
            1_000_000
        } else {
            0
        };
        PathStatus {
            rank,
            share_ppm: Some(share),
            ..PathStatus::default()
        }
    }

    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, _req: &SendRequest, _now_ns: u64) -> Choice {
        match self.first(ctx.mask) {
            Some(p) => Choice::Path(p),
            None => Choice::NoPath,
        }
    }
}
