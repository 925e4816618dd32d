//! The pass-through scenario against the real mpfilter (host build): two adapters, 100,000 NBLs
//! each way per adapter, a pause/restart cycle and an OID storm in the middle, detach and unload
//! at the end — under full strictness.

mod common;

use common::{
    assert_cancels_reached_the_miniport, assert_clean_passthrough, assert_pause_with_sends_below,
    config_100k, config_cancels,
};
use ndis_emu::DriverImage;
use ndis_emu::scenario::{self, PassthroughConfig};

#[test]
fn mpfilter_passthrough_100k_each_way_is_clean() {
    let cfg = config_100k();
    let r = scenario::passthrough(&cfg, DriverImage::Host);
    println!("{r}");
    assert_clean_passthrough(&r, &cfg);
    assert_pause_with_sends_below(&r);
    for a in &r.adapters {
        let s = &a.stats;
        let f = a.filter.expect("mpfilter exposes its module counters");
        assert_eq!(
            f.protocol_errors, 0,
            "{}: mpfilter saw no illegal NDIS behaviour",
            a.name
        );
        assert_eq!(f.send_nbls_forwarded, cfg.nbls_each_way, "{}", a.name);
        assert_eq!(f.send_nbls_rejected_paused, s.probes_sent, "{}", a.name);
        assert_eq!(f.oids_forwarded, u64::from(cfg.oid_storm), "{}", a.name);
        // The filter's own byte and NBL counts agree with what crossed each wire.
        assert_eq!(f.send_bytes_forwarded, s.wire_tx_bytes, "{}", a.name);
        assert_eq!(f.send_nbls_completed, f.send_nbls_forwarded, "{}", a.name);
        assert_eq!(f.receive_nbls_indicated, s.rx_received, "{}", a.name);
        assert_eq!(f.receive_bytes_indicated, s.rx_received_bytes, "{}", a.name);
    }
}

#[test]
fn mpfilter_passthrough_is_deterministic() {
    let cfg = PassthroughConfig {
        seed: 99,
        nbls_each_way: 3_000,
        oid_storm: 40,
        ..PassthroughConfig::default()
    };
    let a = scenario::passthrough(&cfg, DriverImage::Host);
    let b = scenario::passthrough(&cfg, DriverImage::Host);
    assert!(a.is_clean(), "{a}");
    assert_eq!(a.to_string(), b.to_string());
    let c = scenario::passthrough(&PassthroughConfig { seed: 100, ..cfg }, DriverImage::Host);
    assert!(c.is_clean(), "{c}");
    assert_ne!(a.to_string(), c.to_string(), "another seed, another run");
}

#[test]
fn mpfilter_forwards_send_and_oid_cancels() {
    let cfg = config_cancels();
    let r = scenario::passthrough(&cfg, DriverImage::Host);
    assert_cancels_reached_the_miniport(&r);
    for a in &r.adapters {
        let f = a.filter.expect("counters");
        assert!(
            f.send_cancels_forwarded > 0 && f.oid_cancels_forwarded > 0,
            "{r}"
        );
    }
}

#[test]
fn mpfilter_is_clean_across_seeds_and_switch_extremes() {
    let extremes = [
        ndis_emu::Randomization {
            max_completion_batch: 1,
            reorder_completions: false,
            oid_pending_percent: 0,
            resources_percent: 0,
            dispatch_percent: 0,
            ..ndis_emu::Randomization::default()
        },
        ndis_emu::Randomization {
            max_completion_batch: 64,
            reorder_completions: true,
            oid_pending_percent: 100,
            resources_percent: 100,
            dispatch_percent: 100,
            max_return_delay: 200_000,
            ..ndis_emu::Randomization::default()
        },
        ndis_emu::Randomization {
            send_cancel_percent: 50,
            oid_cancel_percent: 100,
            ..ndis_emu::Randomization::default()
        },
    ];
    for seed in 1..=4 {
        for random in &extremes {
            let cfg = PassthroughConfig {
                seed,
                nbls_each_way: 2_000,
                oid_storm: 60,
                random: random.clone(),
                ..PassthroughConfig::default()
            };
            let r = scenario::passthrough(&cfg, DriverImage::Host);
            assert!(r.is_clean(), "seed {seed}, {random:?}\n{r}");
            for a in &r.adapters {
                assert_eq!(a.stats.tx_completed, 2_000);
                assert_eq!(a.stats.rx_received, 2_000);
                assert_eq!(a.filter.map(|f| f.protocol_errors), Some(0));
            }
        }
    }
}

/// NDIS refuses the filter a clone for some of the protocol's requests, with RESOURCES or
/// FAILURE (and a poisoned pointer behind, stricter than the documented NULL): the filter answers
/// each of those requests itself with the status NDIS gave and never touches the pointer; every
/// other request is answered as the miniport answered it.
#[test]
fn requests_ndis_refuses_to_clone_are_answered_with_its_status() {
    let cfg = PassthroughConfig {
        seed: 3,
        nbls_each_way: 500,
        oid_storm: 80,
        random: ndis_emu::Randomization {
            oid_clone_fail_percent: 30,
            ..ndis_emu::Randomization::default()
        },
        ..PassthroughConfig::default()
    };
    let r = scenario::passthrough(&cfg, DriverImage::Host);
    assert!(r.is_clean(), "{r}");
    for a in &r.adapters {
        assert_eq!(a.stats.oids_bad_answer, 0, "{r}");
        assert!(a.stats.oids_failed > 0, "{r}");
    }
}
