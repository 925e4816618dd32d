//! loom model of a parent NBL's child count (`mpfilter::ndis::nbl::refcount`), the protocol
//! behind `Cloning`, `ChildNbl::release` and `SingleChild`. Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p mpfilter --release --test child_loom`.
//!
//! The counting code is generic over its atomic; here it runs on loom's `AtomicI32` and fence, so
//! loom explores every interleaving of the very functions the driver uses. Properties:
//! - exactly one of the count's holders (the cloning itself, and each child as it completes on
//!   its own processor) gets the parent back, whatever the order;
//! - what each child wrote before giving its count back (its status and LSO write-back, copied
//!   to the parent) is visible to whoever gets the parent: the writes go to loom `UnsafeCell`s,
//!   so loom reports a data race if the release/acquire pairing does not order them.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicI32, AtomicUsize, Ordering, fence};
use loom::thread;
use mpfilter::ndis::nbl::refcount::{CountWord, give_count, take_count};

/// loom's atomic behind the counting trait.
struct LoomCount(AtomicI32);

impl CountWord for LoomCount {
    fn fetch_add(&self, value: i32, order: Ordering) -> i32 {
        self.0.fetch_add(value, order)
    }
    fn fetch_sub(&self, value: i32, order: Ordering) -> i32 {
        self.0.fetch_sub(value, order)
    }
    fn acquire_fence(&self) {
        fence(Ordering::Acquire);
    }
}

/// A parent NBL: its child count and what each child writes back into it.
struct Parent {
    count: LoomCount,
    written: [UnsafeCell<u32>; 2],
    owners: AtomicUsize,
}

impl Parent {
    /// The holder that gave the last count back reads every child's write-back.
    fn take_back(&self) {
        self.owners.fetch_add(1, Ordering::Relaxed);
        for (i, w) in self.written.iter().enumerate() {
            // SAFETY: the model's own cell; loom checks the access is ordered.
            let v = w.with(|p| unsafe { *p });
            assert_eq!(
                v,
                10 + u32::try_from(i).unwrap(),
                "child {i}'s write-back is visible"
            );
        }
    }
}

/// Two children complete on two processors while the cloning finishes on a third.
#[test]
fn exactly_one_holder_gets_the_parent_and_sees_every_childs_write_back() {
    loom::model(|| {
        let parent = Arc::new(Parent {
            count: LoomCount(AtomicI32::new(0)),
            written: [UnsafeCell::new(0), UnsafeCell::new(0)],
            owners: AtomicUsize::new(0),
        });
        // start_cloning: the cloning's own count; clone_child: one count per child.
        take_count(&parent.count);
        take_count(&parent.count);
        take_count(&parent.count);
        let children: Vec<_> = (0..2)
            .map(|i| {
                let p = Arc::clone(&parent);
                thread::spawn(move || {
                    // The completing child copies its status/LSO info into the parent, then frees
                    // itself and gives its count back.
                    // SAFETY: the model's own cell.
                    p.written[i].with_mut(|w| unsafe { *w = 10 + u32::try_from(i).unwrap() });
                    if give_count(&p.count) {
                        p.take_back();
                    }
                })
            })
            .collect();
        // Cloning::finish gives the cloning's own count back.
        if give_count(&parent.count) {
            parent.take_back();
        }
        for c in children {
            c.join().unwrap();
        }
        assert_eq!(
            parent.owners.load(Ordering::Relaxed),
            1,
            "exactly one owner"
        );
    });
}

/// The single-child shape the teamed send path uses: the cloning's count goes first, and the
/// child's release is what gives the parent back.
#[test]
fn a_single_child_gives_the_parent_back_when_it_completes() {
    loom::model(|| {
        let parent = Arc::new(Parent {
            count: LoomCount(AtomicI32::new(0)),
            written: [UnsafeCell::new(10), UnsafeCell::new(0)],
            owners: AtomicUsize::new(0),
        });
        take_count(&parent.count);
        take_count(&parent.count);
        assert!(
            !give_count(&parent.count),
            "the child still holds the parent"
        );
        let p = Arc::clone(&parent);
        let child = thread::spawn(move || {
            // SAFETY: the model's own cell.
            p.written[1].with_mut(|w| unsafe { *w = 11 });
            if give_count(&p.count) {
                p.take_back();
            }
        });
        child.join().unwrap();
        assert_eq!(parent.owners.load(Ordering::Relaxed), 1);
    });
}
