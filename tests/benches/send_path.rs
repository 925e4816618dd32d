//! The emulated send path, per NBL, of the host-linked mpfilter: what teaming costs over plain
//! pass-through, and what one rerouted NBL costs over one sent on its own adapter.
//!
//! `cargo bench -p ndis-emu --bench send_path` (about 2 minutes on the 2-core machine). Every
//! benchmark iteration is one emulator run: 4 virtual CPUs, adapters started (untimed), then the
//! protocol above adapter 0 sends [`NBLS`] NBLs of 64 TCP flows in chains of up to 8 and the run
//! goes until every NBL is completed (timed), then detach and unload (untimed). Criterion's time
//! is per run: divided by [`NBLS`] it is the emulated send path per NBL — the protocol's send,
//! the filter, the miniport and its wire, the completion back up — and criterion's throughput
//! line is NBLs per second.
//!
//! The time is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`): the emulator runs
//! on that one thread and never sleeps or waits, so on a quiet machine it equals the wall time,
//! and on a shared one it leaves out the time other processes held the core (which the wall
//! clock adds to whichever benchmark happens to run then). `SEND_PATH_CLOCK=wall` measures the
//! wall time instead.
//!
//! Each run is deterministic (fixed seed) and checked: every NBL delivered once and completed
//! with success, each wire carrying what the configuration says, no rule violation, no leak — a
//! benchmark that silently stopped teaming fails instead of getting faster. The figures, how to
//! count instructions instead (callgrind) and how the time splits between the filter and the
//! emulator: docs/performance.md, "The teamed send path".
//!
//! - `send_path/passthrough_4`: 4 adapters, no GroupId: mpfilter attaches to each and passes
//!   traffic through (the baseline: the emulator's own cost plus mpfilter's pass-through).
//! - `send_path/teamed_speed_share_4`: the same 4 adapters in one group, policy speed-share
//!   with flowlets (the default 500 µs gap): the engine picks every NBL's path, and the NBLs it
//!   places on the 3 other members go down their stacks as clones.
//! - `reroute/direct_2` and `reroute/rerouted_2`: a 2-member failover group where the member
//!   with the lower Priority is adapter 0 (every NBL stays on its own adapter) or adapter 1
//!   (every NBL becomes a clone sent, completed and freed on the other member): the difference is
//!   the price of one reroute.
//!
//! Only one emulator lives on a thread at a time, so the runs are sequential; the machine's other
//! load shows in the spread of the samples, not in the runs' work.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndis_emu::config::RegValue;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, TrafficConfig};
use rustix::time::{ClockId, clock_gettime};

/// NBLs the protocol above adapter 0 sends in one run.
const NBLS: u64 = 20_000;
/// Flows those NBLs belong to (Ethernet + IPv4 + TCP frames, so the filter reads real flow keys).
const FLOWS: u32 = 64;

/// What a run's time is measured with.
#[derive(Clone, Copy)]
enum Clock {
    /// The benchmark thread's CPU time.
    ThreadCpu,
    /// The wall clock.
    Wall,
}

impl Clock {
    /// `SEND_PATH_CLOCK`: `cpu` (the default) or `wall`.
    fn from_env() -> Self {
        match std::env::var("SEND_PATH_CLOCK").as_deref() {
            Err(_) | Ok("cpu") => Clock::ThreadCpu,
            Ok("wall") => Clock::Wall,
            Ok(other) => panic!("SEND_PATH_CLOCK={other}: expected cpu or wall"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Clock::ThreadCpu => "the thread's CPU time (SEND_PATH_CLOCK=wall for the wall clock)",
            Clock::Wall => "the wall clock",
        }
    }

    /// How long `f` took by this clock.
    fn time(self, f: impl FnOnce()) -> Duration {
        match self {
            Clock::Wall => {
                let start = Instant::now();
                f();
                start.elapsed()
            }
            Clock::ThreadCpu => {
                let start = thread_cpu_time();
                f();
                thread_cpu_time()
                    .checked_sub(start)
                    .expect("a thread's CPU time only grows")
            }
        }
    }
}

fn thread_cpu_time() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    let secs = u64::try_from(t.tv_sec).expect("CPU time is not negative");
    let nanos = u32::try_from(t.tv_nsec).expect("nanoseconds below 10^9");
    Duration::new(secs, nanos)
}

/// Which wires a configuration must put adapter 0's NBLs on.
#[derive(Clone, Copy)]
enum Spread {
    /// All on wire `n`.
    Only(usize),
    /// Some on every wire.
    Every,
}

/// One benchmarked configuration: its adapters and where their traffic must go.
struct Setup {
    members: Vec<AdapterConfig>,
    spread: Spread,
}

/// The traffic of every adapter: none at start (it is added once all members are running), and
/// for adapter 0's protocol, chains of flow frames sent fast enough to keep every wire busy.
fn traffic() -> TrafficConfig {
    TrafficConfig {
        tx_nbls: 0,
        rx_nbls: 0,
        max_chain: 8,
        frame_len: (300, 1500),
        send_interval: 2_000,
        window: 256,
        flows: FLOWS,
        ..TrafficConfig::default()
    }
}

/// A member of group 1 with `policy`, no up or down delay, immediate failback, plus `extra`.
fn member(index: u8, policy: &str, extra: &[(&str, RegValue)]) -> AdapterConfig {
    let mut a = AdapterConfig::numbered(index)
        .with_param("GroupId", RegValue::Dword(1))
        .with_param("Policy", RegValue::Sz(policy.into()))
        .with_param("Failback", RegValue::Sz("immediate".into()))
        .with_param("UpDelayMs", RegValue::Dword(0))
        .with_param("DownDelayMs", RegValue::Dword(0));
    for (k, v) in extra {
        a = a.with_param(k, v.clone());
    }
    a
}

fn passthrough_4() -> Setup {
    Setup {
        members: (0..4).map(AdapterConfig::numbered).collect(),
        spread: Spread::Only(0),
    }
}

fn teamed_speed_share_4() -> Setup {
    Setup {
        members: (0..4).map(|i| member(i, "speed-share", &[])).collect(),
        spread: Spread::Every,
    }
}

/// A 2-member failover group whose preferred member (the lower Priority) is `preferred`.
fn failover_2(preferred: u8) -> Setup {
    let priority = |i: u8| RegValue::Dword(u32::from(i != preferred));
    Setup {
        members: (0..2)
            .map(|i| member(i, "failover", &[("Priority", priority(i))]))
            .collect(),
        spread: Spread::Only(usize::from(preferred)),
    }
}

/// One run of `setup`; returns the time from the first send to the last completion.
fn run(setup: &Setup, clock: Clock) -> Duration {
    let mut emu = Emulator::new(EmuConfig {
        seed: 9,
        cpus: 4,
        ..EmuConfig::default()
    });
    for m in &setup.members {
        emu.add_adapter(m.clone(), traffic());
    }
    let image = DriverImage::Host.load().expect("the host image");
    emu.load(image.entry).expect("mpfilter loads");
    for a in 0..emu.adapter_count() {
        assert!(emu.start(a), "{:?}", emu.violations());
    }

    let elapsed = clock.time(|| {
        emu.add_traffic(0, NBLS, 0);
        assert!(emu.run_until_idle(), "{:?}", emu.violations());
    });

    let delivery = emu.delivery();
    let o = &delivery.origins[0];
    assert_eq!(
        (o.sent, o.completed_ok, o.delivered, o.lost, o.duplicates),
        (NBLS, NBLS, NBLS, 0, 0),
        "{o:?}"
    );
    let wires = &delivery.per_wire;
    let spread_ok = match setup.spread {
        Spread::Only(w) => wires[w] == NBLS,
        Spread::Every => wires.iter().all(|&n| n > 0),
    };
    assert!(spread_ok, "wires {wires:?}");
    for a in 0..emu.adapter_count() {
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    elapsed
}

/// Benchmarks `setup` as `name` in `group`: the summed time of `iters` runs.
fn bench_runs(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    setup: &Setup,
    clock: Clock,
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run(setup, clock)).sum());
    });
}

fn send_path(c: &mut Criterion) {
    let clock = Clock::from_env();
    eprintln!("send_path: timing runs by {}", clock.name());
    let mut group = c.benchmark_group("send_path");
    group.throughput(Throughput::Elements(NBLS));
    bench_runs(&mut group, "passthrough_4", &passthrough_4(), clock);
    bench_runs(
        &mut group,
        "teamed_speed_share_4",
        &teamed_speed_share_4(),
        clock,
    );
    group.finish();
}

fn reroute(c: &mut Criterion) {
    let clock = Clock::from_env();
    let mut group = c.benchmark_group("reroute");
    group.throughput(Throughput::Elements(NBLS));
    bench_runs(&mut group, "direct_2", &failover_2(0), clock);
    bench_runs(&mut group, "rerouted_2", &failover_2(1), clock);
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = send_path, reroute
}
criterion_main!(benches);
