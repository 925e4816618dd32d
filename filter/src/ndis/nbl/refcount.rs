//! The counting protocol of a parent NBL's `ChildRefCount`, generic over the atomic so that the
//! loom model (`filter/tests/child_loom.rs`) runs this very code on loom's atomics.
//!
//! Counts are taken with a relaxed increment — whoever takes one already holds a count (or owns
//! the parent), so the parent cannot go away meanwhile — and given back with a release
//! decrement; the one that gives back the last count follows with an acquire fence and then owns
//! the parent: every write a holder made (a child's status and LSO write-back copied to the
//! parent) happens before that owner's reads.

use core::sync::atomic::{AtomicI32, Ordering, fence};

/// The atomic a count lives in.
pub trait CountWord: Sync {
    /// `fetch_add`.
    fn fetch_add(&self, value: i32, order: Ordering) -> i32;
    /// `fetch_sub`.
    fn fetch_sub(&self, value: i32, order: Ordering) -> i32;
    /// An acquire fence of the same memory model as the word.
    fn acquire_fence(&self);
}

impl CountWord for AtomicI32 {
    fn fetch_add(&self, value: i32, order: Ordering) -> i32 {
        AtomicI32::fetch_add(self, value, order)
    }
    fn fetch_sub(&self, value: i32, order: Ordering) -> i32 {
        AtomicI32::fetch_sub(self, value, order)
    }
    fn acquire_fence(&self) {
        fence(Ordering::Acquire);
    }
}

/// Takes one count (a new child's, or the cloning's own).
pub fn take_count<C: CountWord + ?Sized>(count: &C) {
    count.fetch_add(1, Ordering::Relaxed);
}

/// Gives one count back; `true` when it was the last: the caller then owns the parent.
pub fn give_count<C: CountWord + ?Sized>(count: &C) -> bool {
    if count.fetch_sub(1, Ordering::Release) != 1 {
        return false;
    }
    count.acquire_fence();
    true
}
