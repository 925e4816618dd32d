//! Per-CPU counter shards and per-CPU scheduler state.
//!
//! Each shard belongs to one processor index. Only calls carrying that index write it, and calls
//! carrying the same index never run at the same time (the caller's contract), so the shard is
//! updated with relaxed loads and stores instead of locked read-modify-writes. Any CPU may read any
//! shard (statistics, tick); it sees each counter's old or new value.

use alloc::boxed::Box;

use super::sync::{AtomicI64, AtomicU32, AtomicU64, Ordering, local_add, zeroed_i64, zeroed_u64};

/// Send / completion counters of one path on one CPU.
#[derive(Default)]
pub struct PathCounters {
    /// NBLs handed to the path.
    pub sent_nbls: AtomicU64,
    /// Bytes handed to the path.
    pub sent_bytes: AtomicU64,
    /// NBLs completed successfully.
    pub done_nbls: AtomicU64,
    /// Bytes completed successfully.
    pub done_bytes: AtomicU64,
    /// NBLs completed with an error.
    pub failed_nbls: AtomicU64,
    /// Bytes completed with an error.
    pub failed_bytes: AtomicU64,
}

/// Totals of [`PathCounters`] over all CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterTotals {
    /// NBLs handed to the path.
    pub sent_nbls: u64,
    /// Bytes handed to the path.
    pub sent_bytes: u64,
    /// NBLs completed successfully.
    pub completed_nbls: u64,
    /// Bytes completed successfully.
    pub completed_bytes: u64,
    /// NBLs completed with an error.
    pub failed_nbls: u64,
    /// Bytes completed with an error.
    pub failed_bytes: u64,
}

impl CounterTotals {
    /// NBLs in flight (sent and not yet completed).
    pub fn inflight_nbls(&self) -> u64 {
        self.sent_nbls
            .saturating_sub(self.completed_nbls + self.failed_nbls)
    }

    /// Bytes in flight.
    pub fn inflight_bytes(&self) -> u64 {
        self.sent_bytes
            .saturating_sub(self.completed_bytes + self.failed_bytes)
    }
}

/// One CPU's shard: counters per path plus scheduler state for the policy.
#[repr(align(64))]
pub struct CpuShard {
    /// Counters, one entry per path.
    pub counters: Box<[PathCounters]>,
    /// Policy cursor (round robin position, DRR current path).
    pub cursor: AtomicU32,
    /// Eligible mask this CPU's scheduler state was built for (reset when it changes).
    pub mask_seen: AtomicU32,
    /// Policy scheduler state, two slots per path: `sched[2p]` (DRR deficit, WRR credit) and
    /// `sched[2p + 1]` (smooth WRR: this CPU's copy of the path's packed share). Earliest finish
    /// keeps the same two slots per *eligible* path, compacted (see `order`): the virtual finish
    /// time and this CPU's copy of the path's reciprocal share.
    pub sched: Box<[AtomicI64]>,
    /// Speed-share: the share-board generation this CPU's share copies were taken from (high 32
    /// bits) and the eligible mask they were compacted for (low 32 bits), so that the fast path
    /// checks both with one compare.
    pub gen_seen: AtomicU64,
    /// Speed-share earliest-finish: the path of each compacted scheduler entry, 4 bits per entry
    /// (entry `j` is the `j`-th eligible path).
    pub order: AtomicU64,
    /// Policy accumulators per path (speed-share: busy nanoseconds).
    pub aux: Box<[AtomicU64]>,
}

impl CpuShard {
    /// A zeroed shard for `paths` paths.
    pub fn new(paths: usize) -> Self {
        Self {
            counters: (0..paths).map(|_| PathCounters::default()).collect(),
            cursor: AtomicU32::new(0),
            mask_seen: AtomicU32::new(0),
            sched: zeroed_i64(2 * paths),
            gen_seen: AtomicU64::new(0),
            order: AtomicU64::new(0),
            aux: zeroed_u64(paths),
        }
    }

    /// Records a send.
    #[inline]
    pub fn count_send(&self, path: usize, len: u32) {
        if let Some(c) = self.counters.get(path) {
            local_add(&c.sent_nbls, 1);
            local_add(&c.sent_bytes, u64::from(len));
        }
    }

    /// Records a completion.
    #[inline]
    pub fn count_complete(&self, path: usize, len: u32, ok: bool) {
        if let Some(c) = self.counters.get(path) {
            if ok {
                local_add(&c.done_nbls, 1);
                local_add(&c.done_bytes, u64::from(len));
            } else {
                local_add(&c.failed_nbls, 1);
                local_add(&c.failed_bytes, u64::from(len));
            }
        }
    }

    /// Resets the scheduler state if the eligible mask changed since this CPU last selected.
    /// Returns whether it did.
    #[inline]
    pub fn sync_mask(&self, mask: u32) -> bool {
        if self.mask_seen.load(Ordering::Relaxed) == mask {
            return false;
        }
        for s in &*self.sched {
            s.store(0, Ordering::Relaxed);
        }
        self.mask_seen.store(mask, Ordering::Relaxed);
        true
    }
}

/// Sums the counters of `path` over `shards`.
pub fn totals(shards: &[CpuShard], path: usize) -> CounterTotals {
    // Counters wrap like the kernel's ULONG64 statistics rather than saturate.
    fn add(total: &mut u64, shard: &AtomicU64) {
        *total = total.wrapping_add(shard.load(Ordering::Relaxed));
    }
    let mut t = CounterTotals::default();
    for c in shards.iter().filter_map(|s| s.counters.get(path)) {
        add(&mut t.sent_nbls, &c.sent_nbls);
        add(&mut t.sent_bytes, &c.sent_bytes);
        add(&mut t.completed_nbls, &c.done_nbls);
        add(&mut t.completed_bytes, &c.done_bytes);
        add(&mut t.failed_nbls, &c.failed_nbls);
        add(&mut t.failed_bytes, &c.failed_bytes);
    }
    t
}
