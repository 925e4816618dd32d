//! The path table: per-path data shared with the hot path, and the snapshot the control plane
//! reports ([`PathInfo`]).

use super::counters::CounterTotals;
use super::policy::PathStatus;
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

/// The hot-path-written part of [`PathShared`] (its own cache line). Only failed completions
/// write it: everything written per NBL lives in the per-CPU shards.
#[repr(align(64))]
pub struct PathHot {
    /// Counted send errors since group construction.
    pub errors: AtomicU64,
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
                errors: AtomicU64::new(0),
            },
        }
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
    /// What the group's policy reports about the path (share, weight, in-flight load, measured
    /// speed, outstanding credits: whichever the policy has).
    pub policy: PathStatus,
    /// Counted send errors since construction.
    pub send_errors: u64,
    /// The latest transition, with its reason and time.
    pub last_transition: Transition,
    /// Number of transitions since construction.
    pub transitions: u64,
}
