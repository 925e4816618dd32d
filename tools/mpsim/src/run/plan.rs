//! A scenario's events as what the runner does to the emulator, and as what each path can carry
//! over time (the `capacity_mbps` of the report).

use crate::scenario::{EventKind, Scenario};
use mpfilter::ndis::consts::NDIS_STATUS_FAILURE;
use ndis_emu::sched::Nanos;
use ndis_emu::wire::Fault;

/// Nanoseconds per virtual millisecond.
pub const MS: Nanos = 1_000_000;

/// What the runner does at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// An emulator fault (a flap's end is relative to the start, like the action's time).
    Fault(Fault),
    /// The filter's admin API: fail (`true`) or reinstate the path.
    Admin(bool),
}

/// One action on one path, at a time from the start of the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Virtual ns from the start.
    pub at: Nanos,
    /// The path (adapter) index.
    pub path: usize,
    /// What.
    pub action: Action,
}

/// The steps of a scenario, in time order (events at the same time in file order).
pub fn steps(s: &Scenario) -> Vec<Step> {
    let mut out = Vec::new();
    for (i, e) in s.events.iter().enumerate() {
        let path = path_index(s, &e.path);
        let at = e.at_ms * MS;
        let end = fault_end(s, i) * MS;
        let mut push = |at: Nanos, action| out.push(Step { at, path, action });
        match e.kind {
            EventKind::LinkDown => push(at, Action::Fault(Fault::LinkDown)),
            EventKind::LinkUp => push(at, Action::Fault(Fault::LinkUp)),
            EventKind::Blackhole => {
                push(at, Action::Fault(Fault::Blackhole(true)));
                push(end, Action::Fault(Fault::Blackhole(false)));
            }
            EventKind::ErrorCompletions => {
                push(
                    at,
                    Action::Fault(Fault::ErrorCompletions {
                        status: NDIS_STATUS_FAILURE,
                        count: u32::MAX,
                    }),
                );
                push(
                    end,
                    Action::Fault(Fault::ErrorCompletions {
                        status: NDIS_STATUS_FAILURE,
                        count: 0,
                    }),
                );
            }
            EventKind::Stall => push(at, Action::Fault(Fault::Stall(end - at))),
            EventKind::Flap => push(
                at,
                Action::Fault(Fault::Flap {
                    period: u64::from(e.period_ms.unwrap_or(1)) * MS,
                    until: end,
                }),
            ),
            EventKind::Rate => push(
                at,
                Action::Fault(Fault::Rate(u64::from(e.rate_mbps.unwrap_or(1)) * 1_000_000)),
            ),
            EventKind::Pause => {
                push(at, Action::Fault(Fault::Pause));
                push(
                    at + u64::from(e.for_ms.unwrap_or(50)) * MS,
                    Action::Fault(Fault::Restart),
                );
            }
            EventKind::Detach => push(at, Action::Fault(Fault::Detach)),
            EventKind::Attach => push(at, Action::Fault(Fault::Reattach)),
            EventKind::AdminFail => push(at, Action::Admin(true)),
            EventKind::AdminReinstate => push(at, Action::Admin(false)),
            // Ends what the lasting events before it started (see `fault_end`).
            EventKind::Restore => {}
        }
    }
    out.sort_by_key(|s| s.at);
    out
}

/// The index of the path named `name` (validation made sure there is one).
pub fn path_index(s: &Scenario, name: &str) -> usize {
    s.paths.iter().position(|p| p.name == name).unwrap_or(0)
}

/// When lasting event `i` ends, ms: its `until_ms`, else the first `restore` of its path after
/// it, else the end of the run.
fn fault_end(s: &Scenario, i: usize) -> u64 {
    let e = &s.events[i];
    if let Some(until) = e.until_ms {
        return until;
    }
    s.events
        .iter()
        .filter(|r| r.kind == EventKind::Restore && r.path == e.path && r.at_ms > e.at_ms)
        .map(|r| r.at_ms)
        .min()
        .unwrap_or(s.duration_ms)
}

/// Whether the event takes its path out of service (the report's failovers are measured from
/// these).
pub const fn fails_path(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::LinkDown
            | EventKind::Blackhole
            | EventKind::ErrorCompletions
            | EventKind::Stall
            | EventKind::Flap
            | EventKind::Pause
            | EventKind::Detach
            | EventKind::AdminFail
    )
}

/// What keeps a path from carrying traffic at a moment (independent conditions, each set and
/// cleared by its own events).
#[derive(Clone, Copy, Default)]
#[allow(clippy::struct_excessive_bools)]
struct Condition {
    link_down: bool,
    detached: bool,
    paused: bool,
    impaired: u8,
    admin_failed: bool,
    rate_mbps: u32,
}

impl Condition {
    fn carrying(self) -> u32 {
        let out = self.link_down
            || self.detached
            || self.paused
            || self.impaired > 0
            || self.admin_failed;
        if out { 0 } else { self.rate_mbps }
    }
}

/// The time-weighted sum, over the run, of the rates of the paths that can carry traffic (link
/// up, attached, running, not blackholed, stalled, failing its sends or failed by an
/// administrator), Mbit/s.
pub fn capacity_mbps(s: &Scenario) -> f64 {
    let end = s.duration_ms * MS;
    let mut changes: Vec<(Nanos, usize, Change)> = Vec::new();
    for (i, e) in s.events.iter().enumerate() {
        let p = path_index(s, &e.path);
        let at = e.at_ms * MS;
        let stop = fault_end(s, i) * MS;
        let mut both = |c_on, c_off| {
            changes.push((at, p, c_on));
            changes.push((stop, p, c_off));
        };
        match e.kind {
            EventKind::LinkDown => changes.push((at, p, Change::Link(false))),
            EventKind::LinkUp => changes.push((at, p, Change::Link(true))),
            EventKind::Blackhole | EventKind::ErrorCompletions | EventKind::Stall => {
                both(Change::Impaired(true), Change::Impaired(false));
            }
            EventKind::Flap => {
                let period = u64::from(e.period_ms.unwrap_or(1)) * MS;
                let mut t = at;
                let mut up = false;
                while t < stop {
                    changes.push((t, p, Change::Link(up)));
                    up = !up;
                    t += period;
                }
                changes.push((stop, p, Change::Link(true)));
            }
            EventKind::Rate => changes.push((at, p, Change::Rate(e.rate_mbps.unwrap_or(0)))),
            EventKind::Pause => {
                let back = at + u64::from(e.for_ms.unwrap_or(50)) * MS;
                changes.push((at, p, Change::Paused(true)));
                changes.push((back, p, Change::Paused(false)));
            }
            EventKind::Detach => changes.push((at, p, Change::Detached(true))),
            EventKind::Attach => changes.push((at, p, Change::Detached(false))),
            EventKind::AdminFail => changes.push((at, p, Change::Admin(true))),
            EventKind::AdminReinstate => changes.push((at, p, Change::Admin(false))),
            EventKind::Restore => {}
        }
    }
    changes.sort_by_key(|c| c.0);
    let mut cond: Vec<Condition> = s
        .paths
        .iter()
        .map(|p| Condition {
            rate_mbps: p.rate_mbps,
            ..Condition::default()
        })
        .collect();
    let mut sum = 0.0;
    let mut last = 0;
    let mut apply = |t: Nanos, cond: &[Condition]| {
        let t = t.min(end);
        let rate: u64 = cond.iter().map(|c| u64::from(c.carrying())).sum();
        sum += rate as f64 * (t.saturating_sub(last)) as f64;
        last = last.max(t);
    };
    for (t, p, c) in changes {
        apply(t, &cond);
        let k = &mut cond[p];
        match c {
            Change::Link(up) => k.link_down = !up,
            Change::Detached(d) => k.detached = d,
            Change::Paused(on) => k.paused = on,
            Change::Impaired(true) => k.impaired += 1,
            Change::Impaired(false) => k.impaired = k.impaired.saturating_sub(1),
            Change::Admin(f) => k.admin_failed = f,
            Change::Rate(r) => k.rate_mbps = r,
        }
    }
    apply(end, &cond);
    sum / end as f64
}

#[derive(Clone, Copy)]
enum Change {
    Link(bool),
    Detached(bool),
    Paused(bool),
    Impaired(bool),
    Admin(bool),
    Rate(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(events: &str) -> Scenario {
        Scenario::from_toml(&format!(
            r#"
name = "t"
duration_ms = 1000
policy = "speed-share"
[[path]]
name = "a"
rate_mbps = 10000
latency_us = 0
[[path]]
name = "b"
rate_mbps = 1000
latency_us = 0
[traffic]
flows = 4
frame_bytes = 1514
window_nbls = 8
{events}
"#
        ))
        .unwrap()
    }

    #[test]
    fn capacity_is_time_weighted_over_the_paths_that_carry() {
        let s = scenario("");
        assert!((capacity_mbps(&s) - 11_000.0).abs() < 1e-6);
        let s = scenario(
            "[[event]]\nat_ms = 250\npath = \"a\"\nkind = \"link-down\"\n\
             [[event]]\nat_ms = 750\npath = \"a\"\nkind = \"link-up\"\n",
        );
        assert!((capacity_mbps(&s) - 6_000.0).abs() < 1e-6);
    }

    #[test]
    fn a_lasting_fault_ends_at_the_next_restore_of_its_path() {
        let s = scenario(
            "[[event]]\nat_ms = 100\npath = \"b\"\nkind = \"stall\"\n\
             [[event]]\nat_ms = 300\npath = \"a\"\nkind = \"restore\"\n\
             [[event]]\nat_ms = 400\npath = \"b\"\nkind = \"restore\"\n",
        );
        let steps = steps(&s);
        assert_eq!(
            steps,
            [Step {
                at: 100 * MS,
                path: 1,
                action: Action::Fault(Fault::Stall(300 * MS)),
            }]
        );
        assert!((capacity_mbps(&s) - (11_000.0 - 1_000.0 * 0.3)).abs() < 1e-6);
    }

    #[test]
    fn a_pause_restarts_after_its_for_ms_and_admin_events_stay_admin() {
        let s = scenario(
            "[[event]]\nat_ms = 10\npath = \"a\"\nkind = \"pause\"\nfor_ms = 20\n\
             [[event]]\nat_ms = 5\npath = \"b\"\nkind = \"admin-fail\"\n",
        );
        let steps = steps(&s);
        assert_eq!(steps[0].action, Action::Admin(true));
        assert_eq!(steps[1].action, Action::Fault(Fault::Pause));
        assert_eq!(
            (steps[2].at, steps[2].action),
            (30 * MS, Action::Fault(Fault::Restart))
        );
    }
}
