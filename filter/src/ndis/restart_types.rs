//! `#[repr(C)]` x64 layouts and constants of the restart attributes NDIS passes to FilterRestart
//! (`NDIS_FILTER_RESTART_PARAMETERS.RestartAttributes`): a linked list of
//! `NDIS_RESTART_ATTRIBUTES` entries whose first one, `OID_GEN_MINIPORT_RESTART_ATTRIBUTES`, holds
//! `NDIS_RESTART_GENERAL_ATTRIBUTES` (re-exported by [`super::types`] and [`super::consts`]).
//!
//! Sources: the field order of `ns-ndis-_ndis_restart_attributes` (`Data` is
//! `DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT)`) and `ns-ndis-_ndis_restart_general_attributes`
//! (revision 2 adds `MaxLookaheadSizeAccessed`, NDIS 6.20); the values of
//! `OID_GEN_MINIPORT_RESTART_ATTRIBUTES` (66077) and
//! `NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES` (162) as the Windows metadata publishes them
//! (windows-rs / windows-sys constants). mingw-w64 has none of these, so `tools/hdrcheck` lists
//! them as resting on documentation.
#![allow(non_snake_case, non_camel_case_types, clippy::doc_markdown)]

use super::types::{NDIS_OBJECT_HEADER, NDIS_OID};
use core::ffi::c_void;

/// `OID_GEN_MINIPORT_RESTART_ATTRIBUTES`: the restart attributes entry holding
/// [`NDIS_RESTART_GENERAL_ATTRIBUTES`] (never queried or set).
pub const OID_GEN_MINIPORT_RESTART_ATTRIBUTES: NDIS_OID = 0x0001_021D;
/// `NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES`.
pub const NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES: u8 = 0xA2;
/// `NDIS_RESTART_GENERAL_ATTRIBUTES_REVISION_1` (NDIS 6.0).
pub const NDIS_RESTART_GENERAL_ATTRIBUTES_REVISION_1: u8 = 1;
/// `NDIS_RESTART_GENERAL_ATTRIBUTES_REVISION_2` (NDIS 6.20: `MaxLookaheadSizeAccessed`).
pub const NDIS_RESTART_GENERAL_ATTRIBUTES_REVISION_2: u8 = 2;
/// `NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_1`: through `SupportedOidListLength`.
pub const NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_1: u16 = 0x54;
/// `NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_2`: through `MaxLookaheadSizeAccessed`.
pub const NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_2: u16 = 0x58;

/// `NDIS_RESTART_ATTRIBUTES`: one entry of the list; `DataLength` bytes of data follow at
/// [`RESTART_ATTRIBUTES_DATA_OFFSET`].
#[repr(C)]
pub struct NDIS_RESTART_ATTRIBUTES {
    /// The next entry, or NULL (0x00).
    pub Next: *mut NDIS_RESTART_ATTRIBUTES,
    /// What the data is (0x08).
    pub Oid: NDIS_OID,
    /// Bytes of data (0x0C).
    pub DataLength: u32,
}

/// Where an entry's `Data` starts: `DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT)` after the three
/// fields above.
pub const RESTART_ATTRIBUTES_DATA_OFFSET: usize = 0x10;

/// `NDIS_RESTART_GENERAL_ATTRIBUTES`, revision 2 (0x58 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_RESTART_GENERAL_ATTRIBUTES {
    /// Type [`NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES`] (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// MTU, bytes (0x04).
    pub MtuSize: u32,
    /// Transmit link speed, bits/s (0x08).
    pub MaxXmitLinkSpeed: u64,
    /// Receive link speed, bits/s (0x10).
    pub MaxRcvLinkSpeed: u64,
    /// Lookahead size (0x18).
    pub LookaheadSize: u32,
    /// `NDIS_MAC_OPTION_*` (0x1C).
    pub MacOptions: u32,
    /// `NDIS_PACKET_TYPE_*` the miniport supports (0x20).
    pub SupportedPacketFilters: u32,
    /// Most multicast addresses (0x24).
    pub MaxMulticastListSize: u32,
    /// RSS capabilities (0x28).
    pub RecvScaleCapabilities: *mut c_void,
    /// `NET_IF_ACCESS_TYPE` (0x30).
    pub AccessType: i32,
    /// Flags (0x34).
    pub Flags: u32,
    /// `NET_IF_CONNECTION_TYPE` (0x38).
    pub ConnectionType: i32,
    /// `NDIS_STATISTICS_*` supported (0x3C).
    pub SupportedStatistics: u32,
    /// Data backfill the drivers below want in front of a send's data (0x40).
    pub DataBackFillSize: u32,
    /// NBL context backfill the drivers below want (0x44).
    pub ContextBackFillSize: u32,
    /// Supported OIDs (0x48).
    pub SupportedOidList: *mut NDIS_OID,
    /// Bytes of `SupportedOidList` (0x50).
    pub SupportedOidListLength: u32,
    /// Revision 2: the most lookahead any driver accessed (0x54).
    pub MaxLookaheadSizeAccessed: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn restart_attributes_entry_layout() {
        // [DDI] ns-ndis-_ndis_restart_attributes
        type E = NDIS_RESTART_ATTRIBUTES;
        assert_eq!(offset_of!(E, Next), 0);
        assert_eq!(offset_of!(E, Oid), 8);
        assert_eq!(offset_of!(E, DataLength), 0xC);
        assert_eq!(size_of::<E>(), RESTART_ATTRIBUTES_DATA_OFFSET);
    }

    #[test]
    fn restart_general_attributes_layout() {
        // [DDI] ns-ndis-_ndis_restart_general_attributes
        type G = NDIS_RESTART_GENERAL_ATTRIBUTES;
        assert_eq!(offset_of!(G, MtuSize), 4);
        assert_eq!(offset_of!(G, MaxXmitLinkSpeed), 8);
        assert_eq!(offset_of!(G, MaxRcvLinkSpeed), 0x10);
        assert_eq!(offset_of!(G, LookaheadSize), 0x18);
        assert_eq!(offset_of!(G, MacOptions), 0x1C);
        assert_eq!(offset_of!(G, SupportedPacketFilters), 0x20);
        assert_eq!(offset_of!(G, MaxMulticastListSize), 0x24);
        assert_eq!(offset_of!(G, RecvScaleCapabilities), 0x28);
        assert_eq!(offset_of!(G, AccessType), 0x30);
        assert_eq!(offset_of!(G, Flags), 0x34);
        assert_eq!(offset_of!(G, ConnectionType), 0x38);
        assert_eq!(offset_of!(G, SupportedStatistics), 0x3C);
        assert_eq!(offset_of!(G, DataBackFillSize), 0x40);
        assert_eq!(offset_of!(G, ContextBackFillSize), 0x44);
        assert_eq!(offset_of!(G, SupportedOidList), 0x48);
        assert_eq!(offset_of!(G, SupportedOidListLength), 0x50);
        assert_eq!(offset_of!(G, MaxLookaheadSizeAccessed), 0x54);
        assert_eq!(size_of::<G>(), 0x58);
        // NDIS_SIZEOF_* is RTL_SIZEOF_THROUGH_FIELD of the revision's last field.
        assert_eq!(
            usize::from(NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_1),
            offset_of!(G, SupportedOidListLength) + 4
        );
        assert_eq!(
            usize::from(NDIS_SIZEOF_RESTART_GENERAL_ATTRIBUTES_REVISION_2),
            offset_of!(G, MaxLookaheadSizeAccessed) + 4
        );
    }
}
