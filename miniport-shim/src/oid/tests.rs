use super::*;
use crate::contract::{HealthSnapshot, HealthState, PathIdentity, SETTINGS_TAG};

fn monitor() -> Monitor {
    Monitor::new(
        PathIdentity {
            net_luid: 5,
            if_index: 6,
        },
        Settings::default(),
        0,
    )
    .unwrap()
}

#[test]
fn a_query_returns_the_snapshot() {
    let mut m = monitor();
    let mut buf = [0u8; 128];
    let out = handle(
        OidRequest::Query {
            oid: OID_MPSHIM_HEALTH,
            buffer: &mut buf,
        },
        &mut m,
        7,
    );
    assert_eq!(out, outcome(NDIS_STATUS_SUCCESS, 88, 0));
    let s = HealthSnapshot::decode(&buf[..88]).unwrap();
    assert_eq!(
        (s.state, s.now_ns, s.path.if_index),
        (HealthState::Healthy, 7, 6)
    );
    assert!(
        buf[88..].iter().all(|&b| b == 0),
        "nothing written past BytesWritten"
    );
}

#[test]
fn a_short_query_buffer_asks_for_the_size_and_is_left_alone() {
    let mut m = monitor();
    for len in [0, 1, 20, 87] {
        let mut buf = [0xAAu8; 87];
        let out = handle(
            OidRequest::Query {
                oid: OID_MPSHIM_HEALTH,
                buffer: &mut buf[..len],
            },
            &mut m,
            0,
        );
        assert_eq!(out, outcome(NDIS_STATUS_BUFFER_TOO_SHORT, 0, 88));
        assert!(buf.iter().all(|&b| b == 0xAA));
    }
}

#[test]
fn a_set_applies_the_settings() {
    let mut m = monitor();
    let wanted = Settings {
        debounce_ms: 10,
        ..Settings::default()
    };
    let out = handle(
        OidRequest::Set {
            oid: OID_MPSHIM_HEALTH,
            buffer: &wanted.encode(),
        },
        &mut m,
        0,
    );
    assert_eq!(out, outcome(NDIS_STATUS_SUCCESS, 52, 0));
    assert_eq!(m.settings(), wanted);
}

#[test]
fn a_short_set_buffer_is_an_invalid_length_with_bytes_needed() {
    let mut m = monitor();
    let b = Settings::default().encode();
    for len in [0, 19, 51] {
        let out = handle(
            OidRequest::Set {
                oid: OID_MPSHIM_HEALTH,
                buffer: &b[..len],
            },
            &mut m,
            0,
        );
        assert_eq!(out, outcome(NDIS_STATUS_INVALID_LENGTH, 0, 52));
    }
    // A newer writer that declared more bytes than it passed.
    let mut grown = [0u8; 60];
    grown[..52].copy_from_slice(&b);
    grown[17] = 2;
    grown[18] = 64;
    let out = handle(
        OidRequest::Set {
            oid: OID_MPSHIM_HEALTH,
            buffer: &grown,
        },
        &mut m,
        0,
    );
    assert_eq!(out, outcome(NDIS_STATUS_INVALID_LENGTH, 0, 64));
}

#[test]
fn foreign_or_invalid_settings_are_invalid_data_and_change_nothing() {
    let mut m = monitor();
    let mut foreign = Settings::default().encode();
    foreign[0] ^= 0xFF;
    let out = handle(
        OidRequest::Set {
            oid: OID_MPSHIM_HEALTH,
            buffer: &foreign,
        },
        &mut m,
        0,
    );
    assert_eq!(out.status, NDIS_STATUS_INVALID_DATA);
    assert_eq!(
        out.refused,
        Some(SetRefusal::Decode(DecodeError::ForeignTag))
    );
    let bad = Settings {
        error_rate_permille: 0,
        ..Settings::default()
    };
    let out = handle(
        OidRequest::Set {
            oid: OID_MPSHIM_HEALTH,
            buffer: &bad.encode(),
        },
        &mut m,
        0,
    );
    assert_eq!(out.status, NDIS_STATUS_INVALID_DATA);
    assert!(matches!(out.refused, Some(SetRefusal::Invalid(_))));
    assert_eq!(m.settings(), Settings::default());
    assert_eq!(&foreign[4..16], &SETTINGS_TAG.to_bytes()[4..16]);
}

#[test]
fn other_request_types_are_not_supported_and_other_oids_invalid() {
    let mut m = monitor();
    let method = handle(
        OidRequest::Other {
            oid: OID_MPSHIM_HEALTH,
            request_type: 12,
        },
        &mut m,
        0,
    );
    assert_eq!(method, outcome(NDIS_STATUS_NOT_SUPPORTED, 0, 0));
    let mut buf = [0u8; 128];
    let foreign = handle(
        OidRequest::Query {
            oid: 0x0001_0101,
            buffer: &mut buf,
        },
        &mut m,
        0,
    );
    assert_eq!(foreign, outcome(NDIS_STATUS_INVALID_OID, 0, 0));
    assert!(buf.iter().all(|&b| b == 0));
}

#[test]
fn the_status_constants_are_the_ndis_values() {
    assert_eq!(NDIS_STATUS_BUFFER_TOO_SHORT.cast_unsigned(), 0xC001_0016);
    assert_eq!(NDIS_STATUS_INVALID_OID.cast_unsigned(), 0xC001_0017);
    assert_eq!(NDIS_STATUS_INVALID_LENGTH.cast_unsigned(), 0xC001_0014);
    assert_eq!(NDIS_STATUS_INVALID_DATA.cast_unsigned(), 0xC001_0015);
    assert_eq!(NDIS_STATUS_NOT_SUPPORTED.cast_unsigned(), 0xC000_00BB);
    assert_eq!(OID_MPSHIM_HEALTH >> 24, 0xFF, "implementation-specific OID");
}
