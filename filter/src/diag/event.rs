//! The events and their stable ids.
//!
//! Ids and the numeric codes of the field enums are part of the record format: they never change
//! meaning. A new event takes a new id; a retired one leaves its id unused.

use crate::engine::{PathState, Reason};
use crate::module::ModuleState;

/// The stable numeric id of each [`Event`] variant (the record's byte 1).
///
/// Ranges: 0x01–0x0F module lifecycle, 0x10–0x1F paths, 0x20–0x2F configuration, 0x30–0x3F
/// requests and indications from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventId {
    /// [`Event::ModuleAttached`].
    ModuleAttached = 0x01,
    /// [`Event::ModuleAttachFailed`].
    ModuleAttachFailed = 0x02,
    /// [`Event::ModuleDetached`].
    ModuleDetached = 0x03,
    /// [`Event::ModulePaused`].
    ModulePaused = 0x04,
    /// [`Event::ModulePauseCompleted`].
    ModulePauseCompleted = 0x05,
    /// [`Event::ModuleRestarted`].
    ModuleRestarted = 0x06,
    /// [`Event::LifecycleRejected`].
    LifecycleRejected = 0x07,
    /// [`Event::PathTransition`].
    PathTransition = 0x10,
    /// [`Event::Reroute`].
    Reroute = 0x11,
    /// [`Event::PolicyChanged`].
    PolicyChanged = 0x12,
    /// [`Event::Announced`].
    Announced = 0x13,
    /// [`Event::RewriteSkipped`].
    RewriteSkipped = 0x14,
    /// [`Event::ConfigRejected`].
    ConfigRejected = 0x20,
    /// [`Event::GroupSettingIgnored`].
    GroupSettingIgnored = 0x21,
    /// [`Event::StatusDropped`].
    StatusDropped = 0x30,
    /// [`Event::OidRejected`].
    OidRejected = 0x31,
    /// [`Event::IoctlRejected`].
    IoctlRejected = 0x32,
}

impl EventId {
    /// Every id, in catalogue order.
    pub const ALL: [EventId; 17] = [
        EventId::ModuleAttached,
        EventId::ModuleAttachFailed,
        EventId::ModuleDetached,
        EventId::ModulePaused,
        EventId::ModulePauseCompleted,
        EventId::ModuleRestarted,
        EventId::LifecycleRejected,
        EventId::PathTransition,
        EventId::Reroute,
        EventId::PolicyChanged,
        EventId::Announced,
        EventId::RewriteSkipped,
        EventId::ConfigRejected,
        EventId::GroupSettingIgnored,
        EventId::StatusDropped,
        EventId::OidRejected,
        EventId::IoctlRejected,
    ];

    /// The id for a record byte; `None` for a byte no event uses.
    pub fn from_u8(v: u8) -> Option<EventId> {
        Self::ALL.into_iter().find(|id| id.as_u8() == v)
    }

    /// The record byte.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The catalogue name (as in `docs/diagnostics.md`).
    pub const fn name(self) -> &'static str {
        match self {
            EventId::ModuleAttached => "module-attached",
            EventId::ModuleAttachFailed => "module-attach-failed",
            EventId::ModuleDetached => "module-detached",
            EventId::ModulePaused => "module-paused",
            EventId::ModulePauseCompleted => "module-pause-completed",
            EventId::ModuleRestarted => "module-restarted",
            EventId::LifecycleRejected => "lifecycle-rejected",
            EventId::PathTransition => "path-transition",
            EventId::Reroute => "reroute",
            EventId::PolicyChanged => "policy-changed",
            EventId::Announced => "announced",
            EventId::RewriteSkipped => "rewrite-skipped",
            EventId::ConfigRejected => "config-rejected",
            EventId::GroupSettingIgnored => "group-setting-ignored",
            EventId::StatusDropped => "status-dropped",
            EventId::OidRejected => "oid-rejected",
            EventId::IoctlRejected => "ioctl-rejected",
        }
    }
}

/// One diagnostic event. Interface indexes are NDIS `NET_IFINDEX` values; path and group numbers
/// are the engine's indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// FilterAttach succeeded: the module is Paused.
    ModuleAttached {
        /// The filter module's IfIndex.
        if_index: u32,
        /// The IfIndex of the miniport at the bottom of the stack.
        miniport_if_index: u32,
    },
    /// FilterAttach failed after the module was built (NDIS refused its context).
    ModuleAttachFailed {
        /// The filter module's IfIndex.
        if_index: u32,
    },
    /// FilterDetach: the module is gone.
    ModuleDetached {
        /// The filter module's IfIndex.
        if_index: u32,
    },
    /// FilterPause was accepted.
    ModulePaused {
        /// The filter module's IfIndex.
        if_index: u32,
        /// NBLs were still out: the pause returned PENDING and completes with
        /// [`Event::ModulePauseCompleted`].
        pended: bool,
    },
    /// A pended pause completed (the last outstanding NBL came back).
    ModulePauseCompleted {
        /// The filter module's IfIndex.
        if_index: u32,
    },
    /// FilterRestart succeeded: data flows.
    ModuleRestarted {
        /// The filter module's IfIndex.
        if_index: u32,
    },
    /// NDIS delivered a lifecycle event that is illegal in the module's state; it changed
    /// nothing (and counted a protocol error).
    LifecycleRejected {
        /// The filter module's IfIndex.
        if_index: u32,
        /// The module's state when the event arrived.
        state: ModuleState,
        /// The event.
        event: LifecycleEvent,
    },
    /// A path changed state.
    PathTransition {
        /// The path group.
        group: u16,
        /// The path's index in its group.
        path: u8,
        /// State before.
        from: PathState,
        /// State after.
        to: PathState,
        /// Why.
        reason: Reason,
    },
    /// Traffic meant for one path was sent on another.
    Reroute {
        /// The path group.
        group: u16,
        /// The path the NBLs were meant for.
        from_path: u8,
        /// The path they went to.
        to_path: u8,
        /// How many NBLs moved.
        nbls: u32,
    },
    /// An administrator changed a group's policy or parameters, or a path's weight, priority or
    /// quota, at runtime (the control device): the group runs a new engine generation.
    PolicyChanged {
        /// The path group.
        group: u16,
        /// The policy now in force: its position in `POLICY_FORMS` (0 failover … 8 speed-share).
        policy: u8,
        /// The group's generation now.
        generation: u32,
    },
    /// Rewrite mode: a member's addresses were announced at the MAC of the member now carrying
    /// its traffic (one round of gratuitous ARPs / unsolicited neighbour advertisements).
    Announced {
        /// The path group.
        group: u16,
        /// The seat of the member whose addresses were announced.
        owner: u8,
        /// The seat of the member whose MAC they were announced at (which sent them).
        carrier: u8,
        /// Announcements sent in this round (one per address).
        sent: u8,
    },
    /// Rewrite mode: a member sent another member's NBL with that member's source MAC because no
    /// header slot was free; emitted at the first of a run of such sends, not for each.
    RewriteSkipped {
        /// The path group.
        group: u16,
        /// The seat of the carrying member.
        carrier: u8,
        /// Such sends of this member so far (its `send_rewrite_skipped` counter).
        skipped: u64,
    },
    /// A configuration value was refused; the previous (or default) value stays. For a registry
    /// key (`Reg*`) the module joins no group and passes traffic through; a text value is carried
    /// as its first 8 bytes (little-endian, zero-padded) with `min` = `max` = 0.
    ConfigRejected {
        /// Which setting.
        key: ConfigKey,
        /// The refused value.
        value: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// A member's group-wide setting differs from its group's (set by the group's first member):
    /// the group keeps its value, the member joins with it.
    GroupSettingIgnored {
        /// The path group.
        group: u16,
        /// The first setting that differs (a registry key code).
        key: ConfigKey,
    },
    /// A status indication from below was malformed and not passed up.
    StatusDropped {
        /// Its `NDIS_STATUS` code.
        status: i32,
        /// Why.
        reason: StatusDropReason,
    },
    /// An OID request was failed by the filter itself rather than forwarded.
    OidRejected {
        /// The OID.
        oid: u32,
        /// The status it was failed with.
        status: i32,
        /// Why.
        reason: RequestRejectReason,
    },
    /// A control-device IOCTL was refused.
    IoctlRejected {
        /// The IOCTL code.
        code: u32,
        /// The status it was failed with.
        status: i32,
        /// Why.
        reason: RequestRejectReason,
    },
}

impl Event {
    /// This event's stable id.
    pub const fn id(&self) -> EventId {
        match self {
            Event::ModuleAttached { .. } => EventId::ModuleAttached,
            Event::ModuleAttachFailed { .. } => EventId::ModuleAttachFailed,
            Event::ModuleDetached { .. } => EventId::ModuleDetached,
            Event::ModulePaused { .. } => EventId::ModulePaused,
            Event::ModulePauseCompleted { .. } => EventId::ModulePauseCompleted,
            Event::ModuleRestarted { .. } => EventId::ModuleRestarted,
            Event::LifecycleRejected { .. } => EventId::LifecycleRejected,
            Event::PathTransition { .. } => EventId::PathTransition,
            Event::Reroute { .. } => EventId::Reroute,
            Event::PolicyChanged { .. } => EventId::PolicyChanged,
            Event::Announced { .. } => EventId::Announced,
            Event::RewriteSkipped { .. } => EventId::RewriteSkipped,
            Event::ConfigRejected { .. } => EventId::ConfigRejected,
            Event::GroupSettingIgnored { .. } => EventId::GroupSettingIgnored,
            Event::StatusDropped { .. } => EventId::StatusDropped,
            Event::OidRejected { .. } => EventId::OidRejected,
            Event::IoctlRejected { .. } => EventId::IoctlRejected,
        }
    }
}

/// Declares a field enum with explicit stable codes, its `ALL` list and its byte conversions.
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            /// The stable code.
            pub const fn code(self) -> u8 {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The value for a code; `None` for a code no value uses.
            pub const fn from_code(code: u8) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// The lifecycle events of [`Event::LifecycleRejected`] (mirrors
    /// [`crate::module::ModuleEvent`], with stable codes).
    LifecycleEvent {
        /// FilterAttach started.
        Attach = 1,
        /// FilterAttach is about to succeed.
        AttachSucceeded = 2,
        /// FilterAttach is about to fail.
        AttachFailed = 3,
        /// FilterRestart started.
        Restart = 4,
        /// FilterRestart succeeded.
        RestartSucceeded = 5,
        /// FilterRestart failed.
        RestartFailed = 6,
        /// FilterPause started.
        Pause = 7,
        /// The pause completed.
        PauseComplete = 8,
        /// FilterDetach.
        Detach = 9,
    }
}

impl From<crate::module::ModuleEvent> for LifecycleEvent {
    fn from(e: crate::module::ModuleEvent) -> Self {
        use crate::module::ModuleEvent as M;
        match e {
            M::Attach => Self::Attach,
            M::AttachSucceeded => Self::AttachSucceeded,
            M::AttachFailed => Self::AttachFailed,
            M::Restart => Self::Restart,
            M::RestartSucceeded => Self::RestartSucceeded,
            M::RestartFailed => Self::RestartFailed,
            M::Pause => Self::Pause,
            M::PauseComplete => Self::PauseComplete,
            M::Detach => Self::Detach,
        }
    }
}

codes! {
    /// The settings [`Event::ConfigRejected`] names (one per range check of the configuration).
    ConfigKey {
        /// Number of paths in a group.
        PathCount = 1,
        /// A path's admin weight.
        PathWeight = 2,
        /// A path's data quota, bytes.
        PathQuotaBytes = 3,
        /// A delay or hold-down, ns.
        DelayNs = 4,
        /// Flap failure count.
        FlapFailures = 5,
        /// Probes missed before a path fails.
        ProbeMissMax = 6,
        /// Flow-table entries.
        FlowTableEntries = 7,
        /// CPU shard count.
        CpuShards = 8,
        /// Quota target slots.
        QuotaTargetSlots = 9,
        /// Speed-share half-life, ns.
        HalfLifeNs = 10,
        /// Probe share, parts per million.
        ProbeSharePpm = 11,
        /// A path index.
        PathIndex = 12,
        /// Registry `GroupId`.
        RegGroupId = 0x20,
        /// Registry `Priority`.
        RegPriority = 0x21,
        /// Registry `Role` (text).
        RegRole = 0x22,
        /// Registry `Weight`.
        RegWeight = 0x23,
        /// Registry `QuotaBytes`.
        RegQuotaBytes = 0x24,
        /// Registry `Policy` (text).
        RegPolicy = 0x25,
        /// Registry `FlowletGapUs`.
        RegFlowletGapUs = 0x26,
        /// Registry `Failback` (text).
        RegFailback = 0x27,
        /// Registry `UpDelayMs`.
        RegUpDelayMs = 0x28,
        /// Registry `DownDelayMs`.
        RegDownDelayMs = 0x29,
        /// Registry `AllDown` (text).
        RegAllDown = 0x2A,
        /// Registry `MaxOutstandingPerTarget`.
        RegMaxOutstandingPerTarget = 0x2B,
        /// Registry `SendErrorThreshold`.
        RegSendErrorThreshold = 0x2C,
        /// Registry `ProbeTarget` (text).
        RegProbeTarget = 0x2D,
        /// Registry `ProbeIntervalMs`.
        RegProbeIntervalMs = 0x2E,
        /// Registry `ProbeMissed`.
        RegProbeMissed = 0x2F,
        /// Registry `MacMode` (text).
        RegMacMode = 0x30,
        /// Registry `AnnounceCount`.
        RegAnnounceCount = 0x31,
        /// Registry `AnnounceIntervalMs`.
        RegAnnounceIntervalMs = 0x32,
        /// The module's configuration could not be opened (`value` = the NDIS status). Below the
        /// registry keys, which take 0x20 onwards in the key table's order.
        RegOpenFailed = 0x1F,
    }
}

codes! {
    /// Why [`Event::StatusDropped`] dropped an indication.
    StatusDropReason {
        /// NULL status buffer where the status code requires one.
        NullBuffer = 1,
        /// Status buffer shorter than the status code's structure.
        BufferTooSmall = 2,
        /// The structure's NDIS object header has the wrong type, revision or size.
        BadHeader = 3,
        /// A field holds a value outside its defined range.
        InvalidValue = 4,
    }
}

codes! {
    /// Why the filter itself failed an OID request or IOCTL.
    RequestRejectReason {
        /// The filter could not clone the OID request (no memory).
        CloneFailed = 1,
        /// The input buffer is shorter than the request needs.
        BufferTooSmall = 2,
        /// The filter does not support the request.
        Unsupported = 3,
        /// The caller lacks the access the request needs.
        AccessDenied = 4,
        /// A value in the request is out of range.
        InvalidValue = 5,
        /// The module is in a state that does not allow the request.
        BadState = 6,
    }
}

/// Stable code of an engine [`PathState`]: its `repr(u8)` value.
pub(crate) const fn path_state_code(s: PathState) -> u8 {
    s as u8
}

/// The [`PathState`] of a code; `None` for a code no state uses (unlike
/// [`PathState::from_u8`], which maps unknown values to Failed).
pub(crate) const fn path_state_from_code(code: u8) -> Option<PathState> {
    match code {
        0 => Some(PathState::Active),
        1 => Some(PathState::Standby),
        2 => Some(PathState::Failed),
        3 => Some(PathState::Recovering),
        4 => Some(PathState::Marginal),
        _ => None,
    }
}

/// Every engine [`Reason`], at the index of its stable code.
const REASONS: [Reason; 19] = [
    Reason::Initial,
    Reason::LinkDown,
    Reason::LinkUp,
    Reason::SendErrors,
    Reason::ErrorsForgiven,
    Reason::ShimPathFailed,
    Reason::ShimPathRecovered,
    Reason::ProbeLost,
    Reason::ProbeAnswered,
    Reason::MemberPaused,
    Reason::MemberRestarted,
    Reason::MemberDetached,
    Reason::MemberAttached,
    Reason::AdminFail,
    Reason::AdminReinstate,
    Reason::HoldDownElapsed,
    Reason::FlapDamped,
    Reason::MarginalStable,
    Reason::NoOtherPath,
];

/// Stable code of an engine transition [`Reason`].
pub(crate) const fn reason_code(r: Reason) -> u8 {
    // Exhaustive on purpose: a new engine reason must get a stable code before it can be logged.
    match r {
        Reason::Initial => 0,
        Reason::LinkDown => 1,
        Reason::LinkUp => 2,
        Reason::SendErrors => 3,
        Reason::ErrorsForgiven => 4,
        Reason::ShimPathFailed => 5,
        Reason::ShimPathRecovered => 6,
        Reason::ProbeLost => 7,
        Reason::ProbeAnswered => 8,
        Reason::MemberPaused => 9,
        Reason::MemberRestarted => 10,
        Reason::MemberDetached => 11,
        Reason::MemberAttached => 12,
        Reason::AdminFail => 13,
        Reason::AdminReinstate => 14,
        Reason::HoldDownElapsed => 15,
        Reason::FlapDamped => 16,
        Reason::MarginalStable => 17,
        Reason::NoOtherPath => 18,
    }
}

/// The [`Reason`] of a code; `None` for a code no reason uses.
pub(crate) fn reason_from_code(code: u8) -> Option<Reason> {
    REASONS.get(usize::from(code)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        for (i, a) in EventId::ALL.iter().enumerate() {
            assert_eq!(EventId::from_u8(a.as_u8()), Some(*a));
            for b in &EventId::ALL[i + 1..] {
                assert_ne!(a.as_u8(), b.as_u8());
                assert_ne!(a.name(), b.name());
            }
        }
        assert_eq!(EventId::from_u8(0), None);
        assert_eq!(EventId::from_u8(0xFF), None);
    }

    #[test]
    fn reason_codes_agree_both_ways() {
        for (code, reason) in (0u8..).zip(REASONS) {
            assert_eq!(reason_code(reason), code);
            assert_eq!(reason_from_code(code), Some(reason));
        }
        assert_eq!(reason_from_code(19), None);
    }

    #[test]
    fn path_state_codes_are_the_engine_repr_and_reject_unknowns() {
        for code in 0..=4 {
            let s = path_state_from_code(code).unwrap();
            assert_eq!(path_state_code(s), code);
        }
        assert_eq!(path_state_from_code(5), None);
    }

    #[test]
    fn field_codes_round_trip_and_reject_unknowns() {
        fn check<T: Copy + PartialEq + core::fmt::Debug>(
            all: &[T],
            code: fn(T) -> u8,
            from: fn(u8) -> Option<T>,
        ) {
            for &v in all {
                assert_eq!(from(code(v)), Some(v));
            }
            assert_eq!(from(0), None, "0 is never a code");
            assert_eq!(from(0xFF), None);
        }
        check(
            LifecycleEvent::ALL,
            LifecycleEvent::code,
            LifecycleEvent::from_code,
        );
        check(ConfigKey::ALL, ConfigKey::code, ConfigKey::from_code);
        check(
            StatusDropReason::ALL,
            StatusDropReason::code,
            StatusDropReason::from_code,
        );
        check(
            RequestRejectReason::ALL,
            RequestRejectReason::code,
            RequestRejectReason::from_code,
        );
    }
}
