use super::*;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const MAC: [u8; 6] = [0x02, 0x00, 0x5E, 0x10, 0x00, 0x07];
const PEER: [u8; 6] = [0x02, 0x50, 0x45, 0x45, 0x52, 0x01];
const V4: [u8; 4] = [10, 1, 0, 1];
const V6: [u8; 16] = [0xFD, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xAB, 0xCD];

/// An independent one's-complement sum: a valid ICMPv6 message sums to 0xFFFF with its
/// pseudo-header.
fn sums_to_ones(src: &[u8], dst: &[u8], msg: &[u8]) -> bool {
    let mut all = Vec::new();
    all.extend_from_slice(src);
    all.extend_from_slice(dst);
    all.extend_from_slice(&u32::try_from(msg.len()).unwrap().to_be_bytes());
    all.extend_from_slice(&[0, 0, 0, 58]);
    all.extend_from_slice(msg);
    if all.len() % 2 == 1 {
        all.push(0);
    }
    let mut sum: u32 = all
        .chunks(2)
        .map(|p| u32::from(u16::from_be_bytes([p[0], p[1]])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum == 0xFFFF
}

fn arp_reply() -> Vec<u8> {
    // As Linux answers an RFC 5227 probe: to the asker's MAC, target protocol address 0.0.0.0.
    let mut f = Vec::new();
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2]);
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&V4);
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.resize(60, 0);
    f
}

fn na_reply() -> Vec<u8> {
    let src = [
        0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x45, 0xFF, 0xFE, 0x52, 0x01, 0x01,
    ];
    let dst = link_local_of(MAC);
    let mut na = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
    na.extend_from_slice(&V6);
    na.extend_from_slice(&[2, 1]);
    na.extend_from_slice(&PEER);
    let sum = frame::icmpv6_checksum(&src, &dst, &na);
    na[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut f = Vec::new();
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[0x86, 0xDD, 0x60, 0, 0, 0, 0, 32, 58, 255]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&na);
    f
}

#[test]
fn the_arp_request_is_an_rfc5227_probe_for_the_target() {
    let mut out = [0u8; PROBE_FRAME_MAX];
    let n = request(ProbeTarget::V4(V4), MAC, &mut out);
    assert_eq!(n, 60);
    let f = &out[..n];
    assert_eq!(f[0..6], [0xFF; 6], "broadcast");
    assert_eq!(f[6..12], MAC);
    assert_eq!(f[12..14], [0x08, 0x06]);
    assert_eq!(
        f[14..22],
        [0, 1, 0x08, 0x00, 6, 4, 0, 1],
        "Ethernet/IPv4 request"
    );
    assert_eq!(f[22..28], MAC, "sender hardware address");
    assert_eq!(f[28..32], [0; 4], "sender protocol address 0.0.0.0");
    assert_eq!(f[32..38], [0; 6], "target hardware address unknown");
    assert_eq!(f[38..42], V4);
    assert!(f[42..].iter().all(|&b| b == 0), "zero padding");
}

#[test]
fn the_neighbour_solicitation_goes_to_the_solicited_node_group_with_a_valid_checksum() {
    let mut out = [0u8; PROBE_FRAME_MAX];
    let n = request(ProbeTarget::V6(V6), MAC, &mut out);
    assert_eq!(n, 86);
    let f = &out[..n];
    assert_eq!(f[0..6], [0x33, 0x33, 0xFF, 0x00, 0xAB, 0xCD]);
    assert_eq!(f[6..12], MAC);
    assert_eq!(f[12..14], [0x86, 0xDD]);
    assert_eq!(f[14] >> 4, 6);
    assert_eq!(u16::from_be_bytes([f[18], f[19]]), 32, "payload length");
    assert_eq!((f[20], f[21]), (58, 255), "ICMPv6, hop limit 255");
    assert_eq!(f[22..38], link_local_of(MAC));
    assert_eq!(
        f[38..54],
        [
            0xFF, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0x00, 0xAB, 0xCD
        ]
    );
    assert_eq!((f[54], f[55]), (135, 0));
    assert_eq!(f[62..78], V6, "target address");
    assert_eq!(f[78..80], [1, 1], "source link-layer address option");
    assert_eq!(f[80..86], MAC);
    assert!(sums_to_ones(&f[22..38], &f[38..54], &f[54..86]));
}

#[test]
fn the_link_local_address_follows_modified_eui64() {
    assert_eq!(
        link_local_of([0x00, 0x15, 0x5D, 0x01, 0x02, 0x03]),
        [
            0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x15, 0x5D, 0xFF, 0xFE, 0x01, 0x02, 0x03
        ]
    );
}

#[test]
fn an_arp_reply_from_the_target_to_the_member_answers() {
    assert_eq!(
        check_reply(ProbeTarget::V4(V4), MAC, &arp_reply()),
        Reply::Answer
    );
}

#[test]
fn arp_that_is_not_the_answer_is_unrelated() {
    let t = ProbeTarget::V4(V4);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut other_member = arp_reply();
    other_member[0..6].copy_from_slice(&PEER);
    cases.push(("to another MAC", other_member));
    let mut request = arp_reply();
    request[21] = 1;
    cases.push(("a request", request));
    let mut from_elsewhere = arp_reply();
    from_elsewhere[31] = 9;
    cases.push(("from another address", from_elsewhere));
    let mut gratuitous = arp_reply();
    gratuitous[0..6].copy_from_slice(&[0xFF; 6]);
    gratuitous[32..38].copy_from_slice(&[0; 6]);
    cases.push(("an announcement", gratuitous));
    let mut not_ipv4 = arp_reply();
    not_ipv4[16] = 0x86;
    cases.push(("not for IPv4", not_ipv4));
    cases.push(("cut short", arp_reply()[..40].to_vec()));
    for (what, frame) in cases {
        assert_eq!(check_reply(t, MAC, &frame), Reply::Unrelated, "{what}");
    }
    assert_eq!(
        check_reply(ProbeTarget::V6(V6), MAC, &arp_reply()),
        Reply::Unrelated,
        "ARP when probing IPv6"
    );
}

#[test]
fn a_solicited_advertisement_for_the_target_answers() {
    assert_eq!(
        check_reply(ProbeTarget::V6(V6), MAC, &na_reply()),
        Reply::Answer
    );
}

#[test]
fn advertisements_that_are_not_the_answer_are_unrelated() {
    let t = ProbeTarget::V6(V6);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut unsolicited = na_reply();
    unsolicited[58] &= !0x40;
    cases.push(("unsolicited", unsolicited));
    let mut bad_sum = na_reply();
    bad_sum[57] ^= 1;
    cases.push(("bad checksum", bad_sum));
    let mut routed = na_reply();
    routed[21] = 64;
    cases.push(("hop limit not 255", routed));
    let mut other_target = na_reply();
    other_target[77] ^= 1;
    cases.push(("another target", other_target));
    let mut other_dst = na_reply();
    other_dst[0] = 0x33;
    cases.push(("another MAC", other_dst));
    let mut long = na_reply();
    long[19] = 200;
    cases.push(("payload beyond the frame", long));
    for (what, frame) in cases {
        assert_eq!(check_reply(t, MAC, &frame), Reply::Unrelated, "{what}");
    }
}

#[test]
fn other_traffic_is_told_apart_by_its_first_bytes() {
    let mut tcp = vec![0u8; 60];
    tcp[12..14].copy_from_slice(&[0x08, 0x00]);
    assert_eq!(
        check_reply(ProbeTarget::V4(V4), MAC, &tcp),
        Reply::NotNeighbour
    );
    let mut ns = na_reply();
    ns[54] = 135;
    assert_eq!(
        check_reply(ProbeTarget::V6(V6), MAC, &ns),
        Reply::NotNeighbour
    );
    assert_eq!(
        check_reply(ProbeTarget::V4(V4), MAC, &[0; 5]),
        Reply::NotNeighbour
    );
}

#[test]
fn targets_parse_and_non_unicast_addresses_are_refused() {
    assert_eq!(ProbeTarget::parse("10.1.0.1"), Ok(ProbeTarget::V4(V4)));
    assert_eq!(ProbeTarget::parse(" fd01::abcd "), Ok(ProbeTarget::V6(V6)));
    for bad in ["", "10.1.0", "router", "fe80::1%3"] {
        assert_eq!(
            ProbeTarget::parse(bad),
            Err(TargetError::NotAnAddress),
            "{bad}"
        );
    }
    for bad in [
        "0.0.0.0",
        "127.0.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "ff02::1",
    ] {
        assert_eq!(
            ProbeTarget::parse(bad),
            Err(TargetError::NotUnicast),
            "{bad}"
        );
    }
}

proptest! {
    #[test]
    fn any_bytes_are_classified_without_panicking(
        frame in proptest::collection::vec(any::<u8>(), 0..160),
        v6 in any::<bool>(),
    ) {
        let t = if v6 { ProbeTarget::V6(V6) } else { ProbeTarget::V4(V4) };
        let _ = check_reply(t, MAC, &frame);
    }

    #[test]
    fn a_changed_byte_of_an_answer_never_still_answers_unless_it_is_padding_or_free(
        at in 0usize..86,
        flip in 1u8..=255,
    ) {
        let mut f = na_reply();
        f[at] ^= flip;
        // Bytes the check may ignore: source MAC, traffic class/flow label, the NA's reserved
        // bits, the option. The checksum covers every byte of the message and its addresses.
        let free = (6..12).contains(&at) || (15..18).contains(&at) || (at == 14 && flip < 0x10);
        if !free {
            prop_assert_ne!(check_reply(ProbeTarget::V6(V6), MAC, &f), Reply::Answer);
        }
    }
}
