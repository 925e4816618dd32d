//! Teaming end to end: modules with the same GroupId form a path group, the protocol above
//! adapter 0 sends, and mpfilter spreads its NBLs over every member's wire — down adapter 0's own
//! stack, or as clones down another member's — and moves them off a path that fails. The
//! emulator's delivery ledger measures, at the far end of every wire, what arrived: nothing may be
//! lost or duplicated, every NBL completes to the protocol, and every run ends with detach and
//! unload with no rule violation and no leak. Each scenario runs on the host build and on the loaded
//! `mpfilter.sys` with the same checks, the diagnostic events included (the host build's records,
//! the `.sys`'s ETW TraceLogging events decoded by the PE loader), and the filter's counters and
//! its group as the control device's IOCTLs report them, on both builds.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use common::idle;

use mpctl_proto::{
    GroupList, GroupRecord, Ioctl, PathRecord, PathState as WireState, Reason as WireReason,
    Request, status,
};
use mpfilter::diag::Event;
use mpfilter::engine::{PathState, Reason};
use mpfilter::module::ModuleStats;
use mpfilter::ndis::consts::{
    NDIS_STATUS_FAILURE, NDIS_STATUS_MEDIA_DISCONNECTED, NDIS_STATUS_PAUSED, NDIS_STATUS_RESOURCES,
    NDIS_STATUS_SEND_ABORTED,
};
use ndis_emu::config::RegValue;
use ndis_emu::ledger::{Arrival, OriginReport};
use ndis_emu::wire::{Fault, ShimDefect};
use ndis_emu::{
    AdapterConfig, DriverImage, EmuConfig, Emulator, LoadedImage, Randomization, TrafficConfig,
};

const MS: u64 = 1_000_000;
const GBPS: u64 = 1_000_000_000;

/// A team member: GroupId 1 and the group settings every scenario shares, plus `extra`.
fn member(index: u8, speed: u64, policy: &str, extra: &[(&str, RegValue)]) -> AdapterConfig {
    let mut a = AdapterConfig::numbered(index)
        .with_param("GroupId", RegValue::Dword(1))
        .with_param("Policy", RegValue::Sz(policy.into()))
        .with_param("Failback", RegValue::Sz("immediate".into()))
        .with_param("UpDelayMs", RegValue::Dword(0))
        .with_param("DownDelayMs", RegValue::Dword(0));
    a.link_speed_bps = speed;
    for (k, v) in extra {
        a = a.with_param(k, v.clone());
    }
    a
}

/// `count` round-robin members on 1 Gb/s links (slow enough that a fault lands mid-transfer).
/// Two round-robin members whose group waits for a path with `AllDown` = `all_down`.
fn queued_pair(all_down: &str) -> Vec<AdapterConfig> {
    (0..2)
        .map(|i| {
            member(
                i,
                GBPS,
                "round-robin",
                &[("AllDown", RegValue::Sz(all_down.into()))],
            )
        })
        .collect()
}

/// Of `n` sends, some failed with MEDIA_DISCONNECTED, the rest completed and were delivered;
/// none lost silently or duplicated.
fn assert_failed_as_disconnected(r: &OriginReport, n: u64) {
    let failed = r.completed_with(NDIS_STATUS_MEDIA_DISCONNECTED);
    assert!(failed > 0, "{r:?}");
    assert_eq!(r.completed_ok + failed, n, "{r:?}");
    assert_eq!((r.duplicates, r.silently_lost), (0, 0), "{r:?}");
    assert_eq!(r.delivered, r.completed_ok, "{r:?}");
}

fn round_robin(count: u8) -> Vec<AdapterConfig> {
    (0..count)
        .map(|i| member(i, GBPS, "round-robin", &[]))
        .collect()
}

/// What the protocol above adapter 0 sends: `n` NBLs of 64 flows, in short chains, fast enough to
/// keep every wire busy; the other members' protocols send nothing.
fn load(n: u64) -> TrafficConfig {
    TrafficConfig {
        tx_nbls: n,
        rx_nbls: 0,
        max_chain: 8,
        frame_len: (300, 1500),
        send_interval: 2_000,
        window: 256,
        flows: 64,
        ..TrafficConfig::default()
    }
}

/// One scenario: the team, adapter 0's traffic, faults at offsets from the start.
struct Scenario {
    seed: u64,
    members: Vec<AdapterConfig>,
    traffic: TrafficConfig,
    faults: Vec<(usize, u64, Fault)>,
}

/// What a run measured: the far end's account of adapter 0's frames, frames per wire, and each
/// member's filter counters and adapter 0's group as the control device reports them.
struct Outcome {
    origin: OriginReport,
    wires: Vec<u64>,
    /// Most NBLs for one destination below each member's miniport at once.
    below_peak: Vec<u64>,
    /// NBLs each member's miniport completed aborted because a cancel named them in its queue.
    cancelled_below: Vec<u64>,
    /// NBLs completed to adapter 0's protocol as aborted that it never tagged for a cancel.
    aborted_uncancelled: u64,
    /// Re-sends each member's miniport took (NBLs a miniport had failed before).
    resends_taken: Vec<u64>,
    /// Bytes of the frames each member's miniport put on its wire.
    wire_bytes: Vec<u64>,
    /// Every frame that left a wire, in arrival order (times relative to the start of traffic).
    arrivals: Vec<Arrival>,
    /// The path transitions the filter reported, with their time relative to the start of traffic.
    transitions: Vec<(u64, Event)>,
    /// The `Reroute` diagnostic events.
    reroutes: Vec<Event>,
    /// Adapter 0's group at the end of the traffic, before detach (IOCTL ListGroups).
    group: Option<GroupView>,
    /// Each member's counters (IOCTL ModuleStats); `None` when a module is in no group (the
    /// control device reports group members).
    stats: Option<Vec<ModuleStats>>,
}

/// A group as the control device lists it: its record and its paths by seat.
struct GroupView {
    record: GroupRecord,
    paths: Vec<PathRecord>,
}

fn encoded(r: &Request) -> Vec<u8> {
    let mut b = vec![0; r.len()];
    r.encode(&mut b).expect("room");
    b
}

/// Every member's counters through IOCTL ModuleStats; `None` if one is in no group.
fn read_stats(emu: &mut Emulator, members: &[AdapterConfig]) -> Option<Vec<ModuleStats>> {
    members
        .iter()
        .map(|m| common::module_stats(emu, m.filter_if_index()))
        .collect()
}

/// The group of the filter module with `if_index` through IOCTL ListGroups.
fn read_group(emu: &mut Emulator, if_index: u32) -> Option<GroupView> {
    let req = encoded(&Request::ListGroups);
    let o = emu
        .device_ioctl(Ioctl::ListGroups.code(), &req, 64 * 1024, false)
        .expect("mpfilter's control device");
    assert_eq!(o.status, status::SUCCESS);
    let list = GroupList::decode(&o.output).expect("a valid list");
    let group = list.paths().find(|p| p.if_index == if_index)?.group;
    Some(GroupView {
        record: list.groups().find(|g| g.group == group)?,
        paths: list.paths_of(group).collect(),
    })
}

/// Boots the team on `image` with the emulator's `random` settings (cancels, for one), applies the
/// faults, runs the traffic to its end, detaches every member, unloads: no violation, no leak, no
/// frame damaged on any wire.
fn run_with(s: &Scenario, image: DriverImage, random: Randomization) -> Outcome {
    let mut emu = Emulator::new(EmuConfig {
        seed: s.seed,
        cpus: 4,
        random,
        ..EmuConfig::default()
    });
    for (i, m) in s.members.iter().enumerate() {
        emu.add_adapter(m.clone(), if i == 0 { s.traffic.clone() } else { idle() });
    }
    let img = image.load().expect("image");
    emu.load(img.entry).expect("mpfilter loads");
    for a in 0..emu.adapter_count() {
        assert!(emu.start(a), "{:?}", emu.violations());
    }
    let t = emu.now();
    for &(a, at, fault) in &s.faults {
        // Scenario times are from the start of traffic, a flap's end included.
        let fault = match fault {
            Fault::Flap { period, until } => Fault::Flap {
                period,
                until: t + until,
            },
            other => other,
        };
        emu.schedule_fault(a, t + at, fault);
    }
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let d = emu.delivery();
    let arrivals = emu
        .arrivals()
        .into_iter()
        .map(|a| Arrival {
            at: a.at.saturating_sub(t),
            ..a
        })
        .collect();
    let transitions = common::transitions(&emu, t);
    let reroutes = emu
        .diag_events()
        .into_iter()
        .filter(|r| matches!(r.event, Event::Reroute { .. }))
        .map(|r| r.event)
        .collect();
    let stats = read_stats(&mut emu, &s.members);
    let group = read_group(&mut emu, s.members[0].filter_if_index());
    // Every scenario teams all its members or none: the counters come with the group.
    assert_eq!(stats.is_some(), group.is_some(), "{:?}", emu.violations());
    let below_peak = (0..emu.adapter_count())
        .map(|a| emu.stats(a).tx_below_peak_per_target)
        .collect();
    let aborted_uncancelled = emu.stats(0).tx_aborted_uncancelled;
    let cancelled_below = (0..emu.adapter_count())
        .map(|a| emu.stats(a).mp_tx_cancelled)
        .collect();
    let resends_taken = (0..emu.adapter_count())
        .map(|a| emu.stats(a).tx_resends_taken)
        .collect();
    let wire_bytes = (0..emu.adapter_count())
        .map(|a| emu.stats(a).wire_tx_bytes)
        .collect();
    for a in 0..emu.adapter_count() {
        assert_eq!(emu.stats(a).wire_tx_bad, 0, "adapter {a}: intact frames");
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    assert!(emu.diag_rejects().is_empty(), "{:?}", emu.diag_rejects());
    drop(img);
    Outcome {
        origin: d.origins[0].clone(),
        wires: d.per_wire.clone(),
        below_peak,
        cancelled_below,
        aborted_uncancelled,
        resends_taken,
        wire_bytes,
        arrivals,
        transitions,
        reroutes,
        group,
        stats,
    }
}

/// The scenario on the loaded `mpfilter.sys`, on its own emulated CPU thread: a bug check fails
/// the test, and the driver's pool must be empty after unload.
fn run_sys(s: Scenario, random: Randomization) -> Outcome {
    common::on_sys(move |image| run_with(&s, image, random))
}

/// Loads the host build into `emu` and starts every adapter's stack.
fn start_host(emu: &mut Emulator) -> LoadedImage {
    let img = DriverImage::Host.load().expect("host image");
    emu.load(img.entry).expect("mpfilter loads");
    for a in 0..emu.adapter_count() {
        assert!(emu.start(a), "{:?}", emu.violations());
    }
    img
}

/// Detaches every module and unloads: no rule violation, no leak.
fn shut_down(mut emu: Emulator, img: LoadedImage) {
    for a in 0..emu.adapter_count() {
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    drop(img);
}

/// Adapter `a`'s FilterModuleContext, for the host build's APIs.
fn ctx(emu: &Emulator, a: usize) -> *mut core::ffi::c_void {
    emu.module_context(a) as *mut core::ffi::c_void
}

/// Counter `f` summed over every member.
fn summed(stats: &[ModuleStats], f: fn(&ModuleStats) -> u64) -> u64 {
    stats.iter().map(f).sum()
}

/// Nothing lost, nothing duplicated, every NBL completed with success and delivered.
fn assert_all_delivered(o: &OriginReport, n: u64) {
    assert_eq!(o.sent, n, "{o:?}");
    assert_eq!(o.completed_ok, n, "{o:?}");
    assert_eq!(o.delivered, n, "{o:?}");
    assert_eq!((o.lost, o.duplicates, o.silently_lost), (0, 0, 0), "{o:?}");
}

/// Declares a scenario's host test and its `.sys` twin: the same scenario, the same checks.
macro_rules! both_builds {
    ($host:ident, $sys:ident, $scenario:expr, $check:expr) => {
        both_builds!($host, $sys, $scenario, random: Randomization::default(), $check);
    };
    ($host:ident, $sys:ident, $scenario:expr, random: $random:expr, $check:expr) => {
        #[test]
        fn $host() {
            let check: fn(&Outcome) = $check;
            check(&run_with(&$scenario, DriverImage::Host, $random));
        }

        #[test]
        #[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team -- --ignored"]
        fn $sys() {
            let check: fn(&Outcome) = $check;
            check(&run_sys($scenario, $random));
        }
    };
}

fn spread() -> Scenario {
    Scenario {
        seed: 1,
        members: vec![
            member(0, 10 * GBPS, "round-robin", &[]),
            member(1, 10 * GBPS, "round-robin", &[]),
        ],
        traffic: load(4_000),
        faults: vec![],
    }
}

both_builds!(
    a_team_spreads_one_protocols_sends_over_every_members_wire,
    sys_a_team_spreads_one_protocols_sends_over_every_members_wire,
    spread(),
    |o| {
        let n = 4_000;
        assert_all_delivered(&o.origin, n);
        // Round-robin per NBL; a flowlet gap of 500 µs keeps a busy flow on its path, so not
        // exactly half each.
        assert!(o.wires.iter().all(|&w| w > n / 5), "{:?}", o.wires);
        assert_eq!(o.wires.iter().sum::<u64>(), n);
        if let Some(stats) = &o.stats {
            assert_eq!(stats[0].send_nbls_rerouted, o.wires[1]);
            assert_eq!(stats[1].send_children_completed, o.wires[1]);
        }
    }
);

both_builds!(
    unconfigured_adapters_do_not_team,
    sys_unconfigured_adapters_do_not_team,
    Scenario {
        seed: 2,
        members: vec![AdapterConfig::numbered(0), AdapterConfig::numbered(1)],
        traffic: load(1_000),
        faults: vec![],
    },
    |o| {
        assert_all_delivered(&o.origin, 1_000);
        assert_eq!(o.wires[1], 0, "no surprise teaming");
    }
);

// (a) Link down on one of two paths mid-transfer.
both_builds!(
    link_down_mid_transfer_loses_and_duplicates_nothing,
    sys_link_down_mid_transfer_loses_and_duplicates_nothing,
    Scenario {
        seed: 3,
        members: round_robin(2),
        traffic: load(6_000),
        faults: vec![(1, 4 * MS, Fault::LinkDown)],
    },
    |o| {
        assert_all_delivered(&o.origin, 6_000);
        assert!(o.wires[1] > 0 && o.wires[0] > o.wires[1], "{:?}", o.wires);
        // The re-sends away from path 1 were reported as reroute bursts; path 1 failed for its
        // link, once.
        let moved: u32 = o
            .reroutes
            .iter()
            .map(|e| match e {
                Event::Reroute {
                    group: 1,
                    from_path: 1,
                    to_path: 0,
                    nbls,
                } => *nbls,
                other => panic!("unexpected {other:?}"),
            })
            .sum();
        assert!(moved > 0, "{:?}", o.reroutes);
        // A completion's re-sends to one path make one burst: some bursts hold several NBLs.
        assert!(
            o.reroutes
                .iter()
                .any(|e| matches!(e, Event::Reroute { nbls, .. } if *nbls > 1)),
            "{:?}",
            o.reroutes
        );
        let failed: Vec<_> = common::failures(&o.transitions)
            .into_iter()
            .filter(|(_, e)| matches!(e, Event::PathTransition { path: 1, .. }))
            .collect();
        assert!(
            matches!(
                failed[..],
                [(at, Event::PathTransition { reason: Reason::LinkDown, .. })] if *at >= 4 * MS
            ),
            "{:?}",
            o.transitions
        );
        if let Some(stats) = &o.stats {
            // What was on wire 1 when it went down came back with MEDIA_DISCONNECTED and was
            // sent again.
            let retried = summed(stats, |s| s.send_nbls_retried);
            assert!(retried > 0, "{stats:?}");
            // The group as the control device reports it.
            let g = o.group.as_ref().expect("adapter 0 is in a group");
            assert_eq!(
                (g.record.group, g.record.policy_name(), g.paths.len()),
                (1, "round-robin", 2)
            );
            let (p0, p1) = (&g.paths[0], &g.paths[1]);
            assert!(p0.has_path && p1.has_path);
            assert_eq!(p0.state, WireState::Active);
            assert_eq!(
                (p1.state, p1.reason),
                (WireState::Failed, WireReason::LinkDown)
            );
            assert!(!p1.connected);
            assert_eq!(g.record.eligible_mask, 0b01);
            for p in [p0, p1] {
                assert_eq!(p.inflight_nbls(), 0, "{p:?}");
            }
            assert!(p1.failed_nbls > 0, "{p1:?}");
            assert_eq!(p1.completed_nbls, o.wires[1], "{p1:?}");
            // The bytes the engine counts as completed on path 1 are those its wire carried.
            assert_eq!(p1.completed_bytes, o.wire_bytes[1], "{p1:?}");
            assert_eq!(stats[0].send_nbls_rerouted, p1.sent_nbls);
            assert!(u64::from(moved) <= retried, "{moved} of {retried}");
        }
    }
);

// A member whose link is down when it attaches starts out of service: nothing is sent to it
// until its link comes up, so no path fails, and then it carries its share.
both_builds!(
    a_member_attached_with_its_link_down_starts_out_of_service,
    sys_a_member_attached_with_its_link_down_starts_out_of_service,
    Scenario {
        seed: 4,
        members: vec![
            member(0, GBPS, "round-robin", &[]),
            member(1, GBPS, "round-robin", &[]).starting_disconnected(),
        ],
        traffic: load(4_000),
        faults: vec![(1, 5 * MS, Fault::LinkUp)],
    },
    |o| {
        assert_all_delivered(&o.origin, 4_000);
        assert_eq!(
            common::failures(&o.transitions),
            Vec::<&(u64, Event)>::new()
        );
        assert!(o.wires[1] > 0, "{:?}", o.wires);
        if let Some(stats) = &o.stats {
            let retried = summed(stats, |s| s.send_nbls_retried);
            assert_eq!(retried, 0, "{stats:?}");
        }
    }
);

/// Two round-robin members carrying 4,000 NBLs; from 2 ms member 1's miniport completes the
/// next 40 it finishes with `status`.
fn forty_completions_with(status: i32) -> Scenario {
    Scenario {
        seed: 4,
        members: round_robin(2),
        traffic: load(4_000),
        faults: vec![(1, 2 * MS, Fault::ErrorCompletions { status, count: 40 })],
    }
}

/// All 4,000 delivered, the 40 failed completions among them sent again.
fn assert_forty_sent_again(o: &Outcome) {
    assert_all_delivered(&o.origin, 4_000);
    if let Some(stats) = &o.stats {
        let retried = summed(stats, |s| s.send_nbls_retried);
        assert!(retried >= 40, "retried {retried}: {stats:?}");
    }
}

// (b) Error completions in flight: sent again on the survivor and delivered.
both_builds!(
    error_completions_are_sent_again_on_the_survivor,
    sys_error_completions_are_sent_again_on_the_survivor,
    forty_completions_with(NDIS_STATUS_FAILURE),
    |o| {
        assert_forty_sent_again(o);
        // 40 failures are past the error threshold: the path fails for them.
        assert!(
            common::failures(&o.transitions)
                .iter()
                .any(|(_, e)| matches!(
                    e,
                    Event::PathTransition {
                        path: 1,
                        reason: Reason::SendErrors,
                        ..
                    }
                )),
            "{:?}",
            o.transitions
        );
    }
);

/// Two round-robin members that never leave service for send errors (`SendErrorThreshold` 0).
fn error_tolerant_pair() -> Vec<AdapterConfig> {
    (0..2)
        .map(|i| {
            member(
                i,
                GBPS,
                "round-robin",
                &[("SendErrorThreshold", RegValue::Dword(0))],
            )
        })
        .collect()
}

/// Three round-robin members that stay in service whatever their send errors; from 2 ms member
/// 1's miniport fails the next 60 sends it finishes.
fn sixty_failures_among_three() -> Scenario {
    Scenario {
        seed: 21,
        members: (0..3)
            .map(|i| {
                member(
                    i,
                    GBPS,
                    "round-robin",
                    &[("SendErrorThreshold", RegValue::Dword(0))],
                )
            })
            .collect(),
        traffic: load(3_000),
        faults: vec![(
            1,
            2 * MS,
            Fault::ErrorCompletions {
                status: NDIS_STATUS_FAILURE,
                count: 60,
            },
        )],
    }
}

// (b, reroute events) The re-sends of member 1's failures go to members 0 and 2, and the
// `Reroute` events say so exactly: per destination, the NBLs they report moved there are the
// re-sends that member's miniport took.
both_builds!(
    reroute_events_report_where_each_resend_went,
    sys_reroute_events_report_where_each_resend_went,
    sixty_failures_among_three(),
    |o| {
        assert_all_delivered(&o.origin, 3_000);
        let mut reported = [0u64; 3];
        for e in &o.reroutes {
            match e {
                Event::Reroute {
                    from_path: 1,
                    to_path,
                    nbls,
                    ..
                } => reported[usize::from(*to_path)] += u64::from(*nbls),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(reported.to_vec(), o.resends_taken, "{:?}", o.reroutes);
        assert_eq!(reported.iter().sum::<u64>(), 60);
        assert!(reported[0] > 0 && reported[2] > 0, "{reported:?}");
    }
);

/// Every NBL a member's miniport finishes from the start fails with NDIS_STATUS_FAILURE.
fn always_failing(a: usize) -> (usize, u64, Fault) {
    (
        a,
        0,
        Fault::ErrorCompletions {
            status: NDIS_STATUS_FAILURE,
            count: u32::MAX,
        },
    )
}

// (b, re-sends) A path that fails sends but stays in service (its error threshold off): each NBL
// it fails is sent again on another path, never back on the one that failed it, so every NBL is
// delivered after one re-send at most.
both_builds!(
    a_resend_avoids_the_path_that_failed_it,
    sys_a_resend_avoids_the_path_that_failed_it,
    Scenario {
        seed: 14,
        members: error_tolerant_pair(),
        traffic: load(2_000),
        faults: vec![always_failing(1)],
    },
    |o| {
        assert_all_delivered(&o.origin, 2_000);
        let stats = o.stats.as_ref().expect("a team");
        let retried = summed(stats, |s| s.send_nbls_retried);
        assert!(retried > 0, "{stats:?}");
        let exhausted = summed(stats, |s| s.send_nbls_retries_exhausted);
        assert_eq!(exhausted, 0, "{stats:?}");
        assert_eq!(
            common::failures(&o.transitions),
            Vec::<&(u64, Event)>::new()
        );
    }
);

// (b, re-sends) When every path fails every send and none leaves service, an NBL is sent again
// MAX_RESENDS times and then completed with the failure: no endless re-sending.
both_builds!(
    an_nbl_every_path_fails_is_completed_after_max_resends,
    sys_an_nbl_every_path_fails_is_completed_after_max_resends,
    Scenario {
        seed: 15,
        members: error_tolerant_pair(),
        traffic: load(500),
        faults: vec![always_failing(0), always_failing(1)],
    },
    |o| {
        let r = &o.origin;
        assert_eq!(r.completed_with(NDIS_STATUS_FAILURE), 500, "{r:?}");
        assert_eq!((r.delivered, r.duplicates), (0, 0), "{r:?}");
        let stats = o.stats.as_ref().expect("a team");
        let retried = summed(stats, |s| s.send_nbls_retried);
        let exhausted = summed(stats, |s| s.send_nbls_retries_exhausted);
        assert_eq!(exhausted, 500, "{stats:?}");
        assert_eq!(
            retried,
            500 * u64::from(mpfilter::module::route::MAX_RESENDS),
            "{stats:?}"
        );
    }
);

// (b, back-pressure) Completions with NDIS_STATUS_RESOURCES are sent again elsewhere but are the
// miniport running short, not the path failing: as many as fail a path with NDIS_STATUS_FAILURE
// (above) leave this one in service.
both_builds!(
    resource_completions_are_sent_again_and_fail_no_path,
    sys_resource_completions_are_sent_again_and_fail_no_path,
    forty_completions_with(NDIS_STATUS_RESOURCES),
    |o| {
        assert_forty_sent_again(o);
        assert_eq!(
            common::failures(&o.transitions),
            Vec::<&(u64, Event)>::new()
        );
    }
);

// (b, a driver below pausing) Completions with NDIS_STATUS_PAUSED — what a filter below that is
// pausing answers — are sent again elsewhere but fail no path either: the stack below is being
// paused, not broken.
both_builds!(
    paused_completions_are_sent_again_and_fail_no_path,
    sys_paused_completions_are_sent_again_and_fail_no_path,
    forty_completions_with(NDIS_STATUS_PAUSED),
    |o| {
        assert_forty_sent_again(o);
        assert_eq!(
            common::failures(&o.transitions),
            Vec::<&(u64, Event)>::new()
        );
    }
);

// (a, batches) NBLs of several NET_BUFFERs, as a TCP stack batches a send: every frame of every
// NBL is delivered, completed once, never duplicated; each NBL goes whole down one member.
both_builds!(
    nbls_of_several_net_buffers_are_delivered_whole,
    sys_nbls_of_several_net_buffers_are_delivered_whole,
    Scenario {
        seed: 16,
        members: round_robin(2),
        traffic: TrafficConfig {
            nbs_per_nbl: (1, 4),
            ..load(2_000)
        },
        faults: vec![],
    },
    |o| {
        let r = &o.origin;
        assert!(r.sent > 3_000, "several frames in most NBLs: {r:?}");
        assert_eq!(r.completed_ok, r.sent, "{r:?}");
        assert_eq!(r.delivered, r.sent, "{r:?}");
        assert_eq!((r.lost, r.duplicates, r.silently_lost), (0, 0, 0), "{r:?}");
        assert!(o.wires.iter().all(|&w| w > 0), "{:?}", o.wires);
    }
);

// (bad input) A link-state indication whose buffer is NULL though its size claims a link state,
// and one whose size is too short for the disconnected state its buffer holds: passed up as they
// came (the emulator's forwarding check), and read as nothing: no path changes, nothing is lost.
both_builds!(
    a_malformed_link_state_changes_nothing,
    sys_a_malformed_link_state_changes_nothing,
    Scenario {
        seed: 17,
        members: round_robin(2),
        traffic: load(2_000),
        faults: vec![
            (1, MS, Fault::MalformedLinkState),
            (0, 2 * MS, Fault::MalformedLinkState),
            (1, 3 * MS, Fault::ShortLinkState),
            (0, 4 * MS, Fault::ShortLinkState)
        ],
    },
    |o| {
        assert_all_delivered(&o.origin, 2_000);
        assert!(o.transitions.is_empty(), "{:?}", o.transitions);
        assert!(o.wires.iter().all(|&w| w > 0), "{:?}", o.wires);
    }
);

// (b') An aborted send was cancelled, not lost by the path: it goes back to the protocol as
// aborted, not sent again, and the path stays in service.
both_builds!(
    aborted_completions_go_back_to_the_protocol_and_fail_no_path,
    sys_aborted_completions_go_back_to_the_protocol_and_fail_no_path,
    Scenario {
        seed: 4,
        members: round_robin(2),
        traffic: load(4_000),
        faults: vec![(
            1,
            2 * MS,
            Fault::ErrorCompletions {
                status: NDIS_STATUS_SEND_ABORTED,
                count: 40,
            }
        )],
    },
    |o| {
        let o_ = &o.origin;
        assert_eq!(o_.completed_with(NDIS_STATUS_SEND_ABORTED), 40, "{o_:?}");
        assert_eq!(o_.completed_ok, 4_000 - 40, "{o_:?}");
        assert_eq!(
            (o_.delivered, o_.duplicates),
            (o_.completed_ok, 0),
            "{o_:?}"
        );
        if let Some(stats) = &o.stats {
            let retried = summed(stats, |s| s.send_nbls_retried);
            assert_eq!(retried, 0, "{stats:?}");
        }
        assert_eq!(
            common::failures(&o.transitions),
            Vec::<&(u64, Event)>::new()
        );
    }
);

/// Half the chains the protocol sends are cancelled as soon as the send returns.
fn cancelling() -> Randomization {
    Randomization {
        send_cancel_percent: 50,
        ..Randomization::default()
    }
}

/// Each NBL completed OK (and delivered) or aborted by a cancel that named it; nothing else,
/// nothing lost.
fn assert_ok_or_cancelled(o: &Outcome, n: u64) {
    assert_eq!(
        o.aborted_uncancelled, 0,
        "only what was cancelled is aborted"
    );
    let r = &o.origin;
    let aborted = r.completed_with(NDIS_STATUS_SEND_ABORTED);
    assert!(aborted > 0, "{r:?}");
    assert_eq!(r.completed_ok + aborted, n, "{r:?}");
    assert_eq!(r.delivered, r.completed_ok, "{r:?}");
    assert_eq!((r.duplicates, r.silently_lost), (0, 0), "{r:?}");
}

// (b'') A protocol's cancel reaches every member where its NBLs wait, not only its own
// adapter's miniport: the children queued below the other member are aborted too, and each goes
// back to the protocol as aborted.
both_builds!(
    a_cancel_reaches_every_member_where_the_protocols_nbls_wait,
    sys_a_cancel_reaches_every_member_where_the_protocols_nbls_wait,
    Scenario {
        seed: 12,
        members: round_robin(2),
        traffic: load(3_000),
        faults: vec![],
    },
    random: cancelling(),
    |o| {
        assert_ok_or_cancelled(o, 3_000);
        assert!(
            o.cancelled_below.iter().all(|&c| c > 0),
            "cancelled below each member: {:?}",
            o.cancelled_below
        );
        assert_eq!(
            o.origin.completed_with(NDIS_STATUS_SEND_ABORTED),
            o.cancelled_below.iter().sum::<u64>(),
            "every abort is a miniport's, and each reached the protocol: {:?}",
            o.cancelled_below
        );
    }
);

// (h'') With every path down and AllDown = queue, a cancel takes its NBLs out of the queue at
// once: they go back aborted, counted, and the rest leave when a path returns.
both_builds!(
    a_cancel_takes_its_nbls_out_of_the_all_down_queue,
    sys_a_cancel_takes_its_nbls_out_of_the_all_down_queue,
    Scenario {
        seed: 13,
        members: queued_pair("queue:1000"),
        // A window wider than what is below at the fault: the protocol goes on sending into the
        // queue, and cancels some of what it just queued.
        traffic: TrafficConfig {
            window: 1_024,
            ..load(3_000)
        },
        faults: vec![
            (0, MS / 2, Fault::LinkDown),
            (1, MS / 2, Fault::LinkDown),
            (1, 20 * MS, Fault::LinkUp),
        ],
    },
    random: cancelling(),
    |o| {
        assert_ok_or_cancelled(o, 3_000);
        let stats = o.stats.as_ref().expect("a team");
        let from_queue = stats[0].send_nbls_park_cancelled;
        assert!(from_queue > 0, "{:?}", stats[0]);
        assert_eq!(
            o.origin.completed_with(NDIS_STATUS_SEND_ABORTED),
            from_queue + o.cancelled_below.iter().sum::<u64>(),
            "aborted in the queue or below: {:?} {:?}",
            stats[0],
            o.cancelled_below
        );
    }
);

// (h) All paths down with AllDown = fail: sends complete at once with MEDIA_DISCONNECTED; a path
// that returns carries the rest.
both_builds!(
    all_paths_down_fail_mode_completes_with_media_disconnected_until_a_path_returns,
    sys_all_paths_down_fail_mode_completes_with_media_disconnected_until_a_path_returns,
    Scenario {
        seed: 5,
        members: round_robin(2),
        traffic: load(6_000),
        faults: vec![
            (0, 2 * MS, Fault::LinkDown),
            (1, 2 * MS, Fault::LinkDown),
            (1, 5 * MS, Fault::LinkUp),
        ],
    },
    |o| {
        let o_ = &o.origin;
        assert_eq!(o_.sent, 6_000);
        assert_eq!((o_.duplicates, o_.silently_lost), (0, 0), "{o_:?}");
        let failed = o_.completed_with(NDIS_STATUS_MEDIA_DISCONNECTED);
        assert!(failed > 0, "{o_:?}");
        assert_eq!(o_.completed_ok + failed, 6_000, "{o_:?}");
        assert_eq!(o_.delivered, o_.completed_ok, "{o_:?}");
        assert!(o.wires[1] > 0, "{:?}", o.wires);
    }
);

// (f) Pause and restart of one member under load.
both_builds!(
    pausing_a_member_under_load_moves_its_traffic_and_loses_nothing,
    sys_pausing_a_member_under_load_moves_its_traffic_and_loses_nothing,
    Scenario {
        seed: 6,
        members: round_robin(2),
        traffic: load(6_000),
        faults: vec![(1, 3 * MS, Fault::Pause), (1, 6 * MS, Fault::Restart)],
    },
    |o| {
        assert_all_delivered(&o.origin, 6_000);
        assert!(o.wires[1] > 0, "{:?}", o.wires);
        if let Some(stats) = &o.stats {
            assert_eq!(
                (stats[1].pauses, stats[1].restarts),
                (1, 2),
                "{:?}",
                stats[1]
            );
        }
    }
);

// (g) Detach of a member under load, then re-attach.
both_builds!(
    detaching_a_member_under_load_then_reattaching_it_loses_nothing,
    sys_detaching_a_member_under_load_then_reattaching_it_loses_nothing,
    Scenario {
        seed: 7,
        members: round_robin(3),
        traffic: load(8_000),
        faults: vec![(2, 3 * MS, Fault::Detach), (2, 6 * MS, Fault::Reattach)],
    },
    |o| {
        assert_all_delivered(&o.origin, 8_000);
        assert!(o.wires.iter().all(|&w| w > 0), "{:?}", o.wires);
    }
);

/// Members whose only difference is their `QuotaBytes`, policy quota, per-NBL placement.
fn quota_team(quotas: &[u32], cap: u32) -> Vec<AdapterConfig> {
    quotas
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            member(
                u8::try_from(i).expect("few members"),
                10 * GBPS,
                "quota",
                &[
                    ("QuotaBytes", RegValue::Dword(q)),
                    ("MaxOutstandingPerTarget", RegValue::Dword(cap)),
                    ("FlowletGapUs", RegValue::Dword(0)),
                ],
            )
        })
        .collect()
}

/// Fixed-size frames, so that frames per wire measure bytes per wire.
fn fixed_load(n: u64) -> TrafficConfig {
    TrafficConfig {
        frame_len: (1000, 1000),
        ..load(n)
    }
}

// (e) Quota 4:2:1, offered below what the links carry: byte shares within 2 % of 4/7, 2/7, 1/7,
// and the outstanding NBLs per target (a flow's IPv4 destination, as the filter keys it) never
// above the cap on any path, checked by the miniport at every send it takes.
both_builds!(
    quota_shares_follow_the_quotas_and_outstanding_never_passes_the_cap,
    sys_quota_shares_follow_the_quotas_and_outstanding_never_passes_the_cap,
    Scenario {
        seed: 8,
        members: quota_team(&[4 << 12, 2 << 12, 1 << 12], 32),
        traffic: TrafficConfig {
            send_interval: 4_000,
            ..fixed_load(14_000)
        },
        faults: vec![],
    },
    |o| {
        assert_all_delivered(&o.origin, 14_000);
        let total: u64 = o.wires.iter().sum();
        for (w, want) in o.wires.iter().zip([4.0, 2.0, 1.0]) {
            #[allow(clippy::cast_precision_loss)]
            let share = *w as f64 / total as f64;
            let target = want / 7.0;
            assert!(
                (share - target).abs() <= 0.02 * target,
                "share {share:.4} vs {target:.4}: wires {:?}",
                o.wires
            );
        }
        for (w, peak) in o.below_peak.iter().enumerate() {
            assert!(*peak <= 32, "wire {w}: {peak} outstanding, cap 32");
        }
    }
);

// (e) … and offered far above it with a cap of 4: the cap holds on every wire at every send; what
// finds every path at its cap is parked and sent as completions free credits, nothing lost.
both_builds!(
    quota_cap_parks_what_does_not_fit_and_never_passes_the_cap,
    sys_quota_cap_parks_what_does_not_fit_and_never_passes_the_cap,
    Scenario {
        seed: 11,
        members: quota_team(&[4 << 12, 2 << 12, 1 << 12], 4),
        // Two destinations: 2 targets x 3 paths x 4 credits, far fewer than the protocol's window.
        traffic: TrafficConfig {
            flows: 2,
            ..fixed_load(6_000)
        },
        faults: vec![],
    },
    |o| {
        assert_all_delivered(&o.origin, 6_000);
        for (w, peak) in o.below_peak.iter().enumerate() {
            assert!(*peak <= 4, "wire {w}: {peak} outstanding, cap 4");
        }
        assert!(
            o.below_peak.contains(&4),
            "the cap was reached: {:?}",
            o.below_peak
        );
        if let Some(stats) = &o.stats {
            assert!(stats[0].send_nbls_parked > 0, "{:?}", stats[0]);
        }
    }
);

// (h) All paths down with AllDown = queue:<ms>: sends wait; a path back in time takes them, in
// order; nothing fails.
both_builds!(
    all_paths_down_queue_mode_holds_sends_until_a_path_returns,
    sys_all_paths_down_queue_mode_holds_sends_until_a_path_returns,
    Scenario {
        seed: 9,
        members: queued_pair("queue:50"),
        traffic: load(6_000),
        faults: vec![
            (0, 2 * MS, Fault::LinkDown),
            (1, 2 * MS, Fault::LinkDown),
            (1, 8 * MS, Fault::LinkUp),
        ],
    },
    |o| {
        assert_all_delivered(&o.origin, 6_000);
        if let Some(stats) = &o.stats {
            assert!(stats[0].send_nbls_parked > 0, "{:?}", stats[0]);
            assert_eq!(stats[0].send_nbls_park_expired, 0, "{:?}", stats[0]);
        }
    }
);

// (h) … and when no path returns in time, the queued sends fail after the AllDown time with
// MEDIA_DISCONNECTED, none lost silently.
both_builds!(
    all_paths_down_queue_mode_fails_what_waited_too_long,
    sys_all_paths_down_queue_mode_fails_what_waited_too_long,
    Scenario {
        seed: 10,
        members: queued_pair("queue:5"),
        traffic: load(6_000),
        faults: vec![
            (0, 2 * MS, Fault::LinkDown),
            (1, 2 * MS, Fault::LinkDown),
            (1, 40 * MS, Fault::LinkUp),
        ],
    },
    |o| {
        assert_failed_as_disconnected(&o.origin, 6_000);
        if let Some(stats) = &o.stats {
            assert!(stats[0].send_nbls_park_expired > 0, "{:?}", stats[0]);
        }
    }
);

// (h) … and the queue holds at most PARK_MAX_NBLS: with every path down and more sends
// outstanding than that, the rest fail at once with MEDIA_DISCONNECTED, the queued ones leave when
// a path returns.
both_builds!(
    all_paths_down_queue_mode_holds_no_more_than_its_capacity,
    sys_all_paths_down_queue_mode_holds_no_more_than_its_capacity,
    Scenario {
        seed: 10,
        members: queued_pair("queue:1000"),
        traffic: TrafficConfig {
            window: 6_000,
            frame_len: (60, 200),
            ..load(12_000)
        },
        faults: vec![
            (0, 2 * MS, Fault::LinkDown),
            (1, 2 * MS, Fault::LinkDown),
            (1, 15 * MS, Fault::LinkUp),
        ],
    },
    |o| {
        assert_failed_as_disconnected(&o.origin, 12_000);
        if let Some(stats) = &o.stats {
            let s = &stats[0];
            assert!(s.send_nbls_park_overflow > 0, "{s:?}");
            // Parked once each, while nothing could leave: exactly a full queue.
            assert_eq!(
                s.send_nbls_parked,
                u64::from(mpfilter::module::PARK_MAX_NBLS),
                "{s:?}"
            );
            assert_eq!(s.send_nbls_park_expired, 0, "{s:?}");
        }
    }
);

// (c) Flapping with deferred failback: member 1's link goes down and up every 2 ms for 12 ms.
// Failback is deferred by 20 ms, so no up period is long enough to bring path 1 back; after the
// flap-damping threshold (3 failures) it comes back Marginal, a last resort only, so path 0 keeps
// everything to the end. Nothing is lost.
both_builds!(
    flapping_with_deferred_failback_never_fails_back_early_and_ends_marginal,
    sys_flapping_with_deferred_failback_never_fails_back_early_and_ends_marginal,
    Scenario {
        seed: 12,
        members: (0..2)
            .map(|i| member(
                i,
                GBPS,
                "round-robin",
                &[("Failback", RegValue::Sz("deferred:20".into()))]
            ))
            .collect(),
        traffic: load(12_000),
        faults: vec![(
            1,
            2 * MS,
            Fault::Flap {
                period: 2 * MS,
                until: 14 * MS
            }
        )],
    },
    |o| {
        assert_all_delivered(&o.origin, 12_000);
        let late_on_1 = o
            .arrivals
            .iter()
            .filter(|a| a.wire == 1 && a.at > 2 * MS)
            .count();
        assert_eq!(late_on_1, 0, "path 1 carried traffic after it first failed");
        let before = o.arrivals.iter().filter(|a| a.wire == 1).count();
        assert!(before > 0, "path 1 carried traffic before the flap");
        let last = o.arrivals.last().map_or(0, |a| a.at);
        assert!(
            last > 40 * MS,
            "the transfer outlasted the hold-down: {last} ns"
        );
        let to = |state: PathState| {
            o.transitions.iter().filter(move |(_, e)| {
                matches!(e, Event::PathTransition { path: 1, to, .. } if *to == state)
            })
        };
        assert_eq!(to(PathState::Active).count(), 0, "{:?}", o.transitions);
        let marginal: Vec<_> = to(PathState::Marginal).collect();
        assert!(
            marginal.iter().any(|(at, e)| *at >= 14 * MS + 20 * MS
                && matches!(
                    e,
                    Event::PathTransition {
                        reason: Reason::FlapDamped,
                        ..
                    }
                )),
            "{:?}",
            o.transitions
        );
    }
);

// The miniport's mpshim reports path 1 failed at 3 ms and recovered at 8 ms; a replay of the
// first report at 9 ms is stale, and a malformed report at 10 ms is dropped. The filter takes
// the private indications (they never reach the protocol) and moves traffic accordingly.
both_builds!(
    shim_path_reports_move_traffic_off_and_back_onto_a_path,
    sys_shim_path_reports_move_traffic_off_and_back_onto_a_path,
    Scenario {
        seed: 13,
        members: round_robin(2),
        traffic: load(12_000),
        faults: vec![
            (
                1,
                3 * MS,
                Fault::ShimPath {
                    failed: true,
                    sequence: 1
                }
            ),
            (
                1,
                8 * MS,
                Fault::ShimPath {
                    failed: false,
                    sequence: 2
                }
            ),
            (
                1,
                9 * MS,
                Fault::ShimPath {
                    failed: true,
                    sequence: 1
                }
            ),
            (1, 10 * MS, Fault::ShimMalformed(ShimDefect::UnknownKind)),
        ],
    },
    |o| {
        assert_all_delivered(&o.origin, 12_000);
        let on_1 = |from: u64, to: u64| {
            o.arrivals
                .iter()
                .filter(|a| a.wire == 1 && (from..to).contains(&a.at))
                .count()
        };
        assert!(on_1(0, 3 * MS) > 0);
        // A report fails nothing already handed to the miniport: what was queued on wire 1 at
        // 3 ms (up to the protocol's window) still goes out, within two milliseconds at 1 Gb/s.
        assert_eq!(on_1(5 * MS, 8 * MS), 0, "path 1 used while reported failed");
        assert!(
            on_1(8 * MS, u64::MAX) > 0,
            "path 1 back after the recovery report"
        );
        let reasons: Vec<_> = o
            .transitions
            .iter()
            .filter_map(|(_, e)| match e {
                Event::PathTransition {
                    path: 1, reason, ..
                } => Some(*reason),
                _ => None,
            })
            .collect();
        assert_eq!(reasons, [Reason::ShimPathFailed, Reason::ShimPathRecovered]);
        if let Some(stats) = &o.stats {
            let s = &stats[1];
            assert_eq!(
                (s.shim_events, s.shim_events_stale, s.shim_events_malformed),
                (3, 1, 1),
                "{s:?}"
            );
        }
    }
);

/// An administrator fails path 1 at 3 ms and reinstates it at 8 ms (the API the control device
/// calls); host build (the API is the host-linked filter's).
#[test]
fn admin_fail_and_reinstate_move_traffic_off_and_back() {
    let mut emu = Emulator::new(EmuConfig {
        seed: 14,
        cpus: 4,
        ..EmuConfig::default()
    });
    for (i, m) in round_robin(2).into_iter().enumerate() {
        emu.add_adapter(m, if i == 0 { load(12_000) } else { idle() });
    }
    let img = start_host(&mut emu);
    let t = emu.now();
    emu.run_for(3 * MS);
    // SAFETY: module 1 is attached; the host-linked filter runs on this thread only.
    assert!(unsafe { mpfilter::driver::admin_path(ctx(&emu, 1), true) });
    emu.run_for(5 * MS);
    // SAFETY: as above.
    assert!(unsafe { mpfilter::driver::admin_path(ctx(&emu, 1), false) });
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let d = emu.delivery();
    let on_1 = |from: u64, to: u64| {
        emu.arrivals()
            .iter()
            .filter(|a| a.wire == 1 && (t + from..t + to).contains(&a.at))
            .count()
    };
    assert!(on_1(0, 3 * MS) > 0);
    assert_eq!(
        on_1(5 * MS, 8 * MS),
        0,
        "path 1 used while failed by the administrator"
    );
    assert!(on_1(8 * MS, u64::MAX) > 0);
    assert_all_delivered(&d.origins[0], 12_000);
    let reasons: Vec<_> = emu
        .diag_events()
        .iter()
        .filter_map(|r| match r.event {
            Event::PathTransition {
                path: 1, reason, ..
            } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, [Reason::AdminFail, Reason::AdminReinstate]);
    shut_down(emu, img);
}

/// The shortest monitor settings mpshim accepts: a TX stall after 10 ms without a completion, 2 ms
/// of debounce, recovery after 5 ms clear; no heartbeat (the emulator sends no probes).
fn fast_shim() -> mpshim::contract::Settings {
    mpshim::contract::Settings {
        tx_timeout_ms: 10,
        error_window_ms: 160,
        error_rate_permille: 200,
        error_min_samples: 32,
        heartbeat_misses: 0,
        debounce_ms: 2,
        hysteresis_ms: 5,
    }
}

/// The budget from a stall to the filter's reroute: the TX timeout, the debounce, and one
/// monitor tick (1 ms) of granularity for each.
const SHIM_BUDGET: u64 = (10 + 2 + 2) * MS;

// Issue 11, end to end: member 1's miniport links mpshim. Its transmitter stalls at 3 ms for 30 ms;
// the shim's TX watchdog finds it and raises the path event; the filter takes path 1 out of
// service, so the protocol's sends flow on path 0 instead of piling up behind the stall; when the
// stall ends and completions are clear for the hysteresis, the shim reports recovery and path 1
// carries traffic again. Nothing is lost.
both_builds!(
    a_shim_found_tx_stall_moves_traffic_within_the_budget,
    sys_a_shim_found_tx_stall_moves_traffic_within_the_budget,
    Scenario {
        seed: 15,
        members: vec![
            member(0, GBPS, "round-robin", &[]),
            member(1, GBPS, "round-robin", &[]).with_shim(fast_shim()),
        ],
        // A window deeper than what piles up behind the stall before it is found (up to 14 ms of
        // half the traffic), so the protocol is never blocked by the stuck NBLs alone.
        traffic: TrafficConfig {
            window: 4_096,
            ..load(12_000)
        },
        faults: vec![(1, 3 * MS, Fault::Stall(30 * MS))],
    },
    |o| {
        assert_all_delivered(&o.origin, 12_000);
        let on = |wire: usize, from: u64, to: u64| {
            o.arrivals
                .iter()
                .filter(|a| a.wire == wire && (from..to).contains(&a.at))
                .count()
        };
        // After the reroute, path 0 keeps the protocol's traffic moving during the stall: at
        // 1 Gb/s and ~900-byte frames it carries well over a thousand frames in those 20 ms.
        let during = on(0, 3 * MS + SHIM_BUDGET, 33 * MS);
        assert!(during > 1_000, "{during} frames on path 0 during the stall");
        assert!(
            on(1, 40 * MS, u64::MAX) > 0,
            "path 1 back after the shim's recovery"
        );
        let failed_at = o
            .transitions
            .iter()
            .find_map(|(at, e)| match e {
                Event::PathTransition {
                    path: 1,
                    reason: Reason::ShimPathFailed,
                    ..
                } => Some(*at),
                _ => None,
            })
            .expect("the shim's report failed path 1");
        let stall_to_reroute = failed_at - 3 * MS;
        println!(
            "stall to reroute: {} µs (budget {} µs)",
            stall_to_reroute / 1_000,
            SHIM_BUDGET / 1_000
        );
        assert!(stall_to_reroute <= SHIM_BUDGET, "{stall_to_reroute} ns");
    }
);

/// A member whose group-wide settings differ joins with the group's (its first member's) and
/// says so; traffic is balanced by the group's policy.
#[test]
fn a_member_with_other_group_settings_joins_with_the_groups_and_says_so() {
    let mut emu = Emulator::new(EmuConfig {
        seed: 16,
        ..EmuConfig::default()
    });
    emu.add_adapter(member(0, GBPS, "round-robin", &[]), load(2_000));
    emu.add_adapter(
        member(
            1,
            GBPS,
            "failover",
            &[("AllDown", RegValue::Sz("queue:10".into()))],
        ),
        idle(),
    );
    let img = start_host(&mut emu);
    let ignored: Vec<_> = emu
        .diag_events()
        .iter()
        .filter(|r| matches!(r.event, Event::GroupSettingIgnored { .. }))
        .map(|r| (r.adapter, r.event))
        .collect();
    assert_eq!(
        ignored,
        [(
            Some(1),
            Event::GroupSettingIgnored {
                group: 1,
                key: mpfilter::diag::ConfigKey::RegPolicy
            }
        )]
    );
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    // SAFETY: adapter 0's module is attached; the host-linked filter runs on this thread only.
    let g = unsafe { mpfilter::driver::group_snapshot(ctx(&emu, 0)) }.expect("a group");
    assert_eq!((g.policy, g.members.len()), ("round-robin", 2));
    assert!(
        emu.delivery().per_wire[1] > 0,
        "the group's round-robin used member 1"
    );
    assert_eq!(g.members[1].module.team_settings_ignored, 1);
    shut_down(emu, img);
}

/// An administrator's failure of a path outlives the member's detach and re-attach: the path
/// stays out of service until reinstated.
#[test]
fn an_admin_failure_outlives_detach_and_reattach() {
    let mut emu = Emulator::new(EmuConfig {
        seed: 17,
        ..EmuConfig::default()
    });
    for (i, m) in round_robin(2).into_iter().enumerate() {
        emu.add_adapter(m, if i == 0 { load(12_000) } else { idle() });
    }
    let img = start_host(&mut emu);
    let t = emu.now();
    emu.run_for(2 * MS);
    // SAFETY: module 1 is attached; the host-linked filter runs on this thread only.
    assert!(unsafe { mpfilter::driver::admin_path(ctx(&emu, 1), true) });
    emu.schedule_fault(1, t + 4 * MS, Fault::Detach);
    emu.schedule_fault(1, t + 6 * MS, Fault::Reattach);
    emu.run_for(8 * MS);
    let on_1 = |emu: &Emulator, from: u64, to: u64| {
        emu.arrivals()
            .iter()
            .filter(|a| a.wire == 1 && (t + from..t + to).contains(&a.at))
            .count()
    };
    assert_eq!(
        on_1(&emu, 6 * MS, 10 * MS),
        0,
        "re-attached, still failed by the administrator"
    );
    // SAFETY: module 1 (the re-attached one) is attached.
    assert!(unsafe { mpfilter::driver::admin_path(ctx(&emu, 1), false) });
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    assert!(on_1(&emu, 10 * MS, u64::MAX) > 0, "reinstated");
    assert_all_delivered(&emu.delivery().origins[0], 12_000);
    shut_down(emu, img);
}

/// Issue 11: the filter's own health query and settings. Member 1's miniport links mpshim and stalls; the
/// filter queries `OID_MPSHIM_HEALTH` down member 1's stack and gets the shim's counters (state
/// Failed, the sends stuck behind the stall); member 0's miniport has no shim and answers
/// NOT_SUPPORTED. Host build (the query API is the host-linked filter's).
#[test]
fn the_filters_health_query_returns_the_shims_counters() {
    use mpshim::contract::HealthState;
    let mut emu = Emulator::new(EmuConfig {
        seed: 18,
        ..EmuConfig::default()
    });
    emu.add_adapter(
        member(0, GBPS, "round-robin", &[]),
        TrafficConfig {
            window: 4_096,
            ..load(12_000)
        },
    );
    emu.add_adapter(
        member(1, GBPS, "round-robin", &[]).with_shim(fast_shim()),
        idle(),
    );
    let img = start_host(&mut emu);
    let t = emu.now();
    emu.schedule_fault(1, t + 3 * MS, Fault::Stall(30 * MS));
    emu.run_for(20 * MS);
    for a in 0..2 {
        // SAFETY: the modules are attached; the host-linked filter runs on this thread only.
        let started = unsafe { mpfilter::driver::query_shim_health(ctx(&emu, a)) };
        assert!(started.is_some(), "adapter {a}");
    }
    emu.run_for(MS);
    // SAFETY: as above.
    let h = unsafe { mpfilter::driver::shim_health(ctx(&emu, 1)) }.expect("member 1 answered");
    assert_eq!(h.state, HealthState::Failed, "{h:?}");
    assert!(h.evidence.pending_sends > 0, "{h:?}");
    assert_eq!(h.failures_total, 1, "{h:?}");
    assert_eq!(h.path.if_index, 11, "the adapter's IfIndex");
    // SAFETY: as above.
    assert!(unsafe { mpfilter::driver::shim_health(ctx(&emu, 0)) }.is_none());
    // SAFETY: as above.
    let s0 = unsafe { mpfilter::driver::module_stats(ctx(&emu, 0)) }.expect("module 0");
    assert_eq!((s0.shim_health_answers, s0.shim_health_failed), (0, 1));
    // The set side of the OID: member 1's monitor takes valid settings and refuses a TX timeout
    // below its range; member 0 has no shim.
    let refused = mpshim::contract::Settings {
        tx_timeout_ms: 1,
        ..fast_shim()
    };
    for (a, settings) in [(1, fast_shim()), (1, refused), (0, fast_shim())] {
        // SAFETY: as above.
        assert!(unsafe { mpfilter::driver::set_shim_settings(ctx(&emu, a), &settings) }.is_some());
        emu.run_for(MS);
    }
    // SAFETY: as above.
    let s1 = unsafe { mpfilter::driver::module_stats(ctx(&emu, 1)) }.expect("module 1");
    assert_eq!(
        (s1.shim_settings_applied, s1.shim_health_failed),
        (1, 1),
        "{s1:?}"
    );
    // SAFETY: as above.
    let s0 = unsafe { mpfilter::driver::module_stats(ctx(&emu, 0)) }.expect("module 0");
    assert_eq!(
        (s0.shim_settings_applied, s0.shim_health_failed),
        (0, 2),
        "{s0:?}"
    );
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    assert_all_delivered(&emu.delivery().origins[0], 12_000);
    shut_down(emu, img);
}

/// With every path down, the module's counters say how many NBLs wait: a full queue while the
/// paths are down, none once a path is back and the queue has drained.
fn parked_now_is_reported(image: &DriverImage) {
    let members = queued_pair("queue:1000");
    let mut emu = Emulator::new(EmuConfig {
        seed: 10,
        ..EmuConfig::default()
    });
    emu.add_adapter(
        members[0].clone(),
        TrafficConfig {
            window: 6_000,
            frame_len: (60, 200),
            ..load(12_000)
        },
    );
    emu.add_adapter(members[1].clone(), idle());
    let img = common::boot(&mut emu, image);
    let at = emu.now();
    emu.schedule_fault(0, at + 2 * MS, Fault::LinkDown);
    emu.schedule_fault(1, at + 2 * MS, Fault::LinkDown);
    emu.schedule_fault(1, at + 15 * MS, Fault::LinkUp);
    emu.run_for(10 * MS);
    let if_index = members[0].filter_if_index();
    let waiting = common::module_stats(&mut emu, if_index).expect("teamed");
    assert_eq!(
        waiting.send_nbls_parked_now,
        u64::from(mpfilter::module::PARK_MAX_NBLS),
        "{waiting:?}"
    );
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let after = common::module_stats(&mut emu, if_index).expect("teamed");
    assert_eq!(after.send_nbls_parked_now, 0, "{after:?}");
    common::finish(emu, img);
}

#[test]
fn the_counters_say_how_many_nbls_wait_for_a_path() {
    parked_now_is_reported(&DriverImage::Host);
}

#[test]
#[ignore = "needs the cross-built mpfilter.sys: bash tools/build-sys.sh"]
fn sys_the_counters_say_how_many_nbls_wait_for_a_path() {
    common::on_sys(|image| parked_now_is_reported(&image));
}

/// A group holds at most `MAX_PATHS` members: the next module to join it is refused, counted
/// and left to pass its traffic through (its group's members count nothing).
#[test]
fn a_member_beyond_a_full_group_is_refused_and_counted() {
    let n = mpfilter::engine::MAX_PATHS;
    let mut emu = Emulator::new(EmuConfig::default());
    for i in 0..=n {
        let a = u8::try_from(i).expect("a few adapters");
        emu.add_adapter(member(a, GBPS, "round-robin", &[]), idle());
    }
    let img = start_host(&mut emu);
    emu.run_for(MS);
    let refusals: Vec<u64> = (0..=n)
        .map(|a| {
            // SAFETY: the host build's module context of a started adapter.
            unsafe { mpfilter::driver::module_stats(ctx(&emu, a)) }
                .expect("attached")
                .team_refusals
        })
        .collect();
    let mut expected = vec![0; n];
    expected.push(1);
    assert_eq!(refusals, expected, "the last to attach is refused");
    let last = AdapterConfig::numbered(u8::try_from(n).expect("small")).filter_if_index();
    assert!(read_group(&mut emu, last).is_none(), "in no group");
    let first = AdapterConfig::numbered(0).filter_if_index();
    let group = read_group(&mut emu, first).expect("member 0's group");
    assert_eq!(group.paths.len(), n, "full");
    shut_down(emu, img);
}
