//! Threads mode's event loop: real threads that share one world each run its events, so the
//! driver's send, completion, receive and return handlers (and timers, PnP, status) run on
//! several processors at the same time, as they do under NDIS.
//!
//! Virtual time stays causal enough for the emulator's watchdogs: while another thread is busy
//! (running an event or inside the driver) a thread only runs events due within [`LOOKAHEAD`] of
//! now. Otherwise, while one thread is descheduled in the middle of an event whose follow-up is
//! due in microseconds, the others would run the far-off timer firings and carry the clock
//! hundreds of milliseconds ahead of it.

use super::{dispatch, lifecycle_deadline, liveness, run_until, timer};
use crate::sched::Nanos;
use crate::world::{self, Census, Event, World};
use std::sync::atomic::{AtomicBool, Ordering};

/// How far ahead of now a thread may run events while another thread is busy.
const LOOKAHEAD: Nanos = 50_000;

impl Census {
    fn is_active(&self) -> bool {
        self.here.events + self.here.in_driver > 0 && !self.here.parked
    }

    /// Applies a change to this processor's part, keeping the counts in step.
    fn change(&mut self, f: impl FnOnce(&mut world::Here)) {
        let (was_active, was_parked) = (self.is_active(), self.here.parked);
        f(&mut self.here);
        match (was_active, self.is_active()) {
            (false, true) => self.active += 1,
            (true, false) => self.active -= 1,
            _ => {}
        }
        match (was_parked, self.here.parked) {
            (false, true) => self.parked += 1,
            (true, false) => self.parked -= 1,
            _ => {}
        }
    }

    /// Parks the caller and says whether another thread is still at work (so waiting for it
    /// makes sense); always false with one thread.
    pub(crate) fn park(&mut self) -> bool {
        if !self.threads() {
            return false;
        }
        self.change(|h| h.parked = true);
        self.entered > self.parked
    }

    /// The caller works again.
    pub(crate) fn unpark(&mut self) {
        if self.here.parked {
            self.change(|h| h.parked = false);
        }
    }

    /// Whether another thread is busy and not parked.
    fn others_active(&self) -> bool {
        self.active > u32::from(self.is_active())
    }
}

/// Whether the calling thread may run the event due at `at` now: always with one thread; in
/// threads mode only within [`LOOKAHEAD`] while another thread is busy.
pub(super) fn may_run(w: &World, at: Nanos) -> bool {
    at <= w.now().saturating_add(LOOKAHEAD) || !w.census.others_active()
}

/// The calling thread takes the next event to run (it counts as busy until [`event_done`]).
pub(super) fn take_event(w: &mut World) -> Option<Event> {
    w.census.unpark();
    let ev = w.sched.pop()?;
    w.census.change(|h| h.events += 1);
    Some(ev)
}

/// The calling thread finished an event from [`take_event`].
pub(super) fn event_done(c: &mut Census) {
    c.change(|h| h.events = h.events.saturating_sub(1));
}

/// A processor enters the driver (nested calls on one processor count once), calling the module
/// of `adapter` if any.
pub(super) fn driver_entered(c: &mut Census, adapter: Option<usize>) {
    if let Some(a) = adapter {
        *c.in_module.entry(a).or_insert(0) += 1;
    }
    c.change(|h| h.in_driver += 1);
    if c.here.in_driver == 1 {
        c.stamp += 1;
        c.here.entered = c.stamp;
        c.driver_calls += 1;
        if c.in_driver > 0 {
            c.overlapping += 1;
        }
        c.in_driver += 1;
        c.most_in_driver = c.most_in_driver.max(c.in_driver);
    }
}

/// A processor's driver call returns.
pub(super) fn driver_left(c: &mut Census, adapter: Option<usize>) {
    if let Some(n) = adapter.and_then(|a| c.in_module.get_mut(&a)) {
        *n = n.saturating_sub(1);
    }
    c.change(|h| h.in_driver = h.in_driver.saturating_sub(1));
    if c.here.in_driver == 0 {
        c.in_driver = c.in_driver.saturating_sub(1);
        c.here.entered = u64::MAX;
    }
}

/// Runs `ev` (taken with [`take_event`]).
pub(super) fn run_event(ev: Event) {
    dispatch(ev);
    world::with(|w| event_done(&mut w.census));
}

enum Next {
    Run(Event),
    Wait,
    Stop,
}

/// Runs the shared queue's events on this thread until the run halts, or `done` is set and the
/// run is idle with every other thread parked.
pub(crate) fn worker(done: &AtomicBool) {
    loop {
        let next = world::with(|w| {
            if w.halted || !liveness::progressing(w) {
                return Next::Stop;
            }
            let idle = match w.sched.peek_time() {
                None => true,
                Some(_) if timer::only_firings_queued(w) && !liveness::anything_owed(w) => true,
                Some(at) if may_run(w, at) => {
                    return take_event(w).map_or(Next::Wait, Next::Run);
                }
                Some(_) => false,
            };
            if w.census.park() || !idle || !done.load(Ordering::Acquire) {
                Next::Wait
            } else {
                Next::Stop
            }
        });
        match next {
            None | Some(Next::Stop) => break,
            Some(Next::Wait) => std::thread::yield_now(),
            Some(Next::Run(ev)) => run_event(ev),
        }
    }
    world::with(|w| w.census.unpark());
}

/// The adapter whose stack an event changes or delivers a status or PnP event to: what NDIS
/// serialises per stack (in threads mode, [`pnp_event_begins`]).
pub(super) fn pnp_adapter(ev: &Event) -> Option<usize> {
    match *ev {
        Event::Status(a)
        | Event::NetPnp(a)
        | Event::DevicePnp(a)
        | Event::RestartFilter(a)
        | Event::Fault(a, _) => Some(a),
        _ => None,
    }
}

/// Takes adapter `a`'s stack for this processor (nested takes count); false if another
/// processor has it. Always true with one thread.
fn pnp_try(w: &mut World, a: usize) -> bool {
    if !w.census.threads() {
        return true;
    }
    let cpu = w.kernel.cpu;
    let e = w.census.pnp.entry(a).or_insert((cpu, 0));
    if e.0 != cpu {
        return false;
    }
    e.1 += 1;
    true
}

/// Gives back one take of adapter `a`'s stack.
pub(super) fn pnp_end(a: usize) {
    world::with(|w| {
        if let Some(e) = w.census.pnp.get_mut(&a) {
            e.1 = e.1.saturating_sub(1);
            if e.1 == 0 {
                w.census.pnp.remove(&a);
            }
        }
    });
}

/// An event NDIS serialises per stack begins: `Some` (with the stack taken, to be given back
/// with [`pnp_end`]) if it may run now; otherwise it is put back a little later and `None`.
pub(super) fn pnp_event_begins(ev: Event) -> Option<Event> {
    let Some(a) = pnp_adapter(&ev) else {
        return Some(ev);
    };
    world::with(|w| {
        if pnp_try(w, a) {
            return Some(ev);
        }
        w.census.pnp_deferred += 1;
        w.sched.after(LOOKAHEAD / 10, ev);
        None
    })
    .flatten()
}

/// Takes adapter `a`'s stack for a lifecycle operation of this processor, waiting (and running
/// events) while another processor has it; give it back with [`pnp_end`].
pub(super) fn pnp_begin(a: usize) {
    while world::with(|w| pnp_try(w, a)) == Some(false) {
        let dl = lifecycle_deadline();
        let cpu = world::with(|w| w.kernel.cpu).unwrap_or(0);
        run_until(|w| w.census.pnp.get(&a).is_none_or(|e| e.0 == cpu), dl);
    }
}

/// Waits (running events) until no other processor is inside a callback of adapter `a`'s
/// module: NDIS detaches a module only once the calls into it have returned.
pub(super) fn quiet_module(a: usize) {
    let dl = lifecycle_deadline();
    run_until(
        |w| !w.census.threads() || w.census.in_module.get(&a).is_none_or(|&n| n == 0),
        dl,
    );
}
