//! The NDIS structures the miniport edge fills, declared here so mpshim depends on nothing.
//!
//! Building them is safe (they only hold pointers); handing them to NDIS is the edge's job.
#![forbid(unsafe_code)]

use core::ffi::c_void;

use crate::contract::STATUS_CODE;

/// NDIS_HANDLE.
pub type NdisHandle = *mut c_void;

/// NDIS_OBJECT_TYPE_STATUS_INDICATION.
pub const OBJECT_TYPE_STATUS_INDICATION: u8 = 0x98;
/// NDIS_STATUS_INDICATION_REVISION_1.
pub const STATUS_INDICATION_REVISION_1: u8 = 1;
/// NDIS_SIZEOF_STATUS_INDICATION_REVISION_1 (x64).
pub const SIZEOF_STATUS_INDICATION_REVISION_1: u16 = 0x70;

/// NDIS_OBJECT_HEADER.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NdisObjectHeader {
    /// Object type.
    pub object_type: u8,
    /// Revision of the structure.
    pub revision: u8,
    /// Size of the structure.
    pub size: u16,
}

/// GUID in its C layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawGuid {
    /// Data1.
    pub data1: u32,
    /// Data2.
    pub data2: u16,
    /// Data3.
    pub data3: u16,
    /// Data4.
    pub data4: [u8; 8],
}

/// NDIS_STATUS_INDICATION (revision 1).
#[repr(C)]
#[derive(Debug)]
pub struct NdisStatusIndication {
    /// Type 0x98, revision 1, size 0x70.
    pub header: NdisObjectHeader,
    /// The MiniportAdapterHandle.
    pub source_handle: NdisHandle,
    /// 0: not port specific.
    pub port_number: u32,
    /// The status code.
    pub status_code: i32,
    /// Reserved for NDIS; a miniport sets zero.
    pub flags: u32,
    /// NULL: indicate to every binding.
    pub destination_handle: NdisHandle,
    /// NULL: not tied to an OID request.
    pub request_id: *mut c_void,
    /// The status buffer.
    pub status_buffer: *mut c_void,
    /// Bytes in the status buffer.
    pub status_buffer_size: u32,
    /// Left zero: the payload carries its own tag.
    pub guid: RawGuid,
    /// Reserved for NDIS.
    pub ndis_reserved: [*mut c_void; 4],
}

impl NdisStatusIndication {
    /// The indication of a path event: source `adapter`, code [`STATUS_CODE`], buffer `payload`.
    ///
    /// The indication borrows `payload` by address; the caller keeps it alive (and unmoved) until
    /// the status call returns — NDIS does not read it afterwards.
    pub fn path_event(adapter: NdisHandle, payload: &[u8]) -> Self {
        Self {
            header: NdisObjectHeader {
                object_type: OBJECT_TYPE_STATUS_INDICATION,
                revision: STATUS_INDICATION_REVISION_1,
                size: SIZEOF_STATUS_INDICATION_REVISION_1,
            },
            source_handle: adapter,
            port_number: 0,
            status_code: STATUS_CODE,
            flags: 0,
            destination_handle: core::ptr::null_mut(),
            request_id: core::ptr::null_mut(),
            // NDIS takes a PVOID but only reads the buffer.
            status_buffer: payload.as_ptr().cast_mut().cast(),
            status_buffer_size: u32::try_from(payload.len()).expect("payloads are small"),
            guid: RawGuid::default(),
            ndis_reserved: [core::ptr::null_mut(); 4],
        }
    }
}

/// The head of NDIS_OID_REQUEST up to the end of its DATA union (x64), as seen by a Query or Set.
///
/// The real structure is larger (0xEC or more); the edge only reads and writes through a pointer
/// to the real one, within this prefix.
#[repr(C)]
#[derive(Debug)]
pub struct NdisOidRequestPrefix {
    /// Type 0x96.
    pub header: NdisObjectHeader,
    /// NDIS_REQUEST_TYPE.
    pub request_type: u32,
    /// Port.
    pub port_number: u32,
    /// Timeout in seconds.
    pub timeout: u32,
    /// Request id.
    pub request_id: *mut c_void,
    /// Request handle.
    pub request_handle: NdisHandle,
    /// DATA.*.Oid.
    pub oid: u32,
    /// DATA.*.InformationBuffer.
    pub information_buffer: *mut c_void,
    /// DATA.*.InformationBufferLength.
    pub information_buffer_length: u32,
    /// DATA.QUERY_INFORMATION.BytesWritten / DATA.SET_INFORMATION.BytesRead.
    pub bytes_transferred: u32,
    /// DATA.*.BytesNeeded.
    pub bytes_needed: u32,
    /// The rest of the DATA union (the METHOD_INFORMATION view is longer).
    pub data_tail: [u32; 3],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn status_indication_matches_the_x64_layout() {
        assert_eq!(size_of::<NdisStatusIndication>(), 0x70);
        assert_eq!(offset_of!(NdisStatusIndication, source_handle), 0x08);
        assert_eq!(offset_of!(NdisStatusIndication, port_number), 0x10);
        assert_eq!(offset_of!(NdisStatusIndication, status_code), 0x14);
        assert_eq!(offset_of!(NdisStatusIndication, flags), 0x18);
        assert_eq!(offset_of!(NdisStatusIndication, destination_handle), 0x20);
        assert_eq!(offset_of!(NdisStatusIndication, request_id), 0x28);
        assert_eq!(offset_of!(NdisStatusIndication, status_buffer), 0x30);
        assert_eq!(offset_of!(NdisStatusIndication, status_buffer_size), 0x38);
        assert_eq!(offset_of!(NdisStatusIndication, guid), 0x3C);
        assert_eq!(offset_of!(NdisStatusIndication, ndis_reserved), 0x50);
        assert_eq!(size_of::<RawGuid>(), 16);
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn oid_request_prefix_matches_the_x64_layout() {
        assert_eq!(offset_of!(NdisOidRequestPrefix, request_type), 0x04);
        assert_eq!(offset_of!(NdisOidRequestPrefix, port_number), 0x08);
        assert_eq!(offset_of!(NdisOidRequestPrefix, timeout), 0x0C);
        assert_eq!(offset_of!(NdisOidRequestPrefix, request_id), 0x10);
        assert_eq!(offset_of!(NdisOidRequestPrefix, request_handle), 0x18);
        assert_eq!(offset_of!(NdisOidRequestPrefix, oid), 0x20);
        assert_eq!(offset_of!(NdisOidRequestPrefix, information_buffer), 0x28);
        assert_eq!(
            offset_of!(NdisOidRequestPrefix, information_buffer_length),
            0x30
        );
        assert_eq!(offset_of!(NdisOidRequestPrefix, bytes_transferred), 0x34);
        assert_eq!(offset_of!(NdisOidRequestPrefix, bytes_needed), 0x38);
        // NdisReserved follows the DATA union at 0x48.
        assert_eq!(size_of::<NdisOidRequestPrefix>(), 0x48);
    }

    #[test]
    fn path_event_indication_points_at_the_payload() {
        let payload = [7u8; 80];
        let mut adapter = 0u8;
        let handle: NdisHandle = (&raw mut adapter).cast();
        let ind = NdisStatusIndication::path_event(handle, &payload);
        assert_eq!(
            ind.header,
            NdisObjectHeader {
                object_type: 0x98,
                revision: 1,
                size: 0x70
            }
        );
        assert_eq!(ind.source_handle, handle);
        assert_eq!(ind.status_code, 0x4001_0019);
        assert_eq!(
            ind.status_buffer.cast_const().cast::<u8>(),
            payload.as_ptr()
        );
        assert_eq!(ind.status_buffer_size, 80);
        assert!(ind.destination_handle.is_null() && ind.request_id.is_null());
        assert_eq!((ind.port_number, ind.flags), (0, 0));
    }
}
