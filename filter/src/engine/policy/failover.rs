//! Failover only: all traffic on the eligible path with the best (lowest) priority; ties go to the
//! lower path id. Standby paths are used only when no Active path exists (the eligible-set tiers
//! guarantee that).

use super::super::config::PathConfig;
use super::super::mask::bit;
use super::super::types::{MAX_PATHS, SendRequest};
use super::{Choice, HotCtx, Policy};

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

impl Policy for FailoverOnly {
    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, _req: &SendRequest, _now_ns: u64) -> Choice {
        for &p in &self.order[..self.len] {
            let p = usize::from(p);
            if ctx.mask & bit(p) != 0 {
                return Choice::Path(p);
            }
        }
        Choice::NoPath
    }
}
