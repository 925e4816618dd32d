//! Scenario files: the TOML a person writes to describe a team of adapters, its traffic and the
//! faults to inject (docs/scenarios.md). Parsing rejects unknown keys (serde's
//! `deny_unknown_fields`, which names the key and the line) and [`Scenario::validate`] rejects
//! out-of-range or inconsistent values with an error naming the key and what is accepted.

mod check;
mod model;

pub use check::ScenarioError;
pub use model::{EventKind, MacMode, Scenario};

use std::fmt::Write as _;

impl Scenario {
    /// Parses and validates a scenario.
    ///
    /// # Errors
    /// A TOML or schema error (unknown key, wrong type: with its line), or the first invalid
    /// value.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario =
            toml::from_str(text).map_err(|e| ScenarioError::Toml(e.to_string()))?;
        scenario.validate()?;
        Ok(scenario)
    }
}

impl Scenario {
    /// What the scenario describes, one line per path and event.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "  {:?}: seed {}, {} ms, policy {}, {} flows of {}-byte frames{}",
            self.name,
            self.seed,
            self.duration_ms,
            self.policy,
            self.traffic.flows,
            self.traffic.frame_bytes,
            match self.traffic.offered_mbps {
                0 => " (saturating)".to_owned(),
                m => format!(" at {m} Mbit/s"),
            }
        );
        for (i, p) in self.paths.iter().enumerate() {
            let _ = writeln!(
                out,
                "  path {i} {:<12} {:>7} Mbit/s {:>6} us",
                p.name, p.rate_mbps, p.latency_us
            );
        }
        for e in &self.events {
            let _ = writeln!(
                out,
                "  at {:>7} ms  {:<16} {}",
                e.at_ms,
                e.kind.name(),
                e.path
            );
        }
        out
    }
}

#[cfg(test)]
mod tests;
