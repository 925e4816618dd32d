//! The pass-through scenario against the real, cross-built `mpfilter.sys`, loaded in-process by
//! the PE loader, with the same assertions as against the host-linked filter.
//!
//! Needs the image, so the tests are `#[ignore]`d in a plain `cargo test --workspace`. Build and
//! run (what `cargo make sys-test` and `.ci/run` do):
//!
//! ```sh
//! bash tools/build-sys.sh && cargo test -p ndis-emu --test sys_passthrough -- --ignored
//! ```
//!
//! The image is `$MPFILTER_SYS`, else `$CARGO_TARGET_DIR/x86_64-pc-windows-msvc/release/mpfilter.sys`
//! (`target/` when unset); a missing or stale image fails the test, saying how to build it.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use ndis_emu::pe::{kernel, run_guarded};
mod common;

use common::{
    assert_cancels_reached_the_miniport, assert_clean_passthrough, assert_pause_with_sends_below,
    config_100k, config_cancels, sys_image,
};
use mpfilter::diag::Event;
use ndis_emu::{DriverImage, PassthroughConfig, ScenarioReport};

/// Runs the pass-through scenario against `image` on its own emulated CPU thread (so that a bug
/// check in the driver fails the test instead of the process), and checks that the driver's
/// kernel pool (the .sys allocates through ExAllocatePool2) is empty after unload.
fn run(cfg: PassthroughConfig, image: DriverImage) -> ScenarioReport {
    let outcome = run_guarded(move || {
        let report = ndis_emu::scenario::passthrough(&cfg, image);
        (report, kernel::outstanding_pool())
    });
    match outcome {
        Ok((report, pool)) => {
            assert!(
                pool.is_empty(),
                "pool leaked after unload: {pool:?}\n{report}"
            );
            report
        }
        Err(bug_check) => panic!("the driver stopped the machine: {bug_check}"),
    }
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test sys_passthrough -- --ignored"]
fn mpfilter_sys_passthrough_100k_each_way_is_clean() {
    let cfg = config_100k();
    let r = run(cfg.clone(), DriverImage::Pe(sys_image()));
    println!("{r}");
    assert_eq!(r.image, "mpfilter.sys");
    assert_clean_passthrough(&r, &cfg);
    assert_pause_with_sends_below(&r);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test sys_passthrough -- --ignored"]
fn mpfilter_sys_forwards_send_and_oid_cancels() {
    let cfg = config_cancels();
    let r = run(cfg, DriverImage::Pe(sys_image()));
    assert_cancels_reached_the_miniport(&r);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test sys_passthrough -- --ignored"]
fn both_builds_give_the_same_report() {
    // Deterministic emulator, same seed: the host-linked filter and the .sys must behave alike,
    // down to the virtual time and every counter the emulator keeps.
    for seed in [1, 2, 3] {
        let cfg = PassthroughConfig {
            seed,
            nbls_each_way: 2_000,
            oid_storm: 100,
            ..PassthroughConfig::default()
        };
        let host = run(cfg.clone(), DriverImage::Host);
        let sys = run(cfg.clone(), DriverImage::Pe(sys_image()));
        assert_clean_passthrough(&host, &cfg);
        assert_clean_passthrough(&sys, &cfg);
        assert_eq!(host.virtual_ns, sys.virtual_ns, "seed {seed}");
        // The same diagnostic events at the same virtual times from the same adapters: the
        // host build's records, and the .sys's ETW TraceLogging events decoded by the PE loader.
        assert!(
            host.diag
                .iter()
                .any(|r| matches!(r.event, Event::ModuleRestarted { .. })),
            "seed {seed}: {:?}",
            host.diag
        );
        assert_eq!(host.diag, sys.diag, "seed {seed}");
        for (h, s) in host.adapters.iter().zip(&sys.adapters) {
            assert_eq!(
                format!("{:?}", h.stats),
                format!("{:?}", s.stats),
                "seed {seed}"
            );
            assert_eq!(
                format!("{:?}", h.module),
                format!("{:?}", s.module),
                "seed {seed}"
            );
        }
    }
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test sys_passthrough -- --ignored"]
fn both_builds_give_the_same_ledger_under_faults() {
    // Link down/up, error completions and a stall, with flow frames: the .sys must fail,
    // complete and deliver exactly what the host-linked filter does.
    for seed in [4, 5] {
        let sys = run_guarded(move || {
            let r = common::faulted_run(&DriverImage::Pe(sys_image()), seed);
            (r, kernel::outstanding_pool())
        });
        let (sys, pool) = sys.unwrap_or_else(|b| panic!("the driver stopped the machine: {b}"));
        assert!(pool.is_empty(), "pool leaked after unload: {pool:?}");
        let host = common::faulted_run(&DriverImage::Host, seed);
        assert_eq!(host, sys, "seed {seed}");
    }
}
