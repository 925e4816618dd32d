//! Path-engine benchmarks: `select` + `on_send` + `on_complete` per NBL, for every policy at 2, 4, 8
//! and 16 paths, on one thread and on two threads at once (each thread its own CPU index, the same
//! group). Time is a synthetic counter: the engine never reads a clock.
//!
//! `cargo bench -p mpfilter --bench engine`. Each benchmark reports nanoseconds per NBL as seen by
//! one thread (with two threads, both run the loop concurrently and the wall time is divided by the
//! per-thread iteration count). A `tick` group measures the control plane's periodic work on a
//! 64-CPU group. In the `nbl_*` rows the clock restarts with every criterion batch, so after the
//! first batch most flow-table entries look fresh and flowlet rows mostly measure pinned NBLs;
//! the `flowlet_start_*` group keeps the clock running, so that most NBLs start a new flowlet.
//!
//! Just the 1- vs 2-thread comparison at 4 paths (about 45 s):
//! `cargo bench -p mpfilter --bench engine -- 'nbl_[12]t/[^/]+/4$'`; criterion's
//! `--measurement-time` / `--warm-up-time` override the defaults below.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mpfilter::engine::{
    Completion, CompletionStatus, FlowKey, GroupConfig, HashLayer, PathConfig, PathGroup,
    PolicyConfig, QuotaConfig, Selection, SendRequest, ShareScheduler, SpeedShareConfig, TargetKey,
    US,
};

fn policies() -> Vec<(&'static str, PolicyConfig, u64)> {
    let ss = |scheduler| {
        PolicyConfig::SpeedShare(SpeedShareConfig {
            scheduler,
            ..SpeedShareConfig::default()
        })
    };
    vec![
        ("failover", PolicyConfig::FailoverOnly, 0),
        ("round_robin", PolicyConfig::RoundRobin, 0),
        ("weighted_paths", PolicyConfig::WeightedPaths, 0),
        ("least_queue", PolicyConfig::LeastQueueDepth, 0),
        ("least_blocks", PolicyConfig::LeastBlocks, 0),
        ("hash_l34", PolicyConfig::AddressHash(HashLayer::Layer34), 0),
        ("service_time", PolicyConfig::ServiceTime, 0),
        (
            "quota",
            PolicyConfig::Quota(QuotaConfig {
                max_outstanding_per_target: 64,
                target_slots: 64,
            }),
            0,
        ),
        (
            "quota_nocap",
            PolicyConfig::Quota(QuotaConfig {
                max_outstanding_per_target: 0,
                target_slots: 1,
            }),
            0,
        ),
        ("speed_share_wrr", ss(ShareScheduler::SmoothWrr), 0),
        ("speed_share_eft", ss(ShareScheduler::EarliestFinish), 0),
        (
            "speed_share_eft_flowlet",
            ss(ShareScheduler::EarliestFinish),
            500 * US,
        ),
        ("round_robin_flowlet", PolicyConfig::RoundRobin, 500 * US),
    ]
}

fn build(policy: PolicyConfig, paths: usize, gap: u64) -> PathGroup {
    build_cpus(policy, paths, gap, 2)
}

fn build_cpus(policy: PolicyConfig, paths: usize, gap: u64, cpus: u32) -> PathGroup {
    let mut p = vec![PathConfig::default(); paths];
    for (i, c) in p.iter_mut().enumerate() {
        c.link_speed_bps = 1_000_000_000 * (1 + i as u64 % 4);
        c.quota_bytes = 16 * 1024 * (1 + u32::try_from(i % 3).unwrap());
    }
    let mut cfg = GroupConfig::new(p, policy);
    cfg.flowlet.gap_ns = gap;
    cfg.cpus = cpus;
    let mut g = PathGroup::new(cfg).unwrap();
    g.tick(1);
    g
}

/// One NBL: select, send, complete. Returns the updated clock.
#[inline]
fn one(g: &PathGroup, cpu: u32, i: u64, now: u64) -> u64 {
    let now = now + 700;
    // Flows from a 24-bit space, a different sequence per CPU (CPUs send different flows; with
    // the same sequence in lockstep both threads would fight over the same flow-table entries).
    let flow = (i + (u64::from(cpu) << 40)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    let req = SendRequest {
        flow: FlowKey {
            l2: flow,
            l34: flow,
        },
        len: 1514 - u32::try_from(i & 511).unwrap(),
        target: TargetKey(i & 7),
        cpu,
    };
    if let Selection::Path(p) = g.select(black_box(&req), now) {
        g.on_send(p, &req, now);
        let c = Completion {
            path: p,
            len: req.len,
            target: req.target,
            cpu,
            status: CompletionStatus::Ok,
            latency_ns: 650,
        };
        black_box(g.on_complete(&c, now + 650));
    }
    now
}

fn run(g: &PathGroup, cpu: u32, iters: u64) {
    let mut now = 10;
    for i in 0..iters {
        now = one(g, cpu, i, now);
    }
}

/// `iters` NBLs from NBL number `from.0` at time `from.1`; returns where the next batch starts.
fn run_from(g: &PathGroup, cpu: u32, iters: u64, from: (u64, u64)) -> (u64, u64) {
    let (first, mut now) = from;
    for i in first..first + iters {
        now = one(g, cpu, i, now);
    }
    (first + iters, now)
}

/// Flowlet starts: the clock runs on across criterion's batches, so a flow-table entry is seen
/// again only after about 4096 NBLs (2.9 ms of synthetic time, past the 500 µs gap) unless another
/// flow hit it in between — about four NBLs in five (two in three with two threads) start a
/// flowlet and are placed by the policy.
fn flowlet_starts(c: &mut Criterion) {
    let rows = [
        (
            "speed_share_eft",
            PolicyConfig::SpeedShare(SpeedShareConfig::default()),
        ),
        ("round_robin", PolicyConfig::RoundRobin),
    ];
    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("flowlet_start_{threads}t"));
        for (name, policy) in rows {
            for paths in [4usize, 16] {
                let g = build(policy, paths, 500 * US);
                let mut at = [(0u64, 10u64); 2];
                group.bench_with_input(BenchmarkId::new(name, paths), &paths, |b, _| {
                    b.iter_custom(|iters| {
                        let t = Instant::now();
                        if threads == 1 {
                            at[0] = run_from(&g, 0, iters, at[0]);
                        } else {
                            let (a0, a1) = (at[0], at[1]);
                            let other = std::thread::scope(|s| {
                                let h = s.spawn(|| run_from(&g, 1, iters, a1));
                                at[0] = run_from(&g, 0, iters, a0);
                                h.join().unwrap()
                            });
                            at[1] = other;
                        }
                        t.elapsed()
                    });
                });
            }
        }
        group.finish();
    }
}

/// The loop without the engine: building the request and completion records only. Subtract it
/// from the other rows to get the engine's own cost.
fn harness(c: &mut Criterion) {
    let mut group = c.benchmark_group("harness");
    group.bench_function("no_engine", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            let mut now = 10u64;
            for i in 0..iters {
                now += 700;
                let flow = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
                let req = SendRequest {
                    flow: FlowKey {
                        l2: flow,
                        l34: flow,
                    },
                    len: 1514 - u32::try_from(i & 511).unwrap(),
                    target: TargetKey(i & 7),
                    cpu: 0,
                };
                let req = black_box(&req);
                let c = Completion {
                    path: mpfilter::engine::PathId::new(usize::try_from(i & 3).unwrap()).unwrap(),
                    len: req.len,
                    target: req.target,
                    cpu: 0,
                    status: CompletionStatus::Ok,
                    latency_ns: 650,
                };
                black_box((&c, now));
            }
            t.elapsed()
        });
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("nbl_{threads}t"));
        for (name, policy, gap) in policies() {
            for paths in [2usize, 4, 8, 16] {
                let g = build(policy, paths, gap);
                group.bench_with_input(BenchmarkId::new(name, paths), &paths, |b, _| {
                    b.iter_custom(|iters| {
                        if threads == 1 {
                            let t = Instant::now();
                            run(&g, 0, iters);
                            t.elapsed()
                        } else {
                            let t = Instant::now();
                            std::thread::scope(|s| {
                                s.spawn(|| run(&g, 1, iters));
                                run(&g, 0, iters);
                            });
                            t.elapsed()
                        }
                    });
                });
            }
        }
        group.finish();
    }
}

/// `tick` on a 64-CPU group after traffic on every CPU: what publishing the in-flight views
/// (least-queue, service-time) or summing the busy times (speed-share) costs the control plane,
/// against round robin's tick (state machine only).
fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick_64cpu");
    let chosen = [
        "round_robin",
        "least_queue",
        "service_time",
        "speed_share_eft",
    ];
    for (name, policy, gap) in policies().into_iter().filter(|p| chosen.contains(&p.0)) {
        for paths in [4usize, 16] {
            let mut g = build_cpus(policy, paths, gap, 64);
            for cpu in 0..64 {
                run(&g, cpu, 64);
            }
            // Time must move forward across criterion's calls of the routine (speed-share only
            // measures a period that has a length).
            let mut now = 1_000_000u64;
            group.bench_with_input(BenchmarkId::new(name, paths), &paths, |b, _| {
                b.iter(|| {
                    now += 1_000_000;
                    black_box(g.tick(now))
                });
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = harness, bench, tick, flowlet_starts
}
criterion_main!(benches);
