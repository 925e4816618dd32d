//! Status indications and PnP events, passed through.
//!
//! IRQL and serialisation (shared reference, ndis-lwf-facts §1–2): FilterStatus runs at IRQL <=
//! DISPATCH_LEVEL; FilterNetPnPEvent and FilterDevicePnPEventNotify at PASSIVE_LEVEL. The filter
//! relies on no serialisation of these against the data path or OID requests.

use super::Module;
use crate::diag::{self, Event, StatusDropReason};
use crate::ndis::types::NDIS_STATUS;
use crate::ndis::{DevicePnpEvent, NetPnpEvent, OffloadLimits, StatusIndication};
use mpshim::contract::DecodeError;

/// Why an indication tagged as mpshim's was dropped, in the diagnostic catalogue's terms.
fn drop_reason(e: &DecodeError) -> StatusDropReason {
    match e {
        DecodeError::Truncated { .. } => StatusDropReason::BufferTooSmall,
        DecodeError::BadObjectType(_)
        | DecodeError::BadRevision(_)
        | DecodeError::BadSize { .. } => StatusDropReason::BadHeader,
        _ => StatusDropReason::InvalidValue,
    }
}

impl Module {
    /// An mpshim path event from the miniport below was taken (it is not passed up: it is a
    /// private indication between the miniport and this filter).
    pub fn shim_event_taken(&self) {
        self.counters.shim_events.inc();
    }

    /// An mpshim path event not newer than the last one taken was ignored.
    pub fn shim_event_stale(&self) {
        self.counters.shim_events_stale.inc();
    }

    /// An indication tagged as mpshim's was malformed: counted, reported, dropped (neither taken
    /// nor passed up).
    pub fn shim_event_malformed(&self, status: NDIS_STATUS, error: &DecodeError) {
        self.counters.shim_events_malformed.inc();
        diag::emit(
            self.handle,
            Event::StatusDropped {
                status,
                reason: drop_reason(error),
            },
        );
    }

    /// FilterStatus: passed up unchanged — but for a current-config indication of a teamed
    /// module (`group`: the group's LSO limits), which goes up narrowed to them (module
    /// `capability`); the module keeps its own stack's limits from it either way.
    ///
    /// IRQL: <= DISPATCH_LEVEL. Serialised: against nothing the filter relies on.
    pub fn status(&self, indication: &StatusIndication<'_>, group: Option<OffloadLimits>) {
        self.counters.status_indications.inc();
        if let Some(limits) = indication.offload_limits() {
            self.capability().set_offload(limits);
            self.capability().set_presented_offload(limits);
            if let Some(last) = &self.last_offload {
                last.store(indication.buffer());
            }
            // Narrowing keeps the smaller of the group's limits (computed before this member's
            // new ones were known) and the indication's own.
            if let Some(shown) =
                group.and_then(|g| self.handle.indicate_offload_narrowed(indication, g))
            {
                self.capability().set_presented_offload(shown);
                self.counters.status_indications_narrowed.inc();
                return;
            }
        }
        self.handle.indicate_status(indication);
    }

    /// FilterNetPnPEvent: forwarded down; the answer of the drivers below is the answer.
    ///
    /// IRQL: PASSIVE_LEVEL. Serialised: against nothing the filter relies on.
    pub fn net_pnp_event(&self, event: &NetPnpEvent<'_>) -> NDIS_STATUS {
        if event.is_filter_pre_detach() {
            // The last point for requests: the stack below gets back the protocol's own packet
            // filter, not the team's widening (a module attached later learns it from there).
            self.set_team_size(1, false);
        }
        self.counters.pnp_events_forwarded.inc();
        self.handle.net_pnp_event(event)
    }

    /// FilterDevicePnPEventNotify: forwarded down.
    ///
    /// IRQL: PASSIVE_LEVEL. Serialised: against nothing the filter relies on.
    pub fn device_pnp_event_notify(&self, event: &DevicePnpEvent<'_>) {
        self.counters.pnp_events_forwarded.inc();
        self.handle.device_pnp_event_notify(event);
    }
}
