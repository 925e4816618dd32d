//! Safe views of NET_BUFFER_LISTs: an owning chain type and accessors for the C macros.
//!
//! - [`NblChain`] owns a `Next`-linked chain of NBLs that NDIS handed to the filter (a send from
//!   above, a completion from below, an indication, a return). Ownership ends when the chain is
//!   passed back to NDIS through a [`FilterHandle`](super::FilterHandle) method, which consumes it.
//! - [`Nbl`] and [`NetBuffer`] are borrowed views of one NBL / NET_BUFFER with the accessors of
//!   `NET_BUFFER_LIST_NEXT_NBL`, `NET_BUFFER_LIST_FIRST_NB`, `NET_BUFFER_DATA_LENGTH`,
//!   `NET_BUFFER_LIST_STATUS`, `NET_BUFFER_LIST_INFO` and friends.
//!
//! Nothing here allocates: splitting and appending relink the `Next` fields in place, so every
//! operation is usable on the send and receive paths.

use super::consts::NET_BUFFER_LIST_CANCEL_ID;
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

    /// `NdisGetNetBufferListFlags` (`NET_BUFFER_LIST::Flags`, the `NDIS_NBL_FLAGS_*`).
    pub fn flags(&self) -> u32 {
        // SAFETY: a plain field read of a live NBL.
        unsafe { (*self.as_raw()).Flags }
    }

    /// `NET_BUFFER_LIST_INFO(nbl, slot)` as a pointer-sized value, or `None` for a slot index
    /// beyond the NDIS 6.30 slot count.
    pub fn info(&self, slot: usize) -> Option<usize> {
        (slot < MAX_NET_BUFFER_LIST_INFO).then(|| self.info_raw(slot).addr())
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
    /// # Safety
    /// `p` must point to a live NET_BUFFER valid for `'a`.
    unsafe fn from_ptr<'a>(p: NonNull<NET_BUFFER>) -> &'a NetBuffer {
        // SAFETY: `NetBuffer` is a transparent wrapper of `UnsafeCell<NET_BUFFER>`; liveness is the
        // caller's guarantee.
        unsafe { p.cast::<NetBuffer>().as_ref() }
    }

    /// `NET_BUFFER_DATA_LENGTH`: bytes of used data.
    pub fn data_length(&self) -> u32 {
        // SAFETY: a plain read of the ULONG member of the `DataLength` union of a live NET_BUFFER;
        // every bit pattern is a valid u32.
        unsafe { (*self.0.get()).DataLength.DataLength }
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

    /// Number of NBLs.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the chain has no NBL.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first NBL.
    pub fn first(&self) -> Option<&Nbl> {
        // SAFETY: every NBL of the chain is live and owned while the chain is borrowed.
        NonNull::new(self.head).map(|p| unsafe { Nbl::from_ptr(p) })
    }

    /// Iterates over the NBLs in order.
    pub fn iter(&self) -> NblIter<'_> {
        NblIter {
            next: self.head,
            remaining: self.len,
            _chain: PhantomData,
        }
    }

    /// Appends one NBL at the tail.
    pub fn push_back(&mut self, nbl: OwnedNbl) {
        let p = nbl.0.as_ptr();
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
        if other.is_empty() {
            return;
        }
        if self.tail.is_null() {
            self.head = other.head;
        } else {
            // SAFETY: `tail` is a live NBL owned by this chain; `other` transfers its NBLs.
            unsafe { (*self.tail).Next = other.head };
        }
        self.tail = other.tail;
        self.len += other.len;
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
        for nbl in self.iter() {
            nbl.set_status(status);
        }
    }

    /// Sum of the data lengths of every NET_BUFFER of every NBL.
    pub fn data_length(&self) -> u64 {
        self.iter().map(Nbl::data_length).sum()
    }
}

/// Iterator over the NBLs of a chain.
pub struct NblIter<'a> {
    next: *mut NET_BUFFER_LIST,
    remaining: usize,
    _chain: PhantomData<&'a NblChain>,
}

impl<'a> Iterator for NblIter<'a> {
    type Item = &'a Nbl;
    fn next(&mut self) -> Option<&'a Nbl> {
        let p = NonNull::new(self.next)?;
        // SAFETY: `p` belongs to the chain borrowed for `'a`.
        let nbl = unsafe { Nbl::from_ptr(p) };
        self.next = nbl.next_nbl().map_or(ptr::null_mut(), Nbl::as_raw);
        self.remaining -= 1;
        Some(nbl)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for NblIter<'_> {}
