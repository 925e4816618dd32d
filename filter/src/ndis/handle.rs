//! [`FilterHandle`]: the NdisFilterHandle of one module, with a safe method per NDIS call the
//! filter makes on it.
//!
//! Methods that hand NBLs to NDIS take the [`NblChain`] by value, so the type system enforces the
//! ownership rule "don't touch an NBL after giving it away". Empty chains are never passed to
//! NDIS (a NULL chain is not a valid argument of any of these calls).

use super::consts::{
    NDIS_OBJECT_TYPE_STATUS_INDICATION, NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
    NDIS_STATUS_INDICATION_REVISION_1, NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG,
};
use super::flags::{ReceiveFlags, ReturnFlags, SendCompleteFlags, SendFlags};
use super::imports;
use super::nbl::{CancelId, NblChain};
use super::offload::{NarrowedOffload, OffloadLimits};
use super::params::{DevicePnpEvent, NetPnpEvent, StatusIndication};
use super::types::{
    NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_PORT_NUMBER, NDIS_STATUS, NDIS_STATUS_INDICATION,
};
use core::ffi::c_void;
use core::ptr::NonNull;

/// The NdisFilterHandle NDIS gave a module in FilterAttach. Valid from FilterAttach until
/// FilterDetach returns; the module context that stores it lives exactly that long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterHandle(NonNull<c_void>);

// SAFETY: an NDIS handle is an opaque token that NDIS accepts on any processor; the filter never
// dereferences it.
unsafe impl Send for FilterHandle {}
// SAFETY: as above; every method only passes the token to NDIS, which serialises internally.
unsafe impl Sync for FilterHandle {}

impl FilterHandle {
    /// Wraps the NdisFilterHandle of a FilterAttach call; `None` for NULL.
    ///
    /// # Safety
    /// `handle` must be the NdisFilterHandle NDIS passed to FilterAttach, and the wrapper (and its
    /// copies) must not be used after the module's FilterDetach returns.
    pub unsafe fn from_raw(handle: NDIS_HANDLE) -> Option<Self> {
        NonNull::new(handle).map(Self)
    }

    /// The raw handle (for comparisons with `SourceHandle` and for NDIS calls).
    pub fn as_raw(self) -> NDIS_HANDLE {
        self.0.as_ptr()
    }

    /// `NdisFSendNetBufferLists`: passes `chain` down. The NBLs come back through
    /// FilterSendNetBufferListsComplete.
    pub fn send(self, chain: NblChain, port: NDIS_PORT_NUMBER, flags: SendFlags) {
        if chain.is_empty() {
            return;
        }
        // SAFETY: the handle is live (type invariant) and the chain is owned and non-empty;
        // ownership passes to NDIS, the chain value is consumed.
        unsafe {
            imports::NdisFSendNetBufferLists(self.as_raw(), chain.into_raw(), port, flags.bits());
        }
    }

    /// `NdisFSendNetBufferListsComplete`: gives NBLs that came down through FilterSend back to
    /// their originator. Set each NBL's status first.
    pub fn send_complete(self, chain: NblChain, flags: SendCompleteFlags) {
        if chain.is_empty() {
            return;
        }
        // SAFETY: as for `send`.
        unsafe {
            imports::NdisFSendNetBufferListsComplete(self.as_raw(), chain.into_raw(), flags.bits());
        }
    }

    /// `NdisFIndicateReceiveNetBufferLists` with `NumberOfNetBufferLists` = the chain's length.
    ///
    /// With `NDIS_RECEIVE_FLAGS_RESOURCES` the NBLs are the filter's again when the call returns,
    /// and are given back as `Some(chain)`; otherwise they come back through
    /// FilterReturnNetBufferLists and the result is `None`.
    pub fn indicate_receive(
        self,
        chain: NblChain,
        port: NDIS_PORT_NUMBER,
        flags: ReceiveFlags,
    ) -> Option<NblChain> {
        if chain.is_empty() {
            return flags.has_resources().then_some(chain);
        }
        let count = u32::try_from(chain.len()).unwrap_or(u32::MAX);
        let head = chain.into_raw();
        // SAFETY: the handle is live, the chain owned, non-empty and exactly `count` long.
        unsafe {
            imports::NdisFIndicateReceiveNetBufferLists(
                self.as_raw(),
                head,
                port,
                count,
                flags.bits(),
            );
        }
        if flags.has_resources() {
            // SAFETY: with RESOURCES the receivers must restore the chain before returning and
            // never keep or return its NBLs, so it is ours again, starting at the same head.
            Some(unsafe { NblChain::from_raw(head) })
        } else {
            None
        }
    }

    /// `NdisFReturnNetBufferLists`: gives received NBLs back to the driver below.
    pub fn return_nbls(self, chain: NblChain, flags: ReturnFlags) {
        if chain.is_empty() {
            return;
        }
        // SAFETY: as for `send`.
        unsafe { imports::NdisFReturnNetBufferLists(self.as_raw(), chain.into_raw(), flags.bits()) }
    }

    /// `NdisFCancelSendNetBufferLists`: asks the drivers below to cancel sends with this id.
    pub fn cancel_send(self, id: CancelId) {
        // SAFETY: the handle is live; the id is an opaque value NDIS only compares.
        unsafe { imports::NdisFCancelSendNetBufferLists(self.as_raw(), id.as_raw()) }
    }

    /// `NdisFIndicateStatus`: passes a status indication up.
    pub fn indicate_status(self, indication: &StatusIndication<'_>) {
        // SAFETY: the handle is live; the indication is valid for the duration of the call (it
        // is borrowed from the FilterStatus callback that is running).
        unsafe { imports::NdisFIndicateStatus(self.as_raw(), indication.as_raw()) }
    }

    /// Passes up, instead of `indication` (an `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG`), a copy
    /// narrowed to `limits` ([`NarrowedOffload::of`]), originated by this module (`SourceHandle`
    /// = its handle); returns the limits the copy carries. `None`, and nothing indicated, when
    /// the buffer is no readable offload configuration, is larger than
    /// [`super::offload::MAX_OFFLOAD_COPY`], or narrowing changes nothing: the caller then
    /// forwards the indication as it is.
    pub fn indicate_offload_narrowed(
        self,
        indication: &StatusIndication<'_>,
        limits: OffloadLimits,
    ) -> Option<OffloadLimits> {
        let mut copy = NarrowedOffload::of(indication.buffer(), limits)?;
        // SAFETY: a plain copy of the indication the FilterStatus call lends.
        let mut own = unsafe { indication.as_raw().read() };
        own.SourceHandle = self.as_raw();
        own.StatusBuffer = copy.bytes.as_mut_ptr().cast();
        // SAFETY: the handle is live; `own` and its buffer (`StatusBufferSize` bytes, the
        // original's size, copied) live on this stack for the duration of the call.
        unsafe { imports::NdisFIndicateStatus(self.as_raw(), &raw mut own) };
        Some(copy.limits)
    }

    /// Indicates `offload` up this module's stack as its own NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG
    /// (port 0, `SourceHandle` = this module): how the drivers above learn of a narrowing that
    /// no indication from below carried (another member joined).
    pub fn indicate_offload(self, offload: &mut NarrowedOffload) {
        // SAFETY: integers and raw pointers only, for which all zeroes is valid.
        let mut ind = unsafe { core::mem::zeroed::<NDIS_STATUS_INDICATION>() };
        ind.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_STATUS_INDICATION,
            NDIS_STATUS_INDICATION_REVISION_1,
            NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
        );
        ind.SourceHandle = self.as_raw();
        ind.StatusCode = NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG;
        ind.StatusBuffer = offload.bytes.as_mut_ptr().cast();
        ind.StatusBufferSize = u32::try_from(offload.len).unwrap_or(0);
        // SAFETY: the handle is live; the indication and its buffer (`len` bytes) live for the
        // call.
        unsafe { imports::NdisFIndicateStatus(self.as_raw(), &raw mut ind) };
    }

    /// `NdisFNetPnPEvent`: forwards a network PnP event down; returns the status of the drivers
    /// below.
    pub fn net_pnp_event(self, event: &NetPnpEvent<'_>) -> NDIS_STATUS {
        // SAFETY: the handle is live; the notification is valid during the FilterNetPnPEvent
        // callback that lent it.
        unsafe { imports::NdisFNetPnPEvent(self.as_raw(), event.as_raw()) }
    }

    /// `NdisFDevicePnPEventNotify`: forwards a device PnP event down.
    pub fn device_pnp_event_notify(self, event: &DevicePnpEvent<'_>) {
        // SAFETY: the handle is live; the event is valid during the callback that lent it.
        unsafe { imports::NdisFDevicePnPEventNotify(self.as_raw(), event.as_raw()) }
    }

    /// `NdisFPauseComplete`: completes a pause for which FilterPause returned PENDING.
    pub fn pause_complete(self) {
        // SAFETY: the handle is live.
        unsafe { imports::NdisFPauseComplete(self.as_raw()) }
    }

    /// `NdisFRestartComplete`: completes a restart for which FilterRestart returned PENDING
    /// (PASSIVE_LEVEL).
    pub fn restart_complete(self, status: NDIS_STATUS) {
        // SAFETY: the handle is live.
        unsafe { imports::NdisFRestartComplete(self.as_raw(), status) }
    }

    /// `NdisFRestartFilter`: asks NDIS to pause and restart this module.
    pub fn restart_filter(self) -> NDIS_STATUS {
        // SAFETY: the handle is live.
        unsafe { imports::NdisFRestartFilter(self.as_raw()) }
    }
}
