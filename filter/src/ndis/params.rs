//! Borrowed views of the structures NDIS lends a callback for its duration: attach, pause and
//! restart parameters, status indications and PnP events.
//!
//! Each view carries the lifetime of the callback that received it, so safe code can read it and
//! pass it on (to `NdisFIndicateStatus`, `NdisFNetPnPEvent`…) but cannot keep it.

use super::consts::{
    NDIS_OBJECT_TYPE_DEFAULT, NDIS_STATUS_LINK_STATE, NET_EVENT_FILTER_PRE_DETACH,
};
use super::types::{
    NDIS_FILTER_ATTACH_PARAMETERS, NDIS_FILTER_PAUSE_PARAMETERS, NDIS_FILTER_RESTART_PARAMETERS,
    NDIS_LINK_STATE, NDIS_PORT_NUMBER, NDIS_STATUS, NDIS_STATUS_INDICATION, NET_DEVICE_PNP_EVENT,
    NET_IFINDEX, NET_PNP_EVENT_CODE, NET_PNP_EVENT_NOTIFICATION,
};
use core::marker::PhantomData;
use core::ptr::NonNull;

/// The module-describing fields of `NDIS_FILTER_ATTACH_PARAMETERS`.
pub struct AttachParameters<'a>(&'a NDIS_FILTER_ATTACH_PARAMETERS);

impl<'a> AttachParameters<'a> {
    /// # Safety
    /// `p` must be NULL or point to attach parameters valid for `'a` (the FilterAttach call).
    pub(crate) unsafe fn from_raw(p: *const NDIS_FILTER_ATTACH_PARAMETERS) -> Option<Self> {
        // SAFETY: NULL or valid for `'a`, by the caller's contract; NDIS does not write them
        // while the filter reads them during FilterAttach.
        unsafe { p.as_ref() }.map(Self)
    }

    /// Interface index of the filter module.
    pub fn if_index(&self) -> NET_IFINDEX {
        self.0.IfIndex
    }
    /// Interface index of the miniport at the bottom of the stack.
    pub fn base_miniport_if_index(&self) -> NET_IFINDEX {
        self.0.BaseMiniportIfIndex
    }
    /// Interface index of the module below.
    pub fn lower_if_index(&self) -> NET_IFINDEX {
        self.0.LowerIfIndex
    }
    /// The current MAC address (at most 32 bytes, as NDIS sizes the field).
    pub fn mac_address(&self) -> &'a [u8] {
        let len = usize::from(self.0.MacAddressLength).min(self.0.CurrentMacAddress.len());
        &self.0.CurrentMacAddress[..len]
    }
    /// Transmit link speed in bits/s.
    pub fn xmit_link_speed(&self) -> u64 {
        self.0.XmitLinkSpeed
    }
    /// Receive link speed in bits/s.
    pub fn rcv_link_speed(&self) -> u64 {
        self.0.RcvLinkSpeed
    }
    /// `MediaConnectState*` at attach.
    pub fn media_connect_state(&self) -> i32 {
        self.0.MediaConnectState
    }
    /// The miniport's `NdisMedium*`.
    pub fn media_type(&self) -> i32 {
        self.0.MiniportMediaType
    }
}

/// `NDIS_FILTER_PAUSE_PARAMETERS`.
pub struct PauseParameters<'a>(Option<&'a NDIS_FILTER_PAUSE_PARAMETERS>);

impl PauseParameters<'_> {
    /// # Safety
    /// `p` must be NULL or valid for `'a` (the FilterPause call).
    pub(crate) unsafe fn from_raw(p: *const NDIS_FILTER_PAUSE_PARAMETERS) -> Self {
        // SAFETY: NULL or valid for `'a`, by the caller's contract.
        Self(unsafe { p.as_ref() })
    }
    /// The `NDIS_PAUSE_*` reason bits (0 when NDIS passed no parameters).
    pub fn reason(&self) -> u32 {
        self.0.map_or(0, |p| p.PauseReason)
    }
}

/// `NDIS_FILTER_RESTART_PARAMETERS`.
pub struct RestartParameters<'a>(Option<&'a NDIS_FILTER_RESTART_PARAMETERS>);

impl RestartParameters<'_> {
    /// # Safety
    /// `p` must be NULL or valid for `'a` (the FilterRestart call).
    pub(crate) unsafe fn from_raw(p: *const NDIS_FILTER_RESTART_PARAMETERS) -> Self {
        // SAFETY: NULL or valid for `'a`, by the caller's contract.
        Self(unsafe { p.as_ref() })
    }
    /// Interface index of the module below (0 when NDIS passed no parameters).
    pub fn lower_if_index(&self) -> NET_IFINDEX {
        self.0.map_or(0, |p| p.LowerIfIndex)
    }
}

/// The payload of `NDIS_STATUS_LINK_STATE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkState {
    /// `MediaConnectState*`.
    pub media_connect_state: i32,
    /// Transmit speed in bits/s.
    pub xmit_link_speed: u64,
    /// Receive speed in bits/s.
    pub rcv_link_speed: u64,
}

/// An `NDIS_STATUS_INDICATION` lent to FilterStatus.
pub struct StatusIndication<'a> {
    ptr: NonNull<NDIS_STATUS_INDICATION>,
    _callback: PhantomData<&'a mut NDIS_STATUS_INDICATION>,
}

impl StatusIndication<'_> {
    /// # Safety
    /// `p` must be NULL or a status indication valid for the lifetime chosen (the FilterStatus
    /// call).
    pub(crate) unsafe fn from_raw(p: *mut NDIS_STATUS_INDICATION) -> Option<Self> {
        NonNull::new(p).map(|ptr| Self {
            ptr,
            _callback: PhantomData,
        })
    }

    pub(crate) fn as_raw(&self) -> *mut NDIS_STATUS_INDICATION {
        self.ptr.as_ptr()
    }

    fn get(&self) -> &NDIS_STATUS_INDICATION {
        // SAFETY: valid for the callback's duration (constructor contract); nobody writes it while
        // the callback runs.
        unsafe { self.ptr.as_ref() }
    }

    /// `StatusCode`.
    pub fn status_code(&self) -> NDIS_STATUS {
        self.get().StatusCode
    }
    /// `PortNumber`.
    pub fn port_number(&self) -> NDIS_PORT_NUMBER {
        self.get().PortNumber
    }
    /// The `NDIS_LINK_STATE` payload of an `NDIS_STATUS_LINK_STATE` indication whose buffer is
    /// large enough and whose header says so; `None` otherwise.
    pub fn link_state(&self) -> Option<LinkState> {
        let s = self.get();
        if s.StatusCode != NDIS_STATUS_LINK_STATE
            || s.StatusBuffer.is_null()
            || (s.StatusBufferSize as usize) < size_of::<NDIS_LINK_STATE>()
        {
            return None;
        }
        // SAFETY: the indicator promises `StatusBufferSize` readable bytes at `StatusBuffer`, which
        // we checked cover an NDIS_LINK_STATE; read unaligned because nothing guarantees alignment.
        let l = unsafe { s.StatusBuffer.cast::<NDIS_LINK_STATE>().read_unaligned() };
        (l.Header.Type == NDIS_OBJECT_TYPE_DEFAULT).then_some(LinkState {
            media_connect_state: l.MediaConnectState,
            xmit_link_speed: l.XmitLinkSpeed,
            rcv_link_speed: l.RcvLinkSpeed,
        })
    }
}

/// A `NET_PNP_EVENT_NOTIFICATION` lent to FilterNetPnPEvent.
pub struct NetPnpEvent<'a> {
    ptr: NonNull<NET_PNP_EVENT_NOTIFICATION>,
    _callback: PhantomData<&'a mut NET_PNP_EVENT_NOTIFICATION>,
}

impl NetPnpEvent<'_> {
    /// # Safety
    /// `p` must be NULL or valid for the lifetime chosen (the FilterNetPnPEvent call).
    pub(crate) unsafe fn from_raw(p: *mut NET_PNP_EVENT_NOTIFICATION) -> Option<Self> {
        NonNull::new(p).map(|ptr| Self {
            ptr,
            _callback: PhantomData,
        })
    }

    pub(crate) fn as_raw(&self) -> *mut NET_PNP_EVENT_NOTIFICATION {
        self.ptr.as_ptr()
    }

    /// The `NetEvent*` code.
    pub fn code(&self) -> NET_PNP_EVENT_CODE {
        // SAFETY: valid for the callback's duration (constructor contract).
        unsafe { self.ptr.as_ref() }.NetPnPEvent.NetEvent
    }

    /// `NetEventFilterPreDetach`: the last point for OIDs and status indications before detach.
    pub fn is_filter_pre_detach(&self) -> bool {
        self.code() == NET_EVENT_FILTER_PRE_DETACH
    }
}

/// A `NET_DEVICE_PNP_EVENT` lent to FilterDevicePnPEventNotify; opaque to the filter.
pub struct DevicePnpEvent<'a> {
    ptr: NonNull<NET_DEVICE_PNP_EVENT>,
    _callback: PhantomData<&'a mut NET_DEVICE_PNP_EVENT>,
}

impl DevicePnpEvent<'_> {
    /// # Safety
    /// `p` must be NULL or valid for the lifetime chosen (the FilterDevicePnPEventNotify call).
    pub(crate) unsafe fn from_raw(p: *mut NET_DEVICE_PNP_EVENT) -> Option<Self> {
        NonNull::new(p).map(|ptr| Self {
            ptr,
            _callback: PhantomData,
        })
    }

    pub(crate) fn as_raw(&self) -> *mut NET_DEVICE_PNP_EVENT {
        self.ptr.as_ptr()
    }
}
