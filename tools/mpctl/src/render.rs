//! What `mpctl show` and `mpctl stats --json` print.

use crate::client::Groups;
use mpctl_proto::{MODULE_COUNTER_NAMES, ModuleCounters, PathRecord, Reason};
use std::fmt::Write as _;

/// Bits per second, short.
fn rate(bps: u64) -> String {
    match bps {
        0 => "-".to_owned(),
        b if b >= 1_000_000_000 && b % 1_000_000_000 == 0 => format!("{}G", b / 1_000_000_000),
        b if b >= 1_000_000 => format!("{}M", b / 1_000_000),
        b => format!("{b}"),
    }
}

fn reason(r: Reason) -> String {
    // The wire reasons' Debug names, spaced: "LinkDown" → "link down".
    let name = format!("{r:?}");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Nanoseconds of the driver's clock, in milliseconds (display only).
#[allow(clippy::cast_precision_loss)]
fn millis(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn path_line(p: &PathRecord, last: bool) -> String {
    let branch = if last { "`-" } else { "|-" };
    if !p.has_path {
        return format!(
            "{branch} if {:<5} seat {:<2} (no path: the group has no engine)",
            p.if_index, p.seat
        );
    }
    let share = p.share_ppm.map_or_else(
        || "-".to_owned(),
        |s| format!("{:.1}%", f64::from(s) / 10_000.0),
    );
    let flags = match (p.running, p.connected) {
        (true, true) => "running",
        (true, false) => "running,disconnected",
        (false, true) => "paused",
        (false, false) => "paused,disconnected",
    };
    format!(
        "{branch} if {:<5} seat {:<2} {:<10} {:<20} share {:>6}  link {:>4}  rate {:>4}  in flight {:>4}  last change {} at {:.3} ms ({} -> {})",
        p.if_index,
        p.seat,
        p.state.name(),
        flags,
        share,
        rate(p.xmit_bps),
        rate(p.speed_bps.unwrap_or(0)),
        p.inflight_nbls(),
        reason(p.reason),
        millis(p.last_transition_ns),
        p.from.name(),
        p.state.name(),
    )
}

/// `mpctl show`: each group, then its paths as a tree.
pub fn show(g: &Groups) -> String {
    let mut out = String::new();
    if g.groups.is_empty() {
        out.push_str("no path groups\n");
    }
    for group in &g.groups {
        let _ = writeln!(
            out,
            "group {} policy={} paths={} eligible={:#b} generation={}",
            group.group,
            group.policy_name(),
            group.members,
            group.eligible_mask,
            group.generation
        );
        let paths: Vec<&PathRecord> = g.paths.iter().filter(|p| p.group == group.group).collect();
        for (i, p) in paths.iter().enumerate() {
            let _ = writeln!(out, "{}", path_line(p, i + 1 == paths.len()));
        }
    }
    out
}

/// `mpctl stats --json`: `{"if_index": N, "counters": {"name": value, ...}}`.
pub fn stats_json(m: &ModuleCounters) -> String {
    let counters: serde_json::Map<String, serde_json::Value> = MODULE_COUNTER_NAMES
        .iter()
        .zip(m.values)
        .map(|(n, v)| ((*n).to_owned(), serde_json::Value::from(v)))
        .collect();
    serde_json::json!({ "if_index": m.if_index, "counters": counters }).to_string()
}

/// `mpctl stats`: one counter a line.
pub fn stats_text(m: &ModuleCounters) -> String {
    let mut out = format!("module if {}\n", m.if_index);
    for (n, v) in MODULE_COUNTER_NAMES.iter().zip(m.values) {
        let _ = writeln!(out, "  {n:<32} {v}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpctl_proto::{GroupRecord, PathState};

    fn path(if_index: u32, seat: u8) -> PathRecord {
        PathRecord {
            group: 4,
            if_index,
            seat,
            running: true,
            connected: false,
            has_path: true,
            state: PathState::Failed,
            from: PathState::Active,
            reason: Reason::LinkDown,
            share_ppm: Some(0),
            weight: None,
            xmit_bps: 25_000_000_000,
            speed_bps: None,
            last_transition_ns: 1_500_000,
            transitions: 1,
            send_errors: 0,
            sent_nbls: 9,
            sent_bytes: 0,
            completed_nbls: 5,
            completed_bytes: 0,
            failed_nbls: 1,
            failed_bytes: 0,
        }
    }

    #[test]
    fn show_draws_each_group_as_a_tree_with_the_reason_of_the_last_change() {
        let mut idle = path(8, 1);
        idle.has_path = false;
        let g = Groups {
            groups: vec![GroupRecord {
                group: 4,
                generation: 2,
                eligible_mask: 0,
                members: 2,
                policy: GroupRecord::policy_field("failover"),
            }],
            paths: vec![path(7, 0), idle],
        };
        let text = show(&g);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "group 4 policy=failover paths=2 eligible=0b0 generation=2"
        );
        assert!(
            lines[1].starts_with("|- if 7     seat 0  failed     running,disconnected"),
            "{text}"
        );
        assert!(
            lines[1].contains("share   0.0%  link  25G  rate    -  in flight    3"),
            "{text}"
        );
        assert!(
            lines[1].ends_with("last change link down at 1.500 ms (active -> failed)"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("`- if 8     seat 1  (no path"),
            "{text}"
        );
        assert_eq!(
            show(&Groups {
                groups: vec![],
                paths: vec![]
            }),
            "no path groups\n"
        );
    }
}
