//! `#[repr(C)]` x64 layouts of the NDIS 6.30 structures the filter and the emulator exchange.
//!
//! Field names keep the C spelling so each one can be checked against the headers and the public
//! symbols. Offsets and sizes are asserted in `layout_tests` below; the figures and their sources are
//! in `shared/reference/ndis-lwf-facts.md` §1 (✓ = checked against Microsoft's public symbols).
//! Where C puts a 16-byte-aligned member after a smaller one, the padding is an explicit field
//! named `PaddingN` so the layout is visible in the source rather than implied.
#![allow(non_snake_case, non_camel_case_types, clippy::doc_markdown)]

use core::ffi::c_void;

/// An opaque NDIS handle.
pub type NDIS_HANDLE = *mut c_void;
/// An NDIS status code (an NTSTATUS-style signed 32-bit value).
pub type NDIS_STATUS = i32;
/// An object identifier of an OID request.
pub type NDIS_OID = u32;
/// An NDIS port number (0 is the default port).
pub type NDIS_PORT_NUMBER = u32;
/// A network interface index.
pub type NET_IFINDEX = u32;
/// A network interface LUID (a 64-bit union in C).
pub type NET_LUID = u64;
/// The kernel's BOOLEAN (one byte).
pub type BOOLEAN = u8;
/// `NDIS_MEDIUM` enumeration.
pub type NDIS_MEDIUM = i32;
/// `NDIS_PHYSICAL_MEDIUM` enumeration.
pub type NDIS_PHYSICAL_MEDIUM = i32;
/// `NET_IF_MEDIA_CONNECT_STATE` enumeration.
pub type NET_IF_MEDIA_CONNECT_STATE = i32;
/// `NET_IF_MEDIA_DUPLEX_STATE` enumeration.
pub type NET_IF_MEDIA_DUPLEX_STATE = i32;
/// `NDIS_REQUEST_TYPE` enumeration.
pub type NDIS_REQUEST_TYPE = i32;
/// `EX_POOL_PRIORITY` enumeration.
pub type EX_POOL_PRIORITY = i32;
/// `NET_PNP_EVENT_CODE` enumeration.
pub type NET_PNP_EVENT_CODE = i32;

/// `DRIVER_UNLOAD` routine stored in `DRIVER_OBJECT::DriverUnload`.
pub type DriverUnloadRoutine = unsafe extern "system" fn(DriverObject: *mut DRIVER_OBJECT);

/// Number of IRP major function slots (`IRP_MJ_MAXIMUM_FUNCTION + 1`).
pub const IRP_MJ_COUNT: usize = 28;

/// The kernel's `DRIVER_OBJECT` (x64, size 0x150). The filter writes only `DriverUnload`.
#[repr(C)]
pub struct DRIVER_OBJECT {
    /// `IO_TYPE_DRIVER` (4) (0x00).
    pub Type: i16,
    /// Size of this structure (0x02).
    pub Size: i16,
    /// First device object the driver created (0x08).
    pub DeviceObject: *mut DEVICE_OBJECT,
    /// Flags (0x10).
    pub Flags: u32,
    /// Image base (0x18).
    pub DriverStart: *mut c_void,
    /// Image size (0x20).
    pub DriverSize: u32,
    /// Loader entry (0x28).
    pub DriverSection: *mut c_void,
    /// Driver extension owned by the I/O manager (0x30).
    pub DriverExtension: *mut c_void,
    /// `\Driver\<service>` (0x38).
    pub DriverName: UNICODE_STRING,
    /// Registry hardware database path (0x48).
    pub HardwareDatabase: *mut UNICODE_STRING,
    /// Fast I/O table (0x50).
    pub FastIoDispatch: *mut c_void,
    /// DriverEntry (0x58).
    pub DriverInit: *mut c_void,
    /// StartIo routine (0x60).
    pub DriverStartIo: *mut c_void,
    /// Unload routine, set by DriverEntry (0x68).
    pub DriverUnload: Option<DriverUnloadRoutine>,
    /// IRP dispatch table (0x70).
    pub MajorFunction: [*mut c_void; IRP_MJ_COUNT],
}

/// The kernel's `DEVICE_OBJECT`; opaque to the filter.
#[repr(C)]
pub struct DEVICE_OBJECT {
    _opaque: [u8; 0],
}

/// `NET_DEVICE_PNP_EVENT`; the filter only forwards it.
#[repr(C)]
pub struct NET_DEVICE_PNP_EVENT {
    _opaque: [u8; 0],
}

/// `NDIS_DRIVER_OPTIONAL_HANDLERS`; only its header is ever read.
#[repr(C)]
pub struct NDIS_DRIVER_OPTIONAL_HANDLERS {
    /// Identifies the kind of optional handler set.
    pub Header: NDIS_OBJECT_HEADER,
}

/// `NDIS_OBJECT_HEADER`: type, revision and size at the start of every versioned NDIS structure.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_OBJECT_HEADER {
    /// `NDIS_OBJECT_TYPE_*` (0x00).
    pub Type: u8,
    /// Structure revision (0x01).
    pub Revision: u8,
    /// Size in bytes of the revision the caller filled in (0x02).
    pub Size: u16,
}

impl NDIS_OBJECT_HEADER {
    /// A header with the given type, revision and size.
    pub const fn new(ty: u8, revision: u8, size: u16) -> Self {
        Self {
            Type: ty,
            Revision: revision,
            Size: size,
        }
    }
}

/// `UNICODE_STRING`: a counted UTF-16 string (lengths in bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UNICODE_STRING {
    /// Length in bytes, without a terminator (0x00).
    pub Length: u16,
    /// Capacity of `Buffer` in bytes (0x02).
    pub MaximumLength: u16,
    /// UTF-16 code units (0x08).
    pub Buffer: *mut u16,
}

/// `GUID`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GUID {
    /// First 32 bits (0x00).
    pub Data1: u32,
    /// Next 16 bits (0x04).
    pub Data2: u16,
    /// Next 16 bits (0x06).
    pub Data3: u16,
    /// Last 64 bits (0x08).
    pub Data4: [u8; 8],
}

/// `MDL`: a memory descriptor list entry describing one virtually contiguous buffer.
#[repr(C)]
pub struct MDL {
    /// Next MDL in the chain (0x00).
    pub Next: *mut MDL,
    /// Size of this MDL including its PFN array (0x08).
    pub Size: i16,
    /// `MDL_*` flags (0x0A).
    pub MdlFlags: i16,
    /// Owning process (0x10).
    pub Process: *mut c_void,
    /// System virtual address of the mapped buffer (0x18).
    pub MappedSystemVa: *mut c_void,
    /// Page-aligned start of the buffer (0x20).
    pub StartVa: *mut c_void,
    /// Length of the buffer in bytes (0x28).
    pub ByteCount: u32,
    /// Offset of the buffer within its first page (0x2C).
    pub ByteOffset: u32,
}

/// The `DataLength` union of `NET_BUFFER` (`ULONG` or `SIZE_T`).
#[repr(C)]
#[derive(Clone, Copy)]
pub union NET_BUFFER_DATA_LENGTH {
    /// The length as NDIS reads it.
    pub DataLength: u32,
    /// The same storage as a pointer-sized value.
    pub stDataLength: usize,
}

/// `NET_BUFFER`: one packet's data within a `NET_BUFFER_LIST`.
#[repr(C, align(16))]
pub struct NET_BUFFER {
    /// Next NET_BUFFER of the same list (0x00).
    pub Next: *mut NET_BUFFER,
    /// MDL holding the current data start (0x08).
    pub CurrentMdl: *mut MDL,
    /// Offset of the data start within `CurrentMdl` (0x10).
    pub CurrentMdlOffset: u32,
    /// Bytes of used data (0x18).
    pub DataLength: NET_BUFFER_DATA_LENGTH,
    /// The whole MDL chain (0x20).
    pub MdlChain: *mut MDL,
    /// Offset of the data start from the start of `MdlChain` (0x28).
    pub DataOffset: u32,
    /// Padding: the C header is a union with a 16-byte `SLIST_HEADER` (0x2C).
    pub Padding0: u32,
    /// Checksum bias for partial checksums (0x30).
    pub ChecksumBias: u16,
    /// Reserved (0x32).
    pub Reserved: u16,
    /// Pool the NET_BUFFER came from (0x38).
    pub NdisPoolHandle: NDIS_HANDLE,
    /// Reserved for NDIS (0x40).
    pub NdisReserved: [*mut c_void; 2],
    /// For the protocol or filter that owns the buffer (0x50).
    pub ProtocolReserved: [*mut c_void; 6],
    /// For the miniport (0x80).
    pub MiniportReserved: [*mut c_void; 4],
    /// Physical address of the data (0xA0).
    pub DataPhysicalAddress: i64,
    /// Shared-memory info or scatter-gather list (0xA8).
    pub SharedMemoryInfo: *mut c_void,
}

/// Number of `NetBufferListInfo` slots for NDIS 6.30 on x64 (`MaxNetBufferListInfo`).
pub const MAX_NET_BUFFER_LIST_INFO: usize = 24;

/// `NET_BUFFER_LIST`: a list of packets sharing out-of-band data. Never sized by the filter: NDIS
/// (or the emulator) allocates it, and the real allocation may be larger than this declaration.
#[repr(C, align(16))]
pub struct NET_BUFFER_LIST {
    /// Next NBL in a chain (0x00).
    pub Next: *mut NET_BUFFER_LIST,
    /// First NET_BUFFER (0x08).
    pub FirstNetBuffer: *mut NET_BUFFER,
    /// Context stack (0x10).
    pub Context: *mut NET_BUFFER_LIST_CONTEXT,
    /// Parent of a clone, maintained by the cloning driver (0x18).
    pub ParentNetBufferList: *mut NET_BUFFER_LIST,
    /// Pool the NBL came from (0x20).
    pub NdisPoolHandle: NDIS_HANDLE,
    /// Padding before the 16-byte-aligned reserved area (0x28).
    pub Padding0: *mut c_void,
    /// Reserved for NDIS (0x30).
    pub NdisReserved: [*mut c_void; 2],
    /// For the protocol or filter that owns the NBL (0x40).
    pub ProtocolReserved: [*mut c_void; 4],
    /// For the miniport (0x60).
    pub MiniportReserved: [*mut c_void; 2],
    /// Scratch space for the current owner (0x70).
    pub Scratch: *mut c_void,
    /// Handle of the driver that originated the NBL (0x78).
    pub SourceHandle: NDIS_HANDLE,
    /// `NBL_FLAGS_*` reserved to NDIS (0x80).
    pub NblFlags: u32,
    /// Number of outstanding clones, maintained by the cloning driver (0x84).
    pub ChildRefCount: i32,
    /// `NDIS_NBL_FLAGS_*` (0x88).
    pub Flags: u32,
    /// Completion status (0x8C).
    pub Status: NDIS_STATUS,
    /// Out-of-band info slots, indexed by `NDIS_NET_BUFFER_LIST_INFO` (0x90).
    pub NetBufferListInfo: [*mut c_void; MAX_NET_BUFFER_LIST_INFO],
}

/// `NET_BUFFER_LIST_CONTEXT`: one entry of an NBL's context stack; data follows the header.
#[repr(C, align(16))]
pub struct NET_BUFFER_LIST_CONTEXT {
    /// Next (older) context (0x00).
    pub Next: *mut NET_BUFFER_LIST_CONTEXT,
    /// Size of the context data area (0x08).
    pub Size: u16,
    /// Offset of the used data within the area (0x0A).
    pub Offset: u16,
    /// Padding before the 16-byte-aligned data area (0x0C).
    pub Padding0: u32,
    /// Start of the context data area (0x10).
    pub ContextData: [u8; 0],
}

/// `NET_BUFFER_LIST_POOL_PARAMETERS`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NET_BUFFER_LIST_POOL_PARAMETERS {
    /// Type DEFAULT, revision 1, size 16 (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// Protocol id; 0 for filters (0x04).
    pub ProtocolId: u8,
    /// Whether each NBL comes with one NET_BUFFER (0x05).
    pub fAllocateNetBuffer: BOOLEAN,
    /// Context bytes preallocated per NBL (multiple of 16) (0x06).
    pub ContextSize: u16,
    /// Pool tag (0x08).
    pub PoolTag: u32,
    /// Data bytes preallocated per NET_BUFFER (0x0C).
    pub DataSize: u32,
}

/// `FILTER_SET_OPTIONS` handler.
pub type FilterSetOptionsHandler = unsafe extern "system" fn(
    NdisDriverHandle: NDIS_HANDLE,
    DriverContext: NDIS_HANDLE,
) -> NDIS_STATUS;
/// `FILTER_SET_MODULE_OPTIONS` handler.
pub type FilterSetModuleOptionsHandler =
    unsafe extern "system" fn(FilterModuleContext: NDIS_HANDLE) -> NDIS_STATUS;
/// `FILTER_ATTACH` handler.
pub type FilterAttachHandler = unsafe extern "system" fn(
    NdisFilterHandle: NDIS_HANDLE,
    FilterDriverContext: NDIS_HANDLE,
    AttachParameters: *mut NDIS_FILTER_ATTACH_PARAMETERS,
) -> NDIS_STATUS;
/// `FILTER_DETACH` handler.
pub type FilterDetachHandler = unsafe extern "system" fn(FilterModuleContext: NDIS_HANDLE);
/// `FILTER_RESTART` handler.
pub type FilterRestartHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    RestartParameters: *mut NDIS_FILTER_RESTART_PARAMETERS,
) -> NDIS_STATUS;
/// `FILTER_PAUSE` handler.
pub type FilterPauseHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    PauseParameters: *mut NDIS_FILTER_PAUSE_PARAMETERS,
) -> NDIS_STATUS;
/// `FILTER_SEND_NET_BUFFER_LISTS` handler.
pub type FilterSendHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetBufferLists: *mut NET_BUFFER_LIST,
    PortNumber: NDIS_PORT_NUMBER,
    SendFlags: u32,
);
/// `FILTER_SEND_NET_BUFFER_LISTS_COMPLETE` handler.
pub type FilterSendCompleteHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetBufferLists: *mut NET_BUFFER_LIST,
    SendCompleteFlags: u32,
);
/// `FILTER_CANCEL_SEND_NET_BUFFER_LISTS` handler.
pub type FilterCancelSendHandler =
    unsafe extern "system" fn(FilterModuleContext: NDIS_HANDLE, CancelId: *mut c_void);
/// `FILTER_RECEIVE_NET_BUFFER_LISTS` handler.
pub type FilterReceiveHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetBufferLists: *mut NET_BUFFER_LIST,
    PortNumber: NDIS_PORT_NUMBER,
    NumberOfNetBufferLists: u32,
    ReceiveFlags: u32,
);
/// `FILTER_RETURN_NET_BUFFER_LISTS` handler.
pub type FilterReturnHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetBufferLists: *mut NET_BUFFER_LIST,
    ReturnFlags: u32,
);
/// `FILTER_OID_REQUEST` handler (also the direct-OID shape).
pub type FilterOidRequestHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    OidRequest: *mut NDIS_OID_REQUEST,
) -> NDIS_STATUS;
/// `FILTER_OID_REQUEST_COMPLETE` handler (also the direct-OID shape).
pub type FilterOidRequestCompleteHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    OidRequest: *mut NDIS_OID_REQUEST,
    Status: NDIS_STATUS,
);
/// `FILTER_CANCEL_OID_REQUEST` handler (also the direct-OID shape).
pub type FilterCancelOidRequestHandler =
    unsafe extern "system" fn(FilterModuleContext: NDIS_HANDLE, RequestId: *mut c_void);
/// `FILTER_DEVICE_PNP_EVENT_NOTIFY` handler.
pub type FilterDevicePnpEventNotifyHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetDevicePnPEvent: *mut NET_DEVICE_PNP_EVENT,
);
/// `FILTER_NET_PNP_EVENT` handler.
pub type FilterNetPnpEventHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetPnPEventNotification: *mut NET_PNP_EVENT_NOTIFICATION,
) -> NDIS_STATUS;
/// `FILTER_STATUS` handler.
pub type FilterStatusHandler = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    StatusIndication: *mut NDIS_STATUS_INDICATION,
);

/// `NDIS_FILTER_DRIVER_CHARACTERISTICS`, revision 2 (NDIS 6.1+), size 0xE0.
#[repr(C)]
pub struct NDIS_FILTER_DRIVER_CHARACTERISTICS {
    /// Type 0x8B, revision 2, size 0xE0 (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// NDIS major version the filter is written for (0x04).
    pub MajorNdisVersion: u8,
    /// NDIS minor version (0x05).
    pub MinorNdisVersion: u8,
    /// Driver major version (0x06).
    pub MajorDriverVersion: u8,
    /// Driver minor version (0x07).
    pub MinorDriverVersion: u8,
    /// `NDIS_FILTER_DRIVER_*` flags (0x08).
    pub Flags: u32,
    /// Display name (0x10).
    pub FriendlyName: UNICODE_STRING,
    /// The INF's NetCfgInstanceId GUID string (0x20).
    pub UniqueName: UNICODE_STRING,
    /// Service name (0x30).
    pub ServiceName: UNICODE_STRING,
    /// 0x40.
    pub SetOptionsHandler: Option<FilterSetOptionsHandler>,
    /// 0x48.
    pub SetFilterModuleOptionsHandler: Option<FilterSetModuleOptionsHandler>,
    /// 0x50.
    pub AttachHandler: Option<FilterAttachHandler>,
    /// 0x58.
    pub DetachHandler: Option<FilterDetachHandler>,
    /// 0x60.
    pub RestartHandler: Option<FilterRestartHandler>,
    /// 0x68.
    pub PauseHandler: Option<FilterPauseHandler>,
    /// 0x70.
    pub SendNetBufferListsHandler: Option<FilterSendHandler>,
    /// 0x78.
    pub SendNetBufferListsCompleteHandler: Option<FilterSendCompleteHandler>,
    /// 0x80.
    pub CancelSendNetBufferListsHandler: Option<FilterCancelSendHandler>,
    /// 0x88.
    pub ReceiveNetBufferListsHandler: Option<FilterReceiveHandler>,
    /// 0x90.
    pub ReturnNetBufferListsHandler: Option<FilterReturnHandler>,
    /// 0x98.
    pub OidRequestHandler: Option<FilterOidRequestHandler>,
    /// 0xA0.
    pub OidRequestCompleteHandler: Option<FilterOidRequestCompleteHandler>,
    /// 0xA8.
    pub CancelOidRequestHandler: Option<FilterCancelOidRequestHandler>,
    /// 0xB0.
    pub DevicePnPEventNotifyHandler: Option<FilterDevicePnpEventNotifyHandler>,
    /// 0xB8.
    pub NetPnPEventHandler: Option<FilterNetPnpEventHandler>,
    /// 0xC0.
    pub StatusHandler: Option<FilterStatusHandler>,
    /// 0xC8.
    pub DirectOidRequestHandler: Option<FilterOidRequestHandler>,
    /// 0xD0.
    pub DirectOidRequestCompleteHandler: Option<FilterOidRequestCompleteHandler>,
    /// 0xD8.
    pub CancelDirectOidRequestHandler: Option<FilterCancelOidRequestHandler>,
}

/// `NDIS_FILTER_ATTACH_PARAMETERS`, revision 4 (NDIS 6.30), size 0xE0.
#[repr(C)]
pub struct NDIS_FILTER_ATTACH_PARAMETERS {
    /// Type 0x99 (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// Interface index of the filter module (0x04).
    pub IfIndex: NET_IFINDEX,
    /// LUID of the filter module (0x08).
    pub NetLuid: NET_LUID,
    /// The module's GUID name (0x10).
    pub FilterModuleGuidName: *mut UNICODE_STRING,
    /// Interface index of the miniport at the bottom of the stack (0x18).
    pub BaseMiniportIfIndex: NET_IFINDEX,
    /// Instance name of the miniport (0x20).
    pub BaseMiniportInstanceName: *mut UNICODE_STRING,
    /// Device name of the miniport (0x28).
    pub BaseMiniportName: *mut UNICODE_STRING,
    /// Media connect state at attach (0x30).
    pub MediaConnectState: NET_IF_MEDIA_CONNECT_STATE,
    /// Duplex state at attach (0x34).
    pub MediaDuplexState: NET_IF_MEDIA_DUPLEX_STATE,
    /// Transmit link speed in bits/s (0x38).
    pub XmitLinkSpeed: u64,
    /// Receive link speed in bits/s (0x40).
    pub RcvLinkSpeed: u64,
    /// Medium of the miniport (0x48).
    pub MiniportMediaType: NDIS_MEDIUM,
    /// Physical medium (0x4C).
    pub MiniportPhysicalMediaType: NDIS_PHYSICAL_MEDIUM,
    /// Media-specific attributes (0x50).
    pub MiniportMediaSpecificAttributes: *mut c_void,
    /// Offload configuration a filter may edit (0x58).
    pub DefaultOffloadConfiguration: *mut c_void,
    /// Bytes used in `CurrentMacAddress` (0x60).
    pub MacAddressLength: u16,
    /// Current MAC address (0x62).
    pub CurrentMacAddress: [u8; 32],
    /// LUID of the miniport (0x88).
    pub BaseMiniportNetLuid: NET_LUID,
    /// Interface index of the module below (0x90).
    pub LowerIfIndex: NET_IFINDEX,
    /// LUID of the module below (0x98).
    pub LowerIfNetLuid: NET_LUID,
    /// Flags (0xA0).
    pub Flags: u32,
    /// Header-data split configuration (0xA8).
    pub HDSplitCurrentConfig: *mut c_void,
    /// Receive filter capabilities (0xB0).
    pub ReceiveFilterCapabilities: *mut c_void,
    /// PDO of the miniport (0xB8).
    pub MiniportPDO: *mut DEVICE_OBJECT,
    /// NIC switch capabilities (0xC0).
    pub NicSwitchCapabilities: *mut c_void,
    /// Whether the miniport has a connector (0xC8).
    pub BaseMiniportIfConnectorPresent: BOOLEAN,
    /// SR-IOV capabilities (0xD0).
    pub SriovCapabilities: *mut c_void,
    /// NIC switch array (0xD8).
    pub NicSwitchArray: *mut c_void,
}

/// `NDIS_FILTER_PAUSE_PARAMETERS`, size 0x0C.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_FILTER_PAUSE_PARAMETERS {
    /// Type 0x9A (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved flags (0x04).
    pub Flags: u32,
    /// `NDIS_PAUSE_*` reason bits (0x08).
    pub PauseReason: u32,
}

/// `NDIS_FILTER_RESTART_PARAMETERS`, size 0x30.
#[repr(C)]
pub struct NDIS_FILTER_RESTART_PARAMETERS {
    /// Type 0x9B (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// Medium (0x04).
    pub MediaType: NDIS_MEDIUM,
    /// Physical medium (0x08).
    pub PhysicalMediumType: NDIS_PHYSICAL_MEDIUM,
    /// Restart attributes list (0x10).
    pub RestartAttributes: *mut c_void,
    /// Interface index of the module below (0x18).
    pub LowerIfIndex: NET_IFINDEX,
    /// LUID of the module below (0x20).
    pub LowerIfNetLuid: NET_LUID,
    /// Flags (0x28).
    pub Flags: u32,
}

/// `NDIS_FILTER_ATTRIBUTES`, size 8.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_FILTER_ATTRIBUTES {
    /// Type 0x8D, revision 1, size 8 (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved flags (0x04).
    pub Flags: u32,
}

/// Query variant of the `NDIS_OID_REQUEST` data union.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_OID_QUERY_INFORMATION {
    /// OID (0x20 in the request).
    pub Oid: NDIS_OID,
    /// Buffer (0x28).
    pub InformationBuffer: *mut c_void,
    /// Buffer length (0x30).
    pub InformationBufferLength: u32,
    /// Bytes written (0x34).
    pub BytesWritten: u32,
    /// Bytes needed (0x38).
    pub BytesNeeded: u32,
}

/// Set variant of the `NDIS_OID_REQUEST` data union.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_OID_SET_INFORMATION {
    /// OID (0x20 in the request).
    pub Oid: NDIS_OID,
    /// Buffer (0x28).
    pub InformationBuffer: *mut c_void,
    /// Buffer length (0x30).
    pub InformationBufferLength: u32,
    /// Bytes read (0x34).
    pub BytesRead: u32,
    /// Bytes needed (0x38).
    pub BytesNeeded: u32,
}

/// Method variant of the `NDIS_OID_REQUEST` data union.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_OID_METHOD_INFORMATION {
    /// OID (0x20 in the request).
    pub Oid: NDIS_OID,
    /// Buffer (0x28).
    pub InformationBuffer: *mut c_void,
    /// Input length (0x30).
    pub InputBufferLength: u32,
    /// Output length (0x34).
    pub OutputBufferLength: u32,
    /// Method id (0x38).
    pub MethodId: u32,
    /// Bytes written (0x3C).
    pub BytesWritten: u32,
    /// Bytes read (0x40).
    pub BytesRead: u32,
    /// Bytes needed (0x44).
    pub BytesNeeded: u32,
}

/// The `DATA` union of `NDIS_OID_REQUEST`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_OID_REQUEST_DATA {
    /// Query and query-statistics requests.
    pub QUERY_INFORMATION: NDIS_OID_QUERY_INFORMATION,
    /// Set requests.
    pub SET_INFORMATION: NDIS_OID_SET_INFORMATION,
    /// Method requests.
    pub METHOD_INFORMATION: NDIS_OID_METHOD_INFORMATION,
}

/// `NDIS_OID_REQUEST`, revision 1 (size through `Reserved2` 0xEC, `size_of` 0xF0).
#[repr(C)]
pub struct NDIS_OID_REQUEST {
    /// Type 0x96 (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// `NdisRequest*` (0x04).
    pub RequestType: NDIS_REQUEST_TYPE,
    /// Port (0x08).
    pub PortNumber: NDIS_PORT_NUMBER,
    /// Timeout in seconds (0x0C).
    pub Timeout: u32,
    /// Caller's id, used for cancellation (0x10).
    pub RequestId: *mut c_void,
    /// Handle of the issuer, set by NDIS (0x18).
    pub RequestHandle: NDIS_HANDLE,
    /// Request data (0x20).
    pub DATA: NDIS_OID_REQUEST_DATA,
    /// Reserved for NDIS (0x48).
    pub NdisReserved: [*mut c_void; 16],
    /// For the miniport (0xC8).
    pub MiniportReserved: [*mut c_void; 2],
    /// For the issuer, e.g. a filter's link from a clone to its original (0xD8).
    pub SourceReserved: [*mut c_void; 2],
    /// Revision the completing driver supports (0xE8).
    pub SupportedRevision: u8,
    /// Reserved (0xE9).
    pub Reserved1: u8,
    /// Reserved (0xEA).
    pub Reserved2: u16,
}

/// `NDIS_STATUS_INDICATION`, size 0x70.
#[repr(C)]
pub struct NDIS_STATUS_INDICATION {
    /// Type 0x98 (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// Handle of the indicating driver (0x08).
    pub SourceHandle: NDIS_HANDLE,
    /// Port (0x10).
    pub PortNumber: NDIS_PORT_NUMBER,
    /// Status code (0x14).
    pub StatusCode: NDIS_STATUS,
    /// Flags (0x18).
    pub Flags: u32,
    /// Target handle, if directed (0x20).
    pub DestinationHandle: NDIS_HANDLE,
    /// Related OID request id (0x28).
    pub RequestId: *mut c_void,
    /// Payload (0x30).
    pub StatusBuffer: *mut c_void,
    /// Payload length (0x38).
    pub StatusBufferSize: u32,
    /// Status GUID (0x3C).
    pub Guid: GUID,
    /// Reserved for NDIS (0x50).
    pub NdisReserved: [*mut c_void; 4],
}

/// `NDIS_LINK_STATE`, the payload of `NDIS_STATUS_LINK_STATE`, size 0x28.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_LINK_STATE {
    /// Type 0x80, revision 1, size 0x28 (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// Connected, disconnected or unknown (0x04).
    pub MediaConnectState: NET_IF_MEDIA_CONNECT_STATE,
    /// Duplex (0x08).
    pub MediaDuplexState: NET_IF_MEDIA_DUPLEX_STATE,
    /// Transmit speed in bits/s (0x10).
    pub XmitLinkSpeed: u64,
    /// Receive speed in bits/s (0x18).
    pub RcvLinkSpeed: u64,
    /// Flow-control pause functions (0x20).
    pub PauseFunctions: i32,
    /// Auto-negotiation flags (0x24).
    pub AutoNegotiationFlags: u32,
}

/// `NDIS_DEVICE_OBJECT_ATTRIBUTES`, size 0x38.
#[repr(C)]
pub struct NDIS_DEVICE_OBJECT_ATTRIBUTES {
    /// Type 0x85, revision 1, size 0x38 (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// Device name (0x08).
    pub DeviceName: *mut UNICODE_STRING,
    /// Symbolic link name (0x10).
    pub SymbolicName: *mut UNICODE_STRING,
    /// IRP dispatch table (0x18).
    pub MajorFunctions: *mut *mut c_void,
    /// Bytes of reserved extension (0x20).
    pub ExtensionSize: u32,
    /// SDDL restricting access (0x28).
    pub DefaultSDDLString: *const UNICODE_STRING,
    /// Device class (0x30).
    pub DeviceClassGuid: *const GUID,
}

/// `NET_PNP_EVENT` (embedded in the notification), size 0x98.
#[repr(C)]
pub struct NET_PNP_EVENT {
    /// `NetEvent*` code (0x00).
    pub NetEvent: NET_PNP_EVENT_CODE,
    /// Event payload (0x08).
    pub Buffer: *mut c_void,
    /// Payload length (0x10).
    pub BufferLength: u32,
    /// Reserved for NDIS (0x18).
    pub NdisReserved: [usize; 4],
    /// Reserved for transports (0x38).
    pub TransportReserved: [usize; 4],
    /// Reserved (0x58).
    pub TdiReserved: [usize; 4],
    /// Reserved (0x78).
    pub TdiClientReserved: [usize; 4],
}

/// `NET_PNP_EVENT_NOTIFICATION` as an NDIS 6.30 driver sees it, size 0xA8. The DDI page's syntax
/// block omits `Flags`; ndis.h has it (and NDIS 6.50 appends SwitchId and VPortId, revision 2).
#[repr(C)]
pub struct NET_PNP_EVENT_NOTIFICATION {
    /// Type 0x80, revision 1, size 0xA4 (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// Port (0x04).
    pub PortNumber: NDIS_PORT_NUMBER,
    /// The event (0x08).
    pub NetPnPEvent: NET_PNP_EVENT,
    /// `NET_EVENT_FLAGS_*` (0xA0).
    pub Flags: u32,
}

/// `NDIS_PARAMETER_TYPE`.
pub type NDIS_PARAMETER_TYPE = i32;

/// `NDIS_CONFIGURATION_OBJECT`: what `NdisOpenConfigurationEx` opens, size 0x18.
#[repr(C)]
pub struct NDIS_CONFIGURATION_OBJECT {
    /// Type 0xA9, revision 1, size 0x14 (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// The driver's or the module's NDIS handle: which configuration scope opens (0x08).
    pub NdisHandle: NDIS_HANDLE,
    /// `NDIS_CONFIG_FLAG_*`; 0 for a modifying filter (0x10).
    pub Flags: u32,
}

/// `BINARY_DATA` of a configuration parameter.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BINARY_DATA {
    /// Bytes at `Buffer` (0x00).
    pub Length: u16,
    /// The data (0x08).
    pub Buffer: *mut c_void,
}

/// The value union of `NDIS_CONFIGURATION_PARAMETER`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_CONFIGURATION_PARAMETER_DATA {
    /// `NdisParameterInteger` / `NdisParameterHexInteger`.
    pub IntegerData: u32,
    /// `NdisParameterString` / `NdisParameterMultiString`.
    pub StringData: UNICODE_STRING,
    /// `NdisParameterBinary`.
    pub BinaryData: BINARY_DATA,
}

/// `NDIS_CONFIGURATION_PARAMETER`: one value `NdisReadConfiguration` returns; NDIS owns it until
/// `NdisCloseConfiguration`. Size 0x18.
#[repr(C)]
pub struct NDIS_CONFIGURATION_PARAMETER {
    /// Which member of `ParameterData` is valid (0x00).
    pub ParameterType: NDIS_PARAMETER_TYPE,
    /// The value (0x08).
    pub ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA,
}

// Timer objects, spin locks and processor numbers: their own file, re-exported here.
pub use super::sync_types::{
    KIRQL, KSPIN_LOCK, NDIS_SPIN_LOCK, NDIS_TIMER_CHARACTERISTICS, NDIS_TIMER_FUNCTION,
    PROCESSOR_NUMBER,
};

// Offload configuration: its own file, re-exported here.
pub use super::offload_types::{
    NDIS_CHECKSUM_OFFLOAD_DIRECTION, NDIS_LSO_V2_IPV4, NDIS_LSO_V2_IPV6, NDIS_OFFLOAD,
};

// Restart attributes: their own file, re-exported here.
pub use super::restart_types::{NDIS_RESTART_ATTRIBUTES, NDIS_RESTART_GENERAL_ATTRIBUTES};

#[cfg(test)]
mod layout_tests {
    //! x64 sizes and field offsets. Sources: `shared/reference/ndis-lwf-facts.md` §1 — [PDB] figures
    //! are from Microsoft's public symbols for ndis.sys (marked ✓ there); [GCC] are offsetof
    //! computations from the documented field order with natural x64 alignment; [WDM] is wdm.h order.
    use super::super::consts;
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn configuration() {
        // [DDI] ndis.h order (NDIS_CONFIGURATION_PARAMETER also in mingw-w64's ndis.h, which does
        // not compile beside ntddndis.h), natural x64 alignment
        type O = NDIS_CONFIGURATION_OBJECT;
        assert_eq!(size_of::<O>(), 0x18);
        assert_eq!(offset_of!(O, NdisHandle), 8);
        assert_eq!(offset_of!(O, Flags), 0x10);
        assert_eq!(
            usize::from(consts::NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1),
            offset_of!(O, Flags) + 4
        );
        assert_eq!(size_of::<BINARY_DATA>(), 0x10);
        assert_eq!(offset_of!(BINARY_DATA, Buffer), 8);
        assert_eq!(size_of::<NDIS_CONFIGURATION_PARAMETER_DATA>(), 0x10);
        assert_eq!(size_of::<NDIS_CONFIGURATION_PARAMETER>(), 0x18);
        assert_eq!(offset_of!(NDIS_CONFIGURATION_PARAMETER, ParameterData), 8);
    }

    #[test]
    fn object_header() {
        // [PDB] ✓
        assert_eq!(size_of::<NDIS_OBJECT_HEADER>(), 4);
        assert_eq!(offset_of!(NDIS_OBJECT_HEADER, Type), 0);
        assert_eq!(offset_of!(NDIS_OBJECT_HEADER, Revision), 1);
        assert_eq!(offset_of!(NDIS_OBJECT_HEADER, Size), 2);
    }

    #[test]
    fn unicode_string_and_guid() {
        // [GCC] ntdef.h order
        assert_eq!(size_of::<UNICODE_STRING>(), 16);
        assert_eq!(offset_of!(UNICODE_STRING, Length), 0);
        assert_eq!(offset_of!(UNICODE_STRING, MaximumLength), 2);
        assert_eq!(offset_of!(UNICODE_STRING, Buffer), 8);
        assert_eq!(size_of::<GUID>(), 16);
        assert_eq!(offset_of!(GUID, Data1), 0);
        assert_eq!(offset_of!(GUID, Data2), 4);
        assert_eq!(offset_of!(GUID, Data3), 6);
        assert_eq!(offset_of!(GUID, Data4), 8);
    }

    #[test]
    fn driver_object() {
        // [WDM] wdm.h order, natural alignment
        type D = DRIVER_OBJECT;
        assert_eq!(size_of::<D>(), 0x150);
        assert_eq!(offset_of!(D, Size), 2);
        assert_eq!(offset_of!(D, DeviceObject), 8);
        assert_eq!(offset_of!(D, Flags), 0x10);
        assert_eq!(offset_of!(D, DriverStart), 0x18);
        assert_eq!(offset_of!(D, DriverSize), 0x20);
        assert_eq!(offset_of!(D, DriverSection), 0x28);
        assert_eq!(offset_of!(D, DriverExtension), 0x30);
        assert_eq!(offset_of!(D, DriverName), 0x38);
        assert_eq!(offset_of!(D, HardwareDatabase), 0x48);
        assert_eq!(offset_of!(D, FastIoDispatch), 0x50);
        assert_eq!(offset_of!(D, DriverInit), 0x58);
        assert_eq!(offset_of!(D, DriverStartIo), 0x60);
        assert_eq!(offset_of!(D, DriverUnload), 0x68);
        assert_eq!(offset_of!(D, MajorFunction), 0x70);
    }

    #[test]
    fn mdl() {
        // [WDM] wdm.h order, natural alignment
        assert_eq!(size_of::<MDL>(), 0x30);
        assert_eq!(offset_of!(MDL, Next), 0);
        assert_eq!(offset_of!(MDL, Size), 8);
        assert_eq!(offset_of!(MDL, MdlFlags), 0xA);
        assert_eq!(offset_of!(MDL, Process), 0x10);
        assert_eq!(offset_of!(MDL, MappedSystemVa), 0x18);
        assert_eq!(offset_of!(MDL, StartVa), 0x20);
        assert_eq!(offset_of!(MDL, ByteCount), 0x28);
        assert_eq!(offset_of!(MDL, ByteOffset), 0x2C);
    }

    #[test]
    fn net_buffer() {
        // [PDB] ✓ (ChecksumBias at 0x30, not 0x2C)
        assert_eq!(size_of::<NET_BUFFER>(), 0xB0);
        assert_eq!(align_of::<NET_BUFFER>(), 16);
        assert_eq!(offset_of!(NET_BUFFER, Next), 0);
        assert_eq!(offset_of!(NET_BUFFER, CurrentMdl), 8);
        assert_eq!(offset_of!(NET_BUFFER, CurrentMdlOffset), 0x10);
        assert_eq!(offset_of!(NET_BUFFER, DataLength), 0x18);
        assert_eq!(offset_of!(NET_BUFFER, MdlChain), 0x20);
        assert_eq!(offset_of!(NET_BUFFER, DataOffset), 0x28);
        assert_eq!(offset_of!(NET_BUFFER, Padding0), 0x2C);
        assert_eq!(offset_of!(NET_BUFFER, ChecksumBias), 0x30);
        assert_eq!(offset_of!(NET_BUFFER, Reserved), 0x32);
        assert_eq!(offset_of!(NET_BUFFER, NdisPoolHandle), 0x38);
        assert_eq!(offset_of!(NET_BUFFER, NdisReserved), 0x40);
        assert_eq!(offset_of!(NET_BUFFER, ProtocolReserved), 0x50);
        assert_eq!(offset_of!(NET_BUFFER, MiniportReserved), 0x80);
        assert_eq!(offset_of!(NET_BUFFER, DataPhysicalAddress), 0xA0);
        assert_eq!(offset_of!(NET_BUFFER, SharedMemoryInfo), 0xA8);
    }

    #[test]
    fn net_buffer_list() {
        // [PDB 22H2] ✓ for 0x00..0x90; 24 info slots for NDIS 6.30 x64 [DDI]
        assert_eq!(align_of::<NET_BUFFER_LIST>(), 16);
        assert_eq!(size_of::<NET_BUFFER_LIST>(), 0x90 + 24 * 8);
        assert_eq!(offset_of!(NET_BUFFER_LIST, Next), 0);
        assert_eq!(offset_of!(NET_BUFFER_LIST, FirstNetBuffer), 8);
        assert_eq!(offset_of!(NET_BUFFER_LIST, Context), 0x10);
        assert_eq!(offset_of!(NET_BUFFER_LIST, ParentNetBufferList), 0x18);
        assert_eq!(offset_of!(NET_BUFFER_LIST, NdisPoolHandle), 0x20);
        assert_eq!(offset_of!(NET_BUFFER_LIST, Padding0), 0x28);
        assert_eq!(offset_of!(NET_BUFFER_LIST, NdisReserved), 0x30);
        assert_eq!(offset_of!(NET_BUFFER_LIST, ProtocolReserved), 0x40);
        assert_eq!(offset_of!(NET_BUFFER_LIST, MiniportReserved), 0x60);
        assert_eq!(offset_of!(NET_BUFFER_LIST, Scratch), 0x70);
        assert_eq!(offset_of!(NET_BUFFER_LIST, SourceHandle), 0x78);
        assert_eq!(offset_of!(NET_BUFFER_LIST, NblFlags), 0x80);
        assert_eq!(offset_of!(NET_BUFFER_LIST, ChildRefCount), 0x84);
        assert_eq!(offset_of!(NET_BUFFER_LIST, Flags), 0x88);
        assert_eq!(offset_of!(NET_BUFFER_LIST, Status), 0x8C);
        assert_eq!(offset_of!(NET_BUFFER_LIST, NetBufferListInfo), 0x90);
    }

    #[test]
    fn net_buffer_list_context() {
        // [DDI][GCC]
        assert_eq!(size_of::<NET_BUFFER_LIST_CONTEXT>(), 0x10);
        assert_eq!(offset_of!(NET_BUFFER_LIST_CONTEXT, Next), 0);
        assert_eq!(offset_of!(NET_BUFFER_LIST_CONTEXT, Size), 8);
        assert_eq!(offset_of!(NET_BUFFER_LIST_CONTEXT, Offset), 0xA);
        assert_eq!(offset_of!(NET_BUFFER_LIST_CONTEXT, ContextData), 0x10);
    }

    #[test]
    fn pool_parameters() {
        // [DDI][GCC]
        assert_eq!(size_of::<NET_BUFFER_LIST_POOL_PARAMETERS>(), 0x10);
        assert_eq!(offset_of!(NET_BUFFER_LIST_POOL_PARAMETERS, Header), 0);
        assert_eq!(offset_of!(NET_BUFFER_LIST_POOL_PARAMETERS, ProtocolId), 4);
        assert_eq!(
            offset_of!(NET_BUFFER_LIST_POOL_PARAMETERS, fAllocateNetBuffer),
            5
        );
        assert_eq!(offset_of!(NET_BUFFER_LIST_POOL_PARAMETERS, ContextSize), 6);
        assert_eq!(offset_of!(NET_BUFFER_LIST_POOL_PARAMETERS, PoolTag), 8);
        assert_eq!(offset_of!(NET_BUFFER_LIST_POOL_PARAMETERS, DataSize), 0xC);
    }

    #[test]
    fn filter_driver_characteristics() {
        // [PDB Win8 x64] ✓, revision 2 size 0xE0
        type C = NDIS_FILTER_DRIVER_CHARACTERISTICS;
        assert_eq!(size_of::<C>(), 0xE0);
        assert_eq!(offset_of!(C, Header), 0);
        assert_eq!(offset_of!(C, MajorNdisVersion), 4);
        assert_eq!(offset_of!(C, MinorNdisVersion), 5);
        assert_eq!(offset_of!(C, MajorDriverVersion), 6);
        assert_eq!(offset_of!(C, MinorDriverVersion), 7);
        assert_eq!(offset_of!(C, Flags), 8);
        assert_eq!(offset_of!(C, FriendlyName), 0x10);
        assert_eq!(offset_of!(C, UniqueName), 0x20);
        assert_eq!(offset_of!(C, ServiceName), 0x30);
        assert_eq!(offset_of!(C, SetOptionsHandler), 0x40);
        assert_eq!(offset_of!(C, SetFilterModuleOptionsHandler), 0x48);
        assert_eq!(offset_of!(C, AttachHandler), 0x50);
        assert_eq!(offset_of!(C, DetachHandler), 0x58);
        assert_eq!(offset_of!(C, RestartHandler), 0x60);
        assert_eq!(offset_of!(C, PauseHandler), 0x68);
        assert_eq!(offset_of!(C, SendNetBufferListsHandler), 0x70);
        assert_eq!(offset_of!(C, SendNetBufferListsCompleteHandler), 0x78);
        assert_eq!(offset_of!(C, CancelSendNetBufferListsHandler), 0x80);
        assert_eq!(offset_of!(C, ReceiveNetBufferListsHandler), 0x88);
        assert_eq!(offset_of!(C, ReturnNetBufferListsHandler), 0x90);
        assert_eq!(offset_of!(C, OidRequestHandler), 0x98);
        assert_eq!(offset_of!(C, OidRequestCompleteHandler), 0xA0);
        assert_eq!(offset_of!(C, CancelOidRequestHandler), 0xA8);
        assert_eq!(offset_of!(C, DevicePnPEventNotifyHandler), 0xB0);
        assert_eq!(offset_of!(C, NetPnPEventHandler), 0xB8);
        assert_eq!(offset_of!(C, StatusHandler), 0xC0);
        assert_eq!(offset_of!(C, DirectOidRequestHandler), 0xC8);
        assert_eq!(offset_of!(C, DirectOidRequestCompleteHandler), 0xD0);
        assert_eq!(offset_of!(C, CancelDirectOidRequestHandler), 0xD8);
    }

    #[test]
    fn attach_parameters() {
        // [DDI order, ✓ x86 PDB; x64 GCC], revision 4 size 0xE0
        type A = NDIS_FILTER_ATTACH_PARAMETERS;
        assert_eq!(size_of::<A>(), 0xE0);
        assert_eq!(offset_of!(A, Header), 0);
        assert_eq!(offset_of!(A, IfIndex), 4);
        assert_eq!(offset_of!(A, NetLuid), 8);
        assert_eq!(offset_of!(A, FilterModuleGuidName), 0x10);
        assert_eq!(offset_of!(A, BaseMiniportIfIndex), 0x18);
        assert_eq!(offset_of!(A, BaseMiniportInstanceName), 0x20);
        assert_eq!(offset_of!(A, BaseMiniportName), 0x28);
        assert_eq!(offset_of!(A, MediaConnectState), 0x30);
        assert_eq!(offset_of!(A, MediaDuplexState), 0x34);
        assert_eq!(offset_of!(A, XmitLinkSpeed), 0x38);
        assert_eq!(offset_of!(A, RcvLinkSpeed), 0x40);
        assert_eq!(offset_of!(A, MiniportMediaType), 0x48);
        assert_eq!(offset_of!(A, MiniportPhysicalMediaType), 0x4C);
        assert_eq!(offset_of!(A, MiniportMediaSpecificAttributes), 0x50);
        assert_eq!(offset_of!(A, DefaultOffloadConfiguration), 0x58);
        assert_eq!(offset_of!(A, MacAddressLength), 0x60);
        assert_eq!(offset_of!(A, CurrentMacAddress), 0x62);
        assert_eq!(offset_of!(A, BaseMiniportNetLuid), 0x88);
        assert_eq!(offset_of!(A, LowerIfIndex), 0x90);
        assert_eq!(offset_of!(A, LowerIfNetLuid), 0x98);
        assert_eq!(offset_of!(A, Flags), 0xA0);
        assert_eq!(offset_of!(A, HDSplitCurrentConfig), 0xA8);
        assert_eq!(offset_of!(A, ReceiveFilterCapabilities), 0xB0);
        assert_eq!(offset_of!(A, MiniportPDO), 0xB8);
        assert_eq!(offset_of!(A, NicSwitchCapabilities), 0xC0);
        assert_eq!(offset_of!(A, BaseMiniportIfConnectorPresent), 0xC8);
        assert_eq!(offset_of!(A, SriovCapabilities), 0xD0);
        assert_eq!(offset_of!(A, NicSwitchArray), 0xD8);
    }

    #[test]
    fn pause_restart_attributes() {
        // [DDI][GCC]; NDIS_FILTER_ATTRIBUTES [PDB] ✓
        type R = NDIS_FILTER_RESTART_PARAMETERS;
        assert_eq!(size_of::<NDIS_FILTER_PAUSE_PARAMETERS>(), 0xC);
        assert_eq!(offset_of!(NDIS_FILTER_PAUSE_PARAMETERS, Flags), 4);
        assert_eq!(offset_of!(NDIS_FILTER_PAUSE_PARAMETERS, PauseReason), 8);
        assert_eq!(size_of::<R>(), 0x30);
        assert_eq!(offset_of!(R, MediaType), 4);
        assert_eq!(offset_of!(R, PhysicalMediumType), 8);
        assert_eq!(offset_of!(R, RestartAttributes), 0x10);
        assert_eq!(offset_of!(R, LowerIfIndex), 0x18);
        assert_eq!(offset_of!(R, LowerIfNetLuid), 0x20);
        assert_eq!(offset_of!(R, Flags), 0x28);
        // NDIS_SIZEOF_* is RTL_SIZEOF_THROUGH_FIELD(Flags), not size_of (which has tail padding).
        assert_eq!(
            usize::from(consts::NDIS_SIZEOF_FILTER_RESTART_PARAMETERS_REVISION_1),
            offset_of!(R, Flags) + 4
        );
        assert_eq!(size_of::<NDIS_FILTER_ATTRIBUTES>(), 8);
        assert_eq!(offset_of!(NDIS_FILTER_ATTRIBUTES, Flags), 4);
    }

    #[test]
    fn oid_request() {
        // [PDB] ✓ size 0xF0 before NDIS 6.50; data union offsets [WDKH][GCC]
        type O = NDIS_OID_REQUEST;
        assert_eq!(size_of::<O>(), 0xF0);
        assert_eq!(offset_of!(O, RequestType), 4);
        assert_eq!(offset_of!(O, PortNumber), 8);
        assert_eq!(offset_of!(O, Timeout), 0xC);
        assert_eq!(offset_of!(O, RequestId), 0x10);
        assert_eq!(offset_of!(O, RequestHandle), 0x18);
        assert_eq!(offset_of!(O, DATA), 0x20);
        assert_eq!(offset_of!(O, NdisReserved), 0x48);
        assert_eq!(offset_of!(O, MiniportReserved), 0xC8);
        assert_eq!(offset_of!(O, SourceReserved), 0xD8);
        assert_eq!(offset_of!(O, SupportedRevision), 0xE8);
        assert_eq!(offset_of!(O, Reserved1), 0xE9);
        assert_eq!(offset_of!(O, Reserved2), 0xEA);
        assert_eq!(size_of::<NDIS_OID_REQUEST_DATA>(), 0x28);
        let q = 0x20;
        assert_eq!(q + offset_of!(NDIS_OID_QUERY_INFORMATION, Oid), 0x20);
        assert_eq!(
            q + offset_of!(NDIS_OID_QUERY_INFORMATION, InformationBuffer),
            0x28
        );
        assert_eq!(
            q + offset_of!(NDIS_OID_QUERY_INFORMATION, InformationBufferLength),
            0x30
        );
        assert_eq!(
            q + offset_of!(NDIS_OID_QUERY_INFORMATION, BytesWritten),
            0x34
        );
        assert_eq!(
            q + offset_of!(NDIS_OID_QUERY_INFORMATION, BytesNeeded),
            0x38
        );
        assert_eq!(q + offset_of!(NDIS_OID_SET_INFORMATION, BytesRead), 0x34);
        assert_eq!(q + offset_of!(NDIS_OID_SET_INFORMATION, BytesNeeded), 0x38);
        assert_eq!(
            q + offset_of!(NDIS_OID_METHOD_INFORMATION, InputBufferLength),
            0x30
        );
        assert_eq!(
            q + offset_of!(NDIS_OID_METHOD_INFORMATION, OutputBufferLength),
            0x34
        );
        assert_eq!(q + offset_of!(NDIS_OID_METHOD_INFORMATION, MethodId), 0x38);
        assert_eq!(
            q + offset_of!(NDIS_OID_METHOD_INFORMATION, BytesWritten),
            0x3C
        );
        assert_eq!(q + offset_of!(NDIS_OID_METHOD_INFORMATION, BytesRead), 0x40);
        assert_eq!(
            q + offset_of!(NDIS_OID_METHOD_INFORMATION, BytesNeeded),
            0x44
        );
    }

    #[test]
    fn status_indication() {
        // [PDB] ✓
        type S = NDIS_STATUS_INDICATION;
        assert_eq!(size_of::<S>(), 0x70);
        assert_eq!(offset_of!(S, SourceHandle), 8);
        assert_eq!(offset_of!(S, PortNumber), 0x10);
        assert_eq!(offset_of!(S, StatusCode), 0x14);
        assert_eq!(offset_of!(S, Flags), 0x18);
        assert_eq!(offset_of!(S, DestinationHandle), 0x20);
        assert_eq!(offset_of!(S, RequestId), 0x28);
        assert_eq!(offset_of!(S, StatusBuffer), 0x30);
        assert_eq!(offset_of!(S, StatusBufferSize), 0x38);
        assert_eq!(offset_of!(S, Guid), 0x3C);
        assert_eq!(offset_of!(S, NdisReserved), 0x50);
    }

    #[test]
    fn link_state() {
        // [PDB] ✓
        type L = NDIS_LINK_STATE;
        assert_eq!(size_of::<L>(), 0x28);
        assert_eq!(offset_of!(L, MediaConnectState), 4);
        assert_eq!(offset_of!(L, MediaDuplexState), 8);
        assert_eq!(offset_of!(L, XmitLinkSpeed), 0x10);
        assert_eq!(offset_of!(L, RcvLinkSpeed), 0x18);
        assert_eq!(offset_of!(L, PauseFunctions), 0x20);
        assert_eq!(offset_of!(L, AutoNegotiationFlags), 0x24);
    }

    #[test]
    fn device_object_attributes() {
        // [DDI][GCC]
        type D = NDIS_DEVICE_OBJECT_ATTRIBUTES;
        assert_eq!(size_of::<D>(), 0x38);
        assert_eq!(offset_of!(D, DeviceName), 8);
        assert_eq!(offset_of!(D, SymbolicName), 0x10);
        assert_eq!(offset_of!(D, MajorFunctions), 0x18);
        assert_eq!(offset_of!(D, ExtensionSize), 0x20);
        assert_eq!(offset_of!(D, DefaultSDDLString), 0x28);
        assert_eq!(offset_of!(D, DeviceClassGuid), 0x30);
    }

    #[test]
    fn net_pnp_event_notification() {
        // [GCC] ndis.h field order, natural alignment
        assert_eq!(size_of::<NET_PNP_EVENT>(), 0x98);
        assert_eq!(offset_of!(NET_PNP_EVENT, Buffer), 8);
        assert_eq!(offset_of!(NET_PNP_EVENT, BufferLength), 0x10);
        assert_eq!(offset_of!(NET_PNP_EVENT, NdisReserved), 0x18);
        assert_eq!(offset_of!(NET_PNP_EVENT, TransportReserved), 0x38);
        assert_eq!(offset_of!(NET_PNP_EVENT, TdiReserved), 0x58);
        assert_eq!(offset_of!(NET_PNP_EVENT, TdiClientReserved), 0x78);
        assert_eq!(size_of::<NET_PNP_EVENT_NOTIFICATION>(), 0xA8);
        assert_eq!(offset_of!(NET_PNP_EVENT_NOTIFICATION, Flags), 0xA0);
        assert_eq!(
            usize::from(consts::NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1),
            offset_of!(NET_PNP_EVENT_NOTIFICATION, Flags) + 4
        );
        assert_eq!(offset_of!(NET_PNP_EVENT_NOTIFICATION, PortNumber), 4);
        assert_eq!(offset_of!(NET_PNP_EVENT_NOTIFICATION, NetPnPEvent), 8);
    }
}
