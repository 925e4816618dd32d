//! The filter's own path probe (issue 10 item 4): an ARP request or neighbour solicitation for
//! `ProbeTarget` down each probed member every `ProbeIntervalMs`; `ProbeMissed` intervals without
//! an answer on that member fail its path with reason ProbeLost. Probe frames are the filter's own
//! NBLs: from its own pool, completed back to it, never counted as user traffic, freed at detach.
//! Each scenario runs on the host build and on the loaded `mpfilter.sys`.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use common::idle;
use mpfilter::diag::Event;
use mpfilter::engine::{PathState, Reason};
use mpfilter::module::ModuleStats;
use ndis_emu::config::RegValue;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator};

const MS: u64 = 1_000_000;

/// A round-robin member of group 1; `target` set makes the filter probe its path.
fn member(index: u8, target: Option<&str>) -> AdapterConfig {
    let a = AdapterConfig::numbered(index)
        .with_param("GroupId", RegValue::Dword(1))
        .with_param("Policy", RegValue::Sz("round-robin".into()));
    match target {
        Some(t) => a.with_param("ProbeTarget", RegValue::Sz(t.into())),
        None => a,
    }
}

/// What a run of `run_ms` of virtual time showed.
struct Outcome {
    /// Path transitions, with their time from the start.
    transitions: Vec<(u64, Event)>,
    /// Each member's counters, read before detach.
    stats: Vec<ModuleStats>,
    /// Frames each adapter's miniport put on its wire.
    wire_frames: Vec<u64>,
    /// The fabric's account, when there is one.
    fabric: Option<ndis_emu::fabric::FabricReport>,
}

/// A run: its seed, the members with their protocols' traffic, the L2 fabric if any, and the
/// faults (adapter, time from the start, fault).
struct Run<'a> {
    seed: u64,
    members: Vec<(AdapterConfig, ndis_emu::TrafficConfig)>,
    fabric: Option<ndis_emu::fabric::FabricConfig>,
    faults: &'a [(usize, u64, ndis_emu::wire::Fault)],
}

fn run(members: &[AdapterConfig], run_ms: u64, image: DriverImage) -> Outcome {
    let r = Run {
        seed: 7,
        members: members.iter().map(|m| (m.clone(), idle())).collect(),
        fabric: None,
        faults: &[],
    };
    run_spec(&r, run_ms, image)
}

fn run_spec(r: &Run<'_>, run_ms: u64, image: DriverImage) -> Outcome {
    let mut emu = Emulator::new(EmuConfig {
        seed: r.seed,
        fabric: r.fabric.clone(),
        ..EmuConfig::default()
    });
    for (m, traffic) in &r.members {
        emu.add_adapter(m.clone(), traffic.clone());
    }
    let img = common::boot(&mut emu, &image);
    let t = emu.now();
    for &(a, at, fault) in r.faults {
        emu.schedule_fault(a, t + at, fault);
    }
    emu.run_for(run_ms * MS);
    let transitions = common::transitions(&emu, t);
    let stats = r
        .members
        .iter()
        .map(|(m, _)| common::module_stats(&mut emu, m.filter_if_index()).expect("teamed"))
        .collect();
    let wire_frames = (0..emu.adapter_count())
        .map(|a| emu.stats(a).wire_tx_frames)
        .collect();
    let fabric = emu.fabric_report();
    common::finish(emu, img);
    Outcome {
        transitions,
        stats,
        wire_frames,
        fabric,
    }
}

/// Nobody answers 10.9.9.9: member 0's path fails for lost probes within (ProbeMissed + 1)
/// intervals of its first probe (defaults: 2 misses, 100 ms), member 1 (not probed) is left
/// alone, and the probes are the only frames on member 0's wire.
fn unanswered(image: DriverImage) {
    let o = run(
        &[member(0, Some("10.9.9.9")), member(1, None)],
        1_000,
        image,
    );
    let failed = common::failures(&o.transitions);
    match failed.as_slice() {
        [
            (
                at,
                Event::PathTransition {
                    path: 0,
                    reason: Reason::ProbeLost,
                    ..
                },
            ),
        ] => {
            // First probe at the first group tick (10 ms), failed at the second miss.
            assert!((200 * MS..=310 * MS).contains(at), "failed at {at} ns");
        }
        other => panic!("one ProbeLost failure of path 0, got {other:?}"),
    }
    let s0 = &o.stats[0];
    assert!((9..=11).contains(&s0.probes_sent), "{s0:?}");
    assert_eq!(s0.probe_answers, 0);
    assert_eq!(
        s0.probes_missed,
        s0.probes_sent - 1,
        "every interval but the last ended"
    );
    assert_eq!(s0.send_nbls_forwarded, 0, "probes are not user traffic");
    assert_eq!(s0.send_nbls_completed, 0, "and never completed up");
    assert_eq!(
        o.wire_frames[0], s0.probes_sent,
        "each probe reached the wire"
    );
    let s1 = &o.stats[1];
    assert_eq!(
        (s1.probes_sent, o.wire_frames[1]),
        (0, 0),
        "member 1 is not probed"
    );
}

#[test]
fn unanswered_probes_fail_the_path_within_the_missed_budget() {
    unanswered(DriverImage::Host);
}

#[test]
#[ignore = "needs the cross-built mpfilter.sys: bash tools/build-sys.sh"]
fn sys_unanswered_probes_fail_the_path_within_the_missed_budget() {
    common::on_sys(unanswered);
}

/// Scenario (a): a silent blackhole on a probed path, through the L2 fabric (peers answer the
/// probes; adapter 0's flows go to the peers over both members, round-robin). Member 1 is probed;
/// member 0 is not: in preserve mode its MAC goes out of both ports with the team's traffic, so
/// the switch sends the answers to its probe wherever its MAC was last seen (docs/design.md, "The
/// filter's own probe").
mod blackhole {
    use super::*;
    use ndis_emu::fabric::FabricConfig;
    use ndis_emu::wire::Fault;
    use ndis_emu::{DeliveryReport, TrafficConfig};

    /// What the run measured, times from the start of traffic.
    pub struct Seen {
        pub transitions: Vec<(u64, Event)>,
        pub stats: Vec<ModuleStats>,
        pub delivery: DeliveryReport,
        /// Frames on wire 1: before the hole, while the filter had to find it (up to 400 ms
        /// after it opened), and afterwards until the hole closed.
        pub wire1: [u64; 3],
        pub hole_at: u64,
        pub closed_at: u64,
    }

    fn traffic() -> TrafficConfig {
        TrafficConfig {
            tx_nbls: 12_000,
            rx_nbls: 0,
            max_chain: 4,
            frame_len: (200, 600),
            window: 64,
            send_interval: 200_000,
            flows: 16,
            ..TrafficConfig::default()
        }
    }

    pub fn run(target: &str, image: DriverImage) -> Seen {
        let mut emu = Emulator::new(EmuConfig {
            seed: 11,
            fabric: Some(FabricConfig::with_peers(2)),
            ..EmuConfig::default()
        });
        emu.add_adapter(member(0, None), traffic());
        emu.add_adapter(member(1, Some(target)), idle());
        let img = common::boot(&mut emu, &image);
        let t = emu.now();
        emu.run_for(300 * MS);
        let before = emu.stats(1).wire_tx_frames;
        let hole_at = emu.now() - t;
        emu.schedule_fault(1, emu.now(), Fault::Blackhole(true));
        emu.run_for(400 * MS);
        let finding = emu.stats(1).wire_tx_frames;
        emu.run_for(600 * MS);
        let after = emu.stats(1).wire_tx_frames;
        let closed_at = emu.now() - t;
        emu.schedule_fault(1, emu.now(), Fault::Blackhole(false));
        assert!(emu.run_until_idle(), "{:?}", emu.violations());
        // Long enough after the hole closed for the probes to be answered again.
        emu.schedule_fault(1, emu.now() + 400 * MS, Fault::Blackhole(false));
        emu.run_for(500 * MS);
        let transitions = common::transitions(&emu, t);
        let stats = (0..2)
            .map(|a| {
                let m = AdapterConfig::numbered(a);
                common::module_stats(&mut emu, m.filter_if_index()).expect("teamed")
            })
            .collect();
        let delivery = emu.delivery();
        common::finish(emu, img);
        Seen {
            transitions,
            stats,
            delivery,
            wire1: [before, finding - before, after - finding],
            hole_at,
            closed_at,
        }
    }

    /// The probe finds the hole within its budget (ProbeMissed + 1 = 3 intervals of 100 ms);
    /// what went into the hole before is lost (completed OK: silently), nothing after; path 1
    /// carries only probes until the hole closes, and its answers bring the path back.
    pub fn assert_found(s: &Seen) {
        let failed = common::failures(&s.transitions);
        let found = match failed.as_slice() {
            [
                (
                    at,
                    Event::PathTransition {
                        path: 1,
                        reason: Reason::ProbeLost,
                        ..
                    },
                ),
            ] => *at,
            other => panic!("one ProbeLost failure of path 1, got {other:?}"),
        };
        let delay = found - s.hole_at;
        assert!(delay <= 300 * MS, "found {delay} ns after the hole opened");
        assert!(
            delay >= 100 * MS,
            "not before a probe could go missing: {delay} ns"
        );
        let o = &s.delivery.origins[0];
        assert_eq!(o.completed_ok, o.sent, "completions hide the hole: {o:?}");
        assert_eq!(o.duplicates, 0);
        assert!(o.silently_lost > 0, "frames went into the hole: {o:?}");
        assert_eq!(o.lost, o.silently_lost);
        assert!(
            o.lost <= s.wire1[1],
            "only what wire 1 carried while the probe looked for the hole is lost: {o:?} {:?}",
            s.wire1
        );
        let s1 = &s.stats[1];
        // After detection wire 1 carries probes only: one per 100 ms in the 600 ms.
        assert!(
            (5..=7).contains(&s.wire1[2]),
            "wire 1 after detection: {:?}",
            s.wire1
        );
        assert!(s1.probe_answers > 0 && s1.probes_missed >= 2, "{s1:?}");
        assert_eq!(s.stats[0].probes_sent, 0, "member 0 is not probed");
        let back = s.transitions.iter().find(|(at, e)| {
            *at > found
                && matches!(
                    e,
                    Event::PathTransition {
                        path: 1,
                        to: PathState::Recovering,
                        ..
                    }
                )
        });
        // The first probe out after the hole closed is answered, and its interval's verdict
        // (the next 100 ms tick) brings the path back.
        assert!(
            back.is_some_and(|(at, _)| *at > s.closed_at && *at <= s.closed_at + 200 * MS),
            "back within two probe intervals of {} ns: {back:?}",
            s.closed_at
        );
        assert!(
            s.transitions.iter().any(|(at, e)| *at > found
                && matches!(
                    e,
                    Event::PathTransition {
                        path: 1,
                        from: PathState::Failed,
                        to: PathState::Recovering,
                        reason: Reason::ProbeAnswered,
                        ..
                    }
                )),
            "answers again after the hole closed: {:?}",
            s.transitions
        );
    }
}

#[test]
fn a_silent_blackhole_is_found_by_the_arp_probe_within_its_budget() {
    blackhole::assert_found(&blackhole::run("10.1.0.1", DriverImage::Host));
}

#[test]
fn a_silent_blackhole_is_found_by_the_neighbour_solicitation_probe_within_its_budget() {
    blackhole::assert_found(&blackhole::run("fd01::1", DriverImage::Host));
}

#[test]
#[ignore = "needs the cross-built mpfilter.sys: bash tools/build-sys.sh"]
fn sys_a_silent_blackhole_is_found_by_the_arp_probe_within_its_budget() {
    let s = common::on_sys(|image| blackhole::run("10.1.0.1", image));
    blackhole::assert_found(&s);
}

/// Member 0 sending `traffic` and member 1 probing peer 0's address, over `fabric`, for one
/// second with `faults` (adapter, time from the start, fault).
fn probing_peer_0(
    seed: u64,
    fabric: ndis_emu::fabric::FabricConfig,
    traffic: ndis_emu::TrafficConfig,
    faults: &[(usize, u64, ndis_emu::wire::Fault)],
    image: DriverImage,
) -> Outcome {
    let ip = ndis_emu::fabric::peer_ipv4(0);
    let target = format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
    let r = Run {
        seed,
        members: vec![
            (member(0, None), traffic),
            (member(1, Some(&target)), idle()),
        ],
        fabric: Some(fabric),
        faults,
    };
    run_spec(&r, 1_000, image)
}

/// The probe target's owner answers every probe twice (as a host and a proxy-ARP router both
/// answering for the address would): the path stays in service and each probe counts one
/// answer, not two.
fn answered_twice(image: DriverImage) {
    let mut fabric = ndis_emu::fabric::FabricConfig::with_peers(1);
    fabric.peers[0].answers_twice = true;
    let o = probing_peer_0(8, fabric, idle(), &[], image);
    let (transitions, s1) = (&o.transitions, &o.stats[1]);
    let fabric = o.fabric.as_ref().expect("a fabric");
    assert!(common::failures(transitions).is_empty(), "{transitions:?}");
    assert!(s1.probes_sent >= 9, "{s1:?}");
    assert_eq!(
        fabric.peers[0].arp_answered, s1.probes_sent,
        "the peer answered each probe"
    );
    // Every probe but possibly the last (still out when the run ended) is answered, once.
    assert!(
        (s1.probes_sent - 1..=s1.probes_sent).contains(&s1.probe_answers),
        "{s1:?}"
    );
}

#[test]
fn a_probe_answered_twice_counts_one_answer() {
    answered_twice(DriverImage::Host);
}

#[test]
#[ignore = "needs the cross-built mpfilter.sys: bash tools/build-sys.sh"]
fn sys_a_probe_answered_twice_counts_one_answer() {
    common::on_sys(answered_twice);
}

/// Member 1 is probed and its probes are answered, but its miniport fails 8 sends in a row: the
/// path fails for its send errors and stays out of service for the errors' recovery time (10 s
/// by default). An answered probe reports a recovery only after a missed one: a path whose
/// probes never went unanswered is not thereby forgiven its errors.
fn errors_outlast_answered_probes(image: DriverImage) {
    let traffic = ndis_emu::TrafficConfig {
        tx_nbls: 4_000,
        rx_nbls: 0,
        max_chain: 4,
        frame_len: (200, 600),
        window: 64,
        send_interval: 200_000,
        flows: 16,
        ..ndis_emu::TrafficConfig::default()
    };
    // The default threshold: 8 errors within a second.
    let fail = ndis_emu::wire::Fault::ErrorCompletions {
        status: mpfilter::ndis::consts::NDIS_STATUS_FAILURE,
        count: 8,
    };
    let o = probing_peer_0(
        9,
        ndis_emu::fabric::FabricConfig::with_peers(2),
        traffic,
        &[(1, 100 * MS, fail)],
        image,
    );
    let (transitions, s1) = (&o.transitions, &o.stats[1]);
    let path1: Vec<_> = transitions
        .iter()
        .filter_map(|(at, e)| match e {
            Event::PathTransition {
                path: 1,
                to,
                reason,
                ..
            } => Some((*at, *to, *reason)),
            _ => None,
        })
        .collect();
    match path1.as_slice() {
        [(at, PathState::Failed, Reason::SendErrors)] => {
            assert!((100 * MS..300 * MS).contains(at), "failed at {at} ns");
        }
        other => panic!("one SendErrors failure of path 1 and nothing after it, got {other:?}"),
    }
    // Its probes were answered all along.
    assert!(s1.probes_sent >= 9 && s1.probes_missed == 0, "{s1:?}");
}

#[test]
fn send_errors_keep_a_path_out_though_its_probes_are_answered() {
    errors_outlast_answered_probes(DriverImage::Host);
}

#[test]
#[ignore = "needs the cross-built mpfilter.sys: bash tools/build-sys.sh"]
fn sys_send_errors_keep_a_path_out_though_its_probes_are_answered() {
    common::on_sys(errors_outlast_answered_probes);
}
