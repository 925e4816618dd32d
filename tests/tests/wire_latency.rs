//! Wires with a propagation delay (`AdapterConfig::wire_latency_ns`): a frame reaches the far end
//! that long after its transmission ends, and nothing else about the run changes — and across
//! paths of unequal latency, a flowlet gap above the difference keeps every flow in order while
//! per-packet spreading reorders.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use ndis_emu::config::RegValue;
use ndis_emu::ledger::Arrival;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, TrafficConfig};

const US: u64 = 1_000;

fn member(index: u8, latency_ns: u64, flowlet_gap_us: u32) -> AdapterConfig {
    let mut a = AdapterConfig::numbered(index)
        .with_param("GroupId", RegValue::Dword(1))
        .with_param("Policy", RegValue::Sz("round-robin".into()))
        .with_param("FlowletGapUs", RegValue::Dword(flowlet_gap_us));
    a.link_speed_bps = 1_000_000_000;
    a.wire_latency_ns = latency_ns;
    a
}

/// Runs 3,000 NBLs of 16 flows from adapter 0 over a 2-member team on `cpus` virtual CPUs; the
/// far end's arrivals and the number of frames that arrived behind a later one of their flow.
fn run(latency_1: u64, flowlet_gap_us: u32, cpus: u32) -> (Vec<Arrival>, u64) {
    let cfg = EmuConfig {
        seed: 11,
        cpus,
        ..EmuConfig::default()
    };
    let traffic = TrafficConfig {
        tx_nbls: 3_000,
        rx_nbls: 0,
        max_chain: 4,
        frame_len: (200, 1514),
        window: 128,
        send_interval: 1_000,
        flows: 16,
        ..TrafficConfig::default()
    };
    let adapters = vec![
        (member(0, 0, flowlet_gap_us), traffic),
        (member(1, latency_1, flowlet_gap_us), common::idle()),
    ];
    common::run_to_end(cfg, adapters, DriverImage::Host, &[], |emu| {
        let o = emu.delivery().origins[0].clone();
        assert_eq!((o.sent, o.delivered, o.lost), (3_000, 3_000, 0), "{o:?}");
        (emu.arrivals(), o.reordered)
    })
}

#[test]
fn a_latent_wire_delays_each_of_its_arrivals_by_its_latency_and_changes_nothing_else() {
    // One CPU: the scheduler draws no CPU per event, so the extra arrival events of the latent
    // run leave every other draw, and so the whole run, as it was.
    let (base, _) = run(0, 0, 1);
    let (late, _) = run(300 * US, 0, 1);
    let key = |a: &Arrival| (a.key.origin, a.key.flow, a.key.seq);
    let mut base_by_key: Vec<_> = base.iter().map(|a| (key(a), a.wire, a.at)).collect();
    let mut late_by_key: Vec<_> = late.iter().map(|a| (key(a), a.wire, a.at)).collect();
    base_by_key.sort_unstable();
    late_by_key.sort_unstable();
    assert_eq!(base_by_key.len(), late_by_key.len());
    let mut shifted = 0;
    for (b, l) in base_by_key.iter().zip(&late_by_key) {
        assert_eq!((b.0, b.1), (l.0, l.1), "the same frame on the same wire");
        let expected = if b.1 == 1 { b.2 + 300 * US } else { b.2 };
        assert_eq!(l.2, expected, "frame {:?} on wire {}", b.0, b.1);
        shifted += u64::from(b.1 == 1);
    }
    assert!(shifted > 1_000, "wire 1 carried {shifted}");
}

#[test]
fn a_flowlet_gap_above_the_latency_difference_keeps_flows_in_order_per_packet_spreading_does_not() {
    let (_, per_packet) = run(300 * US, 0, 4);
    let (_, flowlets) = run(300 * US, 500, 4);
    assert!(per_packet > 100, "per-packet reordered {per_packet}");
    assert_eq!(flowlets, 0);
}
