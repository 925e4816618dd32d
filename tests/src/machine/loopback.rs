//! NDIS's send loopback ("Looping Back NDIS Packets"): a send made with
//! `NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK` is indicated back to the binding that sent it — here, the
//! protocol above the adapter whose miniport takes it — for every frame that binding's packet
//! filter accepts, flagged `NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET`. The emulator records what the
//! protocol gets back; it does not build the indication itself nor run it through the filter's
//! receive handler (a filter that takes the service over indicates its own, which the protocol
//! receives as any indication). Loopback caused by another binding's PROMISCUOUS or ALL_LOCAL
//! filter is not modelled: the emulated protocols set neither unless a test asks.

use crate::frames::{self, Check};
use crate::ledger::FrameKey;
use crate::world::World;
use mpfilter::ndis::consts::{
    NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET, NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK,
};

use super::DIR_TX;

/// `NDIS_PACKET_TYPE_*` bits the acceptance check reads.
const DIRECTED: u32 = 0x01;
const MULTICAST: u32 = 0x02;
const ALL_MULTICAST: u32 = 0x04;
const BROADCAST: u32 = 0x08;
const PROMISCUOUS: u32 = 0x20;
const ALL_LOCAL: u32 = 0x80;

/// Whether a packet filter of `bits` with multicast list `list`, on an adapter whose MAC is
/// `own`, accepts a frame to `dst`: a multicast frame needs ALL_MULTICAST, or MULTICAST and its
/// address in the list.
fn accepts(bits: u32, list: &[[u8; 6]], own: [u8; 6], dst: &[u8]) -> bool {
    if bits & (PROMISCUOUS | ALL_LOCAL) != 0 {
        return true;
    }
    if dst == [0xFF; 6] {
        return bits & BROADCAST != 0;
    }
    if dst[0] & 1 != 0 {
        return bits & ALL_MULTICAST != 0
            || (bits & MULTICAST != 0 && list.iter().any(|m| m == dst));
    }
    bits & DIRECTED != 0 && dst == own
}

/// Whether adapter `a`'s miniport filter accepts a frame to `dst`.
fn accepted(w: &World, a: usize, dst: &[u8]) -> bool {
    let ad = &w.adapters[a];
    accepts(ad.mp.packet_filter, &ad.mp.multicast, ad.cfg.mac, dst)
}

/// Adapter `a`'s protocol sends a frame to `dst` asking for loopback: counts it as expected
/// back when the receive filter the protocol itself set accepts it.
pub(crate) fn expect_loopback(w: &mut World, a: usize, dst: [u8; 6]) {
    let ad = &w.adapters[a];
    let bits = ad.proto.filter_set.unwrap_or(0);
    let list = ad.traffic.multicast_list.as_deref().unwrap_or(&[]);
    if accepts(bits, list, ad.cfg.mac, &dst) {
        w.adapters[a].stats.tx_loopback_expected += 1;
    }
}

/// The miniport of adapter `a` takes `nbls`, sent with `flags`.
pub(crate) fn ndis_loopback(w: &mut World, a: usize, nbls: &[usize], flags: u32) {
    if flags & NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK == 0 {
        return;
    }
    w.adapters[a].stats.tx_loopback_flagged += nbls.len() as u64;
    for &n in nbls {
        super::each_frame(w, n, "-", |w, frame, total| {
            if frame.len() >= 6 && accepted(w, a, &frame[..6]) {
                protocol_gets(w, a, frame, total);
            }
        });
    }
}

/// Whether `nbl`, indicated up adapter `a`'s stack, is a loopback indication: then its frames are
/// recorded as the protocol's loopback and nothing else.
pub(crate) fn loopback_received(w: &mut World, a: usize, nbl: usize) -> bool {
    // SAFETY: the callers pass a live emulator NBL.
    let flags = unsafe { crate::nblmem::nbl_mut(nbl) }.NblFlags;
    if flags & NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET == 0 {
        return false;
    }
    super::each_frame(
        w,
        nbl,
        "NdisFIndicateReceiveNetBufferLists",
        |w, frame, total| {
            protocol_gets(w, a, frame, total);
        },
    );
    true
}

/// Adapter `a`'s protocol gets `frame` back as a loopback.
fn protocol_gets(w: &mut World, a: usize, frame: &[u8], total: usize) {
    let check = {
        let macs_of = |id: &frames::FrameId| {
            w.adapters
                .get(id.origin)
                .map(|ad| (w.tx_dst_of(id), ad.cfg.mac))
        };
        frames::check(frame, total, DIR_TX, &macs_of)
    };
    let st = &mut w.adapters[a].stats;
    match check {
        Check::Good(id) if id.origin == a => {
            let key = FrameKey {
                origin: id.origin,
                flow: id.flow,
                seq: id.flow_seq,
            };
            if w.adapters[a].proto.looped_back.insert(key) {
                w.adapters[a].stats.rx_loopback += 1;
            } else {
                w.adapters[a].stats.rx_loopback_duplicates += 1;
            }
        }
        _ => st.rx_loopback_foreign += 1,
    }
}
