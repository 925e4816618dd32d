//! The report of a run: the JSON keys of docs/scenarios.md ("Report") and the summary a person
//! reads.

mod summary;
mod svg;

pub use summary::{compare_table, summary};
pub use svg::svg;

use crate::run::Measured;
use crate::run::plan::{self, MS};
use mpfilter::diag::Event;
use mpfilter::engine::PathState;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// One run's report (docs/scenarios.md lists the keys).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The policy it ran under.
    pub policy: String,
    /// The seed.
    pub seed: u64,
    /// Length of the traffic, virtual ms.
    pub duration_ms: u64,
    /// `host` or `sys`.
    pub build: &'static str,
    /// The policy the filter's group reports it runs (host build), a check that the scenario's
    /// reached it.
    pub group_policy: Option<String>,
    /// Offered load, Mbit/s (0 = saturating).
    pub offered_mbps: u32,
    /// Time-weighted sum of the rates of the paths that can carry traffic.
    pub capacity_mbps: f64,
    /// Bytes delivered at the far ends during the run, per second.
    pub goodput_mbps: f64,
    /// Goodput / min(offered, capacity) (capacity alone when saturating).
    pub efficiency: f64,
    /// Jain's index over the flows' goodput.
    pub flow_fairness: f64,
    /// 99th percentile of the send-to-completion time, µs.
    pub p99_completion_us: f64,
    /// NBLs the protocol sent.
    pub nbls_sent: u64,
    /// NBLs completed to the protocol (any status).
    pub nbls_completed: u64,
    /// NBLs completed with a failure status.
    pub nbls_failed: u64,
    /// Sent and never completed after the final drain.
    pub nbls_lost: u64,
    /// Distinct NBLs that left a wire.
    pub delivered: u64,
    /// Completed with success but never delivered.
    pub undelivered: u64,
    /// Arrivals of an NBL that had already arrived.
    pub nbls_duplicated: u64,
    /// Arrivals behind a later one of their flow, % of the delivered.
    pub reordered_pct: f64,
    /// Virtual ms the final drain took.
    pub drain_ms: f64,
    /// Broken rules, by name.
    pub rule_violations: Vec<RuleCount>,
    /// Leaks at detach and unload, by name.
    pub leaks: Vec<RuleCount>,
    /// Per path.
    pub paths: Vec<PathReport>,
    /// Per fault that took a path out of service.
    pub failovers: Vec<Failover>,
    /// Per path, Mbit/s carried in each of `bins` equal slices of the run.
    pub throughput: Throughput,
    /// The filter's diagnostic events.
    pub events: Vec<EventRecord>,
}

/// A rule and how often it was broken.
#[derive(Clone, Debug, Serialize)]
pub struct RuleCount {
    /// Its stable name.
    pub rule: String,
    /// How often.
    pub count: u64,
}

/// One path of the run.
#[derive(Clone, Debug, Serialize)]
pub struct PathReport {
    /// Its name.
    pub name: String,
    /// Bytes its wire carried.
    pub bytes: u64,
    /// Its part of all bytes carried.
    pub share: f64,
    /// The engine's state at the end (lower case), `detached` if it had no path then, `unknown`
    /// on the loaded .sys (whose state is not readable).
    pub final_state: String,
    /// Its state changes.
    pub transitions: Vec<TransitionRecord>,
}

/// A path's state change.
#[derive(Clone, Debug, Serialize)]
pub struct TransitionRecord {
    /// Virtual ms from the start.
    pub at_ms: f64,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// Why (the engine's reason).
    pub reason: String,
}

/// A fault that took a path out of service, and how the filter reacted.
#[derive(Clone, Debug, Serialize)]
pub struct Failover {
    /// The path.
    pub path: String,
    /// The event kind.
    pub kind: String,
    /// When it was injected.
    pub injected_ms: f64,
    /// When the filter moved the path out of service (None: it did not).
    pub detected_ms: Option<f64>,
    /// When the filter first sent traffic meant for the path on another one (None: it did not).
    pub first_reroute_ms: Option<f64>,
}

/// Per-path throughput over time.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// Width of a slice, virtual ms.
    pub bin_ms: f64,
    /// Per path (in path order), Mbit/s per slice.
    pub mbps: Vec<Vec<f64>>,
}

/// A diagnostic event with its virtual time.
#[derive(Clone, Debug, Serialize)]
pub struct EventRecord {
    /// Virtual ms from the start of the traffic (0: during attach).
    pub at_ms: f64,
    /// The adapter whose module emitted it.
    pub adapter: Option<usize>,
    /// The event (its catalogue name and fields).
    pub event: String,
}

/// Bins of the throughput series.
const BINS: u64 = 100;
/// [`BINS`] as a length.
const BIN_COUNT: usize = 100;

fn ms(ns: u64) -> f64 {
    ns as f64 / MS as f64
}

/// The engine's state name in lower case.
pub fn state_name(s: PathState) -> String {
    format!("{s:?}").to_ascii_lowercase()
}

/// Module interface index → adapter, from the modules' attach events.
fn module_adapters(m: &Measured) -> BTreeMap<u32, usize> {
    m.events
        .iter()
        .filter_map(|(_, a, e)| match (*a, e) {
            (Some(a), Event::ModuleAttached { if_index, .. }) => Some((*if_index, a)),
            _ => None,
        })
        .collect()
}

/// Path index (as the filter's events number them) → path (adapter) index, through the group's
/// members at the end of the run; the same number where the group does not say.
fn path_to_adapter(m: &Measured) -> BTreeMap<u8, usize> {
    let modules = module_adapters(m);
    let mut map = BTreeMap::new();
    if let Some(g) = &m.group {
        for mem in &g.members {
            if let (Some(p), Some(&a)) = (&mem.path, modules.get(&mem.if_index)) {
                map.insert(u8::try_from(p.id.index()).unwrap_or(u8::MAX), a);
            }
        }
    }
    map
}

impl Report {
    /// Builds the report of a run.
    pub fn new(m: &Measured) -> Report {
        let s = &m.scenario;
        let end = s.duration_ms * MS;
        let o = &m.origin;
        let ids = path_to_adapter(m);
        let adapter_of = |p: u8| ids.get(&p).copied().unwrap_or(usize::from(p));
        let per_flow = per_flow_in_run(m);
        let delivered_in_run: u64 = per_flow.iter().sum();
        let goodput = (delivered_in_run * m.frame_bytes * 8) as f64 / (end as f64 / 1e3);
        let capacity = plan::capacity_mbps(s);
        let efficiency = match s.traffic.offered_mbps {
            0 => goodput / capacity,
            off => goodput / capacity.min(f64::from(off)),
        };
        let paths = paths(m, &adapter_of);
        Report {
            scenario: s.name.clone(),
            policy: s.policy.clone(),
            seed: s.seed,
            duration_ms: s.duration_ms,
            build: if m.sys { "sys" } else { "host" },
            group_policy: m.group.as_ref().map(|g| g.policy.to_owned()),
            offered_mbps: s.traffic.offered_mbps,
            capacity_mbps: capacity,
            goodput_mbps: goodput,
            efficiency,
            flow_fairness: jain(&per_flow),
            p99_completion_us: p99(&m.completion_times) as f64 / 1e3,
            nbls_sent: o.sent,
            nbls_completed: o.completed_ok + o.completed_errors(),
            nbls_failed: o.completed_errors(),
            nbls_lost: o.outstanding,
            delivered: o.delivered,
            undelivered: o.silently_lost,
            nbls_duplicated: o.duplicates,
            reordered_pct: if o.delivered == 0 {
                0.0
            } else {
                o.reordered as f64 * 100.0 / o.delivered as f64
            },
            drain_ms: ms(m.drain),
            rule_violations: count(m.violations.iter().map(|v| v.rule.name())),
            leaks: count(
                m.leaks
                    .iter()
                    .map(|l| l.rule.name())
                    .chain(std::iter::repeat_n("leak.pool", m.pool_leaks)),
            ),
            paths,
            failovers: failovers(m, &adapter_of),
            throughput: throughput(m),
            events: m
                .events
                .iter()
                .map(|(at, adapter, e)| EventRecord {
                    at_ms: ms(*at),
                    adapter: *adapter,
                    event: format!("{e:?}"),
                })
                .collect(),
        }
    }

    /// Whether the run broke no rule, leaked nothing and lost no NBL.
    pub fn is_clean(&self) -> bool {
        self.rule_violations.is_empty() && self.leaks.is_empty() && self.nbls_lost == 0
    }
}

/// Frames of each flow that reached a far end within the run (not during the final drain), each
/// counted once.
fn per_flow_in_run(m: &Measured) -> Vec<u64> {
    let end = m.scenario.duration_ms * MS;
    let mut per_flow = vec![0u64; m.scenario.traffic.flows as usize];
    let mut seen = HashSet::new();
    let check_dups = m.origin.duplicates > 0;
    for a in m.arrivals.iter().filter(|a| a.at <= end) {
        if check_dups && !seen.insert(a.key) {
            continue;
        }
        if let Some(f) = per_flow.get_mut(a.key.flow as usize) {
            *f += 1;
        }
    }
    per_flow
}

fn paths(m: &Measured, adapter_of: &dyn Fn(u8) -> usize) -> Vec<PathReport> {
    let total: u64 = m.wire_bytes.iter().sum();
    let transitions = |adapter: usize| {
        m.events
            .iter()
            .filter_map(|(at, _, e)| match *e {
                Event::PathTransition {
                    path,
                    from,
                    to,
                    reason,
                    ..
                } if adapter_of(path) == adapter => Some(TransitionRecord {
                    at_ms: ms(*at),
                    from: state_name(from),
                    to: state_name(to),
                    reason: format!("{reason:?}"),
                }),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    m.scenario
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| PathReport {
            name: p.name.clone(),
            bytes: m.wire_bytes[i],
            share: if total == 0 {
                0.0
            } else {
                m.wire_bytes[i] as f64 / total as f64
            },
            final_state: final_state(m, i),
            transitions: transitions(i),
        })
        .collect()
}

fn final_state(m: &Measured, adapter: usize) -> String {
    if m.sys {
        return "unknown".into();
    }
    let modules = module_adapters(m);
    m.group
        .iter()
        .flat_map(|g| &g.members)
        .find(|mem| modules.get(&mem.if_index) == Some(&adapter))
        .and_then(|mem| mem.path.as_ref())
        .map_or_else(|| "detached".into(), |p| state_name(p.state))
}

fn count<'a>(names: impl Iterator<Item = &'a str>) -> Vec<RuleCount> {
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    for n in names {
        *by.entry(n).or_default() += 1;
    }
    by.into_iter()
        .map(|(rule, count)| RuleCount {
            rule: rule.into(),
            count,
        })
        .collect()
}

/// Jain's fairness index: (Σx)² / (n·Σx²); 1 when every flow got the same.
pub fn jain(x: &[u64]) -> f64 {
    let sum: f64 = x.iter().map(|&v| v as f64).sum();
    let sq: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    if sq == 0.0 {
        return 0.0;
    }
    sum * sum / (x.len() as f64 * sq)
}

/// The 99th percentile (nearest rank), 0 for no samples.
pub fn p99(times: &[u64]) -> u64 {
    if times.is_empty() {
        return 0;
    }
    let mut v = times.to_vec();
    let rank = (v.len() * 99).div_ceil(100).max(1) - 1;
    *v.select_nth_unstable(rank).1
}

fn failovers(m: &Measured, adapter_of: &dyn Fn(u8) -> usize) -> Vec<Failover> {
    let s = &m.scenario;
    s.events
        .iter()
        .filter(|e| plan::fails_path(e.kind))
        .map(|e| {
            let path = plan::path_index(s, &e.path);
            let from = e.at_ms * MS;
            let after = m.events.iter().filter(|(at, _, _)| *at >= from);
            // Out of service: failed, recovering, or (a flapping link) marginal.
            let detected = after.clone().find_map(|(at, _, ev)| match *ev {
                Event::PathTransition { path: p, to, .. }
                    if adapter_of(p) == path
                        && !matches!(to, PathState::Active | PathState::Standby) =>
                {
                    Some(*at)
                }
                _ => None,
            });
            // Moved traffic counts once the filter took the path out of service: before that,
            // a flow changing path is ordinary balancing.
            let reroute = after
                .clone()
                .find_map(|(at, _, ev)| match *ev {
                    Event::Reroute { from_path, .. } if adapter_of(from_path) == path => Some(*at),
                    _ => None,
                })
                .into_iter()
                .chain(detected.and_then(|d| first_moved_arrival(m, path, d)))
                .min()
                .map(ms);
            Failover {
                path: e.path.clone(),
                kind: e.kind.name().into(),
                injected_ms: ms(from),
                detected_ms: detected.map(ms),
                first_reroute_ms: reroute,
            }
        })
        .collect()
}

/// When a flow that `path` carried last before `from` first had a frame leave another wire, at
/// or after `from`: the first traffic the filter moved off the path (None when the path carried
/// no flow at that time, e.g. it had already failed).
fn first_moved_arrival(m: &Measured, path: usize, from: u64) -> Option<u64> {
    let mut last_wire: BTreeMap<u32, usize> = BTreeMap::new();
    let mut on_path: Option<HashSet<u32>> = None;
    for a in &m.arrivals {
        if a.at >= from {
            let flows = on_path.get_or_insert_with(|| {
                last_wire
                    .iter()
                    .filter(|&(_, &w)| w == path)
                    .map(|(&f, _)| f)
                    .collect()
            });
            if a.wire != path && flows.contains(&a.key.flow) {
                return Some(a.at);
            }
        } else {
            last_wire.insert(a.key.flow, a.wire);
        }
    }
    None
}

fn throughput(m: &Measured) -> Throughput {
    let end = m.scenario.duration_ms * MS;
    let bin = (end / BINS).max(1);
    let mut mbps = vec![vec![0.0; BIN_COUNT]; m.scenario.paths.len()];
    let per_frame = (m.frame_bytes * 8) as f64 / (bin as f64 / 1e3);
    for a in &m.arrivals {
        let b = usize::try_from(a.at / bin).unwrap_or(usize::MAX);
        if let Some(slot) = mbps.get_mut(a.wire).and_then(|w| w.get_mut(b)) {
            *slot += per_frame;
        }
    }
    Throughput {
        bin_ms: ms(bin),
        mbps,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A report of nothing, for tests that fill in what they look at.
    pub(crate) fn empty_report() -> Report {
        Report {
            scenario: "t".into(),
            policy: "speed-share".into(),
            seed: 1,
            duration_ms: 10,
            build: "host",
            group_policy: None,
            offered_mbps: 0,
            capacity_mbps: 0.0,
            goodput_mbps: 0.0,
            efficiency: 0.0,
            flow_fairness: 0.0,
            p99_completion_us: 0.0,
            nbls_sent: 0,
            nbls_completed: 0,
            nbls_failed: 0,
            nbls_lost: 0,
            delivered: 0,
            undelivered: 0,
            nbls_duplicated: 0,
            reordered_pct: 0.0,
            drain_ms: 0.0,
            rule_violations: Vec::new(),
            leaks: Vec::new(),
            paths: Vec::new(),
            failovers: Vec::new(),
            throughput: Throughput {
                bin_ms: 1.0,
                mbps: Vec::new(),
            },
            events: Vec::new(),
        }
    }

    fn measured(
        arrivals: &[(u64, usize, u32)],
        events: Vec<(u64, Option<usize>, Event)>,
    ) -> Measured {
        let scenario = crate::scenario::Scenario::from_toml(
            r#"
name = "t"
duration_ms = 20
policy = "round-robin"
[[path]]
name = "a"
rate_mbps = 1000
latency_us = 0
[[path]]
name = "b"
rate_mbps = 1000
latency_us = 0
[traffic]
flows = 2
frame_bytes = 1000
window_nbls = 4
[[event]]
at_ms = 5
path = "b"
kind = "link-down"
"#,
        )
        .unwrap();
        let arrivals = arrivals
            .iter()
            .enumerate()
            .map(|(seq, &(at_us, wire, flow))| ndis_emu::ledger::Arrival {
                at: at_us * 1_000,
                wire,
                key: ndis_emu::ledger::FrameKey {
                    origin: 0,
                    flow,
                    seq: seq as u64,
                },
            })
            .collect();
        Measured {
            scenario,
            arrivals,
            wire_bytes: vec![0, 0],
            origin: ndis_emu::ledger::OriginReport::default(),
            completion_times: Vec::new(),
            violations: Vec::new(),
            leaks: Vec::new(),
            events,
            group: None,
            frame_bytes: 1000,
            sys: false,
            drain: 0,
            pool_leaks: 0,
        }
    }

    fn failed_at(at_us: u64) -> (u64, Option<usize>, Event) {
        (
            at_us * 1_000,
            Some(1),
            Event::PathTransition {
                group: 1,
                path: 1,
                from: PathState::Active,
                to: PathState::Failed,
                reason: mpfilter::engine::Reason::LinkDown,
            },
        )
    }

    #[test]
    fn a_failover_is_detected_at_the_transition_and_rerouted_when_a_flow_of_the_path_moves() {
        // Flow 0 rides b, flow 1 rides a; flow 0 still arrives on b after the fault (frames
        // already on the wire) and on a after the detection; flow 1 moving between is not it.
        let m = measured(
            &[
                (1_000, 1, 0),
                (2_000, 0, 1),
                (5_500, 1, 0),
                (6_500, 1, 1),
                (7_000, 0, 0),
            ],
            vec![failed_at(6_000)],
        );
        let r = Report::new(&m);
        let f = &r.failovers[0];
        assert_eq!((f.path.as_str(), f.kind.as_str()), ("b", "link-down"));
        assert!((f.injected_ms - 5.0).abs() < 1e-12);
        assert_eq!(f.detected_ms, Some(6.0));
        assert_eq!(f.first_reroute_ms, Some(7.0));
        assert_eq!(r.paths[1].transitions[0].to, "failed");
    }

    #[test]
    fn an_undetected_fault_has_no_detection_and_no_reroute() {
        let m = measured(&[(1_000, 1, 0), (7_000, 0, 0)], Vec::new());
        let f = &Report::new(&m).failovers[0];
        assert_eq!((f.detected_ms, f.first_reroute_ms), (None, None));
    }

    #[test]
    fn jain_is_one_when_equal_and_one_over_n_when_one_flow_gets_all() {
        assert!((jain(&[5, 5, 5, 5]) - 1.0).abs() < 1e-12);
        assert!((jain(&[8, 0, 0, 0]) - 0.25).abs() < 1e-12);
        assert!(jain(&[0, 0]).abs() < 1e-12);
    }

    #[test]
    fn p99_is_the_nearest_rank() {
        let v: Vec<u64> = (1..=200).rev().collect();
        assert_eq!(p99(&v), 198);
        assert_eq!(p99(&[7]), 7);
        assert_eq!(p99(&[]), 0);
    }
}
