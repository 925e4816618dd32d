//! The probe request frames.
//!
//! IPv4: an ARP request in the probe form of RFC 5227 §2.1.1 — sender protocol address 0.0.0.0,
//! so no neighbour cache on the segment learns anything from it, and the filter needs no address
//! of its own. Hosts answer it with a reply to the sender's hardware address.
//!
//! IPv6: a neighbour solicitation (RFC 4861 §4.3) to the target's solicited-node multicast
//! address, from the link-local address the member's MAC gives (modified EUI-64, RFC 4291 App. A),
//! with the source link-layer address option, so the advertisement comes back unicast to that MAC.

use super::{
    ETH_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV6, ICMPV6_NA, ICMPV6_NS, IPV6_LEN, ND_HOP_LIMIT,
    NEXT_HEADER_ICMPV6, ProbeTarget,
};

/// The largest request frame, in bytes.
pub const PROBE_FRAME_MAX: usize = 86;
/// Ethernet's minimum frame without its FCS: shorter requests are padded with zeros.
const ETH_MIN: usize = 60;
/// ARP over Ethernet for IPv4: 28 bytes.
const ARP_LEN: usize = 28;
/// A neighbour solicitation with one source link-layer address option.
const NS_LEN: usize = 32;

/// The request `mac`'s member sends for `target`, written to the front of `out`; returns its
/// length (60 for ARP, 86 for a solicitation).
pub fn request(target: ProbeTarget, mac: [u8; 6], out: &mut [u8; PROBE_FRAME_MAX]) -> usize {
    out.fill(0);
    match target {
        // Sender IP 0.0.0.0 (RFC 5227's probe): no cache on the segment learns from it.
        ProbeTarget::V4(ip) => arp_request(out, mac, [0; 4], ip),
        ProbeTarget::V6(ip) => {
            let group = solicited_node(ip);
            let mut dst_mac = [0x33, 0x33, 0, 0, 0, 0];
            dst_mac[2..].copy_from_slice(&group[12..]);
            let nd = Nd {
                kind: ICMPV6_NS,
                flags: 0,
                option: 1, // source link-layer address
            };
            nd_message(out, nd, dst_mac, link_local_of(mac), group, ip, mac)
        }
    }
}

/// The announcement that `addr` is at `mac` (rewrite mode, after a member's traffic moved),
/// written to the front of `out`; returns its length.
///
/// IPv4: a gratuitous ARP request (sender and target protocol address both `addr`, broadcast),
/// the form Linux sends for its peer notifications; neighbour caches update an entry they have.
/// IPv6: an unsolicited neighbour advertisement (RFC 4861 §7.2.6) from `addr` to all-nodes, hop
/// limit 255, Solicited clear and Override set, with the target link-layer address option.
pub fn announcement(addr: ProbeTarget, mac: [u8; 6], out: &mut [u8; PROBE_FRAME_MAX]) -> usize {
    const ALL_NODES: [u8; 16] = [0xFF, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    out.fill(0);
    match addr {
        ProbeTarget::V4(ip) => arp_request(out, mac, ip, ip),
        ProbeTarget::V6(ip) => {
            let nd = Nd {
                kind: ICMPV6_NA,
                flags: 0x20, // Override
                option: 2,   // target link-layer address
            };
            nd_message(out, nd, [0x33, 0x33, 0, 0, 0, 1], ip, ALL_NODES, ip, mac)
        }
    }
}

/// A broadcast ARP request from `mac` (sender protocol address `sender`) for `target`, in a
/// zeroed `out`; returns the frame's length (the Ethernet minimum).
fn arp_request(out: &mut [u8], mac: [u8; 6], sender: [u8; 4], target: [u8; 4]) -> usize {
    ethernet(out, [0xFF; 6], mac, ETHERTYPE_ARP);
    let arp = &mut out[ETH_LEN..ETH_LEN + ARP_LEN];
    arp[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    arp[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    arp[4] = 6;
    arp[5] = 4;
    arp[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    arp[8..14].copy_from_slice(&mac);
    arp[14..18].copy_from_slice(&sender);
    // Target MAC 0 is already zero.
    arp[24..28].copy_from_slice(&target);
    ETH_MIN
}

/// What distinguishes a neighbour discovery message [`nd_message`] writes.
#[derive(Clone, Copy)]
struct Nd {
    /// ICMPv6 type.
    kind: u8,
    /// The flags byte (an advertisement's R/S/O).
    flags: u8,
    /// The link-layer address option's type (1 source, 2 target).
    option: u8,
}

/// A solicitation or advertisement about `target` with `mac` in its one link-layer address
/// option, from `src` to `dst` (at `dst_mac`), hop limit 255, in a zeroed `out`; returns the
/// frame's length.
fn nd_message(
    out: &mut [u8],
    nd: Nd,
    dst_mac: [u8; 6],
    src: [u8; 16],
    dst: [u8; 16],
    target: [u8; 16],
    mac: [u8; 6],
) -> usize {
    ethernet(out, dst_mac, mac, ETHERTYPE_IPV6);
    let ip6 = &mut out[ETH_LEN..ETH_LEN + IPV6_LEN];
    ip6[0] = 0x60;
    // NS_LEN (an advertisement has the same layout) fits in 16 bits.
    #[allow(clippy::cast_possible_truncation)]
    ip6[4..6].copy_from_slice(&(NS_LEN as u16).to_be_bytes());
    ip6[6] = NEXT_HEADER_ICMPV6;
    ip6[7] = ND_HOP_LIMIT;
    ip6[8..24].copy_from_slice(&src);
    ip6[24..40].copy_from_slice(&dst);
    let msg = &mut out[ETH_LEN + IPV6_LEN..ETH_LEN + IPV6_LEN + NS_LEN];
    msg[0] = nd.kind;
    msg[4] = nd.flags;
    msg[8..24].copy_from_slice(&target);
    msg[24] = nd.option;
    msg[25] = 1; // in units of 8 bytes
    msg[26..32].copy_from_slice(&mac);
    let sum = icmpv6_checksum(&src, &dst, msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    ETH_LEN + IPV6_LEN + NS_LEN
}

fn ethernet(out: &mut [u8], dst: [u8; 6], src: [u8; 6], ethertype: u16) {
    out[0..6].copy_from_slice(&dst);
    out[6..12].copy_from_slice(&src);
    out[12..14].copy_from_slice(&ethertype.to_be_bytes());
}

/// The IPv6 link-local address of an interface with this MAC (fe80::/64, modified EUI-64).
pub fn link_local_of(mac: [u8; 6]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xFE;
    a[1] = 0x80;
    a[8] = mac[0] ^ 0x02;
    a[9] = mac[1];
    a[10] = mac[2];
    a[11] = 0xFF;
    a[12] = 0xFE;
    a[13..16].copy_from_slice(&mac[3..]);
    a
}

/// The solicited-node multicast address of `ip` (ff02::1:ffXX:XXXX).
fn solicited_node(ip: [u8; 16]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xFF;
    a[1] = 0x02;
    a[11] = 0x01;
    a[12] = 0xFF;
    a[13..].copy_from_slice(&ip[13..]);
    a
}

/// The ICMPv6 checksum of `msg` (its checksum field taken as zero) between `src` and `dst`
/// (RFC 4443 §2.3, pseudo-header of RFC 8200 §8.1).
pub fn icmpv6_checksum(src: &[u8; 16], dst: &[u8; 16], msg: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).copied().map_or(0, u64::from);
            sum += hi | lo;
        }
    };
    add(src);
    add(dst);
    // Messages here are far below 4 GiB.
    #[allow(clippy::cast_possible_truncation)]
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, NEXT_HEADER_ICMPV6]);
    add(&msg[..2.min(msg.len())]);
    if msg.len() > 4 {
        add(&msg[4..]);
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    // Folded to 16 bits above.
    #[allow(clippy::cast_possible_truncation)]
    let folded = sum as u16;
    !folded
}
