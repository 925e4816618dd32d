//! OID requests: the originals the filter receives from above and the clones it forwards below.
//!
//! The forwarding protocol (NDIS "Filtering OID Requests"; reference §2):
//! 1. [`FilterHandle::clone_oid_request`] — `NdisAllocateCloneOidRequest`, copy `RequestId`, and
//!    stash the original in the clone's `SourceReserved[0]`. The original moves into the clone.
//! 2. [`FilterHandle::forward_oid_request`] — `NdisFOidRequest(clone)`. If it does not pend, no
//!    completion callback follows and the clone comes straight back; if it pends, NDIS owns the
//!    clone until FilterOidRequestComplete hands it back
//!    (the trampoline turns it back into a [`ClonedOidRequest`]).
//! 3. [`FilterHandle::finish_oid_clone`] — copy the result counters into the original, free the
//!    clone, and get the original back, to return its status (synchronous case) or to complete it
//!    once with [`FilterHandle::complete_oid_request`] (pending case).
//!
//! [`OidRequest`] and [`ClonedOidRequest`] are move-only: each request is completed or freed
//! exactly once because the value that allows it is consumed by doing it.

use super::consts::{
    MPFILTER_POOL_TAG, NDIS_REQUEST_METHOD, NDIS_REQUEST_QUERY_INFORMATION,
    NDIS_REQUEST_QUERY_STATISTICS, NDIS_REQUEST_SET_INFORMATION, NDIS_STATUS_PENDING,
    NDIS_STATUS_SUCCESS,
};
use super::handle::FilterHandle;
use super::imports;
use super::types::{NDIS_OID, NDIS_OID_REQUEST, NDIS_REQUEST_TYPE, NDIS_STATUS};
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::fmt;
use core::ptr::{self, NonNull};

/// The `RequestId` of an OID request, used to cancel it; only compared and forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestId(*mut c_void);

impl RequestId {
    /// Wraps the raw id NDIS passed.
    pub const fn from_raw(id: *mut c_void) -> Self {
        Self(id)
    }
    /// The raw id.
    pub const fn as_raw(self) -> *mut c_void {
        self.0
    }
}

/// An OID request an overlying driver sent through FilterOidRequest. The filter must either
/// return a non-PENDING status from FilterOidRequest, or return PENDING and complete it exactly
/// once with [`FilterHandle::complete_oid_request`].
#[must_use = "an OID request from above must be answered: return its status or complete it"]
pub struct OidRequest(NonNull<NDIS_OID_REQUEST>);

/// A clone of an [`OidRequest`] allocated by this filter, carrying the original.
#[must_use = "a cloned OID request must be forwarded or finished, or it leaks with its original"]
pub struct ClonedOidRequest {
    clone: NonNull<NDIS_OID_REQUEST>,
    /// The original, as stashed in the clone's `SourceReserved[0]`.
    original: NonNull<NDIS_OID_REQUEST>,
}

/// The result of forwarding a clone with `NdisFOidRequest`.
#[must_use]
#[derive(Debug)]
pub enum OidForward {
    /// The request pends below; the clone comes back through FilterOidRequestComplete.
    Pending,
    /// The drivers below completed the request synchronously; no completion callback follows.
    Completed(ClonedOidRequest, NDIS_STATUS),
}

fn oid_of(p: NonNull<NDIS_OID_REQUEST>) -> NDIS_OID {
    // SAFETY: the request is live while its wrapper exists.
    let data = unsafe { (*p.as_ptr()).DATA };
    // SAFETY: `Oid` is the first field of all three union variants, so reading it through the
    // query variant is valid whatever the request type.
    unsafe { data.QUERY_INFORMATION.Oid }
}

fn request_type_of(p: NonNull<NDIS_OID_REQUEST>) -> NDIS_REQUEST_TYPE {
    // SAFETY: the request is live while its wrapper exists.
    unsafe { (*p.as_ptr()).RequestType }
}

impl OidRequest {
    /// Takes charge of a request passed to FilterOidRequest; `None` for NULL.
    ///
    /// # Safety
    /// `p` must be NULL or the request NDIS passed to the running FilterOidRequest, which stays
    /// valid until the filter completes it (or returns a non-PENDING status).
    pub(crate) unsafe fn from_raw(p: *mut NDIS_OID_REQUEST) -> Option<Self> {
        NonNull::new(p).map(Self)
    }

    /// The OID.
    pub fn oid(&self) -> NDIS_OID {
        oid_of(self.0)
    }

    /// `NdisRequestQueryInformation`, `...SetInformation`, `...Method`…
    pub fn request_type(&self) -> NDIS_REQUEST_TYPE {
        request_type_of(self.0)
    }

    /// Answers the request synchronously: consumes it and returns the status FilterOidRequest
    /// must return (NDIS then completes the request itself; no `NdisFOidRequestComplete`).
    pub fn answer(self, status: NDIS_STATUS) -> NDIS_STATUS {
        status
    }

    /// The caller's `RequestId`.
    pub fn request_id(&self) -> RequestId {
        // SAFETY: the request is live while its wrapper exists.
        RequestId(unsafe { (*self.0.as_ptr()).RequestId })
    }

    /// The data of a set request (`InformationBuffer`, `InformationBufferLength` bytes); `None`
    /// for other request types or a NULL buffer. The bytes are the requester's, valid until the
    /// request completes; the filter only reads them.
    pub fn set_data(&self) -> Option<&[u8]> {
        if self.request_type() != NDIS_REQUEST_SET_INFORMATION {
            return None;
        }
        // SAFETY: the request is live while its wrapper exists.
        let data = unsafe { (*self.0.as_ptr()).DATA };
        // SAFETY: a set request's union holds the set variant.
        let set = unsafe { data.SET_INFORMATION };
        if set.InformationBuffer.is_null() {
            return None;
        }
        // SAFETY: NDIS's contract for a set request: `InformationBuffer` holds
        // `InformationBufferLength` readable bytes until the request is completed, which cannot
        // happen while the filter holds the request.
        Some(unsafe {
            core::slice::from_raw_parts(
                set.InformationBuffer.cast::<u8>(),
                set.InformationBufferLength as usize,
            )
        })
    }
}

impl OidRequest {
    /// The answer of a completed query request (`InformationBuffer`, `BytesWritten` bytes), to
    /// be rewritten before it goes back up; `None` for other request types or a NULL buffer.
    pub fn query_answer_mut(&mut self) -> Option<&mut [u8]> {
        let t = self.request_type();
        if t != NDIS_REQUEST_QUERY_INFORMATION && t != NDIS_REQUEST_QUERY_STATISTICS {
            return None;
        }
        // SAFETY: the request is live while its wrapper exists.
        let data = unsafe { (*self.0.as_ptr()).DATA };
        // SAFETY: a query request's union holds the query variant.
        let q = unsafe { data.QUERY_INFORMATION };
        if q.InformationBuffer.is_null() {
            return None;
        }
        let n = q.BytesWritten.min(q.InformationBufferLength) as usize;
        // SAFETY: NDIS's contract for a query: `InformationBuffer` holds
        // `InformationBufferLength` writable bytes, the answer in the first `BytesWritten`, until
        // the request is completed — which the filter, holding the request, has not done yet.
        Some(unsafe { core::slice::from_raw_parts_mut(q.InformationBuffer.cast::<u8>(), n) })
    }
}

/// A module's buffer for the data of a set request it forwards altered (a protocol's packet
/// filter with bits the team needs added): the clone carries this buffer instead of the
/// requester's, which is never written.
///
/// NDIS serialises a module's regular OID requests, so at most one clone uses it at a time.
#[derive(Default)]
pub struct OidScratch(UnsafeCell<[u8; OID_SCRATCH_LEN]>);

/// Bytes an [`OidScratch`] holds.
pub const OID_SCRATCH_LEN: usize = 16;

// SAFETY: written only by `ClonedOidRequest::substitute_set_data` for the module's one
// outstanding regular request (NDIS serialises them), and read by the drivers below while that
// request is outstanding.
unsafe impl Sync for OidScratch {}

impl fmt::Debug for OidScratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OidScratch")
    }
}

impl fmt::Debug for OidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidRequest")
            .field("at", &self.0)
            .field("oid", &format_args!("{:#010x}", self.oid()))
            .finish()
    }
}

impl ClonedOidRequest {
    /// Takes back a clone from FilterOidRequestComplete. `None` for NULL, or for a request that
    /// carries no original (not a clone of this filter: the filter originates no OIDs, so NDIS
    /// completing such a request to it would be an NDIS bug, and it is left alone).
    ///
    /// # Safety
    /// `p` must be NULL or the request NDIS passed to the running FilterOidRequestComplete.
    pub(crate) unsafe fn from_completion(p: *mut NDIS_OID_REQUEST) -> Option<Self> {
        let clone = NonNull::new(p)?;
        // SAFETY: the request is live during the completion callback.
        let original = unsafe { (*clone.as_ptr()).SourceReserved[0] };
        let original = NonNull::new(original.cast::<NDIS_OID_REQUEST>())?;
        Some(Self { clone, original })
    }

    /// Makes a set request's clone carry `data` from `scratch` instead of the requester's buffer
    /// (which stays as it was). False, and nothing changed, for another request type. Data longer
    /// than the scratch does not compile.
    ///
    /// `scratch` must be the module's own (one regular request at a time uses it) and outlive the
    /// request, as a module's fields do: NDIS completes every request before FilterDetach.
    pub fn substitute_set_data<const N: usize>(
        &mut self,
        scratch: &OidScratch,
        data: &[u8; N],
    ) -> bool {
        const { assert!(N <= OID_SCRATCH_LEN, "more data than the scratch holds") };
        if request_type_of(self.clone) != NDIS_REQUEST_SET_INFORMATION {
            return false;
        }
        let buffer = scratch.0.get().cast::<u8>();
        // SAFETY: the module's one outstanding request is this one (NDIS serialises them), so
        // nobody reads the scratch now; `data` fits (the const assertion above).
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), buffer, data.len()) };
        // SAFETY: the clone is ours until forwarded.
        let union = unsafe { &mut (*self.clone.as_ptr()).DATA };
        // SAFETY: a set request uses the set variant of the union.
        let set = unsafe { &mut union.SET_INFORMATION };
        set.InformationBuffer = buffer.cast::<c_void>();
        // Fits: at most OID_SCRATCH_LEN.
        #[allow(clippy::cast_possible_truncation)]
        {
            set.InformationBufferLength = data.len() as u32;
        }
        true
    }
}

impl fmt::Debug for ClonedOidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClonedOidRequest")
            .field("at", &self.clone)
            .field("original", &self.original)
            .finish()
    }
}

/// Copies what the drivers below reported into the original: the byte counters of the request
/// type, and the structure revision they support.
fn copy_results(clone: NonNull<NDIS_OID_REQUEST>, original: NonNull<NDIS_OID_REQUEST>) {
    // Both requests are live and distinct (the clone is the filter's own allocation, the original
    // waits for it), and the union variant used is the one selected by `RequestType`, which the
    // clone copied from the original.
    let (c, o) = (clone.as_ptr(), original.as_ptr());
    // SAFETY: see above; a copy of the clone's data union.
    let from = unsafe { (*c).DATA };
    // SAFETY: see above; nobody else accesses the original while the filter holds the clone.
    let to = unsafe { &mut (*o).DATA };
    match request_type_of(clone) {
        NDIS_REQUEST_QUERY_INFORMATION | NDIS_REQUEST_QUERY_STATISTICS => {
            // SAFETY: query requests use the query variant (in both requests).
            let (q, mut oq) = unsafe { (from.QUERY_INFORMATION, to.QUERY_INFORMATION) };
            oq.BytesWritten = q.BytesWritten;
            oq.BytesNeeded = q.BytesNeeded;
            to.QUERY_INFORMATION = oq;
        }
        NDIS_REQUEST_SET_INFORMATION => {
            // SAFETY: set requests use the set variant.
            let (s, mut os) = unsafe { (from.SET_INFORMATION, to.SET_INFORMATION) };
            os.BytesRead = s.BytesRead;
            os.BytesNeeded = s.BytesNeeded;
            to.SET_INFORMATION = os;
        }
        NDIS_REQUEST_METHOD => {
            // SAFETY: method requests use the method variant.
            let (m, mut om) = unsafe { (from.METHOD_INFORMATION, to.METHOD_INFORMATION) };
            om.OutputBufferLength = m.OutputBufferLength;
            om.BytesWritten = m.BytesWritten;
            om.BytesRead = m.BytesRead;
            om.BytesNeeded = m.BytesNeeded;
            to.METHOD_INFORMATION = om;
        }
        // An unknown type has no counters we could interpret; the status alone answers it.
        _ => {}
    }
    // SAFETY: see above; a plain byte field.
    let revision = unsafe { (*c).SupportedRevision };
    // SAFETY: see above.
    unsafe { (*o).SupportedRevision = revision };
}

impl FilterHandle {
    /// `NdisAllocateCloneOidRequest`, then `RequestId` copied and the original stashed in the
    /// clone's `SourceReserved[0]`.
    ///
    /// # Errors
    /// NDIS could not allocate the clone: the original comes back with the status to answer it
    /// with.
    pub fn clone_oid_request(
        self,
        original: OidRequest,
    ) -> Result<ClonedOidRequest, (OidRequest, NDIS_STATUS)> {
        let mut clone: *mut NDIS_OID_REQUEST = ptr::null_mut();
        // SAFETY: the handle is live and the original valid (wrapper invariants); NDIS writes the
        // clone pointer to the local.
        let status = unsafe {
            imports::NdisAllocateCloneOidRequest(
                self.as_raw(),
                original.0.as_ptr(),
                MPFILTER_POOL_TAG,
                &raw mut clone,
            )
        };
        let clone = match NonNull::new(clone) {
            Some(c) if status == NDIS_STATUS_SUCCESS => c,
            // A NULL clone with SUCCESS would be an NDIS bug; answer it as a resource failure.
            _ if status == NDIS_STATUS_SUCCESS => {
                return Err((original, super::consts::NDIS_STATUS_RESOURCES));
            }
            _ => return Err((original, status)),
        };
        let id = original.request_id();
        // SAFETY: `clone` is a fresh allocation of ours, not yet shared with anyone.
        unsafe { (*clone.as_ptr()).RequestId = id.as_raw() };
        // SAFETY: as above; the original travels inside the clone from now on.
        unsafe { (*clone.as_ptr()).SourceReserved[0] = original.0.as_ptr().cast::<c_void>() };
        Ok(ClonedOidRequest {
            clone,
            original: original.0,
        })
    }

    /// `NdisFOidRequest(clone)`.
    pub fn forward_oid_request(self, clone: ClonedOidRequest) -> OidForward {
        // SAFETY: the handle is live and the clone is ours; on PENDING NDIS keeps it until
        // FilterOidRequestComplete.
        let status = unsafe { imports::NdisFOidRequest(self.as_raw(), clone.clone.as_ptr()) };
        if status == NDIS_STATUS_PENDING {
            OidForward::Pending
        } else {
            OidForward::Completed(clone, status)
        }
    }

    /// Copies the results into the original, frees the clone (`NdisFreeCloneOidRequest`) and
    /// returns the original.
    // Taking the token by value is the point: it can only be used once.
    #[allow(clippy::needless_pass_by_value)]
    pub fn finish_oid_clone(self, clone: ClonedOidRequest) -> OidRequest {
        let ClonedOidRequest { clone, original } = clone;
        copy_results(clone, original);
        // SAFETY: the clone was allocated by NdisAllocateCloneOidRequest on this handle and is
        // back in our hands; it is freed exactly once because `clone` is consumed.
        unsafe { imports::NdisFreeCloneOidRequest(self.as_raw(), clone.as_ptr()) };
        OidRequest(original)
    }

    /// `NdisFOidRequestComplete`: completes an original for which FilterOidRequest returned
    /// PENDING.
    // Taking the token by value is the point: it can only be used once.
    #[allow(clippy::needless_pass_by_value)]
    pub fn complete_oid_request(self, original: OidRequest, status: NDIS_STATUS) {
        let OidRequest(original) = original;
        // SAFETY: the handle is live; the original is valid until this completion, which happens
        // once because `original` is consumed.
        unsafe { imports::NdisFOidRequestComplete(self.as_raw(), original.as_ptr(), status) }
    }

    /// `NdisFCancelOidRequest`: asks the drivers below to cancel the request with this id (the
    /// clone carries the original's id).
    pub fn cancel_oid_request(self, id: RequestId) {
        // SAFETY: the handle is live; the id is an opaque value NDIS only compares.
        unsafe { imports::NdisFCancelOidRequest(self.as_raw(), id.as_raw()) }
    }
}
