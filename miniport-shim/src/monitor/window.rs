//! The completion error-rate sliding window: a ring of time buckets.
//!
//! The window of length W is cut into [`WINDOW_BUCKETS`] buckets of W/16. A completion lands in the
//! bucket of its time; a sum covers the current bucket and the 15 before it, so it sees between
//! W - W/16 and W of history: the window slides in steps of W/16 (its granularity), it does not
//! reset every W.
#![forbid(unsafe_code)]

use crate::contract::WINDOW_BUCKETS;

const BUCKETS: usize = WINDOW_BUCKETS as usize;

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    /// 1 + the bucket's index on the time axis; 0 marks a bucket never used.
    epoch: u64,
    completions: u32,
    errors: u32,
}

/// Completions and errors over a sliding window.
#[derive(Clone, Copy, Debug)]
pub struct ErrorWindow {
    width_ns: u64,
    buckets: [Bucket; BUCKETS],
}

impl ErrorWindow {
    /// An empty window of `window_ms` (a validated, non-zero bucket multiple).
    pub fn new(window_ms: u32) -> Self {
        Self {
            width_ns: u64::from(window_ms / WINDOW_BUCKETS) * 1_000_000,
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    fn epoch(&self, now_ns: u64) -> u64 {
        now_ns / self.width_ns + 1
    }

    /// Adds `completions` (of which `errors` failed) at `now_ns`.
    pub fn record(&mut self, now_ns: u64, completions: u32, errors: u32) {
        let epoch = self.epoch(now_ns);
        // The modulo keeps the index below BUCKETS, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let slot = &mut self.buckets[(epoch % BUCKETS as u64) as usize];
        if slot.epoch != epoch {
            *slot = Bucket {
                epoch,
                completions: 0,
                errors: 0,
            };
        }
        slot.completions = slot.completions.saturating_add(completions);
        slot.errors = slot.errors.saturating_add(errors);
    }

    /// `(completions, errors)` inside the window ending at `now_ns`.
    pub fn totals(&self, now_ns: u64) -> (u32, u32) {
        let current = self.epoch(now_ns);
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        let (mut completions, mut errors) = (0u32, 0u32);
        for b in &self.buckets {
            if b.epoch != 0 && (oldest..=current).contains(&b.epoch) {
                completions = completions.saturating_add(b.completions);
                errors = errors.saturating_add(b.errors);
            }
        }
        (completions, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn slides_bucket_by_bucket_instead_of_resetting() {
        // 1600 ms window: 100 ms buckets.
        let mut w = ErrorWindow::new(1_600);
        w.record(0, 10, 5);
        w.record(800 * MS, 10, 1);
        assert_eq!(w.totals(800 * MS), (20, 6));
        // At 1599 ms the first bucket (0..100 ms) is still one of the last 16.
        assert_eq!(w.totals(1_599 * MS), (20, 6));
        // At 1600 ms it slid out, the 800 ms bucket stays.
        assert_eq!(w.totals(1_600 * MS), (10, 1));
        assert_eq!(w.totals(2_399 * MS), (10, 1));
        assert_eq!(w.totals(2_400 * MS), (0, 0));
    }

    #[test]
    fn a_reused_slot_forgets_its_old_epoch() {
        let mut w = ErrorWindow::new(1_600);
        w.record(50 * MS, 7, 7);
        // 1650 ms maps to the same slot, one lap later.
        w.record(1_650 * MS, 1, 0);
        assert_eq!(w.totals(1_650 * MS), (1, 0));
    }

    #[test]
    fn sums_saturate() {
        let mut w = ErrorWindow::new(160);
        w.record(0, u32::MAX, u32::MAX);
        w.record(20 * MS, 5, 5);
        assert_eq!(w.totals(20 * MS), (u32::MAX, u32::MAX));
    }
}
