//! The filter's own query of the miniport's mpshim health (`OID_MPSHIM_HEALTH`): issued down the
//! module's stack on request (the control device will call it; tests and mpsim do now), answered
//! by a miniport that links mpshim, decoded and kept as the module's last health snapshot. A
//! miniport without the shim answers NOT_SUPPORTED; a malformed answer is counted and dropped.

use super::Module;
use crate::ndis::types::{NDIS_OID_REQUEST, NDIS_STATUS};
use crate::ndis::{OwnQuery, QueryStart, SpinLock};
use alloc::boxed::Box;
use core::pin::Pin;
use mpshim::contract::{HealthSnapshot, OID_MPSHIM_HEALTH, Settings};

/// The query block and the last answer.
pub(crate) struct HealthQuery {
    query: OwnQuery,
    set: OwnQuery,
    last: Pin<Box<SpinLock<Option<HealthSnapshot>>>>,
}

impl HealthQuery {
    /// A query block (PASSIVE_LEVEL, at attach); `None` when the allocator is exhausted.
    pub(crate) fn new() -> Option<Self> {
        Some(Self {
            query: OwnQuery::new()?,
            set: OwnQuery::new()?,
            last: SpinLock::new(None),
        })
    }
}

/// What [`Module::query_shim_health`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthQueryStart {
    /// Issued; the answer arrives with the query's completion.
    Pending,
    /// Answered at once (a query's snapshot is stored, or the status says why not).
    Answered(NDIS_STATUS),
    /// A query is still outstanding, or the module has no query block.
    Busy,
}

impl Module {
    /// Issues `OID_MPSHIM_HEALTH` down this module's stack. IRQL <= DISPATCH_LEVEL.
    pub fn query_shim_health(&self) -> HealthQueryStart {
        let Some(h) = self.health.as_ref() else {
            return HealthQueryStart::Busy;
        };
        let mut out = [0u8; 128];
        match h.query.issue(self.handle, OID_MPSHIM_HEALTH, &mut out) {
            QueryStart::Pending => HealthQueryStart::Pending,
            QueryStart::Busy => HealthQueryStart::Busy,
            QueryStart::Done(status, n) => {
                self.keep_health(status, &out[..n]);
                HealthQueryStart::Answered(status)
            }
        }
    }

    /// Sets the miniport's mpshim monitor settings (`OID_MPSHIM_HEALTH` set). IRQL <=
    /// DISPATCH_LEVEL.
    pub fn set_shim_settings(&self, settings: &Settings) -> HealthQueryStart {
        let Some(h) = self.health.as_ref() else {
            return HealthQueryStart::Busy;
        };
        match h
            .set
            .issue_set(self.handle, OID_MPSHIM_HEALTH, &settings.encode())
        {
            QueryStart::Pending => HealthQueryStart::Pending,
            QueryStart::Busy => HealthQueryStart::Busy,
            QueryStart::Done(status, _) => {
                self.count_set(status);
                HealthQueryStart::Answered(status)
            }
        }
    }

    fn count_set(&self, status: NDIS_STATUS) {
        if status == crate::ndis::consts::NDIS_STATUS_SUCCESS {
            self.counters.shim_settings_applied.inc();
        } else {
            self.counters.shim_health_failed.inc();
        }
    }

    /// FilterOidRequestComplete for the filter's own requests: true when `req` is one (then
    /// taken here), false for a clone of a request from above.
    pub fn own_query_complete(&self, req: *mut NDIS_OID_REQUEST, status: NDIS_STATUS) -> bool {
        if self.own_filter_set_complete(req, status) {
            return true;
        }
        let Some(h) = self.health.as_ref() else {
            return false;
        };
        if h.set.is(req) {
            let status = h.set.finish(status, &mut []).map_or_else(|s| s, |_| status);
            self.count_set(status);
            return true;
        }
        if !h.query.is(req) {
            return false;
        }
        let mut out = [0u8; 128];
        let (status, n) = match h.query.finish(status, &mut out) {
            Ok(n) => (status, n),
            Err(s) => (s, 0),
        };
        self.keep_health(status, &out[..n]);
        true
    }

    fn keep_health(&self, status: NDIS_STATUS, answer: &[u8]) {
        let Some(h) = self.health.as_ref() else {
            return;
        };
        if status != crate::ndis::consts::NDIS_STATUS_SUCCESS {
            self.counters.shim_health_failed.inc();
            return;
        }
        match HealthSnapshot::decode(answer) {
            Ok(snapshot) => {
                self.counters.shim_health_answers.inc();
                *h.last.lock() = Some(snapshot);
            }
            Err(_) => self.counters.shim_events_malformed.inc(),
        }
    }

    /// The miniport's mpshim health from the last answered query, if any.
    pub fn shim_health(&self) -> Option<HealthSnapshot> {
        *self.health.as_ref()?.last.lock()
    }
}
