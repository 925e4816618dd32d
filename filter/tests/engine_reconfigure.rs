//! A runtime change of a group's configuration (`PathGroup::reconfigured`): the new policy
//! selects, the paths' states and history carry over, and sends made before the change complete
//! against the engine that counted them.

use mpfilter::engine::{
    Completion, CompletionStatus, ConfigError, FlowKey, GroupConfig, PathConfig, PathEvent,
    PathGroup, PathId, PathState, PolicyConfig, Reason, Role, Selection, SendRequest, TargetKey,
};

fn pid(i: usize) -> PathId {
    PathId::new(i).unwrap()
}

fn cfg(paths: Vec<PathConfig>, policy: PolicyConfig) -> GroupConfig {
    let mut c = GroupConfig::new(paths, policy);
    c.flowlet.gap_ns = 0;
    c.cpus = 2;
    c
}

fn req(flow: u64) -> SendRequest {
    SendRequest {
        flow: FlowKey {
            l2: flow,
            l34: flow,
        },
        len: 1000,
        target: TargetKey(1),
        cpu: 0,
    }
}

fn sent_on(g: &PathGroup, flows: u64, now: u64) -> [u32; 3] {
    let mut n = [0; 3];
    for f in 0..flows {
        let r = req(f);
        let Selection::Path(p) = g.select(&r, now) else {
            panic!("no path")
        };
        g.on_send(p, &r, now);
        n[p.index()] += 1;
    }
    n
}

fn complete(sel: &mpfilter::engine::Selector, path: usize, count: u32, now: u64) {
    for _ in 0..count {
        sel.on_complete(
            &Completion {
                path: pid(path),
                len: 1000,
                target: TargetKey(1),
                cpu: 1,
                status: CompletionStatus::Ok,
                latency_ns: 0,
            },
            now,
        );
    }
}

#[test]
fn failover_to_round_robin_spreads_and_keeps_states_and_history() {
    let mut paths = vec![PathConfig::default(); 3];
    paths[1].priority = 1;
    paths[2].role = Role::Standby;
    let mut old = PathGroup::new(cfg(paths.clone(), PolicyConfig::FailoverOnly)).unwrap();
    assert_eq!(
        sent_on(&old, 100, 1),
        [100, 0, 0],
        "failover: the preferred path only"
    );
    old.event(pid(1), PathEvent::AdminFail, 2).unwrap();
    old.event(pid(1), PathEvent::AdminReinstate, 3);
    old.event(pid(0), PathEvent::LinkDown, 4).unwrap();
    let before: Vec<_> = (0..3).map(|p| old.path_info(pid(p)).unwrap()).collect();

    let next = old
        .reconfigured(cfg(paths.clone(), PolicyConfig::RoundRobin), 10)
        .unwrap();
    assert_eq!(next.policy_name(), "round-robin");
    for (p, a) in before.iter().enumerate() {
        let b = next.path_info(pid(p)).unwrap();
        assert_eq!(b.state, a.state, "path {p}");
        assert_eq!(b.last_transition, a.last_transition, "path {p}");
        assert_eq!(b.transitions, a.transitions, "path {p}");
        assert_eq!(
            b.counters.sent_nbls, 0,
            "path {p}: counted in the old engine"
        );
    }
    assert_eq!(next.state(pid(0)), Some(PathState::Failed));
    // Path 1 waits out its hold-down (reinstated at 3) in the new engine as in the old one.
    assert_eq!(next.state(pid(1)), old.state(pid(1)));
    assert_eq!(next.eligible_mask(), old.eligible_mask());

    // The old engine's in-flight sends complete against it, not the new one.
    let retired = old.selector();
    complete(&retired, 0, 60, 11);
    assert_eq!(retired.totals(pid(0)).inflight_nbls(), 40);
    assert_eq!(next.path_info(pid(0)).unwrap().counters.completed_nbls, 0);

    // Both active paths up: round-robin now spreads over them.
    let mut both = old
        .reconfigured(cfg(paths, PolicyConfig::RoundRobin), 12)
        .unwrap();
    both.event(pid(0), PathEvent::LinkUp, 13);
    let mut t = 13;
    while both.eligible_mask() != 0b011 && t < 60_000_000_000 {
        t += 10_000_000;
        both.tick(t);
    }
    let n = sent_on(&both, 100, t);
    assert_eq!(n, [50, 50, 0], "round-robin over the two active paths");
    assert_eq!(
        both.path_info(pid(0)).unwrap().last_transition.reason,
        Reason::HoldDownElapsed
    );
}

#[test]
fn a_refused_configuration_changes_nothing() {
    let g = PathGroup::new(cfg(
        vec![PathConfig::default(); 2],
        PolicyConfig::RoundRobin,
    ))
    .unwrap();
    let mut bad = cfg(vec![PathConfig::default(); 2], PolicyConfig::WeightedPaths);
    bad.paths[0].weight = 0;
    assert!(matches!(
        g.reconfigured(bad, 1),
        Err(ConfigError::Weight { .. })
    ));
    assert!(
        g.reconfigured(
            cfg(vec![PathConfig::default(); 3], PolicyConfig::RoundRobin),
            1
        )
        .is_err(),
        "the paths are the group's members: a change cannot add one"
    );
    assert_eq!(g.policy_name(), "round-robin");
}
