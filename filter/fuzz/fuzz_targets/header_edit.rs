//! Rewrite mode's frame parsing and editing (`mpfilter::probe`, module `addressing`): the addresses learnt
//! from what a stack sends, the address a received frame is for, whether it asks for an owner,
//! and the header edit made in a slot's copy of a frame's first bytes. Nothing panics or reads
//! past what it is given; the edit keeps the length, puts the new MAC in the source, touches
//! nothing before it, and a neighbour discovery message whose checksum verified still verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpfilter::probe::{destination_address, edit_header, is_address_query, source_address};

/// The ICMPv6 message of an untagged IPv6 frame whose checksum verifies, as (start, length).
fn verified_icmpv6(frame: &[u8]) -> Option<(usize, usize)> {
    if frame.get(12..14)? != [0x86, 0xDD] || *frame.get(20)? != 58 {
        return None;
    }
    let plen = usize::from(u16::from_be_bytes([frame[18], frame[19]]));
    let msg = frame.get(54..54 + plen)?;
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for p in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]));
        }
    };
    add(&frame[22..54]);
    add(&u32::try_from(plen).ok()?.to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(msg);
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    (sum == 0xFFFF).then_some((54, plen))
}

fuzz_target!(|data: &[u8]| {
    let Some((mac, frame)) = data.split_first_chunk::<6>() else {
        return;
    };
    let _ = source_address(frame);
    let _ = destination_address(frame);
    let _ = is_address_query(frame);
    // A slot holds a frame's first 128 bytes.
    let mut h = frame[..frame.len().min(128)].to_vec();
    let before = h.clone();
    edit_header(&mut h, *mac);
    assert_eq!(h.len(), before.len(), "the length is kept");
    if h.len() >= 12 {
        assert_eq!(&h[6..12], mac, "the source is the new MAC");
        assert_eq!(h[..6], before[..6], "the destination is untouched");
    } else {
        assert_eq!(h, before, "too short to edit");
    }
    if verified_icmpv6(&before).is_some() {
        assert!(verified_icmpv6(&h).is_some(), "a verified message still verifies");
    }
});
