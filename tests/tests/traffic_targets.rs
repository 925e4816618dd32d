//! Traffic with fewer destinations than flows (`TrafficConfig::targets`): flows share targets, and
//! the quota balancer's per-target cap (`MaxOutstandingPerTarget`) then bounds a whole path's
//! outstanding NBLs, where with a target per flow it bounds each flow's.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use ndis_emu::config::RegValue;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, TrafficConfig};

const CAP: u32 = 4;

fn member(index: u8) -> AdapterConfig {
    AdapterConfig::numbered(index)
        .with_param("GroupId", RegValue::Dword(1))
        .with_param("Policy", RegValue::Sz("quota".into()))
        .with_param("MaxOutstandingPerTarget", RegValue::Dword(CAP))
}

/// Per adapter: the most NBLs below its miniport at once, in all and for one destination.
fn run(targets: u32) -> (Vec<u64>, Vec<u64>) {
    let cfg = EmuConfig {
        seed: 5,
        cpus: 4,
        ..EmuConfig::default()
    };
    let traffic = TrafficConfig {
        tx_nbls: 3_000,
        rx_nbls: 0,
        max_chain: 8,
        frame_len: (200, 1514),
        window: 256,
        send_interval: 1_000,
        flows: 16,
        targets,
        ..TrafficConfig::default()
    };
    let adapters = vec![(member(0), traffic), (member(1), common::idle())];
    common::run_to_end(cfg, adapters, DriverImage::Host, &[], |emu| {
        let o = emu.delivery().origins[0].clone();
        assert_eq!((o.sent, o.delivered, o.lost), (3_000, 3_000, 0), "{o:?}");
        let total = (0..2).map(|a| emu.stats(a).tx_below_peak).collect();
        let per_target = (0..2)
            .map(|a| emu.stats(a).tx_below_peak_per_target)
            .collect();
        (total, per_target)
    })
}

#[test]
fn one_shared_target_caps_each_paths_outstanding_at_the_per_target_cap() {
    let (total, per_target) = run(1);
    assert!(
        per_target
            .iter()
            .all(|&p| (1..=u64::from(CAP)).contains(&p)),
        "{per_target:?}"
    );
    assert_eq!(total, per_target, "one target: all below is that target's");
}

#[test]
fn a_target_per_flow_lets_a_path_carry_more_than_one_targets_cap() {
    let (total, per_target) = run(0);
    assert!(
        per_target.iter().all(|&p| p <= u64::from(CAP)),
        "{per_target:?}"
    );
    assert!(total.iter().any(|&t| t > u64::from(CAP)), "{total:?}");
}
