//! OID requests with arbitrary buffers: the snapshot and settings decoders never panic, and the
//! handler answers with a documented status, consistent byte counts, and changes the settings
//! only for a valid set.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpshim::Monitor;
use mpshim::contract::{
    HEALTH_LEN_V1, HealthSnapshot, OID_MPSHIM_HEALTH, PathIdentity, SETTINGS_LEN_V1, Settings,
};
use mpshim::oid::{
    NDIS_STATUS_BUFFER_TOO_SHORT, NDIS_STATUS_INVALID_DATA, NDIS_STATUS_INVALID_LENGTH,
    NDIS_STATUS_INVALID_OID, NDIS_STATUS_NOT_SUPPORTED, NDIS_STATUS_SUCCESS, OidRequest, handle,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = HealthSnapshot::decode(data) {
        assert_eq!(HealthSnapshot::decode(&s.encode()), Ok(s));
    }
    let decoded = Settings::decode(data);
    if let Ok(s) = decoded {
        assert_eq!(Settings::decode(&s.encode()), Ok(s));
    }

    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let oid = if selector & 0x80 == 0 {
        OID_MPSHIM_HEALTH
    } else {
        0x0001_0101
    };
    let mut monitor = Monitor::new(PathIdentity::default(), Settings::default(), 0).unwrap();
    let before = monitor.settings();
    match selector & 0x3 {
        0 => {
            let mut buffer = [0u8; 160];
            let len = body.len().min(buffer.len());
            let out = handle(
                OidRequest::Query {
                    oid,
                    buffer: &mut buffer[..len],
                },
                &mut monitor,
                1,
            );
            if oid != OID_MPSHIM_HEALTH {
                assert_eq!(
                    (out.status, out.bytes_transferred, out.bytes_needed),
                    (NDIS_STATUS_INVALID_OID, 0, 0)
                );
            } else if len < HEALTH_LEN_V1 {
                assert_eq!(
                    (out.status, out.bytes_transferred, out.bytes_needed),
                    (NDIS_STATUS_BUFFER_TOO_SHORT, 0, 88)
                );
            } else {
                assert_eq!(
                    (out.status, out.bytes_transferred),
                    (NDIS_STATUS_SUCCESS, 88)
                );
                assert!(HealthSnapshot::decode(&buffer[..len]).is_ok());
            }
        }
        1 => {
            let out = handle(OidRequest::Set { oid, buffer: body }, &mut monitor, 1);
            let valid = Settings::decode(body).ok().filter(|s| s.validate().is_ok());
            match out.status {
                NDIS_STATUS_SUCCESS => {
                    assert_eq!(oid, OID_MPSHIM_HEALTH);
                    assert_eq!(Some(monitor.settings()), valid);
                    assert_eq!(out.bytes_transferred, SETTINGS_LEN_V1 as u32);
                }
                NDIS_STATUS_INVALID_LENGTH => {
                    assert!(out.bytes_needed as usize > body.len());
                    assert_eq!(monitor.settings(), before);
                }
                NDIS_STATUS_INVALID_DATA => {
                    assert!(valid.is_none() && out.refused.is_some());
                    assert_eq!(monitor.settings(), before);
                }
                NDIS_STATUS_INVALID_OID => assert_ne!(oid, OID_MPSHIM_HEALTH),
                other => panic!("unexpected status {other:#x}"),
            }
        }
        _ => {
            let out = handle(
                OidRequest::Other {
                    oid,
                    request_type: u32::from(selector),
                },
                &mut monitor,
                1,
            );
            let expected = if oid == OID_MPSHIM_HEALTH {
                NDIS_STATUS_NOT_SUPPORTED
            } else {
                NDIS_STATUS_INVALID_OID
            };
            assert_eq!(out.status, expected);
        }
    }
});
