//! Balancing on the teamed send path, measured at the far ends of the wires (issue 9, scenarios
//! d, i and j): what a policy gets out of paths of unequal speed, how speed-share's shares follow
//! a path whose rate drops, and every policy side by side over the same three paths.
//!
//! The protocol above adapter 0 sends frames of one length ([`FRAME`]) in 64 flows, so frames
//! counted at the far ends are bytes; it tries to send far more than the paths carry, and only its
//! window holds it back (each run checks the window is full halfway through). Goodput is the
//! frame bytes delivered at the far ends divided by the virtual time from the first arrival to
//! the last — the whole transfer, start-up and the drain at the end included; preamble, start
//! delimiter, FCS and inter-frame gap (24 bytes a frame on the emulated wire) are not goodput,
//! so 1514-byte frames get at most 98.4 % of the link rate. Every run ends with detach and unload
//! with no rule violation and no leak, and loses nothing. Figures and what limits them:
//! docs/balancing.md; tables: `cargo test -p ndis-emu --test team_balance -- --nocapture`.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]
// Rates and shares are printed and compared as f64; the counts and times they come from are far
// below 2^52.
#![allow(clippy::cast_precision_loss)]

mod common;

use common::idle;

use ndis_emu::config::RegValue;
use ndis_emu::ledger::{Arrival, OriginReport};
use ndis_emu::sched::Nanos;
use ndis_emu::wire::Fault;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, TrafficConfig};
use std::fmt::Write as _;

const MS: u64 = 1_000_000;
const MBPS: u64 = 1_000_000;
const GBPS: u64 = 1_000 * MBPS;
/// The length of every frame (the Ethernet maximum without FCS).
const FRAME_LEN: usize = 1514;
const FRAME: u64 = FRAME_LEN as u64;
/// Longest chain the protocol sends at once.
const MAX_CHAIN: usize = 16;

/// A team member: GroupId 1, `policy`, immediate failback without delays, plus `extra`.
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

/// `n` frames in 64 flows: a send attempt every microsecond with a chain of 1 to 16 frames, on
/// average 8.5 × 1514 bytes a microsecond (about 100 Gbit/s) whenever the window has room.
fn saturating(n: u64, window: usize) -> TrafficConfig {
    TrafficConfig {
        tx_nbls: n,
        rx_nbls: 0,
        max_chain: MAX_CHAIN,
        frame_len: (FRAME_LEN, FRAME_LEN),
        send_interval: 1_000,
        window,
        flows: 64,
        ..TrafficConfig::default()
    }
}

/// One run: the team, adapter 0's traffic, faults at offsets from the start.
#[derive(Clone)]
struct Scenario {
    seed: u64,
    members: Vec<AdapterConfig>,
    traffic: TrafficConfig,
    faults: Vec<(usize, u64, Fault)>,
}

/// What a run measured.
struct Outcome {
    /// The far ends' account of adapter 0's frames.
    origin: OriginReport,
    /// Every frame that left a wire, in arrival order.
    arrivals: Vec<Arrival>,
    /// When the stacks were up (the faults' offsets count from here).
    start: Nanos,
    /// When the protocol made its last send: until then it had frames to offer.
    last_send: Nanos,
    /// NBLs the protocol had outstanding once it had sent half its frames.
    outstanding_halfway: u64,
}

/// Boots the team on `image`, applies the faults, runs the traffic to its end, detaches every
/// member, unloads: no violation, no leak, no frame damaged on any wire.
fn run_on(s: &Scenario, image: DriverImage) -> Outcome {
    let mut emu = Emulator::new(EmuConfig {
        seed: s.seed,
        cpus: 4,
        ..EmuConfig::default()
    });
    for (i, m) in s.members.iter().enumerate() {
        emu.add_adapter(m.clone(), if i == 0 { s.traffic.clone() } else { idle() });
    }
    let img = image.load().expect("image");
    emu.load(img.entry).expect("mpfilter loads");
    for a in 0..emu.adapter_count() {
        assert!(emu.start(a), "{:?}", emu.violations());
    }
    let start = emu.now();
    for &(a, at, fault) in &s.faults {
        emu.schedule_fault(a, start + at, fault);
    }
    let n = s.traffic.tx_nbls;
    assert!(
        emu.run_until(|v| v.stats(0).tx_sent >= n / 2),
        "{:?}",
        emu.violations()
    );
    let st = emu.stats(0);
    let outstanding_halfway = st.tx_sent - st.tx_completed;
    assert!(
        emu.run_until(|v| v.stats(0).tx_sent >= n),
        "{:?}",
        emu.violations()
    );
    let last_send = emu.now();
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let origin = emu.delivery().origins[0].clone();
    let arrivals = emu.arrivals();
    for a in 0..emu.adapter_count() {
        assert_eq!(emu.stats(a).wire_tx_bad, 0, "adapter {a}: intact frames");
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    drop(img);
    Outcome {
        origin,
        arrivals,
        start,
        last_send,
        outstanding_halfway,
    }
}

/// The run on the loaded `mpfilter.sys`, on its own emulated CPU thread: a bug check fails the
/// test, and the driver's pool must be empty after unload.
fn run_sys(s: &Scenario) -> Outcome {
    let s = s.clone();
    common::on_sys(move |image| run_on(&s, image))
}

/// Runs `s` on the host build or the loaded `.sys`.
fn run(s: &Scenario, sys: bool) -> Outcome {
    if sys {
        run_sys(s)
    } else {
        run_on(s, DriverImage::Host)
    }
}

/// Nothing lost, nothing duplicated, every NBL completed with success and delivered.
fn assert_all_delivered(o: &OriginReport, n: u64) {
    assert_eq!(o.sent, n, "{o:?}");
    assert_eq!(o.completed_ok, n, "{o:?}");
    assert_eq!(o.delivered, n, "{o:?}");
    assert_eq!((o.lost, o.duplicates, o.silently_lost), (0, 0, 0), "{o:?}");
}

/// The protocol had (nearly) its whole window outstanding halfway through: it was held back by
/// the paths, not short of frames to offer.
fn assert_window_full(o: &Outcome, window: usize) {
    let window = window as u64;
    assert!(
        o.outstanding_halfway + 2 * MAX_CHAIN as u64 >= window,
        "{} of {window} outstanding: the sender, not the paths, limited the rate",
        o.outstanding_halfway
    );
}

/// Goodput in bits per second: frame bytes that arrived after the first arrival, over the time
/// from the first arrival to the last.
fn goodput_bps(arrivals: &[Arrival]) -> u64 {
    let (Some(first), Some(last)) = (arrivals.first(), arrivals.last()) else {
        return 0;
    };
    let bits = u128::from(arrivals.len() as u64 - 1) * u128::from(FRAME) * 8;
    let ns = u128::from((last.at - first.at).max(1));
    u64::try_from(bits * 1_000_000_000 / ns).unwrap_or(u64::MAX)
}

/// Frames that arrived on each of `wires` wires in `[from, to)`.
fn frames_per_wire(arrivals: &[Arrival], wires: usize, from: Nanos, to: Nanos) -> Vec<u64> {
    let mut n = vec![0; wires];
    for a in arrivals.iter().filter(|a| (from..to).contains(&a.at)) {
        n[a.wire] += 1;
    }
    n
}

/// How many distinct flows each of `wires` wires carried.
fn flows_per_wire(arrivals: &[Arrival], wires: usize) -> Vec<usize> {
    let mut seen = vec![std::collections::BTreeSet::new(); wires];
    for a in arrivals {
        seen[a.wire].insert(a.key.flow);
    }
    seen.iter().map(std::collections::BTreeSet::len).collect()
}

/// Each wire's share of the frames (fractions summing to 1; zeros when nothing arrived).
fn shares(frames: &[u64]) -> Vec<f64> {
    let total = frames.iter().sum::<u64>().max(1) as f64;
    frames.iter().map(|&f| f as f64 / total).collect()
}

/// Gbit/s with two decimals, and the percentage of `of` bits per second.
fn rate(bps: u64, of: u64) -> String {
    format!(
        "{:6.2} Gb/s {:5.1} %",
        bps as f64 / 1e9,
        bps as f64 * 100.0 / of as f64
    )
}

// ---------------------------------------------------------------------------------------------
// (d) 10G / 10G / 1G, 64 flows: speed-share with flowlets against round-robin.

/// The three paths of (d) and (j): 10, 10 and 1 Gbit/s, 21 Gbit/s together.
const SPEEDS: [u64; 3] = [10 * GBPS, 10 * GBPS, GBPS];
const SUM_OF_SPEEDS: u64 = 21 * GBPS;
/// Window of (d) and (j): enough to keep every path busy (each run checks it is full).
const WINDOW: usize = 512;

/// The (d)/(j) team with `policy` and per-member `extra` keys (FlowletGapUs left at its default
/// of 500 µs unless `extra` sets it).
fn three_paths(
    seed: u64,
    n: u64,
    policy: &str,
    extra: impl Fn(usize) -> Vec<(&'static str, RegValue)>,
) -> Scenario {
    Scenario {
        seed,
        members: SPEEDS
            .iter()
            .enumerate()
            .map(|(i, &speed)| member(u8::try_from(i).unwrap(), speed, policy, &extra(i)))
            .collect(),
        traffic: saturating(n, WINDOW),
        faults: vec![],
    }
}

const D_NBLS: u64 = 20_000;
/// The seed of (d) and its twin.
const D_SEED: u64 = 41;
/// Further seeds (d) must hold for (the emulator's CPU draws and the flows' order differ).
const D_MORE_SEEDS: [u64; 6] = [1, 2, 3, 4, 5, 6];

/// Speed-share's goodput in (d) with `seed` (checked, with round-robin's beside it when `rr`),
/// printed as a table row.
fn d_run(seed: u64, rr: bool, sys: bool) -> u64 {
    let speed = run(&three_paths(seed, D_NBLS, "speed-share", |_| vec![]), sys);
    let rr = rr.then(|| run(&three_paths(seed, D_NBLS, "round-robin", |_| vec![]), sys));
    let mut table = format!("(d) 10G/10G/1G, 64 flows, FlowletGapUs 500 (default), seed {seed}\n");
    for (name, o) in [("speed-share", Some(&speed)), ("round-robin", rr.as_ref())] {
        let Some(o) = o else { continue };
        assert_all_delivered(&o.origin, D_NBLS);
        assert_window_full(o, WINDOW);
        let wires = frames_per_wire(&o.arrivals, 3, 0, Nanos::MAX);
        writeln!(
            table,
            "{name:<12} goodput {} of 21 Gb/s, frames per wire {wires:?}, flows per wire {:?}, \
             reordered {}",
            rate(goodput_bps(&o.arrivals), SUM_OF_SPEEDS),
            flows_per_wire(&o.arrivals, 3),
            o.origin.reordered
        )
        .unwrap();
    }
    println!("{table}");
    goodput_bps(&speed.arrivals)
}

fn assert_95_percent(g: u64, seed: u64) {
    assert!(
        g * 100 >= SUM_OF_SPEEDS * 95,
        "speed-share, seed {seed}: {} of 21 Gb/s, below 95 %",
        rate(g, SUM_OF_SPEEDS)
    );
}

fn d_check(sys: bool) {
    assert_95_percent(d_run(D_SEED, true, sys), D_SEED);
}

fn d_seeds_check(sys: bool) {
    let goodputs: Vec<(u64, u64)> = D_MORE_SEEDS
        .iter()
        .map(|&seed| (seed, d_run(seed, false, sys)))
        .collect();
    for (seed, g) in goodputs {
        assert_95_percent(g, seed);
    }
}

#[test]
fn d_speed_share_with_flowlets_delivers_95_percent_of_21_gbps_over_10g_10g_1g() {
    d_check(false);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_balance -- --ignored"]
fn sys_d_speed_share_with_flowlets_delivers_95_percent_of_21_gbps_over_10g_10g_1g() {
    d_check(true);
}

#[test]
fn d_speed_share_with_flowlets_delivers_95_percent_for_seeds_1_to_6() {
    d_seeds_check(false);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_balance -- --ignored"]
fn sys_d_speed_share_with_flowlets_delivers_95_percent_for_seeds_1_to_6() {
    d_seeds_check(true);
}

// ---------------------------------------------------------------------------------------------
// (i) Speed-share after the fastest path's rate drops.

/// (i): 200, 100 and 20 Mbit/s; path 0 drops to 40 Mbit/s after 50 ms. Slow links, so that the
/// second and a half of virtual time the estimates need costs few frames (the estimator's
/// half-life is 100 ms of busy time whatever the speed).
const I_SPEEDS: [u64; 3] = [200 * MBPS, 100 * MBPS, 20 * MBPS];
const I_DROPPED: u64 = 40 * MBPS;
const I_DROP_AT: u64 = 50 * MS;
/// Shares are measured in windows of this length.
const I_WINDOW: u64 = 50 * MS;
const I_NBLS: u64 = 24_000;
/// Largest difference between a wire's share and its path's share of the speeds.
const I_TOLERANCE: f64 = 0.02;
/// Windows that must follow convergence (half a second) for "from then on" to mean something.
const I_WINDOWS_AFTER: usize = 10;

/// FlowletGapUs 0: every NBL is placed by the scheduler. With flowlets the 64 flows, never idle
/// for 500 us, would stay where they were first placed, whatever the shares (see (d)).
fn i_scenario() -> Scenario {
    Scenario {
        seed: 9,
        members: I_SPEEDS
            .iter()
            .enumerate()
            .map(|(i, &speed)| {
                member(
                    u8::try_from(i).unwrap(),
                    speed,
                    "speed-share",
                    &[("FlowletGapUs", RegValue::Dword(0))],
                )
            })
            .collect(),
        traffic: saturating(I_NBLS, 256),
        faults: vec![(0, I_DROP_AT, Fault::Rate(I_DROPPED))],
    }
}

fn i_check(sys: bool) {
    let o = run(&i_scenario(), sys);
    assert_all_delivered(&o.origin, I_NBLS);
    assert_window_full(&o, 256);
    let speeds = [I_DROPPED, I_SPEEDS[1], I_SPEEDS[2]];
    let total: u64 = speeds.iter().sum();
    let want: Vec<f64> = speeds.iter().map(|&s| s as f64 / total as f64).collect();
    // Whole windows from the drop until the protocol's last send (the drain after it is not
    // balancing).
    let drop = o.start + I_DROP_AT;
    let whole = o.last_send.saturating_sub(drop) / I_WINDOW;
    let windows: Vec<(Nanos, Vec<f64>)> = (0..whole)
        .map(|k| drop + k * I_WINDOW)
        .map(|w| (w, shares(&frames_per_wire(&o.arrivals, 3, w, w + I_WINDOW))))
        .collect();
    let off = |s: &[f64]| {
        s.iter()
            .zip(&want)
            .map(|(s, w)| (s - w).abs())
            .fold(0.0, f64::max)
    };
    let converged = windows
        .iter()
        .rposition(|(_, s)| off(s) > I_TOLERANCE)
        .map_or(0, |last_bad| last_bad + 1);
    let mut table = format!(
        "(i) speed-share, FlowletGapUs 0, {I_SPEEDS:?} b/s, path 0 to {I_DROPPED} b/s at {} ms; \
         wanted shares {want:.3?}\n",
        I_DROP_AT / MS
    );
    for (w, s) in &windows {
        writeln!(
            table,
            "  {:>5} ms after the drop: shares {s:.3?}, off by {:.3}",
            (w - drop) / MS,
            off(s)
        )
        .unwrap();
    }
    let after = windows.len().saturating_sub(converged);
    match windows.get(converged) {
        Some((w, _)) => writeln!(
            table,
            "converged (every later {} ms window within {I_TOLERANCE} of the wanted shares) \
             {} ms after the drop; {after} windows after it",
            I_WINDOW / MS,
            (w - drop) / MS
        )
        .unwrap(),
        None => writeln!(table, "never converged").unwrap(),
    }
    println!("{table}");
    assert!(
        after >= I_WINDOWS_AFTER,
        "shares within {I_TOLERANCE} of {want:.3?} for only the last {after} windows"
    );
}

#[test]
fn i_speed_share_shares_follow_the_fastest_paths_rate_drop_to_within_2_percent() {
    i_check(false);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_balance -- --ignored"]
fn sys_i_speed_share_shares_follow_the_fastest_paths_rate_drop_to_within_2_percent() {
    i_check(true);
}

// ---------------------------------------------------------------------------------------------
// (j) Every policy over the same three paths.

const J_NBLS: u64 = 8_000;

/// A member's registry keys, by member index.
type Keys = fn(usize) -> Vec<(&'static str, RegValue)>;

/// Every policy (its name, its keys in words, its keys), with the member keys that make it
/// meaningful over 10G/10G/1G.
fn policies() -> Vec<(&'static str, &'static str, Keys)> {
    fn none(_: usize) -> Vec<(&'static str, RegValue)> {
        vec![]
    }
    // Weighted prefers the lowest weight (the two 10G paths); service-time takes weights as
    // relative throughput; quota sends QuotaBytes per path per round.
    fn weighted(p: usize) -> Vec<(&'static str, RegValue)> {
        vec![("Weight", RegValue::Dword([1, 1, 10][p]))]
    }
    fn service_time(p: usize) -> Vec<(&'static str, RegValue)> {
        vec![("Weight", RegValue::Dword([10, 10, 1][p]))]
    }
    fn quota(p: usize) -> Vec<(&'static str, RegValue)> {
        vec![("QuotaBytes", RegValue::Dword([655_360, 655_360, 65_536][p]))]
    }
    vec![
        ("failover", "", none),
        ("round-robin", "", none),
        ("weighted", "Weight 1/1/10", weighted),
        ("lqd", "", none),
        ("least-blocks", "", none),
        ("hash", "", none),
        ("service-time", "Weight 10/10/1", service_time),
        ("quota", "QuotaBytes 640K/640K/64K", quota),
        ("speed-share", "", none),
    ]
}

/// Runs every policy with FlowletGapUs `gap_us` and prints one table; every run delivers
/// everything.
fn j_check(gap_us: u32, sys: bool) {
    let mut table = format!(
        "(j) 10G/10G/1G, 64 flows, {J_NBLS} frames of {FRAME} bytes, FlowletGapUs {gap_us}\n\
         | policy | keys | goodput Gb/s | % of 21 Gb/s | frames per wire | reordered | lost |\n\
         |---|---|---|---|---|---|---|\n"
    );
    for (policy, keys, extra) in policies() {
        let s = three_paths(43, J_NBLS, policy, |p| {
            let mut e = extra(p);
            e.push(("FlowletGapUs", RegValue::Dword(gap_us)));
            e
        });
        let o = run(&s, sys);
        assert_all_delivered(&o.origin, J_NBLS);
        assert_window_full(&o, WINDOW);
        let g = goodput_bps(&o.arrivals);
        let wires = frames_per_wire(&o.arrivals, 3, 0, Nanos::MAX);
        writeln!(
            table,
            "| {policy} | {keys} | {:.2} | {:.1} | {} | {} | {} |",
            g as f64 / 1e9,
            g as f64 * 100.0 / SUM_OF_SPEEDS as f64,
            wires
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" / "),
            o.origin.reordered,
            o.origin.lost
        )
        .unwrap();
    }
    println!("{table}");
}

#[test]
fn j_every_policy_over_10g_10g_1g_with_flowlets_loses_nothing() {
    j_check(500, false);
}

#[test]
fn j_every_policy_over_10g_10g_1g_per_packet_loses_nothing() {
    j_check(0, false);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_balance -- --ignored"]
fn sys_j_every_policy_over_10g_10g_1g_with_flowlets_loses_nothing() {
    j_check(500, true);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_balance -- --ignored"]
fn sys_j_every_policy_over_10g_10g_1g_per_packet_loses_nothing() {
    j_check(0, true);
}
