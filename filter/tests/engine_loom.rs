//! loom model checks of the engine's lock-free pieces. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p mpfilter --release --test engine_loom`.
//!
//! The engine sources are compiled into this test crate (`#[path]` below); under `--cfg loom` in a
//! test crate the engine's sync shim (`engine/sync.rs`) uses loom's atomics, so these models check
//! the real engine code: per-CPU counters and the tick-published in-flight views, selection
//! against eligible-set publication, the flow-table entry update race, the quota reservation CAS, the
//! quota credit leases, the two-slot share board and speed-share's shared flowlet order.
#![cfg(loom)]
#![allow(missing_docs)]

extern crate alloc;

#[allow(dead_code, unused_imports, clippy::all, clippy::pedantic)]
#[path = "../src/engine/mod.rs"]
mod engine;

use engine::shares::{ShareBoard, weight_of};
use engine::sync::Ordering;
use engine::{
    Completion, CompletionStatus, FlowKey, GroupConfig, PathConfig, PathEvent, PathGroup, PathId,
    PolicyConfig, QuotaConfig, Selection, SendRequest, SpeedShareConfig, TargetKey, US,
};
use loom::sync::Arc;
use loom::sync::atomic::AtomicBool;
use loom::thread;

/// Exhaustive exploration (no preemption bound): the models are small enough.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = None;
    b.check(f);
}

fn pid(i: usize) -> PathId {
    PathId::new(i).unwrap()
}

/// The speed-share weights the path table reports (the published Q16 weights).
fn share_weights(g: &PathGroup) -> Vec<u32> {
    (0..g.len())
        .map(|p| g.path_info(pid(p)).unwrap().policy.weight.unwrap())
        .collect()
}

fn group(n: usize, policy: PolicyConfig, gap_ns: u64) -> PathGroup {
    let mut cfg = GroupConfig::new(vec![PathConfig::default(); n], policy);
    cfg.cpus = 2;
    cfg.flowlet.gap_ns = gap_ns;
    cfg.flowlet.table_entries = 16;
    cfg.failback = engine::Failback::Immediate;
    cfg.up_delay_ns = 0;
    PathGroup::new(cfg).unwrap()
}

fn req(cpu: u32, flow: u64) -> SendRequest {
    SendRequest {
        flow: FlowKey {
            l2: flow,
            l34: flow,
        },
        len: 100,
        target: TargetKey(1),
        cpu,
    }
}

fn complete(sel: &engine::Selector, p: PathId, r: &SendRequest) {
    let c = Completion {
        path: p,
        len: r.len,
        target: r.target,
        cpu: r.cpu,
        status: CompletionStatus::Ok,
        latency_ns: 10,
    };
    let _ = sel.on_complete(&c, 20);
}

/// Counters: sends and completions from two CPUs (one completing on the other's CPU) while the
/// control plane reads the table; totals are exact at the end and in-flight never exceeds sends.
#[test]
fn counters_are_exact() {
    model(|| {
        let g = group(1, PolicyConfig::LeastQueueDepth, 0);
        let handles: Vec<_> = (0..2u32)
            .map(|cpu| {
                let sel = g.selector();
                thread::spawn(move || {
                    let r = req(cpu, 1);
                    let Selection::Path(p) = sel.select(&r, 1) else {
                        panic!("no path")
                    };
                    sel.on_send(p, &r, 1);
                    // Complete on the other CPU's shard.
                    let done = SendRequest { cpu: 1 - cpu, ..r };
                    complete(&sel, p, &done);
                })
            })
            .collect();
        let info = g.path_info(pid(0)).unwrap();
        assert!(info.counters.inflight_nbls() <= 2);
        for h in handles {
            h.join().unwrap();
        }
        let info = g.path_info(pid(0)).unwrap();
        assert_eq!(info.counters.sent_nbls, 2);
        assert_eq!(info.counters.completed_bytes, 200);
        assert_eq!(info.counters.inflight_nbls(), 0);
        let again = g.selector().select(&req(0, 1), 2);
        assert_eq!(again, Selection::Path(pid(0)));
    });
}

/// The in-flight view a CPU reads at selection: the other CPUs' load published by `tick` (one
/// word per (CPU, path), in the CPU's own entry) plus its own live load. CPU 0 sends an NBL,
/// CPU 1 completes it (completions need not come on the sending CPU) while the control plane
/// publishes. Every view read is the others' load at one snapshot plus the reader's own now
/// (never torn, never negative), and after the next publication every CPU's view is exact.
#[test]
fn inflight_view_publication() {
    model(|| {
        use engine::counters::{CpuShard, Unit, publish_inflight};
        let shards = Arc::new([CpuShard::new(1), CpuShard::new(1)]);
        let s0 = Arc::clone(&shards);
        let sender = thread::spawn(move || {
            s0[0].count_send(0, 100);
            // Its own send at least; CPU 1's completion is visible only through a snapshot.
            let v = s0[0].paths[0].inflight_view(Unit::Bytes);
            assert!(v == 100 || v == 0, "view {v}");
        });
        let s1 = Arc::clone(&shards);
        let completer = thread::spawn(move || {
            s1[1].count_complete(0, 100, true);
            // Own -100; the others' snapshot holds 0 or CPU 0's 100: clamped at 0 either way.
            assert_eq!(s1[1].paths[0].inflight_view(Unit::Bytes), 0);
        });
        let total = publish_inflight(&shards[..], 0, Unit::Bytes);
        assert!([-100, 0, 100].contains(&total), "total {total}");
        sender.join().unwrap();
        completer.join().unwrap();
        assert_eq!(publish_inflight(&shards[..], 0, Unit::Bytes), 0);
        for s in shards.iter() {
            assert_eq!(s.paths[0].inflight_view(Unit::Bytes), 0);
        }
        shards[1].count_send(0, 40);
        assert_eq!(shards[1].paths[0].inflight_view(Unit::Bytes), 40);
        assert_eq!(shards[0].paths[0].inflight_view(Unit::Bytes), 0);
    });
}

/// Least-queue across CPUs: CPU 0 sends two NBLs on path 0, CPU 1 completes one of them, while
/// the control plane ticks (publishing the in-flight views) and CPU 1 selects. Selection always
/// returns an eligible path; after the next tick both CPUs see path 0 loaded (one NBL) and path
/// 1 idle, and choose path 1.
#[test]
fn least_queue_tick_vs_cross_cpu_completion() {
    model(|| {
        let mut g = group(2, PolicyConfig::LeastQueueDepth, 0);
        let sel = g.selector();
        let sender = thread::spawn(move || {
            let r = req(0, 1);
            sel.on_send(pid(0), &r, 1);
            sel.on_send(pid(0), &r, 1);
        });
        let sel = g.selector();
        let completer = thread::spawn(move || {
            complete(&sel, pid(0), &req(1, 1));
            let Selection::Path(p) = sel.select(&req(1, 1), 2) else {
                panic!("no path")
            };
            assert!(p.index() < 2);
        });
        let _ = g.tick(2);
        sender.join().unwrap();
        completer.join().unwrap();
        let _ = g.tick(3);
        for cpu in [0, 1] {
            assert_eq!(
                g.select(&req(cpu, 1), 4),
                Selection::Path(pid(1)),
                "cpu {cpu}"
            );
        }
        assert_eq!(g.path_info(pid(0)).unwrap().counters.inflight_nbls(), 1);
    });
}

/// Selection against publication: once a selecting CPU has observed that the control plane
/// failed path 0, it never selects path 0; before that it selects either path.
#[test]
fn selection_sees_published_failure() {
    model(|| {
        let mut g = group(2, PolicyConfig::RoundRobin, 0);
        let published = Arc::new(AtomicBool::new(false));
        let sel = g.selector();
        let flag = Arc::clone(&published);
        let t = thread::spawn(move || {
            for _ in 0..2 {
                let seen = flag.load(Ordering::Acquire);
                let s = sel.select(&req(0, 1), 5);
                match s {
                    Selection::Path(p) => {
                        assert!(!seen || p.index() == 1, "selected a failed path");
                    }
                    other => panic!("{other:?}"),
                }
            }
        });
        g.event(pid(0), PathEvent::AdminFail, 5);
        published.store(true, Ordering::Release);
        t.join().unwrap();
        assert_eq!(g.eligible_mask(), 0b10);
    });
}

/// Flow-table entry update: two CPUs send the first packets of one flow at the same time; both
/// end on the same path (the loser of the placement race follows the winner).
#[test]
fn flowlet_placement_race_agrees() {
    model(|| {
        let g = group(2, PolicyConfig::RoundRobin, 500 * US);
        // Move CPU 1's round-robin cursor so the two CPUs would choose different paths.
        let _ = g.select(
            &SendRequest {
                cpu: 1,
                ..req(1, 0)
            },
            0,
        );
        let flow = 0x5555;
        let handles: Vec<_> = (0..2u32)
            .map(|cpu| {
                let sel = g.selector();
                thread::spawn(move || match sel.select(&req(cpu, flow), 1_000_000) {
                    Selection::Path(p) => p,
                    other => panic!("{other:?}"),
                })
            })
            .collect();
        let a = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>();
        assert_eq!(a[0], a[1], "flow split across paths");
        // And later packets of the flow stay there.
        assert_eq!(g.select(&req(0, flow), 1_000_100), Selection::Path(a[0]));
    });
}

/// Speed-share's shared flowlet order: two CPUs place a flowlet each at the same time over two
/// equal paths; however they interleave (both may pick the same path), both placements are
/// charged, so two more placements make the split exactly two and two.
#[test]
fn flowlet_order_charges_concurrent_placements() {
    use engine::policy::flowlet_order::FlowletOrder;
    model(|| {
        let order = Arc::new(FlowletOrder::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let order = Arc::clone(&order);
                thread::spawn(move || order.place(0b11, |_| 1 << 16).unwrap())
            })
            .collect();
        let mut n = [0; 2];
        for h in handles {
            n[h.join().unwrap()] += 1;
        }
        for _ in 0..2 {
            n[order.place(0b11, |_| 1 << 16).unwrap()] += 1;
        }
        assert_eq!(n, [2, 2]);
    });
}

/// Quota reservation: two CPUs race for the last outstanding slot of a target; exactly one wins,
/// and the count never exceeds the maximum.
#[test]
fn quota_reservation_never_exceeds_max() {
    model(|| {
        let g = group(
            1,
            PolicyConfig::Quota(QuotaConfig {
                max_outstanding_per_target: 1,
                target_slots: 1,
            }),
            0,
        );
        let handles: Vec<_> = (0..2u32)
            .map(|cpu| {
                let sel = g.selector();
                thread::spawn(move || {
                    let r = req(cpu, 1);
                    let s = sel.select(&r, 1);
                    if let Selection::Path(p) = s {
                        sel.on_send(p, &r, 1);
                    }
                    s
                })
            })
            .collect();
        assert!(g.outstanding(TargetKey(1), pid(0)).unwrap() <= 1);
        let got: Vec<Selection> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins = got
            .iter()
            .filter(|s| matches!(s, Selection::Path(_)))
            .count();
        assert_eq!(wins, 1, "{got:?}");
        assert!(got.contains(&Selection::Defer));
        assert_eq!(g.outstanding(TargetKey(1), pid(0)), Some(1));
        complete(&g.selector(), pid(0), &req(0, 1));
        assert_eq!(g.outstanding(TargetKey(1), pid(0)), Some(0));
    });
}

/// Quota credit leases: two CPUs select (leasing a batch from the shared pool into their local
/// pools with a CAS), send and complete (returning the credit to their local pool, spilling past
/// the hold limit) concurrently. Max 3, two shards, so each CPU keeps at most
/// `hold = (3 - 1) / 2 = 1` idle credit. At every moment at most `max` NBLs hold a credit, and at
/// the end every credit is back: nothing outstanding, three NBLs are admitted again from every
/// CPU index (including one beyond the shard count, which uses the shared pool directly) and a
/// fourth is deferred. (A lease done with a plain load and store instead of the CAS fails
/// this model.)
#[test]
fn quota_leases_conserve_credits() {
    model(|| {
        let g = group(
            1,
            PolicyConfig::Quota(QuotaConfig {
                max_outstanding_per_target: 3,
                target_slots: 1,
            }),
            0,
        );
        let held = Arc::new(loom::sync::atomic::AtomicU32::new(0));
        let handles: Vec<_> = [0u32, 1]
            .into_iter()
            .map(|cpu| {
                let sel = g.selector();
                let held = Arc::clone(&held);
                thread::spawn(move || {
                    let r = req(cpu, 1);
                    for _ in 0..2 - cpu {
                        let Selection::Path(p) = sel.select(&r, 1) else {
                            panic!("deferred with at most 2 of 3 outstanding")
                        };
                        let before = held.fetch_add(1, Ordering::SeqCst);
                        assert!(before < 3, "more than max outstanding");
                        held.fetch_sub(1, Ordering::SeqCst);
                        complete(&sel, p, &r);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(g.outstanding(TargetKey(1), pid(0)), Some(0));
        let sel = g.selector();
        let mut sent = Vec::new();
        for cpu in [0u32, 1, 2] {
            let r = req(cpu, 1);
            let Selection::Path(p) = sel.select(&r, 2) else {
                panic!("credit lost (cpu {cpu})")
            };
            sel.on_send(p, &r, 2);
            sent.push((p, r));
        }
        assert_eq!(sel.select(&req(0, 1), 2), Selection::Defer);
        assert_eq!(g.outstanding(TargetKey(1), pid(0)), Some(3));
        for (p, r) in &sent {
            complete(&sel, *p, r);
        }
        assert_eq!(g.outstanding(TargetKey(1), pid(0)), Some(0));
    });
}

/// Share board, one publication: a reader sees either the whole old vector or the whole new one.
#[test]
fn share_board_single_publication_is_atomic() {
    model(|| {
        let board = Arc::new(ShareBoard::new(&[100, 200]));
        let b = Arc::clone(&board);
        let reader = thread::spawn(move || {
            let cur = b.current();
            let w: Vec<u64> = cur
                .iter()
                .map(|e| weight_of(e.load(Ordering::Relaxed)))
                .collect();
            assert!(w == [100, 200] || w == [300, 400], "torn read {w:?}");
        });
        board.publish(&[300, 400]);
        reader.join().unwrap();
    });
}

/// Share board, two publications overlapping one read: every value read is a published weight
/// (possibly mixed across generations, as documented), never garbage or zero.
#[test]
fn share_board_values_always_valid() {
    model(|| {
        let board = Arc::new(ShareBoard::new(&[100, 200]));
        let b = Arc::clone(&board);
        let reader = thread::spawn(move || {
            let cur = b.current();
            for (i, e) in cur.iter().enumerate() {
                let w = weight_of(e.load(Ordering::Relaxed));
                let allowed = [[100, 300, 500], [200, 400, 600]];
                assert!(allowed[i].contains(&w), "value {w}");
            }
        });
        board.publish(&[300, 400]);
        board.publish(&[500, 600]);
        reader.join().unwrap();
    });
}

/// Speed-share selection while tick recomputes and publishes shares: selection never blocks and
/// always returns an eligible path.
#[test]
fn speed_share_tick_vs_select() {
    model(|| {
        let mut g = group(2, PolicyConfig::SpeedShare(SpeedShareConfig::default()), 0);
        let sel = g.selector();
        let t = thread::spawn(move || {
            let r = req(1, 1);
            let Selection::Path(p) = sel.select(&r, 10) else {
                panic!("no path")
            };
            assert!(p.index() < 2);
        });
        let c = Completion {
            path: pid(0),
            len: 1500,
            target: TargetKey(0),
            cpu: 0,
            status: CompletionStatus::Ok,
            latency_ns: 1000,
        };
        let _ = g.on_complete(&c, 5);
        let _ = g.tick(10);
        t.join().unwrap();
        let w = share_weights(&g);
        assert!(w[0] > 0 && w[1] > 0);
    });
}

/// Speed-share's per-CPU completion timing: two CPUs complete NBLs of one path (each 1000 bytes
/// in 1000 ns of service, the path's true speed equal to the prior) while the control plane
/// ticks. Each CPU writes only its own busy time and last-completion time; a tick may catch a
/// completion's bytes without its busy time (or the reverse on the other CPU), which moves at
/// most that NBL into the neighbouring period: the measured speed stays within a factor of two of
/// the truth in every interleaving, and the byte counts are exact.
#[test]
fn speed_share_cross_cpu_completion_timing() {
    model(|| {
        let mut cfg = GroupConfig::new(
            vec![
                PathConfig {
                    link_speed_bps: 8_000_000_000,
                    ..PathConfig::default()
                };
                2
            ],
            PolicyConfig::SpeedShare(SpeedShareConfig {
                half_life_ns: 1_000,
                ..SpeedShareConfig::default()
            }),
        );
        cfg.cpus = 2;
        let mut g = PathGroup::new(cfg).unwrap();
        let handles: Vec<_> = [0u32, 1]
            .into_iter()
            .map(|cpu| {
                let sel = g.selector();
                thread::spawn(move || {
                    let c = Completion {
                        path: pid(0),
                        len: 1000,
                        target: TargetKey(0),
                        cpu,
                        status: CompletionStatus::Ok,
                        latency_ns: 1000,
                    };
                    let _ = sel.on_complete(&c, 1000 * u64::from(cpu + 1));
                })
            })
            .collect();
        let _ = g.tick(3_000);
        for h in handles {
            h.join().unwrap();
        }
        let _ = g.tick(1_000_000);
        let info = g.path_info(pid(0)).unwrap();
        assert_eq!(info.counters.completed_bytes, 2000);
        let speed = info.policy.speed_bps.unwrap();
        assert!(
            (4_000_000_000..=16_000_000_000).contains(&speed),
            "speed {speed}"
        );
    });
}
