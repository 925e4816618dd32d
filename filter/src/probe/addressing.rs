//! Addresses in the frames rewrite mode reads and edits (`module/rewrite.rs`,
//! `module/takeover.rs`): the source a stack sends from, the address a received frame is for,
//! whether it asks for an address's owner, and the header edit that gives a carried frame the
//! carrier's MAC. Pure functions over a frame's first bytes (fuzzed: `filter:header_edit`).

use super::{
    ETH_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV6, ICMPV6_NA, ICMPV6_NS, IPV6_LEN, NEXT_HEADER_ICMPV6,
    ProbeTarget, icmpv6_checksum,
};

/// Ethernet II type of IPv4.
const ETHERTYPE_IPV4: u16 = 0x0800;
/// An 802.1Q tag's type.
const ETHERTYPE_VLAN: u16 = 0x8100;

/// The unicast source address of a frame a stack sends: IPv4 or IPv6 source, or ARP sender.
pub fn source_address(frame: &[u8]) -> Option<ProbeTarget> {
    let (ethertype, at) = ethertype(frame)?;
    let addr = match ethertype {
        ETHERTYPE_IPV4 => ProbeTarget::V4(frame.get(at + 12..at + 16)?.try_into().ok()?),
        ETHERTYPE_ARP => ProbeTarget::V4(frame.get(at + 14..at + 18)?.try_into().ok()?),
        ETHERTYPE_IPV6 => ProbeTarget::V6(frame.get(at + 8..at + 24)?.try_into().ok()?),
        _ => return None,
    };
    let unicast = match addr {
        ProbeTarget::V4(ip) => ip != [0; 4] && ip[0] < 224,
        ProbeTarget::V6(ip) => ip != [0; 16] && ip[0] != 0xFF,
    };
    unicast.then_some(addr)
}

/// The address a received frame is for: IPv4 or IPv6 destination, an ARP packet's target, or a
/// neighbour solicitation's target (its destination is a solicited-node group).
pub fn destination_address(frame: &[u8]) -> Option<ProbeTarget> {
    let (ethertype, at) = ethertype(frame)?;
    Some(match ethertype {
        ETHERTYPE_IPV4 => ProbeTarget::V4(frame.get(at + 16..at + 20)?.try_into().ok()?),
        ETHERTYPE_ARP => ProbeTarget::V4(frame.get(at + 24..at + 28)?.try_into().ok()?),
        ETHERTYPE_IPV6 if is_solicitation(frame, at) => {
            ProbeTarget::V6(frame.get(at + 48..at + 64)?.try_into().ok()?)
        }
        ETHERTYPE_IPV6 => ProbeTarget::V6(frame.get(at + 24..at + 40)?.try_into().ok()?),
        _ => return None,
    })
}

fn is_solicitation(frame: &[u8], at: usize) -> bool {
    frame.get(at + 6) == Some(&NEXT_HEADER_ICMPV6) && frame.get(at + IPV6_LEN) == Some(&ICMPV6_NS)
}

/// Whether a received frame asks for an address's owner: an ARP request that is not an
/// announcement, or a neighbour solicitation.
pub fn is_address_query(frame: &[u8]) -> bool {
    match ethertype(frame) {
        Some((ETHERTYPE_ARP, at)) => {
            frame.get(at + 6..at + 8) == Some(&[0, 1])
                && frame.get(at + 14..at + 18) != frame.get(at + 24..at + 28)
        }
        Some((ETHERTYPE_IPV6, at)) => is_solicitation(frame, at),
        _ => false,
    }
}

/// The frame's ethertype and where its payload starts (past one 802.1Q tag).
fn ethertype(frame: &[u8]) -> Option<(u16, usize)> {
    let t = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    if t == ETHERTYPE_VLAN {
        let inner = u16::from_be_bytes(frame.get(16..18)?.try_into().ok()?);
        return Some((inner, ETH_LEN + 4));
    }
    Some((t, ETH_LEN))
}

/// Rewrites, in `h` (a copy of a frame's first bytes), the source MAC to `mac`, and where the
/// frame names the old source MAC as its own link-layer address (ARP sender; NS/NA option),
/// that too.
pub fn edit_header(h: &mut [u8], mac: [u8; 6]) {
    let Some(old) = h.get(6..12).and_then(|s| <[u8; 6]>::try_from(s).ok()) else {
        return;
    };
    h[6..12].copy_from_slice(&mac);
    match ethertype(h) {
        Some((ETHERTYPE_ARP, at)) => {
            if let Some(sha) = h.get_mut(at + 8..at + 14)
                && *sha == old
            {
                sha.copy_from_slice(&mac);
            }
        }
        Some((ETHERTYPE_IPV6, at)) => edit_nd(h, at, old, mac),
        _ => {}
    }
}

/// A neighbour solicitation or advertisement whose link-layer address option names `old`: the
/// option gets `mac` and the ICMPv6 checksum is computed again.
fn edit_nd(h: &mut [u8], at: usize, old: [u8; 6], mac: [u8; 6]) {
    let Some(ip6) = h.get(at..at + IPV6_LEN) else {
        return;
    };
    let plen = usize::from(u16::from_be_bytes([ip6[4], ip6[5]]));
    if ip6[6] != NEXT_HEADER_ICMPV6 || !(24..=h.len() - (at + IPV6_LEN)).contains(&plen) {
        return;
    }
    let (Ok(src), Ok(dst)) = (
        <[u8; 16]>::try_from(&ip6[8..24]),
        <[u8; 16]>::try_from(&ip6[24..40]),
    ) else {
        return;
    };
    let msg = &mut h[at + IPV6_LEN..at + IPV6_LEN + plen];
    if msg[0] != ICMPV6_NS && msg[0] != ICMPV6_NA {
        return;
    }
    let mut changed = false;
    let mut o = 24;
    while o + 8 <= msg.len() {
        let (kind, len) = (msg[o], usize::from(msg[o + 1]) * 8);
        if len == 0 {
            // A zero-length option ends the walk (receivers discard such a message), but what
            // was already edited still gets its checksum.
            break;
        }
        if (kind == 1 || kind == 2) && len == 8 && msg[o + 2..o + 8] == old {
            msg[o + 2..o + 8].copy_from_slice(&mac);
            changed = true;
        }
        o += len;
    }
    if changed {
        let sum = icmpv6_checksum(&src, &dst, msg);
        msg[2..4].copy_from_slice(&sum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 0xA];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 0xB];

    #[test]
    fn the_source_mac_and_an_arp_sender_naming_it_are_rewritten() {
        let mut f = [0u8; 42];
        f[0..6].copy_from_slice(&[0xFF; 6]);
        f[6..12].copy_from_slice(&A);
        f[12..14].copy_from_slice(&[8, 6]);
        f[22..28].copy_from_slice(&A);
        f[28..32].copy_from_slice(&[10, 0, 0, 1]);
        edit_header(&mut f, B);
        assert_eq!((f[6..12] == B, f[22..28] == B), (true, true));
        assert_eq!(source_address(&f), Some(ProbeTarget::V4([10, 0, 0, 1])));
        // An ARP sender that is not the frame's source is left.
        f[6..12].copy_from_slice(&A);
        f[22..28].copy_from_slice(&[2, 1, 1, 1, 1, 1]);
        edit_header(&mut f, B);
        assert_eq!(f[22..28], [2, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn a_solicitations_link_layer_option_is_rewritten_with_a_valid_checksum() {
        let target = ProbeTarget::V6([0xFD, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        let mut out = [0u8; crate::probe::PROBE_FRAME_MAX];
        let n = crate::probe::request(target, A, &mut out);
        let frame = &mut out[..n];
        edit_header(frame, B);
        assert_eq!(frame[6..12], B);
        let msg = &frame[54..86];
        assert_eq!(msg[26..32], B, "the SLLA option");
        let src: [u8; 16] = frame[22..38].try_into().unwrap();
        let dst: [u8; 16] = frame[38..54].try_into().unwrap();
        assert_eq!(
            icmpv6_checksum(&src, &dst, msg).to_be_bytes(),
            [msg[2], msg[3]]
        );
    }

    /// Found by the fuzz smoke (`header_edit`): an option of length zero after the edited one
    /// ended the walk before the checksum was computed again.
    #[test]
    fn an_option_of_length_zero_after_the_edited_one_leaves_a_valid_checksum() {
        let target = ProbeTarget::V6([0xFD, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        let mut probe = [0u8; crate::probe::PROBE_FRAME_MAX];
        let n = crate::probe::request(target, A, &mut probe);
        // One more option, of length zero, and the payload length and checksum to match.
        let mut out = probe[..n].to_vec();
        out.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
        let frame = &mut out[..];
        let plen = u16::from_be_bytes([frame[18], frame[19]]) + 8;
        frame[18..20].copy_from_slice(&plen.to_be_bytes());
        let src: [u8; 16] = frame[22..38].try_into().unwrap();
        let dst: [u8; 16] = frame[38..54].try_into().unwrap();
        let sum = icmpv6_checksum(&src, &dst, &frame[54..]);
        frame[56..58].copy_from_slice(&sum.to_be_bytes());
        edit_header(frame, B);
        let msg = &frame[54..];
        assert_eq!(msg[26..32], B, "the SLLA option");
        assert_eq!(
            icmpv6_checksum(&src, &dst, msg).to_be_bytes(),
            [msg[2], msg[3]]
        );
    }

    #[test]
    fn questions_for_an_address_are_recognised_and_name_it() {
        let v6 = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut out = [0u8; crate::probe::PROBE_FRAME_MAX];
        let n = crate::probe::request(ProbeTarget::V6(v6), A, &mut out);
        assert!(is_address_query(&out[..n]));
        assert_eq!(destination_address(&out[..n]), Some(ProbeTarget::V6(v6)));
        let n = crate::probe::request(ProbeTarget::V4([10, 0, 0, 1]), A, &mut out);
        assert!(is_address_query(&out[..n]));
        assert_eq!(
            destination_address(&out[..n]),
            Some(ProbeTarget::V4([10, 0, 0, 1]))
        );
        // Announcements ask nothing.
        let n = crate::probe::announcement(ProbeTarget::V4([10, 0, 0, 1]), A, &mut out);
        assert!(!is_address_query(&out[..n]));
        let n = crate::probe::announcement(ProbeTarget::V6(v6), A, &mut out);
        assert!(!is_address_query(&out[..n]));
        assert_eq!(destination_address(&out[..n]).map(|_| ()), Some(()));
    }
}
