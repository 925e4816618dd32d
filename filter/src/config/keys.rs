//! Every configuration key the filter reads, in one table: the parser, the INF check and the docs
//! all work from it, so a key cannot be read without a documented range and default.

/// Where a key's value applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Per adapter: each member of a group has its own value.
    Member,
    /// Per group: taken from the group's first member; a member that disagrees keeps the group's
    /// value and a diagnostic event says so.
    Group,
}

/// What a key accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepts {
    /// A decimal integer (REG_DWORD, or REG_SZ digits) within `min..=max`.
    Integer {
        /// Smallest accepted value.
        min: u32,
        /// Largest accepted value.
        max: u32,
    },
    /// Text in one of the forms `forms` describes (names, or `name:<ms>`).
    Text {
        /// The accepted forms, as shown in errors, e.g. `"immediate | manual | deferred:<1..=3600000 ms>"`.
        forms: &'static str,
    },
}

/// One configuration key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// The registry value name.
    pub name: &'static str,
    /// Member or group.
    pub scope: Scope,
    /// Accepted values.
    pub accepts: Accepts,
    /// The default when the value is absent, in its registry form.
    pub default: &'static str,
    /// One line on what it does.
    pub doc: &'static str,
}

/// Longest accepted delay, hold-down or queue time, in ms (one hour).
pub const MAX_MS: u32 = 3_600_000;
/// Longest all-paths-down queue time, in ms.
pub const MAX_QUEUE_MS: u32 = 60_000;
/// Longest flowlet gap, in µs (one second).
pub const MAX_FLOWLET_GAP_US: u32 = 1_000_000;

/// `GroupId`.
pub const GROUP_ID: &str = "GroupId";
/// `Priority`.
pub const PRIORITY: &str = "Priority";
/// `Role`.
pub const ROLE: &str = "Role";
/// `Weight`.
pub const WEIGHT: &str = "Weight";
/// `QuotaBytes`.
pub const QUOTA_BYTES: &str = "QuotaBytes";
/// `Policy`.
pub const POLICY: &str = "Policy";
/// `FlowletGapUs`.
pub const FLOWLET_GAP_US: &str = "FlowletGapUs";
/// `Failback`.
pub const FAILBACK: &str = "Failback";
/// `UpDelayMs`.
pub const UP_DELAY_MS: &str = "UpDelayMs";
/// `DownDelayMs`.
pub const DOWN_DELAY_MS: &str = "DownDelayMs";
/// `AllDown`.
pub const ALL_DOWN: &str = "AllDown";
/// `MaxOutstandingPerTarget`.
pub const MAX_OUTSTANDING_PER_TARGET: &str = "MaxOutstandingPerTarget";
/// `SendErrorThreshold`.
pub const SEND_ERROR_THRESHOLD: &str = "SendErrorThreshold";
/// `ProbeTarget`.
pub const PROBE_TARGET: &str = "ProbeTarget";
/// `ProbeIntervalMs`.
pub const PROBE_INTERVAL_MS: &str = "ProbeIntervalMs";
/// `ProbeMissed`.
pub const PROBE_MISSED: &str = "ProbeMissed";
/// `MacMode`.
pub const MAC_MODE: &str = "MacMode";
/// `AnnounceCount`.
pub const ANNOUNCE_COUNT: &str = "AnnounceCount";
/// `AnnounceIntervalMs`.
pub const ANNOUNCE_INTERVAL_MS: &str = "AnnounceIntervalMs";

/// The policy names [`POLICY`] accepts.
pub const POLICY_FORMS: &str = "failover | round-robin | weighted | lqd | least-blocks | hash | service-time | quota | speed-share";
/// The forms [`ROLE`] accepts.
pub const ROLE_FORMS: &str = "active | standby";
/// The forms [`FAILBACK`] accepts.
pub const FAILBACK_FORMS: &str = "immediate | manual | deferred:<1..=3600000 ms>";
/// The forms [`ALL_DOWN`] accepts.
pub const ALL_DOWN_FORMS: &str = "fail | queue:<1..=60000 ms>";

/// The forms [`MAC_MODE`] accepts.
pub const MAC_MODE_FORMS: &str = "preserve | rewrite";

/// The forms [`PROBE_TARGET`] accepts.
pub const PROBE_TARGET_FORMS: &str =
    "empty (no probe) | <IPv4 unicast address> | <IPv6 unicast address>";

/// Every key, in the order the filter reads them.
pub const KEYS: &[KeySpec] = &[
    KeySpec {
        name: GROUP_ID,
        scope: Scope::Member,
        accepts: Accepts::Integer {
            min: 0,
            max: 65_535,
        },
        default: "0",
        doc: "Path group of this adapter; 0 or absent = not teamed (plain pass-through).",
    },
    KeySpec {
        name: PRIORITY,
        scope: Scope::Member,
        accepts: Accepts::Integer { min: 0, max: 255 },
        default: "0",
        doc: "Failover order: the lowest value is preferred.",
    },
    KeySpec {
        name: ROLE,
        scope: Scope::Member,
        accepts: Accepts::Text { forms: ROLE_FORMS },
        default: "active",
        doc: "A standby path carries traffic only while no active path is usable.",
    },
    KeySpec {
        name: WEIGHT,
        scope: Scope::Member,
        accepts: Accepts::Integer {
            min: 1,
            max: 1_000_000,
        },
        default: "1",
        doc: "Admin weight (weighted: lowest wins; service-time: relative throughput).",
    },
    KeySpec {
        name: QUOTA_BYTES,
        scope: Scope::Member,
        accepts: Accepts::Integer {
            min: 1,
            max: 16 << 20,
        },
        default: "65536",
        doc: "Quota policy: bytes this path may send per round.",
    },
    KeySpec {
        name: POLICY,
        scope: Scope::Group,
        accepts: Accepts::Text {
            forms: POLICY_FORMS,
        },
        default: "speed-share",
        doc: "The balancing policy of the group.",
    },
    KeySpec {
        name: FLOWLET_GAP_US,
        scope: Scope::Group,
        accepts: Accepts::Integer {
            min: 0,
            max: MAX_FLOWLET_GAP_US,
        },
        default: "500",
        doc: "A flow may change path only after this idle gap; 0 = per packet.",
    },
    KeySpec {
        name: FAILBACK,
        scope: Scope::Group,
        accepts: Accepts::Text {
            forms: FAILBACK_FORMS,
        },
        default: "deferred:5000",
        doc: "When a recovered path is used again.",
    },
    KeySpec {
        name: UP_DELAY_MS,
        scope: Scope::Group,
        accepts: Accepts::Integer {
            min: 0,
            max: MAX_MS,
        },
        default: "500",
        doc: "A recovered path must stay healthy this long before it is used.",
    },
    KeySpec {
        name: DOWN_DELAY_MS,
        scope: Scope::Group,
        accepts: Accepts::Integer {
            min: 0,
            max: MAX_MS,
        },
        default: "0",
        doc: "A link-down must last this long before the path fails.",
    },
    KeySpec {
        name: ALL_DOWN,
        scope: Scope::Group,
        accepts: Accepts::Text {
            forms: ALL_DOWN_FORMS,
        },
        default: "fail",
        doc: "With every path down: complete sends at once, or hold them up to <ms>.",
    },
    KeySpec {
        name: MAX_OUTSTANDING_PER_TARGET,
        scope: Scope::Group,
        accepts: Accepts::Integer {
            min: 0,
            max: 65_535,
        },
        default: "64",
        doc: "Quota policy: NBLs in flight per (target, path); 0 = unlimited.",
    },
    KeySpec {
        name: SEND_ERROR_THRESHOLD,
        scope: Scope::Group,
        accepts: Accepts::Integer {
            min: 0,
            max: 65_535,
        },
        default: "8",
        doc: "This many failed send completions within a second fail the path; 0 = never.",
    },
    KeySpec {
        name: PROBE_TARGET,
        scope: Scope::Member,
        accepts: Accepts::Text {
            forms: PROBE_TARGET_FORMS,
        },
        default: "",
        doc: "The filter's own probe of this path: ARP (IPv4) or neighbour solicitation (IPv6) for this address.",
    },
    KeySpec {
        name: PROBE_INTERVAL_MS,
        scope: Scope::Member,
        accepts: Accepts::Integer {
            min: 10,
            max: 60_000,
        },
        default: "100",
        doc: "Time between probes on this path; a probe unanswered by the next is missed.",
    },
    KeySpec {
        name: PROBE_MISSED,
        scope: Scope::Group,
        accepts: Accepts::Integer { min: 1, max: 255 },
        default: "2",
        doc: "This many probes missed in a row fail the path (as bonding's missed_max).",
    },
    KeySpec {
        name: MAC_MODE,
        scope: Scope::Group,
        accepts: Accepts::Text {
            forms: MAC_MODE_FORMS,
        },
        default: "preserve",
        doc: "Source MAC of a frame sent through another member: its own member's (preserve) or the carrier's (rewrite).",
    },
    KeySpec {
        name: ANNOUNCE_COUNT,
        scope: Scope::Group,
        accepts: Accepts::Integer { min: 0, max: 255 },
        default: "1",
        doc: "Rewrite mode: gratuitous ARPs / unsolicited NAs per address when a member's traffic moves (bonding's num_grat_arp).",
    },
    KeySpec {
        name: ANNOUNCE_INTERVAL_MS,
        scope: Scope::Group,
        accepts: Accepts::Integer {
            min: 10,
            max: 60_000,
        },
        default: "100",
        doc: "Rewrite mode: time between repeated announcements (bonding's peer_notif_delay).",
    },
];

/// The spec of `name`, if the filter reads such a key.
pub fn spec(name: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_default_is_accepted() {
        for (i, k) in KEYS.iter().enumerate() {
            assert!(
                KEYS[i + 1..].iter().all(|o| o.name != k.name),
                "{} twice",
                k.name
            );
            if let Accepts::Integer { min, max } = k.accepts {
                let d: u32 = k.default.parse().expect("integer default");
                assert!((min..=max).contains(&d), "{} default {d}", k.name);
            }
        }
        assert_eq!(spec(FAILBACK).map(|k| k.scope), Some(Scope::Group));
        assert!(spec("Nonsense").is_none());
    }

    #[test]
    fn the_configuration_doc_has_every_key_as_the_table_says() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/configuration.md"
        ))
        .expect("docs/configuration.md");
        let rows: alloc::vec::Vec<&str> = doc.lines().filter(|l| l.starts_with("| `")).collect();
        assert_eq!(rows.len(), KEYS.len(), "one row per key");
        for (row, k) in rows.iter().zip(KEYS) {
            let cells: alloc::vec::Vec<&str> = row.split(" | ").map(str::trim).collect();
            let accepted = match k.accepts {
                Accepts::Integer { min, max } => alloc::format!("{min}..={max}"),
                Accepts::Text { forms } => forms.replace('|', "\\|"),
            };
            let scope = match k.scope {
                Scope::Member => "member",
                Scope::Group => "group",
            };
            assert_eq!(cells[0], alloc::format!("| `{}`", k.name));
            assert_eq!(cells[1], scope, "{}", k.name);
            assert_eq!(cells[2], accepted, "{}", k.name);
            assert_eq!(cells[3], k.default, "{}", k.name);
            assert_eq!(cells[4].trim_end_matches(" |"), k.doc, "{}", k.name);
        }
    }
}
