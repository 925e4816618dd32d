//! Heap-allocated fake NBLs and NET_BUFFERs for unit tests (`cfg(test)`), freed on drop so that
//! Miri's leak check covers the tests.

use super::types::{NET_BUFFER, NET_BUFFER_DATA_LENGTH, NET_BUFFER_LIST};
use std::boxed::Box;
use std::vec::Vec;

/// A set of NBLs, each with NET_BUFFERs of given data lengths, owned by the test.
pub(crate) struct FakeNbls {
    nbls: Vec<*mut NET_BUFFER_LIST>,
    nbs: Vec<*mut NET_BUFFER>,
}

fn zeroed<T>() -> *mut T {
    // SAFETY: the NDIS structures used here are integers and raw pointers only, for which all
    // zeroes is a valid value (NULL pointers, zero counts).
    Box::into_raw(unsafe { Box::<T>::new_zeroed().assume_init() })
}

impl FakeNbls {
    /// One NBL per entry of `lengths`, each with one NET_BUFFER per length; not linked.
    pub(crate) fn new(lengths: &[&[u32]]) -> Self {
        let mut me = FakeNbls {
            nbls: Vec::new(),
            nbs: Vec::new(),
        };
        for nb_lengths in lengths {
            let nbl = zeroed::<NET_BUFFER_LIST>();
            let mut prev: *mut NET_BUFFER = core::ptr::null_mut();
            for &len in *nb_lengths {
                let nb = zeroed::<NET_BUFFER>();
                // SAFETY: fresh allocations owned by this set.
                unsafe {
                    (*nb).DataLength = NET_BUFFER_DATA_LENGTH {
                        stDataLength: len as usize,
                    };
                };
                if prev.is_null() {
                    // SAFETY: as above.
                    unsafe { (*nbl).FirstNetBuffer = nb };
                } else {
                    // SAFETY: as above.
                    unsafe { (*prev).Next = nb };
                }
                prev = nb;
                me.nbs.push(nb);
            }
            me.nbls.push(nbl);
        }
        me
    }

    /// `n` NBLs with one 100-byte NET_BUFFER each.
    pub(crate) fn simple(n: usize) -> Self {
        let lengths: Vec<&[u32]> = (0..n).map(|_| &[100u32][..]).collect();
        Self::new(&lengths)
    }

    /// Links NBLs `range` in order (NULL-terminated) and returns the head (NULL when empty).
    pub(crate) fn link(&self, range: core::ops::Range<usize>) -> *mut NET_BUFFER_LIST {
        let picked = &self.nbls[range];
        for pair in picked.windows(2) {
            // SAFETY: live fake NBLs owned by this set.
            unsafe { (*pair[0]).Next = pair[1] };
        }
        if let Some(&last) = picked.last() {
            // SAFETY: as above.
            unsafe { (*last).Next = core::ptr::null_mut() };
        }
        picked.first().copied().unwrap_or(core::ptr::null_mut())
    }

    /// Links all NBLs.
    pub(crate) fn chain(&self) -> *mut NET_BUFFER_LIST {
        self.link(0..self.nbls.len())
    }

    /// The address of NBL `i`.
    pub(crate) fn addr(&self, i: usize) -> usize {
        self.nbls[i].addr()
    }

    /// The addresses of NBLs `range`.
    pub(crate) fn addrs(&self, range: core::ops::Range<usize>) -> Vec<usize> {
        range.map(|i| self.addr(i)).collect()
    }

    /// NBL `i`.
    pub(crate) fn ptr(&self, i: usize) -> *mut NET_BUFFER_LIST {
        self.nbls[i]
    }

    /// `Status` of NBL `i`.
    pub(crate) fn status(&self, i: usize) -> i32 {
        // SAFETY: a live fake NBL.
        unsafe { (*self.nbls[i]).Status }
    }
}

impl Drop for FakeNbls {
    fn drop(&mut self) {
        for &nb in &self.nbs {
            // SAFETY: allocated by `zeroed` as a Box, freed once.
            drop(unsafe { Box::from_raw(nb) });
        }
        for &nbl in &self.nbls {
            // SAFETY: as above.
            drop(unsafe { Box::from_raw(nbl) });
        }
    }
}
