//! Claiming one of a fixed set of slots without a lock: a bitmap of free slots, one bit per slot,
//! in words of 64. Generic over the atomic word so that the loom model
//! (`filter/tests/slots_loom.rs`) runs this very code on loom's atomics.
//!
//! A claim clears a set bit with an acquire compare-exchange, so exactly one caller gets each
//! free slot and sees everything the slot's last holder did before releasing it; a release sets
//! the bit again with a release `fetch_or`. The holder alone touches the slot in between.

use crate::ndis::atomic_word::AtomicWord;
use core::sync::atomic::Ordering;

/// Claims a free slot, starting the search at word `hint % words.len()` (callers spread by CPU
/// so processors rarely contend on one word). `None` when every slot is held.
pub fn claim<W: AtomicWord>(words: &[W], hint: usize) -> Option<usize> {
    let n = words.len();
    for k in 0..n {
        let w = (hint + k) % n;
        let word = &words[w];
        let mut cur = word.load(Ordering::Relaxed);
        while cur != 0 {
            let bit = cur.trailing_zeros();
            match word.compare_exchange_weak(
                cur,
                cur & !(1u64 << bit),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(w * 64 + bit as usize),
                Err(now) => cur = now,
            }
        }
    }
    None
}

/// Gives slot `index` back: the holder's accesses happen before the next claim of it.
pub fn release<W: AtomicWord>(words: &[W], index: usize) {
    if let Some(word) = words.get(index / 64) {
        word.fetch_or(1u64 << (index % 64), Ordering::Release);
    }
}

/// Whether slot `index` is held.
pub fn is_held<W: AtomicWord>(words: &[W], index: usize) -> bool {
    words
        .get(index / 64)
        .is_some_and(|w| w.load(Ordering::Acquire) & (1u64 << (index % 64)) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use core::sync::atomic::AtomicU64;

    #[test]
    fn every_slot_is_claimed_once_then_none_and_a_release_makes_it_claimable_again() {
        let words = [AtomicU64::new(u64::MAX), AtomicU64::new(0b101)];
        let mut got: Vec<usize> = (0..66).map_while(|i| claim(&words, i)).collect();
        assert_eq!(got.len(), 66);
        assert_eq!(claim(&words, 0), None);
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), 66, "no slot twice");
        assert!(got.contains(&64) && got.contains(&66) && !got.contains(&65));
        assert!(is_held(&words, 66));
        release(&words, 66);
        assert!(!is_held(&words, 66));
        assert_eq!(claim(&words, 1), Some(66));
    }
}
