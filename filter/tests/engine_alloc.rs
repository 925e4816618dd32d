//! Proves that `select` / `on_send` / `on_complete` (and `cancel`) never allocate, for every policy, with
//! and without flowlet affinity: a counting global allocator counts allocations made by this
//! thread while the hot calls run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mpfilter::engine::{
    Completion, CompletionStatus, FlowKey, GroupConfig, HashLayer, PathConfig, PathEvent,
    PathGroup, PathId, PolicyConfig, QuotaConfig, Selection, SendError, SendRequest,
    ShareScheduler, SpeedShareConfig, TargetKey, US,
};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // Per-thread: tests running in parallel do not see each other's allocations. `try_with`:
    // the thread-locals may already be gone while a thread exits.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
    }
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees carry over; the counter has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as above; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn policies() -> Vec<PolicyConfig> {
    vec![
        PolicyConfig::FailoverOnly,
        PolicyConfig::RoundRobin,
        PolicyConfig::WeightedPaths,
        PolicyConfig::LeastQueueDepth,
        PolicyConfig::LeastBlocks,
        PolicyConfig::AddressHash(HashLayer::Layer2),
        PolicyConfig::AddressHash(HashLayer::Layer34),
        PolicyConfig::ServiceTime,
        PolicyConfig::Quota(QuotaConfig {
            max_outstanding_per_target: 4,
            target_slots: 64,
        }),
        PolicyConfig::Quota(QuotaConfig {
            max_outstanding_per_target: 0,
            target_slots: 1,
        }),
        PolicyConfig::SpeedShare(SpeedShareConfig::default()),
        PolicyConfig::SpeedShare(SpeedShareConfig {
            scheduler: ShareScheduler::EarliestFinish,
            ..SpeedShareConfig::default()
        }),
    ]
}

#[test]
fn hot_path_does_not_allocate() {
    for policy in policies() {
        for gap in [0, 500 * US] {
            let mut cfg = GroupConfig::new(vec![PathConfig::default(); 4], policy);
            cfg.flowlet.gap_ns = gap;
            cfg.cpus = 4;
            // Set-up allocates (outside the counted region).
            let mut g = PathGroup::new(cfg).unwrap();
            g.tick(1);
            let mut now = 10u64;
            let mut selected = 0usize;
            COUNTING.with(|c| c.set(true));
            for i in 0..20_000u64 {
                now += 300;
                let req = SendRequest {
                    flow: FlowKey {
                        l2: i % 37,
                        l34: i % 101,
                    },
                    len: 64 + u32::try_from(i % 1400).unwrap(),
                    target: TargetKey(i % 3),
                    cpu: u32::try_from(i % 4).unwrap(),
                };
                if let Selection::Path(p) = g.select(&req, now) {
                    selected += 1;
                    if i % 17 == 0 {
                        g.cancel(p, &req);
                        continue;
                    }
                    g.on_send(p, &req, now);
                    let status = if i % 97 == 0 {
                        CompletionStatus::Error(SendError::Failure)
                    } else {
                        CompletionStatus::Ok
                    };
                    let c = Completion {
                        path: p,
                        len: req.len,
                        target: req.target,
                        cpu: req.cpu,
                        status,
                        latency_ns: 700,
                    };
                    let _ = g.on_complete(&c, now + 700);
                }
            }
            COUNTING.with(|c| c.set(false));
            // The control plane may run in between (it does not allocate either, but is not the
            // subject here): exercise it and then count the hot path again.
            g.event(PathId::new(1).unwrap(), PathEvent::LinkDown, now);
            g.tick(now + 1);
            COUNTING.with(|c| c.set(true));
            for i in 0..1000u64 {
                let req = SendRequest {
                    flow: FlowKey { l2: i, l34: i },
                    len: 1500,
                    target: TargetKey(9),
                    cpu: 0,
                };
                if let Selection::Path(p) = g.select(&req, now + 2) {
                    g.on_send(p, &req, now + 2);
                    let c = Completion {
                        path: p,
                        len: 1500,
                        target: req.target,
                        cpu: 0,
                        status: CompletionStatus::Ok,
                        latency_ns: 5,
                    };
                    let _ = g.on_complete(&c, now + 7);
                }
            }
            COUNTING.with(|c| c.set(false));
            assert!(selected > 1000, "{policy:?}: the hot path ran");
            assert_eq!(allocations(), 0, "{policy:?} gap {gap}: hot path allocated");
        }
    }
}

#[test]
fn control_plane_event_and_tick_do_not_allocate() {
    let mut g = PathGroup::new(GroupConfig::new(
        vec![PathConfig::default(); 4],
        PolicyConfig::SpeedShare(SpeedShareConfig::default()),
    ))
    .unwrap();
    let before = allocations();
    COUNTING.with(|c| c.set(true));
    for k in 0..100u64 {
        let _ = g.event(
            PathId::new(usize::try_from(k % 4).unwrap()).unwrap(),
            PathEvent::LinkDown,
            k,
        );
        let _ = g.tick(k * 1_000_000);
        let _ = g.event(
            PathId::new(usize::try_from(k % 4).unwrap()).unwrap(),
            PathEvent::LinkUp,
            k,
        );
        let _ = g.path_info(PathId::new(0).unwrap());
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(allocations(), before);
}
