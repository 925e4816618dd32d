//! `#[repr(C)]` x64 layout of `NDIS_OFFLOAD` (revision 3, NDIS 6.30) and its constants: the
//! offload configuration in `NDIS_FILTER_ATTACH_PARAMETERS.DefaultOffloadConfiguration` and in
//! `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` indications (re-exported by [`super::types`] and
//! [`super::consts`]).
//!
//! Sources: `ns-ntddndis-_ndis_offload` and its member structures; the sub-structures' bit-fields
//! are kept as the `u32` words they occupy. Every size and offset is checked against mingw-w64's
//! `ntddndis.h` by `tools/hdrcheck`.
#![allow(non_snake_case, non_camel_case_types, clippy::doc_markdown)]

use super::types::{NDIS_OBJECT_HEADER, NDIS_OID};

/// `NDIS_OBJECT_TYPE_OFFLOAD`.
pub const NDIS_OBJECT_TYPE_OFFLOAD: u8 = 0xA7;
/// `NDIS_OFFLOAD_REVISION_1` (NDIS 6.0).
pub const NDIS_OFFLOAD_REVISION_1: u8 = 1;
/// `NDIS_OFFLOAD_REVISION_3` (NDIS 6.30).
pub const NDIS_OFFLOAD_REVISION_3: u8 = 3;
/// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1`: through `Flags`.
pub const NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1: u16 = 0x70;
/// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3`: through `EncapsulatedPacketTaskOffloadGre`.
pub const NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3: u16 = 0x9C;
/// `OID_TCP_OFFLOAD_CURRENT_CONFIG`.
pub const OID_TCP_OFFLOAD_CURRENT_CONFIG: NDIS_OID = 0xFC01_020B;

/// One direction and IP version of `NDIS_TCP_IP_CHECKSUM_OFFLOAD`: `Encapsulation`, then the
/// bit-field word (options, TCP/UDP/IP checksum support, 2 bits each).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_CHECKSUM_OFFLOAD_DIRECTION {
    /// `NDIS_ENCAPSULATION_*`.
    pub Encapsulation: u32,
    /// The bit-fields.
    pub Bits: u32,
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2`'s per-version part (IPv6 adds a bit-field word).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_LSO_V2_IPV4 {
    /// `NDIS_ENCAPSULATION_*` (0: no LSOv2 for this version).
    pub Encapsulation: u32,
    /// Largest TCP payload the miniport segments, bytes (0: none).
    pub MaxOffLoadSize: u32,
    /// Fewest segments an LSO send must split into.
    pub MinSegmentCount: u32,
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2`'s IPv6 part.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_LSO_V2_IPV6 {
    /// `NDIS_ENCAPSULATION_*` (0: no LSOv2 for this version).
    pub Encapsulation: u32,
    /// Largest TCP payload the miniport segments, bytes (0: none).
    pub MaxOffLoadSize: u32,
    /// Fewest segments an LSO send must split into.
    pub MinSegmentCount: u32,
    /// Extension header and TCP option support (2 bits each).
    pub Bits: u32,
}

/// `NDIS_OFFLOAD`, revision 3 (0x9C bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_OFFLOAD {
    /// Type [`NDIS_OBJECT_TYPE_OFFLOAD`] (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_TCP_IP_CHECKSUM_OFFLOAD`: IPv4 transmit, IPv4 receive, IPv6 transmit, IPv6 receive
    /// (0x04).
    pub Checksum: [NDIS_CHECKSUM_OFFLOAD_DIRECTION; 4],
    /// `NDIS_TCP_LARGE_SEND_OFFLOAD_V1` (IPv4: Encapsulation, MaxOffLoadSize, MinSegmentCount,
    /// option bits) (0x24).
    pub LsoV1: [u32; 4],
    /// `NDIS_IPSEC_OFFLOAD_V1` (0x34).
    pub IPsecV1: [u32; 7],
    /// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2` IPv4 (0x50).
    pub LsoV2IPv4: NDIS_LSO_V2_IPV4,
    /// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2` IPv6 (0x5C).
    pub LsoV2IPv6: NDIS_LSO_V2_IPV6,
    /// `NDIS_OFFLOAD_FLAGS_*` (0x6C).
    pub Flags: u32,
    /// `NDIS_IPSEC_OFFLOAD_V2` (revision 2) (0x70).
    pub IPsecV2: [u32; 8],
    /// `NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD`: IPv4 and IPv6 `Enabled` (revision 3) (0x90).
    pub Rsc: [u8; 2],
    /// The C layout's padding before the next `ULONG`, as a field so that every byte of the
    /// structure is initialised (it is read as bytes) (0x92).
    pub RscPadding: [u8; 2],
    /// `NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD` (revision 3) (0x94).
    pub EncapsulatedPacketTaskOffloadGre: [u32; 2],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn offload_layout() {
        // [DDI] ns-ntddndis-_ndis_offload; [GCC] mingw-w64 ntddndis.h via tools/hdrcheck.
        type O = NDIS_OFFLOAD;
        assert_eq!(offset_of!(O, Checksum), 0x04);
        assert_eq!(offset_of!(O, LsoV1), 0x24);
        assert_eq!(offset_of!(O, IPsecV1), 0x34);
        assert_eq!(offset_of!(O, LsoV2IPv4), 0x50);
        assert_eq!(offset_of!(O, LsoV2IPv6), 0x5C);
        assert_eq!(offset_of!(O, Flags), 0x6C);
        assert_eq!(offset_of!(O, IPsecV2), 0x70);
        assert_eq!(offset_of!(O, Rsc), 0x90);
        assert_eq!(offset_of!(O, RscPadding), 0x92);
        assert_eq!(offset_of!(O, EncapsulatedPacketTaskOffloadGre), 0x94);
        assert_eq!(size_of::<O>(), 0x9C);
        assert_eq!(
            usize::from(NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1),
            offset_of!(O, Flags) + 4
        );
        assert_eq!(
            usize::from(NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3),
            size_of::<O>()
        );
    }
}
