//! [`HeaderSlots`]: headers of the filter's own, put in front of the data of an NBL it owns (a
//! clone) so that the frame the drivers below see has a changed header while the buffers the
//! clone shares with its parent are never written (rewrite mode: another member's source MAC).
//!
//! Everything is allocated once, at attach (PASSIVE_LEVEL), for a fixed number of slots: one
//! buffer of [`HEADER_SLOT_BYTES`] per slot with an MDL over it (`NdisAllocateMdl`), and one MDL
//! with room for [`PARTIAL_SPAN`] bytes of page array (`IoAllocateMdl`) per slot for the part of
//! the MDL the header splits. Per NET_BUFFER, [`HeaderSlots::rewrite`]:
//! 1. claims a slot (a lock-free bitmap, [`super::claim`]);
//! 2. copies the first `min(DataLength, HEADER_SLOT_BYTES)` bytes into it (`NdisGetDataBuffer`),
//!    so the Ethernet, IP and TCP headers stay contiguous in the first MDL as large sends need;
//! 3. describes the rest by the original MDLs: the MDL in which the copy ends continues as a
//!    partial MDL over its remainder (`IoBuildPartialMdl` into the slot's MDL, no allocation),
//!    or, when the copy ends on an MDL boundary, the next MDL itself;
//! 4. saves the NET_BUFFER's `MdlChain`, `CurrentMdl`, `CurrentMdlOffset` and `DataOffset` and
//!    points it at the slot's header MDL (offset 0); the caller edits the copy.
//!
//! [`HeaderSlots::restore`] puts the saved fields back, prepares the partial MDL for reuse
//! (`MmPrepareMdlForReuse`) and releases the slot; it must run before the clone is freed
//! (`NdisFreeCloneNetBufferList` frees the MDLs NDIS made for the clone, found through those
//! fields). A slot is recognised from the NET_BUFFER alone: the header MDL's buffer lies in the
//! slots' one buffer array, which gives the index.
//!
//! No slot free, or a NET_BUFFER that cannot be described (its remainder needs more pages than
//! the partial MDL holds): nothing is changed, and the caller sends the frame as it is.

use super::Nbl;
use super::claim;
use crate::ndis::FilterHandle;
use crate::ndis::consts::MDL_PARTIAL_HAS_BEEN_MAPPED;
use crate::ndis::imports;
use crate::ndis::types::{MDL, NET_BUFFER};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::fmt;
use core::ptr::{self, NonNull};
use core::sync::atomic::AtomicU64;

/// Bytes of frame a header slot holds: Ethernet (with an 802.1Q tag) + IPv6 + TCP with options,
/// or a whole ARP packet or neighbour advertisement.
pub const HEADER_SLOT_BYTES: usize = 128;
/// Bytes of the remainder of one MDL a slot's partial MDL can describe (64 KiB, a large send,
/// plus the page it may start in).
pub const PARTIAL_SPAN: u32 = 0x1_1000;

const PAGE: usize = 0x1000;

/// What a NET_BUFFER looked like before its header was replaced.
#[derive(Clone, Copy)]
struct Saved {
    mdl_chain: *mut MDL,
    current_mdl: *mut MDL,
    current_mdl_offset: u32,
    data_offset: u32,
    partial: bool,
}

struct Slot {
    mdl: NonNull<MDL>,
    partial: NonNull<MDL>,
    saved: UnsafeCell<Saved>,
}

/// A module's header slots; see the module documentation.
pub struct HeaderSlots {
    /// A leaked boxed slice of `count * HEADER_SLOT_BYTES` bytes: the slots' MDLs point into it,
    /// so it must never move or be retagged.
    buffers: NonNull<u8>,
    slots: Box<[Slot]>,
    free: Box<[AtomicU64]>,
}

// SAFETY: a slot's buffer, MDLs and saved fields are touched only by the caller that claimed it
// (acquire) until it releases it (release); the rest is immutable after `new`.
unsafe impl Send for HeaderSlots {}
// SAFETY: as above.
unsafe impl Sync for HeaderSlots {}

/// Pages a range of `len` bytes at `va` touches.
fn span_pages(va: usize, len: usize) -> usize {
    ((va & (PAGE - 1)) + len).div_ceil(PAGE)
}

/// `MmGetMdlVirtualAddress`.
///
/// # Safety
/// `mdl` is live.
unsafe fn mdl_va(mdl: *const MDL) -> usize {
    // SAFETY: per the contract.
    let m = unsafe { &*mdl };
    m.StartVa as usize + m.ByteOffset as usize
}

impl HeaderSlots {
    /// `count` slots (rounded up to a multiple of 64) on `filter`'s handle; `None` when NDIS has
    /// no resources (whatever was allocated is freed again). PASSIVE_LEVEL.
    pub fn new(filter: FilterHandle, count: usize) -> Option<HeaderSlots> {
        let words = count.div_ceil(64).max(1);
        let count = words * 64;
        let buffers = Box::leak(alloc::vec![0u8; count * HEADER_SLOT_BYTES].into_boxed_slice());
        let buffers = NonNull::from(buffers).cast::<u8>();
        let mut slots = Vec::with_capacity(count);
        let mut this = HeaderSlots {
            buffers,
            slots: Box::default(),
            free: (0..words).map(|_| AtomicU64::new(u64::MAX)).collect(),
        };
        for i in 0..count {
            // SAFETY: slot i's bytes lie within the buffer array.
            let va = unsafe { buffers.as_ptr().add(i * HEADER_SLOT_BYTES) }.cast::<c_void>();
            // The slot size is a small constant.
            #[allow(clippy::cast_possible_truncation)]
            let len = HEADER_SLOT_BYTES as u32;
            // SAFETY: the handle is live; the buffer lives, unmoved, until after `drop` frees
            // this MDL.
            let mdl = NonNull::new(unsafe { imports::NdisAllocateMdl(filter.as_raw(), va, len) });
            // SAFETY: a NULL address only sizes the MDL for PARTIAL_SPAN bytes; no secondary
            // buffer, quota or IRP.
            let partial = NonNull::new(unsafe {
                imports::IoAllocateMdl(ptr::null_mut(), PARTIAL_SPAN, 0, 0, ptr::null_mut())
            });
            match (mdl, partial) {
                (Some(mdl), Some(partial)) => slots.push(Slot {
                    mdl,
                    partial,
                    saved: UnsafeCell::new(Saved {
                        mdl_chain: ptr::null_mut(),
                        current_mdl: ptr::null_mut(),
                        current_mdl_offset: 0,
                        data_offset: 0,
                        partial: false,
                    }),
                }),
                (mdl, partial) => {
                    if let Some(m) = mdl {
                        // SAFETY: allocated above, never used.
                        unsafe { imports::NdisFreeMdl(m.as_ptr()) };
                    }
                    if let Some(p) = partial {
                        // SAFETY: allocated above, never used.
                        unsafe { imports::IoFreeMdl(p.as_ptr()) };
                    }
                    this.slots = slots.into_boxed_slice();
                    return None;
                }
            }
        }
        this.slots = slots.into_boxed_slice();
        Some(this)
    }

    /// Slots in all.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Slots held now.
    pub fn held(&self) -> usize {
        (0..self.slots.len())
            .filter(|&i| claim::is_held(&self.free, i))
            .count()
    }

    /// The slot whose header MDL heads `nb`'s chain, if any.
    fn slot_of(&self, nb: *const NET_BUFFER) -> Option<usize> {
        // SAFETY: the caller's NET_BUFFER is live.
        let chain = unsafe { (*nb).MdlChain };
        if chain.is_null() {
            return None;
        }
        // SAFETY: the first MDL of a live NET_BUFFER is live.
        let va = unsafe { (*chain).MappedSystemVa } as usize;
        let base = self.buffers.as_ptr() as usize;
        let index = va.checked_sub(base)? / HEADER_SLOT_BYTES;
        let slot = self.slots.get(index)?;
        (slot.mdl.as_ptr() == chain && claim::is_held(&self.free, index)).then_some(index)
    }

    /// Gives every NET_BUFFER of `nbl` (an NBL the filter owns and nobody else uses now) a
    /// header of its own holding a copy of its first bytes, then lets `edit` change each copy.
    /// False, with nothing changed, when a slot is missing or a NET_BUFFER cannot be described.
    /// `hint` spreads processors over the slots (e.g. the CPU index). IRQL <= DISPATCH_LEVEL.
    pub fn rewrite(&self, nbl: &Nbl, hint: usize, mut edit: impl FnMut(&mut [u8])) -> bool {
        for (done, nb) in nbl.net_buffers().enumerate() {
            let Some(index) = claim::claim(&self.free, hint) else {
                self.restore_first(nbl, done);
                return false;
            };
            // SAFETY: the slot was claimed by this call; the NET_BUFFER is the caller's.
            if !unsafe { self.attach(index, nb.as_raw(), &mut edit) } {
                claim::release(&self.free, index);
                self.restore_first(nbl, done);
                return false;
            }
        }
        true
    }

    fn restore_first(&self, nbl: &Nbl, n: usize) {
        for nb in nbl.net_buffers().take(n) {
            self.restore_one(nb.as_raw());
        }
    }

    /// Copies the front of `nb` into slot `index`, describes the rest, points `nb` at it and
    /// lets `edit` change the copy; false when it cannot (nothing changed).
    ///
    /// # Safety
    /// The caller holds slot `index` and owns `nb` (live, not in use by any other driver).
    unsafe fn attach(
        &self,
        index: usize,
        nb: *mut NET_BUFFER,
        edit: &mut impl FnMut(&mut [u8]),
    ) -> bool {
        let slot = &self.slots[index];
        // What the NET_BUFFER is now, read before NDIS reads it (no reference to it is held
        // across the call below).
        let (before, total) = {
            // SAFETY: the caller owns the live NET_BUFFER; only read here.
            let b = unsafe { &*nb };
            // SAFETY: the ULONG member of the union.
            let total = unsafe { b.DataLength.DataLength } as usize;
            let before = Saved {
                mdl_chain: b.MdlChain,
                current_mdl: b.CurrentMdl,
                current_mdl_offset: b.CurrentMdlOffset,
                data_offset: b.DataOffset,
                partial: false,
            };
            (before, total)
        };
        let h = total.min(HEADER_SLOT_BYTES);
        if h == 0 || before.current_mdl.is_null() {
            return false;
        }
        // SAFETY: slot `index`'s bytes lie within the buffer array.
        let start = unsafe { self.buffers.as_ptr().add(index * HEADER_SLOT_BYTES) };
        // SAFETY: `h` <= HEADER_SLOT_BYTES bytes of the slot, which the claim makes ours alone.
        let copy = unsafe { core::slice::from_raw_parts_mut(start, h) };
        // `h` is at most HEADER_SLOT_BYTES.
        #[allow(clippy::cast_possible_truncation)]
        let want = h as u32;
        // SAFETY: a live NET_BUFFER with at least `h` bytes of data; the storage has `h` bytes.
        let data = unsafe { imports::NdisGetDataBuffer(nb, want, copy.as_mut_ptr().cast(), 1, 0) }
            .cast::<u8>();
        if data.is_null() {
            return false;
        }
        if data != copy.as_mut_ptr() {
            // SAFETY: NdisGetDataBuffer returned `h` contiguous readable bytes of the frame,
            // which do not overlap the slot's buffer.
            unsafe { ptr::copy_nonoverlapping(data, copy.as_mut_ptr(), h) };
        }
        // Where the copy ends: MDL `mdl`, `pos` bytes into it.
        let mut mdl = before.current_mdl;
        let mut pos = before.current_mdl_offset as usize + h;
        // SAFETY: MDLs of the live NET_BUFFER's chain are live.
        while !mdl.is_null() && pos >= unsafe { (*mdl).ByteCount } as usize {
            // SAFETY: as above.
            pos -= unsafe { (*mdl).ByteCount } as usize;
            // SAFETY: as above.
            mdl = unsafe { (*mdl).Next };
        }
        let mut partial = false;
        let tail = if h == total {
            ptr::null_mut()
        } else if mdl.is_null() {
            return false;
        } else if pos == 0 {
            mdl
        } else {
            // SAFETY: a live MDL of the chain.
            let source = unsafe { &*mdl };
            let (count, next) = (source.ByteCount as usize, source.Next);
            // SAFETY: as above.
            let va = unsafe { mdl_va(mdl) };
            let rest = count - pos;
            if span_pages(va + pos, rest) > span_pages(0, PARTIAL_SPAN as usize) {
                return false;
            }
            // `rest` fits in PARTIAL_SPAN (checked above).
            #[allow(clippy::cast_possible_truncation)]
            let rest = rest as u32;
            // SAFETY: the slot's partial MDL is ours (claimed) and prepared for reuse since its
            // last use; the range lies within the live source MDL; IRQL <= DISPATCH_LEVEL.
            unsafe {
                imports::IoBuildPartialMdl(
                    mdl,
                    slot.partial.as_ptr(),
                    ptr::without_provenance_mut::<c_void>(va + pos),
                    rest,
                );
            }
            // SAFETY: as above.
            unsafe { (*slot.partial.as_ptr()).Next = next };
            partial = true;
            slot.partial.as_ptr()
        };
        // SAFETY: the slot's header MDL is ours (claimed); NdisAdjustMdlLength sets ByteCount.
        unsafe {
            let m = &mut *slot.mdl.as_ptr();
            m.ByteCount = want;
            m.Next = tail;
        }
        // SAFETY: the claim makes the saved fields ours.
        unsafe { *slot.saved.get() = Saved { partial, ..before } };
        // SAFETY: the caller owns the live NET_BUFFER; nothing else refers to it now.
        let b = unsafe { &mut *nb };
        b.MdlChain = slot.mdl.as_ptr();
        b.CurrentMdl = slot.mdl.as_ptr();
        b.CurrentMdlOffset = 0;
        b.DataOffset = 0;
        edit(copy);
        true
    }

    /// Gives every NET_BUFFER of `nbl` that wears one of these slots' headers its own MDLs back
    /// and releases the slots; how many there were. Before the NBL is freed (a clone) or passed
    /// back. IRQL <= DISPATCH_LEVEL.
    pub fn restore(&self, nbl: &Nbl) -> usize {
        nbl.net_buffers()
            .filter(|nb| self.restore_one(nb.as_raw()))
            .count()
    }

    fn restore_one(&self, nb: *mut NET_BUFFER) -> bool {
        let Some(index) = self.slot_of(nb) else {
            return false;
        };
        let slot = &self.slots[index];
        // SAFETY: held slot (checked by slot_of), ours since the NBL is back with its owner.
        let saved = unsafe { *slot.saved.get() };
        // SAFETY: the owner's live NET_BUFFER.
        let b = unsafe { &mut *nb };
        b.MdlChain = saved.mdl_chain;
        b.CurrentMdl = saved.current_mdl;
        b.CurrentMdlOffset = saved.current_mdl_offset;
        b.DataOffset = saved.data_offset;
        if saved.partial {
            prepare_for_reuse(slot.partial);
        }
        claim::release(&self.free, index);
        true
    }
}

/// wdm.h's `MmPrepareMdlForReuse`: a partial MDL that a driver below mapped
/// (MDL_PARTIAL_HAS_BEEN_MAPPED) gives its mapping back before it describes another range.
fn prepare_for_reuse(partial: NonNull<MDL>) {
    // SAFETY: the slot's partial MDL, owned by the holder of the slot.
    let m = unsafe { &mut *partial.as_ptr() };
    if m.MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED != 0 {
        // SAFETY: the mapping a driver below made of this partial MDL; unused once the NBL is
        // back.
        unsafe { imports::MmUnmapLockedPages(m.MappedSystemVa, partial.as_ptr()) };
        m.MdlFlags &= !MDL_PARTIAL_HAS_BEEN_MAPPED;
    }
}

impl Drop for HeaderSlots {
    fn drop(&mut self) {
        if (0..self.slots.len()).any(|i| claim::is_held(&self.free, i)) {
            // A NET_BUFFER below still points at a slot (its owner's pause should have waited
            // for it): everything is leaked rather than freed under a miniport.
            return;
        }
        for slot in &*self.slots {
            // SAFETY: allocated in `new`, no NET_BUFFER uses it (no slot held), freed once.
            unsafe { imports::NdisFreeMdl(slot.mdl.as_ptr()) };
            // SAFETY: as above.
            unsafe { imports::IoFreeMdl(slot.partial.as_ptr()) };
        }
        let len = self.free.len() * 64 * HEADER_SLOT_BYTES;
        // SAFETY: leaked from a boxed slice of `len` bytes in `new`; the MDLs over it are freed.
        drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(self.buffers.as_ptr(), len)) });
    }
}

impl fmt::Debug for HeaderSlots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderSlots")
            .field("capacity", &self.capacity())
            .field("held", &self.held())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    //! Run under Miri with the rest of `ndis::`: real bytes behind fake MDLs, the doubles' MDLs.
    use super::*;
    use crate::ndis::mock::{Config, Session};
    use crate::ndis::testkit::FakePacket;
    use alloc::vec::Vec;

    fn filter() -> FilterHandle {
        // SAFETY: a test handle value, only compared and passed to the doubles.
        unsafe { FilterHandle::from_raw(ptr::without_provenance_mut(0xF1_0000)) }.unwrap()
    }

    fn first_nb(p: &FakePacket) -> &NET_BUFFER {
        // SAFETY: the packet's live NBL.
        let nb = unsafe { (*p.nbl()).FirstNetBuffer };
        // SAFETY: its live NET_BUFFER, owned by the test.
        unsafe { &*nb }
    }

    /// The bytes a driver below reads: DataLength bytes from CurrentMdl + CurrentMdlOffset.
    fn described(p: &FakePacket) -> Vec<u8> {
        let b = first_nb(p);
        // SAFETY: the ULONG member.
        let mut left = unsafe { b.DataLength.DataLength } as usize;
        let (mut mdl, mut skip, mut out) = (b.CurrentMdl, b.CurrentMdlOffset as usize, Vec::new());
        while left > 0 && !mdl.is_null() {
            // SAFETY: a live MDL over live bytes.
            let m = unsafe { &*mdl };
            let n = (m.ByteCount as usize - skip).min(left);
            let at = m.MappedSystemVa.cast::<u8>().wrapping_add(skip);
            // SAFETY: `skip + n` bytes of the MDL's buffer are readable.
            out.extend_from_slice(unsafe { core::slice::from_raw_parts(at, n) });
            left -= n;
            skip = 0;
            mdl = m.Next;
        }
        out
    }

    fn nbl_of(p: &FakePacket) -> &Nbl {
        // SAFETY: the packet's live NBL, owned by the test.
        unsafe { Nbl::from_ptr(NonNull::new(p.nbl()).unwrap()) }
    }

    fn fields(p: &FakePacket) -> (usize, usize, u32, u32) {
        let b = first_nb(p);
        (
            b.MdlChain.addr(),
            b.CurrentMdl.addr(),
            b.CurrentMdlOffset,
            b.DataOffset,
        )
    }

    #[test]
    fn the_header_is_the_slots_the_rest_the_original_bytes_and_restore_undoes_it() {
        let s = Session::new(Config::default());
        let slots = HeaderSlots::new(filter(), 64).expect("the doubles have memory");
        assert_eq!(
            s.live_frames_and_mdls().1,
            128,
            "a header and a partial MDL per slot"
        );
        let frame: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        // Backfill in front, the frame split over two MDLs at byte 300.
        let mut first = alloc::vec![0xEE; 16];
        first.extend_from_slice(&frame[..300]);
        let p = FakePacket::new(&[&first, &frame[300..]], 16, 700);
        let before = fields(&p);
        assert!(slots.rewrite(nbl_of(&p), 0, |h| {
            h[6..12].copy_from_slice(&[2, 9, 9, 9, 9, 9]);
        }));
        assert_eq!(slots.held(), 1);
        let seen = described(&p);
        assert_eq!(seen.len(), 700);
        assert_eq!(seen[6..12], [2, 9, 9, 9, 9, 9]);
        assert_eq!(seen[..6], frame[..6]);
        assert_eq!(seen[12..], frame[12..], "the rest is the original data");
        assert_eq!(
            &first[16..],
            &frame[..300],
            "the protocol's buffer is unwritten"
        );
        assert_eq!(slots.restore(nbl_of(&p)), 1);
        assert_eq!(fields(&p), before);
        assert_eq!(described(&p), frame);
        assert_eq!(slots.held(), 0);
        assert_eq!(
            slots.restore(nbl_of(&p)),
            0,
            "nothing wears a slot any more"
        );
        drop(slots);
        assert_eq!(s.live_frames_and_mdls(), (0, 0));
    }

    #[test]
    fn a_copy_ending_on_an_mdl_boundary_chains_the_next_mdl_and_short_frames_are_all_header() {
        let _s = Session::new(Config::default());
        let slots = HeaderSlots::new(filter(), 64).unwrap();
        let head = [1u8; HEADER_SLOT_BYTES];
        let tail = [2u8; 50];
        let p = FakePacket::new(&[&head, &tail], 0, 178);
        assert!(slots.rewrite(nbl_of(&p), 3, |h| h[0] = 7));
        let seen = described(&p);
        assert_eq!((seen[0], seen[1], seen[127], seen[128]), (7, 1, 1, 2));
        assert_eq!(seen.len(), 178);
        assert_eq!(slots.restore(nbl_of(&p)), 1);
        let arp = [3u8; 42];
        let q = FakePacket::new(&[&arp], 0, 42);
        assert!(slots.rewrite(nbl_of(&q), 0, |h| {
            assert_eq!(h.len(), 42);
            h[41] = 4;
        }));
        let seen = described(&q);
        assert_eq!((seen.len(), seen[40], seen[41]), (42, 3, 4));
        assert_eq!(arp[41], 3);
        assert_eq!(slots.restore(nbl_of(&q)), 1);
    }

    #[test]
    fn with_every_slot_held_nothing_changes_and_the_frame_goes_as_it_is() {
        let _s = Session::new(Config::default());
        let slots = HeaderSlots::new(filter(), 1).unwrap();
        let frame = [5u8; 200];
        let packets: Vec<FakePacket> = (0..65)
            .map(|_| FakePacket::new(&[&frame], 0, 200))
            .collect();
        for p in &packets[..64] {
            assert!(slots.rewrite(nbl_of(p), 0, |h| h[0] = 6));
        }
        let before = fields(&packets[64]);
        assert!(!slots.rewrite(nbl_of(&packets[64]), 0, |_| unreachable!()));
        assert_eq!(fields(&packets[64]), before);
        for p in &packets[..64] {
            assert_eq!(slots.restore(nbl_of(p)), 1);
        }
    }
}
