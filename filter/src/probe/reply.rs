//! Is a received frame the answer to a member's probe?
//!
//! As bonding's `arp_validate`: an answer must be a reply (not a request or an announcement), from
//! the target, addressed to the member that asked — its MAC as the Ethernet destination and, for
//! ARP, as the target hardware address; for IPv6, a *solicited* advertisement for the target sent
//! to the member's link-local address, with hop limit 255 and a valid checksum. That it arrived on
//! the member's own stack is the caller's part: it checks frames of that member only.

use super::frame::{icmpv6_checksum, link_local_of};
use super::{
    ETH_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV6, ICMPV6_NA, IPV6_LEN, ND_HOP_LIMIT, NEXT_HEADER_ICMPV6,
    ProbeTarget,
};

/// What [`check_reply`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Neither ARP nor an ICMPv6 neighbour advertisement: the common case, decided from the
    /// Ethernet type (and for IPv6 two more bytes).
    NotNeighbour,
    /// ARP or a neighbour advertisement, but not the answer to this member's probe.
    Unrelated,
    /// The answer to this member's probe for the target.
    Answer,
}

/// Whether `frame` (the front of a received frame, at most its length) answers the probe the
/// member with `mac` sends for `target`.
pub fn check_reply(target: ProbeTarget, mac: [u8; 6], frame: &[u8]) -> Reply {
    let Some(ethertype) = frame.get(12..14) else {
        return Reply::NotNeighbour;
    };
    let ethertype = u16::from_be_bytes([ethertype[0], ethertype[1]]);
    match (ethertype, target) {
        (ETHERTYPE_ARP, ProbeTarget::V4(ip)) => arp_answers(ip, mac, frame),
        (ETHERTYPE_ARP, ProbeTarget::V6(_)) => Reply::Unrelated,
        (ETHERTYPE_IPV6, _) => {
            let icmp = ETH_LEN + IPV6_LEN;
            if frame.get(ETH_LEN + 6) != Some(&NEXT_HEADER_ICMPV6)
                || frame.get(icmp) != Some(&ICMPV6_NA)
            {
                return Reply::NotNeighbour;
            }
            match target {
                ProbeTarget::V6(ip) => na_answers(ip, mac, frame),
                ProbeTarget::V4(_) => Reply::Unrelated,
            }
        }
        _ => Reply::NotNeighbour,
    }
}

fn answer_if(ok: bool) -> Reply {
    if ok { Reply::Answer } else { Reply::Unrelated }
}

fn arp_answers(ip: [u8; 4], mac: [u8; 6], frame: &[u8]) -> Reply {
    let Some(arp) = frame.get(ETH_LEN..ETH_LEN + 28) else {
        return Reply::Unrelated;
    };
    answer_if(
        frame[0..6] == mac
            && arp[0..8] == [0, 1, 0x08, 0x00, 6, 4, 0, 2]
            && arp[14..18] == ip
            && arp[18..24] == mac,
    )
}

fn na_answers(ip: [u8; 16], mac: [u8; 6], frame: &[u8]) -> Reply {
    let icmp = ETH_LEN + IPV6_LEN;
    let Some(ip6) = frame.get(ETH_LEN..icmp) else {
        return Reply::Unrelated;
    };
    let payload = usize::from(u16::from_be_bytes([ip6[4], ip6[5]]));
    let Some(na) = frame.get(icmp..icmp + payload) else {
        return Reply::Unrelated;
    };
    if payload < 24 || frame[0..6] != mac || ip6[0] >> 4 != 6 || ip6[7] != ND_HOP_LIMIT {
        return Reply::Unrelated;
    }
    let (Ok(src), Ok(dst)) = (
        <[u8; 16]>::try_from(&ip6[8..24]),
        <[u8; 16]>::try_from(&ip6[24..40]),
    ) else {
        return Reply::Unrelated;
    };
    let solicited = na[4] & 0x40 != 0;
    answer_if(
        na[1] == 0
            && solicited
            && na[8..24] == ip
            && dst == link_local_of(mac)
            && u16::from_be_bytes([na[2], na[3]]) == icmpv6_checksum(&src, &dst, na),
    )
}
