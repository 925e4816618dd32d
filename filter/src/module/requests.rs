//! The control path: OID requests (clone, forward, complete exactly once), status indications
//! and PnP events, all passed through.

use super::Module;
use crate::diag::{self, Event, RequestRejectReason};
use crate::ndis::consts::NDIS_STATUS_PENDING;
use crate::ndis::types::NDIS_STATUS;
use crate::ndis::{
    ClonedOidRequest, DevicePnpEvent, NetPnpEvent, OidForward, OidRequest, RequestId,
    StatusIndication,
};

impl Module {
    /// FilterOidRequest: clones the request and forwards the clone. A synchronous result is
    /// copied back and returned (NDIS then completes the original itself); a pending one returns
    /// PENDING and is finished in [`Module::oid_request_complete`].
    pub fn oid_request(&self, request: OidRequest) -> NDIS_STATUS {
        let clone = match self.handle.clone_oid_request(request) {
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
        self.counters.oids_forwarded.inc();
        match self.handle.forward_oid_request(clone) {
            OidForward::Pending => NDIS_STATUS_PENDING,
            OidForward::Completed(clone, status) => {
                self.handle.finish_oid_clone(clone).answer(status)
            }
        }
    }

    /// FilterOidRequestComplete for a clone that pended: copies the results, frees the clone and
    /// completes the original, once.
    pub fn oid_request_complete(&self, clone: ClonedOidRequest, status: NDIS_STATUS) {
        self.counters.oids_completed_pending.inc();
        let original = self.handle.finish_oid_clone(clone);
        self.handle.complete_oid_request(original, status);
    }

    /// FilterCancelOidRequest: the clone carries the original's id, so the cancel goes down as is.
    pub fn cancel_oid_request(&self, id: RequestId) {
        self.counters.oid_cancels_forwarded.inc();
        self.handle.cancel_oid_request(id);
    }

    /// FilterStatus: passed up unchanged.
    pub fn status(&self, indication: &StatusIndication<'_>) {
        self.counters.status_indications.inc();
        self.handle.indicate_status(indication);
    }

    /// FilterNetPnPEvent: forwarded down; the answer of the drivers below is the answer.
    pub fn net_pnp_event(&self, event: &NetPnpEvent<'_>) -> NDIS_STATUS {
        self.counters.pnp_events_forwarded.inc();
        self.handle.net_pnp_event(event)
    }

    /// FilterDevicePnPEventNotify: forwarded down.
    pub fn device_pnp_event_notify(&self, event: &DevicePnpEvent<'_>) {
        self.counters.pnp_events_forwarded.inc();
        self.handle.device_pnp_event_notify(event);
    }
}
