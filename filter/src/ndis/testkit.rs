//! Heap-allocated fake NBLs and NET_BUFFERs for unit tests (`cfg(test)`), freed on drop so that
//! Miri's leak check covers the tests.

use super::types::{MDL, NET_BUFFER, NET_BUFFER_DATA_LENGTH, NET_BUFFER_LIST};
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

/// One NBL with one NET_BUFFER over a chain of MDLs that hold real bytes, owned by the test.
pub(crate) struct FakePacket {
    nbl: *mut NET_BUFFER_LIST,
    nb: *mut NET_BUFFER,
    mdls: Vec<*mut MDL>,
    buffers: Vec<*mut [u8]>,
}

impl FakePacket {
    /// An MDL per entry of `parts`, holding those bytes, chained in order; the NET_BUFFER's data
    /// starts `offset` bytes into the chain and is `length` bytes long (which may claim more
    /// than the MDLs hold, to model a malformed NET_BUFFER).
    pub(crate) fn new(parts: &[&[u8]], offset: u32, length: u32) -> Self {
        let nbl = zeroed::<NET_BUFFER_LIST>();
        let nb = zeroed::<NET_BUFFER>();
        let mut me = FakePacket {
            nbl,
            nb,
            mdls: Vec::new(),
            buffers: Vec::new(),
        };
        for part in parts {
            let buffer = Box::into_raw(Box::<[u8]>::from(*part));
            let mdl = zeroed::<MDL>();
            // SAFETY: a fresh MDL owned by this packet.
            let m = unsafe { &mut *mdl };
            m.MappedSystemVa = buffer.cast();
            m.ByteCount = u32::try_from(part.len()).unwrap();
            if let Some(&prev) = me.mdls.last() {
                // SAFETY: as above.
                unsafe { (*prev).Next = mdl };
            }
            me.mdls.push(mdl);
            me.buffers.push(buffer);
        }
        // The MDL the data starts in, and the offset in it.
        let (mut current, mut left) = (0, offset as usize);
        while current + 1 < parts.len() && left >= parts[current].len() {
            left -= parts[current].len();
            current += 1;
        }
        // SAFETY: a fresh NET_BUFFER owned by this packet.
        let b = unsafe { &mut *nb };
        b.MdlChain = me.mdls.first().copied().unwrap_or(core::ptr::null_mut());
        b.CurrentMdl = me
            .mdls
            .get(current)
            .copied()
            .unwrap_or(core::ptr::null_mut());
        b.CurrentMdlOffset = u32::try_from(left).unwrap();
        b.DataOffset = offset;
        b.DataLength = NET_BUFFER_DATA_LENGTH {
            stDataLength: length as usize,
        };
        // SAFETY: a fresh NBL owned by this packet.
        unsafe { (*nbl).FirstNetBuffer = nb };
        me
    }

    /// The NBL, unlinked.
    pub(crate) fn nbl(&self) -> *mut NET_BUFFER_LIST {
        self.nbl
    }

    /// The NET_BUFFER's address.
    pub(crate) fn nb_addr(&self) -> usize {
        self.nb.addr()
    }

    /// The address of byte `at` of MDL `i`'s buffer.
    pub(crate) fn byte_addr(&self, i: usize, at: usize) -> usize {
        self.buffers[i].cast::<u8>().addr() + at
    }
}

impl Drop for FakePacket {
    fn drop(&mut self) {
        for &buffer in &self.buffers {
            // SAFETY: allocated by `new` as a boxed slice, freed once.
            drop(unsafe { Box::from_raw(buffer) });
        }
        for &mdl in &self.mdls {
            // SAFETY: allocated by `zeroed`, freed once.
            drop(unsafe { Box::from_raw(mdl) });
        }
        // SAFETY: as above.
        drop(unsafe { Box::from_raw(self.nb) });
        // SAFETY: as above.
        drop(unsafe { Box::from_raw(self.nbl) });
    }
}
