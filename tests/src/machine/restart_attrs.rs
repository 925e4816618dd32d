//! The restart attributes NDIS passes to FilterRestart: the adapter's MTU, link speed and the
//! context backfill its drivers want (checked at the miniport edge, `limits::at_miniport_edge`).

use crate::config::AdapterConfig;
use mpfilter::ndis::consts::{
    NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES, NDIS_RESTART_GENERAL_ATTRIBUTES_REVISION_2,
    NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_2, OID_GEN_MINIPORT_RESTART_ATTRIBUTES,
};
use mpfilter::ndis::types::{
    NDIS_OBJECT_HEADER, NDIS_RESTART_ATTRIBUTES, NDIS_RESTART_GENERAL_ATTRIBUTES,
};

/// One restart attributes list with its general entry, laid out as NDIS lays it out (the data
/// 16-byte aligned after the entry header). Lives for the FilterRestart call.
#[repr(C, align(16))]
pub(crate) struct GeneralList {
    head: NDIS_RESTART_ATTRIBUTES,
    data: NDIS_RESTART_GENERAL_ATTRIBUTES,
}

impl GeneralList {
    /// The list for `NDIS_FILTER_RESTART_PARAMETERS.RestartAttributes`.
    pub(crate) fn as_list(&mut self) -> *mut core::ffi::c_void {
        (&raw mut *self).cast()
    }

    /// `MtuSize` now (a filter may have lowered it on the way up).
    pub(crate) fn mtu(&self) -> u32 {
        self.data.MtuSize
    }
}

/// The restart attributes of `cfg`'s adapter.
pub(crate) fn general(cfg: &AdapterConfig) -> GeneralList {
    // SAFETY: integers and raw pointers only, for which all zeroes is valid.
    let mut data = unsafe { core::mem::zeroed::<NDIS_RESTART_GENERAL_ATTRIBUTES>() };
    data.Header = NDIS_OBJECT_HEADER::new(
        NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES,
        NDIS_RESTART_GENERAL_ATTRIBUTES_REVISION_2,
        NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_2,
    );
    data.MtuSize = cfg.mtu;
    data.MaxXmitLinkSpeed = cfg.link_speed_bps;
    data.MaxRcvLinkSpeed = cfg.link_speed_bps;
    data.ContextBackFillSize = u32::from(cfg.context_backfill);
    GeneralList {
        head: NDIS_RESTART_ATTRIBUTES {
            Next: core::ptr::null_mut(),
            Oid: OID_GEN_MINIPORT_RESTART_ATTRIBUTES,
            DataLength: u32::from(NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_2),
        },
        data,
    }
}
