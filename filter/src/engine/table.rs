//! The path table: per-path data shared with the hot path, and the snapshot the control plane
//! reports ([`PathInfo`]).

use super::counters::CounterTotals;
use super::sync::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use super::types::{PathId, PathState, Role, Transition};

/// Per-path data read (and partly written) by select / `on_send` / `on_complete` on every CPU.
/// The read-mostly fields and the fields the hot path writes sit on separate cache lines, so
/// completions on one CPU do not evict what selection reads on another.
#[repr(align(64))]
pub struct PathShared {
    /// Current state (`PathState as u8`), published by the control plane.
    pub state: AtomicU8,
    /// Admin weight.
    pub weight: AtomicU32,
    /// Data quota, bytes per round.
    pub quota: AtomicU32,
    /// Value of `hot.errors` at the start of the current error window (control plane writes it).
    pub error_base: AtomicU64,
    /// Fields written on the hot path.
    pub hot: PathHot,
}

/// The hot-path-written part of [`PathShared`] (its own cache line).
#[repr(align(64))]
pub struct PathHot {
    /// NBLs in flight (maintained only for policies that read it).
    pub inflight_nbls: AtomicU64,
    /// Bytes in flight (maintained only for policies that read it).
    pub inflight_bytes: AtomicU64,
    /// Counted send errors since group construction.
    pub errors: AtomicU64,
    /// Time of the latest successful completion (speed-share busy-time accounting).
    pub last_done_ns: AtomicU64,
}

impl PathShared {
    /// A record with the given state, weight and quota.
    pub fn new(state: PathState, weight: u32, quota: u32) -> Self {
        Self {
            state: AtomicU8::new(state as u8),
            weight: AtomicU32::new(weight),
            quota: AtomicU32::new(quota),
            error_base: AtomicU64::new(0),
            hot: PathHot {
                inflight_nbls: AtomicU64::new(0),
                inflight_bytes: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                last_done_ns: AtomicU64::new(0),
            },
        }
    }

    /// NBLs in flight as the policies read it (a counter driven below zero by a caller that
    /// completed more than it sent reads as 0).
    #[inline]
    pub fn inflight_nbls(&self) -> u64 {
        let v = self.hot.inflight_nbls.load(Ordering::Relaxed);
        if v > u64::MAX / 2 { 0 } else { v }
    }

    /// Bytes in flight as the policies read it (see [`Self::inflight_nbls`]).
    #[inline]
    pub fn inflight_bytes(&self) -> u64 {
        let v = self.hot.inflight_bytes.load(Ordering::Relaxed);
        if v > u64::MAX / 2 { 0 } else { v }
    }

    /// Current state.
    pub fn state(&self) -> PathState {
        PathState::from_u8(self.state.load(Ordering::Acquire))
    }
}

/// Snapshot of one row of the path table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathInfo {
    /// Path id.
    pub id: PathId,
    /// Current state.
    pub state: PathState,
    /// Failover priority (lower preferred).
    pub priority: u8,
    /// Role.
    pub role: Role,
    /// Admin weight.
    pub weight: u32,
    /// Data quota, bytes per round.
    pub quota_bytes: u32,
    /// Configured link speed, bits per second (0 = unknown).
    pub link_speed_bps: u64,
    /// Send / completion counters summed over CPUs (in-flight derived from them).
    pub counters: CounterTotals,
    /// Measured transfer speed, bits per second (speed-share only).
    pub measured_speed_bps: Option<u64>,
    /// Counted send errors since construction.
    pub send_errors: u64,
    /// The latest transition, with its reason and time.
    pub last_transition: Transition,
    /// Number of transitions since construction.
    pub transitions: u64,
}
