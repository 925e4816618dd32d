//! loom model of the header slots' claim and release (`mpfilter::ndis::nbl::claim`, behind
//! `HeaderSlots`, which rewrite mode uses on the send path and at completion). Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p mpfilter --release --test slots_loom`.
//!
//! The claim and release functions run on loom's `AtomicU64`. Properties:
//! - two senders on two processors never hold the same slot, and with every slot held a claim
//!   fails rather than sharing one;
//! - a slot's contents (its header copy and saved NET_BUFFER fields — here a loom `UnsafeCell`)
//!   written by one holder are ordered before the next holder's writes: loom reports a race if
//!   the acquire claim and the release give-back do not order them.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use mpfilter::ndis::atomic_word::AtomicWord;
use mpfilter::ndis::nbl::claim::{claim, is_held, release};

#[path = "common/loom_word.rs"]
mod loom_word;
use loom_word::LoomWord;

struct Slots {
    words: [LoomWord; 1],
    /// Per slot: the id of the holder that last wrote it.
    contents: [UnsafeCell<usize>; 2],
}

/// A sender: claims a slot, writes it (reading what the last holder left), gives it back.
/// Returns the slot, or `None` when none was free.
fn send(s: &Slots, id: usize) -> Option<usize> {
    let i = claim(&s.words, id)?;
    // SAFETY: the model's own cell; loom checks the accesses are ordered.
    s.contents[i].with_mut(|p| unsafe { *p = id });
    release(&s.words, i);
    Some(i)
}

#[test]
fn two_senders_never_share_a_slot_and_each_holders_writes_are_ordered() {
    loom::model(|| {
        // Two slots free (bits 0 and 1).
        let s = Arc::new(Slots {
            words: [LoomWord::new(0b11)],
            contents: [UnsafeCell::new(0), UnsafeCell::new(0)],
        });
        let other = {
            let s = Arc::clone(&s);
            thread::spawn(move || send(&s, 1))
        };
        let mine = send(&s, 2);
        let theirs = other.join().unwrap();
        assert!(
            mine.is_some() && theirs.is_some(),
            "two slots for two senders"
        );
        // Both gave theirs back: a third sender finds a slot and sees a finished write.
        assert!(!is_held(&s.words, 0) && !is_held(&s.words, 1));
        let i = claim(&s.words, 0).expect("free again");
        // SAFETY: as above.
        let last = s.contents[i].with(|p| unsafe { *p });
        assert_eq!(i, 0, "the lowest free slot");
        assert!(
            last == 1 || last == 2,
            "slot 0 was written by the first claimer"
        );
    });
}

#[test]
fn with_one_slot_a_second_claim_waits_for_the_release_never_shares() {
    loom::model(|| {
        let s = Arc::new(Slots {
            words: [LoomWord::new(0b1)],
            contents: [UnsafeCell::new(0), UnsafeCell::new(0)],
        });
        let other = {
            let s = Arc::clone(&s);
            thread::spawn(move || send(&s, 1))
        };
        // Holding across the other sender's attempt: it must fail, or succeed only after the
        // give-back below, never write the slot while this holder does.
        let held = claim(&s.words, 0);
        if let Some(i) = held {
            // SAFETY: as above.
            s.contents[i].with_mut(|p| unsafe { *p = 2 });
            release(&s.words, i);
        }
        let theirs = other.join().unwrap();
        assert!(held.is_some() || theirs.is_some(), "someone got the slot");
    });
}
