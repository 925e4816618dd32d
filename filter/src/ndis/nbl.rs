//! Safe views of NET_BUFFER_LISTs: an owning chain type and accessors for the C macros.
//!
//! - [`NblChain`] owns a `Next`-linked chain of NBLs that NDIS handed to the filter (a send from
//!   above, a completion from below, an indication, a return). Ownership ends when the chain is
//!   passed back to NDIS through a [`FilterHandle`](super::FilterHandle) method, which consumes it.
//! - [`Nbl`] and [`NetBuffer`] are borrowed views of one NBL / NET_BUFFER with the accessors of
//!   `NET_BUFFER_LIST_NEXT_NBL`, `NET_BUFFER_LIST_FIRST_NB`, `NET_BUFFER_DATA_LENGTH`,
//!   `NET_BUFFER_LIST_STATUS`, `NET_BUFFER_LIST_INFO` and friends.
//!
//! - `classify` — [`NblChain::classify`] (one chain per destination) and
//!   [`NblChain::split_by_source`] (the filter's own NBLs apart from pass-through ones).
//! - `child` — [`Cloning`] and [`ChildNbl`]: clones of an owned NBL and the parent's
//!   `ChildRefCount`, with the ownership rules in the types.
//! - `meta` — [`SendMeta`]: the filter's per-NBL data, carried in an NBL context while the
//!   filter has the NBL out ([`Nbl::push_meta`] / [`Nbl::pop_meta`]).
//!
//! Nothing here allocates: splitting and appending relink the `Next` fields in place, so every
//! operation is usable on the send and receive paths.

mod child;
pub mod claim;
mod classify;
mod frame;
mod header;
pub mod lend;
mod meta;
mod queue;
pub mod refcount;
mod single;

pub use child::{ChildNbl, CloneFlags, Cloning, ParentNbl};
pub use classify::{Classified, MAX_DESTINATIONS, SourceSplit};
pub use frame::{OWN_FRAME_CAPACITY, OwnFrame, reclaim_from};
pub use header::{HEADER_SLOT_BYTES, HeaderSlots, PARTIAL_SPAN};
pub use meta::{SEND_META_SIZE, SendMeta};
pub use queue::NblQueue;
pub use single::SingleChild;

use super::consts::{
    IEEE8021Q_NET_BUFFER_LIST_INFO, NET_BUFFER_LIST_CANCEL_ID, TCP_LARGE_SEND_NET_BUFFER_LIST_INFO,
};
use super::imports;
use super::types::{
    MAX_NET_BUFFER_LIST_INFO, NDIS_HANDLE, NDIS_STATUS, NET_BUFFER, NET_BUFFER_LIST,
};
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::{self, NonNull};

/// One NET_BUFFER_LIST, seen through a shared reference.
///
/// The wrapped memory belongs to NDIS (or to the driver that allocated the NBL); the filter sees it
/// only while it owns the NBL, and only through a borrow of the [`NblChain`] or [`OwnedNbl`] that
/// represents that ownership. The `UnsafeCell` makes the few writes the filter may do (status)
/// legal through a shared reference.
#[repr(transparent)]
pub struct Nbl(UnsafeCell<NET_BUFFER_LIST>);

/// One NET_BUFFER of an NBL, seen through a shared reference.
#[repr(transparent)]
pub struct NetBuffer(UnsafeCell<NET_BUFFER>);

/// The cancel id of a send (`NDIS_SET_NET_BUFFER_LIST_CANCEL_ID` / `NdisFCancelSendNetBufferLists`).
///
/// An opaque value chosen by the originator; the filter only compares and forwards it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelId(*mut c_void);

impl CancelId {
    /// Wraps the raw id NDIS passed.
    pub const fn from_raw(id: *mut c_void) -> Self {
        Self(id)
    }
    /// The raw id, for passing back to NDIS.
    pub const fn as_raw(self) -> *mut c_void {
        self.0
    }
}

impl Nbl {
    /// The raw pointer, for the FFI calls in this module tree.
    pub(crate) fn as_raw(&self) -> *mut NET_BUFFER_LIST {
        self.0.get()
    }

    /// # Safety
    /// `p` must point to a live NBL that stays valid and owned by the caller for `'a`.
    unsafe fn from_ptr<'a>(p: NonNull<NET_BUFFER_LIST>) -> &'a Nbl {
        // SAFETY: `Nbl` is a transparent wrapper of `UnsafeCell<NET_BUFFER_LIST>`, which has the
        // layout of `NET_BUFFER_LIST`; the caller guarantees liveness for `'a`.
        unsafe { p.cast::<Nbl>().as_ref() }
    }

    /// `NET_BUFFER_LIST_NEXT_NBL`: the next NBL of the chain this one is linked in.
    pub fn next_nbl(&self) -> Option<&Nbl> {
        // SAFETY: the NBL is live while `self` is borrowed; reading `Next` is a plain field read.
        let next = unsafe { (*self.as_raw()).Next };
        // SAFETY: NBLs linked behind an owned NBL are owned by the same owner for as long as it.
        NonNull::new(next).map(|p| unsafe { Nbl::from_ptr(p) })
    }

    /// `NET_BUFFER_LIST_FIRST_NB`.
    pub fn first_net_buffer(&self) -> Option<&NetBuffer> {
        // SAFETY: a plain field read of a live NBL.
        let first = unsafe { (*self.as_raw()).FirstNetBuffer };
        // SAFETY: an NBL's NET_BUFFERs live as long as the NBL and belong to its owner.
        NonNull::new(first).map(|p| unsafe { NetBuffer::from_ptr(p) })
    }

    /// The NET_BUFFERs of this NBL, in order.
    pub fn net_buffers(&self) -> NetBufferIter<'_> {
        NetBufferIter {
            next: self.first_net_buffer(),
        }
    }

    /// Sum of `NET_BUFFER_DATA_LENGTH` over the NBL's NET_BUFFERs.
    pub fn data_length(&self) -> u64 {
        self.net_buffers()
            .map(|nb| u64::from(nb.data_length()))
            .sum()
    }

    /// `NET_BUFFER_LIST_STATUS`.
    pub fn status(&self) -> NDIS_STATUS {
        // SAFETY: a plain field read of a live NBL.
        unsafe { (*self.as_raw()).Status }
    }

    /// Sets `NET_BUFFER_LIST_STATUS` (before completing an NBL to its originator).
    pub fn set_status(&self, status: NDIS_STATUS) {
        // SAFETY: the caller owns the NBL (it holds a borrow of the owning chain) and the field
        // sits in an `UnsafeCell`; no other reference reads it concurrently.
        unsafe { (*self.as_raw()).Status = status }
    }

    /// `NET_BUFFER_LIST::SourceHandle`: the handle of the driver that originated the NBL. Only
    /// compared, never dereferenced.
    pub fn source_handle(&self) -> NDIS_HANDLE {
        // SAFETY: a plain field read of a live NBL.
        unsafe { (*self.as_raw()).SourceHandle }
    }

    /// `NDIS_GET_NET_BUFFER_LIST_CANCEL_ID`.
    pub fn cancel_id(&self) -> CancelId {
        CancelId(self.info_raw(NET_BUFFER_LIST_CANCEL_ID))
    }

    /// Whether the NBL is a large send (`TcpLargeSendNetBufferListInfo` with a non-zero MSS),
    /// and then whether for IPv6: `Some(false)` for LSOv1 and LSOv2 over IPv4, `Some(true)` for
    /// LSOv2 over IPv6, `None` for a plain send. The info's low 32 bits are the
    /// `NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO` bit-fields: MSS (bits 0-19),
    /// TcpHeaderOffset (20-29), Type (30: 0 = LSOv1, 1 = LSOv2), IPVersion (31, LSOv2: 1 = IPv6).
    pub fn large_send(&self) -> Option<bool> {
        // The bit-fields are the low 32 bits of the pointer-sized value.
        let v =
            u32::try_from(self.info_raw(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO).addr() & 0xFFFF_FFFF)
                .unwrap_or(0);
        let mss = v & 0x000F_FFFF;
        if mss == 0 {
            return None;
        }
        let v2 = v & (1 << 30) != 0;
        Some(v2 && v & (1 << 31) != 0)
    }

    /// `NET_BUFFER_LIST::NblFlags` (the `NDIS_NBL_FLAGS_*` attributes: IS_IPV4…, IS_LOOPBACK_PACKET).
    pub fn nbl_flags(&self) -> u32 {
        // SAFETY: a plain field read of a live NBL.
        unsafe { (*self.as_raw()).NblFlags }
    }

    /// Sets `NET_BUFFER_LIST::NblFlags` (on an NBL the filter originates).
    pub fn set_nbl_flags(&self, flags: u32) {
        // SAFETY: the caller owns the NBL and nobody reads the field concurrently (as `set_status`).
        unsafe { (*self.as_raw()).NblFlags = flags }
    }

    /// `NdisGetNetBufferListFlags` (`NET_BUFFER_LIST::Flags`, the `NDIS_NBL_FLAGS_*`); read by
    /// the unit tests, the filter passes the flags on untouched.
    #[cfg(test)]
    pub fn flags(&self) -> u32 {
        // SAFETY: a plain field read of a live NBL.
        unsafe { (*self.as_raw()).Flags }
    }

    /// `NET_BUFFER_LIST_INFO(nbl, slot)` as a pointer-sized value, or `None` for a slot index
    /// beyond the NDIS 6.30 slot count.
    pub fn info(&self, slot: usize) -> Option<usize> {
        (slot < MAX_NET_BUFFER_LIST_INFO).then(|| self.info_raw(slot).addr())
    }

    /// The VLAN id of the NBL's 802.1Q out-of-band information (`Ieee8021QNetBufferListInfo`,
    /// an `NDIS_NET_BUFFER_LIST_8021Q_INFO`: UserPriority in bits 0-2, CanonicalFormatId in bit 3,
    /// VlanId in bits 4-15), or `None` when the protocol set none (VLAN id 0 carries priority
    /// only).
    pub fn vlan_id(&self) -> Option<u16> {
        let tag = self.info(IEEE8021Q_NET_BUFFER_LIST_INFO)?;
        // Masked to 12 bits.
        #[allow(clippy::cast_possible_truncation)]
        let vlan = ((tag >> 4) & 0xFFF) as u16;
        (vlan != 0).then_some(vlan)
    }

    /// Sets `NET_BUFFER_LIST_INFO(nbl, slot)` to a pointer-sized value (e.g. the LSO completion
    /// info copied from a child to its parent); a slot index beyond the NDIS 6.30 slot count is
    /// ignored, as [`Nbl::info`] reads it as `None`.
    pub fn set_info(&self, slot: usize, value: usize) {
        if slot < MAX_NET_BUFFER_LIST_INFO {
            // Info values are integers or opaque handles here, never dereferenced by the filter.
            let value = ptr::without_provenance_mut(value);
            // SAFETY: in bounds; the caller owns the NBL (a borrow of its owner), the field sits
            // in the `UnsafeCell` and nobody reads it concurrently.
            unsafe { (*self.as_raw()).NetBufferListInfo[slot] = value };
        }
    }

    /// The first `min(storage.len(), DataLength)` bytes of the first NET_BUFFER, contiguous
    /// (`NdisGetDataBuffer` with AlignMultiple 1, AlignOffset 0): a view into the NBL's data when
    /// NDIS finds the bytes contiguous, else a copy in `storage`. Empty when the NBL has no
    /// NET_BUFFER, no data, or NDIS cannot provide the bytes. Never reads past `DataLength`.
    pub fn peek_front<'a>(&'a self, storage: &'a mut [u8]) -> &'a [u8] {
        let Some(nb) = self.first_net_buffer() else {
            return &[];
        };
        let wanted = u32::try_from(storage.len())
            .unwrap_or(u32::MAX)
            .min(nb.data_length());
        if wanted == 0 {
            return &[];
        }
        let storage_start = storage.as_mut_ptr();
        // SAFETY: a live NET_BUFFER of an NBL the caller owns, `wanted` <= its DataLength, and
        // `storage` writable for at least `wanted` bytes for the duration of the call.
        let data =
            unsafe { imports::NdisGetDataBuffer(nb.as_raw(), wanted, storage_start.cast(), 1, 0) };
        let wanted = wanted as usize;
        if data.is_null() {
            &[]
        } else if data.cast::<u8>() == storage_start {
            &storage[..wanted]
        } else {
            // SAFETY: NDIS returned a pointer to `wanted` contiguous bytes of the NET_BUFFER's
            // mapped data, which lives, unwritten, as long as the caller owns the NBL (`'a`).
            unsafe { core::slice::from_raw_parts(data.cast::<u8>(), wanted) }
        }
    }

    fn info_raw(&self, slot: usize) -> *mut c_void {
        // SAFETY: `slot` is in bounds (callers check or pass a constant below the slot count) and
        // the NBL is live; a plain array element read.
        unsafe { (*self.as_raw()).NetBufferListInfo[slot] }
    }
}

impl fmt::Debug for Nbl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nbl")
            .field("at", &self.as_raw())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl NetBuffer {
    /// The raw pointer, for the FFI calls in this module tree.
    pub(crate) fn as_raw(&self) -> *mut NET_BUFFER {
        self.0.get()
    }

    /// # Safety
    /// `p` must point to a live NET_BUFFER valid for `'a`.
    unsafe fn from_ptr<'a>(p: NonNull<NET_BUFFER>) -> &'a NetBuffer {
        // SAFETY: `NetBuffer` is a transparent wrapper of `UnsafeCell<NET_BUFFER>`; liveness is the
        // caller's guarantee.
        unsafe { p.cast::<NetBuffer>().as_ref() }
    }

    /// `NET_BUFFER_DATA_LENGTH`: bytes of used data.
    pub fn data_length(&self) -> u32 {
        // SAFETY: a plain field read of a live NET_BUFFER.
        let length = unsafe { (*self.0.get()).DataLength };
        // SAFETY: the ULONG member of the union; every bit pattern is a valid u32.
        unsafe { length.DataLength }
    }

    /// `NET_BUFFER_NEXT_NB`.
    pub fn next(&self) -> Option<&NetBuffer> {
        // SAFETY: a plain field read of a live NET_BUFFER.
        let next = unsafe { (*self.0.get()).Next };
        // SAFETY: NET_BUFFERs of one NBL live as long as the NBL.
        NonNull::new(next).map(|p| unsafe { NetBuffer::from_ptr(p) })
    }
}

/// Iterator over the NET_BUFFERs of one NBL.
pub struct NetBufferIter<'a> {
    next: Option<&'a NetBuffer>,
}

impl<'a> Iterator for NetBufferIter<'a> {
    type Item = &'a NetBuffer;
    fn next(&mut self) -> Option<&'a NetBuffer> {
        let nb = self.next?;
        self.next = nb.next();
        Some(nb)
    }
}

/// One NBL owned by the filter, unlinked from any chain (`Next` is NULL).
#[must_use = "an owned NBL must be passed back to NDIS, or it is lost"]
pub struct OwnedNbl(NonNull<NET_BUFFER_LIST>);

impl Deref for OwnedNbl {
    type Target = Nbl;
    fn deref(&self) -> &Nbl {
        // SAFETY: an `OwnedNbl` points to a live NBL the filter owns for as long as it exists.
        unsafe { Nbl::from_ptr(self.0) }
    }
}

impl OwnedNbl {
    /// Gives up ownership: the NBL, unlinked.
    pub fn into_raw(self) -> *mut NET_BUFFER_LIST {
        self.0.as_ptr()
    }
}

impl fmt::Debug for OwnedNbl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// An owned, `Next`-linked chain of NBLs with its length and tail.
///
/// Invariants: `head` is NULL iff `len == 0`; following `Next` from `head` visits exactly `len`
/// NBLs and ends at `tail`, whose `Next` is NULL; the filter owns every NBL of the chain.
#[must_use = "an NBL chain must be passed back to NDIS, or its NBLs are lost"]
pub struct NblChain {
    head: *mut NET_BUFFER_LIST,
    tail: *mut NET_BUFFER_LIST,
    len: usize,
}

impl Default for NblChain {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for NblChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NblChain")
            .field("len", &self.len)
            .field("head", &self.head)
            .field("tail", &self.tail)
            .finish()
    }
}

impl From<OwnedNbl> for NblChain {
    fn from(nbl: OwnedNbl) -> Self {
        let mut chain = Self::new();
        chain.push_back(nbl);
        chain
    }
}

impl NblChain {
    /// An empty chain.
    pub const fn new() -> Self {
        Self {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
        }
    }

    /// Takes ownership of the NULL-terminated chain starting at `head` (which may be NULL) and
    /// counts it.
    ///
    /// # Safety
    /// `head` must be NULL or the first of a `Next`-linked, NULL-terminated chain of live NBLs
    /// whose ownership NDIS has just transferred to the caller, and which nobody else touches
    /// until the chain is given back.
    pub unsafe fn from_raw(head: *mut NET_BUFFER_LIST) -> Self {
        let mut chain = Self::new();
        let mut cursor = head;
        while !cursor.is_null() {
            chain.len += 1;
            chain.tail = cursor;
            // SAFETY: `cursor` is a live NBL of the chain the caller handed over.
            cursor = unsafe { (*cursor).Next };
        }
        chain.head = head;
        chain
    }

    /// Gives up ownership: the head of the NULL-terminated chain, or NULL when empty.
    pub fn into_raw(self) -> *mut NET_BUFFER_LIST {
        self.head
    }

    /// Ends ownership of a chain received with `NDIS_RECEIVE_FLAGS_RESOURCES`: such NBLs are
    /// never returned, they go back to the indicator when the receive callback returns (the chain
    /// must then be linked as it arrived, which `NblChain` keeps unless split).
    pub fn leave_with_indicator(self) {}

    /// Number of NBLs.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the chain has no NBL.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first NBL (the unit tests'; the filter walks chains with `iter` and `pop_front`).
    #[cfg(test)]
    pub fn first(&self) -> Option<&Nbl> {
        // SAFETY: every NBL of the chain is live and owned while the chain is borrowed.
        NonNull::new(self.head).map(|p| unsafe { Nbl::from_ptr(p) })
    }

    /// Iterates over the NBLs in order.
    pub fn iter(&self) -> NblIter<'_> {
        NblIter {
            next: self.head,
            _chain: PhantomData,
        }
    }

    /// Appends one NBL at the tail.
    pub fn push_back(&mut self, nbl: OwnedNbl) {
        let p = nbl.into_raw();
        // `OwnedNbl` promises `Next == NULL`, so the new tail terminates the chain.
        if self.tail.is_null() {
            self.head = p;
        } else {
            // SAFETY: `tail` is a live NBL owned by this chain.
            unsafe { (*self.tail).Next = p };
        }
        self.tail = p;
        self.len += 1;
    }

    /// Unlinks and returns the first NBL.
    pub fn pop_front(&mut self) -> Option<OwnedNbl> {
        let first = NonNull::new(self.head)?;
        // SAFETY: `first` is a live NBL owned by this chain.
        self.head = unsafe { (*first.as_ptr()).Next };
        // SAFETY: as above; unlinking it makes it a standalone owned NBL.
        unsafe { (*first.as_ptr()).Next = ptr::null_mut() };
        self.len -= 1;
        if self.head.is_null() {
            self.tail = ptr::null_mut();
        }
        Some(OwnedNbl(first))
    }

    /// Moves all NBLs of `other` to the tail of this chain (O(1)).
    pub fn append(&mut self, other: NblChain) {
        let (other_head, other_tail, other_len) = (other.head, other.tail, other.len);
        if other.into_raw().is_null() {
            return;
        }
        if self.tail.is_null() {
            self.head = other_head;
        } else {
            // SAFETY: `tail` is a live NBL owned by this chain; `other` transfers its NBLs.
            unsafe { (*self.tail).Next = other_head };
        }
        self.tail = other_tail;
        self.len += other_len;
    }

    /// Splits the chain in two, keeping the relative order in each: the NBLs for which `pred`
    /// holds, and the rest.
    pub fn split_by(mut self, mut pred: impl FnMut(&Nbl) -> bool) -> (NblChain, NblChain) {
        let mut matching = NblChain::new();
        let mut rest = NblChain::new();
        while let Some(nbl) = self.pop_front() {
            if pred(&nbl) {
                matching.push_back(nbl);
            } else {
                rest.push_back(nbl);
            }
        }
        (matching, rest)
    }

    /// Sets `NET_BUFFER_LIST_STATUS` of every NBL.
    pub fn set_status_all(&self, status: NDIS_STATUS) {
        for nbl in self {
            nbl.set_status(status);
        }
    }

    /// Sum of the data lengths of every NET_BUFFER of every NBL.
    pub fn data_length(&self) -> u64 {
        self.iter().map(Nbl::data_length).sum()
    }
}

impl<'a> IntoIterator for &'a NblChain {
    type Item = &'a Nbl;
    type IntoIter = NblIter<'a>;
    fn into_iter(self) -> NblIter<'a> {
        self.iter()
    }
}

/// Iterator over the NBLs of a chain.
pub struct NblIter<'a> {
    next: *mut NET_BUFFER_LIST,
    _chain: PhantomData<&'a NblChain>,
}

impl<'a> Iterator for NblIter<'a> {
    type Item = &'a Nbl;
    fn next(&mut self) -> Option<&'a Nbl> {
        let p = NonNull::new(self.next)?;
        // SAFETY: `p` belongs to the chain borrowed for `'a`.
        let nbl = unsafe { Nbl::from_ptr(p) };
        self.next = nbl.next_nbl().map_or(ptr::null_mut(), Nbl::as_raw);
        Some(nbl)
    }
}

#[cfg(test)]
mod tests {
    //! Run under Miri: `cargo +nightly miri test -p mpfilter --lib ndis::` (fake heap NBLs only).
    use super::*;
    use crate::ndis::consts::{NDIS_STATUS_PAUSED, NDIS_STATUS_SUCCESS};
    use crate::ndis::testkit::FakeNbls;
    use std::vec::Vec;

    fn addrs(chain: &NblChain) -> Vec<usize> {
        chain.iter().map(|n| n.as_raw().addr()).collect()
    }

    /// Consumes the chain and re-reads it from its raw head, checking the links end where the
    /// length says.
    fn relinked(chain: NblChain) -> Vec<usize> {
        let len = chain.len();
        // SAFETY: the chain's NBLs are live fake NBLs owned by the test.
        let again = unsafe { NblChain::from_raw(chain.into_raw()) };
        assert_eq!(again.len(), len, "links and length disagree");
        addrs(&again)
    }

    #[test]
    fn from_raw_counts_and_iterates_in_order() {
        let f = FakeNbls::simple(5);
        // SAFETY: a chain of live fake NBLs.
        let chain = unsafe { NblChain::from_raw(f.chain()) };
        assert_eq!(chain.len(), 5);
        assert!(!chain.is_empty());
        assert_eq!(chain.iter().count(), 5);
        assert_eq!(addrs(&chain), f.addrs(0..5));
        assert_eq!(chain.first().map(|n| n.as_raw().addr()), Some(f.addr(0)));
        assert_eq!(chain.into_raw(), f.ptr(0));
    }

    #[test]
    fn null_is_the_empty_chain() {
        // SAFETY: NULL is allowed.
        let chain = unsafe { NblChain::from_raw(ptr::null_mut()) };
        assert!(chain.is_empty());
        assert_eq!(chain.len(), 0);
        assert!(chain.first().is_none());
        assert_eq!(chain.iter().count(), 0);
        assert_eq!(chain.data_length(), 0);
        assert!(chain.into_raw().is_null());
        assert!(NblChain::default().into_raw().is_null());
    }

    #[test]
    fn data_lengths_per_net_buffer_nbl_and_chain() {
        let f = FakeNbls::new(&[&[60, 1514, 9000], &[], &[42]]);
        // SAFETY: a chain of live fake NBLs.
        let chain = unsafe { NblChain::from_raw(f.chain()) };
        let per_nbl: Vec<u64> = chain.iter().map(Nbl::data_length).collect();
        assert_eq!(per_nbl, [60 + 1514 + 9000, 0, 42]);
        let first = chain.first().unwrap();
        let nbs: Vec<u32> = first.net_buffers().map(NetBuffer::data_length).collect();
        assert_eq!(nbs, [60, 1514, 9000]);
        assert_eq!(first.first_net_buffer().unwrap().data_length(), 60);
        let second = first.next_nbl().unwrap();
        assert!(second.first_net_buffer().is_none());
        assert_eq!(second.next_nbl().unwrap().data_length(), 42);
        assert!(second.next_nbl().unwrap().next_nbl().is_none());
        assert_eq!(chain.data_length(), 60 + 1514 + 9000 + 42);
        let _ = chain.into_raw();
    }

    #[test]
    fn push_pop_append_keep_links_length_and_tail_consistent() {
        let f = FakeNbls::simple(6);
        // SAFETY: chains of live fake NBLs (disjoint ranges).
        let mut a = unsafe { NblChain::from_raw(f.link(0..3)) };
        // SAFETY: as above.
        let b = unsafe { NblChain::from_raw(f.link(3..5)) };
        // SAFETY: as above.
        let mut single = unsafe { NblChain::from_raw(f.link(5..6)) };
        let first = a.pop_front().unwrap();
        assert_eq!(first.as_raw().addr(), f.addr(0));
        assert!(first.next_nbl().is_none(), "a popped NBL is unlinked");
        assert_eq!(a.len(), 2);
        a.append(b);
        a.append(NblChain::new());
        a.push_back(first);
        a.push_back(single.pop_front().unwrap());
        assert!(single.pop_front().is_none());
        assert!(single.is_empty());
        let expected = [1, 2, 3, 4, 0, 5].map(|i| f.addr(i));
        assert_eq!(addrs(&a), expected);
        assert_eq!(relinked(a), expected);

        let mut empty = NblChain::new();
        // SAFETY: as above.
        empty.append(unsafe { NblChain::from_raw(f.link(0..2)) });
        assert_eq!(relinked(empty), f.addrs(0..2));
    }

    #[test]
    fn popping_everything_then_pushing_restarts_cleanly() {
        let fakes = FakeNbls::simple(2);
        // SAFETY: a chain of live fake NBLs.
        let mut chain = unsafe { NblChain::from_raw(fakes.chain()) };
        let first = chain.pop_front().unwrap();
        let second = chain.pop_front().unwrap();
        assert!(chain.is_empty() && chain.first().is_none());
        chain.push_back(second);
        chain.push_back(first);
        assert_eq!(relinked(chain), [fakes.addr(1), fakes.addr(0)]);
        let from_one: NblChain = {
            // SAFETY: as above.
            let mut one = unsafe { NblChain::from_raw(fakes.link(0..1)) };
            one.pop_front().unwrap().into()
        };
        assert_eq!(relinked(from_one), [fakes.addr(0)]);
    }

    #[test]
    fn split_by_partitions_and_keeps_relative_order() {
        let f = FakeNbls::new(&[&[1], &[2], &[3], &[4], &[5], &[6], &[7]]);
        // SAFETY: a chain of live fake NBLs.
        let chain = unsafe { NblChain::from_raw(f.chain()) };
        let (odd, even) = chain.split_by(|n| n.data_length() % 2 == 1);
        assert_eq!(odd.len(), 4);
        assert_eq!(even.len(), 3);
        assert_eq!(relinked(odd), [0, 2, 4, 6].map(|i| f.addr(i)));
        assert_eq!(relinked(even), [1, 3, 5].map(|i| f.addr(i)));

        // SAFETY: as above (relinked gave the NBLs back to the test).
        let all = unsafe { NblChain::from_raw(f.chain()) };
        let (none, rest) = all.split_by(|_| false);
        assert!(none.is_empty() && none.into_raw().is_null());
        let (every, nothing) = rest.split_by(|_| true);
        assert_eq!(every.len(), 7);
        assert!(nothing.is_empty());
        assert_eq!(relinked(every), f.addrs(0..7));
    }

    #[test]
    fn the_vlan_id_is_read_from_the_8021q_info() {
        let f = FakeNbls::simple(2);
        // Priority 5, VLAN 0x123 on NBL 0; priority only on NBL 1.
        // SAFETY: writing fields of live fake NBLs before handing them over.
        unsafe {
            (*f.ptr(0)).NetBufferListInfo[IEEE8021Q_NET_BUFFER_LIST_INFO] =
                ptr::without_provenance_mut((0x123 << 4) | 5);
        }
        // SAFETY: as above.
        unsafe {
            (*f.ptr(1)).NetBufferListInfo[IEEE8021Q_NET_BUFFER_LIST_INFO] =
                ptr::without_provenance_mut(5);
        }
        // SAFETY: a chain of live fake NBLs.
        let chain = unsafe { NblChain::from_raw(f.chain()) };
        let ids: std::vec::Vec<_> = chain.iter().map(Nbl::vlan_id).collect();
        assert_eq!(ids, [Some(0x123), None]);
        chain.leave_with_indicator();
    }

    #[test]
    fn status_source_handle_cancel_id_flags_and_info_slots() {
        let f = FakeNbls::simple(3);
        let marker = 0xA5A5_usize;
        // SAFETY: writing fields of live fake NBLs before handing them over.
        unsafe {
            (*f.ptr(1)).SourceHandle = ptr::without_provenance_mut(marker);
        }
        // SAFETY: as above.
        unsafe {
            (*f.ptr(1)).NetBufferListInfo[NET_BUFFER_LIST_CANCEL_ID] =
                ptr::without_provenance_mut(77);
        }
        // SAFETY: as above.
        unsafe { (*f.ptr(1)).Flags = 0x1 };
        // SAFETY: as above.
        unsafe {
            (*f.ptr(1)).NetBufferListInfo[MAX_NET_BUFFER_LIST_INFO - 1] =
                ptr::without_provenance_mut(9);
        }
        // SAFETY: a chain of live fake NBLs.
        let chain = unsafe { NblChain::from_raw(f.chain()) };
        let second = chain.iter().nth(1).unwrap();
        assert_eq!(second.source_handle().addr(), marker);
        assert_eq!(second.cancel_id().as_raw().addr(), 77);
        assert_eq!(
            second.cancel_id(),
            CancelId::from_raw(ptr::without_provenance_mut(77))
        );
        assert_eq!(second.flags(), 0x1);
        assert_eq!(second.info(NET_BUFFER_LIST_CANCEL_ID), Some(77));
        assert_eq!(second.info(MAX_NET_BUFFER_LIST_INFO - 1), Some(9));
        assert_eq!(second.info(MAX_NET_BUFFER_LIST_INFO), None);
        assert_eq!(second.info(usize::MAX), None);

        assert_eq!(second.status(), NDIS_STATUS_SUCCESS);
        second.set_status(NDIS_STATUS_PAUSED);
        assert_eq!(f.status(1), NDIS_STATUS_PAUSED);
        assert_eq!(f.status(0), NDIS_STATUS_SUCCESS);
        chain.set_status_all(-5);
        assert!((0..3).all(|i| f.status(i) == -5));
        let _ = chain.into_raw();
    }

    mod peek {
        //! `peek_front` against the `NdisGetDataBuffer` double, over MDLs holding real bytes.
        use super::*;
        use crate::ndis::mock::{Call, Config, Session};
        use crate::ndis::testkit::FakePacket;
        use std::vec::Vec;

        /// The frame bytes 0, 1, 2, … split into MDLs of these sizes.
        fn parts(sizes: &[usize]) -> Vec<Vec<u8>> {
            let mut next = 0u8;
            sizes
                .iter()
                .map(|&n| {
                    (0..n)
                        .map(|_| {
                            next = next.wrapping_add(1);
                            next
                        })
                        .collect()
                })
                .collect()
        }

        fn packet(sizes: &[usize], offset: u32, length: u32) -> FakePacket {
            let bytes = parts(sizes);
            let slices: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
            FakePacket::new(&slices, offset, length)
        }

        /// Where the bytes `peek_front` returned live.
        #[derive(Debug, PartialEq, Eq)]
        enum Seen {
            /// Copied into the storage.
            Copied,
            /// A view into the MDL's buffer.
            Direct,
            /// Nothing was returned.
            Empty,
        }

        /// Peeks into a fresh storage of `storage_len` bytes through a one-NBL chain; returns
        /// the bytes seen and where they were.
        fn peek(p: &FakePacket, storage_len: usize) -> (Vec<u8>, Seen) {
            // SAFETY: a one-NBL chain of the live fake packet.
            let chain = unsafe { NblChain::from_raw(p.nbl()) };
            let mut storage = std::vec![0u8; storage_len];
            let storage_at = storage.as_ptr().addr();
            let seen = chain.first().unwrap().peek_front(&mut storage);
            let how = if seen.is_empty() {
                Seen::Empty
            } else if seen.as_ptr().addr() == storage_at {
                Seen::Copied
            } else {
                Seen::Direct
            };
            let bytes = seen.to_vec();
            let _ = chain.into_raw();
            (bytes, how)
        }

        #[test]
        fn contiguous_bytes_are_seen_in_place() {
            let s = Session::new(Config::default());
            let p = packet(&[100, 100], 10, 150);
            // SAFETY: a one-NBL chain of the live fake packet.
            let chain = unsafe { NblChain::from_raw(p.nbl()) };
            let mut storage = [0u8; 54];
            let seen = chain.first().unwrap().peek_front(&mut storage);
            assert_eq!(
                seen.as_ptr().addr(),
                p.byte_addr(0, 10),
                "a view into the MDL"
            );
            assert_eq!(seen, parts(&[100])[0][10..64].to_vec());
            let _ = chain.into_raw();
            assert_eq!(
                s.take_nbl_calls(),
                [Call::GetDataBuffer {
                    nb: p.nb_addr(),
                    bytes: 54,
                    storage: storage.as_ptr().addr(),
                    align_multiple: 1,
                    align_offset: 0,
                }]
            );
            assert!(
                storage.iter().all(|&b| b == 0),
                "the storage is not written"
            );
        }

        #[test]
        fn a_header_split_across_mdls_is_copied_contiguously() {
            let _s = Session::new(Config::default());
            // 6 + 8 + 4 + 100 bytes: an Ethernet header split twice, then an IP header split.
            let p = packet(&[6, 8, 4, 100], 0, 118);
            let whole: Vec<u8> = parts(&[6, 8, 4, 100]).concat();
            let (bytes, how) = peek(&p, 54);
            assert_eq!(how, Seen::Copied);
            assert_eq!(bytes, whole[..54].to_vec());
            // Starting inside the second MDL.
            let p = packet(&[6, 8, 4, 100], 9, 109);
            let (bytes, how) = peek(&p, 20);
            assert_eq!(how, Seen::Copied);
            assert_eq!(bytes, whole[9..29].to_vec());
        }

        #[test]
        fn never_more_than_data_length() {
            let s = Session::new(Config::default());
            // The MDLs hold 100 bytes, the NET_BUFFER's data is 20 of them.
            let p = packet(&[10, 90], 0, 20);
            let (bytes, how) = peek(&p, 64);
            assert_eq!(how, Seen::Copied);
            assert_eq!(bytes, parts(&[10, 90]).concat()[..20].to_vec());
            let calls = s.take_nbl_calls();
            assert!(
                matches!(calls.as_slice(), [Call::GetDataBuffer { bytes: 20, .. }]),
                "{calls:?}"
            );
            let (bytes, how) = peek(&packet(&[100], 0, 20), 64);
            assert_eq!((bytes.len(), how), (20, Seen::Direct));
        }

        #[test]
        fn nothing_to_read_gives_an_empty_slice_without_asking_ndis() {
            let s = Session::new(Config::default());
            assert_eq!(
                peek(&packet(&[100], 0, 0), 64).0,
                Vec::<u8>::new(),
                "no data"
            );
            assert_eq!(
                peek(&packet(&[100], 0, 100), 0).0,
                Vec::<u8>::new(),
                "no storage"
            );
            let f = FakeNbls::new(&[&[]]);
            // SAFETY: a one-NBL chain of a live fake NBL without NET_BUFFERs.
            let chain = unsafe { NblChain::from_raw(f.chain()) };
            let mut storage = [0u8; 16];
            assert!(chain.first().unwrap().peek_front(&mut storage).is_empty());
            let _ = chain.into_raw();
            assert!(s.take_nbl_calls().is_empty());
        }

        #[test]
        fn ndis_returning_null_gives_an_empty_slice() {
            let _s = Session::new(Config::default());
            // DataLength claims 200 bytes, the MDLs hold 30: NDIS cannot gather 64 of them.
            assert_eq!(peek(&packet(&[10, 20], 0, 200), 64).1, Seen::Empty);
            // No MDL at all.
            assert_eq!(peek(&packet(&[], 0, 50), 16).1, Seen::Empty);
        }
    }
}
