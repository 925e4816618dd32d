//! Range and consistency checks; every error names the key.

use super::model::{EventKind, MacMode, Scenario};
use mpfilter::config::keys::{self, Accepts};
use mpfilter::config::{PolicyName, parse_all_down, parse_failback};
use std::fmt;

/// Most paths in a team (the engine's limit).
pub const MAX_PATHS: usize = 16;
/// Longest run, virtual ms.
pub const MAX_DURATION_MS: u64 = 600_000;
/// Fastest link, Mbit/s.
pub const MAX_RATE_MBPS: u32 = 400_000;

/// Why a scenario was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScenarioError {
    /// Not TOML, a wrong type, a missing or an unknown key (the message has the line).
    Toml(String),
    /// A value out of range or inconsistent with the rest.
    Invalid {
        /// The key, e.g. `event[2].rate_mbps`.
        key: String,
        /// The value as written.
        value: String,
        /// What is accepted.
        accepted: String,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Toml(e) => f.write_str(e.trim_end()),
            ScenarioError::Invalid {
                key,
                value,
                accepted,
            } => write!(f, "{key} = {value}: accepted {accepted}"),
        }
    }
}

impl std::error::Error for ScenarioError {}

fn invalid(
    key: impl Into<String>,
    value: impl fmt::Display,
    accepted: impl Into<String>,
) -> ScenarioError {
    ScenarioError::Invalid {
        key: key.into(),
        value: value.to_string(),
        accepted: accepted.into(),
    }
}

fn range<T: PartialOrd + fmt::Display + Copy>(
    key: &str,
    v: T,
    min: T,
    max: T,
) -> Result<(), ScenarioError> {
    if v < min || v > max {
        return Err(invalid(key, v, format!("{min}..={max}")));
    }
    Ok(())
}

/// The range the filter accepts for configuration key `name`.
fn filter_range(name: &str) -> (u32, u32) {
    match keys::spec(name).map(|k| k.accepts) {
        Some(Accepts::Integer { min, max }) => (min, max),
        _ => unreachable!("{name} is an integer key of the filter"),
    }
}

fn text<T>(
    key: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    forms: &str,
) -> Result<(), ScenarioError> {
    match parse(&value.to_ascii_lowercase()) {
        Some(_) => Ok(()),
        None => Err(invalid(key, format!("{value:?}"), forms)),
    }
}

impl Scenario {
    /// Checks every value and every reference.
    ///
    /// # Errors
    /// The first invalid value, naming its key.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if self.name.is_empty() || self.name.len() > 64 {
            return Err(invalid(
                "name",
                format!("{:?}", self.name),
                "1 to 64 characters",
            ));
        }
        range("duration_ms", self.duration_ms, 1, MAX_DURATION_MS)?;
        text(
            "policy",
            &self.policy,
            PolicyName::parse,
            keys::POLICY_FORMS,
        )?;
        if let Some(gap) = self.flowlet_gap_us {
            let (min, max) = filter_range(keys::FLOWLET_GAP_US);
            range("flowlet_gap_us", gap, min, max)?;
        }
        if let Some(fb) = &self.failback {
            text("failback", fb, parse_failback, keys::FAILBACK_FORMS)?;
        }
        for (key, filter_key, v) in [
            ("up_delay_ms", keys::UP_DELAY_MS, self.up_delay_ms),
            ("down_delay_ms", keys::DOWN_DELAY_MS, self.down_delay_ms),
        ] {
            if let Some(v) = v {
                let (min, max) = filter_range(filter_key);
                range(key, v, min, max)?;
            }
        }
        if let Some(ad) = &self.all_down {
            text("all_down", ad, parse_all_down, keys::ALL_DOWN_FORMS)?;
        }
        self.validate_paths()?;
        self.validate_traffic()?;
        self.validate_events()
    }

    fn validate_paths(&self) -> Result<(), ScenarioError> {
        if self.paths.is_empty() || self.paths.len() > MAX_PATHS {
            return Err(invalid(
                "path",
                format!("{} paths", self.paths.len()),
                format!("1..={MAX_PATHS} [[path]] tables"),
            ));
        }
        for (i, p) in self.paths.iter().enumerate() {
            let key = |field: &str| format!("path[{i}].{field}");
            if p.name.is_empty() || self.paths[..i].iter().any(|q| q.name == p.name) {
                return Err(invalid(
                    key("name"),
                    format!("{:?}", p.name),
                    "a non-empty name no other path has",
                ));
            }
            range(&key("rate_mbps"), p.rate_mbps, 1, MAX_RATE_MBPS)?;
            range(&key("latency_us"), p.latency_us, 0, 1_000_000)?;
            if let Some(w) = p.weight {
                let (min, max) = filter_range(keys::WEIGHT);
                range(&key("weight"), w, min, max)?;
            }
            if let Some(q) = p.quota_bytes {
                let (min, max) = filter_range(keys::QUOTA_BYTES);
                range(&key("quota_bytes"), q, min, max)?;
            }
        }
        if self.paths[0].probe && self.mac_mode != Some(MacMode::Rewrite) {
            // docs/design.md, "The filter's own probe".
            return Err(invalid(
                "path[0].probe",
                true,
                "false for path 0 (the one whose protocol sends) unless mac_mode = \"rewrite\": \
                 in preserve mode its MAC goes out of every path with its traffic, and the switch \
                 delivers its probe's answers wherever it saw that MAC last",
            ));
        }
        Ok(())
    }

    fn validate_traffic(&self) -> Result<(), ScenarioError> {
        let t = &self.traffic;
        range("traffic.flows", t.flows, 1, 65_536)?;
        range("traffic.frame_bytes", t.frame_bytes, 60, 9_018)?;
        range(
            "traffic.offered_mbps",
            t.offered_mbps,
            0,
            MAX_RATE_MBPS * 16,
        )?;
        range("traffic.window_nbls", t.window_nbls, 1, 65_536)?;
        range("traffic.targets", t.targets, 1, 65_536)?;
        if let Some(m) = t.max_outstanding_per_target {
            let (min, max) = filter_range(keys::MAX_OUTSTANDING_PER_TARGET);
            range("traffic.max_outstanding_per_target", m, min, max)?;
        }
        Ok(())
    }

    fn validate_events(&self) -> Result<(), ScenarioError> {
        for (i, e) in self.events.iter().enumerate() {
            let key = |field: &str| format!("event[{i}].{field}");
            range(&key("at_ms"), e.at_ms, 0, self.duration_ms - 1)?;
            if !self.paths.iter().any(|p| p.name == e.path) {
                let names: Vec<&str> = self.paths.iter().map(|p| p.name.as_str()).collect();
                return Err(invalid(
                    key("path"),
                    format!("{:?}", e.path),
                    format!("one of {}", names.join(", ")),
                ));
            }
            let kind = e.kind.name();
            only(
                &key("rate_mbps"),
                e.rate_mbps,
                e.kind == EventKind::Rate,
                kind,
            )?;
            if let Some(r) = e.rate_mbps {
                range(&key("rate_mbps"), r, 1, MAX_RATE_MBPS)?;
            }
            only(
                &key("period_ms"),
                e.period_ms,
                e.kind == EventKind::Flap,
                kind,
            )?;
            if let Some(p) = e.period_ms {
                range(&key("period_ms"), p, 1, 60_000)?;
            }
            if let Some(until) = e.until_ms {
                if !e.kind.lasts() {
                    return Err(invalid(
                        key("until_ms"),
                        until,
                        "only with kind = flap, blackhole, error-completions or stall",
                    ));
                }
                range(&key("until_ms"), until, e.at_ms + 1, self.duration_ms)?;
            }
            if let Some(f) = e.for_ms {
                if e.kind != EventKind::Pause {
                    return Err(invalid(key("for_ms"), f, "only with kind = pause"));
                }
                range(&key("for_ms"), f, 1, 60_000)?;
            }
        }
        Ok(())
    }
}

/// `value` must be present exactly when `wanted` (the kind needs it).
fn only<T: fmt::Display>(
    key: &str,
    value: Option<T>,
    wanted: bool,
    kind: &str,
) -> Result<(), ScenarioError> {
    match (value, wanted) {
        (None, true) => Err(invalid(
            key,
            "(missing)",
            format!("required with kind = {kind}"),
        )),
        (Some(v), false) => Err(invalid(key, v, format!("not with kind = {kind}"))),
        _ => Ok(()),
    }
}
