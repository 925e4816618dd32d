//! Borrowed views of the structures NDIS lends a callback for its duration: attach, pause and
//! restart parameters, status indications and PnP events.
//!
//! Each view carries the lifetime of the callback that received it, so safe code can read it and
//! pass it on (to `NdisFIndicateStatus`, `NdisFNetPnPEvent`…) but cannot keep it.

use super::consts::{
    MEDIA_CONNECT_STATE_CONNECTED, MEDIA_CONNECT_STATE_DISCONNECTED, NDIS_OBJECT_TYPE_DEFAULT,
    NDIS_SIZEOF_LINK_STATE_REVISION_1, NDIS_STATUS_LINK_STATE, NET_EVENT_FILTER_PRE_DETACH,
};
use super::consts::{NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1, NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG};
use super::offload::{NarrowedOffload, OffloadLimits};
use super::restart_types::{
    NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES, NDIS_RESTART_ATTRIBUTES,
    NDIS_RESTART_GENERAL_ATTRIBUTES, NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_1,
    OID_GEN_MINIPORT_RESTART_ATTRIBUTES, RESTART_ATTRIBUTES_DATA_OFFSET,
};
use super::types::{
    NDIS_FILTER_ATTACH_PARAMETERS, NDIS_FILTER_RESTART_PARAMETERS, NDIS_LINK_STATE, NDIS_STATUS,
    NDIS_STATUS_INDICATION, NET_DEVICE_PNP_EVENT, NET_IFINDEX, NET_PNP_EVENT_CODE,
    NET_PNP_EVENT_NOTIFICATION,
};
use super::types::{NDIS_OBJECT_HEADER, NDIS_OFFLOAD};
use core::marker::PhantomData;
use core::mem::{MaybeUninit, offset_of};
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
    /// The current MAC address (at most 32 bytes, as NDIS sizes the field).
    pub fn mac_address(&self) -> &'a [u8] {
        let len = usize::from(self.0.MacAddressLength).min(self.0.CurrentMacAddress.len());
        &self.0.CurrentMacAddress[..len]
    }
    /// Transmit link speed in bits/s.
    pub fn xmit_link_speed(&self) -> u64 {
        self.0.XmitLinkSpeed
    }
    /// Receive link speed in bits/s (the unit tests'; the filter keeps the transmit speed).
    #[cfg(test)]
    pub fn rcv_link_speed(&self) -> u64 {
        self.0.RcvLinkSpeed
    }
    /// `MediaConnectState*` at attach.
    pub fn media_connect_state(&self) -> i32 {
        self.0.MediaConnectState
    }
    /// Narrows `DefaultOffloadConfiguration` to `limits` — what the drivers above this module
    /// will see at bind — as [`NarrowedOffload::of`] does (lowered, or turned off where a limit is
    /// 0; never widened; nothing else changed). Returns the limits the drivers above will see;
    /// `None` for a NULL or unreadable configuration. NDIS asks filters to "modify these
    /// attributes, if necessary".
    pub fn narrow_offload(&self, limits: OffloadLimits) -> Option<OffloadLimits> {
        let bytes = self.offload_bytes()?;
        let current = OffloadLimits::from_bytes(bytes)?;
        let Some(narrowed) = NarrowedOffload::of(bytes, limits) else {
            return Some(current);
        };
        let dst = self.0.DefaultOffloadConfiguration.cast::<u8>();
        // SAFETY: the `narrowed.len` bytes `offload_bytes` lent (no longer used), in memory NDIS
        // lends FilterAttach for the filter to adjust; the pointer is NDIS's own.
        unsafe { core::ptr::copy_nonoverlapping(narrowed.bytes.as_ptr(), dst, narrowed.len) };
        Some(narrowed.limits)
    }

    /// The bytes of `DefaultOffloadConfiguration` (as many as its header's `Size`, at most the
    /// revision-3 size); `None` when NULL or shorter than revision 1.
    pub fn offload_bytes(&self) -> Option<&'a [u8]> {
        let p = self.0.DefaultOffloadConfiguration.cast::<u8>();
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-NULL DefaultOffloadConfiguration points to an NDIS_OFFLOAD that NDIS
        // lends for the FilterAttach call ('a), which starts with its object header.
        let header = unsafe { p.cast::<NDIS_OBJECT_HEADER>().read_unaligned() };
        if header.Size < NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1 {
            return None;
        }
        let len = usize::from(header.Size).min(size_of::<NDIS_OFFLOAD>());
        // SAFETY: the structure holds `Size` bytes (its header says so), of which `len` are read,
        // for the FilterAttach call.
        Some(unsafe { core::slice::from_raw_parts(p, len) })
    }

    /// The large-send limits of `DefaultOffloadConfiguration`; `None` when NULL or not an
    /// `NDIS_OFFLOAD` of revision 1 or later.
    pub fn offload_limits(&self) -> Option<OffloadLimits> {
        OffloadLimits::from_bytes(self.offload_bytes()?)
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
    /// Lowers the general restart attributes' `MtuSize` to `mtu` (never raises it) — what the
    /// drivers above see; NDIS lets a filter change any member of them. Nothing happens without a
    /// general entry or for `mtu` 0.
    pub fn narrow_mtu(&self, mtu: u32) {
        let Some(entry) = self.general_entry() else {
            return;
        };
        if mtu == 0 {
            return;
        }
        let at =
            RESTART_ATTRIBUTES_DATA_OFFSET + offset_of!(NDIS_RESTART_GENERAL_ATTRIBUTES, MtuSize);
        let field = entry.cast::<u8>().wrapping_add(at);
        let mut bytes = [0u8; 4];
        // SAFETY: the general entry holds at least a revision-1 NDIS_RESTART_GENERAL_ATTRIBUTES
        // (`general_entry` checked DataLength and the header), of which MtuSize is a field.
        unsafe { core::ptr::copy_nonoverlapping(field, bytes.as_mut_ptr(), 4) };
        let narrowed = u32::from_ne_bytes(bytes).min(mtu).to_ne_bytes();
        // SAFETY: the same 4 bytes, in memory NDIS lends FilterRestart for the filter to adjust.
        unsafe { core::ptr::copy_nonoverlapping(narrowed.as_ptr(), field, 4) };
    }

    /// The general restart attributes of the stack below (the
    /// `OID_GEN_MINIPORT_RESTART_ATTRIBUTES` entry of the list); `None` when NDIS passed no list,
    /// the list has no such entry within its first [`MAX_RESTART_ENTRIES`], or the entry is too
    /// short or not of the general attributes' type.
    pub fn general(&self) -> Option<GeneralAttributes> {
        // SAFETY: an entry `general_entry` found: live, with its data (the list's contract).
        unsafe { general_from(self.general_entry()?) }
    }

    /// The `OID_GEN_MINIPORT_RESTART_ATTRIBUTES` entry whose data is readable general
    /// attributes (see [`RestartParameters::general`]).
    fn general_entry(&self) -> Option<*mut NDIS_RESTART_ATTRIBUTES> {
        let mut entry = self.0?.RestartAttributes.cast::<NDIS_RESTART_ATTRIBUTES>();
        for _ in 0..MAX_RESTART_ENTRIES {
            if entry.is_null() {
                return None;
            }
            // SAFETY: a non-NULL entry of the list NDIS lends for the FilterRestart call ('a);
            // a copy of its three header fields keeps the pointer's provenance over the data.
            let head = unsafe { entry.read() };
            let (oid, next) = (head.Oid, head.Next);
            if oid == OID_GEN_MINIPORT_RESTART_ATTRIBUTES {
                // SAFETY: as above.
                return unsafe { general_from(entry) }.map(|_| entry);
            }
            entry = next;
        }
        None
    }
}

/// Entries of a restart attributes list the filter walks at most (a corrupt, cyclic list ends
/// the walk instead of hanging FilterRestart).
pub const MAX_RESTART_ENTRIES: usize = 64;

/// What the filter reads of `NDIS_RESTART_GENERAL_ATTRIBUTES`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GeneralAttributes {
    /// MTU, bytes.
    pub mtu: u32,
    /// Data backfill the drivers below want in front of a send's data.
    pub data_backfill: u32,
    /// NBL context backfill the drivers below want.
    pub context_backfill: u32,
    /// Transmit link speed, bits/s.
    pub max_xmit_bps: u64,
}

/// # Safety
/// `e` points to a live restart attributes entry followed by its `DataLength` bytes of data.
unsafe fn general_from(e: *const NDIS_RESTART_ATTRIBUTES) -> Option<GeneralAttributes> {
    let need = usize::from(NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_1);
    // SAFETY: a live entry (the caller's contract).
    let data_len = unsafe { (*e).DataLength } as usize;
    if data_len < need {
        return None;
    }
    let data = e.cast::<u8>().wrapping_add(RESTART_ATTRIBUTES_DATA_OFFSET);
    let mut g = MaybeUninit::<NDIS_RESTART_GENERAL_ATTRIBUTES>::zeroed();
    let len = data_len.min(size_of::<NDIS_RESTART_GENERAL_ATTRIBUTES>());
    // SAFETY: the entry holds `DataLength` bytes of data at RESTART_ATTRIBUTES_DATA_OFFSET (the
    // list's contract); `len` is no more than that nor than the destination; the bytes are
    // plain integers and pointers the filter never dereferences, so any value is valid.
    unsafe { core::ptr::copy_nonoverlapping(data, g.as_mut_ptr().cast::<u8>(), len) };
    // SAFETY: zeroed, then partly overwritten with bytes: integers and pointers, all initialised.
    let g = unsafe { g.assume_init() };
    if g.Header.Type != NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES
        || usize::from(g.Header.Size) < need
    {
        return None;
    }
    Some(GeneralAttributes {
        mtu: g.MtuSize,
        data_backfill: g.DataBackFillSize,
        context_backfill: g.ContextBackFillSize,
        max_xmit_bps: g.MaxXmitLinkSpeed,
    })
}

/// What an `NDIS_STATUS_LINK_STATE` indication says about the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkState {
    /// `MediaConnectStateConnected` → `Some(true)`, `MediaConnectStateDisconnected` →
    /// `Some(false)`; `None` when the miniport does not know (`MediaConnectStateUnknown`, or a
    /// value this filter does not know).
    pub connected: Option<bool>,
    /// Transmit speed in bits/s (`NDIS_LINK_SPEED_UNKNOWN` = `u64::MAX` when unknown).
    pub xmit_bps: u64,
    /// Receive speed in bits/s (as `xmit_bps`).
    pub rcv_bps: u64,
}

impl LinkState {
    /// The connect state a `MediaConnectState*` value stands for.
    pub const fn connected_from(media_connect_state: i32) -> Option<bool> {
        match media_connect_state {
            MEDIA_CONNECT_STATE_CONNECTED => Some(true),
            MEDIA_CONNECT_STATE_DISCONNECTED => Some(false),
            _ => None,
        }
    }
}

// `link_state` reads a whole `NDIS_LINK_STATE` from a buffer of at least the revision-1 size.
const _: () = assert!(size_of::<NDIS_LINK_STATE>() == NDIS_SIZEOF_LINK_STATE_REVISION_1 as usize);

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

    /// The status buffer (`StatusBufferSize` bytes at `StatusBuffer`); empty when NULL.
    pub fn buffer(&self) -> &[u8] {
        let s = self.get();
        if s.StatusBuffer.is_null() || s.StatusBufferSize == 0 {
            return &[];
        }
        // SAFETY: the indicator promises `StatusBufferSize` readable bytes at `StatusBuffer` for
        // the duration of the FilterStatus call, which bounds this borrow.
        unsafe {
            core::slice::from_raw_parts(s.StatusBuffer.cast::<u8>(), s.StatusBufferSize as usize)
        }
    }
    /// The large-send limits of an `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` indication; `None`
    /// for any other indication or a buffer that is no revision-1 `NDIS_OFFLOAD`.
    pub fn offload_limits(&self) -> Option<OffloadLimits> {
        if self.get().StatusCode != NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG {
            return None;
        }
        OffloadLimits::from_bytes(self.buffer())
    }

    /// The link state of an `NDIS_STATUS_LINK_STATE` indication whose buffer holds at least
    /// `NDIS_SIZEOF_LINK_STATE_REVISION_1` bytes and whose header has the DEFAULT type; `None` for
    /// any other indication, a NULL or short buffer, or another header.
    pub fn link_state(&self) -> Option<LinkState> {
        let s = self.get();
        if s.StatusCode != NDIS_STATUS_LINK_STATE
            || s.StatusBuffer.is_null()
            || s.StatusBufferSize < u32::from(NDIS_SIZEOF_LINK_STATE_REVISION_1)
        {
            return None;
        }
        // SAFETY: the indicator promises `StatusBufferSize` readable bytes at `StatusBuffer`, which
        // we checked cover the revision-1 structure (its size is `size_of::<NDIS_LINK_STATE>()`,
        // checked in `types`); read unaligned because nothing guarantees alignment.
        let l = unsafe { s.StatusBuffer.cast::<NDIS_LINK_STATE>().read_unaligned() };
        (l.Header.Type == NDIS_OBJECT_TYPE_DEFAULT).then_some(LinkState {
            connected: LinkState::connected_from(l.MediaConnectState),
            xmit_bps: l.XmitLinkSpeed,
            rcv_bps: l.RcvLinkSpeed,
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

#[cfg(test)]
mod tests {
    //! Run under Miri with the rest of `ndis::`: the indications and their buffers are heap or
    //! stack objects of the test.
    use super::*;
    use crate::ndis::consts::{MEDIA_CONNECT_STATE_UNKNOWN, NDIS_LINK_STATE_REVISION_1};
    use crate::ndis::types::NDIS_OBJECT_HEADER;
    use core::ptr;

    /// A restart attributes entry with general attributes, 16-byte aligned as NDIS lays it out.
    #[repr(C, align(16))]
    struct GeneralEntry {
        head: NDIS_RESTART_ATTRIBUTES,
        data: NDIS_RESTART_GENERAL_ATTRIBUTES,
    }

    fn general_entry(size: u16, ty: u8) -> GeneralEntry {
        // SAFETY: integers and raw pointers only, for which all zeroes is valid.
        let mut data = unsafe { core::mem::zeroed::<NDIS_RESTART_GENERAL_ATTRIBUTES>() };
        data.Header = NDIS_OBJECT_HEADER::new(ty, 2, size);
        data.MtuSize = 9000;
        data.DataBackFillSize = 48;
        data.ContextBackFillSize = 64;
        data.MaxXmitLinkSpeed = 25_000_000_000;
        GeneralEntry {
            head: NDIS_RESTART_ATTRIBUTES {
                Next: ptr::null_mut(),
                Oid: OID_GEN_MINIPORT_RESTART_ATTRIBUTES,
                DataLength: u32::from(size),
            },
            data,
        }
    }

    fn restart_with(list: *mut NDIS_RESTART_ATTRIBUTES) -> NDIS_FILTER_RESTART_PARAMETERS {
        // SAFETY: integers and raw pointers only, for which all zeroes is valid.
        let mut p = unsafe { core::mem::zeroed::<NDIS_FILTER_RESTART_PARAMETERS>() };
        p.RestartAttributes = list.cast();
        p
    }

    #[test]
    fn restart_attributes_give_the_backfill_and_mtu_of_the_stack_below() {
        assert_eq!(
            offset_of!(GeneralEntry, data),
            RESTART_ATTRIBUTES_DATA_OFFSET
        );
        let mut media = general_entry(0x58, NDIS_OBJECT_TYPE_DEFAULT);
        media.head.Oid = 0x0101_0209; // a media-specific entry first
        let mut general = general_entry(0x58, NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES);
        media.head.Next = (&raw mut general).cast();
        let mut p = restart_with((&raw mut media).cast());
        // SAFETY: live parameters and list for the view's lifetime.
        let g = unsafe { RestartParameters::from_raw(&raw mut p) }.general();
        assert_eq!(
            g,
            Some(GeneralAttributes {
                mtu: 9000,
                data_backfill: 48,
                context_backfill: 64,
                max_xmit_bps: 25_000_000_000,
            })
        );
    }

    #[test]
    fn a_missing_short_or_mistyped_general_entry_gives_nothing() {
        // SAFETY: NULL parameters are allowed.
        let none = unsafe { RestartParameters::from_raw(ptr::null()) }.general();
        assert_eq!(none, None);
        let mut p = restart_with(ptr::null_mut());
        // SAFETY: live parameters.
        let empty = unsafe { RestartParameters::from_raw(&raw mut p) }.general();
        assert_eq!(empty, None);
        for (size, ty) in [
            (0x50, NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES),
            (0x58, NDIS_OBJECT_TYPE_DEFAULT),
        ] {
            let mut e = general_entry(size, ty);
            let mut p = restart_with((&raw mut e).cast());
            // SAFETY: live parameters and list.
            let g = unsafe { RestartParameters::from_raw(&raw mut p) }.general();
            assert_eq!(g, None, "size {size:#x} type {ty:#x}");
        }
        // Revision 1 (0x54 bytes) is enough.
        let mut e = general_entry(0x54, NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES);
        let mut p = restart_with((&raw mut e).cast());
        // SAFETY: live parameters and list.
        let g = unsafe { RestartParameters::from_raw(&raw mut p) }.general();
        assert_eq!(g.map(|g| g.context_backfill), Some(64));
    }

    #[test]
    fn narrowing_the_attach_offload_configuration_writes_it_in_place() {
        use crate::ndis::consts::NDIS_OBJECT_TYPE_OFFLOAD;
        use crate::ndis::types::{NDIS_FILTER_ATTACH_PARAMETERS, NDIS_OFFLOAD};
        let mut o = NDIS_OFFLOAD {
            Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_OFFLOAD, 3, 0x9C),
            ..NDIS_OFFLOAD::default()
        };
        o.LsoV2IPv4.Encapsulation = 2;
        o.LsoV2IPv4.MaxOffLoadSize = 64_000;
        // SAFETY: integers and raw pointers only, for which all zeroes is valid.
        let mut p = unsafe { core::mem::zeroed::<NDIS_FILTER_ATTACH_PARAMETERS>() };
        p.DefaultOffloadConfiguration = (&raw mut o).cast();
        // SAFETY: live parameters and configuration for the view's lifetime.
        let view = unsafe { AttachParameters::from_raw(&raw const p) }.expect("non-NULL");
        let limits = OffloadLimits {
            lso_v4_max: 16_000,
            lso_v6_max: 0,
        };
        assert_eq!(view.narrow_offload(limits), Some(limits));
        assert_eq!(view.offload_limits(), Some(limits));
        assert_eq!(
            (o.LsoV2IPv4.Encapsulation, o.LsoV2IPv4.MaxOffLoadSize),
            (2, 16_000)
        );
    }

    #[test]
    fn narrowing_the_mtu_lowers_it_and_never_raises_it() {
        let mut e = general_entry(0x58, NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES);
        let mut p = restart_with((&raw mut e).cast());
        // SAFETY: live parameters and list for the view's lifetime.
        let view = unsafe { RestartParameters::from_raw(&raw mut p) };
        view.narrow_mtu(1500);
        assert_eq!(view.general().map(|g| g.mtu), Some(1500));
        view.narrow_mtu(4000);
        view.narrow_mtu(0);
        assert_eq!(view.general().map(|g| g.mtu), Some(1500));
    }

    #[test]
    fn a_cyclic_restart_list_ends_the_walk() {
        let mut a = general_entry(0x58, NDIS_OBJECT_TYPE_DEFAULT);
        a.head.Oid = 1;
        let pa = &raw mut a;
        // SAFETY: `pa` points to `a`, live; written through the pointer the list keeps.
        unsafe { (*pa).head.Next = pa.cast() };
        let mut p = restart_with(pa.cast());
        // SAFETY: live parameters and list.
        let g = unsafe { RestartParameters::from_raw(&raw mut p) }.general();
        assert_eq!(g, None);
    }

    fn link(state: i32) -> NDIS_LINK_STATE {
        NDIS_LINK_STATE {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_LINK_STATE_REVISION_1,
                NDIS_SIZEOF_LINK_STATE_REVISION_1,
            ),
            MediaConnectState: state,
            MediaDuplexState: 2,
            XmitLinkSpeed: 10_000_000_000,
            RcvLinkSpeed: 1_000_000_000,
            PauseFunctions: 0,
            AutoNegotiationFlags: 0,
        }
    }

    /// A zeroed indication with this code, buffer and size.
    fn indication(
        code: NDIS_STATUS,
        buffer: *mut NDIS_LINK_STATE,
        size: u32,
    ) -> NDIS_STATUS_INDICATION {
        // SAFETY: integers and raw pointers only, for which all zeroes is valid.
        let mut ind = unsafe { core::mem::zeroed::<NDIS_STATUS_INDICATION>() };
        ind.StatusCode = code;
        ind.StatusBuffer = buffer.cast();
        ind.StatusBufferSize = size;
        ind
    }

    fn parse(ind: &mut NDIS_STATUS_INDICATION) -> Option<LinkState> {
        // SAFETY: a live indication for the duration of the view.
        unsafe { StatusIndication::from_raw(ind) }
            .unwrap()
            .link_state()
    }

    const FULL: u32 = NDIS_SIZEOF_LINK_STATE_REVISION_1 as u32;

    #[test]
    fn connect_states_map_to_connected_and_speeds_are_kept() {
        for (state, connected) in [
            (MEDIA_CONNECT_STATE_CONNECTED, Some(true)),
            (MEDIA_CONNECT_STATE_DISCONNECTED, Some(false)),
            (MEDIA_CONNECT_STATE_UNKNOWN, None),
            (7, None),
        ] {
            let mut l = link(state);
            let mut ind = indication(NDIS_STATUS_LINK_STATE, &raw mut l, FULL);
            assert_eq!(
                parse(&mut ind),
                Some(LinkState {
                    connected,
                    xmit_bps: 10_000_000_000,
                    rcv_bps: 1_000_000_000,
                }),
                "state {state}"
            );
        }
    }

    #[test]
    fn a_buffer_larger_than_revision_1_is_read() {
        // A later revision may append fields; the first 0x28 bytes keep their meaning.
        let mut bytes = [0u8; 0x40];
        let l = link(MEDIA_CONNECT_STATE_CONNECTED);
        // SAFETY: 0x28 bytes into a 0x40-byte buffer, unaligned write.
        unsafe {
            bytes
                .as_mut_ptr()
                .cast::<NDIS_LINK_STATE>()
                .write_unaligned(l);
        };
        let mut ind = indication(NDIS_STATUS_LINK_STATE, bytes.as_mut_ptr().cast(), 0x40);
        assert_eq!(parse(&mut ind).and_then(|s| s.connected), Some(true));
    }

    #[test]
    fn short_null_or_foreign_buffers_and_other_codes_give_none() {
        let mut l = link(MEDIA_CONNECT_STATE_CONNECTED);
        let mut short = indication(NDIS_STATUS_LINK_STATE, &raw mut l, FULL - 1);
        assert_eq!(parse(&mut short), None, "a short buffer is not read");
        let mut empty = indication(NDIS_STATUS_LINK_STATE, &raw mut l, 0);
        assert_eq!(parse(&mut empty), None);
        let mut null = indication(NDIS_STATUS_LINK_STATE, ptr::null_mut(), FULL);
        assert_eq!(parse(&mut null), None, "a NULL buffer is not read");
        let mut other = indication(
            crate::ndis::consts::NDIS_STATUS_MEDIA_DISCONNECTED,
            &raw mut l,
            FULL,
        );
        assert_eq!(parse(&mut other), None, "only NDIS_STATUS_LINK_STATE");
        l.Header.Type = 0;
        let mut foreign = indication(NDIS_STATUS_LINK_STATE, &raw mut l, FULL);
        assert_eq!(parse(&mut foreign), None, "not an NDIS_LINK_STATE header");
    }
}
