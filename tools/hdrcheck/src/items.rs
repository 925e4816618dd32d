//! What is checked: every size, field offset and constant of `mpfilter::ndis` that mingw-w64's
//! DDK headers also define, and — listed, not checked — what rests on documentation alone.

use core::mem::{offset_of, size_of};
use mpfilter::ndis::consts as k;
use mpfilter::ndis::types as t;

/// One number that both the Rust FFI and the C headers define.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// How the report names it, e.g. `offsetof(NDIS_LINK_STATE, XmitLinkSpeed)`.
    pub label: String,
    /// The C expression that yields it under the headers.
    pub c_expr: String,
    /// A macro the expression needs; when the headers lack it the item is reported as
    /// documentation-only instead of failing the compile.
    pub guard: Option<String>,
    /// The value the Rust FFI has.
    pub rust: i64,
}

impl Item {
    fn size(c_type: &str, rust: usize) -> Item {
        Item {
            label: format!("sizeof({c_type})"),
            c_expr: format!("sizeof({c_type})"),
            guard: None,
            rust: as_i64(rust),
        }
    }

    fn offset(c_type: &str, field: &str, rust: usize) -> Item {
        Item {
            label: format!("offsetof({c_type}, {field})"),
            c_expr: format!("__builtin_offsetof({c_type}, {field})"),
            guard: None,
            rust: as_i64(rust),
        }
    }

    /// A `#define` of the headers (guarded: absent means documentation-only).
    fn define(c_name: &str, rust: i64) -> Item {
        Item {
            label: c_name.to_owned(),
            c_expr: c_name.to_owned(),
            guard: Some(c_name.to_owned()),
            rust,
        }
    }

    /// An enumerator or an expression of the headers that must exist.
    fn expr(c_expr: &str, rust: i64) -> Item {
        Item {
            label: c_expr.to_owned(),
            c_expr: c_expr.to_owned(),
            guard: None,
            rust,
        }
    }
}

fn as_i64(v: usize) -> i64 {
    i64::try_from(v).expect("a layout figure fits in i64")
}

/// Sizes and every field offset of the structures mingw-w64 declares.
macro_rules! layout {
    ($out:ident, $ty:ident { $($field:ident),* $(,)? }) => {
        $out.push(Item::size(stringify!($ty), size_of::<t::$ty>()));
        $( $out.push(Item::offset(stringify!($ty), stringify!($field), offset_of!(t::$ty, $field))); )*
    };
}

/// `#define`d constants whose Rust name is the C name.
macro_rules! defines {
    ($($name:ident),* $(,)?) => {
        vec![$( Item::define(stringify!($name), i64::from(k::$name)) ),*]
    };
}

/// Everything checked against the headers.
pub fn checked() -> Vec<Item> {
    let mut v = kernel_layouts();
    v.extend(ndis_layouts());
    v.extend(defines());
    v.extend(enumerators());
    v.extend(timer_sync_items());
    v.extend(irp_items());
    v.extend(offload_items());
    v
}

/// The control device's IRP view (`mpfilter::ndis::irp`): the union members it declares under
/// their own names are checked by their C paths.
fn irp_items() -> Vec<Item> {
    use mpfilter::ndis::irp as i;
    let p = offset_of!(i::IO_STACK_LOCATION, Parameters);
    vec![
        Item::size("IRP", size_of::<i::IRP>()),
        Item::offset("IRP", "MdlAddress", offset_of!(i::IRP, MdlAddress)),
        Item::offset("IRP", "Flags", offset_of!(i::IRP, Flags)),
        Item::offset(
            "IRP",
            "AssociatedIrp.SystemBuffer",
            offset_of!(i::IRP, SystemBuffer),
        ),
        Item::offset("IRP", "IoStatus", offset_of!(i::IRP, IoStatus)),
        Item::offset("IRP", "RequestorMode", offset_of!(i::IRP, RequestorMode)),
        Item::offset("IRP", "Cancel", offset_of!(i::IRP, Cancel)),
        Item::offset("IRP", "UserBuffer", offset_of!(i::IRP, UserBuffer)),
        Item::offset(
            "IRP",
            "Tail.Overlay.CurrentStackLocation",
            offset_of!(i::IRP, CurrentStackLocation),
        ),
        Item::offset(
            "IRP",
            "Tail.Overlay.OriginalFileObject",
            offset_of!(i::IRP, OriginalFileObject),
        ),
        Item::size("IO_STATUS_BLOCK", size_of::<i::IO_STATUS_BLOCK>()),
        Item::offset(
            "IO_STATUS_BLOCK",
            "Information",
            offset_of!(i::IO_STATUS_BLOCK, Information),
        ),
        Item::size("IO_STACK_LOCATION", size_of::<i::IO_STACK_LOCATION>()),
        Item::offset(
            "IO_STACK_LOCATION",
            "Parameters.DeviceIoControl.OutputBufferLength",
            p + offset_of!(i::DEVICE_IO_CONTROL_PARAMETERS, OutputBufferLength),
        ),
        Item::offset(
            "IO_STACK_LOCATION",
            "Parameters.DeviceIoControl.InputBufferLength",
            p + offset_of!(i::DEVICE_IO_CONTROL_PARAMETERS, InputBufferLength),
        ),
        Item::offset(
            "IO_STACK_LOCATION",
            "Parameters.DeviceIoControl.IoControlCode",
            p + offset_of!(i::DEVICE_IO_CONTROL_PARAMETERS, IoControlCode),
        ),
        Item::offset(
            "IO_STACK_LOCATION",
            "Parameters.DeviceIoControl.Type3InputBuffer",
            p + offset_of!(i::DEVICE_IO_CONTROL_PARAMETERS, Type3InputBuffer),
        ),
        Item::offset(
            "IO_STACK_LOCATION",
            "DeviceObject",
            offset_of!(i::IO_STACK_LOCATION, DeviceObject),
        ),
        Item::offset(
            "IO_STACK_LOCATION",
            "FileObject",
            offset_of!(i::IO_STACK_LOCATION, FileObject),
        ),
        Item::offset(
            "FILE_OBJECT",
            "FileName",
            offset_of!(i::FILE_OBJECT, FileName),
        ),
        Item::expr("IRP_MJ_CREATE", i64::from(i::IRP_MJ_CREATE)),
        Item::expr("IRP_MJ_CLOSE", i64::from(i::IRP_MJ_CLOSE)),
        Item::expr("IRP_MJ_DEVICE_CONTROL", i64::from(i::IRP_MJ_DEVICE_CONTROL)),
        Item::expr("IRP_MJ_CLEANUP", i64::from(i::IRP_MJ_CLEANUP)),
        Item::expr("FILE_WRITE_ACCESS", i64::from(i::FILE_WRITE_ACCESS)),
        Item::expr("IO_NO_INCREMENT", i64::from(i::IO_NO_INCREMENT)),
        Item::expr(
            "CTL_CODE(FILE_DEVICE_PHYSICAL_NETCARD, 0x802, METHOD_BUFFERED, FILE_WRITE_ACCESS)",
            i64::from(mpctl_proto::Ioctl::AdminPath.code()),
        ),
        Item::expr(
            "CTL_CODE(FILE_DEVICE_PHYSICAL_NETCARD, 0x800, METHOD_BUFFERED, FILE_READ_ACCESS)",
            i64::from(mpctl_proto::Ioctl::ListGroups.code()),
        ),
    ]
}

fn kernel_layouts() -> Vec<Item> {
    let mut v = Vec::new();
    layout!(
        v,
        NDIS_OBJECT_HEADER {
            Type,
            Revision,
            Size
        }
    );
    layout!(
        v,
        UNICODE_STRING {
            Length,
            MaximumLength,
            Buffer
        }
    );
    layout!(
        v,
        GUID {
            Data1,
            Data2,
            Data3,
            Data4
        }
    );
    layout!(
        v,
        MDL {
            Next,
            Size,
            MdlFlags,
            Process,
            MappedSystemVa,
            StartVa,
            ByteCount,
            ByteOffset
        }
    );
    layout!(
        v,
        DRIVER_OBJECT {
            Type,
            Size,
            DeviceObject,
            Flags,
            DriverStart,
            DriverSize,
            DriverSection,
            DriverExtension,
            DriverName,
            HardwareDatabase,
            FastIoDispatch,
            DriverInit,
            DriverStartIo,
            DriverUnload,
            MajorFunction,
        }
    );
    v
}

fn ndis_layouts() -> Vec<Item> {
    let mut v = Vec::new();
    layout!(
        v,
        NDIS_LINK_STATE {
            Header,
            MediaConnectState,
            MediaDuplexState,
            XmitLinkSpeed,
            RcvLinkSpeed,
            PauseFunctions,
            AutoNegotiationFlags,
        }
    );
    layout!(
        v,
        NET_PNP_EVENT {
            NetEvent,
            Buffer,
            BufferLength,
            NdisReserved,
            TransportReserved,
            TdiReserved,
            TdiClientReserved,
        }
    );
    v.push(Item::size("NET_LUID", size_of::<t::NET_LUID>()));
    v.push(Item::size("NET_IFINDEX", size_of::<t::NET_IFINDEX>()));
    v.push(Item::size(
        "NDIS_PORT_NUMBER",
        size_of::<t::NDIS_PORT_NUMBER>(),
    ));
    v.push(Item::size("NDIS_OID", size_of::<t::NDIS_OID>()));
    v.push(Item::size("NDIS_STATUS", size_of::<t::NDIS_STATUS>()));
    v.push(Item::size("NDIS_MEDIUM", size_of::<t::NDIS_MEDIUM>()));
    v.push(Item::size(
        "NET_IF_MEDIA_CONNECT_STATE",
        size_of::<t::NET_IF_MEDIA_CONNECT_STATE>(),
    ));
    v.push(Item::size(
        "NDIS_REQUEST_TYPE",
        size_of::<t::NDIS_REQUEST_TYPE>(),
    ));
    v.push(Item::size(
        "NET_PNP_EVENT_CODE",
        size_of::<t::NET_PNP_EVENT_CODE>(),
    ));
    v.push(Item::expr(
        "IRP_MJ_MAXIMUM_FUNCTION + 1",
        as_i64(t::IRP_MJ_COUNT),
    ));
    v
}

fn defines() -> Vec<Item> {
    defines!(
        NDIS_STATUS_SUCCESS,
        NDIS_STATUS_PENDING,
        NDIS_STATUS_FAILURE,
        NDIS_STATUS_RESOURCES,
        NDIS_STATUS_NOT_SUPPORTED,
        NDIS_STATUS_INVALID_PARAMETER,
        NDIS_STATUS_PAUSED,
        NDIS_STATUS_SEND_ABORTED,
        NDIS_STATUS_REQUEST_ABORTED,
        NDIS_STATUS_MEDIA_DISCONNECTED,
        NDIS_STATUS_BUFFER_TOO_SHORT,
        NDIS_STATUS_INVALID_LENGTH,
        NDIS_STATUS_INVALID_OID,
        NDIS_STATUS_LINK_STATE,
        NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG,
        NDIS_STATUS_L2_MTU_SIZE_CHANGE,
        NDIS_SEND_FLAGS_DISPATCH_LEVEL,
        NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK,
        NDIS_SEND_FLAGS_SINGLE_QUEUE,
        NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL,
        NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
        NDIS_RECEIVE_FLAGS_RESOURCES,
        NDIS_RECEIVE_FLAGS_SINGLE_ETHER_TYPE,
        NDIS_RECEIVE_FLAGS_MORE_NBLS,
        NDIS_RETURN_FLAGS_DISPATCH_LEVEL,
        NDIS_CLONE_FLAGS_RESERVED,
        NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS,
        NDIS_NBL_FLAGS_SEND_READ_ONLY,
        NDIS_OBJECT_TYPE_DEFAULT,
        NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES,
        NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS,
        NDIS_OBJECT_TYPE_FILTER_PARTIAL_CHARACTERISTICS,
        NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES,
        NDIS_OBJECT_TYPE_OID_REQUEST,
        NDIS_OBJECT_TYPE_STATUS_INDICATION,
        NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS,
        NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS,
        NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS,
        NDIS_FILTER_CHARACTERISTICS_REVISION_2,
        NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2,
        NDIS_FILTER_ATTRIBUTES_REVISION_1,
        NDIS_SIZEOF_FILTER_ATTRIBUTES_REVISION_1,
        NDIS_FILTER_ATTACH_PARAMETERS_REVISION_4,
        NDIS_SIZEOF_FILTER_ATTACH_PARAMETERS_REVISION_4,
        NDIS_FILTER_PAUSE_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_FILTER_PAUSE_PARAMETERS_REVISION_1,
        NDIS_FILTER_RESTART_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_FILTER_RESTART_PARAMETERS_REVISION_1,
        NDIS_OID_REQUEST_REVISION_1,
        NDIS_SIZEOF_OID_REQUEST_REVISION_1,
        NDIS_STATUS_INDICATION_REVISION_1,
        NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
        NDIS_LINK_STATE_REVISION_1,
        NDIS_SIZEOF_LINK_STATE_REVISION_1,
        NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1,
        NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1,
        NET_PNP_EVENT_NOTIFICATION_REVISION_1,
        NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1,
        NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
        NDIS_CONFIGURATION_OBJECT_REVISION_1,
        NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
        NDIS_CONFIG_FLAG_FILTER_INSTANCE_CONFIGURATION,
        OID_GEN_LINK_SPEED,
        OID_GEN_CURRENT_PACKET_FILTER,
        OID_GEN_MAXIMUM_FRAME_SIZE,
        OID_GEN_CURRENT_LOOKAHEAD,
        OID_GEN_STATISTICS,
        OID_802_3_CURRENT_ADDRESS,
        OID_802_3_MULTICAST_LIST,
        OID_TCP_OFFLOAD_PARAMETERS,
        NDIS_PACKET_TYPE_DIRECTED,
        NDIS_PACKET_TYPE_MULTICAST,
        NDIS_PACKET_TYPE_ALL_MULTICAST,
        NDIS_PACKET_TYPE_BROADCAST,
        NDIS_PACKET_TYPE_PROMISCUOUS,
        NDIS_PACKET_TYPE_ALL_LOCAL,
    )
}

/// `NDIS_OFFLOAD`: the Rust layout flattens the nested structures, so the C side names the
/// nested fields (mingw-w64's default build is NDIS 6.0 here: revision 2's `IPsecV2` and revision
/// 3's fields rest on documentation).
fn offload_items() -> Vec<Item> {
    use core::mem::offset_of;
    type O = t::NDIS_OFFLOAD;
    let off = |c_field: &str, rust: usize| Item::offset("NDIS_OFFLOAD", c_field, rust);
    let mut v = vec![
        off("Checksum", offset_of!(O, Checksum)),
        off("Checksum.IPv6Transmit", offset_of!(O, Checksum) + 16),
        off("LsoV1", offset_of!(O, LsoV1)),
        off("IPsecV1", offset_of!(O, IPsecV1)),
        off("LsoV2.IPv4.MaxOffLoadSize", offset_of!(O, LsoV2IPv4) + 4),
        off("LsoV2.IPv4.MinSegmentCount", offset_of!(O, LsoV2IPv4) + 8),
        off("LsoV2.IPv6.MaxOffLoadSize", offset_of!(O, LsoV2IPv6) + 4),
        off("LsoV2.IPv6.MinSegmentCount", offset_of!(O, LsoV2IPv6) + 8),
        off("Flags", offset_of!(O, Flags)),
        Item::size(
            "NDIS_TCP_IP_CHECKSUM_OFFLOAD",
            size_of::<[t::NDIS_CHECKSUM_OFFLOAD_DIRECTION; 4]>(),
        ),
        Item::size("NDIS_TCP_LARGE_SEND_OFFLOAD_V1", size_of::<[u32; 4]>()),
        Item::size("NDIS_IPSEC_OFFLOAD_V1", size_of::<[u32; 7]>()),
    ];
    v.extend(defines!(
        NDIS_OBJECT_TYPE_OFFLOAD,
        NDIS_OFFLOAD_REVISION_1,
        NDIS_OFFLOAD_REVISION_3,
        NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1,
        OID_TCP_OFFLOAD_CURRENT_CONFIG,
    ));
    v
}

/// Enumerators: the Rust names differ from the C ones.
fn enumerators() -> Vec<Item> {
    let mut v = Vec::new();
    for (c, rust) in [
        ("MediaConnectStateUnknown", k::MEDIA_CONNECT_STATE_UNKNOWN),
        (
            "MediaConnectStateConnected",
            k::MEDIA_CONNECT_STATE_CONNECTED,
        ),
        (
            "MediaConnectStateDisconnected",
            k::MEDIA_CONNECT_STATE_DISCONNECTED,
        ),
        ("NdisMedium802_3", k::NDIS_MEDIUM_802_3),
        (
            "NdisRequestQueryInformation",
            k::NDIS_REQUEST_QUERY_INFORMATION,
        ),
        ("NdisRequestSetInformation", k::NDIS_REQUEST_SET_INFORMATION),
        (
            "NdisRequestQueryStatistics",
            k::NDIS_REQUEST_QUERY_STATISTICS,
        ),
        ("NdisRequestMethod", k::NDIS_REQUEST_METHOD),
        ("NormalPoolPriority", k::NORMAL_POOL_PRIORITY),
    ] {
        v.push(Item::expr(c, i64::from(rust)));
    }
    v
}

/// Timers, spin locks and processor numbers: `PROCESSOR_NUMBER` and the pieces of `NDIS_SPIN_LOCK`
/// (wdm.h), the timer object type and `ALL_PROCESSOR_GROUPS`, and the signatures of the two
/// processor routines mingw-w64 declares (1 = the header's type is the one `ffi.rs` declares).
fn timer_sync_items() -> Vec<Item> {
    let mut v = Vec::new();
    layout!(
        v,
        PROCESSOR_NUMBER {
            Group,
            Number,
            Reserved
        }
    );
    v.push(Item::size("KSPIN_LOCK", size_of::<t::KSPIN_LOCK>()));
    v.push(Item::size("KIRQL", size_of::<t::KIRQL>()));
    v.extend(defines!(
        NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
        ALL_PROCESSOR_GROUPS,
        MDL_MAPPED_TO_SYSTEM_VA,
        MDL_PARTIAL,
        MDL_PARTIAL_HAS_BEEN_MAPPED
    ));
    // Rewrite mode's header slots (`ndis/nbl/header.rs`): the MDL routines as `ffi.rs` declares
    // them.
    for sig in [
        "__builtin_types_compatible_p(__typeof__(&IoAllocateMdl), PMDL (*)(PVOID, ULONG, BOOLEAN, BOOLEAN, PIRP))",
        "__builtin_types_compatible_p(__typeof__(&IoFreeMdl), VOID (*)(PMDL))",
        "__builtin_types_compatible_p(__typeof__(&IoBuildPartialMdl), VOID (*)(PMDL, PMDL, PVOID, ULONG))",
        "__builtin_types_compatible_p(__typeof__(&MmUnmapLockedPages), VOID (*)(PVOID, PMDL))",
    ] {
        v.push(Item::expr(sig, 1));
    }
    v.push(Item::expr(
        "__builtin_types_compatible_p(__typeof__(&KeGetCurrentProcessorNumberEx), ULONG (*)(PPROCESSOR_NUMBER))",
        1,
    ));
    v.push(Item::expr(
        "__builtin_types_compatible_p(__typeof__(&KeQueryMaximumProcessorCountEx), ULONG (*)(USHORT))",
        1,
    ));
    v
}

/// What mingw-w64 cannot check (its headers stop at NDIS 6.20 and have no filter or NBL
/// structures): these rest on Microsoft's documentation and public symbols, each with its source.
pub const DOCUMENTATION_ONLY: &[(&str, &str)] = &[
    (
        "NET_BUFFER_LIST, NET_BUFFER, NET_BUFFER_LIST_CONTEXT, NET_BUFFER_LIST_POOL_PARAMETERS",
        "ndis.sys public symbols (PDB), ndis-lwf-facts.md §1 ✓; mingw's ndis.h is NDIS 5-era here",
    ),
    (
        "NDIS_FILTER_DRIVER_CHARACTERISTICS, NDIS_FILTER_ATTACH/PAUSE/RESTART_PARAMETERS, NDIS_FILTER_ATTRIBUTES",
        "DDI reference field order + PDB-derived headers; mingw has no LWF structures",
    ),
    (
        "NDIS_OID_REQUEST, NDIS_STATUS_INDICATION, NDIS_DEVICE_OBJECT_ATTRIBUTES",
        "PDB ✓ (OID request, status indication), DDI order (device attributes)",
    ),
    (
        "NET_PNP_EVENT_NOTIFICATION (size 0xA8, Flags at 0xA0)",
        "ndis.h of the WDK 10 and ndis.sys symbols; mingw's netpnp.h has only NET_PNP_EVENT",
    ),
    (
        "NetEventFilterPreDetach = 15",
        "NET_PNP_EVENT_CODE in the WDK 10 netpnp.h / ndis.sys symbols; mingw's enum ends at NetEventIMReEnableDevice = 12",
    ),
    (
        "NetBufferListInfo slots (TcpIpChecksum 0, TcpLargeSend 2, Ieee8021Q 4, CancelId 5, HashValue 8)",
        "NDIS_NET_BUFFER_LIST_INFO in the DDI reference; not in mingw",
    ),
    (
        "NDIS_CONFIGURATION_OBJECT, NDIS_CONFIGURATION_PARAMETER, NdisParameter* (0..=4)",
        "DDI reference; mingw's ndis.h has NDIS_CONFIGURATION_PARAMETER but does not compile beside ntddndis.h",
    ),
    (
        "NDIS_FILTER_MAJOR_VERSION/MINOR_VERSION = 6.30",
        "deliberately newer than mingw's 6.20 default",
    ),
    (
        "NDIS_TIMER_CHARACTERISTICS (size 24), NDIS_TIMER_FUNCTION, NdisAllocate/Set/Cancel/FreeTimerObject",
        "DDI reference (ns-ndis-_ndis_timer_characteristics, nf-ndis-ndissettimerobject); mingw's ndis.h is NDIS 5-era",
    ),
    (
        "NDIS_SPIN_LOCK (KSPIN_LOCK at 0, KIRQL at 8, size 16) and the six Ndis*SpinLock exports",
        "mingw's ddk/ndis.h field order (not compilable here) + DDI reference; ndis.sys exports them as functions",
    ),
    (
        "KeQueryInterruptTimePrecise(PULONG64) -> ULONG64",
        "DDI reference nf-wdm-kequeryinterrupttimeprecise (Windows 8.1+); not in mingw's wdm.h",
    ),
    (
        "NDIS_OFFLOAD revisions 2-3 (IPsecV2 at 0x70, 32 bytes; Rsc at 0x90; EncapsulatedPacketTaskOffloadGre at 0x94; size 0x9C)",
        "DDI reference ns-ntddndis-_ndis_offload; mingw-w64's headers here build revision 1 (through Flags) only",
    ),
    (
        "NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET = 0x8000",
        "nbl.h as the Windows metadata publishes it (NblFlags); mingw's ndis.h is NDIS 5-era",
    ),
    (
        "NDIS_RESTART_ATTRIBUTES (Data at 0x10), NDIS_RESTART_GENERAL_ATTRIBUTES (rev 2, 0x58), OID_GEN_MINIPORT_RESTART_ATTRIBUTES = 0x1021D, NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES = 0xA2",
        "DDI reference field order (ns-ndis-_ndis_restart_attributes, ns-ndis-_ndis_restart_general_attributes); values as the Windows metadata publishes them; not in mingw",
    ),
];
