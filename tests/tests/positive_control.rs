//! The fault filter with no fault passes the full strictness: the positive control for the rule
//! tests.

use ndis_emu::fault_filter::{Fault, image};
use ndis_emu::scenario::{self, PassthroughConfig, SmokeConfig};

#[test]
fn correct_fault_filter_passes_smoke() {
    let r = scenario::smoke(&SmokeConfig::default(), image(Fault::None));
    println!("{r}");
    assert!(r.is_clean(), "{r}");
    for a in &r.adapters {
        assert_eq!(a.stats.tx_sent, 300);
        assert_eq!(a.stats.tx_completed, 300);
        // The smoke run cancels some sends: those still queued in the miniport are aborted.
        assert_eq!(a.stats.tx_completed_ok + a.stats.tx_completed_aborted, 300);
        assert!(a.stats.tx_cancels > 0 && a.stats.oid_cancels > 0);
        assert_eq!(a.stats.rx_received, 300);
        assert!(a.module.pauses_pending >= 1 || a.module.pauses >= 1);
    }
}

#[test]
fn correct_fault_filter_passes_a_bigger_run() {
    let cfg = PassthroughConfig {
        nbls_each_way: 20_000,
        ..PassthroughConfig::default()
    };
    let r = scenario::passthrough(&cfg, image(Fault::None));
    println!("{r}");
    assert!(r.is_clean(), "{r}");
}

#[test]
fn cancels_reach_the_miniport_through_a_correct_filter() {
    let random = ndis_emu::Randomization {
        send_cancel_percent: 30,
        oid_cancel_percent: 50,
        oid_pending_percent: 100,
        ..ndis_emu::Randomization::default()
    };
    let cfg = PassthroughConfig {
        nbls_each_way: 5_000,
        oid_storm: 100,
        random,
        ..PassthroughConfig::default()
    };
    let r = scenario::passthrough(&cfg, image(Fault::None));
    println!("{r}");
    assert!(r.is_clean(), "{r}");
    for a in &r.adapters {
        let s = &a.stats;
        assert!(s.tx_cancels > 0 && s.tx_completed_aborted > 0, "{r}");
        assert_eq!(
            s.tx_completed, s.tx_sent,
            "aborted or not, every NBL completes"
        );
        assert_eq!(s.tx_completed_ok + s.tx_completed_aborted, s.tx_completed);
        assert!(s.oid_cancels > 0);
        assert_eq!(s.oids_bad_answer, 0);
    }
}
