//! OID requests: cloned, forwarded down, and completed exactly once.
//!
//! IRQL and serialisation (shared reference, ndis-lwf-facts §1–2): NDIS calls these at IRQL <=
//! DISPATCH_LEVEL. It serialises regular OID requests per module — one at a time — so at most one
//! clone of a module is outstanding; they run concurrently with the data path and status
//! indications.

use super::Module;
use crate::diag::{self, Event, RequestRejectReason};
use crate::ndis::consts::NDIS_STATUS_PENDING;
use crate::ndis::types::NDIS_STATUS;
use crate::ndis::{ClonedOidRequest, OidForward, OidRequest, RequestId};

impl Module {
    /// FilterOidRequest: clones the request and forwards the clone. A synchronous result is
    /// copied back and returned (NDIS then completes the original itself); a pending one returns
    /// PENDING and is finished in [`Module::oid_request_complete`].
    ///
    /// IRQL: <= DISPATCH_LEVEL. Serialised: one regular OID request at a time per module.
    pub fn oid_request(&self, request: OidRequest) -> NDIS_STATUS {
        let packet_filter = Self::protocol_filter_set(&request);
        let mut clone = match self.handle.clone_oid_request(request) {
            Ok(clone) => clone,
            Err((original, status)) => {
                self.counters.oid_clone_failures.inc();
                let reason = RequestRejectReason::CloneFailed;
                let oid = original.oid();
                diag::emit(
                    self.handle,
                    Event::OidRejected {
                        oid,
                        status,
                        reason,
                    },
                );
                return original.answer(status);
            }
        };
        if let Some(bits) = packet_filter {
            self.widen_forwarded(&mut clone, bits);
        }
        self.counters.oids_forwarded.inc();
        match self.handle.forward_oid_request(clone) {
            OidForward::Pending => NDIS_STATUS_PENDING,
            OidForward::Completed(clone, status) => {
                let mut original = self.handle.finish_oid_clone(clone);
                self.observe_request(&original, status);
                self.protocol_request_done(&original);
                self.hide_widening(&mut original, status);
                original.answer(status)
            }
        }
    }

    /// FilterOidRequestComplete for a clone that pended: copies the results, frees the clone and
    /// completes the original, once.
    ///
    /// IRQL: <= DISPATCH_LEVEL. Serialised: the completion of the module's one outstanding
    /// request.
    pub fn oid_request_complete(&self, clone: ClonedOidRequest, status: NDIS_STATUS) {
        self.counters.oids_completed_pending.inc();
        let mut original = self.handle.finish_oid_clone(clone);
        self.observe_request(&original, status);
        self.protocol_request_done(&original);
        self.hide_widening(&mut original, status);
        self.handle.complete_oid_request(original, status);
    }

    /// FilterCancelOidRequest: the clone carries the original's id, so the cancel goes down as is.
    ///
    /// IRQL: <= DISPATCH_LEVEL. Serialised: against nothing; may race the request's completion.
    pub fn cancel_oid_request(&self, id: RequestId) {
        self.counters.oid_cancels_forwarded.inc();
        self.handle.cancel_oid_request(id);
    }
}
