//! Sorting a chain into per-destination chains, and separating the filter's own NBLs from
//! pass-through ones in a completion.
//!
//! Both relink the `Next` fields in place: O(n), no allocation, relative order kept within each
//! output chain. The caller then makes one NDIS call per non-empty output chain.

use super::{Nbl, NblChain};
use crate::ndis::FilterHandle;

/// Most destinations one [`NblChain::classify`] may sort into (the engine's path limit).
pub const MAX_DESTINATIONS: usize = 16;

/// A chain sorted by destination: `by_destination[i]` holds the NBLs classified to `i`, in their
/// original relative order; `unrouted` holds those whose index was `N` or more.
#[must_use = "every classified chain must be passed on, or its NBLs are lost"]
#[derive(Debug)]
pub struct Classified<const N: usize> {
    /// One chain per destination index.
    pub by_destination: [NblChain; N],
    /// NBLs the classifier gave an out-of-range index: the caller decides (usually completes them
    /// with a failure status).
    pub unrouted: NblChain,
}

impl<const N: usize> Classified<N> {
    /// Hands each non-empty destination chain, with its index, to `f`, in index order; returns
    /// the unrouted NBLs.
    pub fn for_each_destination(self, mut f: impl FnMut(usize, NblChain)) -> NblChain {
        for (index, chain) in self.by_destination.into_iter().enumerate() {
            if !chain.is_empty() {
                f(index, chain);
            }
        }
        self.unrouted
    }
}

/// A completion chain split by originator.
#[must_use = "both halves must be handled, or their NBLs are lost"]
#[derive(Debug)]
pub struct SourceSplit {
    /// NBLs whose SourceHandle is the filter's own module handle: clones or NBLs the filter
    /// originated. They must never go up with `NdisFSendNetBufferListsComplete`.
    pub own: NblChain,
    /// Every other NBL: pass-through NBLs that go up to their originator.
    pub pass_through: NblChain,
}

impl NblChain {
    /// Sorts the chain into `N` chains by `destination(nbl)` (`N` at most
    /// [`MAX_DESTINATIONS`], checked at compile time). One pass, no allocation: the output chains
    /// are a fixed array of heads and tails on the stack.
    pub fn classify<const N: usize>(
        mut self,
        mut destination: impl FnMut(&Nbl) -> usize,
    ) -> Classified<N> {
        const {
            assert!(N <= MAX_DESTINATIONS, "too many destinations");
        }
        let mut out = Classified {
            by_destination: [const { NblChain::new() }; N],
            unrouted: NblChain::new(),
        };
        while let Some(nbl) = self.pop_front() {
            match out.by_destination.get_mut(destination(&nbl)) {
                Some(chain) => chain.push_back(nbl),
                None => out.unrouted.push_back(nbl),
            }
        }
        out
    }

    /// Separates the NBLs `filter` originated (SourceHandle equal to its module handle) from
    /// pass-through NBLs, keeping the order within each half.
    pub fn split_by_source(self, filter: FilterHandle) -> SourceSplit {
        let own_handle = filter.as_raw();
        let (own, pass_through) = self.split_by(|nbl| nbl.source_handle() == own_handle);
        SourceSplit { own, pass_through }
    }
}

#[cfg(test)]
mod tests {
    //! Run under Miri with the rest of `ndis::` (fake heap NBLs only).
    use super::*;
    use crate::ndis::testkit::FakeNbls;
    use core::ptr;
    use std::vec::Vec;

    fn addrs(chain: &NblChain) -> Vec<usize> {
        chain.iter().map(|n| n.as_raw().addr()).collect()
    }

    /// Gives the chain's NBLs back to the test, checking that links and length agree.
    fn release(chain: NblChain) -> Vec<usize> {
        let (len, seen) = (chain.len(), addrs(&chain));
        // SAFETY: the chain's NBLs are live fake NBLs owned by the test.
        let again = unsafe { NblChain::from_raw(chain.into_raw()) };
        assert_eq!(again.len(), len, "links and length disagree");
        assert_eq!(addrs(&again), seen);
        let _ = again.into_raw();
        seen
    }

    /// NBL `i` has one NET_BUFFER of `lengths[i]` bytes, so tests classify by length.
    fn fakes(lengths: &[u32]) -> FakeNbls {
        let per_nbl: Vec<[u32; 1]> = lengths.iter().map(|&l| [l]).collect();
        let refs: Vec<&[u32]> = per_nbl.iter().map(|l| &l[..]).collect();
        FakeNbls::new(&refs)
    }

    #[test]
    fn classify_sorts_by_destination_keeping_relative_order() {
        // Destination = length; 9 is out of range for N = 4.
        let f = fakes(&[2, 0, 3, 2, 9, 0, 2, 3]);
        // SAFETY: a chain of live fake NBLs.
        let chain = unsafe { NblChain::from_raw(f.chain()) };
        let out: Classified<4> = chain.classify(|n| usize::try_from(n.data_length()).unwrap());
        let [d0, d1, d2, d3] = out.by_destination;
        assert_eq!(release(d0), [1, 5].map(|i| f.addr(i)));
        assert!(d1.is_empty() && d1.into_raw().is_null());
        assert_eq!(release(d2), [0, 3, 6].map(|i| f.addr(i)));
        assert_eq!(release(d3), [2, 7].map(|i| f.addr(i)));
        assert_eq!(release(out.unrouted), [f.addr(4)]);
    }

    #[test]
    fn classify_visits_each_nbl_once_in_order() {
        let f = FakeNbls::simple(6);
        // SAFETY: a chain of live fake NBLs.
        let chain = unsafe { NblChain::from_raw(f.chain()) };
        let mut seen = Vec::new();
        let out: Classified<2> = chain.classify(|n| {
            seen.push(n.as_raw().addr());
            seen.len() % 2
        });
        assert_eq!(seen, f.addrs(0..6));
        let mut calls = Vec::new();
        let unrouted = out.for_each_destination(|i, c| calls.push((i, release(c))));
        assert!(unrouted.is_empty());
        assert_eq!(
            calls,
            [
                (0, [1, 3, 5].map(|i| f.addr(i)).to_vec()),
                (1, [0, 2, 4].map(|i| f.addr(i)).to_vec())
            ]
        );
    }

    #[test]
    fn for_each_destination_skips_empty_chains_and_an_empty_input_gives_nothing() {
        let f = FakeNbls::simple(3);
        // SAFETY: a chain of live fake NBLs.
        let chain = unsafe { NblChain::from_raw(f.chain()) };
        let out: Classified<MAX_DESTINATIONS> = chain.classify(|_| MAX_DESTINATIONS - 1);
        let mut calls = Vec::new();
        let _ = out.for_each_destination(|i, c| calls.push((i, release(c))));
        assert_eq!(calls, [(MAX_DESTINATIONS - 1, f.addrs(0..3))]);

        let none: Classified<3> = NblChain::new().classify(|_| unreachable!("no NBL"));
        let unrouted = none.for_each_destination(|_, _| unreachable!("no chain"));
        assert!(unrouted.into_raw().is_null());
    }

    #[test]
    fn split_by_source_separates_own_nbls_from_pass_through() {
        let f = FakeNbls::simple(5);
        let mine = ptr::without_provenance_mut(0x1000);
        let theirs = ptr::without_provenance_mut(0x2000);
        for (i, source) in [mine, theirs, theirs, mine, ptr::null_mut()]
            .into_iter()
            .enumerate()
        {
            // SAFETY: writing a field of a live fake NBL before handing it over.
            unsafe { (*f.ptr(i)).SourceHandle = source };
        }
        // SAFETY: a test handle value, only compared.
        let filter = unsafe { FilterHandle::from_raw(mine) }.unwrap();
        // SAFETY: a chain of live fake NBLs.
        let chain = unsafe { NblChain::from_raw(f.chain()) };
        let split = chain.split_by_source(filter);
        assert_eq!(release(split.own), [0, 3].map(|i| f.addr(i)));
        assert_eq!(release(split.pass_through), [1, 2, 4].map(|i| f.addr(i)));
    }
}
