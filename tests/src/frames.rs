//! The Ethernet frames the emulated protocol sends and the emulated miniport receives: each one
//! carries its adapter, direction and sequence number and a payload derived from them, so the far
//! end can tell an intact frame from a damaged one, and where it came from.
//!
//! Two formats:
//! - the plain format (EtherType [`ETHERTYPE`]): header, sequence, adapter, direction, fill;
//! - the flow format (`TrafficConfig::flows` > 0): Ethernet + IPv4 + TCP with the flow in the
//!   addresses and ports (what a filter hashing flows reads), then a payload carrying
//!   [`FLOW_MAGIC`], origin adapter, direction, flow, per-flow sequence, adapter-wide sequence and
//!   the fill.

/// EtherType of plain emulator frames (IEEE local experimental).
pub const ETHERTYPE: u16 = 0x88B5;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// Bytes of Ethernet header.
pub const ETH_HEADER: usize = 14;
/// Minimum frame the emulator builds (header + seq + adapter + direction).
pub const MIN_FRAME: usize = ETH_HEADER + 10;
/// Bytes of the IPv4 header of flow frames (no options).
pub const IPV4_HEADER: usize = 20;
/// Bytes of the TCP header of flow frames (no options).
pub const TCP_HEADER: usize = 20;
/// Where the payload of a flow frame starts.
pub const FLOW_PAYLOAD: usize = ETH_HEADER + IPV4_HEADER + TCP_HEADER;
/// Marks a flow frame's payload as the emulator's.
pub const FLOW_MAGIC: [u8; 4] = *b"MPFL";
/// Minimum flow frame: headers + magic, origin, direction, flow, flow sequence, sequence.
pub const MIN_FLOW_FRAME: usize = FLOW_PAYLOAD + 4 + 1 + 1 + 4 + 8 + 8;
/// TCP destination port of every flow.
pub const FLOW_DST_PORT: u16 = 5001;
/// TCP source port of flow 0 (flow `f` uses this + `f`).
pub const FLOW_SRC_PORT_BASE: u16 = 10_000;

/// The MAC of the far end of an adapter's link.
pub fn peer_mac(adapter: usize) -> [u8; 6] {
    [
        0x02,
        0x00,
        0x5E,
        0xFF,
        0x00,
        u8::try_from(adapter & 0xFF).unwrap_or(0),
    ]
}

/// IPv4 source address of flow frames from `adapter`: 10.0.`adapter`.1.
pub fn flow_src_ip(adapter: usize) -> [u8; 4] {
    [10, 0, low_byte(adapter), 1]
}

/// IPv4 destination address of flow `flow`: 10.1.`flow / 256`.`flow % 256`.
pub fn flow_dst_ip(flow: u32) -> [u8; 4] {
    let [_, _, hi, lo] = flow.to_be_bytes();
    [10, 1, hi, lo]
}

/// TCP source port of flow `flow`.
pub fn flow_src_port(flow: u32) -> u16 {
    FLOW_SRC_PORT_BASE.wrapping_add(u16::try_from(flow & 0xFFFF).unwrap_or(0))
}

fn low_byte(v: usize) -> u8 {
    v.to_le_bytes()[0]
}

fn fill(seq: u64, i: usize) -> u8 {
    seq.to_le_bytes()[0] ^ i.to_le_bytes()[0].wrapping_mul(31)
}

/// The fill repeats every 256 bytes: one period of it for `seq`, so that frames are written and
/// checked a block at a time (copies and compares) rather than byte by byte.
fn fill_period(seq: u64) -> [u8; 256] {
    core::array::from_fn(|i| fill(seq, i))
}

/// Writes the fill of `seq` into `tail`.
fn write_fill(tail: &mut [u8], seq: u64) {
    let period = fill_period(seq);
    for chunk in tail.chunks_mut(period.len()) {
        chunk.copy_from_slice(&period[..chunk.len()]);
    }
}

/// The Internet checksum (RFC 1071) of `bytes`.
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        let lo = pair.get(1).copied().map_or(0, u32::from);
        sum += hi | lo;
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0xFFFF)
}

/// Writes a plain frame of `len` bytes into `buf`; returns the length written.
pub fn build(
    buf: &mut [u8],
    dst: [u8; 6],
    src: [u8; 6],
    seq: u64,
    adapter: usize,
    dir: u8,
    len: usize,
) -> usize {
    let len = len.clamp(MIN_FRAME, buf.len());
    buf[0..6].copy_from_slice(&dst);
    buf[6..12].copy_from_slice(&src);
    buf[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
    buf[14..22].copy_from_slice(&seq.to_le_bytes());
    buf[22] = low_byte(adapter);
    buf[23] = dir;
    write_fill(&mut buf[MIN_FRAME..len], seq);
    len
}

/// Identity of a frame: who sent it, in which flow, at which place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameId {
    /// The adapter whose protocol (or miniport, for receives) built it.
    pub origin: usize,
    /// The flow (0 for plain frames).
    pub flow: u32,
    /// Sequence number within the flow (the adapter-wide sequence for plain frames).
    pub flow_seq: u64,
    /// Adapter-wide sequence number.
    pub seq: u64,
}

/// Writes a flow frame of `len` bytes (at least [`MIN_FLOW_FRAME`]) into `buf`; returns the
/// length written. `id.origin` is the sending adapter; the IPv4 destination is the flow's own.
pub fn build_flow(buf: &mut [u8], dst: [u8; 6], src: [u8; 6], id: FrameId, len: usize) -> usize {
    build_flow_to(buf, dst, src, id, len, id.flow)
}

/// [`build_flow`] to the IPv4 destination of `target` (`flow_dst_ip(target)`; several flows may
/// share a target, which is never above the flow's number).
pub fn build_flow_to(
    buf: &mut [u8],
    dst: [u8; 6],
    src: [u8; 6],
    id: FrameId,
    len: usize,
    target: u32,
) -> usize {
    let len = len.clamp(MIN_FLOW_FRAME, buf.len());
    buf[0..6].copy_from_slice(&dst);
    buf[6..12].copy_from_slice(&src);
    buf[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    let ip = &mut buf[ETH_HEADER..ETH_HEADER + IPV4_HEADER];
    ip[0] = 0x45;
    ip[1] = 0;
    let ip_len = u16::try_from(len - ETH_HEADER).unwrap_or(u16::MAX);
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[4..6].copy_from_slice(&id.seq.to_le_bytes()[..2]);
    // Don't fragment; TTL 64; TCP.
    ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[10..12].fill(0);
    ip[12..16].copy_from_slice(&flow_src_ip(id.origin));
    ip[16..20].copy_from_slice(&flow_dst_ip(target.min(id.flow)));
    let csum = internet_checksum(ip);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());
    tcp_and_payload(buf, FLOW_PAYLOAD, MIN_FLOW_FRAME, id, len);
    len
}

/// The TCP header before `payload` and the flow payload from it (identity up to `min_frame`, the
/// fill pattern after, up to `len`): the part IPv4 and IPv6 flow frames share.
fn tcp_and_payload(buf: &mut [u8], payload: usize, min_frame: usize, id: FrameId, len: usize) {
    let tcp = &mut buf[payload - TCP_HEADER..payload];
    tcp[0..2].copy_from_slice(&flow_src_port(id.flow).to_be_bytes());
    tcp[2..4].copy_from_slice(&FLOW_DST_PORT.to_be_bytes());
    tcp[4..8].copy_from_slice(&id.flow_seq.to_le_bytes()[..4]);
    tcp[8..12].fill(0);
    // Data offset 5 words; PSH|ACK; window 65535; checksum left to "offload" (0); no urgent.
    tcp[12] = 0x50;
    tcp[13] = 0x18;
    tcp[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    tcp[16..20].fill(0);
    let p = &mut buf[payload..min_frame];
    p[0..4].copy_from_slice(&FLOW_MAGIC);
    p[4] = low_byte(id.origin);
    p[5] = DIR_FLOW_TX;
    p[6..10].copy_from_slice(&id.flow.to_le_bytes());
    p[10..18].copy_from_slice(&id.flow_seq.to_le_bytes());
    p[18..26].copy_from_slice(&id.seq.to_le_bytes());
    write_fill(&mut buf[min_frame..len], id.seq);
}

/// Direction byte of flow frames a protocol sent.
const DIR_FLOW_TX: u8 = 0;
/// Direction byte of a flow frame a fabric peer echoed back (origin, flow and sequences kept).
pub const DIR_FLOW_ECHO: u8 = 2;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
/// Bytes of the IPv6 header of IPv6 flow frames (no extension headers).
pub const IPV6_HEADER: usize = 40;
/// Where the payload of an IPv6 flow frame starts.
pub const FLOW6_PAYLOAD: usize = ETH_HEADER + IPV6_HEADER + TCP_HEADER;
/// Minimum IPv6 flow frame.
pub const MIN_FLOW6_FRAME: usize = MIN_FLOW_FRAME + IPV6_HEADER - IPV4_HEADER;

/// IPv6 source address of flow frames from `adapter`: fd00::`adapter`:1.
pub fn flow_src_ip6(adapter: usize) -> [u8; 16] {
    let mut ip = [0u8; 16];
    ip[0] = 0xFD;
    ip[12..14].copy_from_slice(&u16::try_from(adapter & 0xFFFF).unwrap_or(0).to_be_bytes());
    ip[15] = 1;
    ip
}

/// IPv6 destination address of flow target `target`: fd01::`target`.
pub fn flow_dst_ip6(target: u32) -> [u8; 16] {
    let mut ip = [0u8; 16];
    ip[0] = 0xFD;
    ip[1] = 1;
    ip[12..16].copy_from_slice(&target.to_be_bytes());
    ip
}

/// [`build_flow_to`] as Ethernet + IPv6 + TCP (source `flow_src_ip6(origin)`, destination
/// `flow_dst_ip6(target)`), at least [`MIN_FLOW6_FRAME`] bytes.
pub fn build_flow6_to(
    buf: &mut [u8],
    dst: [u8; 6],
    src: [u8; 6],
    id: FrameId,
    len: usize,
    target: u32,
) -> usize {
    let len = len.clamp(MIN_FLOW6_FRAME, buf.len());
    buf[0..6].copy_from_slice(&dst);
    buf[6..12].copy_from_slice(&src);
    buf[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    let ip = &mut buf[ETH_HEADER..ETH_HEADER + IPV6_HEADER];
    ip[0..4].copy_from_slice(&[0x60, 0, 0, 0]);
    let plen = u16::try_from(len - ETH_HEADER - IPV6_HEADER).unwrap_or(u16::MAX);
    ip[4..6].copy_from_slice(&plen.to_be_bytes());
    // TCP; hop limit 64.
    ip[6] = 6;
    ip[7] = 64;
    ip[8..24].copy_from_slice(&flow_src_ip6(id.origin));
    ip[24..40].copy_from_slice(&flow_dst_ip6(target.min(id.flow)));
    tcp_and_payload(buf, FLOW6_PAYLOAD, MIN_FLOW6_FRAME, id, len);
    len
}

/// Which way a flow frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowDir {
    /// From the protocol that sent it.
    Tx,
    /// A peer's echo of it.
    Echo,
}

/// TPID of an in-frame 802.1Q tag.
pub const TPID_8021Q: u16 = 0x8100;
/// Bytes of an 802.1Q tag (TPID and TCI).
pub const VLAN_TAG: usize = 4;

/// Where a frame's network header starts: after the MACs and the EtherType, and after an
/// in-frame 802.1Q tag when it has one.
pub fn link_len(data: &[u8]) -> usize {
    if data.get(12..14) == Some(&TPID_8021Q.to_be_bytes()[..]) {
        ETH_HEADER + VLAN_TAG
    } else {
        ETH_HEADER
    }
}

/// Puts an 802.1Q tag (TCI `tci`) after the MACs of the `len`-byte frame at the start of `buf`
/// (which has room for it); the tagged frame's length.
pub fn insert_tag(buf: &mut [u8], len: usize, tci: u16) -> usize {
    buf.copy_within(12..len, 12 + VLAN_TAG);
    buf[12..14].copy_from_slice(&TPID_8021Q.to_be_bytes());
    buf[14..16].copy_from_slice(&tci.to_be_bytes());
    len + VLAN_TAG
}

/// Where the IP header, the TCP header and the payload of a flow frame (IPv4 or IPv6, with or
/// without an in-frame 802.1Q tag) start, and the IP address length.
fn flow_layout(data: &[u8]) -> Option<(usize, usize, usize)> {
    let l = link_len(data);
    let (tcp, addr) = match u16::from_be_bytes([*data.get(l - 2)?, *data.get(l - 1)?]) {
        ETHERTYPE_IPV4 if data.get(l + 9) == Some(&6) => (l + IPV4_HEADER, 4),
        ETHERTYPE_IPV6 if data.get(l + 6) == Some(&6) => (l + IPV6_HEADER, 16),
        _ => return None,
    };
    let payload = tcp + TCP_HEADER;
    let ours = data.len() >= payload + 26
        && (data[tcp + 2..tcp + 4] == FLOW_DST_PORT.to_be_bytes()
            || data[tcp..tcp + 2] == FLOW_DST_PORT.to_be_bytes())
        && data[payload..payload + 4] == FLOW_MAGIC;
    ours.then_some((tcp, payload, addr))
}

/// The identity and direction a flow frame (IPv4 or IPv6, sent or echoed) carries in its
/// payload, without checking its addresses or fill; `None` if it is not a flow frame.
pub fn flow_identity(data: &[u8]) -> Option<(FrameId, FlowDir)> {
    let (_, payload, _) = flow_layout(data)?;
    let p = &data[payload..payload + 26];
    let dir = match p[5] {
        DIR_FLOW_TX => FlowDir::Tx,
        DIR_FLOW_ECHO => FlowDir::Echo,
        _ => return None,
    };
    Some((
        FrameId {
            origin: usize::from(p[4]),
            flow: u32::from_le_bytes(p[6..10].try_into().unwrap_or([0; 4])),
            flow_seq: le_u64(&p[10..18]),
            seq: le_u64(&p[18..26]),
        },
        dir,
    ))
}

/// The (source, destination) IP addresses of a flow frame (4 or 16 bytes each).
pub fn flow_ips(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, _, addr) = flow_layout(data)?;
    let at = link_len(data) + if addr == 4 { 12 } else { 8 };
    Some((&data[at..at + addr], &data[at + addr..at + 2 * addr]))
}

/// The echo of flow frame `data` (sent by a protocol): IP addresses and TCP ports swapped, the
/// direction byte [`DIR_FLOW_ECHO`], from `src` to `dst`; the IPv4 checksum stays valid (the
/// sum does not depend on the order of the addresses).
pub fn echo_of(data: &[u8], dst: [u8; 6], src: [u8; 6]) -> Option<Vec<u8>> {
    let (tcp, payload, addr) = flow_layout(data)?;
    let mut e = data.to_vec();
    e[0..6].copy_from_slice(&dst);
    e[6..12].copy_from_slice(&src);
    let at = link_len(data) + if addr == 4 { 12 } else { 8 };
    e[at..at + addr].copy_from_slice(&data[at + addr..at + 2 * addr]);
    e[at + addr..at + 2 * addr].copy_from_slice(&data[at..at + addr]);
    e[tcp..tcp + 2].copy_from_slice(&data[tcp + 2..tcp + 4]);
    e[tcp + 2..tcp + 4].copy_from_slice(&data[tcp..tcp + 2]);
    e[payload + 5] = DIR_FLOW_ECHO;
    Some(e)
}

/// What a check of a frame found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// An intact, rightly addressed emulator frame.
    Good(FrameId),
    /// Not an emulator frame (another EtherType, or IPv4 without the emulator's payload):
    /// something the filter originated.
    Foreign,
    /// An emulator frame that is damaged or misaddressed.
    Bad(&'static str),
}

/// The (destination, source) MACs the frame `id` (its origin adapter, flow and sequences) must
/// carry, or `None` if no frame from that origin is expected where this one was found.
pub type MacsOf<'a> = &'a dyn Fn(&FrameId) -> Option<([u8; 6], [u8; 6])>;

/// What [`check`] says of a frame whose source MAC is not its sender's.
pub const SOURCE_MAC: &str = "source MAC";

/// Checks a frame (`data` holds its first `data.len()` bytes, `total` its full length) of either
/// format, travelling in direction `dir`; the frame names its origin, and `macs_of` says what
/// addresses a frame of that origin must have here.
pub fn check(data: &[u8], total: usize, dir: u8, macs_of: MacsOf<'_>) -> Check {
    if data.len() < ETH_HEADER {
        return Check::Foreign;
    }
    if link_len(data) > ETH_HEADER {
        // An in-frame 802.1Q tag: the frame behind it is checked as if untagged.
        if data.len() < ETH_HEADER + VLAN_TAG {
            return Check::Bad("802.1Q tag");
        }
        let plain = [&data[..12], &data[12 + VLAN_TAG..]].concat();
        return check(&plain, total - VLAN_TAG, dir, macs_of);
    }
    let decoded = match u16::from_be_bytes([data[12], data[13]]) {
        ETHERTYPE => decode_plain(data, total, dir),
        ETHERTYPE_IPV4 => decode_flow(data, total, dir),
        ETHERTYPE_IPV6 => decode_flow6(data, total, dir),
        _ => return Check::Foreign,
    };
    let id = match decoded {
        Check::Good(id) => id,
        other => return other,
    };
    let Some((dst, src)) = macs_of(&id) else {
        return Check::Bad("origin adapter");
    };
    if data[0..6] != dst {
        return Check::Bad("destination MAC");
    }
    if data[6..12] != src {
        return Check::Bad(SOURCE_MAC);
    }
    Check::Good(id)
}

fn decode_plain(data: &[u8], total: usize, dir: u8) -> Check {
    if data.len() < MIN_FRAME || data.len() != total {
        return Check::Bad("truncated");
    }
    if data[23] != dir {
        return Check::Bad("adapter or direction");
    }
    let seq = u64::from_le_bytes(data[14..22].try_into().unwrap_or([0; 8]));
    if !fill_intact(&data[MIN_FRAME..], seq) {
        return Check::Bad("payload");
    }
    Check::Good(FrameId {
        origin: usize::from(data[22]),
        flow: 0,
        flow_seq: seq,
        seq,
    })
}

fn fill_intact(tail: &[u8], seq: u64) -> bool {
    let period = fill_period(seq);
    tail.chunks(period.len())
        .all(|chunk| chunk == &period[..chunk.len()])
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
}

fn decode_flow(data: &[u8], total: usize, dir: u8) -> Check {
    // IPv4 that is not TCP to the flow port with the magic is somebody else's traffic.
    let ours = data.len() >= MIN_FLOW_FRAME
        && data[ETH_HEADER + 9] == 6
        && data[ETH_HEADER + IPV4_HEADER + 2..ETH_HEADER + IPV4_HEADER + 4]
            == FLOW_DST_PORT.to_be_bytes()
        && data[FLOW_PAYLOAD..FLOW_PAYLOAD + 4] == FLOW_MAGIC;
    if !ours {
        return Check::Foreign;
    }
    if data.len() != total {
        return Check::Bad("truncated");
    }
    let ip = &data[ETH_HEADER..ETH_HEADER + IPV4_HEADER];
    if ip[0] != 0x45 || usize::from(u16::from_be_bytes([ip[2], ip[3]])) != total - ETH_HEADER {
        return Check::Bad("IPv4 header");
    }
    if internet_checksum(ip) != 0 {
        return Check::Bad("IPv4 checksum");
    }
    let p = &data[FLOW_PAYLOAD..MIN_FLOW_FRAME];
    if p[5] != dir {
        return Check::Bad("adapter or direction");
    }
    let origin = usize::from(p[4]);
    let flow = u32::from_le_bytes(p[6..10].try_into().unwrap_or([0; 4]));
    let flow_seq = le_u64(&p[10..18]);
    let seq = le_u64(&p[18..26]);
    let tcp = &data[ETH_HEADER + IPV4_HEADER..FLOW_PAYLOAD];
    // The destination is a target of 10.1/16 no higher than the flow (flows share targets when
    // the traffic has fewer targets than flows); the IPv4 checksum covers its exact bytes.
    let target = u32::from(u16::from_be_bytes([ip[18], ip[19]]));
    if ip[12..16] != flow_src_ip(origin)
        || ip[16..18] != [10, 1]
        || target > flow
        || tcp[0..2] != flow_src_port(flow).to_be_bytes()
    {
        return Check::Bad("flow addresses or ports");
    }
    if !fill_intact(&data[MIN_FLOW_FRAME..], seq) {
        return Check::Bad("payload");
    }
    Check::Good(FrameId {
        origin,
        flow,
        flow_seq,
        seq,
    })
}

fn decode_flow6(data: &[u8], total: usize, dir: u8) -> Check {
    let ours = data.len() >= MIN_FLOW6_FRAME
        && data[ETH_HEADER + 6] == 6
        && data[ETH_HEADER + IPV6_HEADER + 2..ETH_HEADER + IPV6_HEADER + 4]
            == FLOW_DST_PORT.to_be_bytes()
        && data[FLOW6_PAYLOAD..FLOW6_PAYLOAD + 4] == FLOW_MAGIC;
    if !ours {
        return Check::Foreign;
    }
    if data.len() != total {
        return Check::Bad("truncated");
    }
    let ip = &data[ETH_HEADER..ETH_HEADER + IPV6_HEADER];
    if ip[0] >> 4 != 6
        || usize::from(u16::from_be_bytes([ip[4], ip[5]])) != total - ETH_HEADER - IPV6_HEADER
    {
        return Check::Bad("IPv6 header");
    }
    let p = &data[FLOW6_PAYLOAD..MIN_FLOW6_FRAME];
    if p[5] != dir {
        return Check::Bad("adapter or direction");
    }
    let origin = usize::from(p[4]);
    let flow = u32::from_le_bytes(p[6..10].try_into().unwrap_or([0; 4]));
    let tcp = &data[ETH_HEADER + IPV6_HEADER..FLOW6_PAYLOAD];
    let target = u32::from_be_bytes(ip[36..40].try_into().unwrap_or([0xFF; 4]));
    if ip[8..24] != flow_src_ip6(origin)
        || ip[24..36] != flow_dst_ip6(0)[..12]
        || target > flow
        || tcp[0..2] != flow_src_port(flow).to_be_bytes()
    {
        return Check::Bad("flow addresses or ports");
    }
    let seq = le_u64(&p[18..26]);
    if !fill_intact(&data[MIN_FLOW6_FRAME..], seq) {
        return Check::Bad("payload");
    }
    Check::Good(FrameId {
        origin,
        flow,
        flow_seq: le_u64(&p[10..18]),
        seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(
        a: usize,
        dst: [u8; 6],
        src: [u8; 6],
    ) -> impl Fn(&FrameId) -> Option<([u8; 6], [u8; 6])> {
        move |id| (id.origin == a).then_some((dst, src))
    }

    #[test]
    fn the_fill_is_written_and_checked_by_the_byte_formula_across_periods() {
        for len in [0, 1, 255, 256, 257, 1500, 9000] {
            let mut tail = vec![0u8; len];
            write_fill(&mut tail, 0x1234_5678_9ABC);
            assert!(
                tail.iter()
                    .enumerate()
                    .all(|(i, &b)| b == fill(0x1234_5678_9ABC, i))
            );
            assert!(fill_intact(&tail, 0x1234_5678_9ABC));
            if len > 0 {
                assert!(!fill_intact(&tail, 0x1234_5678_9ABD), "another seq");
                let last = len - 1;
                tail[last] ^= 1;
                assert!(
                    !fill_intact(&tail, 0x1234_5678_9ABC),
                    "len {len}: last byte"
                );
            }
        }
    }

    #[test]
    fn frames_round_trip_and_damage_is_seen() {
        let mut buf = [0u8; 256];
        let (a, b) = ([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]);
        let n = build(&mut buf, a, b, 77, 1, 0, 100);
        assert_eq!(n, 100);
        let good = FrameId {
            origin: 1,
            flow: 0,
            flow_seq: 77,
            seq: 77,
        };
        assert_eq!(check(&buf[..n], n, 0, &only(1, a, b)), Check::Good(good));
        assert_eq!(
            check(&buf[..n], n, 0, &only(1, b, b)),
            Check::Bad("destination MAC")
        );
        assert_eq!(
            check(&buf[..n], n, 0, &only(2, a, b)),
            Check::Bad("origin adapter")
        );
        assert_eq!(
            check(&buf[..n], n, 1, &only(1, a, b)),
            Check::Bad("adapter or direction")
        );
        buf[50] ^= 1;
        assert_eq!(
            check(&buf[..n], n, 0, &only(1, a, b)),
            Check::Bad("payload")
        );
        buf[12] = 0x08;
        buf[13] = 0x06;
        assert_eq!(check(&buf[..n], n, 0, &only(1, a, b)), Check::Foreign);
        assert_eq!(build(&mut buf, a, b, 1, 0, 0, 3), MIN_FRAME);
    }

    #[test]
    fn flow_frames_carry_a_valid_ipv4_tcp_header_and_their_identity() {
        let mut buf = [0u8; 256];
        let (a, b) = ([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]);
        let id = FrameId {
            origin: 2,
            flow: 300,
            flow_seq: 9,
            seq: 1234,
        };
        let n = build_flow(&mut buf, a, b, id, 150);
        assert_eq!(n, 150);
        let f = &buf[..n];
        assert_eq!(u16::from_be_bytes([f[12], f[13]]), 0x0800);
        let ip = &f[14..34];
        assert_eq!(ip[0], 0x45, "IPv4, 20-byte header");
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 136, "total length");
        assert_eq!(ip[9], 6, "TCP");
        assert_eq!(internet_checksum(ip), 0, "the header checksum verifies");
        let stored = u16::from_be_bytes([ip[10], ip[11]]);
        let mut zeroed = ip.to_vec();
        zeroed[10..12].fill(0);
        assert_eq!(stored, internet_checksum(&zeroed));
        assert_ne!(stored, 0);
        assert_eq!(ip[12..16], [10, 0, 2, 1]);
        assert_eq!(ip[16..20], [10, 1, 1, 44], "flow 300 = 1 * 256 + 44");
        let tcp = &f[34..54];
        assert_eq!(u16::from_be_bytes([tcp[0], tcp[1]]), 10_300);
        assert_eq!(u16::from_be_bytes([tcp[2], tcp[3]]), 5001);
        assert_eq!(tcp[12] >> 4, 5, "20-byte TCP header");
        assert_eq!(check(f, n, 0, &only(2, a, b)), Check::Good(id));
        // Every field the check reads is guarded.
        let mut bad = buf;
        bad[14 + 8] = 63;
        assert_eq!(
            check(&bad[..n], n, 0, &only(2, a, b)),
            Check::Bad("IPv4 checksum")
        );
        let mut bad = buf;
        bad[34] ^= 1;
        assert_eq!(
            check(&bad[..n], n, 0, &only(2, a, b)),
            Check::Bad("flow addresses or ports")
        );
        let mut bad = buf;
        bad[n - 1] ^= 1;
        assert_eq!(
            check(&bad[..n], n, 0, &only(2, a, b)),
            Check::Bad("payload")
        );
        assert_eq!(
            check(&buf[..n - 1], n, 0, &only(2, a, b)),
            Check::Bad("truncated")
        );
        assert_eq!(
            check(f, n, 0, &only(2, b, b)),
            Check::Bad("destination MAC")
        );
        let mut other = buf;
        other[54] = b'X';
        assert_eq!(
            check(&other[..n], n, 0, &only(2, a, b)),
            Check::Foreign,
            "IPv4 without the magic is not the emulator's"
        );
        assert_eq!(build_flow(&mut buf, a, b, id, 10), MIN_FLOW_FRAME);
    }

    #[test]
    fn ipv6_flow_frames_round_trip_and_echo_swaps_addresses_and_ports() {
        let mut buf = [0u8; 256];
        let (dst, src) = ([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]);
        let id = FrameId {
            origin: 3,
            flow: 5,
            flow_seq: 2,
            seq: 40,
        };
        let len = build_flow6_to(&mut buf, dst, src, id, 50, 1);
        assert_eq!(len, MIN_FLOW6_FRAME);
        let frame = &buf[..len];
        assert_eq!(frame[12..14], [0x86, 0xDD]);
        let payload_len = usize::from(u16::from_be_bytes([frame[18], frame[19]]));
        assert_eq!(payload_len, len - 54);
        assert_eq!(frame[22..38], flow_src_ip6(3));
        assert_eq!(frame[34..38], [0, 3, 0, 1], "fd00::3:1");
        assert_eq!(frame[38..54], flow_dst_ip6(1));
        assert_eq!(check(frame, len, 0, &only(3, dst, src)), Check::Good(id));
        assert_eq!(flow_identity(frame), Some((id, FlowDir::Tx)));
        let echo = echo_of(frame, src, dst).expect("a flow frame");
        assert_eq!(echo[0..6], src);
        assert_eq!(echo[6..12], dst);
        assert_eq!(echo[22..38], flow_dst_ip6(1));
        assert_eq!(echo[38..54], flow_src_ip6(3));
        assert_eq!(u16::from_be_bytes([echo[54], echo[55]]), FLOW_DST_PORT);
        assert_eq!(u16::from_be_bytes([echo[56], echo[57]]), flow_src_port(5));
        assert_eq!(flow_identity(&echo), Some((id, FlowDir::Echo)));
        assert_eq!(flow_ips(&echo), Some((&frame[38..54], &frame[22..38])));
        // An IPv4 echo keeps a valid header checksum.
        let len4 = build_flow(&mut buf, dst, src, id, 100);
        let echo4 = echo_of(&buf[..len4], src, dst).expect("a flow frame");
        assert_eq!(internet_checksum(&echo4[14..34]), 0);
        assert_eq!(echo4[26..30], flow_dst_ip(5));
    }

    #[test]
    fn checksum_matches_a_worked_example() {
        // The RFC 1071 example bytes: 0001 f203 f4f5 f6f7 sum to 0xddf2 (complement 0x220d).
        assert_eq!(
            internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
    }
}
