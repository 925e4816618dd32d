//! The loaded `mpfilter.sys` reports the same diagnostic events as the host build: the same
//! scenario with the same seed on both, and the whole list compared — every event, its virtual
//! time and its adapter. The host build's events are its records (`MpDiagRecordHost`); the
//! `.sys`'s are its ETW TraceLogging events, decoded by the PE loader's `EtwWriteTransfer`.
//!
//! Needs the image (`#[ignore]`d otherwise):
//! `bash tools/build-sys.sh && cargo test -p ndis-emu --test sys_diag_events -- --ignored`
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use common::idle;

use mpfilter::diag::trace::{self, keyword, level};
use mpfilter::diag::{ConfigKey, Event};
use mpfilter::engine::Reason;
use ndis_emu::config::RegValue;
use ndis_emu::exports::etw::Session;
use ndis_emu::pe::{kernel, run_guarded};
use ndis_emu::wire::Fault;
use ndis_emu::{AdapterConfig, DiagRecord, DriverImage, EmuConfig, Emulator, TrafficConfig};

const MS: u64 = 1_000_000;

/// A round-robin team member of group 1 on a 1 Gb/s link.
fn member(index: u8) -> AdapterConfig {
    let mut a = AdapterConfig::numbered(index)
        .with_param("GroupId", RegValue::Dword(1))
        .with_param("Policy", RegValue::Sz("round-robin".into()))
        .with_param("Failback", RegValue::Sz("immediate".into()))
        .with_param("UpDelayMs", RegValue::Dword(0))
        .with_param("DownDelayMs", RegValue::Dword(0));
    a.link_speed_bps = 1_000_000_000;
    a
}

fn traffic(n: u64) -> TrafficConfig {
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

/// Runs the members (adapter 0 sends `n` NBLs) with the faults, from load to unload, with the
/// default ETW session (everything enabled), and returns every diagnostic event; no violation, no
/// leak, no refused event.
fn events(
    image: &DriverImage,
    members: &[AdapterConfig],
    n: u64,
    faults: &[(usize, u64, Fault)],
) -> Vec<DiagRecord> {
    run(image, members, n, faults, Some(Session::EVERYTHING)).0
}

/// As [`events`], with the given ETW session; also returns the virtual time at the end.
fn run(
    image: &DriverImage,
    members: &[AdapterConfig],
    n: u64,
    faults: &[(usize, u64, Fault)],
    session: Option<Session>,
) -> (Vec<DiagRecord>, u64) {
    let mut emu = Emulator::new(EmuConfig {
        seed: 31,
        cpus: 4,
        ..EmuConfig::default()
    });
    emu.set_etw_session(session);
    for (i, m) in members.iter().enumerate() {
        emu.add_adapter(m.clone(), if i == 0 { traffic(n) } else { idle() });
    }
    let img = image.load().expect("image");
    emu.load(img.entry).expect("mpfilter loads");
    for a in 0..emu.adapter_count() {
        assert!(emu.start(a), "{:?}", emu.violations());
    }
    let t = emu.now();
    for &(a, at, fault) in faults {
        emu.schedule_fault(a, t + at, fault);
    }
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    for a in 0..emu.adapter_count() {
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    assert!(emu.diag_rejects().is_empty(), "{:?}", emu.diag_rejects());
    let events = emu.diag_events();
    let end = emu.now();
    drop(img);
    (events, end)
}

/// [`run`] on the loaded `.sys` (a bug check fails the test; the pool must be empty after unload).
fn run_sys(
    members: Vec<AdapterConfig>,
    n: u64,
    faults: Vec<(usize, u64, Fault)>,
    session: Option<Session>,
) -> (Vec<DiagRecord>, u64) {
    let r = run_guarded(move || {
        let r = run(
            &DriverImage::Pe(common::sys_image()),
            &members,
            n,
            &faults,
            session,
        );
        (r, kernel::outstanding_pool())
    });
    let (r, pool) = r.unwrap_or_else(|b| panic!("the driver stopped the machine: {b}"));
    assert!(pool.is_empty(), "pool leaked after unload: {pool:?}");
    r
}

fn link_down_and_up() -> Vec<(usize, u64, Fault)> {
    vec![(1, 3 * MS, Fault::LinkDown), (1, 8 * MS, Fault::LinkUp)]
}

/// The events of the host build and of the loaded `.sys` (a bug check fails the test, and the
/// driver's pool must be empty after unload).
fn both(
    members: Vec<AdapterConfig>,
    n: u64,
    faults: Vec<(usize, u64, Fault)>,
) -> (Vec<DiagRecord>, Vec<DiagRecord>) {
    let host = events(&DriverImage::Host, &members, n, &faults);
    let (sys, _) = run_sys(members, n, faults, Some(Session::EVERYTHING));
    (host, sys)
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test sys_diag_events -- --ignored"]
fn configuration_events_are_the_same_on_both_builds() {
    // Member 1 asks for another policy than the group's; member 2 names no policy at all.
    let mut other = member(1).with_param("Policy", RegValue::Sz("failover".into()));
    other = other.with_param("AllDown", RegValue::Sz("queue:10".into()));
    let bogus = member(2).with_param("Policy", RegValue::Sz("fastest".into()));
    let (host, sys) = both(vec![member(0), other, bogus], 1_000, Vec::new());
    assert!(
        host.iter().any(|r| r.adapter == Some(1)
            && r.event
                == Event::GroupSettingIgnored {
                    group: 1,
                    key: ConfigKey::RegPolicy
                }),
        "{host:?}"
    );
    assert!(
        host.iter().any(|r| r.adapter == Some(2)
            && matches!(
                r.event,
                Event::ConfigRejected {
                    key: ConfigKey::RegPolicy,
                    ..
                }
            )),
        "{host:?}"
    );
    assert_eq!(host, sys);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test sys_diag_events -- --ignored"]
fn path_events_of_a_link_down_and_up_are_the_same_on_both_builds() {
    let (host, sys) = both(vec![member(0), member(1)], 6_000, link_down_and_up());
    let reasons: Vec<Reason> = host
        .iter()
        .filter_map(|r| match r.event {
            Event::PathTransition {
                path: 1, reason, ..
            } => Some(reason),
            _ => None,
        })
        .collect();
    assert!(
        reasons.contains(&Reason::LinkDown) && reasons.contains(&Reason::LinkUp),
        "{reasons:?}"
    );
    assert!(
        host.iter()
            .any(|r| matches!(r.event, Event::Reroute { from_path: 1, .. })),
        "{host:?}"
    );
    assert_eq!(host, sys);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test sys_diag_events -- --ignored"]
fn with_no_session_the_sys_writes_nothing_and_runs_the_same() {
    let members = vec![member(0), member(1)];
    let (quiet, quiet_end) = run_sys(members.clone(), 6_000, link_down_and_up(), None);
    assert!(quiet.is_empty(), "{quiet:?}");
    let (all, end) = run_sys(
        members,
        6_000,
        link_down_and_up(),
        Some(Session::EVERYTHING),
    );
    assert!(!all.is_empty());
    assert_eq!(quiet_end, end, "tracing changes nothing the emulator sees");
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test sys_diag_events -- --ignored"]
fn a_session_for_path_warnings_gets_exactly_those() {
    let members = vec![member(0), member(1)];
    let session = Session {
        level: level::Warning,
        keywords: keyword::PATHS,
    };
    let (narrow, _) = run_sys(members.clone(), 6_000, link_down_and_up(), Some(session));
    let host = events(&DriverImage::Host, &members, 6_000, &link_down_and_up());
    let expected: Vec<DiagRecord> = host
        .into_iter()
        .filter(|r| {
            let s = trace::spec(r.event.id());
            s.level <= session.level && s.keyword & session.keywords != 0
        })
        .collect();
    assert!(
        expected
            .iter()
            .all(|r| matches!(r.event, Event::PathTransition { .. })),
        "{expected:?}"
    );
    assert!(!expected.is_empty());
    assert_eq!(narrow, expected);
}
