//! What the stack below the filter asks of the NBLs it is sent: the restart attributes NDIS
//! passes to FilterRestart (MTU, link speed, data and context backfill of the adapter), and the
//! miniport's check that the filter left the context backfill its drivers wanted.

use crate::config::AdapterConfig;
use crate::nblmem;
use crate::world::World;
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

/// The miniport of adapter `a` takes `nbls` from the filter (sent with `flags`): NDIS loops back
/// what the send asked it to ([`super::loopback::ndis_loopback`]), and the miniport counts the
/// NBLs whose top context area has less unused space than the backfill its drivers asked for.
pub(crate) fn at_miniport_edge(w: &mut World, a: usize, nbls: &[usize], flags: u32) {
    super::loopback::ndis_loopback(w, a, nbls, flags);
    super::limits::check(w, a, nbls);
    let want = w.adapters[a].cfg.context_backfill;
    if want == 0 {
        return;
    }
    w.adapters[a].stats.tx_context_backfill_checked += nbls.len() as u64;
    for &n in nbls {
        // SAFETY: n is a live emulator NBL (walked by the caller).
        let top = unsafe { nblmem::nbl_mut(n) }.Context;
        let spare = if top.is_null() {
            0
        } else {
            // SAFETY: a non-NULL Context of a live NBL is an area the emulator maintains.
            unsafe { (*top).Offset }
        };
        if spare < want {
            w.adapters[a].stats.tx_context_backfill_short += 1;
        }
    }
}
