//! Teaming end to end: modules with the same GroupId form a path group, the protocol above
//! adapter 0 sends, and mpfilter spreads its NBLs over every member's wire — down adapter 0's own
//! stack, or as clones down another member's — and moves them off a path that fails. The
//! emulator's delivery ledger measures, at the far end of every wire, what arrived: nothing may be
//! lost or duplicated, every NBL completes to the protocol, and every run ends with detach and
//! unload with no rule violation and no leak.

use mpfilter::ndis::consts::{NDIS_STATUS_FAILURE, NDIS_STATUS_MEDIA_DISCONNECTED};
use ndis_emu::config::RegValue;
use ndis_emu::ledger::OriginReport;
use ndis_emu::wire::Fault;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, TrafficConfig};

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

fn idle() -> TrafficConfig {
    TrafficConfig {
        tx_nbls: 0,
        rx_nbls: 0,
        ..TrafficConfig::default()
    }
}

/// Boots a team: adapter 0 carries `traffic`, the others none.
fn boot(seed: u64, members: Vec<AdapterConfig>, traffic: TrafficConfig) -> Emulator {
    let mut emu = Emulator::new(EmuConfig {
        seed,
        cpus: 4,
        ..EmuConfig::default()
    });
    for (i, m) in members.into_iter().enumerate() {
        emu.add_adapter(m, if i == 0 { traffic.clone() } else { idle() });
    }
    let img = DriverImage::Host.load().expect("host image");
    emu.load(img.entry).expect("mpfilter loads");
    for a in 0..emu.adapter_count() {
        assert!(emu.start(a), "{:?}", emu.violations());
    }
    emu
}

/// A module's counters.
fn filter_stats(emu: &Emulator, a: usize) -> mpfilter::module::ModuleStats {
    // SAFETY: the module of adapter `a` is attached and the host-linked filter runs on this
    // thread only.
    unsafe { mpfilter::driver::module_stats(emu.module_context(a) as *mut core::ffi::c_void) }
        .expect("a module context")
}

/// Runs the traffic to its end, detaches every member, unloads: no violation, no leak. Returns
/// the far end's account of adapter 0's frames and each member's filter counters.
fn finish(mut emu: Emulator) -> (OriginReport, Vec<u64>, Vec<mpfilter::module::ModuleStats>) {
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let d = emu.delivery();
    let stats: Vec<_> = (0..emu.adapter_count())
        .map(|a| filter_stats(&emu, a))
        .collect();
    for a in 0..emu.adapter_count() {
        assert_eq!(emu.stats(a).wire_tx_bad, 0, "adapter {a}: intact frames");
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    (d.origins[0].clone(), d.per_wire.clone(), stats)
}

/// Nothing lost, nothing duplicated, every NBL completed with success and delivered.
fn assert_all_delivered(o: &OriginReport, n: u64) {
    assert_eq!(o.sent, n, "{o:?}");
    assert_eq!(o.completed_ok, n, "{o:?}");
    assert_eq!(o.delivered, n, "{o:?}");
    assert_eq!((o.lost, o.duplicates, o.silently_lost), (0, 0, 0), "{o:?}");
}

#[test]
fn a_team_spreads_one_protocols_sends_over_every_members_wire() {
    let n = 4_000;
    let emu = boot(
        1,
        vec![
            member(0, GBPS, "round-robin", &[]),
            member(1, GBPS, "round-robin", &[]),
        ],
        load(n),
    );
    let (o, wires, stats) = finish(emu);
    assert_all_delivered(&o, n);
    // Round-robin per NBL (flowlet gap 500 µs keeps a busy flow on its path, so not exactly half).
    assert!(wires[1] > n / 5, "wire 1 carried {} of {n}", wires[1]);
    assert!(wires[0] > n / 5, "wire 0 carried {} of {n}", wires[0]);
    assert_eq!(wires[0] + wires[1], n);
    assert_eq!(stats[0].send_nbls_rerouted, wires[1]);
    assert_eq!(stats[1].send_children_completed, wires[1]);
}

#[test]
fn unconfigured_adapters_do_not_team() {
    let n = 1_000;
    let emu = boot(
        2,
        vec![AdapterConfig::numbered(0), AdapterConfig::numbered(1)],
        load(n),
    );
    let (o, wires, stats) = finish(emu);
    assert_all_delivered(&o, n);
    assert_eq!(wires[1], 0, "no surprise teaming");
    assert_eq!(stats[0].send_nbls_rerouted, 0);
}

/// (a) Link down on one of two paths mid-transfer.
#[test]
fn link_down_mid_transfer_loses_and_duplicates_nothing() {
    let n = 6_000;
    let mut emu = boot(
        3,
        vec![
            member(0, GBPS, "round-robin", &[]),
            member(1, GBPS, "round-robin", &[]),
        ],
        load(n),
    );
    let t = emu.now();
    emu.schedule_fault(1, t + 4 * MS, Fault::LinkDown);
    let (o, wires, stats) = finish(emu);
    assert_all_delivered(&o, n);
    assert!(wires[1] > 0 && wires[0] > wires[1], "wires {wires:?}");
    // NBLs on wire 1 when it went down came back with MEDIA_DISCONNECTED and were sent again.
    assert!(stats[0].send_nbls_retried + stats[1].send_nbls_retried > 0, "{stats:?}");
}

/// (b) Error completions in flight: re-sent on the survivor and delivered.
#[test]
fn error_completions_are_sent_again_on_the_survivor() {
    let n = 4_000;
    let mut emu = boot(
        4,
        vec![
            member(0, GBPS, "round-robin", &[]),
            member(1, GBPS, "round-robin", &[]),
        ],
        load(n),
    );
    let t = emu.now();
    emu.schedule_fault(
        1,
        t + 2 * MS,
        Fault::ErrorCompletions {
            status: NDIS_STATUS_FAILURE,
            count: 40,
        },
    );
    let (o, _wires, stats) = finish(emu);
    assert_all_delivered(&o, n);
    let retried: u64 = stats.iter().map(|s| s.send_nbls_retried).sum();
    assert!(retried >= 40, "retried {retried}: {stats:?}");
}

/// (h) All paths down with AllDown = fail: sends complete at once with MEDIA_DISCONNECTED; a
/// path that returns carries traffic again.
#[test]
fn all_paths_down_fail_mode_completes_with_media_disconnected_until_a_path_returns() {
    let n = 6_000;
    let mut emu = boot(
        5,
        vec![
            member(0, GBPS, "round-robin", &[]),
            member(1, GBPS, "round-robin", &[]),
        ],
        load(n),
    );
    let t = emu.now();
    emu.schedule_fault(0, t + 2 * MS, Fault::LinkDown);
    emu.schedule_fault(1, t + 2 * MS, Fault::LinkDown);
    emu.schedule_fault(1, t + 5 * MS, Fault::LinkUp);
    let (o, wires, _stats) = finish(emu);
    assert_eq!(o.sent, n);
    assert_eq!((o.duplicates, o.silently_lost), (0, 0), "{o:?}");
    let failed = o.completed_with(NDIS_STATUS_MEDIA_DISCONNECTED);
    assert!(failed > 0, "{o:?}");
    assert_eq!(o.completed_ok + failed, n, "{o:?}");
    assert_eq!(o.delivered, o.completed_ok, "{o:?}");
    // After 5 ms only wire 1 is up: it carries the rest.
    assert!(wires[1] > 0, "{wires:?}");
}

/// (f) Pause and restart of one member under load.
#[test]
fn pausing_a_member_under_load_moves_its_traffic_and_loses_nothing() {
    let n = 6_000;
    let mut emu = boot(
        6,
        vec![
            member(0, GBPS, "round-robin", &[]),
            member(1, GBPS, "round-robin", &[]),
        ],
        load(n),
    );
    let t = emu.now();
    emu.schedule_fault(1, t + 3 * MS, Fault::Pause);
    emu.schedule_fault(1, t + 6 * MS, Fault::Restart);
    let (o, wires, _stats) = finish(emu);
    assert_all_delivered(&o, n);
    assert!(wires[1] > 0, "{wires:?}");
}

/// (g) Detach of a member under load, then re-attach.
#[test]
fn detaching_a_member_under_load_then_reattaching_it_loses_nothing() {
    let n = 8_000;
    let mut emu = boot(
        7,
        vec![
            member(0, GBPS, "round-robin", &[]),
            member(1, GBPS, "round-robin", &[]),
            member(2, GBPS, "round-robin", &[]),
        ],
        load(n),
    );
    let t = emu.now();
    emu.schedule_fault(2, t + 3 * MS, Fault::Detach);
    emu.schedule_fault(2, t + 6 * MS, Fault::Reattach);
    let (o, wires, _stats) = finish(emu);
    assert_all_delivered(&o, n);
    assert!(wires.iter().all(|&w| w > 0), "{wires:?}");
}
