use super::parse::{MAX_IPV6_EXTENSIONS, MAX_VLAN_TAGS};
use super::*;
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0xB];
const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xA];

fn ether(ethertype: u16, tags: &[u16]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&DST);
    f.extend_from_slice(&SRC);
    for &tci in tags {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], frag: u16, ports: (u16, u16)) -> Vec<u8> {
    let mut f = ether(0x0800, &[]);
    f.extend_from_slice(&[0x45, 0, 0, 40, 0, 1]);
    f.extend_from_slice(&frag.to_be_bytes());
    f.extend_from_slice(&[64, proto, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&ports.0.to_be_bytes());
    f.extend_from_slice(&ports.1.to_be_bytes());
    f.extend_from_slice(&[0; 16]);
    f
}

fn ipv6(exts: &[(u8, usize)], last: u8, ports: (u16, u16)) -> Vec<u8> {
    // exts: (header type, total length in bytes); each points at the next.
    let mut f = ether(0x86DD, &[]);
    let first = exts.first().map_or(last, |e| e.0);
    f.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, first, 64]);
    f.extend_from_slice(&[0x20; 16]);
    f.extend_from_slice(&[0x30; 16]);
    for (i, &(kind, len)) in exts.iter().enumerate() {
        let next = exts.get(i + 1).map_or(last, |e| e.0);
        let mut h = vec![0u8; len];
        h[0] = next;
        h[1] = match kind {
            51 => u8::try_from(len / 4 - 2).unwrap(),
            44 => 0,
            _ => u8::try_from(len / 8 - 1).unwrap(),
        };
        f.extend_from_slice(&h);
    }
    f.extend_from_slice(&ports.0.to_be_bytes());
    f.extend_from_slice(&ports.1.to_be_bytes());
    f
}

#[test]
fn tcp_over_ipv4_uses_addresses_and_ports() {
    let a = classify(&ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], 0, (1000, 80)), None);
    assert_eq!((a.l3, a.ports, a.malformed), (L3::Ipv4, true, None));
    let b = classify(&ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], 0, (1001, 80)), None);
    assert_ne!(a.flow.l34, b.flow.l34);
    assert_eq!((a.flow.l2, a.target), (b.flow.l2, b.target));
    let other_dst = classify(&ipv4(6, [10, 0, 0, 1], [10, 0, 0, 3], 0, (1000, 80)), None);
    assert_ne!(a.target, other_dst.target);
}

#[test]
fn every_fragment_of_a_datagram_hashes_alike() {
    let first = classify(&ipv4(17, [1, 1, 1, 1], [2, 2, 2, 2], 0x2000, (5, 6)), None);
    let later = classify(
        &ipv4(17, [1, 1, 1, 1], [2, 2, 2, 2], 0x00B9, (77, 88)),
        None,
    );
    assert!(!first.ports && !later.ports);
    assert_eq!(first.flow, later.flow);
    let whole = classify(&ipv4(17, [1, 1, 1, 1], [2, 2, 2, 2], 0x4000, (5, 6)), None);
    assert!(whole.ports, "DF alone is not a fragment");
}

#[test]
fn ipv6_walks_extension_headers_to_the_ports() {
    let plain = classify(&ipv6(&[], 6, (1, 2)), None);
    assert_eq!(
        (plain.l3, plain.ports, plain.malformed),
        (L3::Ipv6, true, None)
    );
    let ext = classify(&ipv6(&[(0, 8), (60, 16), (51, 12)], 6, (1, 2)), None);
    assert_eq!((ext.ports, ext.malformed), (true, None));
    assert_eq!(
        ext.flow.l34, plain.flow.l34,
        "extension headers are not part of the flow"
    );
    let frag = classify(&ipv6(&[(44, 8)], 6, (1, 2)), None);
    let frag_other_ports = classify(&ipv6(&[(44, 8)], 6, (3, 4)), None);
    assert_eq!((frag.ports, frag.flow), (false, frag_other_ports.flow));
    let limit: Vec<(u8, usize)> = (0..=MAX_IPV6_EXTENSIONS).map(|_| (60, 8)).collect();
    let deep = classify(&ipv6(&limit, 6, (1, 2)), None);
    assert_eq!(
        (deep.ports, deep.malformed),
        (false, Some(Malformed::TooManyIpv6Extensions))
    );
}

#[test]
fn vlan_tags_in_the_frame_or_out_of_band_split_l2_not_l34() {
    let mut tagged = ether(0x0800, &[0x2064]);
    tagged.extend_from_slice(&ipv4(6, [9, 9, 9, 9], [8, 8, 8, 8], 0, (1, 2))[14..]);
    let t = classify(&tagged, None);
    assert_eq!((t.vlan, t.ports, t.malformed), (Some(0x064), true, None));
    let untagged = classify(&ipv4(6, [9, 9, 9, 9], [8, 8, 8, 8], 0, (1, 2)), None);
    assert_eq!(t.flow.l34, untagged.flow.l34);
    assert_ne!(t.flow.l2, untagged.flow.l2);
    let oob = classify(&ipv4(6, [9, 9, 9, 9], [8, 8, 8, 8], 0, (1, 2)), Some(0x064));
    assert_eq!((oob.vlan, oob.flow.l2), (Some(0x064), t.flow.l2));
    let too_many = classify(&ether(0x0800, &[1; MAX_VLAN_TAGS + 1]), None);
    assert_eq!(too_many.malformed, Some(Malformed::TooManyVlanTags));
}

#[test]
fn non_ip_frames_use_the_mac_addresses() {
    let arp = classify(&[ether(0x0806, &[]), vec![0; 28]].concat(), None);
    assert_eq!((arp.l3, arp.ports, arp.malformed), (L3::Other, false, None));
    assert_eq!(arp.flow.l34, arp.flow.l2);
}

#[test]
fn bad_headers_are_named() {
    let mut bad_ihl = ipv4(6, [1; 4], [2; 4], 0, (1, 2));
    bad_ihl[14] = 0x44;
    assert_eq!(
        classify(&bad_ihl, None).malformed,
        Some(Malformed::BadIpv4Header)
    );
    let mut bad_v6 = ipv6(&[], 6, (1, 2));
    bad_v6[14] = 0x40;
    assert_eq!(
        classify(&bad_v6, None).malformed,
        Some(Malformed::BadIpv6Header)
    );
}

#[test]
fn every_truncation_is_hashed_and_named_never_read_past() {
    let frames = [
        ipv4(6, [1, 2, 3, 4], [5, 6, 7, 8], 0, (9, 10)),
        ipv6(&[(0, 8), (43, 24), (51, 16)], 17, (9, 10)),
        [
            ether(0x0800, &[7, 8]),
            ipv4(6, [1; 4], [2; 4], 0, (3, 4))[14..].to_vec(),
        ]
        .concat(),
    ];
    for full in &frames {
        let complete = classify(full, None);
        assert_eq!(complete.malformed, None);
        for cut in 0..full.len() {
            let c = classify(&full[..cut], None);
            // A cut either keeps the keys (it fell in the payload) or is named.
            assert!(
                c.malformed.is_some() || c == complete,
                "cut at {cut}: {c:?}"
            );
        }
    }
}

proptest! {
    /// Any bytes: no panic, and the keys depend only on the bytes given.
    #[test]
    fn arbitrary_frames_are_classified_deterministically(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        vlan in proptest::option::of(0u16..4096),
    ) {
        let a = classify(&bytes, vlan);
        prop_assert_eq!(a, classify(&bytes, vlan));
    }

    /// The payload after the ports never changes the keys.
    #[test]
    fn payload_does_not_move_a_flow(payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let base = ipv4(6, [10, 1, 1, 1], [10, 2, 2, 2], 0, (4242, 443));
        let with = [base.clone(), payload].concat();
        prop_assert_eq!(classify(&base, None), classify(&with, None));
    }
}
