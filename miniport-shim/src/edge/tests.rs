use super::*;
use crate::contract::{
    Evidence, HealthSnapshot, OID_MPSHIM_HEALTH, PathEventKind, PathIdentity, Reason, STATUS_CODE,
    Settings, classify_status,
};
use crate::oid::{NDIS_STATUS_BUFFER_TOO_SHORT, NDIS_STATUS_SUCCESS};
use core::cell::Cell;
use core::ffi::c_void;

extern crate std;

std::thread_local! {
    static SEEN: Cell<Option<(usize, i32, PathEvent)>> = const { Cell::new(None) };
}

/// Stands in for NdisMIndicateStatusEx: decodes the indication as the filter would.
unsafe extern "system" fn record(handle: NdisHandle, indication: *mut NdisStatusIndication) {
    // SAFETY: `indicate_path_event` passes a live indication.
    let ind = unsafe { &*indication };
    assert_eq!(ind.source_handle, handle);
    // SAFETY: the indication points at its payload for `status_buffer_size` bytes during the call.
    let payload = unsafe {
        core::slice::from_raw_parts(
            ind.status_buffer.cast::<u8>(),
            ind.status_buffer_size as usize,
        )
    };
    let event = classify_status(ind.status_code, payload).unwrap().unwrap();
    SEEN.with(|s| s.set(Some((handle as usize, ind.status_code, event))));
}

fn event() -> PathEvent {
    PathEvent {
        kind: PathEventKind::Failed,
        reason: Reason::HeartbeatLost,
        sequence: 3,
        path: PathIdentity {
            net_luid: 1,
            if_index: 2,
        },
        at_ns: 10,
        since_ns: 4,
        evidence: Evidence::default(),
    }
}

#[test]
fn the_indication_reaches_ndis_decodable() {
    let mut adapter = 0u64;
    let handle: NdisHandle = (&raw mut adapter).cast();
    // SAFETY: `record` honours the NdisMIndicateStatusEx shape and reads only the indication.
    unsafe { indicate_path_event(record, handle, &event()) };
    let seen = SEEN.with(Cell::take).unwrap();
    assert_eq!(seen, (handle as usize, STATUS_CODE, event()));
}

fn request(request_type: u32, oid: u32, buffer: &mut [u8]) -> NdisOidRequestPrefix {
    NdisOidRequestPrefix {
        header: crate::indication::NdisObjectHeader {
            object_type: 0x96,
            revision: 1,
            size: 0xEC,
        },
        request_type,
        port_number: 0,
        timeout: 0,
        request_id: core::ptr::null_mut(),
        request_handle: core::ptr::null_mut(),
        oid,
        information_buffer: buffer.as_mut_ptr().cast::<c_void>(),
        information_buffer_length: u32::try_from(buffer.len()).unwrap(),
        bytes_transferred: 0xDEAD,
        bytes_needed: 0xBEEF,
        data_tail: [0; 3],
    }
}

fn monitor() -> Monitor {
    Monitor::new(PathIdentity::default(), Settings::default(), 0).unwrap()
}

#[test]
fn an_oid_query_fills_the_buffer_and_the_byte_counts() {
    let mut m = monitor();
    let mut buf = [0u8; 100];
    let mut req = request(REQUEST_QUERY_INFORMATION, OID_MPSHIM_HEALTH, &mut buf);
    // SAFETY: `req` is a live request whose buffer is `buf`, used by nothing else meanwhile.
    let status = unsafe { handle_oid_request(&raw mut req, &mut m, 5) };
    assert_eq!(status, Some(NDIS_STATUS_SUCCESS));
    assert_eq!((req.bytes_transferred, req.bytes_needed), (88, 0));
    assert_eq!(HealthSnapshot::decode(&buf).unwrap().now_ns, 5);

    let mut small = [0u8; 8];
    let mut req = request(REQUEST_QUERY_INFORMATION, OID_MPSHIM_HEALTH, &mut small);
    // SAFETY: as above.
    let status = unsafe { handle_oid_request(&raw mut req, &mut m, 5) };
    assert_eq!(status, Some(NDIS_STATUS_BUFFER_TOO_SHORT));
    assert_eq!((req.bytes_transferred, req.bytes_needed), (0, 88));
}

#[test]
fn an_oid_set_with_a_null_buffer_is_short() {
    let mut m = monitor();
    let mut req = request(REQUEST_SET_INFORMATION, OID_MPSHIM_HEALTH, &mut []);
    req.information_buffer = core::ptr::null_mut();
    // SAFETY: a live request; its null buffer has length 0.
    let status = unsafe { handle_oid_request(&raw mut req, &mut m, 0) };
    assert_eq!(status, Some(crate::oid::NDIS_STATUS_INVALID_LENGTH));
    assert_eq!(req.bytes_needed, 52);
}

#[test]
fn an_oid_set_applies_settings_through_the_raw_request() {
    let mut m = monitor();
    let wanted = Settings {
        hysteresis_ms: 0,
        ..Settings::default()
    };
    let mut buf = wanted.encode();
    let mut req = request(REQUEST_SET_INFORMATION, OID_MPSHIM_HEALTH, &mut buf);
    // SAFETY: as above.
    let status = unsafe { handle_oid_request(&raw mut req, &mut m, 0) };
    assert_eq!(status, Some(NDIS_STATUS_SUCCESS));
    assert_eq!(req.bytes_transferred, 52);
    assert_eq!(m.settings(), wanted);
}

#[test]
fn another_oid_is_left_to_the_miniport_untouched() {
    let mut m = monitor();
    let mut buf = [0u8; 100];
    let mut req = request(REQUEST_QUERY_INFORMATION, 0x0001_0202, &mut buf);
    // SAFETY: as above.
    let status = unsafe { handle_oid_request(&raw mut req, &mut m, 0) };
    assert_eq!(status, None);
    assert_eq!((req.bytes_transferred, req.bytes_needed), (0xDEAD, 0xBEEF));
    assert!(buf.iter().all(|&b| b == 0));
}
