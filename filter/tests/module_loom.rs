//! loom model of the pause gate (`mpfilter::module::PauseGate`). Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=/work/target-filter-loom cargo test -p mpfilter --release --test module_loom`.
//!
//! The gate is generic over its atomic word; here it runs on loom's `AtomicU64`, so loom explores
//! every interleaving (and every weak-memory outcome it models) of the very code the driver runs
//! on `core::sync::atomic::AtomicU64`.
//!
//! Properties checked, for concurrent sends/receives, completions and FilterPause:
//! - the pause completes exactly once: either FilterPause sees nothing outstanding (returns
//!   SUCCESS) or exactly one completion/return reports `pause_completed`;
//! - no NBL is admitted after the pause completed, and the pause never completes while an admitted
//!   NBL is still out (an admitted sender checks that no pause completion has been published yet,
//!   so a gate that completed early would fail in some interleaving);
//! - the module ends Paused with nothing outstanding;
//! - what a completer wrote into its NBLs before [`PauseGate::leave`] is visible to whoever
//!   completes the pause (the last completer, or FilterPause finding nothing out): the payload is
//!   a loom `UnsafeCell`, so loom reports a data race if the gate's acquire/release ordering does
//!   not carry that write across (also with admissions racing the start of Pausing).
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
mod common;

use common::running_gate;
#[path = "common/loom_word.rs"]
mod loom_word;
use loom_word::LoomWord;
use mpfilter::module::{ModuleEvent, ModuleState, PauseGate};

type Gate = PauseGate<LoomWord>;

/// Shared test state: the gate, how many pause completions happened, and whether one has been
/// published.
struct World {
    gate: Gate,
    completions: AtomicUsize,
    paused: AtomicBool,
}

impl World {
    fn running() -> Arc<World> {
        Arc::new(World {
            gate: running_gate(),
            completions: AtomicUsize::new(0),
            paused: AtomicBool::new(false),
        })
    }

    fn complete_pause(&self) {
        self.completions.fetch_add(1, Ordering::SeqCst);
        self.paused.store(true, Ordering::SeqCst);
    }

    /// FilterPause.
    fn pause(&self) {
        match self.gate.transition(ModuleEvent::Pause) {
            Ok(ModuleState::Paused) => self.complete_pause(),
            Ok(ModuleState::Pausing) => {}
            other => panic!("pause from Running gave {other:?}"),
        }
    }

    /// A send (or receive) of `n` NBLs followed later by its completion (or return).
    fn send_and_complete(&self, n: u64) {
        if self.gate.try_enter(n) {
            assert!(
                !self.paused.load(Ordering::SeqCst),
                "admitted, yet the pause already completed"
            );
            let leave = self.gate.leave(n);
            assert!(!leave.underflow);
            if leave.pause_completed {
                self.complete_pause();
            }
        }
    }

    /// A completion of `n` NBLs admitted earlier.
    fn complete(&self, n: u64) {
        assert!(
            !self.paused.load(Ordering::SeqCst),
            "the pause completed while NBLs were out"
        );
        let leave = self.gate.leave(n);
        assert!(!leave.underflow);
        if leave.pause_completed {
            self.complete_pause();
        }
    }

    fn check_end(&self) {
        assert_eq!(
            self.completions.load(Ordering::SeqCst),
            1,
            "exactly one completion"
        );
        assert_eq!(self.gate.state(), ModuleState::Paused);
        assert_eq!(self.gate.outstanding(), 0);
        assert!(!self.gate.try_enter(1), "nothing is admitted once paused");
    }
}

/// One payload word per NBL owner (thread), as an NBL's data: written by its owner before the
/// NBL goes back through the gate, read by whoever completes the pause (NDIS may then reuse it).
struct Payloads {
    cells: [UnsafeCell<u64>; 2],
}

impl Payloads {
    fn new() -> Arc<Payloads> {
        Arc::new(Payloads {
            cells: [UnsafeCell::new(0), UnsafeCell::new(0)],
        })
    }

    /// The value owner `i` writes.
    fn mark(i: usize) -> u64 {
        i as u64 + 1
    }

    fn write(&self, i: usize) {
        // SAFETY: only owner `i` writes cell `i`, and only while its NBL is admitted; loom
        // checks that no read of it races this write.
        self.cells[i].with_mut(|p| unsafe { *p = Self::mark(i) });
    }

    /// After the pause completed: every cell is either untouched (its owner was never admitted)
    /// or holds its owner's mark.
    fn check_all(&self) {
        for (i, c) in self.cells.iter().enumerate() {
            // SAFETY: loom's cell: a read racing an owner's write is reported as a data race.
            let v = c.with(|p| unsafe { *p });
            assert!(v == 0 || v == Self::mark(i), "cell {i} holds {v}");
        }
    }
}

impl World {
    /// The pause completion, seen by the driver that performs it: it reads all NBL data first.
    fn complete_pause_reading(&self, data: &Payloads) {
        data.check_all();
        self.complete_pause();
    }

    /// A completion of one admitted NBL whose data owner `i` wrote just before.
    fn complete_after_writing(&self, data: &Payloads, i: usize) {
        data.write(i);
        let leave = self.gate.leave(1);
        assert!(!leave.underflow);
        if leave.pause_completed {
            self.complete_pause_reading(data);
        }
    }

    /// FilterPause; when it finds nothing out, the pause is complete at once.
    fn pause_reading(&self, data: &Payloads) {
        match self.gate.transition(ModuleEvent::Pause) {
            Ok(ModuleState::Paused) => self.complete_pause_reading(data),
            Ok(ModuleState::Pausing) => {}
            other => panic!("pause from Running gave {other:?}"),
        }
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

#[test]
fn a_send_racing_a_pause() {
    model(|| {
        let w = World::running();
        let sender = {
            let w = w.clone();
            thread::spawn(move || w.send_and_complete(2))
        };
        w.pause();
        sender.join().unwrap();
        w.check_end();
    });
}

#[test]
fn the_last_completion_racing_the_pause() {
    model(|| {
        let w = World::running();
        assert!(w.gate.try_enter(1));
        let completer = {
            let w = w.clone();
            thread::spawn(move || w.complete(1))
        };
        w.pause();
        completer.join().unwrap();
        w.check_end();
    });
}

#[test]
fn two_completions_racing_each_other_and_the_pause() {
    model(|| {
        let w = World::running();
        assert!(w.gate.try_enter(3));
        let a = {
            let w = w.clone();
            thread::spawn(move || w.complete(1))
        };
        let b = {
            let w = w.clone();
            thread::spawn(move || w.complete(2))
        };
        w.pause();
        a.join().unwrap();
        b.join().unwrap();
        w.check_end();
    });
}

#[test]
fn a_send_and_a_receive_racing_a_pause_with_one_nbl_already_out() {
    model(|| {
        let w = World::running();
        assert!(w.gate.try_enter(1));
        let sender = {
            let w = w.clone();
            thread::spawn(move || w.send_and_complete(1))
        };
        let receiver = {
            let w = w.clone();
            thread::spawn(move || {
                w.send_and_complete(2);
                w.complete(1);
            })
        };
        w.pause();
        sender.join().unwrap();
        receiver.join().unwrap();
        w.check_end();
    });
}

#[test]
fn restart_after_a_raced_pause_admits_again() {
    model(|| {
        let w = World::running();
        let sender = {
            let w = w.clone();
            thread::spawn(move || w.send_and_complete(1))
        };
        w.pause();
        sender.join().unwrap();
        w.check_end();
        w.gate.transition(ModuleEvent::Restart).unwrap();
        w.gate.transition(ModuleEvent::RestartSucceeded).unwrap();
        assert!(w.gate.try_enter(1));
        assert!(!w.gate.leave(1).pause_completed);
    });
}

#[test]
fn nbl_data_written_before_the_last_completion_is_visible_to_the_pause_completer() {
    model(|| {
        let w = World::running();
        let data = Payloads::new();
        assert!(w.gate.try_enter(2));
        let completers: Vec<_> = (0..2)
            .map(|i| {
                let (w, data) = (w.clone(), data.clone());
                thread::spawn(move || w.complete_after_writing(&data, i))
            })
            .collect();
        w.pause_reading(&data);
        for c in completers {
            c.join().unwrap();
        }
        w.check_end();
    });
}

#[test]
fn admissions_racing_the_start_of_pausing_publish_their_data() {
    model(|| {
        let w = World::running();
        let data = Payloads::new();
        let senders: Vec<_> = (0..2)
            .map(|i| {
                let (w, data) = (w.clone(), data.clone());
                thread::spawn(move || {
                    if w.gate.try_enter(1) {
                        w.complete_after_writing(&data, i);
                    }
                })
            })
            .collect();
        w.pause_reading(&data);
        for s in senders {
            s.join().unwrap();
        }
        w.check_end();
    });
}
