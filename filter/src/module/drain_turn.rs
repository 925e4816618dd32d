//! Whose turn it is to drain a module's parking, generic over the atomic so that the loom model
//! (`filter/tests/parking_loom.rs`) runs this very code on loom's atomics.
//!
//! Drains run on completions and on the group's tick, on any processor, one at a time per module
//! (a send made while draining may complete inline and drain again). A processor that finds
//! another draining must not simply walk away: the capacity its completion freed would then sit
//! unused until the next completion or tick, with NBLs still parked. So it leaves a request
//! (`wanted`), and the drainer, as it gives the turn back, looks for one and drains again.
//!
//! Every access to `held` is a read-modify-write with acquire and release (claims, hand-backs,
//! re-claims), so they are totally ordered and each synchronises with the one before: a requester
//! that finds the turn taken wrote `wanted` before its swap, and the holder's hand-back swap, which
//! comes later and acquires it, makes that write visible to the load that follows. A pass's own
//! clearing of `wanted` comes before its pops, which take the queue's lock: a request it erases
//! was made after an NBL the pass will still find. The loom model strands an NBL when the
//! hand-back stops looking for requests or stops acquiring.
//!
//! The hand-back is a swap rather than a store for a second reason: loom orders a plain store
//! of one processor before another's concurrent swap of the same flag (which C11 rules out) and
//! would report the turn taken for ever. This is the drain's slow path.

use core::sync::atomic::{AtomicBool, Ordering};

/// The atomic each flag lives in.
pub trait TurnWord: Sync {
    /// `swap`.
    fn swap(&self, value: bool, order: Ordering) -> bool;
    /// `store`.
    fn store(&self, value: bool, order: Ordering);
    /// `load`.
    fn load(&self, order: Ordering) -> bool;
}

impl TurnWord for AtomicBool {
    fn swap(&self, value: bool, order: Ordering) -> bool {
        AtomicBool::swap(self, value, order)
    }
    fn store(&self, value: bool, order: Ordering) {
        AtomicBool::store(self, value, order);
    }
    fn load(&self, order: Ordering) -> bool {
        AtomicBool::load(self, order)
    }
}

/// Asks for a drain: `true` when the caller now holds the turn and must drain (calling
/// [`begin_pass`] before each pass and [`hand_back`] after it); `false` when another processor
/// holds it and will drain again on the caller's behalf.
pub fn claim<W: TurnWord + ?Sized>(wanted: &W, held: &W) -> bool {
    wanted.store(true, Ordering::Relaxed);
    !held.swap(true, Ordering::AcqRel)
}

/// Starts a pass: the requests made so far are what this pass answers.
pub fn begin_pass<W: TurnWord + ?Sized>(wanted: &W) {
    wanted.store(false, Ordering::Relaxed);
}

/// Gives the turn back after a pass: `true` when a drain was asked for meanwhile and the caller
/// holds the turn again (it must make another pass), `false` when it is done.
pub fn hand_back<W: TurnWord + ?Sized>(wanted: &W, held: &W) -> bool {
    let _ = held.swap(false, Ordering::AcqRel);
    wanted.load(Ordering::Relaxed) && !held.swap(true, Ordering::AcqRel)
}
