//! The frames of the fabric that are not the protocols' flow frames: ARP (RFC 826, with the
//! RFC 5227 probe), IPv6 neighbour discovery (RFC 4861 solicitations and advertisements), built
//! and parsed byte by byte, and the recognition of flow frames and their echoes.

use crate::frames::{self, ETH_HEADER, internet_checksum};

/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
/// ARP operation: request.
pub const ARP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const ARP_REPLY: u16 = 2;
/// ICMPv6 type of a neighbour solicitation.
pub const ICMPV6_NS: u8 = 135;
/// ICMPv6 type of a neighbour advertisement.
pub const ICMPV6_NA: u8 = 136;
/// Neighbour advertisement flag: sent by a router.
pub const NA_ROUTER: u8 = 0x80;
/// Neighbour advertisement flag: a reply to a solicitation.
pub const NA_SOLICITED: u8 = 0x40;
/// Neighbour advertisement flag: override the cached link-layer address.
pub const NA_OVERRIDE: u8 = 0x20;
/// The broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xFF; 6];
/// The IPv6 all-nodes group ff02::1.
pub const ALL_NODES: [u8; 16] = [0xFF, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// Ethernet frames are padded to this length (without FCS).
pub const MIN_ETH: usize = 60;
/// Bytes of an IPv6 header.
pub const IPV6_HEADER: usize = 40;
const ARP_LEN: usize = ETH_HEADER + 28;

/// Whether `mac` is a group (multicast or broadcast) address.
pub fn is_group(mac: &[u8]) -> bool {
    mac.first().is_some_and(|b| b & 1 != 0)
}

/// The solicited-node multicast group of `ip` (ff02::1:ffXX:XXXX).
pub fn solicited_node(ip: &[u8; 16]) -> [u8; 16] {
    let mut g = [0xFF, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0, 0, 0];
    g[13..].copy_from_slice(&ip[13..]);
    g
}

/// The Ethernet multicast address of IPv6 group `ip` (33:33 and its last four bytes).
pub fn ipv6_multicast_mac(ip: &[u8; 16]) -> [u8; 6] {
    [0x33, 0x33, ip[12], ip[13], ip[14], ip[15]]
}

fn eth(buf: &mut Vec<u8>, dst: [u8; 6], src: [u8; 6], ethertype: u16) {
    buf.extend_from_slice(&dst);
    buf.extend_from_slice(&src);
    buf.extend_from_slice(&ethertype.to_be_bytes());
}

fn pad(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < MIN_ETH {
        f.resize(MIN_ETH, 0);
    }
    f
}

/// One ARP packet (Ethernet, IPv4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// [`ARP_REQUEST`] or [`ARP_REPLY`].
    pub op: u16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Sender protocol address (0.0.0.0 in an RFC 5227 probe).
    pub spa: [u8; 4],
    /// Target hardware address.
    pub tha: [u8; 6],
    /// Target protocol address.
    pub tpa: [u8; 4],
}

impl Arp {
    /// Whether it announces its sender's own address (gratuitous ARP: sender = target IP).
    pub fn gratuitous(&self) -> bool {
        self.spa == self.tpa && self.spa != [0; 4]
    }

    /// The frame from `src` to `dst` carrying it (padded to 60 bytes).
    pub fn frame(&self, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
        let mut f = Vec::with_capacity(MIN_ETH);
        eth(&mut f, dst, src, ETHERTYPE_ARP);
        f.extend_from_slice(&1u16.to_be_bytes());
        f.extend_from_slice(&frames::ETHERTYPE_IPV4.to_be_bytes());
        f.extend_from_slice(&[6, 4]);
        f.extend_from_slice(&self.op.to_be_bytes());
        f.extend_from_slice(&self.sha);
        f.extend_from_slice(&self.spa);
        f.extend_from_slice(&self.tha);
        f.extend_from_slice(&self.tpa);
        pad(f)
    }

    /// The ARP packet in `frame`, if it is one (Ethernet/IPv4, request or reply).
    pub fn parse(frame: &[u8]) -> Option<Arp> {
        if frame.len() < ARP_LEN || ethertype(frame) != ETHERTYPE_ARP {
            return None;
        }
        let p = &frame[ETH_HEADER..ARP_LEN];
        if p[0..6] != [0, 1, 8, 0, 6, 4] {
            return None;
        }
        let op = u16::from_be_bytes([p[6], p[7]]);
        if op != ARP_REQUEST && op != ARP_REPLY {
            return None;
        }
        Some(Arp {
            op,
            sha: p[8..14].try_into().ok()?,
            spa: p[14..18].try_into().ok()?,
            tha: p[18..24].try_into().ok()?,
            tpa: p[24..28].try_into().ok()?,
        })
    }

    /// A broadcast request from `mac`/`ip` for `target`.
    pub fn request(mac: [u8; 6], ip: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        Arp {
            op: ARP_REQUEST,
            sha: mac,
            spa: ip,
            tha: [0; 6],
            tpa: target,
        }
        .frame(BROADCAST, mac)
    }

    /// A broadcast gratuitous ARP (a request announcing `ip` at `mac`).
    pub fn announce(mac: [u8; 6], ip: [u8; 4]) -> Vec<u8> {
        Self::request(mac, ip, ip)
    }
}

/// The EtherType of `frame` (0 if it has no Ethernet header).
pub fn ethertype(frame: &[u8]) -> u16 {
    frame
        .get(12..14)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
}

/// The ICMPv6 checksum of `msg` (its checksum field zero or not: the field is skipped) between
/// `src` and `dst`.
pub fn icmpv6_checksum(src: &[u8; 16], dst: &[u8; 16], msg: &[u8]) -> u16 {
    let mut buf = Vec::with_capacity(40 + msg.len());
    buf.extend_from_slice(src);
    buf.extend_from_slice(dst);
    buf.extend_from_slice(&u32::try_from(msg.len()).unwrap_or(0).to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 58]);
    buf.extend_from_slice(msg);
    if msg.len() >= 4 {
        buf[42..44].fill(0);
    }
    internet_checksum(&buf)
}

/// A neighbour-discovery message (solicitation or advertisement).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nd {
    /// [`ICMPV6_NS`] or [`ICMPV6_NA`].
    pub kind: u8,
    /// IPv6 source (:: for a duplicate address detection solicitation).
    pub src: [u8; 16],
    /// IPv6 destination.
    pub dst: [u8; 16],
    /// The target address.
    pub target: [u8; 16],
    /// Advertisement flags ([`NA_ROUTER`], [`NA_SOLICITED`], [`NA_OVERRIDE`]); 0 in a
    /// solicitation.
    pub flags: u8,
    /// The link-layer address option: source (solicitation) or target (advertisement).
    pub lladdr: Option<[u8; 6]>,
}

impl Nd {
    /// The frame from `eth_src` to `eth_dst` carrying it (hop limit 255, checksum computed).
    pub fn frame(&self, eth_dst: [u8; 6], eth_src: [u8; 6]) -> Vec<u8> {
        let mut msg = vec![self.kind, 0, 0, 0, self.flags, 0, 0, 0];
        msg.extend_from_slice(&self.target);
        if let Some(mac) = self.lladdr {
            // Option 1 (source) in a solicitation, 2 (target) in an advertisement; 8 bytes.
            msg.push(if self.kind == ICMPV6_NS { 1 } else { 2 });
            msg.push(1);
            msg.extend_from_slice(&mac);
        }
        let csum = icmpv6_checksum(&self.src, &self.dst, &msg);
        msg[2..4].copy_from_slice(&csum.to_be_bytes());
        let mut f = Vec::with_capacity(ETH_HEADER + IPV6_HEADER + msg.len());
        eth(&mut f, eth_dst, eth_src, ETHERTYPE_IPV6);
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&u16::try_from(msg.len()).unwrap_or(0).to_be_bytes());
        f.extend_from_slice(&[58, 255]);
        f.extend_from_slice(&self.src);
        f.extend_from_slice(&self.dst);
        f.extend_from_slice(&msg);
        pad(f)
    }

    /// The neighbour-discovery message in `frame`, if it is a well-formed one (hop limit 255,
    /// checksum right).
    pub fn parse(frame: &[u8]) -> Option<Nd> {
        if ethertype(frame) != ETHERTYPE_IPV6 || frame.len() < ETH_HEADER + IPV6_HEADER + 24 {
            return None;
        }
        let ip = &frame[ETH_HEADER..ETH_HEADER + IPV6_HEADER];
        if ip[0] >> 4 != 6 || ip[6] != 58 || ip[7] != 255 {
            return None;
        }
        let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        let msg = frame.get(ETH_HEADER + IPV6_HEADER..ETH_HEADER + IPV6_HEADER + plen)?;
        let src: [u8; 16] = ip[8..24].try_into().ok()?;
        let dst: [u8; 16] = ip[24..40].try_into().ok()?;
        if msg.len() < 24 || (msg[0] != ICMPV6_NS && msg[0] != ICMPV6_NA) || msg[1] != 0 {
            return None;
        }
        if u16::from_be_bytes([msg[2], msg[3]]) != icmpv6_checksum(&src, &dst, msg) {
            return None;
        }
        let want = if msg[0] == ICMPV6_NS { 1 } else { 2 };
        let mut lladdr = None;
        let mut opts = &msg[24..];
        while opts.len() >= 8 {
            let len = usize::from(opts[1]) * 8;
            if len == 0 || len > opts.len() {
                return None;
            }
            if opts[0] == want && len == 8 {
                lladdr = Some(opts[2..8].try_into().ok()?);
            }
            opts = &opts[len..];
        }
        Some(Nd {
            kind: msg[0],
            src,
            dst,
            target: msg[8..24].try_into().ok()?,
            flags: if msg[0] == ICMPV6_NA { msg[4] } else { 0 },
            lladdr,
        })
    }

    /// A solicitation from `mac`/`ip` for `target`, to its solicited-node group.
    pub fn solicit(mac: [u8; 6], ip: [u8; 16], target: [u8; 16]) -> Vec<u8> {
        let group = solicited_node(&target);
        Nd {
            kind: ICMPV6_NS,
            src: ip,
            dst: group,
            target,
            flags: 0,
            lladdr: Some(mac),
        }
        .frame(ipv6_multicast_mac(&group), mac)
    }

    /// An unsolicited advertisement (override set) of `ip` at `mac` to all nodes.
    pub fn announce(mac: [u8; 6], ip: [u8; 16]) -> Vec<u8> {
        Nd {
            kind: ICMPV6_NA,
            src: ip,
            dst: ALL_NODES,
            target: ip,
            flags: NA_OVERRIDE,
            lladdr: Some(mac),
        }
        .frame(ipv6_multicast_mac(&ALL_NODES), mac)
    }
}

/// What kind of frame something is, for the fabric's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FrameKind {
    /// An ARP request (not gratuitous).
    ArpRequest,
    /// An ARP reply (not gratuitous).
    ArpReply,
    /// A gratuitous ARP (request or reply announcing its sender's address).
    GratuitousArp,
    /// An IPv6 neighbour solicitation.
    NeighborSolicitation,
    /// An IPv6 neighbour advertisement.
    NeighborAdvertisement,
    /// A protocol's flow frame (IPv4 or IPv6).
    Flow,
    /// A peer's echo of a flow frame.
    Echo,
    /// Anything else.
    Other,
}

/// The kind of `frame`.
pub fn kind_of(frame: &[u8]) -> FrameKind {
    if let Some(a) = Arp::parse(frame) {
        return if a.gratuitous() {
            FrameKind::GratuitousArp
        } else if a.op == ARP_REQUEST {
            FrameKind::ArpRequest
        } else {
            FrameKind::ArpReply
        };
    }
    if let Some(nd) = Nd::parse(frame) {
        return if nd.kind == ICMPV6_NS {
            FrameKind::NeighborSolicitation
        } else {
            FrameKind::NeighborAdvertisement
        };
    }
    match frames::flow_identity(frame) {
        Some((_, frames::FlowDir::Tx)) => FrameKind::Flow,
        Some((_, frames::FlowDir::Echo)) => FrameKind::Echo,
        None => FrameKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [2, 0, 0x5E, 0x10, 0, 1];
    const P: [u8; 6] = [2, 0x50, 0x45, 0x45, 0x52, 0];

    #[test]
    fn an_arp_request_is_laid_out_as_rfc_826_says() {
        let f = Arp::request(A, [10, 0, 1, 1], [10, 1, 0, 0]);
        assert_eq!(f.len(), 60);
        assert_eq!(f[0..6], BROADCAST);
        assert_eq!(f[6..12], A);
        assert_eq!(f[12..14], [8, 6]);
        assert_eq!(f[14..22], [0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(f[22..28], A);
        assert_eq!(f[28..32], [10, 0, 1, 1]);
        assert_eq!(f[32..38], [0; 6]);
        assert_eq!(f[38..42], [10, 1, 0, 0]);
        assert!(f[42..].iter().all(|&b| b == 0));
        let a = Arp::parse(&f).expect("parses");
        assert_eq!(a.op, ARP_REQUEST);
        assert!(!a.gratuitous());
        assert_eq!(kind_of(&f), FrameKind::ArpRequest);
        assert_eq!(
            kind_of(&Arp::announce(A, [10, 0, 1, 1])),
            FrameKind::GratuitousArp
        );
        let mut bad = f.clone();
        bad[21] = 3;
        assert_eq!(Arp::parse(&bad), None, "op 3 is not ARP request/reply");
        assert_eq!(Arp::parse(&f[..41]), None);
    }

    #[test]
    fn a_solicitation_carries_a_valid_icmpv6_checksum_and_its_source_option() {
        let me = crate::fabric::adapter_ipv6(1);
        let target = [0xFD, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];
        let f = Nd::solicit(A, me, target);
        assert_eq!(f[0..6], [0x33, 0x33, 0xFF, 0, 0, 3]);
        assert_eq!(f[12..14], [0x86, 0xDD]);
        assert_eq!(f[14] >> 4, 6);
        assert_eq!(
            u16::from_be_bytes([f[18], f[19]]),
            32,
            "24 + one 8-byte option"
        );
        assert_eq!((f[20], f[21]), (58, 255));
        assert_eq!(f[22..38], me);
        assert_eq!(
            f[38..54],
            [0xFF, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0, 0, 3]
        );
        let msg = &f[54..86];
        assert_eq!((msg[0], msg[1]), (135, 0));
        assert_eq!(msg[8..24], target);
        assert_eq!(msg[24..32], [1, 1, 2, 0, 0x5E, 0x10, 0, 1]);
        // The checksum over the pseudo-header and the message verifies to zero.
        let mut all = Vec::new();
        all.extend_from_slice(&f[22..54]);
        all.extend_from_slice(&[0, 0, 0, 32, 0, 0, 0, 58]);
        all.extend_from_slice(msg);
        assert_eq!(internet_checksum(&all), 0);
        let nd = Nd::parse(&f).expect("parses");
        assert_eq!(nd.lladdr, Some(A));
        let mut bad = f.clone();
        bad[60] ^= 1;
        assert_eq!(Nd::parse(&bad), None, "a wrong checksum is refused");
    }

    #[test]
    fn an_advertisement_has_its_flags_and_target_option() {
        let ip = crate::fabric::peer_ipv6(0);
        let f = Nd {
            kind: ICMPV6_NA,
            src: ip,
            dst: crate::fabric::adapter_ipv6(0),
            target: ip,
            flags: NA_SOLICITED | NA_OVERRIDE,
            lladdr: Some(P),
        }
        .frame(A, P);
        let msg = &f[54..86];
        assert_eq!(msg[0], 136);
        assert_eq!(msg[4], 0x60, "S and O");
        assert_eq!(msg[24..26], [2, 1], "target link-layer address option");
        assert_eq!(msg[26..32], P);
        assert_eq!(kind_of(&f), FrameKind::NeighborAdvertisement);
        let nd = Nd::parse(&f).expect("parses");
        assert_eq!(nd.flags, NA_SOLICITED | NA_OVERRIDE);
    }
}
