//! Per-CPU counter shards, per-CPU scheduler state, and the in-flight view published from them.
//!
//! Each shard belongs to one processor index. Only calls carrying that index write it, and calls
//! carrying the same index never run at the same time (the caller's contract), so the shard is
//! updated with relaxed loads and stores instead of locked read-modify-writes. Any CPU may read any
//! shard (statistics, tick); it sees each counter's old or new value.
//!
//! Layout: a shard is cache-line aligned (so two CPUs' scheduler state never shares a line), and
//! each (CPU, path) entry ([`PathCpu`]) is one cache line of its own.

use alloc::boxed::Box;

use super::sync::{AtomicI64, AtomicU32, AtomicU64, Ordering, local_add};
use super::types::MAX_PATHS;

/// One path's entry in one CPU's shard: that CPU's send / completion counters for the path and
/// two words the policy keeps per (CPU, path), on a cache line of its own.
#[derive(Default)]
#[repr(align(64))]
pub struct PathCpu {
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
    /// Policy words. In-flight balancers: `[0]` the other CPUs' in-flight load and `[1]` this
    /// CPU's own, both as of the last tick (written by `tick` only, see [`publish_inflight`]).
    /// Speed-share: `[0]` busy nanoseconds and `[1]` the time of this CPU's latest completion on
    /// the path (written by this CPU only).
    pub policy: [AtomicU64; 2],
}

/// What an in-flight balancer counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// NBLs.
    Nbls,
    /// Bytes.
    Bytes,
}

impl PathCpu {
    /// This CPU's contribution to the path's in-flight load: what it sent minus what it
    /// completed. Negative when it completed NBLs other CPUs sent (completions need not come on
    /// the sending CPU); the sum over all CPUs is the path's in-flight load.
    #[inline]
    pub fn local_inflight(&self, unit: Unit) -> i64 {
        let (sent, done, failed) = match unit {
            Unit::Nbls => (&self.sent_nbls, &self.done_nbls, &self.failed_nbls),
            Unit::Bytes => (&self.sent_bytes, &self.done_bytes, &self.failed_bytes),
        };
        let v = sent
            .load(Ordering::Relaxed)
            .wrapping_sub(done.load(Ordering::Relaxed))
            .wrapping_sub(failed.load(Ordering::Relaxed));
        // Two's complement: a CPU that completed more than it sent holds a negative value.
        #[allow(clippy::cast_possible_wrap)]
        let v = v as i64;
        v
    }

    /// The path's in-flight load as this CPU sees it: the other CPUs' load at the last tick plus
    /// this CPU's own load now (exact for its own sends and completions, stale by at most one
    /// tick period for the others'). Never negative. Reads only this CPU's own cache line. `unit`
    /// must be the one [`publish_inflight`] publishes for this group (the policy words hold one).
    #[inline]
    pub fn inflight_view(&self, unit: Unit) -> u64 {
        #[allow(clippy::cast_possible_wrap)]
        let others = self.policy[0].load(Ordering::Relaxed) as i64;
        let v = others.wrapping_add(self.local_inflight(unit));
        u64::try_from(v).unwrap_or(0)
    }
}

/// Totals of the [`PathCpu`] counters over all CPUs.
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

/// Scheduler slots per shard: two per path.
const SCHED_SLOTS: usize = 2 * MAX_PATHS;

/// One CPU's shard: counters per path plus scheduler state for the policy. Aligned to a cache
/// line, and the scheduler state is stored inline, so nothing another CPU writes shares a line
/// with it.
#[repr(align(64))]
pub struct CpuShard {
    /// One entry (a cache line) per path.
    pub paths: Box<[PathCpu]>,
    /// Policy cursor (round robin position, DRR current path).
    pub cursor: AtomicU32,
    /// Eligible mask this CPU's scheduler state was built for (reset when it changes).
    pub mask_seen: AtomicU32,
    /// Speed-share: the share-board generation this CPU's share copies were taken from (high 32
    /// bits) and the eligible mask they were compacted for (low 32 bits), so that the fast path
    /// checks both with one compare.
    pub gen_seen: AtomicU64,
    /// Speed-share earliest-finish: the path of each compacted scheduler entry, 4 bits per entry
    /// (entry `j` is the `j`-th eligible path).
    pub order: AtomicU64,
    /// Policy scheduler state, two slots per path: `sched[2p]` (DRR deficit, WRR credit) and
    /// `sched[2p + 1]` (smooth WRR: this CPU's copy of the path's packed share). Earliest finish
    /// keeps the same two slots per *eligible* path, compacted (see `order`): the virtual finish
    /// time and this CPU's copy of the path's reciprocal share.
    pub sched: [AtomicI64; SCHED_SLOTS],
}

impl CpuShard {
    /// A zeroed shard for `paths` paths.
    pub fn new(paths: usize) -> Self {
        Self {
            paths: (0..paths).map(|_| PathCpu::default()).collect(),
            cursor: AtomicU32::new(0),
            mask_seen: AtomicU32::new(0),
            gen_seen: AtomicU64::new(0),
            order: AtomicU64::new(0),
            sched: core::array::from_fn(|_| AtomicI64::new(0)),
        }
    }

    /// Records a send.
    #[inline]
    pub fn count_send(&self, path: usize, len: u32) {
        if let Some(c) = self.paths.get(path) {
            local_add(&c.sent_nbls, 1);
            local_add(&c.sent_bytes, u64::from(len));
        }
    }

    /// Records a completion.
    #[inline]
    pub fn count_complete(&self, path: usize, len: u32, ok: bool) {
        if let Some(c) = self.paths.get(path) {
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
        for s in self.sched.iter().take(2 * self.paths.len()) {
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
    for c in shards.iter().filter_map(|s| s.paths.get(path)) {
        add(&mut t.sent_nbls, &c.sent_nbls);
        add(&mut t.sent_bytes, &c.sent_bytes);
        add(&mut t.completed_nbls, &c.done_nbls);
        add(&mut t.completed_bytes, &c.done_bytes);
        add(&mut t.failed_nbls, &c.failed_nbls);
        add(&mut t.failed_bytes, &c.failed_bytes);
    }
    t
}

/// Publishes the in-flight load of `path` to every CPU (control plane, from `tick`): each CPU's
/// entry gets its own load as read now (`policy[1]`) and the sum of all the others'
/// (`policy[0]`), so that [`PathCpu::inflight_view`] adds its live own load to a snapshot of the
/// rest with one word, which the CPU reads from its own cache line. Returns the total.
///
/// Each word is a single store, so a CPU reading while this runs sees the previous or the new
/// snapshot of the others, never a torn one. The others' part is stale by at most what they sent
/// and completed on the path since this ran (one tick period).
pub fn publish_inflight(shards: &[CpuShard], path: usize, unit: Unit) -> i64 {
    let mut total = 0i64;
    for e in shards.iter().filter_map(|s| s.paths.get(path)) {
        let own = e.local_inflight(unit);
        #[allow(clippy::cast_sign_loss)]
        e.policy[1].store(own as u64, Ordering::Relaxed);
        total = total.wrapping_add(own);
    }
    for e in shards.iter().filter_map(|s| s.paths.get(path)) {
        #[allow(clippy::cast_possible_wrap)]
        let own = e.policy[1].load(Ordering::Relaxed) as i64;
        #[allow(clippy::cast_sign_loss)]
        e.policy[0].store(total.wrapping_sub(own) as u64, Ordering::Relaxed);
    }
    total
}
