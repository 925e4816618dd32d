//! [`OwnQuery`]: an OID query the filter itself issues down its stack (not a clone of a request
//! from above), with its information buffer, in one heap block that stays put from
//! `NdisFOidRequest` until NDIS hands it back in FilterOidRequestComplete.
//!
//! One query at a time per `OwnQuery`: [`OwnQuery::issue`] claims it with a compare-and-swap and
//! [`OwnQuery::finish`] (for a pended query) or `issue` itself (for one answered at once)
//! releases it. FilterOidRequestComplete recognises the query by address ([`OwnQuery::is`]) before
//! treating a completion as a clone's.

use super::FilterHandle;
use super::consts::{
    NDIS_OBJECT_TYPE_OID_REQUEST, NDIS_OID_REQUEST_REVISION_1, NDIS_REQUEST_QUERY_INFORMATION,
    NDIS_REQUEST_SET_INFORMATION, NDIS_SIZEOF_OID_REQUEST_REVISION_1, NDIS_STATUS_BUFFER_TOO_SHORT,
    NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS,
};
use super::imports;
use super::types::{NDIS_OBJECT_HEADER, NDIS_OID_QUERY_INFORMATION, NDIS_OID_REQUEST, NDIS_STATUS};
use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, Ordering};

/// Bytes of answer an [`OwnQuery`] takes.
pub const OWN_QUERY_BUFFER: usize = 256;

/// The request and its buffer, at a fixed heap address.
#[repr(C)]
struct Block {
    req: UnsafeCell<NDIS_OID_REQUEST>,
    buf: UnsafeCell<[u8; OWN_QUERY_BUFFER]>,
}

/// What [`OwnQuery::issue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryStart {
    /// The drivers below pended it: the answer comes through FilterOidRequestComplete.
    Pending,
    /// Answered at once with this status; the answer is in `out` (its length in `.1`).
    Done(NDIS_STATUS, usize),
    /// A query of this `OwnQuery` is still outstanding.
    Busy,
}

/// A filter-issued OID query (see the module docs).
pub struct OwnQuery {
    block: NonNull<Block>,
    busy: AtomicBool,
}

// SAFETY: the block is only written by the one caller that claimed `busy` (or by NDIS while the
// query is outstanding) and read by the completion that releases it; the rest is an atomic.
unsafe impl Send for OwnQuery {}
// SAFETY: as above.
unsafe impl Sync for OwnQuery {}

impl OwnQuery {
    /// A query block, or `None` when the allocator is exhausted.
    pub fn new() -> Option<Self> {
        // SAFETY: NDIS_OID_REQUEST is integers and raw pointers, valid when zeroed; so is a
        // byte buffer.
        let block: Box<Block> = unsafe { Box::<Block>::new_zeroed().assume_init() };
        Some(Self {
            block: NonNull::from(Box::leak(block)),
            busy: AtomicBool::new(false),
        })
    }

    /// Whether `req` (a FilterOidRequestComplete argument) is this query.
    pub fn is(&self, req: *mut NDIS_OID_REQUEST) -> bool {
        ptr::eq(req.cast_const(), self.req_ptr().cast_const())
    }

    fn req_ptr(&self) -> *mut NDIS_OID_REQUEST {
        // SAFETY: the block is live for `self`'s lifetime; taking a field address reads nothing.
        unsafe { (*self.block.as_ptr()).req.get() }
    }

    fn buf_ptr(&self) -> *mut u8 {
        // SAFETY: as above.
        unsafe { (*self.block.as_ptr()).buf.get().cast::<u8>() }
    }

    /// Issues a query of `oid` down `filter`'s stack (`NdisFOidRequest`, IRQL <= DISPATCH_LEVEL).
    /// An answer given at once is copied into `out`.
    pub fn issue(&self, filter: FilterHandle, oid: u32, out: &mut [u8]) -> QueryStart {
        self.start(filter, NDIS_REQUEST_QUERY_INFORMATION, oid, &[], out)
    }

    /// Issues a set of `oid` with `payload` down `filter`'s stack; a payload longer than
    /// [`OWN_QUERY_BUFFER`] is refused without a call (`Done(NDIS_STATUS_BUFFER_TOO_SHORT, 0)`).
    pub fn issue_set(&self, filter: FilterHandle, oid: u32, payload: &[u8]) -> QueryStart {
        self.start(filter, NDIS_REQUEST_SET_INFORMATION, oid, payload, &mut [])
    }

    /// Claims the block, fills the request (a query offers the whole buffer, a set carries
    /// `payload`) and issues it.
    fn start(
        &self,
        filter: FilterHandle,
        request_type: i32,
        oid: u32,
        payload: &[u8],
        out: &mut [u8],
    ) -> QueryStart {
        if payload.len() > OWN_QUERY_BUFFER {
            return QueryStart::Done(NDIS_STATUS_BUFFER_TOO_SHORT, 0);
        }
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return QueryStart::Busy;
        }
        // SAFETY: claimed above; the buffer holds OWN_QUERY_BUFFER >= payload.len() bytes.
        unsafe { ptr::copy_nonoverlapping(payload.as_ptr(), self.buf_ptr(), payload.len()) };
        let length = if request_type == NDIS_REQUEST_SET_INFORMATION {
            payload.len()
        } else {
            OWN_QUERY_BUFFER
        };
        // SAFETY: NDIS_OID_REQUEST is integers and raw pointers: all-zero is valid.
        let mut r: NDIS_OID_REQUEST = unsafe { core::mem::zeroed() };
        r.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_OID_REQUEST,
            NDIS_OID_REQUEST_REVISION_1,
            NDIS_SIZEOF_OID_REQUEST_REVISION_1,
        );
        r.RequestType = request_type;
        r.RequestHandle = filter.as_raw();
        // The query and set views of the union share these fields' offsets (BytesWritten is
        // BytesRead).
        r.DATA.QUERY_INFORMATION = NDIS_OID_QUERY_INFORMATION {
            Oid: oid,
            InformationBuffer: self.buf_ptr().cast(),
            // At most OWN_QUERY_BUFFER.
            #[allow(clippy::cast_possible_truncation)]
            InformationBufferLength: length as u32,
            BytesWritten: 0,
            BytesNeeded: 0,
        };
        let req = self.req_ptr();
        // SAFETY: claimed above: nobody else touches the block until it is released.
        unsafe { req.write(r) };
        // SAFETY: the filter handle is live (the caller's module); the request and its buffer
        // stay put and untouched by the filter until completion.
        let status = unsafe { imports::NdisFOidRequest(filter.as_raw(), req) };
        if status == NDIS_STATUS_PENDING {
            return QueryStart::Pending;
        }
        match self.finish(status, out) {
            Ok(n) => QueryStart::Done(NDIS_STATUS_SUCCESS, n),
            Err(s) => QueryStart::Done(s, 0),
        }
    }

    /// The answer of this query, completed with `status`: the bytes written (a set: read),
    /// copied into `out` (at most its length; nothing for a set); releases it for the next issue.
    ///
    /// # Errors
    /// The failure status.
    pub fn finish(&self, status: NDIS_STATUS, out: &mut [u8]) -> Result<usize, NDIS_STATUS> {
        let req = self.req_ptr();
        // SAFETY: the query completed: NDIS handed the block back to the filter.
        let data = unsafe { &(*req).DATA };
        // SAFETY: a query's answer is in the query view of the union.
        let written = unsafe { data.QUERY_INFORMATION.BytesWritten } as usize;
        let n = written.min(OWN_QUERY_BUFFER).min(out.len());
        if status == NDIS_STATUS_SUCCESS {
            // SAFETY: the buffer holds OWN_QUERY_BUFFER bytes, `n` is within it and `out`.
            unsafe { ptr::copy_nonoverlapping(self.buf_ptr(), out.as_mut_ptr(), n) };
        }
        self.busy.store(false, Ordering::Release);
        if status == NDIS_STATUS_SUCCESS {
            Ok(n)
        } else {
            Err(status)
        }
    }
}

impl Drop for OwnQuery {
    fn drop(&mut self) {
        if self.busy.load(Ordering::Acquire) {
            // Still with NDIS: leaking beats freeing memory NDIS writes to. (FilterDetach comes
            // only after the stack's requests are done, so a detached module never gets here.)
            return;
        }
        // SAFETY: from Box::leak in `new`, freed once, not with NDIS.
        drop(unsafe { Box::from_raw(self.block.as_ptr()) });
    }
}

#[cfg(test)]
mod tests {
    //! Against the recording doubles (runs under Miri with the rest of `ndis::`).
    use super::*;
    use crate::ndis::consts::NDIS_STATUS_NOT_SUPPORTED;
    use crate::ndis::mock::{Call, Config, Session};

    fn filter() -> FilterHandle {
        // SAFETY: a test handle value, only compared and passed to the doubles.
        unsafe { FilterHandle::from_raw(ptr::without_provenance_mut(0xF1_0000)) }.unwrap()
    }

    #[test]
    fn an_answer_given_at_once_is_copied_and_the_query_is_free_again() {
        let s = Session::new(Config {
            oid_status: NDIS_STATUS_SUCCESS,
            oid_bytes: 12,
            ..Config::default()
        });
        let q = OwnQuery::new().unwrap();
        let mut out = [0u8; 8];
        assert_eq!(
            q.issue(filter(), 0xFFA7_0001, &mut out),
            QueryStart::Done(NDIS_STATUS_SUCCESS, 8),
            "answer cut to the caller's buffer"
        );
        let calls = s.take_calls();
        assert!(
            matches!(
                calls[..],
                [Call::OidRequest {
                    handle: 0xF1_0000,
                    ..
                }]
            ),
            "{calls:?}"
        );
        assert!(matches!(
            q.issue(filter(), 1, &mut out),
            QueryStart::Done(..)
        ));
    }

    #[test]
    fn a_pended_query_is_busy_until_its_completion_is_recognised_and_finished() {
        let _s = Session::new(Config {
            oid_status: NDIS_STATUS_PENDING,
            ..Config::default()
        });
        let q = OwnQuery::new().unwrap();
        let mut out = [0u8; 8];
        assert_eq!(q.issue(filter(), 7, &mut out), QueryStart::Pending);
        assert_eq!(q.issue(filter(), 7, &mut out), QueryStart::Busy);
        let other = OwnQuery::new().unwrap();
        assert!(q.is(q.req_ptr()) && !q.is(other.req_ptr()));
        assert_eq!(
            q.finish(NDIS_STATUS_NOT_SUPPORTED, &mut out),
            Err(NDIS_STATUS_NOT_SUPPORTED)
        );
        assert_eq!(q.issue(filter(), 7, &mut out), QueryStart::Pending);
        // Dropped while pending: leaked, never freed under NDIS (Miri would flag a leak as an
        // error, so it is finished first).
        let _ = q.finish(NDIS_STATUS_SUCCESS, &mut out);
    }

    #[test]
    fn a_set_carries_its_payload_and_a_too_long_one_is_refused_without_a_call() {
        let s = Session::new(Config {
            oid_status: NDIS_STATUS_SUCCESS,
            oid_bytes: 4,
            ..Config::default()
        });
        let q = OwnQuery::new().unwrap();
        assert_eq!(
            q.issue_set(filter(), 9, &[1, 2, 3, 4]),
            QueryStart::Done(NDIS_STATUS_SUCCESS, 0)
        );
        // SAFETY: the block is the filter's again (answered at once).
        let r = unsafe { &*q.req_ptr() };
        assert_eq!(r.RequestType, NDIS_REQUEST_SET_INFORMATION);
        // SAFETY: a set request's view.
        let set = unsafe { r.DATA.SET_INFORMATION };
        assert_eq!((set.Oid, set.InformationBufferLength), (9, 4));
        // SAFETY: the buffer holds what was set.
        let sent = unsafe { core::slice::from_raw_parts(set.InformationBuffer.cast::<u8>(), 4) };
        assert_eq!(sent, [1, 2, 3, 4]);
        assert_eq!(s.take_calls().len(), 1);
        let long = [0u8; OWN_QUERY_BUFFER + 1];
        assert_eq!(
            q.issue_set(filter(), 9, &long),
            QueryStart::Done(NDIS_STATUS_BUFFER_TOO_SHORT, 0)
        );
        assert!(s.take_calls().is_empty());
    }
}
