//! loom model of the filter's own frame lending (`mpfilter::ndis::nbl::lend`, behind `OwnFrame`,
//! which the path probe sends). Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p mpfilter --release --test frame_loom`.
//!
//! The protocol's functions run on loom's `AtomicBool`. Properties:
//! - two runs of the group timer on two processors (a late one) cannot both take the frame: one
//!   wins, the other sends nothing;
//! - the winner's write of the buffer is visible to the driver below that reads it, and that read
//!   happens before the next write (after the completion gave the frame back): the buffer is a
//!   loom `UnsafeCell`, so loom reports a race if acquire/release do not order them.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use mpfilter::ndis::nbl::lend::{LendWord, give_back, is_out, lend};

/// loom's atomic behind the lending trait.
struct LoomFlag(AtomicBool);

impl LendWord for LoomFlag {
    fn compare_exchange(
        &self,
        current: bool,
        new: bool,
        success: Ordering,
        failure: Ordering,
    ) -> Result<bool, bool> {
        self.0.compare_exchange(current, new, success, failure)
    }
    fn store(&self, value: bool, order: Ordering) {
        self.0.store(value, order);
    }
    fn load(&self, order: Ordering) -> bool {
        self.0.load(order)
    }
}

struct Frame {
    out: LoomFlag,
    buffer: UnsafeCell<usize>,
    /// The send: which timer run's frame went down (0 = none yet).
    posted: AtomicUsize,
}

/// A timer run: takes the frame if home, writes it, sends it down. Returns whether it sent.
fn timer(f: &Frame, id: usize) -> bool {
    if !lend(&f.out) {
        return false;
    }
    // SAFETY: the model's own cell; loom checks the access is ordered.
    f.buffer.with_mut(|p| unsafe { *p = id });
    f.posted.store(id, Ordering::Release);
    true
}

#[test]
fn one_timer_run_takes_the_frame_and_its_write_is_ordered_with_the_drivers_read() {
    loom::model(|| {
        let f = Arc::new(Frame {
            out: LoomFlag(AtomicBool::new(false)),
            buffer: UnsafeCell::new(0),
            posted: AtomicUsize::new(0),
        });
        // A timer run that finds the frame out sends nothing this interval.
        let once = {
            let f = f.clone();
            thread::spawn(move || timer(&f, 1))
        };
        // Later intervals on another processor: tries until the frame is home again; its write
        // then comes after the driver below read the first frame (or it is the first).
        let later = {
            let f = f.clone();
            thread::spawn(move || {
                while !timer(&f, 2) {
                    thread::yield_now();
                }
            })
        };
        // The miniport: reads the first frame sent, then completes it.
        let below = {
            let f = f.clone();
            thread::spawn(move || {
                let id = loop {
                    match f.posted.load(Ordering::Acquire) {
                        0 => thread::yield_now(),
                        id => break id,
                    }
                };
                // SAFETY: the model's own cell; loom checks the access is ordered.
                let seen = f.buffer.with(|p| unsafe { *p });
                assert_eq!(seen, id, "the driver below reads the frame as written");
                give_back(&f.out);
            })
        };
        let first_sent = once.join().unwrap();
        later.join().unwrap();
        below.join().unwrap();
        // Two frames went down only if the single run found the frame home; the miniport gave one
        // back, so the frame is out exactly when a second one was sent after it.
        let sends = 1 + usize::from(first_sent);
        assert_eq!(
            is_out(&f.out),
            sends == 2,
            "out exactly when a frame is still below"
        );
        if !first_sent {
            assert_eq!(
                f.posted.load(Ordering::Relaxed),
                2,
                "only the later run sent"
            );
        }
    });
}
