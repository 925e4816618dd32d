//! What both builds' pass-through tests assert, in one place: `passthrough.rs` runs it against
//! the host-linked filter, `sys_passthrough.rs` against the loaded `mpfilter.sys`.
#![allow(dead_code)]

use ndis_emu::{PassthroughConfig, ScenarioReport};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

/// The pass-through run: 2 adapters, 100,000 NBLs each way per adapter, an OID storm and
/// a pause/restart cycle in the middle, detach and unload at the end.
pub fn config_100k() -> PassthroughConfig {
    PassthroughConfig {
        seed: 0x5EED,
        adapters: 2,
        nbls_each_way: 100_000,
        oid_storm: 300,
        pause_cycle: true,
        ..PassthroughConfig::default()
    }
}

/// Protocols cancel 30 % of their sends and half their OIDs, and every OID pends at the miniport,
/// so cancels meet NBLs and requests that are really below the filter.
pub fn config_cancels() -> PassthroughConfig {
    PassthroughConfig {
        seed: 3,
        nbls_each_way: 5_000,
        oid_storm: 100,
        random: ndis_emu::Randomization {
            send_cancel_percent: 30,
            oid_cancel_percent: 50,
            oid_pending_percent: 100,
            ..ndis_emu::Randomization::default()
        },
        ..PassthroughConfig::default()
    }
}

/// Clean, and the cancels took effect below the filter: aborted sends came back (still exactly
/// once each), cancelled OIDs were answered intact.
pub fn assert_cancels_reached_the_miniport(r: &ScenarioReport) {
    assert!(r.is_clean(), "{r}");
    for a in &r.adapters {
        let s = &a.stats;
        assert!(s.tx_completed_aborted > 0, "{r}");
        assert_eq!(s.tx_completed, s.tx_sent);
        assert!(s.oid_cancels > 0);
        assert_eq!(s.oids_bad_answer, 0, "{r}");
    }
}

/// Zero violations and leaks, every NBL delivered and completed both ways, every OID answered
/// (both synchronously and pending), and at least one pause that went PENDING. mpfilter's own
/// module counters are checked by the host test only: the emulator does not reach inside a PE's
/// memory.
pub fn assert_clean_passthrough(r: &ScenarioReport, cfg: &PassthroughConfig) {
    assert!(r.load_error.is_none(), "{r}");
    assert!(r.violations.is_empty(), "{r}");
    assert!(r.leaks.is_empty(), "{r}");
    assert!(r.finished, "{r}");
    assert_eq!(r.adapters.len(), cfg.adapters);
    let n = cfg.nbls_each_way;
    let mut pended = 0;
    for a in &r.adapters {
        let s = &a.stats;
        assert_eq!(s.tx_sent, n, "{}", a.name);
        assert_eq!(s.tx_completed, n, "{}", a.name);
        assert_eq!(s.tx_completed_ok, n, "{}", a.name);
        assert_eq!(
            s.wire_tx_frames, n,
            "{}: every NBL reached the wire",
            a.name
        );
        assert_eq!(s.wire_tx_bad, 0, "{}", a.name);
        assert_eq!(
            s.rx_received, n,
            "{}: every NBL reached the protocol",
            a.name
        );
        assert_eq!(s.rx_bad, 0, "{}", a.name);
        assert_eq!(
            s.rx_reclaimed, s.rx_indicated,
            "{}: every indication came back",
            a.name
        );
        assert_eq!(s.probes_paused, s.probes_sent, "{}", a.name);
        assert_eq!(s.oids_issued, u64::from(cfg.oid_storm), "{}", a.name);
        assert_eq!(s.oids_bad_answer, 0, "{}: every OID answer intact", a.name);
        assert_eq!(
            s.oids_completed_sync + s.oids_completed_pending,
            u64::from(cfg.oid_storm),
            "{}",
            a.name
        );
        assert!(
            s.oids_completed_sync > 0 && s.oids_completed_pending > 0,
            "{}: OIDs completed both ways",
            a.name
        );
        assert!(s.mp_oids_sync > 0 && s.mp_oids_pending > 0, "{}", a.name);
        assert_eq!(a.module.attaches, 1);
        assert_eq!(a.module.detaches, 1);
        assert!(a.module.restarts >= 2);
        pended += a.module.pauses_pending;
        // Multi-NBL chains both ways and in both directions: fewer chains than NBLs.
        assert!(s.chains_sent < s.tx_sent, "{}: send chains\n{r}", a.name);
        assert!(
            s.chains_completed < s.tx_completed,
            "{}: completion chains\n{r}",
            a.name
        );
        assert!(
            s.chains_indicated < s.rx_indicated,
            "{}: receive chains\n{r}",
            a.name
        );
        assert!(
            s.chains_returned < s.rx_returned_by_protocol,
            "{}: return chains\n{r}",
            a.name
        );
        assert!(
            s.pnp_events >= 3,
            "{}: PnP events reached the miniport",
            a.name
        );
    }
    assert!(pended >= 1, "the pause went PENDING at least once\n{r}");
}

/// The send side of the pause gate ran: some FilterPause came while sends were still below and
/// went PENDING, so the filter's last send completion had to complete the pause. (Whether a pause
/// overlaps sends is drawn from the seed, so this holds for chosen configurations.)
pub fn assert_pause_with_sends_below(r: &ScenarioReport) {
    let n: u64 = r
        .adapters
        .iter()
        .map(|a| a.module.pauses_pending_sends_below)
        .sum();
    assert!(
        n >= 1,
        "a pause went PENDING with sends still below (the last send completion completed it)\n{r}"
    );
}

const BUILD: &str = "bash tools/build-sys.sh";

/// The workspace root (this crate is `tests/`).
fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
}

/// The `.sys` to load, checked to exist and to be newer than the filter's sources.
/// The cross-built `mpfilter.sys` (or `MPFILTER_SYS`), checked to be newer than the filter's
/// sources.
pub fn sys_image() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::var_os("MPFILTER_SYS").map_or_else(
            || {
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map_or_else(|| workspace().join("target"), PathBuf::from);
                workspace()
                    .join(target)
                    .join("x86_64-pc-windows-msvc/release/mpfilter.sys")
            },
            PathBuf::from,
        );
        let built = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}. Build it first: `{BUILD}` (or set MPFILTER_SYS)",
                    path.display()
                )
            });
        if let Some(source) = newest_source(&workspace().join("filter/src")) {
            assert!(
                built >= source,
                "{} is older than the filter's sources; rebuild it: `{BUILD}`",
                path.display()
            );
        }
        path
    })
}

fn newest_source(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest_source(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(time);
    }
    newest
}

/// What a faulted run left: the delivery figures, every arrival, and the LINK_STATE indications
/// each protocol received.
pub type FaultedRun = (
    ndis_emu::DeliveryReport,
    Vec<ndis_emu::ledger::Arrival>,
    Vec<Vec<ndis_emu::wire::LinkIndication>>,
);

/// Two adapters with 16 flows each under `image`: adapter 0's link goes down and up again,
/// adapter 1 fails 5 sends with NDIS_STATUS_RESOURCES and stalls for 40 µs; run to the end,
/// detach, unload. Asserts no violation and no leak.
pub fn faulted_run(image: &ndis_emu::DriverImage, seed: u64) -> FaultedRun {
    use ndis_emu::wire::Fault;
    use ndis_emu::{AdapterConfig, EmuConfig, Emulator, TrafficConfig};
    let traffic = TrafficConfig {
        tx_nbls: 500,
        rx_nbls: 100,
        max_chain: 4,
        frame_len: (100, 300),
        send_interval: 3_000,
        flows: 16,
        ..TrafficConfig::default()
    };
    let mut emu = Emulator::new(EmuConfig {
        seed,
        ..EmuConfig::default()
    });
    for i in 0..2 {
        emu.add_adapter(AdapterConfig::numbered(i), traffic.clone());
    }
    let img = boot(&mut emu, image);
    emu.schedule_fault(0, 150_000, Fault::LinkDown);
    emu.schedule_fault(0, 400_000, Fault::LinkUp);
    let resources = mpfilter::ndis::consts::NDIS_STATUS_RESOURCES;
    emu.schedule_fault(
        1,
        200_000,
        Fault::ErrorCompletions {
            status: resources,
            count: 5,
        },
    );
    emu.schedule_fault(1, 300_000, Fault::Stall(40_000));
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let report = emu.delivery();
    let arrivals = emu.arrivals();
    let links = (0..2).map(|a| emu.link_indications(a)).collect();
    finish(emu, img);
    let o = &report.origins;
    assert!(o[0].completed_with(mpfilter::ndis::consts::NDIS_STATUS_MEDIA_DISCONNECTED) > 0);
    assert_eq!(o[1].completed_with(resources), 5);
    assert_eq!(report.total.lost, report.total.completed_errors());
    assert_eq!(report.total.silently_lost, 0);
    (report, arrivals, links)
}

/// Traffic of an adapter whose protocol neither sends nor is sent to (a team member other than
/// the one under load).
pub fn idle() -> ndis_emu::TrafficConfig {
    ndis_emu::TrafficConfig {
        tx_nbls: 0,
        rx_nbls: 0,
        ..ndis_emu::TrafficConfig::default()
    }
}

/// Runs `body` with the loaded `mpfilter.sys` on its own emulated CPU thread: a bug check fails
/// the test, and the driver's pool must be empty after unload.
pub fn on_sys<T, F>(body: F) -> T
where
    T: Send + 'static,
    F: FnOnce(ndis_emu::DriverImage) -> T + Send + 'static,
{
    let outcome = ndis_emu::pe::run_guarded(move || {
        let t = body(ndis_emu::DriverImage::Pe(sys_image()));
        (t, ndis_emu::pe::kernel::outstanding_pool())
    });
    let (t, pool) =
        outcome.unwrap_or_else(|bug_check| panic!("the driver stopped the machine: {bug_check}"));
    assert!(pool.is_empty(), "pool leaked after unload: {pool:?}");
    t
}

/// Runs a team scenario on `image` from load to unload: `adapters` (each with its traffic) under
/// `cfg`, `faults` at offsets from the start of traffic, every stack started, the traffic run to
/// its end; `measure` reads what the test needs before every stack is stopped and the driver
/// unloaded. No rule violation, no leak and no damaged frame on any wire, whatever `measure` saw.
pub fn run_to_end<T>(
    cfg: ndis_emu::EmuConfig,
    adapters: Vec<(ndis_emu::AdapterConfig, ndis_emu::TrafficConfig)>,
    image: ndis_emu::DriverImage,
    faults: &[(usize, u64, ndis_emu::wire::Fault)],
    measure: impl FnOnce(&ndis_emu::Emulator) -> T,
) -> T {
    let mut emu = ndis_emu::Emulator::new(cfg);
    for (a, traffic) in adapters {
        emu.add_adapter(a, traffic);
    }
    let img = boot(&mut emu, &image);
    let t = emu.now();
    for &(a, at, fault) in faults {
        emu.schedule_fault(a, t + at, fault);
    }
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let measured = measure(&emu);
    for a in 0..emu.adapter_count() {
        assert_eq!(emu.stats(a).wire_tx_bad, 0, "adapter {a}: intact frames");
    }
    finish(emu, img);
    measured
}

/// Loads `image` into `emu` and starts every adapter's stack; keep the image until [`finish`].
pub fn boot(emu: &mut ndis_emu::Emulator, image: &ndis_emu::DriverImage) -> ndis_emu::LoadedImage {
    let img = image.load().expect("image");
    emu.load(img.entry).expect("mpfilter loads");
    for a in 0..emu.adapter_count() {
        assert!(emu.start(a), "{:?}", emu.violations());
    }
    img
}

/// Stops every stack and unloads the driver: no rule violation, no leak.
pub fn finish(mut emu: ndis_emu::Emulator, img: ndis_emu::LoadedImage) {
    for a in 0..emu.adapter_count() {
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    drop(emu);
    drop(img);
}

/// The path transitions the filter reported, with their time from `since`.
pub fn transitions(emu: &ndis_emu::Emulator, since: u64) -> Vec<(u64, mpfilter::diag::Event)> {
    emu.diag_events()
        .into_iter()
        .filter(|r| matches!(r.event, mpfilter::diag::Event::PathTransition { .. }))
        .map(|r| (r.at.saturating_sub(since), r.event))
        .collect()
}

/// The transitions among `transitions` into the Failed state, in order.
pub fn failures(
    transitions: &[(u64, mpfilter::diag::Event)],
) -> Vec<&(u64, mpfilter::diag::Event)> {
    transitions
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                mpfilter::diag::Event::PathTransition {
                    to: mpfilter::engine::PathState::Failed,
                    ..
                }
            )
        })
        .collect()
}

/// The counters of the filter module with `if_index`, through the control device's ModuleStats
/// IOCTL (so both builds answer alike); `None` when the module is in no path group.
pub fn module_stats(
    emu: &mut ndis_emu::Emulator,
    if_index: u32,
) -> Option<mpfilter::module::ModuleStats> {
    use mpctl_proto::response::MODULE_ANSWER_LEN;
    use mpctl_proto::{Ioctl, ModuleCounters, Request, status};
    let r = Request::ModuleStats { if_index };
    let mut req = vec![0; r.len()];
    r.encode(&mut req).expect("room");
    let o = emu
        .device_ioctl(Ioctl::ModuleStats.code(), &req, MODULE_ANSWER_LEN, false)
        .expect("mpfilter's control device");
    (o.status == status::SUCCESS).then(|| {
        let c = ModuleCounters::decode(&o.output).expect("a valid answer");
        mpfilter::driver::module_stats_from_counters(&c.values)
    })
}
