//! The scenario schema, field by field as docs/scenarios.md describes it.

use serde::Deserialize;

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Shown in reports.
    pub name: String,
    /// Seed of every random choice of the emulator.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Length of the run, virtual ms.
    pub duration_ms: u64,
    /// Balancing policy (the filter's `Policy` names).
    pub policy: String,
    /// Flowlet gap, µs; 0 = per packet. Default: the filter's.
    pub flowlet_gap_us: Option<u32>,
    /// `immediate | manual | deferred:<ms>`. Default: the filter's.
    pub failback: Option<String>,
    /// A recovered path must stay healthy this long before it is used, ms. Default: the
    /// filter's.
    pub up_delay_ms: Option<u32>,
    /// A link-down must last this long before the path fails, ms. Default: the filter's.
    pub down_delay_ms: Option<u32>,
    /// `fail | queue:<ms>`. Default: the filter's.
    pub all_down: Option<String>,
    /// How a frame rerouted to another adapter is addressed. Default: preserve.
    pub mac_mode: Option<MacMode>,
    /// The team, in order: the first is path 0.
    #[serde(rename = "path")]
    pub paths: Vec<PathSpec>,
    /// The offered load.
    pub traffic: Traffic,
    /// Faults and admin actions, by time.
    #[serde(rename = "event", default)]
    pub events: Vec<Event>,
}

fn default_seed() -> u64 {
    1
}

/// MAC handling of rerouted frames.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum MacMode {
    /// Frames keep the original adapter's MAC.
    Preserve,
    /// Frames get the carrying adapter's MAC.
    Rewrite,
}

/// One adapter of the team.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    /// Its name in events and reports.
    pub name: String,
    /// Link rate, Mbit/s.
    pub rate_mbps: u32,
    /// One-way latency of the wire, µs.
    pub latency_us: u32,
    /// Failover priority (lowest preferred).
    pub priority: Option<u8>,
    /// Admin weight.
    pub weight: Option<u32>,
    /// Quota per round, bytes.
    pub quota_bytes: Option<u32>,
    /// Whether its miniport links mpshim.
    #[serde(default)]
    pub shim: bool,
    /// Whether the filter probes this path.
    #[serde(default)]
    pub probe: bool,
}

/// The offered load.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Number of flows.
    pub flows: u32,
    /// Frame size in bytes (Ethernet header included, FCS excluded).
    pub frame_bytes: u32,
    /// Total offered load, Mbit/s, spread evenly over the flows; 0 = saturate.
    #[serde(default)]
    pub offered_mbps: u32,
    /// Per-flow cap on NBLs sent and not yet completed.
    pub window_nbls: u32,
    /// Distinct destination targets.
    #[serde(default = "default_targets")]
    pub targets: u32,
    /// Quota policy: cap on NBLs in flight per (target, path).
    pub max_outstanding_per_target: Option<u32>,
}

fn default_targets() -> u32 {
    1
}

/// What an event does.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// The link goes down, with a LINK_STATE indication.
    LinkDown,
    /// The link comes back.
    LinkUp,
    /// Frames vanish silently while completions still succeed.
    Blackhole,
    /// Ends a blackhole, error completions, stall or flap.
    Restore,
    /// The link rate changes to `rate_mbps`.
    Rate,
    /// Sends complete with an error status.
    ErrorCompletions,
    /// Sends stop completing.
    Stall,
    /// The link goes down and up every `period_ms`.
    Flap,
    /// The stack pauses for `for_ms`, then restarts.
    Pause,
    /// The filter module detaches.
    Detach,
    /// The filter module attaches again.
    Attach,
    /// An administrator fails the path.
    AdminFail,
    /// An administrator reinstates the path.
    AdminReinstate,
}

impl EventKind {
    /// Its name in scenario files.
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::LinkDown => "link-down",
            EventKind::LinkUp => "link-up",
            EventKind::Blackhole => "blackhole",
            EventKind::Restore => "restore",
            EventKind::Rate => "rate",
            EventKind::ErrorCompletions => "error-completions",
            EventKind::Stall => "stall",
            EventKind::Flap => "flap",
            EventKind::Pause => "pause",
            EventKind::Detach => "detach",
            EventKind::Attach => "attach",
            EventKind::AdminFail => "admin-fail",
            EventKind::AdminReinstate => "admin-reinstate",
        }
    }

    /// Whether the fault lasts until `until_ms` or a `restore`.
    pub const fn lasts(self) -> bool {
        matches!(
            self,
            EventKind::Flap | EventKind::Blackhole | EventKind::ErrorCompletions | EventKind::Stall
        )
    }
}

/// One timed event.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// When, virtual ms from the start.
    pub at_ms: u64,
    /// Which path (by name).
    pub path: String,
    /// What.
    pub kind: EventKind,
    /// `rate`: the new rate, Mbit/s.
    pub rate_mbps: Option<u32>,
    /// `flap`: the period, ms.
    pub period_ms: Option<u32>,
    /// `flap`, `blackhole`, `error-completions`, `stall`: when it ends (else at a `restore`).
    pub until_ms: Option<u64>,
    /// `pause`: how long the stack stays paused, ms (default 50).
    pub for_ms: Option<u32>,
}
