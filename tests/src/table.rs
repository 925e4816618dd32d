//! The emulator's hash tables: keyed by addresses (NBLs, handles, pools) and small integers, and
//! looked up several times in every emulated NDIS call, so their hash is a cheap, fixed one.
//!
//! The standard library's default (SipHash with a random key) resists crafted keys, which no
//! emulator table sees: its keys are addresses the emulator allocated and counters it keeps. It
//! costs about 140 instructions per lookup, which made hashing a third of the emulated send
//! path's instructions (docs/performance.md, "The teamed send path"). The hash here is one
//! widening multiply per word, folded; and being unkeyed, it also makes every walk over a table
//! (leak reports, `outstanding`) the same from one run to the next.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A hash map with the emulator's hash.
pub(crate) type Map<K, V> = HashMap<K, V, BuildHasherDefault<WordHasher>>;
/// A hash set with the emulator's hash.
pub(crate) type Set<K> = HashSet<K, BuildHasherDefault<WordHasher>>;

/// An odd constant with bits spread over the whole word (2^64 / the golden ratio).
const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

/// Hashes a key word by word: each word is mixed into the state by a 64 × 64 → 128-bit multiply
/// whose halves are xored, so every input bit reaches both the low bits (the bucket) and the
/// high bits (the tag hashbrown compares) — aligned addresses, whose low bits are all zero,
/// spread as well as any.
#[derive(Clone, Copy, Default)]
pub(crate) struct WordHasher {
    state: u64,
}

impl WordHasher {
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.state ^ word) * u128::from(SPREAD);
        // Truncations intended: the two halves of the product.
        #[allow(clippy::cast_possible_truncation)]
        let (low, high) = (product as u64, (product >> 64) as u64);
        self.state = low ^ high;
    }
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.state
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0; 8];
            b.copy_from_slice(w);
            self.mix(u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0; 8];
            b[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.mix(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash(k: impl Hash) -> u64 {
        BuildHasherDefault::<WordHasher>::default().hash_one(k)
    }

    #[test]
    fn aligned_addresses_spread_over_buckets_and_tags() {
        // 4096 NBL-like addresses 256 bytes apart: the low 10 bits (1024 buckets) and the top 7
        // bits (the tag) each take most of their values.
        let hashes: Vec<u64> = (0..4096usize)
            .map(|i| hash(0x7f00_0000_0000 + i * 256))
            .collect();
        let buckets: Set<u64> = hashes.iter().map(|h| h & 1023).collect();
        let tags: Set<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(buckets.len() > 900, "{} of 1024 buckets", buckets.len());
        assert_eq!(tags.len(), 128);
    }

    #[test]
    fn field_order_and_byte_tails_matter() {
        assert_ne!(hash((1usize, 2u32)), hash((2usize, 1u32)));
        assert_ne!(hash([1u8, 2].as_slice()), hash([1u8, 2, 0].as_slice()));
        assert_eq!(hash((7usize, 9u32, 11u64)), hash((7usize, 9u32, 11u64)));
    }

    #[test]
    fn tables_behave_as_maps() {
        let mut m: Map<usize, u32> = Map::default();
        for i in 0..10_000usize {
            m.insert(i * 64, u32::try_from(i).unwrap());
        }
        assert_eq!(m.len(), 10_000);
        assert!((0..10_000usize).all(|i| m[&(i * 64)] == u32::try_from(i).unwrap()));
        assert_eq!(m.remove(&64), Some(1));
        assert!(!m.contains_key(&64));
    }
}
