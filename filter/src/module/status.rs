//! Status indications and PnP events, passed through.
//!
//! IRQL and serialisation (shared reference, ndis-lwf-facts §1–2): FilterStatus runs at IRQL <=
//! DISPATCH_LEVEL; FilterNetPnPEvent and FilterDevicePnPEventNotify at PASSIVE_LEVEL. The filter
//! relies on no serialisation of these against the data path or OID requests.

use super::Module;
use crate::ndis::types::NDIS_STATUS;
use crate::ndis::{DevicePnpEvent, NetPnpEvent, StatusIndication};

impl Module {
    /// FilterStatus: passed up unchanged.
    ///
    /// IRQL: <= DISPATCH_LEVEL. Serialised: against nothing the filter relies on.
    pub fn status(&self, indication: &StatusIndication<'_>) {
        self.counters.status_indications.inc();
        self.handle.indicate_status(indication);
    }

    /// FilterNetPnPEvent: forwarded down; the answer of the drivers below is the answer.
    ///
    /// IRQL: PASSIVE_LEVEL. Serialised: against nothing the filter relies on.
    pub fn net_pnp_event(&self, event: &NetPnpEvent<'_>) -> NDIS_STATUS {
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
