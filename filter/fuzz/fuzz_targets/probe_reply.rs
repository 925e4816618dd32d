//! Received frames checked against a member's probe (ARP replies, neighbour advertisements and
//! anything else a miniport indicates): the check never panics, reads only what it is given, and
//! a frame that answers an IPv6 probe carries a valid ICMPv6 checksum over its whole message
//! (so a corrupted advertisement cannot keep a dead path alive).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpfilter::probe::{ProbeTarget, Reply, check_reply, link_local_of};

fuzz_target!(|data: &[u8]| {
    // First byte: IPv4 or IPv6 target; then the member's MAC; then the target; the rest: a frame.
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Some((mac, rest)) = rest.split_first_chunk::<6>() else {
        return;
    };
    let (target, frame) = if kind & 1 == 0 {
        let Some((ip, frame)) = rest.split_first_chunk::<4>() else {
            return;
        };
        (ProbeTarget::V4(*ip), frame)
    } else {
        let Some((ip, frame)) = rest.split_first_chunk::<16>() else {
            return;
        };
        (ProbeTarget::V6(*ip), frame)
    };
    let reply = check_reply(target, *mac, frame);
    if reply == Reply::Answer {
        assert_eq!(&frame[..6], mac, "an answer is addressed to the member");
        if let ProbeTarget::V6(ip) = target {
            assert_eq!(frame[38..54], link_local_of(*mac), "to its link-local address");
            assert_eq!(frame[62..78], ip, "for the target");
            let payload = usize::from(u16::from_be_bytes([frame[18], frame[19]]));
            let mut sum: u32 = 0;
            let mut add = |b: &[u8]| {
                for p in b.chunks(2) {
                    sum += u32::from(u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]));
                }
            };
            add(&frame[22..54]);
            add(&u32::try_from(payload).unwrap().to_be_bytes());
            add(&[0, 0, 0, 58]);
            add(&frame[54..54 + payload]);
            while sum > 0xFFFF {
                sum = (sum & 0xFFFF) + (sum >> 16);
            }
            assert_eq!(sum, 0xFFFF, "the checksum verifies");
        }
    }
});
