//! Frames from the protocol above: classifying never panics, never reads past the frame, and its
//! keys follow from what it says it read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpfilter::flow::{L3, classify};

fuzz_target!(|data: &[u8]| {
    let (vlan, frame) = match data.split_first() {
        Some((&b, rest)) if b & 1 == 1 => (Some(u16::from(b) << 4), rest),
        Some((_, rest)) => (None, rest),
        None => (None, data),
    };
    let c = classify(frame, vlan);
    assert_eq!(c, classify(frame, vlan), "deterministic");
    if c.l3 == L3::Other {
        assert!(!c.ports);
        assert_eq!(c.flow.l34, c.flow.l2, "non-IP frames balance on L2");
    }
    // Bytes past the frame cannot matter: classify a copy with a tail of junk only when the frame
    // was fully read (no malformed reason) and check the keys stay.
    if c.malformed.is_none() {
        let mut longer = frame.to_vec();
        longer.extend_from_slice(&[0xA5; 64]);
        assert_eq!(classify(&longer, vlan), c);
    }
});
