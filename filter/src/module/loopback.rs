//! NDIS's send loopback, provided by the filter for a teamed module.
//!
//! A protocol that sends with `NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK` expects NDIS to indicate back
//! to it every frame of that send its own packet filter accepts (directed to its MAC, broadcast,
//! a multicast address it listens to, or anything in promiscuous mode), flagged
//! `NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET` (docs: "Looping Back NDIS Packets"). NDIS does that only
//! for the binding that sent — so an NBL the team moves to another member's stack would lose it,
//! and would be looped back to the *other* member's protocol instead (reroute facts §1.7).
//! A teamed module therefore takes the service over for every NBL of such a send, whichever path
//! it takes: it strips the flag from everything it passes down and, at the send, indicates a
//! clone of each accepted NBL up its own stack with `NDIS_RECEIVE_FLAGS_RESOURCES` (the clone is
//! the filter's again when the indication returns, and is freed at once).
//!
//! What "accepted" means comes from the protocol's own requests, watched as they complete:
//! `OID_GEN_CURRENT_PACKET_FILTER` and `OID_802_3_MULTICAST_LIST` (at most
//! [`MAX_MULTICAST`] addresses are kept; with a longer list, multicast frames are taken as
//! accepted rather than silently dropped). The MAC is the module's current address from attach.

use super::Module;
use crate::ndis::consts::{
    NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET, NDIS_PACKET_TYPE_ALL_LOCAL, NDIS_PACKET_TYPE_ALL_MULTICAST,
    NDIS_PACKET_TYPE_BROADCAST, NDIS_PACKET_TYPE_DIRECTED, NDIS_PACKET_TYPE_MULTICAST,
    NDIS_PACKET_TYPE_PROMISCUOUS, NDIS_STATUS_SUCCESS, OID_802_3_MULTICAST_LIST,
    OID_GEN_CURRENT_PACKET_FILTER,
};
use crate::ndis::types::{NDIS_PORT_NUMBER, NDIS_STATUS};
use crate::ndis::{OidRequest, OwnedNbl, SendFlags};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Multicast addresses kept per module.
pub const MAX_MULTICAST: usize = 32;

/// Packet filter bits under which every frame is accepted.
const EVERY_FRAME: u32 = NDIS_PACKET_TYPE_PROMISCUOUS | NDIS_PACKET_TYPE_ALL_LOCAL;

/// Marks a multicast list longer than [`MAX_MULTICAST`].
const LIST_TOO_LONG: u32 = u32::MAX;

/// The receive filter the protocol above a module set: packet filter bits and multicast list.
///
/// Written when the protocol's set requests complete (NDIS serialises a module's OID requests),
/// read on the send path on any CPU without a lock: a send racing a change of the filter may see
/// the old or the new list, as it would racing NDIS's own loopback.
#[derive(Debug, Default)]
pub struct ReceiveFilter {
    packet_filter: AtomicU32,
    /// The protocol has set its packet filter at least once.
    set: AtomicBool,
    multicast_len: AtomicU32,
    multicast: [AtomicU64; MAX_MULTICAST],
}

fn mac_key(mac: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(&mac[..6]);
    u64::from_le_bytes(b)
}

impl ReceiveFilter {
    /// The packet filter bits (`NDIS_PACKET_TYPE_*`).
    pub fn packet_filter(&self) -> u32 {
        self.packet_filter.load(Ordering::Relaxed)
    }

    /// Whether the protocol has set its packet filter yet.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// A set request of the protocol above completed with `status`: keeps what it changed.
    pub fn observe_set(&self, oid: u32, data: &[u8], status: NDIS_STATUS) {
        if status != NDIS_STATUS_SUCCESS {
            return;
        }
        match oid {
            OID_GEN_CURRENT_PACKET_FILTER => {
                if let Some(bits) = data.first_chunk::<4>() {
                    self.packet_filter
                        .store(u32::from_le_bytes(*bits), Ordering::Relaxed);
                    self.set.store(true, Ordering::Release);
                }
            }
            OID_802_3_MULTICAST_LIST => {
                let n = data.len() / 6;
                if n > MAX_MULTICAST {
                    self.multicast_len.store(LIST_TOO_LONG, Ordering::Release);
                    return;
                }
                self.multicast_len.store(0, Ordering::Release);
                for (slot, mac) in self.multicast.iter().zip(data.chunks_exact(6)) {
                    slot.store(mac_key(mac), Ordering::Relaxed);
                }
                self.multicast_len
                    .store(u32::try_from(n).unwrap_or(0), Ordering::Release);
            }
            _ => {}
        }
    }

    /// The packet filter the stack below already had when this module came (the protocol set it
    /// through an earlier instance, or before the filter was installed), read by the filter's
    /// own query; kept until the protocol sets one through this module.
    pub fn adopt_packet_filter(&self, bits: u32) {
        if self.is_set() || bits == 0 {
            return;
        }
        self.packet_filter.store(bits, Ordering::Relaxed);
        self.set.store(true, Ordering::Release);
    }

    /// Whether a frame to `dst` passes this filter on an adapter whose address is `own`.
    pub fn accepts(&self, own: &[u8], dst: [u8; 6]) -> bool {
        let bits = self.packet_filter();
        if bits & EVERY_FRAME != 0 {
            return true;
        }
        if dst == [0xFF; 6] {
            return bits & NDIS_PACKET_TYPE_BROADCAST != 0;
        }
        if dst[0] & 1 != 0 {
            if bits & NDIS_PACKET_TYPE_ALL_MULTICAST != 0 {
                return true;
            }
            if bits & NDIS_PACKET_TYPE_MULTICAST == 0 {
                return false;
            }
            let n = self.multicast_len.load(Ordering::Acquire);
            if n == LIST_TOO_LONG {
                return true;
            }
            let key = mac_key(&dst);
            return self
                .multicast
                .iter()
                .take(n as usize)
                .any(|m| m.load(Ordering::Relaxed) == key);
        }
        bits & NDIS_PACKET_TYPE_DIRECTED != 0 && own.len() >= 6 && own[..6] == dst
    }
}

impl Module {
    /// Watches a completed request of the protocol above for what it set of its receive filter.
    pub(super) fn observe_request(&self, request: &OidRequest, status: NDIS_STATUS) {
        if let Some(data) = request.set_data() {
            self.receive_filter.observe_set(request.oid(), data, status);
        }
    }

    /// The flags to pass down a teamed send: without CHECK_FOR_LOOPBACK, which this module
    /// provides itself (see the module docs) by calling [`Module::loop_back`] on every NBL.
    pub(super) fn loopback_taken_over(flags: SendFlags) -> (SendFlags, bool) {
        (flags.without_loopback(), flags.checks_loopback())
    }

    /// Indicates a clone of `nbl` up this module's stack as NDIS's loopback would, when the
    /// protocol's receive filter accepts its destination; gives `nbl` back, untouched.
    ///
    /// IRQL: <= DISPATCH_LEVEL (`flags` of the send in progress). Serialised: against nothing;
    /// called from FilterSendNetBufferLists of a Running module.
    pub(super) fn loop_back(
        &self,
        nbl: OwnedNbl,
        port: NDIS_PORT_NUMBER,
        flags: SendFlags,
    ) -> OwnedNbl {
        let mut storage = [0u8; 6];
        let dst = match nbl.peek_front(&mut storage).first_chunk::<6>() {
            Some(d) => *d,
            None => return nbl,
        };
        if !self.receive_filter.accepts(self.info.mac_address(), dst) {
            return nbl;
        }
        let Some(pool) = self.pool.as_ref() else {
            return nbl;
        };
        let child = match pool.clone_single(nbl, self.handle) {
            Ok(child) => child,
            Err(nbl) => {
                self.counters.loopback_failed.inc();
                return nbl;
            }
        };
        child.set_nbl_flags(child.nbl_flags() | NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET);
        child.indicate_lent(self.handle, port, flags.is_dispatch());
        self.counters.loopback_indicated.inc();
        child.release()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: [u8; 6] = [2, 0, 0x5E, 0x10, 0, 1];

    fn filter(bits: u32) -> ReceiveFilter {
        let f = ReceiveFilter::default();
        f.observe_set(
            OID_GEN_CURRENT_PACKET_FILTER,
            &bits.to_le_bytes(),
            NDIS_STATUS_SUCCESS,
        );
        f
    }

    #[test]
    fn directed_broadcast_and_promiscuous_follow_the_packet_filter() {
        let peer = [2, 0, 0x5E, 0xFF, 0, 1];
        let bcast = [0xFF; 6];
        let none = filter(0);
        assert!(!none.accepts(&OWN, OWN) && !none.accepts(&OWN, bcast));
        let directed = filter(NDIS_PACKET_TYPE_DIRECTED);
        assert!(directed.accepts(&OWN, OWN));
        assert!(!directed.accepts(&OWN, peer) && !directed.accepts(&OWN, bcast));
        let broadcast = filter(NDIS_PACKET_TYPE_BROADCAST);
        assert!(broadcast.accepts(&OWN, bcast) && !broadcast.accepts(&OWN, OWN));
        for all in [NDIS_PACKET_TYPE_PROMISCUOUS, NDIS_PACKET_TYPE_ALL_LOCAL] {
            assert!(filter(all).accepts(&OWN, peer));
        }
    }

    #[test]
    fn multicast_needs_the_address_in_the_list_or_all_multicast() {
        let group = [0x01, 0x00, 0x5E, 0, 0, 0xFB];
        let other = [0x33, 0x33, 0, 0, 0, 1];
        let f = filter(NDIS_PACKET_TYPE_MULTICAST);
        assert!(!f.accepts(&OWN, group));
        f.observe_set(OID_802_3_MULTICAST_LIST, &group, NDIS_STATUS_SUCCESS);
        assert!(f.accepts(&OWN, group) && !f.accepts(&OWN, other));
        // A failed set changes nothing; an empty list clears it.
        f.observe_set(OID_802_3_MULTICAST_LIST, &other, NDIS_STATUS_NOT_SUCCESS);
        assert!(f.accepts(&OWN, group));
        f.observe_set(OID_802_3_MULTICAST_LIST, &[], NDIS_STATUS_SUCCESS);
        assert!(!f.accepts(&OWN, group));
        assert!(filter(NDIS_PACKET_TYPE_ALL_MULTICAST).accepts(&OWN, other));
        // Too long a list to keep: multicast is taken as accepted.
        let long = [other; MAX_MULTICAST + 1].concat();
        f.observe_set(OID_802_3_MULTICAST_LIST, &long, NDIS_STATUS_SUCCESS);
        assert!(f.accepts(&OWN, other));
        // A short packet filter buffer is ignored.
        f.observe_set(OID_GEN_CURRENT_PACKET_FILTER, &[1, 0], NDIS_STATUS_SUCCESS);
        assert_eq!(f.packet_filter(), NDIS_PACKET_TYPE_MULTICAST);
    }

    const NDIS_STATUS_NOT_SUCCESS: NDIS_STATUS = crate::ndis::consts::NDIS_STATUS_FAILURE;
}
