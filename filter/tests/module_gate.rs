//! The pause gate under real concurrency: sender/completer threads racing FilterPause on the
//! machine's CPUs, many rounds. The interleavings are whatever the scheduler produces (loom
//! covers all of them exhaustively in `module_loom.rs`); the assertions are the same invariants
//! and hold for every one.
#![cfg(not(loom))]

mod common;

use common::running_gate;
use mpfilter::module::{ModuleEvent, ModuleState, PauseGate};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

const ROUNDS: usize = 200;
const SENDERS: usize = 3;
const SENDS_PER_SENDER: usize = 200;

struct Round {
    gate: PauseGate,
    completions: AtomicUsize,
    paused: AtomicBool,
    start: Barrier,
}

impl Round {
    fn complete_pause(&self) {
        self.completions.fetch_add(1, Ordering::SeqCst);
        self.paused.store(true, Ordering::SeqCst);
    }
}

#[test]
fn concurrent_sends_and_a_pause_complete_the_pause_exactly_once() {
    for _ in 0..ROUNDS {
        let round = Arc::new(Round {
            gate: running_gate(),
            completions: AtomicUsize::new(0),
            paused: AtomicBool::new(false),
            start: Barrier::new(SENDERS + 1),
        });
        let senders: Vec<_> = (0..SENDERS)
            .map(|i| {
                let round = Arc::clone(&round);
                thread::spawn(move || {
                    round.start.wait();
                    for _ in 0..SENDS_PER_SENDER {
                        let n = 1 + (i as u64 % 3);
                        if round.gate.try_enter(n) {
                            assert!(
                                !round.paused.load(Ordering::SeqCst),
                                "admitted after the pause completed"
                            );
                            let leave = round.gate.leave(n);
                            assert!(!leave.underflow);
                            if leave.pause_completed {
                                round.complete_pause();
                            }
                        }
                    }
                })
            })
            .collect();
        round.start.wait();
        match round.gate.transition(ModuleEvent::Pause) {
            Ok(ModuleState::Paused) => round.complete_pause(),
            Ok(ModuleState::Pausing) => {}
            other => panic!("pause gave {other:?}"),
        }
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(round.completions.load(Ordering::SeqCst), 1);
        assert_eq!(round.gate.state(), ModuleState::Paused);
        assert_eq!(round.gate.outstanding(), 0);
    }
}
