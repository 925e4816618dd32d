//! Status buffers from anyone: the filter's decoder must never panic, and what it accepts must
//! re-encode to the same revision-1 fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpshim::contract::{DecodeError, PathEvent, STATUS_CODE, classify_status};

fuzz_target!(|data: &[u8]| {
    let decoded = PathEvent::decode(data);
    if let Ok(event) = decoded {
        let again = event.encode();
        assert_eq!(PathEvent::decode(&again), Ok(event));
        // The fields a revision-1 reader knows are exactly the ones it was given.
        assert_eq!(&again[20..76], &data[20..76]);
    }
    match classify_status(STATUS_CODE, data) {
        None => assert!(data.len() < 16 || decoded == Err(DecodeError::ForeignTag)),
        Some(result) => assert_eq!(result, decoded),
    }
    assert_eq!(classify_status(0x4001_0017, data), None);
});
