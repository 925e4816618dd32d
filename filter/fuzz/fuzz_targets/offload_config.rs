//! Offload configurations from below (the attach parameters' DefaultOffloadConfiguration, a
//! miniport's NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG): reading never panics, and a narrowed copy
//! is a readable configuration within both the original's and the group's limits that differs
//! from the original only in its LSOv2 fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpfilter::ndis::OffloadLimits;
use mpfilter::ndis::offload::NarrowedOffload;

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes: the group's limits (IPv4, IPv6); the rest: the buffer from below.
    let Some((head, buffer)) = data.split_first_chunk::<8>() else {
        return;
    };
    let limits = OffloadLimits {
        lso_v4_max: u32::from_le_bytes([head[0], head[1], head[2], head[3]]),
        lso_v6_max: u32::from_le_bytes([head[4], head[5], head[6], head[7]]),
    };
    let current = OffloadLimits::from_bytes(buffer);
    let Some(n) = NarrowedOffload::of(buffer, limits) else {
        return;
    };
    let current = current.expect("only a readable configuration is narrowed");
    let copy = &n.bytes[..n.len];
    assert_eq!(n.len, buffer.len());
    let read = OffloadLimits::from_bytes(copy).expect("the copy is readable");
    assert_eq!(read, n.limits);
    assert!(read.lso_v4_max <= current.lso_v4_max && read.lso_v4_max <= limits.lso_v4_max);
    assert!(read.lso_v6_max <= current.lso_v6_max && read.lso_v6_max <= limits.lso_v6_max);
    assert_ne!(read, current, "a copy is made only when something narrows");
    for (i, (a, b)) in buffer.iter().zip(copy).enumerate() {
        if !(0x50..0x6C).contains(&i) {
            assert_eq!(a, b, "byte {i} outside the LSOv2 fields");
        }
    }
});
