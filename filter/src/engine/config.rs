//! Group configuration, its defaults and its validation. Construction validates everything and
//! returns a [`ConfigError`] for any out-of-range value; nothing here panics.

use alloc::vec::Vec;
use core::fmt;

use super::types::{MAX_PATHS, MS, PathId, Role, US};

/// Longest accepted delay / window / hold-down (one hour).
pub const MAX_DELAY_NS: u64 = 3_600_000 * MS;
/// Largest accepted admin weight.
pub const MAX_WEIGHT: u32 = 1_000_000;
/// Largest accepted data quota per round (16 MiB).
pub const MAX_QUOTA_BYTES: u32 = 16 << 20;
/// Largest accepted flow-table size.
pub const MAX_FLOW_ENTRIES: u32 = 1 << 20;
/// Largest accepted number of per-CPU shards.
pub const MAX_CPUS: u32 = 1024;
/// Largest accepted flap-damping failure count.
pub const MAX_FLAP_FAILURES: u8 = 8;

/// Static configuration of one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathConfig {
    /// Priority for failover-only: lower value is preferred.
    pub priority: u8,
    /// Active or standby.
    pub role: Role,
    /// Admin weight, 1..=[`MAX_WEIGHT`]. Weighted-paths: the lowest weight wins. Service-time: the
    /// relative throughput.
    pub weight: u32,
    /// Quota policy: bytes per deficit-round-robin round, 1..=[`MAX_QUOTA_BYTES`].
    pub quota_bytes: u32,
    /// Nominal link speed in bits per second (0 = unknown); the speed-share prior.
    pub link_speed_bps: u64,
}

impl Default for PathConfig {
    fn default() -> Self {
        Self {
            priority: 0,
            role: Role::Active,
            weight: 1,
            quota_bytes: 64 * 1024,
            link_speed_bps: 0,
        }
    }
}

/// When a recovered path returns to service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failback {
    /// As soon as the up-delay has passed.
    Immediate,
    /// After `max(up_delay, delay_ns)` of continuous health.
    Deferred {
        /// Minimum time healthy before the path is used again, ns.
        delay_ns: u64,
    },
    /// Only after an `AdminReinstate` event (and the up-delay), or when no other path is usable.
    Manual,
}

/// Which headers the address-hash policy uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashLayer {
    /// [`super::FlowKey::l2`].
    Layer2,
    /// [`super::FlowKey::l34`].
    Layer34,
}

/// How speed-share turns shares into per-NBL choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareScheduler {
    /// Byte-weighted smooth weighted round robin.
    SmoothWrr,
    /// Earliest virtual finish time (the default; see docs/engine.md for the choice).
    EarliestFinish,
}

/// Quota policy parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaConfig {
    /// Maximum outstanding NBLs per (target, path); 0 means unlimited.
    pub max_outstanding_per_target: u32,
    /// Number of target slots (power of two, 1..=65536). Targets hash into slots; targets that share
    /// a slot share its limit (the limit is never exceeded for any target).
    pub target_slots: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            max_outstanding_per_target: 64,
            target_slots: 64,
        }
    }
}

/// Speed-share policy parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpeedShareConfig {
    /// Half-life of the speed EWMA, in nanoseconds of path busy time (1 µs..=60 s).
    pub half_life_ns: u64,
    /// Per-NBL scheduler.
    pub scheduler: ShareScheduler,
    /// Share given to a path with no recent measurement, parts per million (1..=100 000).
    pub probe_share_ppm: u32,
    /// A path with no completion for this long counts as not measured recently (> 0).
    pub stale_after_ns: u64,
}

impl Default for SpeedShareConfig {
    fn default() -> Self {
        Self {
            half_life_ns: 100 * MS,
            scheduler: ShareScheduler::EarliestFinish,
            probe_share_ppm: 10_000,
            stale_after_ns: 1_000 * MS,
        }
    }
}

/// The balancing policy and its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyConfig {
    /// Failover only: the eligible path with the best (lowest) priority.
    FailoverOnly,
    /// Round robin over eligible paths.
    RoundRobin,
    /// Weighted paths: the eligible path with the lowest admin weight (round robin among ties).
    WeightedPaths,
    /// Fewest NBLs in flight.
    LeastQueueDepth,
    /// Fewest bytes in flight.
    LeastBlocks,
    /// Rendezvous hash of the flow's addresses.
    AddressHash(HashLayer),
    /// `(in-flight bytes + len) / weight`, smallest wins.
    ServiceTime,
    /// Weighted deficit round robin by data quota, with an outstanding cap per target.
    Quota(QuotaConfig),
    /// Shares proportional to measured path speed.
    SpeedShare(SpeedShareConfig),
}

/// Flap damping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlapConfig {
    /// This many failures within `window_ns` make a recovering path Marginal (0 disables, max 8).
    pub max_failures: u8,
    /// Window over which failures are counted.
    pub window_ns: u64,
    /// A Marginal path returns to its role state after being healthy this long.
    pub stable_ns: u64,
}

/// Send-error accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorConfig {
    /// This many counted send errors within `window_ns` fail the path (0 disables).
    pub threshold: u32,
    /// Counting window.
    pub window_ns: u64,
    /// An error trip is forgiven after this long (or on link up / probe answered / reinstate).
    pub recovery_ns: u64,
}

/// Flowlet affinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowletConfig {
    /// Flowlet gap; 0 selects per packet (no affinity).
    pub gap_ns: u64,
    /// Flow-table entries (power of two, 16..=[`MAX_FLOW_ENTRIES`]).
    pub table_entries: u32,
}

/// Everything needed to build a [`super::PathGroup`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// The paths (1..=16); a path's id is its index here.
    pub paths: Vec<PathConfig>,
    /// Balancing policy.
    pub policy: PolicyConfig,
    /// Failback policy.
    pub failback: Failback,
    /// A recovered path must stay healthy this long before it is used (hold-down floor).
    pub up_delay_ns: u64,
    /// A link-down must persist this long before a usable path fails.
    pub down_delay_ns: u64,
    /// Flap damping.
    pub flap: FlapConfig,
    /// Send-error accounting.
    pub errors: ErrorConfig,
    /// Consecutive lost probes that fail a path (1..=255).
    pub probe_miss_max: u8,
    /// Flowlet affinity.
    pub flowlet: FlowletConfig,
    /// Number of per-CPU shards (1..=[`MAX_CPUS`]); CPU indices are taken modulo this.
    pub cpus: u32,
    /// Use Marginal paths when no Active or Standby path exists.
    pub marginal_last_resort: bool,
}

impl GroupConfig {
    /// A configuration with `paths` and defaults for everything else.
    pub fn new(paths: Vec<PathConfig>, policy: PolicyConfig) -> Self {
        Self {
            paths,
            policy,
            failback: Failback::Deferred {
                delay_ns: 5_000 * MS,
            },
            up_delay_ns: 500 * MS,
            down_delay_ns: 0,
            flap: FlapConfig {
                max_failures: 3,
                window_ns: 60_000 * MS,
                stable_ns: 120_000 * MS,
            },
            errors: ErrorConfig {
                threshold: 8,
                window_ns: 1_000 * MS,
                recovery_ns: 10_000 * MS,
            },
            probe_miss_max: 3,
            flowlet: FlowletConfig {
                gap_ns: 500 * US,
                table_entries: 4096,
            },
            cpus: 64,
            marginal_last_resort: true,
        }
    }

    /// The hold-down a recovering path must wait out before it is used again.
    pub fn hold_down_ns(&self) -> u64 {
        match self.failback {
            Failback::Immediate | Failback::Manual => self.up_delay_ns,
            Failback::Deferred { delay_ns } => self.up_delay_ns.max(delay_ns),
        }
    }

    /// Checks every value.
    ///
    /// # Errors
    /// The first out-of-range value found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = self.paths.len();
        if n == 0 {
            return Err(ConfigError::NoPaths);
        }
        if n > MAX_PATHS {
            return Err(ConfigError::TooManyPaths { count: n });
        }
        for (i, p) in self.paths.iter().enumerate() {
            let path = PathId::from_index(i);
            if p.weight == 0 || p.weight > MAX_WEIGHT {
                return Err(ConfigError::Weight {
                    path,
                    weight: p.weight,
                });
            }
            if p.quota_bytes == 0 || p.quota_bytes > MAX_QUOTA_BYTES {
                return Err(ConfigError::Quota {
                    path,
                    quota_bytes: p.quota_bytes,
                });
            }
        }
        check_delay("up_delay_ns", self.up_delay_ns, false)?;
        check_delay("down_delay_ns", self.down_delay_ns, false)?;
        if let Failback::Deferred { delay_ns } = self.failback {
            check_delay("failback delay_ns", delay_ns, false)?;
        }
        if self.flap.max_failures > MAX_FLAP_FAILURES {
            return Err(ConfigError::FlapFailures {
                value: self.flap.max_failures,
            });
        }
        if self.flap.max_failures > 0 {
            check_delay("flap.window_ns", self.flap.window_ns, true)?;
            check_delay("flap.stable_ns", self.flap.stable_ns, false)?;
        }
        if self.errors.threshold > 0 {
            check_delay("errors.window_ns", self.errors.window_ns, true)?;
            check_delay("errors.recovery_ns", self.errors.recovery_ns, false)?;
        }
        if self.probe_miss_max == 0 {
            return Err(ConfigError::ProbeMissMax);
        }
        if self.flowlet.gap_ns > 0 {
            check_delay("flowlet.gap_ns", self.flowlet.gap_ns, true)?;
            let e = self.flowlet.table_entries;
            if !e.is_power_of_two() || !(16..=MAX_FLOW_ENTRIES).contains(&e) {
                return Err(ConfigError::FlowTable { entries: e });
            }
        }
        if self.cpus == 0 || self.cpus > MAX_CPUS {
            return Err(ConfigError::Cpus { cpus: self.cpus });
        }
        match self.policy {
            PolicyConfig::Quota(q)
                if !q.target_slots.is_power_of_two() || q.target_slots > 65_536 =>
            {
                return Err(ConfigError::TargetSlots {
                    slots: q.target_slots,
                });
            }
            PolicyConfig::SpeedShare(s) => {
                if s.half_life_ns < US || s.half_life_ns > 60_000 * MS {
                    return Err(ConfigError::HalfLife {
                        half_life_ns: s.half_life_ns,
                    });
                }
                if s.probe_share_ppm == 0 || s.probe_share_ppm > 100_000 {
                    return Err(ConfigError::ProbeShare {
                        ppm: s.probe_share_ppm,
                    });
                }
                check_delay("speed_share.stale_after_ns", s.stale_after_ns, true)?;
            }
            _ => {}
        }
        Ok(())
    }
}

fn check_delay(field: &'static str, value_ns: u64, nonzero: bool) -> Result<(), ConfigError> {
    if value_ns > MAX_DELAY_NS || (nonzero && value_ns == 0) {
        Err(ConfigError::Duration { field, value_ns })
    } else {
        Ok(())
    }
}

/// A configuration value out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The group has no paths.
    NoPaths,
    /// More than 16 paths.
    TooManyPaths {
        /// How many were given.
        count: usize,
    },
    /// Admin weight outside 1..=[`MAX_WEIGHT`].
    Weight {
        /// Which path.
        path: PathId,
        /// The value.
        weight: u32,
    },
    /// Data quota outside 1..=[`MAX_QUOTA_BYTES`].
    Quota {
        /// Which path.
        path: PathId,
        /// The value.
        quota_bytes: u32,
    },
    /// A duration is zero where it must not be, or above [`MAX_DELAY_NS`].
    Duration {
        /// Which field.
        field: &'static str,
        /// The value.
        value_ns: u64,
    },
    /// Flap failure count above [`MAX_FLAP_FAILURES`].
    FlapFailures {
        /// The value.
        value: u8,
    },
    /// `probe_miss_max` is 0.
    ProbeMissMax,
    /// Flow-table size not a power of two in 16..=[`MAX_FLOW_ENTRIES`].
    FlowTable {
        /// The value.
        entries: u32,
    },
    /// CPU shard count outside 1..=[`MAX_CPUS`].
    Cpus {
        /// The value.
        cpus: u32,
    },
    /// Quota target slots not a power of two in 1..=65536.
    TargetSlots {
        /// The value.
        slots: u32,
    },
    /// Speed-share half-life outside 1 µs..=60 s.
    HalfLife {
        /// The value.
        half_life_ns: u64,
    },
    /// Probe share outside 1..=100 000 ppm.
    ProbeShare {
        /// The value.
        ppm: u32,
    },
    /// A path id outside the group.
    UnknownPath {
        /// The index.
        index: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoPaths => f.write_str("a path group needs at least one path"),
            Self::TooManyPaths { count } => {
                write!(f, "{count} paths given, at most {MAX_PATHS} allowed")
            }
            Self::Weight { path, weight } => write!(
                f,
                "path {}: weight {weight} out of range 1..={MAX_WEIGHT}",
                path.index()
            ),
            Self::Quota { path, quota_bytes } => write!(
                f,
                "path {}: quota {quota_bytes} bytes out of range 1..={MAX_QUOTA_BYTES}",
                path.index()
            ),
            Self::Duration { field, value_ns } => {
                write!(
                    f,
                    "{field} = {value_ns} ns out of range (must be <= {MAX_DELAY_NS} ns and nonzero where required)"
                )
            }
            Self::FlapFailures { value } => {
                write!(
                    f,
                    "flap.max_failures = {value}, at most {MAX_FLAP_FAILURES}"
                )
            }
            Self::ProbeMissMax => f.write_str("probe_miss_max must be at least 1"),
            Self::FlowTable { entries } => write!(
                f,
                "flow table size {entries} must be a power of two in 16..={MAX_FLOW_ENTRIES}"
            ),
            Self::Cpus { cpus } => write!(f, "cpus = {cpus} out of range 1..={MAX_CPUS}"),
            Self::TargetSlots { slots } => {
                write!(
                    f,
                    "target_slots = {slots} must be a power of two in 1..=65536"
                )
            }
            Self::HalfLife { half_life_ns } => {
                write!(
                    f,
                    "speed-share half-life {half_life_ns} ns out of range 1 us..=60 s"
                )
            }
            Self::ProbeShare { ppm } => write!(f, "probe share {ppm} ppm out of range 1..=100000"),
            Self::UnknownPath { index } => write!(f, "path index {index} is not in this group"),
        }
    }
}

impl core::error::Error for ConfigError {}
