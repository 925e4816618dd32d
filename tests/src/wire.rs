//! Faults of an adapter's miniport and wire, scheduled at a virtual time with
//! [`Emulator::schedule_fault`](crate::Emulator::schedule_fault), and the link-state indications
//! the protocols received.

use crate::sched::Nanos;

/// Something that happens to one adapter at a virtual time.
///
/// For an NBL the miniport finishes, a link that is down comes first (MEDIA_DISCONNECTED; an
/// error completion still to come is not used up), then error completions, then a blackhole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The link goes down: NDIS_STATUS_LINK_STATE (MediaConnectStateDisconnected) is indicated
    /// through the filter, and every send the miniport has or gets while down (queued ones
    /// included) completes with NDIS_STATUS_MEDIA_DISCONNECTED without reaching the far end.
    /// The miniport indicates no receives while down.
    LinkDown,
    /// The link comes back: LINK_STATE (MediaConnectStateConnected, current speeds).
    LinkUp,
    /// Frames are transmitted (timed, counted on the wire) but vanish, and complete with SUCCESS;
    /// no indication (`true` on, `false` off).
    Blackhole(bool),
    /// The next `count` NBLs the miniport finishes complete with `status` and are not delivered
    /// (replacing any still to come; `count` 0 cancels them).
    ErrorCompletions {
        /// The completion status.
        status: i32,
        /// How many NBLs.
        count: u32,
    },
    /// The link speed becomes this many bits per second (transmit time of the next frames) and a
    /// LINK_STATE indication carries the new speeds.
    Rate(u64),
    /// For this long the miniport neither transmits nor completes anything: what was due in the
    /// meantime happens when the stall ends.
    Stall(Nanos),
    /// `LinkDown`, `LinkUp`, `LinkDown`, … every `period` from the scheduled time while before
    /// `until`; if the last one was a `LinkDown`, a `LinkUp` at `until` ends it (the link is up
    /// afterwards).
    Flap {
        /// Time between changes.
        period: Nanos,
        /// Absolute virtual time the flapping stops by.
        until: Nanos,
    },
    /// NDIS pauses the stack (protocol, filter — which may pend —, miniport), as
    /// [`Emulator::pause`](crate::Emulator::pause). Ignored unless the module is Running.
    Pause,
    /// NDIS restarts a paused stack, as [`Emulator::restart`](crate::Emulator::restart).
    /// Ignored unless the module is Paused.
    Restart,
    /// NDIS detaches the module (NetEventFilterPreDetach, pause, FilterDetach), as
    /// [`Emulator::stop`](crate::Emulator::stop). Ignored unless the module is Running or Paused.
    Detach,
    /// NDIS attaches and restarts a module again on a detached adapter, as
    /// [`Emulator::reattach`](crate::Emulator::reattach). Ignored unless detached.
    Reattach,
    /// The miniport's mpshim reports the path failed (`failed`) or recovered: an
    /// NDIS_STATUS_MEDIA_SPECIFIC_INDICATION_EX carrying mpshim's tagged path event with this
    /// sequence number. A private indication: the emulator does not require the filter to pass
    /// it up.
    ShimPath {
        /// Failed or recovered.
        failed: bool,
        /// The report's sequence number (mpshim starts at 1 and counts up).
        sequence: u32,
    },
    /// An indication tagged as mpshim's path event that is malformed in the way given (a report
    /// the filter must drop, naming why).
    ShimMalformed(ShimDefect),
    /// The miniport indicates NDIS_STATUS_LINK_STATE with a NULL buffer whose size claims a whole
    /// NDIS_LINK_STATE (a miniport bug): the filter passes it up as it came and changes nothing.
    MalformedLinkState,
    /// The miniport indicates NDIS_STATUS_LINK_STATE whose buffer holds a whole disconnected
    /// NDIS_LINK_STATE but whose size claims only 8 bytes (a miniport bug): passed up as it came;
    /// the filter reads nothing past the size and changes nothing.
    ShortLinkState,
    /// The miniport's LSOv2 limit becomes this (0: off) and it indicates
    /// NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG with its new offload configuration.
    OffloadChange(u32),
}

/// How a [`Fault::ShimMalformed`] report is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShimDefect {
    /// A well-formed envelope whose event kind is none the contract defines.
    UnknownKind,
    /// The buffer ends before the size its header declares (the last 8 bytes are missing).
    Truncated,
    /// The header declares revision 0, which does not exist.
    BadRevision,
}

/// A NDIS_STATUS_LINK_STATE indication as a protocol received it (from the filter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkIndication {
    /// When.
    pub at: Nanos,
    /// MediaConnectState (`MEDIA_CONNECT_STATE_*`).
    pub connect_state: i32,
    /// XmitLinkSpeed, bits per second.
    pub xmit_speed: u64,
    /// RcvLinkSpeed, bits per second.
    pub rcv_speed: u64,
}
