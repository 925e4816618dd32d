//! loom model of a module's parking (`mpfilter::module::drain_turn`, behind `Parking` and
//! `Module::drain_parked`). Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p mpfilter --release --test parking_loom`.
//!
//! The queue is a lock-protected list with a length hint read without the lock, as in
//! `module/parking.rs`; the turn is the driver's own `claim` / `begin_pass` / `hand_back` on loom's
//! `AtomicBool`. Each processor parks an NBL and then, as a completion would, drains. Properties:
//! - nothing is stranded: when every processor has returned, the queue is empty — a drain asked
//!   for while another processor held the turn was made by that processor;
//! - every parked NBL is drained exactly once;
//! - two drains never overlap, and each sees what the previous one did: the drainer's own state is
//!   a loom `UnsafeCell`, so loom reports a race if the turn does not order the passes.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use mpfilter::module::drain_turn::{TurnWord, begin_pass, claim, hand_back};

/// loom's atomic behind the turn's trait.
struct LoomFlag(AtomicBool);

impl TurnWord for LoomFlag {
    fn swap(&self, value: bool, order: Ordering) -> bool {
        self.0.swap(value, order)
    }
    fn store(&self, value: bool, order: Ordering) {
        self.0.store(value, order);
    }
    fn load(&self, order: Ordering) -> bool {
        self.0.load(order)
    }
}

/// One module's parking: the queue under its lock, the length hint, the turn.
struct Parking {
    queue: Mutex<Vec<u32>>,
    len: AtomicU32,
    held: LoomFlag,
    wanted: LoomFlag,
    /// What the drainers did, touched only while holding the turn.
    drained: UnsafeCell<Vec<u32>>,
}

impl Parking {
    fn new() -> Self {
        Self {
            queue: Mutex::new(Vec::new()),
            len: AtomicU32::new(0),
            held: LoomFlag(AtomicBool::new(false)),
            wanted: LoomFlag(AtomicBool::new(false)),
            drained: UnsafeCell::new(Vec::new()),
        }
    }

    /// `Parking::push`.
    fn park(&self, nbl: u32) {
        let mut q = self.queue.lock().unwrap();
        q.push(nbl);
        self.len.fetch_add(1, Ordering::AcqRel);
    }

    /// `Parking::pop`.
    fn pop(&self) -> Option<u32> {
        let mut q = self.queue.lock().unwrap();
        if q.is_empty() {
            return None;
        }
        let nbl = q.remove(0);
        self.len.fetch_sub(1, Ordering::AcqRel);
        Some(nbl)
    }

    /// `Module::drain_parked`, with every path able to take what is parked.
    fn drain(&self) {
        if self.len.load(Ordering::Acquire) == 0 || !claim(&self.wanted, &self.held) {
            return;
        }
        loop {
            begin_pass(&self.wanted);
            while let Some(nbl) = self.pop() {
                // SAFETY: the model's own cell, touched only by the turn's holder; loom checks it.
                self.drained.with_mut(|d| unsafe { (*d).push(nbl) });
            }
            if !hand_back(&self.wanted, &self.held) {
                break;
            }
        }
    }
}

/// Each of `processors` threads parks one NBL and drains, under loom with `preemptions` at most.
fn run(processors: u32, preemptions: Option<usize>) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemptions;
    builder.check(move || {
        let p = Arc::new(Parking::new());
        let handles: Vec<_> = (0..processors)
            .map(|i| {
                let p = Arc::clone(&p);
                thread::spawn(move || {
                    p.park(i);
                    p.drain();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(
            p.queue.lock().unwrap().is_empty(),
            "an NBL parked and asked a drain for was stranded"
        );
        assert_eq!(p.len.load(Ordering::Acquire), 0, "the length hint matches");
        // SAFETY: every thread has been joined.
        let mut drained = p.drained.with(|d| unsafe { (*d).clone() });
        drained.sort_unstable();
        assert_eq!(
            drained,
            (0..processors).collect::<Vec<_>>(),
            "each parked NBL drained exactly once"
        );
        assert!(!p.held.load(Ordering::Acquire), "the turn is given back");
    });
}

/// Two processors each park and drain.
#[test]
fn a_drain_asked_for_during_another_is_made_and_nothing_is_stranded() {
    run(2, None);
}

/// Three processors: a request can arrive during a second pass too.
#[test]
fn three_processors_park_and_drain_without_stranding() {
    run(3, Some(3));
}
