//! Runs a scenario through the emulator: one adapter per path, every filter module in path group
//! 1 with the scenario's group settings, adapter 0's protocol offering the traffic, the events as
//! emulator faults or the control device's AdminPath IOCTL, then a drain, detach and unload. What the
//! run measured is a [`Measured`]; `report` turns it into the summary and the JSON.

pub mod control;
pub mod plan;

use crate::scenario::MacMode;
use crate::scenario::Scenario;
use mpfilter::config::keys;
use mpfilter::diag::Event;
use mpfilter::driver::GroupSnapshot;
use ndis_emu::config::RegValue;
use ndis_emu::fabric::FabricConfig;
use ndis_emu::ledger::{Arrival, OriginReport};
use ndis_emu::pe::{kernel, run_guarded};
use ndis_emu::rules::{Leak, Violation};
use ndis_emu::sched::Nanos;
use ndis_emu::wire::Fault;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, ModState, TrafficConfig};
use plan::{Action, MS};
use std::path::PathBuf;

/// NBLs per send call of the protocol: chains of 1 to this many.
const MAX_CHAIN: usize = 8;
/// Most NBLs the protocol keeps outstanding over all its flows.
const MAX_WINDOW: u64 = 65_536;
/// Virtual CPUs of the emulator (the filter's per-CPU state and cross-CPU paths are exercised).
const CPUS: u32 = 4;
/// Progress slices of a run (the runner stops this often to report).
const SLICES: u64 = 100;

/// What a run was asked to do beyond the scenario.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Load this `mpfilter.sys` instead of the host-linked filter.
    pub sys: Option<PathBuf>,
    /// Serve mpctl clients on this Unix socket during the run ([`control`]).
    pub control: Option<PathBuf>,
}

/// Everything a run measured, times relative to the start of the traffic.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The scenario as run (policy and seed as overridden).
    pub scenario: Scenario,
    /// Every frame that left a wire, in arrival order.
    pub arrivals: Vec<Arrival>,
    /// Bytes each path's wire carried.
    pub wire_bytes: Vec<u64>,
    /// The far end's account of adapter 0's frames after the final drain.
    pub origin: OriginReport,
    /// Send-to-completion time of every completed NBL.
    pub completion_times: Vec<Nanos>,
    /// Rule violations (the first one halted the run).
    pub violations: Vec<Violation>,
    /// Leaks found at detach and unload.
    pub leaks: Vec<Leak>,
    /// The filter's diagnostic events with their time (on the `.sys`, its ETW TraceLogging events
    /// as the emulator decodes them).
    pub events: Vec<(Nanos, Option<usize>, Event)>,
    /// The group at the end of the run, before detach (host build only).
    pub group: Option<GroupSnapshot>,
    /// Bytes of each frame on the wire.
    pub frame_bytes: u64,
    /// Whether the filter ran as a loaded `mpfilter.sys`.
    pub sys: bool,
    /// Virtual time the drain after the traffic took.
    pub drain: Nanos,
    /// Pool blocks the loaded driver still held after unload.
    pub pool_leaks: usize,
}

/// Why a run could not be made.
#[derive(Debug)]
pub enum RunError {
    /// The driver did not load.
    Load(String),
    /// An event needs something the chosen build lacks.
    Unsupported(String),
    /// The loaded driver stopped the machine.
    BugCheck(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Load(e) => write!(f, "the driver did not load: {e}"),
            RunError::Unsupported(e) => f.write_str(e),
            RunError::BugCheck(e) => write!(f, "the driver stopped the machine: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// The registry values of path `i`'s filter module.
fn member(s: &Scenario, i: usize) -> AdapterConfig {
    let p = &s.paths[i];
    let mut a = AdapterConfig::numbered(u8::try_from(i).unwrap_or(u8::MAX))
        .with_param("GroupId", RegValue::Dword(1))
        .with_param("Policy", RegValue::Sz(s.policy.clone()));
    a.name.clone_from(&p.name);
    a.link_speed_bps = u64::from(p.rate_mbps) * 1_000_000;
    a.wire_latency_ns = u64::from(p.latency_us) * 1_000;
    // Every path carries the scenario's frames: jumbo frames get a jumbo MTU.
    a.mtu = u32::try_from(frame_bytes(s).saturating_sub(14))
        .unwrap_or(u32::MAX)
        .max(1500);
    let mac_mode = s.mac_mode.map(|m| {
        match m {
            MacMode::Preserve => "preserve",
            MacMode::Rewrite => "rewrite",
        }
        .to_owned()
    });
    let text = [
        ("Failback", &s.failback),
        ("AllDown", &s.all_down),
        ("MacMode", &mac_mode),
    ];
    for (key, v) in text {
        if let Some(v) = v {
            a = a.with_param(key, RegValue::Sz(v.clone()));
        }
    }
    let dwords = [
        ("FlowletGapUs", s.flowlet_gap_us),
        ("UpDelayMs", s.up_delay_ms),
        ("DownDelayMs", s.down_delay_ms),
        ("Priority", p.priority.map(u32::from)),
        ("Weight", p.weight),
        ("QuotaBytes", p.quota_bytes),
        (
            "MaxOutstandingPerTarget",
            s.traffic.max_outstanding_per_target,
        ),
    ];
    for (key, v) in dwords {
        if let Some(v) = v {
            a = a.with_param(key, RegValue::Dword(v));
        }
    }
    if p.probe {
        // Peer 0 of the fabric answers: the filter's own ARP probe down this path.
        let [a0, a1, a2, a3] = PROBE_TARGET;
        a = a.with_param(
            keys::PROBE_TARGET,
            RegValue::Sz(format!("{a0}.{a1}.{a2}.{a3}")),
        );
    }
    if p.shim {
        // The miniport links mpshim with the defaults docs/miniport-shim.md justifies: its
        // monitor sees every send, completion and link change and reports the path.
        a = a.with_shim(mpshim::contract::Settings::default());
    }
    a
}

/// The address every probed path probes: peer 0 of the fabric.
const PROBE_TARGET: [u8; 4] = [10, 1, 0, 0];

/// The L2 fabric a scenario with a probed path needs: a switch and peers that answer ARP (the
/// probes) but do not echo the flows, so the report's traffic is the same as without one. One peer
/// per traffic target, so each flow frame has a host to reach.
fn fabric(s: &Scenario) -> Option<FabricConfig> {
    if !s.paths.iter().any(|p| p.probe) {
        return None;
    }
    let n = u8::try_from(s.traffic.targets.clamp(1, 255)).unwrap_or(u8::MAX);
    let mut f = FabricConfig::with_peers(n);
    for peer in &mut f.peers {
        peer.echoes = false;
    }
    debug_assert_eq!(f.peers[0].ipv4, PROBE_TARGET);
    Some(f)
}

/// Bytes of each frame: the scenario's, raised to what a flow frame needs.
pub fn frame_bytes(s: &Scenario) -> u64 {
    u64::from(s.traffic.frame_bytes).max(ndis_emu::frames::MIN_FLOW_FRAME as u64)
}

/// The protocol's traffic: fixed-size flow frames in short chains, at the offered rate (or, when
/// saturating, twice what every path together carries), each flow held back by its own window
/// (as a TCP sender is), all of them by the protocol's total.
fn traffic(s: &Scenario) -> TrafficConfig {
    let frame = usize::try_from(frame_bytes(s)).unwrap_or(usize::MAX);
    let bits_per_call = f64::midpoint(1.0, MAX_CHAIN as f64) * frame as f64 * 8.0;
    let offered_mbps = match s.traffic.offered_mbps {
        0 => 2.0 * s.paths.iter().map(|p| f64::from(p.rate_mbps)).sum::<f64>(),
        m => f64::from(m),
    };
    // bits / (Mbit/s) = µs; ×1000 for ns.
    let interval = (bits_per_call * 1_000.0 / offered_mbps).max(1.0);
    let window = (u64::from(s.traffic.window_nbls) * u64::from(s.traffic.flows)).min(MAX_WINDOW);
    TrafficConfig {
        tx_nbls: u64::MAX / 2,
        rx_nbls: 0,
        max_chain: MAX_CHAIN,
        frame_len: (frame, frame),
        window: usize::try_from(window).unwrap_or(usize::MAX),
        // Positive and far below 2^64 ns.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        send_interval: interval as Nanos,
        flows: s.traffic.flows,
        targets: s.traffic.targets,
        flow_window: s.traffic.window_nbls,
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

/// How long the watchdog lets the protocol wait with nothing coming back: beyond the longest
/// stall, pause or all-paths-down time the scenario asks for, so only a filter that really keeps
/// NBLs trips it.
fn progress_timeout(s: &Scenario) -> Nanos {
    let longest_fault = plan::steps(s)
        .iter()
        .map(|st| match st.action {
            Action::Fault(Fault::Stall(d)) => d,
            _ => 0,
        })
        .chain(
            s.events
                .iter()
                .map(|e| u64::from(e.for_ms.unwrap_or(0)) * MS),
        )
        .max()
        .unwrap_or(0);
    longest_fault + 100 * MS
}

/// Runs `s` and measures it; `progress` is called with the fraction of the run done.
///
/// # Errors
/// The driver did not load, an event needs the host build, or the loaded driver bug-checked.
pub fn run(
    s: &Scenario,
    opts: &Options,
    progress: &mut dyn FnMut(f64),
) -> Result<Measured, RunError> {
    let server = match &opts.control {
        None => None,
        Some(path) => Some(control::ControlServer::bind(path).map_err(|e| {
            RunError::Unsupported(format!("control socket {}: {e}", path.display()))
        })?),
    };
    run_serving(s, opts.sys.as_ref(), server, progress)
}

/// [`run`] with an already listening control server (or none).
///
/// # Errors
/// As for [`run`].
pub fn run_serving(
    s: &Scenario,
    sys: Option<&PathBuf>,
    server: Option<control::ControlServer>,
    progress: &mut dyn FnMut(f64),
) -> Result<Measured, RunError> {
    match sys {
        None => run_on(s, DriverImage::Host, server, progress),
        Some(path) => {
            // The PE loader takes a 'static path: the process lives as long as its runs.
            let image: &'static std::path::Path = Box::leak(path.clone().into_boxed_path());
            let s = s.clone();
            // The loaded image runs on its own emulated CPU thread, where a bug check is caught;
            // no progress reports cross it.
            let out = run_guarded(move || {
                let m = run_on(&s, DriverImage::Pe(image), server, &mut |_| {});
                (m, kernel::outstanding_pool())
            });
            match out {
                Ok((Ok(mut m), pool)) => {
                    m.pool_leaks = pool.len();
                    Ok(m)
                }
                Ok((Err(e), _)) => Err(e),
                Err(bug) => Err(RunError::BugCheck(bug.to_string())),
            }
        }
    }
}

fn run_on(
    s: &Scenario,
    image: DriverImage,
    mut server: Option<control::ControlServer>,
    progress: &mut dyn FnMut(f64),
) -> Result<Measured, RunError> {
    let sys = matches!(image, DriverImage::Pe(_));
    let mut emu = Emulator::new(EmuConfig {
        seed: s.seed,
        cpus: CPUS,
        progress_timeout: progress_timeout(s),
        lifecycle_timeout: progress_timeout(s),
        fabric: fabric(s),
        ..EmuConfig::default()
    });
    for i in 0..s.paths.len() {
        emu.add_adapter(member(s, i), if i == 0 { traffic(s) } else { idle() });
    }
    let img = image.load().map_err(RunError::Load)?;
    emu.load(img.entry)
        .map_err(|e| RunError::Load(e.to_string()))?;
    for a in 0..s.paths.len() {
        if !emu.start(a) {
            break;
        }
    }
    let t0 = emu.now();
    drive(&mut emu, s, t0, server.as_mut(), progress);
    if let Some(server) = server.as_mut() {
        server.serve_one(&mut emu);
    }
    emu.end_traffic(0);
    let drain_from = emu.now();
    if !emu.halted() {
        emu.run_until_idle();
    }
    let drain = emu.now() - drain_from;
    let m = collect(&mut emu, s, t0, sys, drain);
    drop(emu);
    drop(img);
    Ok(m)
}

/// Schedules the scenario's faults and runs its duration, stopping for the admin calls and to
/// report progress.
fn drive(
    emu: &mut Emulator,
    s: &Scenario,
    t0: Nanos,
    mut server: Option<&mut control::ControlServer>,
    progress: &mut dyn FnMut(f64),
) {
    let mut admin = Vec::new();
    for st in plan::steps(s) {
        match st.action {
            Action::Fault(f) => {
                let f = match f {
                    Fault::Flap { period, until } => Fault::Flap {
                        period,
                        until: t0 + until,
                    },
                    other => other,
                };
                emu.schedule_fault(st.path, t0 + st.at, f);
            }
            Action::Admin(fail) => admin.push((st.at, st.path, fail)),
        }
    }
    let end = s.duration_ms * MS;
    let slice = (end / SLICES).max(1);
    let mut marks: Vec<Nanos> = (1..=SLICES).map(|k| (k * slice).min(end)).collect();
    marks.extend(admin.iter().map(|a| a.0));
    marks.push(end);
    marks.sort_unstable();
    marks.dedup();
    let mut next_admin = 0;
    for m in marks {
        if emu.halted() {
            break;
        }
        let now = emu.now() - t0;
        if m > now {
            emu.run_for(m - now);
        }
        while next_admin < admin.len() && admin[next_admin].0 <= m {
            let (_, path, fail) = admin[next_admin];
            next_admin += 1;
            // A path that is detached (or in no group) is not found: nothing to do.
            let _ = control::admin(emu, member(s, path).filter_if_index(), fail);
        }
        if let Some(server) = server.as_deref_mut() {
            server.poll(emu);
        }
        progress(ratio(m, end));
    }
}

/// `part / whole` as a fraction.
fn ratio(part: Nanos, whole: Nanos) -> f64 {
    part as f64 / whole as f64
}

/// Reads what the run measured, then detaches every module and unloads the driver (the leak
/// checks).
fn collect(emu: &mut Emulator, s: &Scenario, t0: Nanos, sys: bool, drain: Nanos) -> Measured {
    let d = emu.delivery();
    let arrivals = emu
        .arrivals()
        .into_iter()
        .map(|a| Arrival {
            at: a.at.saturating_sub(t0),
            ..a
        })
        .collect();
    let events = emu
        .diag_events()
        .into_iter()
        .map(|r| (r.at.saturating_sub(t0), r.adapter, r.event))
        .collect();
    let group = if sys {
        None
    } else {
        (0..s.paths.len()).find_map(|a| {
            let ctx = emu.module_context(a) as *mut core::ffi::c_void;
            if ctx.is_null() {
                return None;
            }
            // SAFETY: the context is an attached module's; the host-linked filter runs on this
            // thread only.
            unsafe { mpfilter::driver::group_snapshot(ctx) }
        })
    };
    let wire_bytes = (0..s.paths.len())
        .map(|a| emu.stats(a).wire_tx_bytes)
        .collect();
    let completion_times = emu.completion_times();
    if !emu.halted() {
        for a in 0..s.paths.len() {
            if emu.module_state(a) != ModState::Detached {
                emu.stop(a);
            }
        }
        emu.unload();
    }
    Measured {
        scenario: s.clone(),
        arrivals,
        wire_bytes,
        origin: d.origins[0].clone(),
        completion_times,
        violations: emu.violations(),
        leaks: emu.leaks(),
        events,
        group,
        frame_bytes: frame_bytes(s),
        sys,
        drain,
        pool_leaks: 0,
    }
}
