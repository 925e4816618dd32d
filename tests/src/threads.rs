//! Threads mode: the emulator's world shared by real threads, so the driver's entry points run
//! on several processors at the same time — as under NDIS, unlike the interleaved virtual
//! processors of a one-thread run.
//!
//! The world sits behind a lock that [`crate::world::with`] takes for the emulator's own
//! bookkeeping only and never holds while the driver runs (the emulator's rule everywhere: take
//! what is needed, drop the borrow, call the driver). Each thread is a processor of its own: its
//! IRQL, callback stack and processor number are swapped into the world while it holds the lock.
//! NDIS spin locks really exclude: a processor acquiring one another holds spins until it is
//! released. Every rule and leak check applies as in a one-thread run.

use crate::emulator::Emulator;
use crate::machine::threads::worker;
use crate::world::{self, Cpu, Shared};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

/// What the threads did in one [`Emulator::on_threads`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadsReport {
    /// Driver calls the emulator made (its callbacks into the filter).
    pub driver_calls: u64,
    /// Of those, calls that began while another processor was inside the driver.
    pub overlapping: u64,
    /// Most processors inside the driver at once.
    pub most_in_driver: u32,
    /// Sends and receive indications on a Pausing module from a callback that began before
    /// the pause (on another processor than FilterPause): allowed, and waited for by the pause.
    pub across_pause: u64,
}

/// Leaves the shared world when its thread is done with it, even by a panic (a thread that
/// never left would keep the others waiting for it).
struct Seat;

impl Drop for Seat {
    fn drop(&mut self) {
        world::leave();
    }
}

fn sit(shared: &Arc<Shared>, cpu: u32) -> Seat {
    assert!(
        world::enter(shared, Cpu::new(cpu)),
        "a thread enters one world"
    );
    Seat
}

impl Emulator {
    /// The NBLs adapter `adapter`'s module is responsible for now, by where they are: (held by
    /// the filter from above, held from below, sent below, indicated above) — what a run that
    /// did not finish still waits for.
    pub fn held_by_filter(&self, adapter: usize) -> (usize, usize, usize, usize) {
        world::with(|w| w.outstanding(adapter)).expect("this thread's emulator")
    }

    /// Runs `control` on this thread while `workers` more threads run the emulator's events —
    /// the protocols' sends, the miniports' completions and receives, the protocols' returns,
    /// timers, status and PnP — so that the driver is entered from `workers + 1` real threads at
    /// once (`control` runs events too whenever it waits, e.g. in [`Emulator::run_until_idle`] or
    /// a pause). The threads start together; once `control` returns they run until the run is
    /// idle (or halted), then the world is this thread's again.
    ///
    /// # Panics
    /// If the emulator has fewer virtual processors (`EmuConfig::cpus`) than threads: each thread
    /// is a processor of its own (the driver may keep per-processor state). Panics of `control`
    /// or a worker are passed on once every thread has stopped.
    pub fn on_threads<R>(
        &mut self,
        workers: u32,
        control: impl FnOnce(&mut Emulator) -> R,
    ) -> (R, ThreadsReport) {
        let w = world::uninstall().expect("this thread's emulator");
        assert!(
            w.cfg.cpus > workers,
            "{} virtual processors for {} threads",
            w.cfg.cpus,
            workers + 1
        );
        let shared = Shared::new(w);
        let done = AtomicBool::new(false);
        let start = Barrier::new(workers as usize + 1);
        let outcome = std::thread::scope(|s| {
            let threads: Vec<_> = (1..=workers)
                .map(|cpu| {
                    let (shared, done, start) = (&shared, &done, &start);
                    s.spawn(move || {
                        let _seat = sit(shared, cpu);
                        start.wait();
                        worker(done);
                    })
                })
                .collect();
            let seat = sit(&shared, 0);
            start.wait();
            let r = catch_unwind(AssertUnwindSafe(|| control(self)));
            done.store(true, Ordering::Release);
            drop(seat);
            let joined: Vec<_> = threads
                .into_iter()
                .map(std::thread::ScopedJoinHandle::join)
                .collect();
            (r, joined)
        });
        let mut w = Shared::into_world(shared).expect("every thread left the world");
        let c = std::mem::take(&mut w.census);
        assert!(world::install(w), "the world comes back to its thread");
        let (r, joined) = outcome;
        let r = r.unwrap_or_else(|p| resume_unwind(p));
        for j in joined {
            if let Err(p) = j {
                resume_unwind(p);
            }
        }
        let report = ThreadsReport {
            driver_calls: c.driver_calls,
            overlapping: c.overlapping,
            most_in_driver: c.most_in_driver,
            across_pause: c.across_pause,
        };
        (r, report)
    }
}

#[cfg(test)]
mod tests {
    use crate::abi::Abi;
    use crate::config::EmuConfig;
    use crate::exports::spin_lock;
    use crate::irql::Irql;
    use crate::world::{self, Cpu, Shared, World};
    use mpfilter::ndis::types::NDIS_SPIN_LOCK;
    use std::cell::UnsafeCell;
    use std::sync::Barrier;

    /// A counter only the spin lock guards.
    struct Guarded(UnsafeCell<u64>);
    // SAFETY: every access is between NdisAcquireSpinLock and NdisReleaseSpinLock of one lock,
    // which (the test checks) excludes across threads.
    unsafe impl Sync for Guarded {}

    #[test]
    fn spin_locks_exclude_across_threads_and_raise_only_their_holders_irql() {
        const ROUNDS: u64 = 2_000;
        let shared = Shared::new(World::new(EmuConfig::default()));
        let mut lock = Box::new(NDIS_SPIN_LOCK::default());
        let lock_ptr = std::ptr::from_mut(&mut *lock) as usize;
        let count = Guarded(UnsafeCell::new(0));
        let start = Barrier::new(2);
        std::thread::scope(|s| {
            for cpu in 0..2 {
                let (shared, count, start) = (&shared, &count, &start);
                s.spawn(move || {
                    assert!(world::enter(shared, Cpu::new(cpu)));
                    let l = lock_ptr as *mut NDIS_SPIN_LOCK;
                    if cpu == 0 {
                        // SAFETY: a live lock the test owns.
                        unsafe { spin_lock::allocate(Abi::Host, l) };
                    }
                    start.wait();
                    for _ in 0..ROUNDS {
                        // SAFETY: an allocated lock.
                        unsafe { spin_lock::acquire_lock(Abi::Host, l) };
                        assert_eq!(world::with(|w| w.irql), Some(Irql::Dispatch));
                        // SAFETY: under the lock (see `Guarded`).
                        let v = unsafe { count.0.get().read() };
                        std::thread::yield_now();
                        // SAFETY: as above.
                        unsafe { count.0.get().write(v + 1) };
                        // SAFETY: held by this processor.
                        unsafe { spin_lock::release_lock(Abi::Host, l) };
                        assert_eq!(world::with(|w| w.irql), Some(Irql::Passive));
                    }
                    world::leave();
                });
            }
        });
        let w = Shared::into_world(shared).expect("both threads left");
        assert!(w.violations.is_empty(), "{:?}", w.violations);
        assert_eq!(count.0.into_inner(), 2 * ROUNDS);
        drop(lock);
    }

    #[test]
    fn acquiring_a_lock_this_processor_holds_is_still_a_deadlock() {
        let shared = Shared::new(World::new(EmuConfig::default()));
        let mut lock = Box::new(NDIS_SPIN_LOCK::default());
        let l = std::ptr::from_mut(&mut *lock);
        std::thread::scope(|s| {
            // Another entered thread makes this threads mode.
            let other = s.spawn(|| assert!(world::enter(&shared, Cpu::new(1))));
            other.join().expect("entered");
            assert!(world::enter(&shared, Cpu::new(0)));
            // SAFETY: a live lock the test owns.
            unsafe { spin_lock::allocate(Abi::Host, l) };
            for _ in 0..2 {
                // SAFETY: an allocated lock; taken twice on purpose.
                unsafe { spin_lock::acquire_lock(Abi::Host, l) };
            }
            world::leave();
        });
        let w = Shared::into_world(shared).expect("both threads left");
        assert_eq!(
            w.violations.first().map(|v| v.rule),
            Some(crate::rules::Rule::SpinLockRecursiveAcquire)
        );
    }
}
