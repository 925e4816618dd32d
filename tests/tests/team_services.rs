//! Services NDIS gives a protocol that a team must keep giving when it moves the protocol's NBLs
//! to another adapter: the NBL context backfill the drivers below each member asked for in their
//! restart attributes, and the send loopback a protocol asks for with
//! `NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK`. Each scenario runs on the host build and on the loaded `mpfilter.sys`
//! with the same checks, and ends with detach and unload with no rule violation and no leak.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use ndis_emu::config::RegValue;
use ndis_emu::ledger::OriginReport;
use ndis_emu::pe::{kernel, run_guarded};
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, TrafficConfig};

/// A round-robin team member (GroupId 1) whose drivers below want `backfill` bytes of context.
fn member(index: u8, backfill: u16) -> AdapterConfig {
    AdapterConfig::numbered(index)
        .with_param("GroupId", RegValue::Dword(1))
        .with_param("Policy", RegValue::Sz("round-robin".into()))
        .with_context_backfill(backfill)
}

/// An adapter with no configuration: the filter passes its traffic through.
fn plain(index: u8, backfill: u16) -> AdapterConfig {
    AdapterConfig::numbered(index).with_context_backfill(backfill)
}

fn load(n: u64) -> TrafficConfig {
    TrafficConfig {
        tx_nbls: n,
        rx_nbls: 0,
        max_chain: 8,
        frame_len: (60, 1514),
        window: 256,
        send_interval: 1_000,
        flows: 64,
        ..TrafficConfig::default()
    }
}

fn idle() -> TrafficConfig {
    TrafficConfig {
        tx_nbls: 0,
        rx_nbls: 0,
        ..TrafficConfig::default()
    }
}

/// What a run measured.
struct Outcome {
    origin: OriginReport,
    /// Frames per wire.
    wires: Vec<u64>,
    /// Per adapter: NBLs its miniport took short of the context backfill its drivers wanted.
    backfill_short: Vec<u64>,
    /// Per adapter: NBLs its miniport took (and checked).
    taken: Vec<u64>,
    /// Per adapter: the protocol's loopback receipts (own frames once, duplicates, foreign).
    loopback: Vec<(u64, u64, u64)>,
    /// Per adapter: sends that reached its miniport still asking NDIS for loopback.
    flagged_below: Vec<u64>,
}

/// Runs adapter 0's traffic over `adapters` on `image`, then detaches every module and unloads:
/// no violation, no leak, no damaged frame.
fn run_on(adapters: &[AdapterConfig], traffic: &TrafficConfig, image: DriverImage) -> Outcome {
    let mut emu = Emulator::new(EmuConfig {
        seed: 7,
        cpus: 4,
        ..EmuConfig::default()
    });
    for (i, a) in adapters.iter().enumerate() {
        emu.add_adapter(a.clone(), if i == 0 { traffic.clone() } else { idle() });
    }
    let img = image.load().expect("image");
    emu.load(img.entry).expect("mpfilter loads");
    for a in 0..emu.adapter_count() {
        assert!(emu.start(a), "{:?}", emu.violations());
    }
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let d = emu.delivery();
    let backfill_short = (0..emu.adapter_count())
        .map(|a| emu.stats(a).tx_context_backfill_short)
        .collect();
    let taken = (0..emu.adapter_count())
        .map(|a| emu.stats(a).tx_context_backfill_checked)
        .collect();
    let loopback = (0..emu.adapter_count())
        .map(|a| {
            let s = emu.stats(a);
            (
                s.rx_loopback,
                s.rx_loopback_duplicates,
                s.rx_loopback_foreign,
            )
        })
        .collect();
    let flagged_below = (0..emu.adapter_count())
        .map(|a| emu.stats(a).tx_loopback_flagged)
        .collect();
    for a in 0..emu.adapter_count() {
        assert_eq!(emu.stats(a).wire_tx_bad, 0, "adapter {a}: intact frames");
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    drop(img);
    Outcome {
        origin: d.origins[0].clone(),
        wires: d.per_wire.clone(),
        backfill_short,
        taken,
        loopback,
        flagged_below,
    }
}

/// As [`run_on`], on the loaded `mpfilter.sys` on its own emulated CPU thread: a bug check fails
/// the test, and the driver's pool must be empty after unload.
fn run_sys(adapters: Vec<AdapterConfig>, traffic: TrafficConfig) -> Outcome {
    let outcome = run_guarded(move || {
        let o = run_on(&adapters, &traffic, DriverImage::Pe(common::sys_image()));
        (o, kernel::outstanding_pool())
    });
    match outcome {
        Ok((o, pool)) => {
            assert!(pool.is_empty(), "pool leaked after unload: {pool:?}");
            o
        }
        Err(bug_check) => panic!("the driver stopped the machine: {bug_check}"),
    }
}

fn assert_all_delivered(o: &OriginReport, n: u64) {
    assert_eq!((o.sent, o.completed_ok, o.delivered), (n, n, n), "{o:?}");
    assert_eq!((o.lost, o.duplicates, o.silently_lost), (0, 0, 0), "{o:?}");
}

const N: u64 = 2_000;

fn backfill_team() -> Vec<AdapterConfig> {
    vec![member(0, 64), member(1, 96)]
}

/// Both members' drivers below want context backfill (64 and 96 bytes): every NBL either
/// miniport takes — adapter 0's own and the clones sent down adapter 1 — has it.
fn check_backfill(o: &Outcome) {
    assert_all_delivered(&o.origin, N);
    assert!(o.wires.iter().all(|&w| w > N / 4), "spread: {:?}", o.wires);
    assert!(o.taken.iter().all(|&t| t > 0), "{:?}", o.taken);
    assert_eq!(o.backfill_short, vec![0, 0], "taken {:?}", o.taken);
}

#[test]
fn every_nbl_a_member_sends_carries_the_context_backfill_its_stack_asked_for() {
    check_backfill(&run_on(&backfill_team(), &load(N), DriverImage::Host));
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_every_nbl_a_member_sends_carries_the_context_backfill_its_stack_asked_for() {
    check_backfill(&run_sys(backfill_team(), load(N)));
}

/// The control: without the team the filter pushes no context, and the protocol's NBLs reach a
/// miniport whose drivers want backfill without it — the check sees what it is there to see.
#[test]
fn a_pass_through_stack_leaves_the_backfill_to_the_protocol_and_the_check_sees_it() {
    let o = run_on(&[plain(0, 64), plain(1, 64)], &load(N), DriverImage::Host);
    assert_all_delivered(&o.origin, N);
    assert_eq!(o.backfill_short[0], o.taken[0], "taken {:?}", o.taken);
    assert!(o.taken[0] > 0);
}

/// `NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST`.
const DIRECTED_BROADCAST: u32 = 0x09;
/// `NDIS_PACKET_TYPE_DIRECTED`.
const DIRECTED: u32 = 0x01;

/// Adapter 0's protocol broadcasts with NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK after setting
/// `packet_filter`.
fn loopback_load(packet_filter: u32) -> TrafficConfig {
    TrafficConfig {
        broadcast: true,
        check_for_loopback: true,
        packet_filter: Some(packet_filter),
        ..load(N)
    }
}

fn team() -> Vec<AdapterConfig> {
    vec![member(0, 0), member(1, 0)]
}

/// The team spreads adapter 0's broadcasts over both wires, and its protocol still gets every
/// one back exactly once as a loopback — whichever member carried it — while no send reaches a
/// miniport asking NDIS for loopback (which would loop adapter 0's frames back to adapter 1's
/// protocol) and adapter 1's protocol gets nothing.
fn check_loopback(o: &Outcome) {
    assert_all_delivered(&o.origin, N);
    assert!(o.wires.iter().all(|&w| w > N / 4), "spread: {:?}", o.wires);
    assert_eq!(o.loopback, vec![(N, 0, 0), (0, 0, 0)]);
    assert_eq!(o.flagged_below, vec![0, 0]);
}

#[test]
fn a_team_loops_back_every_accepted_send_to_its_protocol_whichever_path_carried_it() {
    check_loopback(&run_on(
        &team(),
        &loopback_load(DIRECTED_BROADCAST),
        DriverImage::Host,
    ));
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_a_team_loops_back_every_accepted_send_to_its_protocol_whichever_path_carried_it() {
    check_loopback(&run_sys(team(), loopback_load(DIRECTED_BROADCAST)));
}

/// A packet filter that does not take broadcasts: nothing comes back, from the team or NDIS.
#[test]
fn a_team_loops_back_nothing_the_protocols_packet_filter_rejects() {
    let o = run_on(&team(), &loopback_load(DIRECTED), DriverImage::Host);
    assert_all_delivered(&o.origin, N);
    assert_eq!(o.loopback, vec![(0, 0, 0), (0, 0, 0)]);
    assert_eq!(o.flagged_below, vec![0, 0]);
}

/// The reference: without a team the filter passes the flag down and NDIS loops every accepted
/// send back itself — the same receipts the team gives.
#[test]
fn without_a_team_ndis_loops_back_the_same_sends_itself() {
    let o = run_on(
        &[plain(0, 0), plain(1, 0)],
        &loopback_load(DIRECTED_BROADCAST),
        DriverImage::Host,
    );
    assert_all_delivered(&o.origin, N);
    assert_eq!(o.loopback, vec![(N, 0, 0), (0, 0, 0)]);
    assert_eq!(o.flagged_below, vec![N, 0]);
}
