//! Scenario tests of the path engine: configuration validation, every policy, the state machine,
//! quota deferral, flowlet affinity and the path table.
// Floating point is used only to check shares.
#![allow(clippy::cast_precision_loss)]

use mpfilter::engine::{
    Attention, Completion, CompletionStatus, ConfigError, Failback, FlowKey, GroupConfig,
    HashLayer, Load, MS, PathConfig, PathEvent, PathGroup, PathId, PathState, PathStatus,
    PolicyConfig, QuotaConfig, Reason, Role, Selection, SendError, SendRequest, ShareScheduler,
    SpeedShareConfig, TargetKey, US,
};

fn pid(i: usize) -> PathId {
    PathId::new(i).unwrap()
}

/// The speed-share weights the path table reports (the published Q16 weights).
fn share_weights(g: &PathGroup) -> Vec<u32> {
    (0..g.len())
        .map(|p| g.path_info(pid(p)).unwrap().policy.weight.unwrap())
        .collect()
}

fn paths(n: usize) -> Vec<PathConfig> {
    vec![PathConfig::default(); n]
}

fn cfg(n: usize, policy: PolicyConfig) -> GroupConfig {
    let mut c = GroupConfig::new(paths(n), policy);
    c.flowlet.gap_ns = 0;
    c.cpus = 2;
    c
}

fn req(flow: u64, len: u32) -> SendRequest {
    SendRequest {
        flow: FlowKey {
            l2: flow,
            l34: flow,
        },
        len,
        target: TargetKey(7),
        cpu: 0,
    }
}

fn pick(g: &PathGroup, r: &SendRequest, now: u64) -> usize {
    match g.select(r, now) {
        Selection::Path(p) => p.index(),
        other => panic!("expected a path, got {other:?}"),
    }
}

fn send_complete(g: &PathGroup, r: &SendRequest, now: u64) -> usize {
    let p = pick(g, r, now);
    g.on_send(pid(p), r, now);
    let c = Completion {
        path: pid(p),
        len: r.len,
        target: r.target,
        cpu: r.cpu,
        status: CompletionStatus::Ok,
        latency_ns: 1_000,
    };
    g.on_complete(&c, now + 1_000);
    p
}

#[test]
fn config_errors_are_reported_not_panics() {
    let mut c = cfg(0, PolicyConfig::RoundRobin);
    assert_eq!(PathGroup::new(c.clone()).err(), Some(ConfigError::NoPaths));
    c.paths = paths(17);
    assert_eq!(
        PathGroup::new(c.clone()).err(),
        Some(ConfigError::TooManyPaths { count: 17 })
    );
    c.paths = paths(2);
    c.paths[1].weight = 0;
    assert!(matches!(
        PathGroup::new(c.clone()),
        Err(ConfigError::Weight { .. })
    ));
    c.paths[1].weight = 1;
    c.paths[0].quota_bytes = 0;
    assert!(matches!(
        PathGroup::new(c.clone()),
        Err(ConfigError::Quota { .. })
    ));
    c.paths[0].quota_bytes = 1500;
    c.flowlet.gap_ns = 500 * US;
    c.flowlet.table_entries = 1000;
    assert!(matches!(
        PathGroup::new(c.clone()),
        Err(ConfigError::FlowTable { .. })
    ));
    c.flowlet.table_entries = 1024;
    c.cpus = 0;
    assert!(matches!(
        PathGroup::new(c.clone()),
        Err(ConfigError::Cpus { .. })
    ));
    c.cpus = 4;
    c.up_delay_ns = u64::MAX;
    assert!(matches!(
        PathGroup::new(c.clone()),
        Err(ConfigError::Duration { .. })
    ));
    c.up_delay_ns = 0;
    c.probe_miss_max = 0;
    assert_eq!(
        PathGroup::new(c.clone()).err(),
        Some(ConfigError::ProbeMissMax)
    );
    c.probe_miss_max = 3;
    c.policy = PolicyConfig::SpeedShare(SpeedShareConfig {
        half_life_ns: 0,
        ..Default::default()
    });
    assert!(matches!(
        PathGroup::new(c.clone()),
        Err(ConfigError::HalfLife { .. })
    ));
    c.policy = PolicyConfig::SpeedShare(SpeedShareConfig {
        probe_share_ppm: 0,
        ..Default::default()
    });
    assert!(matches!(
        PathGroup::new(c.clone()),
        Err(ConfigError::ProbeShare { .. })
    ));
    c.policy = PolicyConfig::Quota(QuotaConfig {
        target_slots: 3,
        ..Default::default()
    });
    assert!(matches!(
        PathGroup::new(c.clone()),
        Err(ConfigError::TargetSlots { .. })
    ));
    c.flap.max_failures = 9;
    c.policy = PolicyConfig::RoundRobin;
    assert!(matches!(
        PathGroup::new(c.clone()),
        Err(ConfigError::FlapFailures { .. })
    ));
    c.flap.max_failures = 3;
    assert!(PathGroup::new(c).is_ok());
    // Display texts are informative.
    let text = ConfigError::Cpus { cpus: 0 }.to_string();
    assert!(text.contains("cpus"));
}

#[test]
fn runtime_setters_validate() {
    let mut g = PathGroup::new(cfg(2, PolicyConfig::WeightedPaths)).unwrap();
    assert!(g.set_weight(pid(0), 0).is_err());
    assert!(g.set_weight(pid(5), 1).is_err());
    assert!(g.set_quota(pid(0), 0).is_err());
    g.set_weight(pid(0), 5).unwrap();
    g.set_quota(pid(1), 9000).unwrap();
    assert_eq!(g.path_info(pid(0)).unwrap().weight, 5);
    assert_eq!(g.path_info(pid(1)).unwrap().quota_bytes, 9000);
}

#[test]
fn failover_prefers_priority_then_standby() {
    let mut c = cfg(3, PolicyConfig::FailoverOnly);
    c.paths[0].priority = 5;
    c.paths[1].priority = 1;
    c.paths[2].role = Role::Standby;
    c.failback = Failback::Immediate;
    c.up_delay_ns = 0;
    let mut g = PathGroup::new(c).unwrap();
    let r = req(1, 100);
    assert_eq!(pick(&g, &r, 0), 1);
    g.event(pid(1), PathEvent::LinkDown, 10);
    assert_eq!(pick(&g, &r, 10), 0);
    g.event(pid(0), PathEvent::LinkDown, 20);
    assert_eq!(
        pick(&g, &r, 20),
        2,
        "standby only once no active path remains"
    );
    let t = g.event(pid(1), PathEvent::LinkUp, 30).unwrap();
    assert_eq!((t.from, t.to), (PathState::Failed, PathState::Active));
    assert_eq!(pick(&g, &r, 30), 1);
    g.event(pid(2), PathEvent::LinkDown, 40);
    g.event(pid(1), PathEvent::LinkDown, 40);
    assert_eq!(g.select(&r, 40), Selection::NoPath);
}

#[test]
fn round_robin_rotates() {
    let g = PathGroup::new(cfg(3, PolicyConfig::RoundRobin)).unwrap();
    let r = req(1, 100);
    let picks: Vec<usize> = (0..6).map(|_| pick(&g, &r, 0)).collect();
    assert_eq!(picks, [1, 2, 0, 1, 2, 0]);
}

#[test]
fn weighted_paths_lowest_weight_wins() {
    let mut c = cfg(3, PolicyConfig::WeightedPaths);
    c.paths[0].weight = 10;
    c.paths[1].weight = 3;
    c.paths[2].weight = 3;
    let g = PathGroup::new(c).unwrap();
    let r = req(1, 100);
    let picks: Vec<usize> = (0..4).map(|_| pick(&g, &r, 0)).collect();
    assert!(picks.iter().all(|&p| p == 1 || p == 2));
    assert!(
        picks.contains(&1) && picks.contains(&2),
        "ties share the load"
    );
}

#[test]
fn least_queue_and_blocks_follow_inflight() {
    for policy in [
        PolicyConfig::LeastQueueDepth,
        PolicyConfig::LeastBlocks,
        PolicyConfig::ServiceTime,
    ] {
        let mut g = PathGroup::new(cfg(2, policy)).unwrap();
        let r = req(1, 1000);
        // Load path 0 and 1 alternately; they stay balanced.
        let mut count = [0u32; 2];
        for _ in 0..10 {
            let p = pick(&g, &r, 0);
            g.on_send(pid(p), &r, 0);
            count[p] += 1;
        }
        assert_eq!(count, [5, 5], "{policy:?}");
        let info = g.path_info(pid(0)).unwrap();
        assert_eq!(info.counters.inflight_nbls(), 5);
        assert_eq!(info.counters.inflight_bytes(), 5000);
        // Complete everything on path 1: it becomes the least loaded.
        for _ in 0..5 {
            let c = Completion {
                path: pid(1),
                len: 1000,
                target: r.target,
                cpu: 1,
                status: CompletionStatus::Ok,
                latency_ns: 10,
            };
            g.on_complete(&c, 10);
        }
        assert_eq!(info_inflight(&g, 1), 0, "{policy:?}");
        // CPU 1 completed them: its own view is exact at once, path 1 is the least loaded.
        let r1 = SendRequest { cpu: 1, ..r };
        assert_eq!(pick(&g, &r1, 20), 1, "{policy:?}");
        // CPU 0 sees the other CPU's completions from the next tick on; until then it balances
        // its own sends on top of the last snapshot (both paths at 5 of its own: a tie).
        let before: Vec<usize> = (0..4).map(|_| pick(&g, &r, 20)).collect();
        assert!(
            before.contains(&0) && before.contains(&1),
            "{policy:?}: {before:?}"
        );
        g.tick(30);
        assert_eq!(pick(&g, &r, 40), 1, "{policy:?}");
        assert_eq!(pick(&g, &r, 40), 1, "{policy:?}");
        // The status reports the in-flight load summed over the CPUs.
        let load = g.path_info(pid(0)).unwrap().policy.inflight.unwrap();
        assert!(
            matches!(load, Load::Nbls(5) | Load::Bytes(5000)),
            "{policy:?}: {load:?}"
        );
    }
}

fn info_inflight(g: &PathGroup, p: usize) -> u64 {
    g.path_info(pid(p)).unwrap().counters.inflight_nbls()
}

#[test]
fn service_time_weights_throughput() {
    let mut c = cfg(2, PolicyConfig::ServiceTime);
    c.paths[0].weight = 3;
    c.paths[1].weight = 1;
    let g = PathGroup::new(c).unwrap();
    let r = req(1, 1000);
    let mut count = [0u32; 2];
    for _ in 0..40 {
        let p = pick(&g, &r, 0);
        g.on_send(pid(p), &r, 0);
        count[p] += 1;
    }
    assert_eq!(count, [30, 10]);
}

#[test]
fn address_hash_is_stable_and_minimal_on_failure() {
    for layer in [HashLayer::Layer2, HashLayer::Layer34] {
        let mut c = cfg(4, PolicyConfig::AddressHash(layer));
        c.failback = Failback::Immediate;
        let mut g = PathGroup::new(c).unwrap();
        let before: Vec<usize> = (0..200).map(|f| pick(&g, &req(f * 7919, 64), 0)).collect();
        let again: Vec<usize> = (0..200).map(|f| pick(&g, &req(f * 7919, 64), 0)).collect();
        assert_eq!(before, again);
        let mut used = [false; 4];
        for &p in &before {
            used[p] = true;
        }
        assert!(used.iter().all(|&u| u), "hash spreads flows");
        g.event(pid(2), PathEvent::LinkDown, 1);
        let after: Vec<usize> = (0..200).map(|f| pick(&g, &req(f * 7919, 64), 1)).collect();
        for (b, a) in before.iter().zip(&after) {
            if *b == 2 {
                assert_ne!(*a, 2);
            } else {
                assert_eq!(a, b, "flows on surviving paths do not move");
            }
        }
    }
}

#[test]
fn quota_defers_at_outstanding_max() {
    let mut c = cfg(
        2,
        PolicyConfig::Quota(QuotaConfig {
            max_outstanding_per_target: 2,
            target_slots: 16,
        }),
    );
    c.paths[0].quota_bytes = 3000;
    c.paths[1].quota_bytes = 3000;
    let g = PathGroup::new(c).unwrap();
    let r = req(1, 1500);
    let mut sel = Vec::new();
    for _ in 0..4 {
        let p = pick(&g, &r, 0);
        g.on_send(pid(p), &r, 0);
        sel.push(p);
    }
    sel.sort_unstable();
    assert_eq!(sel, [0, 0, 1, 1]);
    assert_eq!(g.select(&r, 0), Selection::Defer);
    assert_eq!(g.outstanding(r.target, pid(0)), Some(2));
    // Another target is not limited by this one (different slot with this key set).
    let other = SendRequest {
        target: TargetKey(12345),
        ..r
    };
    assert!(matches!(g.select(&other, 0), Selection::Path(_)));
    if let Selection::Path(p) = g.select(&other, 0) {
        g.cancel(p, &other);
    }
    let c = Completion {
        path: pid(1),
        len: 1500,
        target: r.target,
        cpu: 0,
        status: CompletionStatus::Ok,
        latency_ns: 5,
    };
    g.on_complete(&c, 1);
    assert_eq!(pick(&g, &r, 2), 1);
}

#[test]
fn quota_byte_shares_follow_quotas() {
    let mut c = cfg(
        3,
        PolicyConfig::Quota(QuotaConfig {
            max_outstanding_per_target: 0,
            target_slots: 1,
        }),
    );
    c.paths[0].quota_bytes = 1000;
    c.paths[1].quota_bytes = 2000;
    c.paths[2].quota_bytes = 7000;
    let g = PathGroup::new(c).unwrap();
    let mut bytes = [0u64; 3];
    for i in 0..20_000u32 {
        let r = req(1, 64 + (i * 37) % 9000);
        let p = pick(&g, &r, 0);
        bytes[p] += u64::from(r.len);
    }
    let total: u64 = bytes.iter().sum();
    for (b, q) in bytes.iter().zip([0.1, 0.2, 0.7]) {
        let share = *b as f64 / total as f64;
        assert!((share - q).abs() / q < 0.01, "share {share} vs {q}");
    }
}

#[test]
fn speed_share_learns_speeds() {
    let mut c = cfg(
        2,
        PolicyConfig::SpeedShare(SpeedShareConfig {
            half_life_ns: MS,
            ..Default::default()
        }),
    );
    c.paths[0].link_speed_bps = 1_000_000_000;
    c.paths[1].link_speed_bps = 1_000_000_000;
    let mut g = PathGroup::new(c).unwrap();
    let w = share_weights(&g);
    assert!(w[0].abs_diff(w[1]) <= 1);
    // Path 0 completes 1500 bytes per 1.2 us (10 Gbit/s), path 1 per 12 us (1 Gbit/s).
    let mut now = 0u64;
    for _ in 0..50 {
        for k in 1..=100 {
            let c0 = Completion {
                path: pid(0),
                len: 1500,
                target: TargetKey(0),
                cpu: 0,
                status: CompletionStatus::Ok,
                latency_ns: 1_200,
            };
            g.on_complete(&c0, now + 1_200 * k);
        }
        for k in 1..=10 {
            // Backlogged: each waited behind the previous one (latency longer than service).
            let c1 = Completion {
                path: pid(1),
                len: 1500,
                target: TargetKey(0),
                cpu: 1,
                status: CompletionStatus::Ok,
                latency_ns: 30_000,
            };
            g.on_complete(&c1, now + 12_000 * k);
        }
        now += 120_000;
        g.tick(now);
    }
    let w = share_weights(&g);
    let share0 = f64::from(w[0]) / f64::from(w[0] + w[1]);
    assert!((share0 - 10.0 / 11.0).abs() < 0.02, "share {share0}");
    let info = g.path_info(pid(0)).unwrap();
    assert!(info.policy.speed_bps.unwrap() > 9_000_000_000);
}

/// Completions of one backlogged path alternate between two CPUs: the path's shared last
/// completion keeps each NBL's overlap with the other CPU's from counting twice, so the measured
/// speed is exact; a path completing on one CPU is measured without the tick's cap at the wall
/// time even when one NBL spans two periods.
#[test]
fn speed_share_measures_completions_spread_over_cpus() {
    let mut c = cfg(
        2,
        PolicyConfig::SpeedShare(SpeedShareConfig {
            half_life_ns: 100 * US,
            ..Default::default()
        }),
    );
    c.paths[0].link_speed_bps = 1_000_000_000;
    c.paths[1].link_speed_bps = 1_000_000_000;
    let mut g = PathGroup::new(c).unwrap();
    let done = |path: usize, cpu: u32, latency_ns: u64| Completion {
        path: pid(path),
        len: 1500,
        target: TargetKey(0),
        cpu,
        status: CompletionStatus::Ok,
        latency_ns,
    };
    let mut now = 0u64;
    for round in 0..50 {
        // Path 0: 10 Gbit/s, backlogged, completions alternating between CPUs 0 and 1.
        for k in 1..=100u64 {
            g.on_complete(
                &done(0, u32::try_from(k % 2).unwrap(), 30_000),
                now + 1_200 * k,
            );
        }
        // Path 1: 50 Mbit/s (240 us per NBL, two tick periods), backlogged, completing on
        // CPU 1 only: its busy time spans ticks and must not be capped.
        if round % 2 == 1 {
            g.on_complete(&done(1, 1, 300_000), now + 120_000);
        }
        now += 120_000;
        g.tick(now);
    }
    let speed = |p: usize| g.path_info(pid(p)).unwrap().policy.speed_bps.unwrap() as f64;
    assert!((speed(0) / 10e9 - 1.0).abs() < 0.01, "path 0 {}", speed(0));
    assert!((speed(1) / 50e6 - 1.0).abs() < 0.01, "path 1 {}", speed(1));
}

/// A path busy half the time, its NBLs sent in pairs (the second waits behind the first) and
/// completed on alternating CPUs: the second NBL's wait is the first one's service, completed on
/// the other CPU, and must not count again. Counting it (each CPU subtracting only its own
/// overlaps) measured the path at two thirds of its speed, and at the throughput it carried as
/// its queue grew; the measurement must be the path's speed.
#[test]
fn speed_share_measures_a_queueing_path_completed_on_two_cpus_at_its_speed() {
    let mut c = cfg(
        2,
        PolicyConfig::SpeedShare(SpeedShareConfig {
            half_life_ns: 100 * US,
            ..Default::default()
        }),
    );
    c.paths[0].link_speed_bps = 1_000_000_000;
    c.paths[1].link_speed_bps = 1_000_000_000;
    let mut g = PathGroup::new(c).unwrap();
    let done = |cpu: u32, latency_ns: u64| Completion {
        path: pid(0),
        len: 1500,
        target: TargetKey(0),
        cpu,
        status: CompletionStatus::Ok,
        latency_ns,
    };
    // 10 Gbit/s: 1.2 us per NBL; a pair sent every 4.8 us.
    let mut now = 0u64;
    for _ in 0..50 {
        for pair in 0..25u64 {
            let sent = now + 4_800 * pair;
            g.on_complete(&done(0, 1_200), sent + 1_200);
            g.on_complete(&done(1, 2_400), sent + 2_400);
        }
        now += 120_000;
        g.tick(now);
    }
    let speed = g.path_info(pid(0)).unwrap().policy.speed_bps.unwrap() as f64;
    assert!((speed / 10e9 - 1.0).abs() < 0.01, "path 0 {speed}");
}

#[test]
fn speed_share_schedulers_split_bytes_by_share() {
    for sched in [ShareScheduler::SmoothWrr, ShareScheduler::EarliestFinish] {
        let mut c = cfg(
            3,
            PolicyConfig::SpeedShare(SpeedShareConfig {
                scheduler: sched,
                ..Default::default()
            }),
        );
        c.paths[0].link_speed_bps = 1_000_000_000;
        c.paths[1].link_speed_bps = 2_000_000_000;
        c.paths[2].link_speed_bps = 5_000_000_000;
        let g = PathGroup::new(c).unwrap();
        let mut bytes = [0u64; 3];
        for i in 0..30_000u32 {
            let r = req(u64::from(i), 64 + (i * 131) % 1500);
            bytes[pick(&g, &r, 0)] += u64::from(r.len);
        }
        let total: u64 = bytes.iter().sum();
        for (b, s) in bytes.iter().zip([0.125, 0.25, 0.625]) {
            let share = *b as f64 / total as f64;
            assert!((share - s).abs() / s < 0.01, "{sched:?}: {share} vs {s}");
        }
    }
}

#[test]
fn down_delay_and_hold_down() {
    let mut c = cfg(2, PolicyConfig::RoundRobin);
    c.down_delay_ns = 100 * MS;
    c.up_delay_ns = 50 * MS;
    c.failback = Failback::Deferred {
        delay_ns: 2_000 * MS,
    };
    let mut g = PathGroup::new(c).unwrap();
    assert_eq!(
        g.event(pid(0), PathEvent::LinkDown, 0),
        None,
        "down-delay pending"
    );
    assert_eq!(
        g.event(pid(0), PathEvent::LinkUp, 50 * MS),
        None,
        "bounce absorbed"
    );
    g.event(pid(0), PathEvent::LinkDown, 100 * MS);
    assert!(g.tick(150 * MS).is_empty());
    let t = g.tick(200 * MS);
    let t = t.iter().next().unwrap();
    assert_eq!((t.to, t.reason), (PathState::Failed, Reason::LinkDown));
    assert_eq!(g.eligible_mask(), 0b10);
    let t = g.event(pid(0), PathEvent::LinkUp, 300 * MS).unwrap();
    assert_eq!((t.to, t.reason), (PathState::Recovering, Reason::LinkUp));
    assert!(
        g.tick(2_299 * MS).is_empty(),
        "deferred failback holds the path down"
    );
    let t = g.tick(2_300 * MS);
    let t = t.iter().next().unwrap();
    assert_eq!(
        (t.to, t.reason),
        (PathState::Active, Reason::HoldDownElapsed)
    );
    assert_eq!(g.eligible_mask(), 0b11);
    let info = g.path_info(pid(0)).unwrap();
    assert_eq!(info.last_transition.reason, Reason::HoldDownElapsed);
    assert_eq!(info.transitions, 3);
}

#[test]
fn manual_failback_needs_reinstate_unless_alone() {
    let mut c = cfg(2, PolicyConfig::FailoverOnly);
    c.failback = Failback::Manual;
    c.up_delay_ns = 10 * MS;
    let mut g = PathGroup::new(c).unwrap();
    g.event(pid(0), PathEvent::ShimPathFailed, 0);
    g.event(pid(0), PathEvent::ShimPathRecovered, MS);
    assert!(g.tick(100 * MS).is_empty());
    assert_eq!(g.state(pid(0)), Some(PathState::Recovering));
    let t = g
        .event(pid(0), PathEvent::AdminReinstate, 200 * MS)
        .unwrap();
    assert_eq!(
        (t.to, t.reason),
        (PathState::Active, Reason::AdminReinstate)
    );
    // Without approval, a recovered path is released when it is the only one left.
    g.event(pid(0), PathEvent::ShimPathFailed, 300 * MS);
    g.event(pid(0), PathEvent::ShimPathRecovered, 301 * MS);
    g.event(pid(1), PathEvent::AdminFail, 302 * MS);
    let ts = g.tick(400 * MS);
    let t = ts.iter().next().unwrap();
    assert_eq!(
        (t.path, t.to, t.reason),
        (pid(0), PathState::Active, Reason::NoOtherPath)
    );
}

#[test]
fn flapping_path_becomes_marginal_then_stable() {
    let mut c = cfg(2, PolicyConfig::RoundRobin);
    c.failback = Failback::Immediate;
    c.up_delay_ns = 0;
    c.flap.max_failures = 3;
    c.flap.window_ns = 10_000 * MS;
    c.flap.stable_ns = 5_000 * MS;
    let mut g = PathGroup::new(c).unwrap();
    for k in 0..2 {
        g.event(pid(0), PathEvent::LinkDown, k * 100 * MS);
        let t = g
            .event(pid(0), PathEvent::LinkUp, k * 100 * MS + 10 * MS)
            .unwrap();
        assert_eq!(t.to, PathState::Active);
    }
    g.event(pid(0), PathEvent::LinkDown, 300 * MS);
    let t = g.event(pid(0), PathEvent::LinkUp, 310 * MS).unwrap();
    assert_eq!((t.to, t.reason), (PathState::Marginal, Reason::FlapDamped));
    assert_eq!(
        g.eligible_mask(),
        0b10,
        "marginal not used while an active path exists"
    );
    g.event(pid(1), PathEvent::AdminFail, 400 * MS);
    assert_eq!(g.eligible_mask(), 0b01, "marginal is the last resort");
    assert!(g.tick(5_000 * MS).is_empty());
    let ts = g.tick(5_310 * MS);
    let t = ts.iter().next().unwrap();
    assert_eq!(
        (t.to, t.reason),
        (PathState::Active, Reason::MarginalStable)
    );
}

#[test]
fn send_errors_fail_path_and_are_forgiven() {
    let mut c = cfg(2, PolicyConfig::RoundRobin);
    c.errors.threshold = 3;
    c.errors.window_ns = 100 * MS;
    c.errors.recovery_ns = 1_000 * MS;
    c.failback = Failback::Immediate;
    c.up_delay_ns = 0;
    let mut g = PathGroup::new(c).unwrap();
    let err = |s| Completion {
        path: pid(0),
        len: 100,
        target: TargetKey(0),
        cpu: 0,
        status: CompletionStatus::Error(s),
        latency_ns: 1,
    };
    assert_eq!(
        g.on_complete(&err(SendError::Resources), 1),
        Attention::None,
        "not counted"
    );
    assert_eq!(g.on_complete(&err(SendError::Failure), 2), Attention::None);
    assert_eq!(g.on_complete(&err(SendError::Failure), 3), Attention::None);
    assert_eq!(
        g.on_complete(&err(SendError::Failure), 4),
        Attention::EvaluateHealth
    );
    let ts = g.tick(5);
    let t = ts.iter().next().unwrap();
    assert_eq!((t.to, t.reason), (PathState::Failed, Reason::SendErrors));
    assert!(g.tick(500 * MS).is_empty());
    let ts = g.tick(1_000 * MS + 5);
    let t = ts.iter().next().unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (PathState::Failed, PathState::Active, Reason::ErrorsForgiven)
    );
    // Errors spread over several windows do not trip.
    for k in 0..6 {
        g.on_complete(&err(SendError::Failure), 2_000 * MS + k * 60 * MS);
        g.tick(2_000 * MS + k * 60 * MS + 1);
    }
    assert_eq!(g.state(pid(0)), Some(PathState::Active));
}

#[test]
fn probes_and_member_events() {
    let mut c = cfg(2, PolicyConfig::RoundRobin);
    c.failback = Failback::Immediate;
    c.up_delay_ns = 0;
    c.probe_miss_max = 2;
    let mut g = PathGroup::new(c).unwrap();
    assert_eq!(g.event(pid(0), PathEvent::ProbeLost, 1), None);
    let t = g.event(pid(0), PathEvent::ProbeLost, 2).unwrap();
    assert_eq!((t.to, t.reason), (PathState::Failed, Reason::ProbeLost));
    let t = g.event(pid(0), PathEvent::ProbeAnswered, 3).unwrap();
    assert_eq!((t.to, t.reason), (PathState::Active, Reason::ProbeAnswered));
    let t = g.event(pid(1), PathEvent::MemberPaused, 4).unwrap();
    assert_eq!(t.reason, Reason::MemberPaused);
    g.event(pid(1), PathEvent::MemberDetached, 5);
    assert_eq!(
        g.event(pid(1), PathEvent::MemberRestarted, 6),
        None,
        "still detached"
    );
    let t = g.event(pid(1), PathEvent::MemberAttached, 7).unwrap();
    assert_eq!(t.to, PathState::Active);
    assert_eq!(
        g.event(pid(9), PathEvent::LinkDown, 8),
        None,
        "unknown path ignored"
    );
}

#[test]
fn flowlet_keeps_path_within_gap_and_moves_after() {
    let mut c = cfg(4, PolicyConfig::RoundRobin);
    c.flowlet.gap_ns = 500 * US;
    c.flowlet.table_entries = 1024;
    c.failback = Failback::Immediate;
    let mut g = PathGroup::new(c).unwrap();
    let r = req(42, 1500);
    let first = pick(&g, &r, 0);
    let mut now = 0;
    for _ in 0..100 {
        now += 400 * US;
        assert_eq!(pick(&g, &r, now), first);
    }
    now += 1_000 * US;
    let second = pick(&g, &r, now);
    assert_ne!(second, first, "round robin re-places the flow after a gap");
    g.event(pid(second), PathEvent::LinkDown, now + 1);
    let third = pick(&g, &r, now + 2);
    assert_ne!(third, second, "moves at once when its path fails");
}

/// Speed-share over 10G / 10G / 1G with flowlets on, `cpus` CPU shards.
fn speed_share_flowlets(cpus: u32) -> PathGroup {
    let mut c = cfg(3, PolicyConfig::SpeedShare(SpeedShareConfig::default()));
    c.paths[0].link_speed_bps = 10_000_000_000;
    c.paths[1].link_speed_bps = 10_000_000_000;
    c.paths[2].link_speed_bps = 1_000_000_000;
    c.flowlet.gap_ns = 500 * US;
    c.flowlet.table_entries = 1 << 16;
    c.cpus = cpus;
    c.failback = Failback::Immediate;
    c.up_delay_ns = 0;
    PathGroup::new(c).unwrap()
}

/// Places flows `flows` (one NBL each, of lengths that vary, from CPUs in turn) and counts them
/// per path.
fn place_flows(g: &PathGroup, flows: core::ops::Range<u64>, cpus: u32, now: u64) -> [u32; 3] {
    let mut n = [0; 3];
    for f in flows {
        let mut r = req(f, 64 + u32::try_from(f * 419 % 1451).unwrap());
        r.cpu = u32::try_from(f).unwrap() % cpus;
        n[pick(g, &r, now)] += 1;
    }
    n
}

#[test]
fn speed_share_places_new_flowlets_from_all_cpus_by_share_to_one_flow() {
    // 64 long-lived flows from 4 CPUs: shares 10/21, 10/21, 1/21 are 30.5, 30.5 and 3.0 flows.
    // Each CPU placing its 16 by its own order would give the 1G path none.
    let g = speed_share_flowlets(4);
    let n = place_flows(&g, 0..64, 4, 0);
    assert_eq!(n.iter().sum::<u32>(), 64);
    for (p, share) in [10.0 / 21.0, 10.0 / 21.0, 1.0 / 21.0]
        .into_iter()
        .enumerate()
    {
        let want = 64.0 * share;
        assert!(
            (f64::from(n[p]) - want).abs() < 1.0,
            "{n:?}: path {p} wants {want:.2}"
        );
    }
    // The flows stay where they were placed, whichever CPU sends them next.
    for f in 0..64 {
        let mut r = req(f, 1514);
        r.cpu = u32::try_from(f).unwrap() % 4 + 1;
        let p = pick(&g, &r, 100 * US);
        assert_eq!(place_flows(&g, f..f + 1, 4, 100 * US)[p], 1, "flow {f}");
    }
}

#[test]
fn speed_share_flowlet_placement_is_charged_per_flowlet_not_per_byte() {
    // Flowlets whose first NBLs differ in length by 20 times still split by count.
    let g = speed_share_flowlets(1);
    let mut n = [0u32; 3];
    for f in 0..210u64 {
        let len = if f % 2 == 0 { 64 } else { 1500 };
        n[pick(&g, &req(f, len), 0)] += 1;
    }
    assert_eq!(n, [100, 100, 10]);
}

#[test]
fn speed_share_path_back_from_failure_gets_its_share_of_new_flowlets_not_a_burst() {
    let mut g = speed_share_flowlets(2);
    g.event(pid(2), PathEvent::LinkDown, 0);
    assert_eq!(place_flows(&g, 0..200, 2, 0)[2], 0, "not eligible");
    g.event(pid(2), PathEvent::LinkUp, 1);
    g.tick(1);
    assert_eq!(g.path_info(pid(2)).unwrap().state, PathState::Active);
    // Of the next 42 flowlets (two rounds of the shares), the returning path gets its 2, not the
    // 20 it would get if the 200 placed without it were owed to it.
    let n = place_flows(&g, 1_000..1_042, 2, 2);
    assert_eq!(n[2], 2, "{n:?}");
}

#[test]
fn path_info_counts() {
    let g = PathGroup::new(cfg(2, PolicyConfig::RoundRobin)).unwrap();
    for i in 0..10 {
        send_complete(&g, &req(i, 100), i * 10);
    }
    let a = g.path_info(pid(0)).unwrap();
    let b = g.path_info(pid(1)).unwrap();
    assert_eq!(a.counters.sent_nbls + b.counters.sent_nbls, 10);
    assert_eq!(
        a.counters.completed_bytes + b.counters.completed_bytes,
        1000
    );
    assert_eq!(a.counters.inflight_nbls(), 0);
    assert_eq!(a.state, PathState::Active);
    assert_eq!(a.last_transition.reason, Reason::Initial);
    assert!(g.path_info(pid(3)).is_none());
}

#[test]
fn stale_path_gets_probe_share() {
    let ss = SpeedShareConfig {
        half_life_ns: MS,
        stale_after_ns: 1_000 * MS,
        probe_share_ppm: 10_000,
        ..Default::default()
    };
    let g_cfg = cfg(2, PolicyConfig::SpeedShare(ss));
    let mut g = PathGroup::new(g_cfg).unwrap();
    let done = |p: usize, latency_ns: u64| Completion {
        path: pid(p),
        len: 1500,
        target: TargetKey(0),
        cpu: 0,
        status: CompletionStatus::Ok,
        latency_ns,
    };
    // Path 0 fast (1.5 us per NBL), path 1 very slow (15 ms per NBL): path 1's share shrinks to
    // almost nothing.
    let mut now = 0u64;
    for _ in 0..20 {
        for k in 1..=100 {
            g.on_complete(&done(0, 1_500), now + 1_500 * k);
        }
        now += 150_000;
        g.on_complete(&done(1, 15 * MS), now);
        now += 15 * MS;
        g.tick(now);
    }
    let w = share_weights(&g);
    assert!(w[1] < 100, "slow path share {}", w[1]);
    // Path 1 then goes quiet for longer than stale_after: it gets the probe share (1 % of 65536).
    for _ in 0..12 {
        for k in 1..=100 {
            g.on_complete(&done(0, 1_500), now + 1_500 * k);
        }
        now += 100 * MS;
        g.tick(now);
    }
    let w = share_weights(&g);
    assert!(w[1] >= 655, "stale path probe share {}", w[1]);
    // It is re-learned as soon as it completes again.
    assert!(matches!(g.select(&req(1, 1500), now), Selection::Path(_)));
}

/// Every policy names itself as the configuration does (stable, lower case, unique).
#[test]
fn policies_name_themselves() {
    let all = [
        (PolicyConfig::FailoverOnly, "failover-only"),
        (PolicyConfig::RoundRobin, "round-robin"),
        (PolicyConfig::WeightedPaths, "weighted-paths"),
        (PolicyConfig::LeastQueueDepth, "least-queue-depth"),
        (PolicyConfig::LeastBlocks, "least-blocks"),
        (PolicyConfig::AddressHash(HashLayer::Layer2), "address-hash"),
        (
            PolicyConfig::AddressHash(HashLayer::Layer34),
            "address-hash",
        ),
        (PolicyConfig::ServiceTime, "service-time"),
        (PolicyConfig::Quota(QuotaConfig::default()), "quota"),
        (
            PolicyConfig::SpeedShare(SpeedShareConfig::default()),
            "speed-share",
        ),
    ];
    let mut seen = Vec::new();
    for (policy, name) in all {
        let g = PathGroup::new(cfg(2, policy)).unwrap();
        assert_eq!(g.policy_name(), name, "{policy:?}");
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{name}"
        );
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    assert_eq!(seen.len(), 9, "one name per policy");
}

fn status(g: &PathGroup, p: usize) -> PathStatus {
    g.path_info(pid(p)).unwrap().policy
}

fn shares(g: &PathGroup) -> Vec<Option<u32>> {
    (0..g.len()).map(|p| status(g, p).share_ppm).collect()
}

#[test]
fn failover_status_ranks_and_share() {
    let mut c = cfg(3, PolicyConfig::FailoverOnly);
    for (p, prio) in c.paths.iter_mut().zip([2, 0, 1]) {
        p.priority = prio;
    }
    let mut g = PathGroup::new(c).unwrap();
    let ranks: Vec<_> = (0..3).map(|p| status(&g, p).rank).collect();
    assert_eq!(ranks, [Some(2), Some(0), Some(1)]);
    assert_eq!(shares(&g), [Some(0), Some(1_000_000), Some(0)]);
    g.event(pid(1), PathEvent::AdminFail, 1);
    assert_eq!(shares(&g), [Some(0), Some(0), Some(1_000_000)]);
    assert_eq!(status(&g, 0).inflight, None);
}

#[test]
fn round_robin_and_weighted_status_shares() {
    let mut g = PathGroup::new(cfg(3, PolicyConfig::RoundRobin)).unwrap();
    assert_eq!(shares(&g), [Some(333_333); 3]);
    g.event(pid(2), PathEvent::AdminFail, 1);
    assert_eq!(shares(&g), [Some(500_000), Some(500_000), Some(0)]);

    let mut c = cfg(3, PolicyConfig::WeightedPaths);
    for (p, w) in c.paths.iter_mut().zip([4, 4, 1]) {
        p.weight = w;
    }
    let mut g = PathGroup::new(c).unwrap();
    assert_eq!(shares(&g), [Some(0), Some(0), Some(1_000_000)]);
    assert_eq!(status(&g, 0).weight, Some(4));
    g.event(pid(2), PathEvent::AdminFail, 1);
    assert_eq!(shares(&g), [Some(500_000), Some(500_000), Some(0)]);
}

#[test]
fn address_hash_status_has_no_share() {
    let g = PathGroup::new(cfg(2, PolicyConfig::AddressHash(HashLayer::Layer34))).unwrap();
    assert_eq!(status(&g, 0), PathStatus::default());
}

#[test]
fn service_time_status_weight_and_inflight() {
    let mut c = cfg(2, PolicyConfig::ServiceTime);
    c.paths[1].weight = 7;
    let g = PathGroup::new(c).unwrap();
    let r = req(1, 1200);
    g.on_send(pid(1), &r, 0);
    g.on_send(pid(1), &SendRequest { cpu: 1, ..r }, 0);
    let s = status(&g, 1);
    assert_eq!(s.weight, Some(7));
    assert_eq!(s.inflight, Some(Load::Bytes(2400)));
    assert_eq!(s.share_ppm, None);
    assert_eq!(status(&g, 0).inflight, Some(Load::Bytes(0)));
}

#[test]
fn quota_status_share_and_outstanding() {
    let mut c = cfg(
        3,
        PolicyConfig::Quota(QuotaConfig {
            max_outstanding_per_target: 8,
            target_slots: 4,
        }),
    );
    for (p, q) in c.paths.iter_mut().zip([16_384, 32_768, 16_384]) {
        p.quota_bytes = q;
    }
    let g = PathGroup::new(c).unwrap();
    assert_eq!(shares(&g), [Some(250_000), Some(500_000), Some(250_000)]);
    assert_eq!(status(&g, 1).weight, Some(32_768));
    // Three NBLs to different targets, from two CPUs: all counted, whatever slot they hash to.
    let mut sent = Vec::new();
    for (t, cpu) in [(1u64, 0u32), (2, 1), (3, 0)] {
        let r = SendRequest {
            target: TargetKey(t),
            cpu,
            ..req(t, 1000)
        };
        let p = pick(&g, &r, 0);
        g.on_send(pid(p), &r, 0);
        sent.push((p, r));
    }
    let total: u32 = (0..3).map(|p| status(&g, p).outstanding.unwrap()).sum();
    assert_eq!(total, 3);
    for (p, r) in &sent {
        let c = Completion {
            path: pid(*p),
            len: r.len,
            target: r.target,
            cpu: r.cpu,
            status: CompletionStatus::Ok,
            latency_ns: 10,
        };
        g.on_complete(&c, 10);
    }
    let total: u32 = (0..3).map(|p| status(&g, p).outstanding.unwrap()).sum();
    assert_eq!(total, 0);
    // Without a cap there is nothing to report.
    let g = PathGroup::new(cfg(
        2,
        PolicyConfig::Quota(QuotaConfig {
            max_outstanding_per_target: 0,
            target_slots: 1,
        }),
    ))
    .unwrap();
    assert_eq!(status(&g, 0).outstanding, None);
}

#[test]
fn speed_share_status_weight_share_speed() {
    let mut c = cfg(3, PolicyConfig::SpeedShare(SpeedShareConfig::default()));
    for (p, s) in c.paths.iter_mut().zip([1, 3, 4]) {
        p.link_speed_bps = s * 1_000_000_000;
    }
    let mut g = PathGroup::new(c).unwrap();
    let speeds: Vec<_> = (0..3).map(|p| status(&g, p).speed_bps).collect();
    assert_eq!(
        speeds,
        [
            Some(1_000_000_000),
            Some(3_000_000_000),
            Some(4_000_000_000)
        ]
    );
    let w = share_weights(&g);
    assert_eq!(w, [8192, 24576, 32768]);
    assert_eq!(shares(&g), [Some(125_000), Some(375_000), Some(500_000)]);
    // A path leaving the eligible set has no share; the others split the traffic between them.
    g.event(pid(2), PathEvent::AdminFail, 1);
    assert_eq!(shares(&g), [Some(250_000), Some(750_000), Some(0)]);
}

#[test]
fn select_avoiding_prefers_other_paths_and_falls_back_when_none_is_left() {
    // Flowlets on: the avoided path must also win over a flow pinned to it.
    let mut c = GroupConfig::new(paths(3), PolicyConfig::RoundRobin);
    c.flowlet.gap_ns = 1_000 * MS;
    c.cpus = 1;
    let mut g = PathGroup::new(c).unwrap();
    let r = req(42, 1500);
    let pinned = pick(&g, &r, 0);
    for now in 1..20 {
        match g.select_avoiding(&r, now, 1 << pinned) {
            Selection::Path(p) => assert_ne!(p.index(), pinned),
            other => panic!("expected a path, got {other:?}"),
        }
    }
    // Only the avoided path is left: it is still chosen rather than nothing.
    for p in 0..3 {
        if p != pinned {
            g.event(pid(p), PathEvent::AdminFail, 30);
        }
    }
    assert_eq!(
        g.select_avoiding(&r, 40, 1 << pinned),
        Selection::Path(pid(pinned))
    );
}

#[test]
fn failures_while_recovering_count_toward_flap_damping() {
    // Deferred failback longer than the flap period: the path never gets back to Active between
    // failures, yet it is flapping and must come back Marginal.
    let mut c = cfg(2, PolicyConfig::RoundRobin);
    c.failback = Failback::Deferred { delay_ns: 20 * MS };
    c.up_delay_ns = 0;
    let mut g = PathGroup::new(c).unwrap();
    for k in 0..3u64 {
        let at = 2 * MS + k * 4 * MS;
        g.event(pid(1), PathEvent::LinkDown, at);
        g.event(pid(1), PathEvent::LinkUp, at + 2 * MS);
    }
    assert_eq!(g.state(pid(1)), Some(PathState::Recovering));
    g.tick(12 * MS + 19 * MS);
    assert_eq!(
        g.state(pid(1)),
        Some(PathState::Recovering),
        "not before the hold-down"
    );
    g.tick(12 * MS + 20 * MS);
    assert_eq!(g.state(pid(1)), Some(PathState::Marginal));
    assert_eq!(
        g.path_info(pid(1)).unwrap().last_transition.reason,
        Reason::FlapDamped
    );
}

#[test]
fn a_lower_link_speed_caps_speed_shares_at_the_next_tick() {
    let paths = vec![
        PathConfig {
            link_speed_bps: 10_000_000_000,
            ..PathConfig::default()
        };
        2
    ];
    let mut c = GroupConfig::new(paths, PolicyConfig::SpeedShare(SpeedShareConfig::default()));
    c.flowlet.gap_ns = 0;
    c.cpus = 1;
    let mut g = PathGroup::new(c).unwrap();
    g.tick(MS);
    let before = share_weights(&g);
    assert_eq!(before[0], before[1], "{before:?}");
    // Path 0's link drops to 1 Gb/s: its share follows at the next tick, without measurement.
    g.set_link_speed(pid(0), 1_000_000_000, 2 * MS);
    g.tick(3 * MS);
    let after = share_weights(&g);
    let ratio = f64::from(after[1]) / f64::from(after[0]);
    assert!((ratio - 10.0).abs() < 0.2, "{after:?}");
    assert_eq!(g.path_info(pid(0)).unwrap().link_speed_bps, 1_000_000_000);
}
