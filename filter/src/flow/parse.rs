//! Reading the headers of one frame.

use super::hash::Mixer;
use crate::engine::{FlowKey, TargetKey};

/// Most extension headers walked in an IPv6 packet before giving up on its ports.
pub const MAX_IPV6_EXTENSIONS: usize = 8;
/// Most VLAN tags read (802.1ad outer + 802.1Q inner).
pub const MAX_VLAN_TAGS: usize = 2;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88A8;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_SCTP: u8 = 132;

const DOMAIN_L2: u64 = 2;
const DOMAIN_L34: u64 = 34;
const DOMAIN_TARGET: u64 = 7;

/// The network layer found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3 {
    /// Not IP (ARP, LLDP, …) or unreadable.
    Other,
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// Why a frame's keys rest on less than its full headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than an Ethernet header.
    ShortEthernet,
    /// A VLAN tag cut short.
    ShortVlan,
    /// More VLAN tags than [`MAX_VLAN_TAGS`].
    TooManyVlanTags,
    /// An IPv4 header cut short (including its options).
    ShortIpv4,
    /// IPv4 version or header length impossible.
    BadIpv4Header,
    /// An IPv6 header cut short.
    ShortIpv6,
    /// IPv6 version impossible.
    BadIpv6Header,
    /// An IPv6 extension header cut short.
    ShortIpv6Extension,
    /// More IPv6 extension headers than [`MAX_IPV6_EXTENSIONS`].
    TooManyIpv6Extensions,
    /// The TCP / UDP / SCTP ports cut short.
    ShortL4,
}

/// What [`classify`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified {
    /// The flow hashes for the engine.
    pub flow: FlowKey,
    /// The destination key for the engine.
    pub target: TargetKey,
    /// The network layer.
    pub l3: L3,
    /// The VLAN id: the out-of-band tag, else the first tag in the frame.
    pub vlan: Option<u16>,
    /// Whether the L4 ports were used.
    pub ports: bool,
    /// Why the keys rest on less than the full headers, if they do.
    pub malformed: Option<Malformed>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Keys of the frame `frame` (the first bytes of the first NET_BUFFER, at most its DataLength),
/// with `oob_vlan` the VLAN id of the NBL's 802.1Q info, if any.
pub fn classify(frame: &[u8], oob_vlan: Option<u16>) -> Classified {
    let Some(ethertype) = be16(frame, 12) else {
        let l2 = Mixer::new(DOMAIN_L2).bytes(frame).finish();
        let dst = &frame[..frame.len().min(6)];
        return Classified {
            flow: FlowKey { l2, l34: l2 },
            target: TargetKey(Mixer::new(DOMAIN_TARGET).bytes(dst).finish()),
            l3: L3::Other,
            vlan: oob_vlan,
            ports: false,
            malformed: Some(Malformed::ShortEthernet),
        };
    };
    let (dst, src) = (&frame[..6], &frame[6..12]);
    let mut c = Classified {
        flow: FlowKey::default(),
        target: TargetKey(Mixer::new(DOMAIN_TARGET).bytes(dst).finish()),
        l3: L3::Other,
        vlan: oob_vlan,
        ports: false,
        malformed: None,
    };
    let (mut ethertype, mut at, mut tags) = (ethertype, 12, 0);
    let mut l2 = Mixer::new(DOMAIN_L2).bytes(dst).bytes(src);
    while ethertype == TPID_8021Q || ethertype == TPID_8021AD {
        if tags == MAX_VLAN_TAGS {
            c.malformed = Some(Malformed::TooManyVlanTags);
            break;
        }
        let (Some(tci), Some(inner)) = (be16(frame, at + 2), be16(frame, at + 4)) else {
            c.malformed = Some(Malformed::ShortVlan);
            break;
        };
        c.vlan = c.vlan.or(Some(tci & 0x0FFF));
        l2 = l2.word(u64::from(tci & 0x0FFF));
        ethertype = inner;
        at += 4;
        tags += 1;
    }
    if tags == 0 {
        l2 = l2.word(u64::from(oob_vlan.unwrap_or(0xFFFF)));
    }
    let l2 = l2.finish();
    c.flow = FlowKey { l2, l34: l2 };
    if c.malformed.is_some() {
        return c;
    }
    let ip = frame.get(at + 2..).unwrap_or(&[]);
    match ethertype {
        ETHERTYPE_IPV4 => ipv4(ip, &mut c),
        ETHERTYPE_IPV6 => ipv6(ip, &mut c),
        _ => {}
    }
    c
}

/// Finishes `c` from the addresses, protocol and (when `l4` is given) the first 4 bytes of L4.
fn finish(c: &mut Classified, src: &[u8], dst: &[u8], proto: u8, l4: Option<&[u8]>) {
    let mut m = Mixer::new(DOMAIN_L34)
        .bytes(src)
        .bytes(dst)
        .word(u64::from(proto));
    if matches!(proto, PROTO_TCP | PROTO_UDP | PROTO_SCTP) {
        match l4.and_then(|l4| l4.get(..4)) {
            Some(ports) => {
                m = m.bytes(ports);
                c.ports = true;
            }
            None if l4.is_some() => c.malformed = Some(Malformed::ShortL4),
            None => {}
        }
    }
    c.flow.l34 = m.finish();
    c.target = TargetKey(Mixer::new(DOMAIN_TARGET).bytes(dst).finish());
}

fn ipv4(ip: &[u8], c: &mut Classified) {
    let Some(header) = ip.get(..20) else {
        c.malformed = Some(Malformed::ShortIpv4);
        return;
    };
    let ihl = usize::from(header[0] & 0x0F) * 4;
    if header[0] >> 4 != 4 || ihl < 20 {
        c.malformed = Some(Malformed::BadIpv4Header);
        return;
    }
    c.l3 = L3::Ipv4;
    let (proto, src, dst) = (header[9], &header[12..16], &header[16..20]);
    let fragment = u16::from_be_bytes([header[6], header[7]]) & 0x3FFF != 0;
    let l4 = if fragment {
        None
    } else if let Some(l4) = ip.get(ihl..) {
        Some(l4)
    } else {
        c.malformed = Some(Malformed::ShortIpv4);
        None
    };
    finish(c, src, dst, proto, l4);
}

fn ipv6(ip: &[u8], c: &mut Classified) {
    let Some(header) = ip.get(..40) else {
        c.malformed = Some(Malformed::ShortIpv6);
        return;
    };
    if header[0] >> 4 != 6 {
        c.malformed = Some(Malformed::BadIpv6Header);
        return;
    }
    c.l3 = L3::Ipv6;
    let (src, dst) = (&header[8..24], &header[24..40]);
    let (mut next, mut at, mut fragment) = (header[6], 40, false);
    let mut walked = 0;
    let l4 = loop {
        let len = match next {
            // Hop-by-hop, routing, destination options: (len + 1) × 8.
            0 | 43 | 60 => ip.get(at + 1).map(|&l| (usize::from(l) + 1) * 8),
            // Fragment: 8 bytes.
            44 => {
                fragment = true;
                Some(8)
            }
            // Authentication header: (len + 2) × 4.
            51 => ip.get(at + 1).map(|&l| (usize::from(l) + 2) * 4),
            // The upper layer. A fragment's ports are not used (only the first one has them).
            _ if fragment => break None,
            _ => {
                let l4 = ip.get(at..);
                if l4.is_none() {
                    c.malformed = Some(Malformed::ShortIpv6Extension);
                }
                break l4;
            }
        };
        if walked == MAX_IPV6_EXTENSIONS {
            c.malformed = Some(Malformed::TooManyIpv6Extensions);
            break None;
        }
        let (Some(len), Some(&following)) = (len, ip.get(at)) else {
            c.malformed = Some(Malformed::ShortIpv6Extension);
            break None;
        };
        next = following;
        at += len;
        walked += 1;
    };
    finish(c, src, dst, next, l4);
}
