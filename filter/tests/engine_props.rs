//! Property tests (proptest) of the engine's invariants (issue 4, point 6).
//!
//! Speed-share convergence bound tested here (derivation in docs/engine.md):
//! with NBLs of `L` bytes, true path speeds `S_p`, EWMA half-life `H` (busy time) and an initial
//! estimate whose relative error is at most `e0` on every path, once every path `p` has completed
//! `N_p = ceil(K * H * S_p / L)` NBLs after start, with `K = ceil(log2(e0 / 0.008))`, the next
//! `tick` publishes shares within 2 % (relative) of `S_p / sum(S)`. Here speeds lie in
//! 100 Mbit/s..=10 Gbit/s and the prior is 1 Gbit/s, so `e0 <= 9` and `K = 11`.
// Floating point is used only to check shares.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use mpfilter::engine::{
    Completion, CompletionStatus, Failback, FlowKey, GroupConfig, HashLayer, MS, PathConfig,
    PathEvent, PathGroup, PathId, PathState, PolicyConfig, QuotaConfig, Role, Selection,
    SendRequest, ShareScheduler, SpeedShareConfig, TargetKey, US,
};
use proptest::prelude::*;

fn pid(i: usize) -> PathId {
    PathId::new(i).unwrap()
}

/// The speed-share weights the path table reports (the published Q16 weights).
fn share_weights(g: &PathGroup) -> Vec<u32> {
    (0..g.len())
        .map(|p| g.path_info(pid(p)).unwrap().policy.weight.unwrap())
        .collect()
}

const EVENTS: [PathEvent; 12] = [
    PathEvent::LinkDown,
    PathEvent::LinkUp,
    PathEvent::ShimPathFailed,
    PathEvent::ShimPathRecovered,
    PathEvent::ProbeLost,
    PathEvent::ProbeAnswered,
    PathEvent::MemberPaused,
    PathEvent::MemberRestarted,
    PathEvent::MemberDetached,
    PathEvent::MemberAttached,
    PathEvent::AdminFail,
    PathEvent::AdminReinstate,
];

fn policy_strategy() -> impl Strategy<Value = PolicyConfig> {
    prop_oneof![
        Just(PolicyConfig::FailoverOnly),
        Just(PolicyConfig::RoundRobin),
        Just(PolicyConfig::WeightedPaths),
        Just(PolicyConfig::LeastQueueDepth),
        Just(PolicyConfig::LeastBlocks),
        Just(PolicyConfig::AddressHash(HashLayer::Layer34)),
        Just(PolicyConfig::ServiceTime),
        Just(PolicyConfig::Quota(QuotaConfig {
            max_outstanding_per_target: 0,
            target_slots: 1
        })),
        Just(PolicyConfig::SpeedShare(SpeedShareConfig::default())),
        Just(PolicyConfig::SpeedShare(SpeedShareConfig {
            scheduler: ShareScheduler::EarliestFinish,
            ..SpeedShareConfig::default()
        })),
    ]
}

fn failback_strategy() -> impl Strategy<Value = Failback> {
    prop_oneof![
        Just(Failback::Immediate),
        (0u64..50).prop_map(|d| Failback::Deferred { delay_ns: d * MS }),
        Just(Failback::Manual),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Event(usize, usize),
    Tick,
    Select(u64),
    Error(usize),
}

fn op_strategy(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..n, 0..EVENTS.len()).prop_map(|(p, e)| Op::Event(p, e)),
        1 => Just(Op::Tick),
        4 => any::<u64>().prop_map(Op::Select),
        1 => (0..n).prop_map(Op::Error),
    ]
}

fn usable_rank(s: PathState) -> u8 {
    match s {
        PathState::Active => 3,
        PathState::Standby => 2,
        PathState::Marginal => 1,
        PathState::Failed | PathState::Recovering => 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Never select a Failed, Recovering or Marginal path while an Active one exists; Standby only
    /// when no Active; never Failed or Recovering at all. Failback (leaving Recovering for service)
    /// never happens sooner than the hold-down after entering Recovering.
    #[test]
    fn tiers_and_hold_down(
        n in 1usize..=6,
        roles in proptest::collection::vec(any::<bool>(), 6),
        policy in policy_strategy(),
        failback in failback_strategy(),
        up_delay_ms in 0u64..30,
        down_delay_ms in 0u64..20,
        flowlet in any::<bool>(),
        ops in proptest::collection::vec((op_strategy(6), 0u64..20), 1..200),
    ) {
        let mut paths = vec![PathConfig::default(); n];
        for (i, p) in paths.iter_mut().enumerate() {
            p.role = if roles[i] { Role::Standby } else { Role::Active };
            p.priority = u8::try_from(i % 3).unwrap();
            p.weight = u32::try_from(1 + i % 2).unwrap();
        }
        let mut cfg = GroupConfig::new(paths, policy);
        cfg.failback = failback;
        cfg.up_delay_ns = up_delay_ms * MS;
        cfg.down_delay_ns = down_delay_ms * MS;
        cfg.flap.max_failures = 2;
        cfg.flap.window_ns = 100 * MS;
        cfg.flap.stable_ns = 50 * MS;
        cfg.errors.threshold = 2;
        cfg.errors.window_ns = 10 * MS;
        cfg.errors.recovery_ns = 30 * MS;
        cfg.probe_miss_max = 2;
        cfg.cpus = 1;
        cfg.flowlet.gap_ns = if flowlet { 500 * US } else { 0 };
        cfg.flowlet.table_entries = 16;
        let hold = cfg.hold_down_ns();
        let mut g = PathGroup::new(cfg).unwrap();
        let mut recovering_since: HashMap<usize, u64> = HashMap::new();
        let mut now = 0u64;
        for (op, dt_ms) in ops {
            now += dt_ms * MS / 2;
            let mut transitions = Vec::new();
            match op {
                Op::Event(p, e) if p < n => {
                    if let Some(t) = g.event(pid(p), EVENTS[e], now) {
                        transitions.push(t);
                    }
                }
                Op::Tick => transitions.extend(g.tick(now).iter().copied()),
                Op::Error(p) if p < n => {
                    let c = Completion {
                        path: pid(p), len: 100, target: TargetKey(0), cpu: 0,
                        status: CompletionStatus::Error(mpfilter::engine::SendError::Failure),
                        latency_ns: 10,
                    };
                    g.on_complete(&c, now);
                }
                Op::Select(flow) => {
                    let req = SendRequest { flow: FlowKey { l2: flow, l34: flow % 8 }, len: 1500, target: TargetKey(1), cpu: 0 };
                    let best = (0..n).map(|i| usable_rank(g.state(pid(i)).unwrap())).max().unwrap();
                    match g.select(&req, now) {
                        Selection::Path(p) => {
                            let s = g.state(p).unwrap();
                            prop_assert!(usable_rank(s) > 0, "selected {s:?}");
                            prop_assert_eq!(usable_rank(s), best, "selected {:?} while a better tier exists", s);
                            g.on_send(p, &req, now);
                            let c = Completion { path: p, len: 1500, target: req.target, cpu: 0, status: CompletionStatus::Ok, latency_ns: 1000 };
                            g.on_complete(&c, now);
                        }
                        Selection::NoPath => prop_assert!(best == 0 || (best == 1 && g.eligible_mask() == 0)),
                        Selection::Defer => prop_assert!(false, "no outstanding cap configured"),
                    }
                }
                _ => {}
            }
            for t in transitions {
                let p = t.path.index();
                if t.to == PathState::Recovering {
                    recovering_since.insert(p, t.at_ns);
                }
                let leaves_recovery = t.to.is_usable()
                    && (t.from == PathState::Recovering || t.from == PathState::Failed);
                if leaves_recovery {
                    let since = if t.from == PathState::Failed { t.at_ns } else { recovering_since[&p] };
                    prop_assert!(t.at_ns - since >= hold, "failback after {} ns < hold-down {hold}", t.at_ns - since);
                }
            }
        }
    }

    /// Quota: long-run byte share per path within 1 % (relative) of quota / sum(quotas).
    #[test]
    fn quota_byte_shares(
        quotas in proptest::collection::vec(4096u32..=65_536, 2..=8),
        lens in proptest::collection::vec(64u32..=9000, 64),
    ) {
        let n = quotas.len();
        let paths = quotas.iter().map(|&q| PathConfig { quota_bytes: q, ..PathConfig::default() }).collect();
        let mut cfg = GroupConfig::new(paths, PolicyConfig::Quota(QuotaConfig { max_outstanding_per_target: 0, target_slots: 1 }));
        cfg.flowlet.gap_ns = 0;
        cfg.cpus = 1;
        let g = PathGroup::new(cfg).unwrap();
        let sum_q: u64 = quotas.iter().map(|&q| u64::from(q)).sum();
        let mut bytes = vec![0u64; n];
        let mut total = 0u64;
        let mut i = 0usize;
        while total < 1000 * sum_q {
            let len = lens[i % lens.len()];
            i += 1;
            let req = SendRequest { len, ..SendRequest::default() };
            let Selection::Path(p) = g.select(&req, 0) else { panic!("no path") };
            bytes[p.index()] += u64::from(len);
            total += u64::from(len);
        }
        for p in 0..n {
            let want = f64::from(quotas[p]) / sum_q as f64;
            let got = bytes[p] as f64 / total as f64;
            prop_assert!((got - want).abs() <= 0.01 * want, "path {p}: {got} vs {want}");
        }
    }

    /// Quota: outstanding per (target, path) never exceeds the maximum, under any interleaving of
    /// selections, cancellations and out-of-order completions, with the calls spread over several
    /// CPU indices (each with its own credit lease) and an index beyond the shard count (no
    /// lease). A `Defer` comes only while at least `max - cpus * hold >= 1` NBLs are outstanding
    /// on every path, and with a single CPU only at exactly the maximum.
    #[test]
    fn quota_outstanding_cap(
        n in 1usize..=4,
        max in 1u32..=9,
        cpus in 1u32..=3,
        ops in proptest::collection::vec((0u8..3, 0u64..3, any::<u16>(), 0u32..4), 1..400),
    ) {
        let mut cfg = GroupConfig::new(vec![PathConfig { quota_bytes: 3000, ..PathConfig::default() }; n],
            PolicyConfig::Quota(QuotaConfig { max_outstanding_per_target: max, target_slots: 64 }));
        cfg.flowlet.gap_ns = 0;
        cfg.cpus = cpus;
        let hold = ((max - 1) / cpus).min(32);
        let g = PathGroup::new(cfg).unwrap();
        let mut inflight: Vec<(PathId, SendRequest)> = Vec::new();
        let mut truth: HashMap<(u64, usize), u32> = HashMap::new();
        for (kind, target, r, cpu) in ops {
            // Index `cpus` is beyond the shard count.
            let cpu = cpu % (cpus + 1);
            let req = SendRequest { len: 1000 + u32::from(r % 2000), target: TargetKey(target), cpu, ..SendRequest::default() };
            match kind {
                0 | 1 => match g.select(&req, 0) {
                    Selection::Path(p) => {
                        if kind == 1 && r % 5 == 0 {
                            g.cancel(p, &req);
                        } else {
                            g.on_send(p, &req, 0);
                            inflight.push((p, req));
                            *truth.entry((target, p.index())).or_default() += 1;
                        }
                    }
                    Selection::Defer => {
                        for p in 0..n {
                            let t = truth.get(&(target, p)).copied().unwrap_or(0);
                            prop_assert!(t >= 1 && t >= max.saturating_sub(cpus * hold), "{} of {}", t, max);
                            if cpus == 1 && cpu == 0 {
                                prop_assert_eq!(t, max);
                            }
                        }
                    }
                    Selection::NoPath => prop_assert!(false),
                },
                _ => {
                    if !inflight.is_empty() {
                        let (p, req) = inflight.swap_remove(usize::from(r) % inflight.len());
                        *truth.get_mut(&(req.target.0, p.index())).unwrap() -= 1;
                        // Completed on any CPU index, not necessarily the sender's.
                        let c = Completion { path: p, len: req.len, target: req.target, cpu: (cpu + 1) % (cpus + 1), status: CompletionStatus::Ok, latency_ns: 1 };
                        g.on_complete(&c, 0);
                    }
                }
            }
            for (&(t, p), &v) in &truth {
                prop_assert!(v <= max);
                prop_assert!(g.outstanding(TargetKey(t), pid(p)).unwrap() <= max);
                // Sequential calls: the statistic is exact (credits are conserved).
                prop_assert_eq!(g.outstanding(TargetKey(t), pid(p)).unwrap(), v);
            }
        }
        // Everything completed: every credit is back and usable from every CPU index.
        for (p, req) in inflight.drain(..) {
            let c = Completion { path: p, len: req.len, target: req.target, cpu: 0, status: CompletionStatus::Ok, latency_ns: 1 };
            g.on_complete(&c, 0);
        }
        for t in 0..3u64 {
            for p in 0..n {
                prop_assert_eq!(g.outstanding(TargetKey(t), pid(p)).unwrap(), 0);
            }
            for cpu in 0..=cpus {
                let req = SendRequest { len: 1000, target: TargetKey(t), cpu, ..SendRequest::default() };
                let Selection::Path(p) = g.select(&req, 0) else { return Err(TestCaseError::fail("defer with nothing outstanding")); };
                g.cancel(p, &req);
            }
        }
    }

    /// Flowlet: a flow never changes path while its inter-packet gap stays below the flowlet gap,
    /// unless its path left the eligible set (failed, or a better tier returned). Small table: flows
    /// collide and share entries.
    #[test]
    fn flowlet_affinity(
        policy in prop_oneof![
            Just(PolicyConfig::RoundRobin),
            Just(PolicyConfig::LeastQueueDepth),
            Just(PolicyConfig::SpeedShare(SpeedShareConfig::default())),
            Just(PolicyConfig::Quota(QuotaConfig { max_outstanding_per_target: 0, target_slots: 1 })),
        ],
        gap_us in 1u64..1000,
        ops in proptest::collection::vec((0u64..12, 0u64..1500, 0u8..40, 0usize..4), 1..300),
    ) {
        let mut cfg = GroupConfig::new(vec![PathConfig::default(); 4], policy);
        cfg.flowlet.gap_ns = gap_us * US;
        cfg.flowlet.table_entries = 16;
        cfg.failback = Failback::Immediate;
        cfg.up_delay_ns = 0;
        cfg.flap.max_failures = 0;
        cfg.cpus = 1;
        let gap = cfg.flowlet.gap_ns;
        let mut g = PathGroup::new(cfg).unwrap();
        let mut last: HashMap<u64, (u64, PathId)> = HashMap::new();
        let mut now = 1u64;
        for (flow, dt_us, action, p) in ops {
            now += dt_us * US / 4 + dt_us;
            match action {
                0 => { g.event(pid(p), PathEvent::LinkDown, now); }
                1 | 2 => { g.event(pid(p), PathEvent::LinkUp, now); }
                3 => { g.tick(now); }
                _ => {
                    let hash = flow.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    let req = SendRequest { flow: FlowKey { l2: hash, l34: hash }, len: 1500, ..SendRequest::default() };
                    if let Selection::Path(sel) = g.select(&req, now) {
                        if let Some(&(t, prev)) = last.get(&flow)
                            && now - t < gap
                            && g.eligible_mask() & (1 << prev.index()) != 0
                        {
                            prop_assert_eq!(sel, prev, "flow {} moved after {} ns < gap {}", flow, now - t, gap);
                        }
                        g.on_send(sel, &req, now);
                        let c = Completion { path: sel, len: 1500, target: req.target, cpu: 0, status: CompletionStatus::Ok, latency_ns: 100 };
                        g.on_complete(&c, now);
                        last.insert(flow, (now, sel));
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Speed-share with flowlets places new flowlets by share, whichever CPUs start them: after
    /// `n` new flows over `k` paths, path `p` (share `s`: its published Q16 weight over their sum)
    /// has carried `c` of them with `-1 < c - n·s < k·s`. The earliest-finish order gives path `p`
    /// its `c`-th flowlet at virtual time `c/s`, so `c = floor(t·s)` at the latest choice `t`, and
    /// `n = Σ floor(t·s)` lies in `(t - k, t]`: no path is a whole flowlet behind its share; the
    /// rounding favours the faster paths (the D'Hondt apportionment), by less than one flowlet
    /// per path in all. (0.01 allows for the reciprocal shares' rounding.)
    #[test]
    fn speed_share_places_flowlets_by_share(
        speeds_mbps in proptest::collection::vec(100u64..=10_000, 2..=8),
        cpus in proptest::collection::vec(0u32..4, 1..400),
    ) {
        let n_paths = speeds_mbps.len();
        let mut cfg = GroupConfig::new(
            speeds_mbps
                .iter()
                .map(|&m| PathConfig { link_speed_bps: m * 1_000_000, ..PathConfig::default() })
                .collect(),
            PolicyConfig::SpeedShare(SpeedShareConfig::default()),
        );
        cfg.flowlet.gap_ns = 500 * US;
        cfg.flowlet.table_entries = 1 << 16;
        cfg.cpus = 4;
        let g = PathGroup::new(cfg).unwrap();
        let w = share_weights(&g);
        let total: u64 = w.iter().map(|&x| u64::from(x)).sum();
        let mut count = vec![0u64; n_paths];
        let mut placed = 0u64;
        for (i, &cpu) in cpus.iter().enumerate() {
            // Each flow a gap after the last: it starts a flowlet even if its table entry is
            // another flow's.
            let flow = i as u64;
            let now = 1 + flow * 600 * US;
            let req = SendRequest { flow: FlowKey { l2: flow, l34: flow }, len: 1514, cpu, ..SendRequest::default() };
            let Selection::Path(p) = g.select(&req, now) else { panic!("no path") };
            count[p.index()] += 1;
            placed += 1;
            for (p, (&c, &wp)) in count.iter().zip(&w).enumerate() {
                let want = placed as f64 * f64::from(wp) / total as f64;
                let ahead = n_paths as f64 * f64::from(wp) / total as f64;
                let d = c as f64 - want;
                prop_assert!(d > -1.01 && d < ahead + 0.01,
                    "after {} flows, path {} has {} (share {:.3}): {:?}", placed, p, c, want, count);
            }
        }
    }
}

/// Discrete-event simulation of FIFO paths with true speeds; returns (published weights, true
/// speeds) once every path has completed its `N_p`.
fn simulate_speed_share(
    service_ns: &[u64],
    half_life_ns: u64,
    sched: ShareScheduler,
) -> (Vec<u32>, Vec<f64>) {
    const LEN: u32 = 1500;
    const K: u64 = 11;
    let n = service_ns.len();
    let cfg_ss = SpeedShareConfig {
        half_life_ns,
        scheduler: sched,
        ..SpeedShareConfig::default()
    };
    let mut cfg = GroupConfig::new(
        vec![PathConfig::default(); n],
        PolicyConfig::SpeedShare(cfg_ss),
    );
    cfg.flowlet.gap_ns = 0;
    cfg.cpus = 1;
    let mut g = PathGroup::new(cfg).unwrap();
    // N_p = ceil(K * H / T_p): K half-lives of busy time.
    let need: Vec<u64> = service_ns
        .iter()
        .map(|&t| (K * half_life_ns).div_ceil(t))
        .collect();
    let speeds: Vec<f64> = service_ns
        .iter()
        .map(|&t| f64::from(LEN) / t as f64)
        .collect();
    let total_speed: f64 = speeds.iter().sum();
    // Offered load slightly below capacity: one NBL every L / (0.95 * sum S) ns.
    let gap = ((f64::from(LEN) / (0.95 * total_speed)) as u64).max(1);
    let tick_every = half_life_ns / 4;
    let mut free_at = vec![0u64; n];
    let mut done = vec![0u64; n];
    let mut heap: BinaryHeap<Reverse<(u64, usize, u64)>> = BinaryHeap::new();
    let mut now = 0u64;
    let mut next_tick = tick_every;
    let mut steps = 0u64;
    loop {
        steps += 1;
        assert!(steps < 5_000_000, "simulation did not reach N_p");
        // Deliver completions due by now, in time order.
        while let Some(&Reverse((t, p, sent))) = heap.peek() {
            if t > now {
                break;
            }
            heap.pop();
            let c = Completion {
                path: pid(p),
                len: LEN,
                target: TargetKey(0),
                cpu: 0,
                status: CompletionStatus::Ok,
                latency_ns: t - sent,
            };
            g.on_complete(&c, t);
            done[p] += 1;
        }
        if now >= next_tick {
            g.tick(now);
            next_tick += tick_every;
            if done.iter().zip(&need).all(|(d, n)| d >= n) {
                // The bound: the first tick after every path reached N_p.
                let w = share_weights(&g);
                return (w[..n].to_vec(), speeds);
            }
        }
        let req = SendRequest {
            len: LEN,
            ..SendRequest::default()
        };
        if let Selection::Path(p) = g.select(&req, now) {
            let i = p.index();
            g.on_send(p, &req, now);
            let finish = free_at[i].max(now) + service_ns[i];
            free_at[i] = finish;
            heap.push(Reverse((finish, i, now)));
        }
        now += gap;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Speed share converges: after every path completed N_p NBLs, shares are within 2 % of
    /// S_p / sum(S) (see the module docs for the bound).
    #[test]
    fn speed_share_converges(
        // Service time of a 1500-byte NBL: 1.2 us (10 Gbit/s) ..= 120 us (100 Mbit/s).
        service in proptest::collection::vec(1_200u64..=120_000, 2..=4),
        eft in any::<bool>(),
    ) {
        let sched = if eft { ShareScheduler::EarliestFinish } else { ShareScheduler::SmoothWrr };
        let (w, s) = simulate_speed_share(&service, 200 * US, sched);
        let wsum: f64 = w.iter().map(|&x| f64::from(x)).sum();
        let ssum: f64 = s.iter().sum();
        for p in 0..w.len() {
            let got = f64::from(w[p]) / wsum;
            let want = s[p] / ssum;
            prop_assert!((got - want).abs() <= 0.02 * want, "path {p}: share {got} vs {want}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The in-flight view: over random sends and completions on random CPU indices (completions
    /// on any CPU, not only the sender's) with publications in between, every CPU's view of every
    /// path is the others' load at the last publication plus its own load now (clamped at 0), and
    /// right after a publication it is the exact in-flight load. (A policy publishes one unit,
    /// NBLs or bytes, so each case checks one.)
    #[test]
    fn inflight_view_is_snapshot_plus_own(
        cpus in 1usize..=4,
        bytes in any::<bool>(),
        ops in proptest::collection::vec((0u8..3, 0usize..4, 0usize..3, 1u32..3000), 1..120),
    ) {
        use mpfilter::engine::counters::{CpuShard, Unit, publish_inflight};
        let paths = 3;
        let unit = if bytes { Unit::Bytes } else { Unit::Nbls };
        let amount = |len: u32| if bytes { i64::from(len) } else { 1 };
        let shards: Vec<CpuShard> = (0..cpus).map(|_| CpuShard::new(paths)).collect();
        // Model: per (cpu, path) own load now, and each CPU's own load at the last publication.
        let mut own = vec![[0i64; 3]; cpus];
        let mut snap = vec![[0i64; 3]; cpus];
        // NBLs in flight per path (their lengths), so completions match sends.
        let mut flying: Vec<Vec<u32>> = vec![Vec::new(); paths];
        for (kind, cpu, path, len) in ops {
            let cpu = cpu % cpus;
            match kind {
                0 => {
                    shards[cpu].count_send(path, len);
                    own[cpu][path] += amount(len);
                    flying[path].push(len);
                }
                1 => {
                    if let Some(len) = flying[path].pop() {
                        shards[cpu].count_complete(path, len, len % 2 == 0);
                        own[cpu][path] -= amount(len);
                    }
                }
                _ => {
                    for p in 0..paths {
                        let exact: i64 = own.iter().map(|o| o[p]).sum();
                        prop_assert_eq!(publish_inflight(&shards, p, unit), exact);
                        for c in 0..cpus {
                            snap[c][p] = own[c][p];
                        }
                    }
                }
            }
            for c in 0..cpus {
                for p in 0..paths {
                    let others: i64 = (0..cpus).filter(|&o| o != c).map(|o| snap[o][p]).sum();
                    let want = u64::try_from(others + own[c][p]).unwrap_or(0);
                    prop_assert_eq!(shards[c].paths[p].inflight_view(unit), want);
                }
            }
        }
    }
}
