//! Reading and checking one module's keys.

use super::keys::{self, Accepts, KEYS, MAX_MS, MAX_QUEUE_MS};
use super::value::{Ascii, MAX_TEXT, RawValue, decimal, named_ms};
use crate::engine::config::{
    Failback, GroupConfig, HashLayer, PathConfig, PolicyConfig, QuotaConfig, SpeedShareConfig,
};
use crate::engine::types::{MS, Role, US};
use crate::probe::ProbeTarget;
use alloc::vec::Vec;
use core::fmt;

/// Where values come from: NDIS's configuration handle in the driver, a map in tests.
pub trait ParamSource {
    /// The value of `key`, or `None` when it is absent.
    fn read(&self, key: &'static str) -> Option<RawValue<'_>>;
}

/// The balancing policies, by their configuration names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyName {
    /// `failover`.
    Failover,
    /// `round-robin`.
    RoundRobin,
    /// `weighted`.
    Weighted,
    /// `lqd` (least queue depth).
    Lqd,
    /// `least-blocks`.
    LeastBlocks,
    /// `hash` (layer 3+4).
    Hash,
    /// `service-time`.
    ServiceTime,
    /// `quota`.
    Quota,
    /// `speed-share`.
    SpeedShare,
}

impl PolicyName {
    /// Every policy, in the order of [`keys::POLICY_FORMS`].
    pub const ALL: [PolicyName; 9] = [
        PolicyName::Failover,
        PolicyName::RoundRobin,
        PolicyName::Weighted,
        PolicyName::Lqd,
        PolicyName::LeastBlocks,
        PolicyName::Hash,
        PolicyName::ServiceTime,
        PolicyName::Quota,
        PolicyName::SpeedShare,
    ];

    /// The configuration name.
    pub const fn name(self) -> &'static str {
        match self {
            PolicyName::Failover => "failover",
            PolicyName::RoundRobin => "round-robin",
            PolicyName::Weighted => "weighted",
            PolicyName::Lqd => "lqd",
            PolicyName::LeastBlocks => "least-blocks",
            PolicyName::Hash => "hash",
            PolicyName::ServiceTime => "service-time",
            PolicyName::Quota => "quota",
            PolicyName::SpeedShare => "speed-share",
        }
    }

    /// The policy called `name` (lower case), if any.
    pub fn parse(name: &str) -> Option<PolicyName> {
        PolicyName::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What happens to sends while every path of the group is down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllDown {
    /// Complete them at once with NDIS_STATUS_MEDIA_DISCONNECTED.
    Fail,
    /// Hold them (bounded) up to this many ms, then fail them.
    Queue {
        /// How long an NBL may wait, 1..=60 000 ms.
        ms: u32,
    },
}

/// Whose source MAC a frame carries when the team sends it through another member.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MacMode {
    /// The member whose protocol sent it (the switch moves that MAC to the carrier's port).
    #[default]
    Preserve,
    /// The carrier's (its own header per NET_BUFFER; announcements move the peers' entries).
    Rewrite,
}

impl MacMode {
    /// The mode called `text` (lower case), if any.
    pub fn parse(text: &str) -> Option<MacMode> {
        match text {
            "preserve" => Some(MacMode::Preserve),
            "rewrite" => Some(MacMode::Rewrite),
            _ => None,
        }
    }
}

/// The per-adapter values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberSettings {
    /// `Priority`.
    pub priority: u8,
    /// `Role`.
    pub role: Role,
    /// `Weight`.
    pub weight: u32,
    /// `QuotaBytes`.
    pub quota_bytes: u32,
    /// `ProbeTarget`: `None` = this path is not probed.
    pub probe_target: Option<ProbeTarget>,
    /// `ProbeIntervalMs`.
    pub probe_interval_ms: u32,
}

impl MemberSettings {
    /// The engine's path configuration for this member at `link_speed_bps`.
    pub fn path_config(&self, link_speed_bps: u64) -> PathConfig {
        PathConfig {
            priority: self.priority,
            role: self.role,
            weight: self.weight,
            quota_bytes: self.quota_bytes,
            link_speed_bps,
        }
    }
}

/// The group-wide values (the group's first member's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupSettings {
    /// `Policy`.
    pub policy: PolicyName,
    /// `FlowletGapUs`.
    pub flowlet_gap_us: u32,
    /// `Failback`.
    pub failback: Failback,
    /// `UpDelayMs`.
    pub up_delay_ms: u32,
    /// `DownDelayMs`.
    pub down_delay_ms: u32,
    /// `AllDown`.
    pub all_down: AllDown,
    /// `MaxOutstandingPerTarget` (0 = unlimited).
    pub max_outstanding_per_target: u32,
    /// `SendErrorThreshold` (0 = never).
    pub send_error_threshold: u32,
    /// `ProbeMissed`.
    pub probe_missed: u8,
    /// `MacMode` (read at attach only).
    pub mac_mode: MacMode,
    /// `AnnounceCount`: announcements per address after a member's traffic moves.
    pub announce_count: u8,
    /// `AnnounceIntervalMs`.
    pub announce_interval_ms: u32,
}

impl GroupSettings {
    /// The first key whose value differs from `other`'s, for the "member disagrees" event.
    pub fn first_difference(&self, other: &GroupSettings) -> Option<&'static str> {
        [
            (self.policy != other.policy, keys::POLICY),
            (
                self.flowlet_gap_us != other.flowlet_gap_us,
                keys::FLOWLET_GAP_US,
            ),
            (self.failback != other.failback, keys::FAILBACK),
            (self.up_delay_ms != other.up_delay_ms, keys::UP_DELAY_MS),
            (
                self.down_delay_ms != other.down_delay_ms,
                keys::DOWN_DELAY_MS,
            ),
            (self.all_down != other.all_down, keys::ALL_DOWN),
            (
                self.max_outstanding_per_target != other.max_outstanding_per_target,
                keys::MAX_OUTSTANDING_PER_TARGET,
            ),
            (
                self.send_error_threshold != other.send_error_threshold,
                keys::SEND_ERROR_THRESHOLD,
            ),
            (self.probe_missed != other.probe_missed, keys::PROBE_MISSED),
            (self.mac_mode != other.mac_mode, keys::MAC_MODE),
            (
                self.announce_count != other.announce_count,
                keys::ANNOUNCE_COUNT,
            ),
            (
                self.announce_interval_ms != other.announce_interval_ms,
                keys::ANNOUNCE_INTERVAL_MS,
            ),
        ]
        .into_iter()
        .find_map(|(differs, key)| differs.then_some(key))
    }

    /// The engine's group configuration for these settings over `paths`, engine defaults for
    /// everything the registry does not set.
    pub fn engine_config(&self, paths: Vec<PathConfig>) -> GroupConfig {
        let policy = match self.policy {
            PolicyName::Failover => PolicyConfig::FailoverOnly,
            PolicyName::RoundRobin => PolicyConfig::RoundRobin,
            PolicyName::Weighted => PolicyConfig::WeightedPaths,
            PolicyName::Lqd => PolicyConfig::LeastQueueDepth,
            PolicyName::LeastBlocks => PolicyConfig::LeastBlocks,
            PolicyName::Hash => PolicyConfig::AddressHash(HashLayer::Layer34),
            PolicyName::ServiceTime => PolicyConfig::ServiceTime,
            PolicyName::Quota => PolicyConfig::Quota(QuotaConfig {
                max_outstanding_per_target: self.max_outstanding_per_target,
                ..QuotaConfig::default()
            }),
            PolicyName::SpeedShare => PolicyConfig::SpeedShare(SpeedShareConfig::default()),
        };
        let mut cfg = GroupConfig::new(paths, policy);
        cfg.failback = self.failback;
        cfg.up_delay_ns = u64::from(self.up_delay_ms) * MS;
        cfg.down_delay_ns = u64::from(self.down_delay_ms) * MS;
        cfg.errors.threshold = self.send_error_threshold;
        cfg.flowlet.gap_ns = u64::from(self.flowlet_gap_us) * US;
        cfg.probe_miss_max = self.probe_missed;
        cfg
    }
}

/// A module's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleConfig {
    /// No `GroupId` (or 0): plain pass-through, no surprise teaming.
    NotTeamed,
    /// A member of group `group_id`.
    Teamed {
        /// `GroupId`, 1..=65535.
        group_id: u32,
        /// This adapter's values.
        member: MemberSettings,
        /// The group-wide values as this member has them.
        group: GroupSettings,
    },
}

/// The value of a rejected key, as far as it can be shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// An integer value.
    Integer(u32),
    /// Text, non-ASCII shown as `?`, cut to [`MAX_TEXT`] characters.
    Text {
        /// The shown characters.
        bytes: [u8; MAX_TEXT],
        /// How many of `bytes` are used.
        len: usize,
        /// The value was longer.
        cut: bool,
    },
}

impl Shown {
    fn of(raw: RawValue<'_>) -> Shown {
        match raw {
            RawValue::Integer(v) => Shown::Integer(v),
            RawValue::Text(units) => {
                let mut bytes = [b'?'; MAX_TEXT];
                for (b, &u) in bytes.iter_mut().zip(units) {
                    if let Some(c) = u8::try_from(u)
                        .ok()
                        .filter(|c| c.is_ascii() && !c.is_ascii_control())
                    {
                        *b = c;
                    }
                }
                Shown::Text {
                    bytes,
                    len: units.len().min(MAX_TEXT),
                    cut: units.len() > MAX_TEXT,
                }
            }
        }
    }
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Integer(v) => write!(f, "{v}"),
            Shown::Text { bytes, len, cut } => {
                let text = core::str::from_utf8(&bytes[..*len]).unwrap_or("?");
                write!(f, "\"{text}{}\"", if *cut { "…" } else { "" })
            }
        }
    }
}

/// An invalid value: the module joins no group and passes traffic through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The key.
    pub key: &'static str,
    /// Its value.
    pub value: Shown,
    /// What the key accepts.
    pub accepts: Accepts,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: accepted ", self.key, self.value)?;
        match self.accepts {
            Accepts::Integer { min, max } => write!(f, "{min}..={max}"),
            Accepts::Text { forms } => f.write_str(forms),
        }
    }
}

/// Reads one key at a time and remembers nothing: every getter validates against [`KEYS`].
struct Reader<'s, S: ParamSource> {
    source: &'s S,
}

impl<S: ParamSource> Reader<'_, S> {
    /// The table entry of `key`. Every key read is in the table (a unit test reads them all); a
    /// key that is not would be refused as accepting nothing rather than stop the driver.
    fn spec(key: &'static str) -> Option<&'static keys::KeySpec> {
        KEYS.iter().find(|k| k.name == key)
    }

    fn error(key: &'static str, raw: RawValue<'_>) -> ConfigError {
        ConfigError {
            key,
            value: Shown::of(raw),
            accepts: Self::spec(key).map_or(NOTHING, |k| k.accepts),
        }
    }

    /// An integer key: REG_DWORD, or REG_SZ digits.
    fn integer(&self, key: &'static str) -> Result<u32, ConfigError> {
        let raw = self.source.read(key);
        let (default, min, max) = match Self::spec(key) {
            Some(&keys::KeySpec {
                accepts: Accepts::Integer { min, max },
                default,
                ..
            }) => (decimal(default), min, max),
            _ => (None, 1, 0),
        };
        let value = match raw {
            None => default,
            Some(RawValue::Integer(v)) => Some(v),
            Some(RawValue::Text(units)) => Ascii::fold(units).and_then(|a| decimal(a.as_str())),
        };
        value
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| Self::error(key, raw.unwrap_or(RawValue::Text(&[]))))
    }

    /// A text key, parsed by `parse` from its lower-case form.
    fn text<T>(
        &self,
        key: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ConfigError> {
        match self.source.read(key) {
            None => Self::spec(key)
                .and_then(|k| parse(k.default))
                .ok_or_else(|| Self::error(key, RawValue::Text(&[]))),
            Some(raw @ RawValue::Integer(_)) => Err(Self::error(key, raw)),
            Some(raw @ RawValue::Text(units)) => Ascii::fold(units)
                .and_then(|a| parse(a.as_str()))
                .ok_or_else(|| Self::error(key, raw)),
        }
    }
}

/// What a key missing from the table accepts.
const NOTHING: Accepts = Accepts::Text { forms: "nothing" };

fn role(text: &str) -> Option<Role> {
    match text {
        "active" => Some(Role::Active),
        "standby" => Some(Role::Standby),
        _ => None,
    }
}

/// `Failback` from its text form (`immediate | manual | deferred:<ms>`, lower case).
pub fn parse_failback(text: &str) -> Option<Failback> {
    match text {
        "immediate" => Some(Failback::Immediate),
        "manual" => Some(Failback::Manual),
        _ => named_ms(text, "deferred", MAX_MS).map(|ms| Failback::Deferred {
            delay_ns: u64::from(ms) * MS,
        }),
    }
}

/// `ProbeTarget` from its text form: empty for no probe, else a unicast address.
pub fn parse_probe_target(text: &str) -> Option<Option<ProbeTarget>> {
    if text.is_empty() {
        return Some(None);
    }
    ProbeTarget::parse(text).ok().map(Some)
}

/// `AllDown` from its text form (`fail | queue:<ms>`, lower case).
pub fn parse_all_down(text: &str) -> Option<AllDown> {
    match text {
        "fail" => Some(AllDown::Fail),
        _ => named_ms(text, "queue", MAX_QUEUE_MS).map(|ms| AllDown::Queue { ms }),
    }
}

impl ModuleConfig {
    /// Reads and checks every key of one module.
    ///
    /// # Errors
    /// The first invalid value, in [`KEYS`] order. Values of a module that is not teamed are not
    /// read beyond `GroupId`.
    pub fn read(source: &impl ParamSource) -> Result<ModuleConfig, ConfigError> {
        let r = Reader { source };
        let group_id = r.integer(keys::GROUP_ID)?;
        if group_id == 0 {
            return Ok(ModuleConfig::NotTeamed);
        }
        let priority = u8::try_from(r.integer(keys::PRIORITY)?).unwrap_or(u8::MAX);
        let role = r.text(keys::ROLE, role)?;
        let weight = r.integer(keys::WEIGHT)?;
        let quota_bytes = r.integer(keys::QUOTA_BYTES)?;
        let mut group = GroupSettings {
            policy: r.text(keys::POLICY, PolicyName::parse)?,
            flowlet_gap_us: r.integer(keys::FLOWLET_GAP_US)?,
            failback: r.text(keys::FAILBACK, parse_failback)?,
            up_delay_ms: r.integer(keys::UP_DELAY_MS)?,
            down_delay_ms: r.integer(keys::DOWN_DELAY_MS)?,
            all_down: r.text(keys::ALL_DOWN, parse_all_down)?,
            max_outstanding_per_target: r.integer(keys::MAX_OUTSTANDING_PER_TARGET)?,
            send_error_threshold: r.integer(keys::SEND_ERROR_THRESHOLD)?,
            probe_missed: 0,
            mac_mode: MacMode::Preserve,
            announce_count: 0,
            announce_interval_ms: 0,
        };
        let member = MemberSettings {
            priority,
            role,
            weight,
            quota_bytes,
            probe_target: r.text(keys::PROBE_TARGET, parse_probe_target)?,
            probe_interval_ms: r.integer(keys::PROBE_INTERVAL_MS)?,
        };
        group.probe_missed = u8::try_from(r.integer(keys::PROBE_MISSED)?).unwrap_or(u8::MAX);
        group.mac_mode = r.text(keys::MAC_MODE, MacMode::parse)?;
        group.announce_count = u8::try_from(r.integer(keys::ANNOUNCE_COUNT)?).unwrap_or(u8::MAX);
        group.announce_interval_ms = r.integer(keys::ANNOUNCE_INTERVAL_MS)?;
        Ok(ModuleConfig::Teamed {
            group_id,
            member,
            group,
        })
    }
}

/// One value given by name, as a runtime change (the control device) supplies it: read through
/// the same [`Reader`] as the registry, so the same ranges and forms apply.
struct One<'a> {
    key: &'static str,
    raw: RawValue<'a>,
}

impl ParamSource for One<'_> {
    fn read(&self, key: &'static str) -> Option<RawValue<'_>> {
        (key == self.key).then_some(self.raw)
    }
}

/// Why a runtime change of one key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetError {
    /// No key of that scope has this name (or it cannot change at runtime, as `GroupId` and
    /// `Role`).
    UnknownKey,
    /// The value is outside what the key accepts.
    Invalid(ConfigError),
}

/// The table name of `name` among `keys` (compared without case, as the registry does).
fn known(name: &str, keys: &[&'static str]) -> Result<&'static str, SetError> {
    keys.iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(name))
        .ok_or(SetError::UnknownKey)
}

impl GroupSettings {
    /// The group-scope keys a running group can change.
    pub const RUNTIME_KEYS: [&'static str; 9] = [
        keys::POLICY,
        keys::FLOWLET_GAP_US,
        keys::FAILBACK,
        keys::UP_DELAY_MS,
        keys::DOWN_DELAY_MS,
        keys::ALL_DOWN,
        keys::MAX_OUTSTANDING_PER_TARGET,
        keys::SEND_ERROR_THRESHOLD,
        keys::PROBE_MISSED,
    ];

    /// These settings with key `name` set to `raw`, checked exactly as the registry value is.
    ///
    /// # Errors
    /// [`SetError`]; `self` is unchanged either way.
    pub fn with(&self, name: &str, raw: RawValue<'_>) -> Result<GroupSettings, SetError> {
        let key = known(name, &Self::RUNTIME_KEYS)?;
        let r = Reader {
            source: &One { key, raw },
        };
        let mut s = *self;
        let bad = SetError::Invalid;
        match key {
            keys::POLICY => s.policy = r.text(key, PolicyName::parse).map_err(bad)?,
            keys::FLOWLET_GAP_US => s.flowlet_gap_us = r.integer(key).map_err(bad)?,
            keys::FAILBACK => s.failback = r.text(key, parse_failback).map_err(bad)?,
            keys::UP_DELAY_MS => s.up_delay_ms = r.integer(key).map_err(bad)?,
            keys::DOWN_DELAY_MS => s.down_delay_ms = r.integer(key).map_err(bad)?,
            keys::ALL_DOWN => s.all_down = r.text(key, parse_all_down).map_err(bad)?,
            keys::MAX_OUTSTANDING_PER_TARGET => {
                s.max_outstanding_per_target = r.integer(key).map_err(bad)?;
            }
            keys::PROBE_MISSED => {
                s.probe_missed = u8::try_from(r.integer(key).map_err(bad)?).unwrap_or(u8::MAX);
            }
            _ => s.send_error_threshold = r.integer(key).map_err(bad)?,
        }
        Ok(s)
    }
}

impl MemberSettings {
    /// The member-scope keys a running member can change (`Role` decides a path's state, so it
    /// changes only with a re-attach).
    pub const RUNTIME_KEYS: [&'static str; 3] = [keys::PRIORITY, keys::WEIGHT, keys::QUOTA_BYTES];

    /// These settings with key `name` set to `raw`, checked exactly as the registry value is.
    ///
    /// # Errors
    /// [`SetError`]; `self` is unchanged either way.
    pub fn with(&self, name: &str, raw: RawValue<'_>) -> Result<MemberSettings, SetError> {
        let key = known(name, &Self::RUNTIME_KEYS)?;
        let r = Reader {
            source: &One { key, raw },
        };
        let mut s = *self;
        match key {
            keys::PRIORITY => {
                s.priority =
                    u8::try_from(r.integer(key).map_err(SetError::Invalid)?).unwrap_or(u8::MAX);
            }
            keys::WEIGHT => s.weight = r.integer(key).map_err(SetError::Invalid)?,
            _ => s.quota_bytes = r.integer(key).map_err(SetError::Invalid)?,
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests;
