//! Plain value types shared by the whole engine: path ids, states, events, reasons, the per-NBL
//! request and completion records, and what selection returns.

/// Maximum number of paths in one group.
pub const MAX_PATHS: usize = 16;

/// One millisecond in the engine's time unit (nanoseconds).
pub const MS: u64 = 1_000_000;
/// One microsecond in nanoseconds.
pub const US: u64 = 1_000;

/// Index of a path inside its group (0..16, the position in [`crate::engine::GroupConfig::paths`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathId(u8);

impl PathId {
    /// The id for `index`, or `None` when `index >= MAX_PATHS`.
    pub const fn new(index: usize) -> Option<Self> {
        if index < MAX_PATHS {
            #[allow(clippy::cast_possible_truncation)] // index < 16
            Some(Self(index as u8))
        } else {
            None
        }
    }

    /// The index inside the group.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Internal: from an index known to be < 16.
    #[allow(clippy::cast_possible_truncation)] // callers pass indices < MAX_PATHS
    pub(crate) const fn from_index(index: usize) -> Self {
        Self((index & (MAX_PATHS - 1)) as u8)
    }
}

/// Flow identity supplied by the caller: hashes it computed from the NBL's headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Hash of the layer-2 addresses (source and destination MAC, VLAN).
    pub l2: u64,
    /// Hash of the layer-3+4 tuple (addresses, protocol, ports); callers set it to `l2` for non-IP
    /// frames. Flowlet affinity keys on this hash.
    pub l34: u64,
}

/// A destination key supplied by the caller (for example a hash of the destination address); the
/// quota policy caps outstanding NBLs per (target, path).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TargetKey(pub u64);

/// What the data path knows about one NBL (chain) it is about to send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendRequest {
    /// Flow hashes.
    pub flow: FlowKey,
    /// Length in bytes.
    pub len: u32,
    /// Destination key.
    pub target: TargetKey,
    /// Index of the calling processor. Calls that run at the same time must use different
    /// indices (the current processor number at `DISPATCH_LEVEL` satisfies this); it selects the
    /// per-CPU counter shard.
    pub cpu: u32,
}

/// Result of [`crate::engine::PathGroup::select`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Send on this path, then call `on_send` and later `on_complete` (or `cancel` if not sent).
    Path(PathId),
    /// Paths exist but every one is at its outstanding limit for this target: queue and retry.
    Defer,
    /// No usable path.
    NoPath,
}

/// Why a send completion failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The path failed the send (`NDIS_STATUS_FAILURE`, `NDIS_STATUS_MEDIA_DISCONNECTED` and
    /// every other status not named below). Counted toward the error threshold.
    Failure,
    /// Out of resources: transient back-pressure, not counted.
    Resources,
    /// The member was pausing or resetting: not a path fault, not counted.
    Paused,
    /// The send was aborted or cancelled by the caller: not counted.
    Aborted,
}

impl SendError {
    /// Whether this error counts toward the path's send-error threshold.
    pub const fn counts_as_path_fault(self) -> bool {
        matches!(self, Self::Failure)
    }
}

/// Completion status of one NBL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionStatus {
    /// Sent successfully.
    Ok,
    /// Failed.
    Error(SendError),
}

/// A send completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The path it was sent on.
    pub path: PathId,
    /// Its length in bytes (as passed to select / `on_send`).
    pub len: u32,
    /// Its target key (as passed to select / `on_send`).
    pub target: TargetKey,
    /// Index of the completing processor (may differ from the sending one).
    pub cpu: u32,
    /// Status.
    pub status: CompletionStatus,
    /// Time from send to completion, nanoseconds.
    pub latency_ns: u64,
}

/// Returned by `on_complete`: whether the control plane should look at path health now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attention {
    /// Nothing to do.
    None,
    /// A path crossed its send-error threshold: call [`crate::engine::PathGroup::tick`] soon.
    EvaluateHealth,
}

/// Configured role of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Carries traffic whenever it is healthy.
    Active,
    /// Carries traffic only while no Active path exists.
    Standby,
}

/// State of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PathState {
    /// Healthy, role Active: selectable.
    Active = 0,
    /// Healthy, role Standby: selectable only while no path is Active.
    Standby = 1,
    /// Not usable.
    Failed = 2,
    /// Healthy again, waiting out its hold-down; not selectable.
    Recovering = 3,
    /// Flapping: healthy but selectable only as a last resort until stable.
    Marginal = 4,
}

impl PathState {
    /// Whether a path in this state may carry traffic at some tier.
    pub const fn is_usable(self) -> bool {
        matches!(self, Self::Active | Self::Standby | Self::Marginal)
    }

    /// Decodes the `repr(u8)` value (unknown values decode as `Failed`).
    pub const fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Active,
            1 => Self::Standby,
            3 => Self::Recovering,
            4 => Self::Marginal,
            _ => Self::Failed,
        }
    }
}

/// An input to the path state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathEvent {
    /// The member's link went down (subject to the down-delay).
    LinkDown,
    /// The member's link came up.
    LinkUp,
    /// The miniport shim reported the path failed.
    ShimPathFailed,
    /// The miniport shim reported the path recovered.
    ShimPathRecovered,
    /// A health probe went unanswered.
    ProbeLost,
    /// A health probe was answered.
    ProbeAnswered,
    /// The member binding was paused.
    MemberPaused,
    /// The member binding was restarted.
    MemberRestarted,
    /// The member was detached.
    MemberDetached,
    /// The member was attached again.
    MemberAttached,
    /// An administrator failed the path.
    AdminFail,
    /// An administrator reinstated the path (also the approval for manual failback).
    AdminReinstate,
}

/// Why a transition happened. Recorded with every transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Initial state at group construction.
    Initial,
    /// Link down (after the down-delay).
    LinkDown,
    /// Link up.
    LinkUp,
    /// Send-error completions crossed the threshold within the window.
    SendErrors,
    /// The error trip expired (error recovery time passed).
    ErrorsForgiven,
    /// Miniport shim path-fail indication.
    ShimPathFailed,
    /// Miniport shim path-recovered indication.
    ShimPathRecovered,
    /// Too many consecutive probes lost.
    ProbeLost,
    /// Probe answered.
    ProbeAnswered,
    /// Member paused.
    MemberPaused,
    /// Member restarted.
    MemberRestarted,
    /// Member detached.
    MemberDetached,
    /// Member attached.
    MemberAttached,
    /// Administrative fail.
    AdminFail,
    /// Administrative reinstate.
    AdminReinstate,
    /// The hold-down (up-delay / deferred failback) elapsed.
    HoldDownElapsed,
    /// Too many failures within the flap window: path kept Marginal.
    FlapDamped,
    /// Marginal path stayed stable long enough.
    MarginalStable,
    /// Manual failback, but no other path was usable.
    NoOtherPath,
}

/// A recorded state transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The path.
    pub path: PathId,
    /// State before.
    pub from: PathState,
    /// State after.
    pub to: PathState,
    /// Why.
    pub reason: Reason,
    /// When (caller's clock, ns).
    pub at_ns: u64,
}

/// Up to [`MAX_PATHS`] transitions produced by one `tick`, stored inline (no allocation).
#[derive(Clone, Copy, Debug, Default)]
pub struct Transitions {
    items: [Option<Transition>; MAX_PATHS],
    len: usize,
}

impl Transitions {
    pub(crate) fn push(&mut self, t: Transition) {
        if self.len < MAX_PATHS {
            self.items[self.len] = Some(t);
            self.len += 1;
        }
    }

    /// Number of transitions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The transitions in order.
    pub fn iter(&self) -> impl Iterator<Item = &Transition> {
        self.items[..self.len].iter().flatten()
    }
}
