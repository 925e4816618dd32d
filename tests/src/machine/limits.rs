//! What each adapter's stack offers and asks of the NBLs sent down it — its MTU (restart
//! attributes), its LSOv2 limit (the offload configuration in the attach parameters), the context
//! backfill its drivers want — and the miniport's checks of every NBL it takes: nothing beyond
//! its limits (`send.beyond-adapter-limits`), the backfill counted, NDIS's loopback made.

use crate::config::AdapterConfig;
use crate::nblmem;
use crate::rules::{Rule, Subject};
use crate::world::World;
use mpfilter::ndis::consts::{
    NDIS_OBJECT_TYPE_OFFLOAD, NDIS_OFFLOAD_REVISION_1, NDIS_OFFLOAD_REVISION_3,
    NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3,
    TCP_LARGE_SEND_NET_BUFFER_LIST_INFO,
};
use mpfilter::ndis::types::{NDIS_OBJECT_HEADER, NDIS_OFFLOAD};

/// `NDIS_ENCAPSULATION_IEEE_802_3`.
const ENCAPSULATION_802_3: u32 = 2;

/// The offload configuration of `cfg`'s miniport: LSOv2 for both IP versions, up to `lso_max`
/// and `lso_v6()`; of revision 3, or 1 for an NDIS 6.0 miniport (its header's `Size` then ends
/// at `Flags`: the bytes after it are not its).
pub(crate) fn offload_of(cfg: &AdapterConfig) -> NDIS_OFFLOAD {
    let (revision, size) = if cfg.offload_revision_1 {
        (NDIS_OFFLOAD_REVISION_1, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1)
    } else {
        (NDIS_OFFLOAD_REVISION_3, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3)
    };
    let mut o = NDIS_OFFLOAD {
        Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_OFFLOAD, revision, size),
        ..NDIS_OFFLOAD::default()
    };
    if cfg.lso_max > 0 {
        o.LsoV2IPv4.Encapsulation = ENCAPSULATION_802_3;
        o.LsoV2IPv4.MaxOffLoadSize = cfg.lso_max;
        o.LsoV2IPv4.MinSegmentCount = 2;
        o.LsoV2IPv6.Encapsulation = ENCAPSULATION_802_3;
        o.LsoV2IPv6.MaxOffLoadSize = cfg.lso_v6();
        o.LsoV2IPv6.MinSegmentCount = 2;
    }
    o
}

/// What an NBL's large-send info asks for, when it asks for a large send (an MSS, bits 0-19).
#[derive(Clone, Copy)]
pub(crate) struct LargeSend {
    /// LSOv2 (Type, bit 30); LSOv1 otherwise.
    pub v2: bool,
    /// LSOv2 over IPv6 (IPVersion, bit 31; LSOv1 has no IP version).
    pub ipv6: bool,
}

/// The large send `info` (an NBL's `TcpLargeSendNetBufferListInfo`) asks for; `None` without an
/// MSS.
pub(crate) fn large_send(info: usize) -> Option<LargeSend> {
    let mss = info & 0x000F_FFFF;
    let v2 = info & (1 << 30) != 0;
    (mss != 0).then_some(LargeSend {
        v2,
        ipv6: v2 && info & (1 << 31) != 0,
    })
}

/// The miniport of adapter `a` takes `nbls`: each must fit the adapter's MTU, or, as a large
/// send, its LSO limit.
pub(crate) fn check(w: &mut World, a: usize, nbls: &[usize]) {
    const CALL: &str = "NdisFSendNetBufferLists";
    let cfg = &w.adapters[a].cfg;
    let (mtu, lso_v4, lso_v6) = (cfg.mtu, cfg.lso_max, cfg.lso_v6());
    for &n in nbls {
        // SAFETY: n is a live emulator NBL (walked by the caller).
        let info = unsafe { nblmem::nbl_mut(n) }.NetBufferListInfo
            [TCP_LARGE_SEND_NET_BUFFER_LIST_INFO]
            .addr();
        let send = large_send(info);
        let large = send.is_some();
        let lso_max = if send.is_some_and(|l| l.ipv6) {
            lso_v6
        } else {
            lso_v4
        };
        w.adapters[a].stats.tx_large_sends += u64::from(large);
        let mut beyond = None;
        super::each_frame(w, n, CALL, |w, frame, total| {
            let st = &mut w.adapters[a].stats;
            st.tx_largest_frame = st.tx_largest_frame.max(total as u64);
            let payload = total.saturating_sub(crate::frames::link_len(frame));
            let payload = u32::try_from(payload).unwrap_or(u32::MAX);
            if large && (lso_max == 0 || payload > lso_max) {
                beyond = Some(format!(
                    "a large send of {payload} bytes on an adapter whose LSO limit is {lso_max}"
                ));
            } else if !large && payload > mtu {
                beyond = Some(format!(
                    "a frame of {payload} bytes on an adapter whose MTU is {mtu}"
                ));
            }
        });
        if let Some(why) = beyond {
            w.violate(Rule::SendBeyondAdapterLimits, Subject::Nbl(n), CALL, why);
        }
    }
}

/// The miniport of adapter `a` takes `nbls` from the filter (sent with `flags`): NDIS loops back
/// what the send asked it to ([`super::loopback::ndis_loopback`]), and the miniport counts the
/// NBLs whose top context area has less unused space than the backfill its drivers asked for.
pub(crate) fn at_miniport_edge(w: &mut World, a: usize, nbls: &[usize], flags: u32) {
    super::loopback::ndis_loopback(w, a, nbls, flags);
    check(w, a, nbls);
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
