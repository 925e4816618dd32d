//! The NDIS 6.30 functions an LWF imports, declared once.
//!
//! On Windows they resolve to ndis.sys: through `ndis.lib` in the WDK build (wdk-build adds it), and
//! through a `raw-dylib` import in the Linux cross build of the `.sys`. On a Linux host they resolve
//! at link time to the `#[no_mangle]` definitions of the NDIS emulator (crate `ndis-emu`).
#![allow(
    non_snake_case,
    clippy::missing_safety_doc,
    clippy::doc_markdown,
    clippy::wildcard_imports
)]

use super::types::*;
use core::ffi::c_void;

#[cfg_attr(
    all(windows, not(feature = "wdk")),
    link(name = "ndis.sys", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    // Driver level.
    /// Registers the filter driver's characteristics with NDIS (PASSIVE_LEVEL).
    pub fn NdisFRegisterFilterDriver(
        DriverObject: *mut DRIVER_OBJECT,
        FilterDriverContext: NDIS_HANDLE,
        FilterDriverCharacteristics: *mut NDIS_FILTER_DRIVER_CHARACTERISTICS,
        NdisFilterDriverHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// Deregisters the filter driver (PASSIVE_LEVEL).
    pub fn NdisFDeregisterFilterDriver(NdisFilterDriverHandle: NDIS_HANDLE);
    /// The NDIS version, major in the high word.
    pub fn NdisGetVersion() -> u32;
    /// Creates a control device object.
    pub fn NdisRegisterDeviceEx(
        NdisObjectHandle: NDIS_HANDLE,
        DeviceObjectAttributes: *mut NDIS_DEVICE_OBJECT_ATTRIBUTES,
        pDeviceObject: *mut *mut DEVICE_OBJECT,
        NdisDeviceHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// Deletes a control device object.
    pub fn NdisDeregisterDeviceEx(NdisDeviceHandle: NDIS_HANDLE);
    /// The reserved extension of a control device object.
    pub fn NdisGetDeviceReservedExtension(DeviceObject: *mut DEVICE_OBJECT) -> *mut c_void;
    /// Allocates nonpaged memory.
    pub fn NdisAllocateMemoryWithTagPriority(
        NdisHandle: NDIS_HANDLE,
        Length: u32,
        Tag: u32,
        Priority: EX_POOL_PRIORITY,
    ) -> *mut c_void;
    /// Frees memory from `NdisAllocateMemoryWithTagPriority`.
    pub fn NdisFreeMemory(VirtualAddress: *mut c_void, Length: u32, MemoryFlags: u32);

    // Per filter module.
    /// Sets the module context; only inside FilterAttach (PASSIVE_LEVEL).
    pub fn NdisFSetAttributes(
        NdisFilterHandle: NDIS_HANDLE,
        FilterModuleContext: NDIS_HANDLE,
        FilterAttributes: *mut NDIS_FILTER_ATTRIBUTES,
    ) -> NDIS_STATUS;
    /// Sends NBLs down the stack.
    pub fn NdisFSendNetBufferLists(
        NdisFilterHandle: NDIS_HANDLE,
        NetBufferList: *mut NET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        SendFlags: u32,
    );
    /// Completes NBLs that came down through FilterSendNetBufferLists.
    pub fn NdisFSendNetBufferListsComplete(
        NdisFilterHandle: NDIS_HANDLE,
        NetBufferList: *mut NET_BUFFER_LIST,
        SendCompleteFlags: u32,
    );
    /// Indicates received NBLs up the stack.
    pub fn NdisFIndicateReceiveNetBufferLists(
        NdisFilterHandle: NDIS_HANDLE,
        NetBufferLists: *mut NET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        NumberOfNetBufferLists: u32,
        ReceiveFlags: u32,
    );
    /// Returns received NBLs to the driver below.
    pub fn NdisFReturnNetBufferLists(
        NdisFilterHandle: NDIS_HANDLE,
        NetBufferLists: *mut NET_BUFFER_LIST,
        ReturnFlags: u32,
    );
    /// Cancels sends with the given cancel id below this module.
    pub fn NdisFCancelSendNetBufferLists(NdisFilterHandle: NDIS_HANDLE, CancelId: *mut c_void);
    /// Sends an OID request down.
    pub fn NdisFOidRequest(
        NdisFilterHandle: NDIS_HANDLE,
        OidRequest: *mut NDIS_OID_REQUEST,
    ) -> NDIS_STATUS;
    /// Completes an OID request that FilterOidRequest pended.
    pub fn NdisFOidRequestComplete(
        NdisFilterHandle: NDIS_HANDLE,
        OidRequest: *mut NDIS_OID_REQUEST,
        Status: NDIS_STATUS,
    );
    /// Cancels an OID request below this module.
    pub fn NdisFCancelOidRequest(NdisFilterHandle: NDIS_HANDLE, RequestId: *mut c_void);
    /// Allocates a clone of an OID request for forwarding.
    pub fn NdisAllocateCloneOidRequest(
        SourceHandle: NDIS_HANDLE,
        OidRequest: *mut NDIS_OID_REQUEST,
        PoolTag: u32,
        CloneOidRequest: *mut *mut NDIS_OID_REQUEST,
    ) -> NDIS_STATUS;
    /// Frees a cloned OID request.
    pub fn NdisFreeCloneOidRequest(SourceHandle: NDIS_HANDLE, OidRequest: *mut NDIS_OID_REQUEST);
    /// Indicates a status up the stack.
    pub fn NdisFIndicateStatus(
        NdisFilterHandle: NDIS_HANDLE,
        StatusIndication: *mut NDIS_STATUS_INDICATION,
    );
    /// Forwards a network PnP event down.
    pub fn NdisFNetPnPEvent(
        NdisFilterHandle: NDIS_HANDLE,
        NetPnPEventNotification: *mut NET_PNP_EVENT_NOTIFICATION,
    ) -> NDIS_STATUS;
    /// Forwards a device PnP event down.
    pub fn NdisFDevicePnPEventNotify(
        NdisFilterHandle: NDIS_HANDLE,
        NetDevicePnPEvent: *mut NET_DEVICE_PNP_EVENT,
    );
    /// Completes a pause that FilterPause pended.
    pub fn NdisFPauseComplete(NdisFilterHandle: NDIS_HANDLE);
    /// Completes a restart that FilterRestart pended (PASSIVE_LEVEL).
    pub fn NdisFRestartComplete(NdisFilterHandle: NDIS_HANDLE, Status: NDIS_STATUS);
    /// Asks NDIS to pause and restart this module (to re-read options).
    pub fn NdisFRestartFilter(NdisFilterHandle: NDIS_HANDLE) -> NDIS_STATUS;
    /// Registers optional handlers from FilterSetModuleOptions (PASSIVE_LEVEL).
    pub fn NdisSetOptionalHandlers(
        NdisHandle: NDIS_HANDLE,
        OptionalHandlers: *mut NDIS_DRIVER_OPTIONAL_HANDLERS,
    ) -> NDIS_STATUS;

    // NBLs, pools, clones and contexts.
    /// Creates an NBL pool.
    pub fn NdisAllocateNetBufferListPool(
        NdisHandle: NDIS_HANDLE,
        Parameters: *mut NET_BUFFER_LIST_POOL_PARAMETERS,
    ) -> NDIS_HANDLE;
    /// Frees an NBL pool (all its NBLs must be freed).
    pub fn NdisFreeNetBufferListPool(PoolHandle: NDIS_HANDLE);
    /// Allocates an NBL without NET_BUFFERs.
    pub fn NdisAllocateNetBufferList(
        PoolHandle: NDIS_HANDLE,
        ContextSize: u16,
        ContextBackFill: u16,
    ) -> *mut NET_BUFFER_LIST;
    /// Allocates an NBL with one NET_BUFFER over the given MDL chain.
    pub fn NdisAllocateNetBufferAndNetBufferList(
        PoolHandle: NDIS_HANDLE,
        ContextSize: u16,
        ContextBackFill: u16,
        MdlChain: *mut MDL,
        DataOffset: u32,
        DataLength: usize,
    ) -> *mut NET_BUFFER_LIST;
    /// Frees an NBL from `NdisAllocateNetBufferList*`.
    pub fn NdisFreeNetBufferList(NetBufferList: *mut NET_BUFFER_LIST);
    /// Allocates and builds an MDL for `Length` bytes of nonpaged memory at `VirtualAddress`
    /// (IRQL <= DISPATCH_LEVEL); NULL when out of resources.
    pub fn NdisAllocateMdl(
        NdisHandle: NDIS_HANDLE,
        VirtualAddress: *mut c_void,
        Length: u32,
    ) -> *mut MDL;
    /// Frees an MDL from `NdisAllocateMdl` (IRQL <= DISPATCH_LEVEL).
    pub fn NdisFreeMdl(Mdl: *mut MDL);
    /// Clones an NBL (new NBL and NET_BUFFERs over the same data).
    pub fn NdisAllocateCloneNetBufferList(
        OriginalNetBufferList: *mut NET_BUFFER_LIST,
        NetBufferListPoolHandle: NDIS_HANDLE,
        NetBufferPoolHandle: NDIS_HANDLE,
        AllocateCloneFlags: u32,
    ) -> *mut NET_BUFFER_LIST;
    /// Frees a clone; the flags must equal those it was allocated with.
    pub fn NdisFreeCloneNetBufferList(
        CloneNetBufferList: *mut NET_BUFFER_LIST,
        FreeCloneFlags: u32,
    );
    /// Pushes a context area onto an NBL's context stack.
    pub fn NdisAllocateNetBufferListContext(
        NetBufferList: *mut NET_BUFFER_LIST,
        ContextSize: u16,
        ContextBackFill: u16,
        PoolTag: u32,
    ) -> NDIS_STATUS;
    /// Pops a context area.
    pub fn NdisFreeNetBufferListContext(NetBufferList: *mut NET_BUFFER_LIST, ContextSize: u16);
    /// Copies the send out-of-band info from one NBL to another (VOID in the DDI).
    pub fn NdisCopySendNetBufferListInfo(
        DestNetBufferList: *mut NET_BUFFER_LIST,
        SrcNetBufferList: *mut NET_BUFFER_LIST,
    );
    /// Copies the receive out-of-band info (checksum results, 802.1Q, hash, frame type, …) from
    /// one NBL to another (VOID in the DDI).
    pub fn NdisCopyReceiveNetBufferListInfo(
        DestNetBufferList: *mut NET_BUFFER_LIST,
        SrcNetBufferList: *mut NET_BUFFER_LIST,
    );
    /// Moves a NET_BUFFER's data start back (into backfill), allocating an MDL if needed.
    pub fn NdisRetreatNetBufferDataStart(
        NetBuffer: *mut NET_BUFFER,
        DataOffsetDelta: u32,
        DataBackFill: u32,
        AllocateMdlHandler: *mut c_void,
    ) -> NDIS_STATUS;
    /// Moves a NET_BUFFER's data start forward.
    pub fn NdisAdvanceNetBufferDataStart(
        NetBuffer: *mut NET_BUFFER,
        DataOffsetDelta: u32,
        FreeMdl: BOOLEAN,
        FreeMdlHandler: *mut c_void,
    );
    /// A contiguous view of the first bytes of a NET_BUFFER's data.
    pub fn NdisGetDataBuffer(
        NetBuffer: *mut NET_BUFFER,
        BytesNeeded: u32,
        Storage: *mut c_void,
        AlignMultiple: u32,
        AlignOffset: u32,
    ) -> *mut c_void;
    /// The pool an NBL came from.
    pub fn NdisGetPoolFromNetBufferList(NetBufferList: *mut NET_BUFFER_LIST) -> NDIS_HANDLE;

    // Configuration (PASSIVE_LEVEL).
    /// Opens the configuration of the driver or of one filter module (by its handle).
    pub fn NdisOpenConfigurationEx(
        ConfigObject: *mut NDIS_CONFIGURATION_OBJECT,
        ConfigurationHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// Reads one value; the returned parameter lives until `NdisCloseConfiguration`.
    pub fn NdisReadConfiguration(
        Status: *mut NDIS_STATUS,
        ParameterValue: *mut *mut NDIS_CONFIGURATION_PARAMETER,
        ConfigurationHandle: NDIS_HANDLE,
        Keyword: *mut UNICODE_STRING,
        ParameterType: NDIS_PARAMETER_TYPE,
    );
    /// Closes a configuration handle and frees every value read through it.
    pub fn NdisCloseConfiguration(ConfigurationHandle: NDIS_HANDLE);
}

// Host build only: defined by the NDIS emulator (`ndis-emu`), never part of the `.sys` imports.
#[cfg(not(windows))]
unsafe extern "system" {
    /// Records one diagnostic record (`crate::diag`) for the driver or module `Handle`; reads
    /// `Length` bytes at `Record` during the call.
    pub fn MpDiagRecordHost(Handle: NDIS_HANDLE, Record: *const u8, Length: usize);
}

#[cfg_attr(
    all(windows, not(feature = "wdk")),
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// Allocates per-driver-object storage keyed by a client address; the I/O manager frees it
    /// with the driver object. Lets unload find the driver's state without a global.
    pub fn IoAllocateDriverObjectExtension(
        DriverObject: *mut DRIVER_OBJECT,
        ClientIdentificationAddress: *mut c_void,
        DriverObjectExtensionSize: u32,
        DriverObjectExtension: *mut *mut c_void,
    ) -> NDIS_STATUS;
    /// Finds storage allocated by `IoAllocateDriverObjectExtension`.
    pub fn IoGetDriverObjectExtension(
        DriverObject: *mut DRIVER_OBJECT,
        ClientIdentificationAddress: *mut c_void,
    ) -> *mut c_void;
}

// Timer objects and spin locks. The spin-lock functions are documented as ndis.h macros (a
// non-binary-compatible build maps them to KeAcquireSpinLock and friends), but ndis.sys exports
// all six as functions, which is what these declarations import.
#[cfg_attr(
    all(windows, not(feature = "wdk")),
    link(name = "ndis.sys", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// Creates a timer object for `NdisHandle` (driver or module handle), <= DISPATCH_LEVEL.
    pub fn NdisAllocateTimerObject(
        NdisHandle: NDIS_HANDLE,
        TimerCharacteristics: *mut NDIS_TIMER_CHARACTERISTICS,
        pTimerObject: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// Sets a timer: `DueTime` in 100 ns units (negative = relative), then every
    /// `MillisecondsPeriod` ms if non-zero; TRUE if it was already queued (<= DISPATCH_LEVEL).
    pub fn NdisSetTimerObject(
        TimerObject: NDIS_HANDLE,
        DueTime: i64,
        MillisecondsPeriod: u32,
        FunctionContext: *mut c_void,
    ) -> BOOLEAN;
    /// Cancels a timer; TRUE if it was queued. A periodic timer only at PASSIVE_LEVEL (the call
    /// flushes queued DPCs).
    pub fn NdisCancelTimerObject(TimerObject: NDIS_HANDLE) -> BOOLEAN;
    /// Frees a timer object that is not set (<= DISPATCH_LEVEL).
    pub fn NdisFreeTimerObject(TimerObject: NDIS_HANDLE);
    /// Initialises an NDIS spin lock.
    pub fn NdisAllocateSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// Releases the resources of an NDIS spin lock that is not held.
    pub fn NdisFreeSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// Acquires the lock, raising to DISPATCH_LEVEL and saving the old IRQL in the lock.
    pub fn NdisAcquireSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// Releases a lock from `NdisAcquireSpinLock`, restoring the saved IRQL.
    pub fn NdisReleaseSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// Acquires the lock when the caller already runs at DISPATCH_LEVEL.
    pub fn NdisDprAcquireSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// Releases a lock from `NdisDprAcquireSpinLock` (stays at DISPATCH_LEVEL).
    pub fn NdisDprReleaseSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
}

// The clock and processor numbers (ntoskrnl, callable at any IRQL).
#[cfg_attr(
    all(windows, not(feature = "wdk")),
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// Interrupt time in 100 ns units, to about 1 µs (Windows 8.1+); writes the performance
    /// counter it was read at to `QpcTimeStamp`.
    pub fn KeQueryInterruptTimePrecise(QpcTimeStamp: *mut u64) -> u64;
    /// The system-wide (group-aware) index of the current processor; fills `ProcNumber` with its
    /// group and group-relative number if non-NULL.
    pub fn KeGetCurrentProcessorNumberEx(ProcNumber: *mut PROCESSOR_NUMBER) -> u32;
    /// The maximum number of processors in `GroupNumber`, or in all groups for
    /// `ALL_PROCESSOR_GROUPS`; constant while the system runs.
    pub fn KeQueryMaximumProcessorCountEx(GroupNumber: u16) -> u32;
}

// MDLs over part of another MDL (ntoskrnl, <= DISPATCH_LEVEL): the header slots of rewrite mode.
#[cfg_attr(
    all(windows, not(feature = "wdk")),
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// Allocates an MDL large enough for `Length` bytes at `VirtualAddress` (not built);
    /// NULL when out of resources.
    pub fn IoAllocateMdl(
        VirtualAddress: *mut c_void,
        Length: u32,
        SecondaryBuffer: BOOLEAN,
        ChargeQuota: BOOLEAN,
        Irp: *mut c_void,
    ) -> *mut MDL;
    /// Frees an MDL from `IoAllocateMdl`.
    pub fn IoFreeMdl(Mdl: *mut MDL);
    /// Makes `TargetMdl` describe `Length` bytes at `VirtualAddress` within `SourceMdl`'s range
    /// (0 = to its end), using the source's pages.
    pub fn IoBuildPartialMdl(
        SourceMdl: *mut MDL,
        TargetMdl: *mut MDL,
        VirtualAddress: *mut c_void,
        Length: u32,
    );
    /// Releases a mapping of an MDL's pages (what `MmPrepareMdlForReuse` calls for a partial
    /// MDL that was mapped).
    pub fn MmUnmapLockedPages(BaseAddress: *mut c_void, MemoryDescriptorList: *mut MDL);
}

// The control device's I/O (ntoskrnl, PASSIVE_LEVEL in a dispatch routine).
#[cfg_attr(
    all(windows, not(feature = "wdk")),
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// Completes an IRP (`IoCompleteRequest` is a wdm.h macro for this export).
    pub fn IofCompleteRequest(Irp: *mut super::irp::IRP, PriorityBoost: i8);
    /// Checks that the handle an IRP_MJ_DEVICE_CONTROL came on was granted `RequiredAccess`
    /// (FILE_READ_ACCESS / FILE_WRITE_ACCESS); STATUS_SUCCESS for kernel-mode requesters.
    pub fn IoValidateDeviceIoControlAccess(
        Irp: *mut super::irp::IRP,
        RequiredAccess: u32,
    ) -> super::irp::NTSTATUS;
}

// The kernel-mode ETW provider API. The `.sys` never calls these by name: the `tracelogging`
// crate (feature `kernel_mode`, `crate::windows::etw`) declares them in an extern block without a
// library, and these raw-dylib declarations give rust-lld the ntoskrnl.exe imports to resolve its
// references (the WDK build gets them from ntoskrnl.lib). Emulated in `tests/src/exports/etw.rs`.
#[cfg(windows)]
#[cfg_attr(
    not(feature = "wdk"),
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// Registers a provider (PASSIVE_LEVEL); may call `EnableCallback` before it returns.
    pub fn EtwRegister(
        ProviderId: *const GUID,
        EnableCallback: Option<
            unsafe extern "system" fn(*const GUID, u32, u8, u64, u64, *mut c_void, *mut c_void),
        >,
        CallbackContext: *mut c_void,
        RegHandle: *mut u64,
    ) -> NDIS_STATUS;
    /// Unregisters a provider (PASSIVE_LEVEL).
    pub fn EtwUnregister(RegHandle: u64) -> NDIS_STATUS;
    /// Sets provider information, e.g. its TraceLogging traits (class 2).
    pub fn EtwSetInformation(
        RegHandle: u64,
        InformationClass: u32,
        EventInformation: *const c_void,
        InformationLength: u32,
    ) -> NDIS_STATUS;
    /// Gets or sets the thread's activity id. The driver never calls it (it writes no activity
    /// ids), and the import table never lists it; but `tracelogging` references it from code the
    /// linker keeps until it discards what nothing calls, so it must resolve.
    pub fn EtwActivityIdControl(ControlCode: u32, ActivityId: *mut GUID) -> NDIS_STATUS;
    /// Writes one event (any IRQL up to HIGH_LEVEL).
    pub fn EtwWriteTransfer(
        RegHandle: u64,
        EventDescriptor: *const c_void,
        ActivityId: *const GUID,
        RelatedActivityId: *const GUID,
        UserDataCount: u32,
        UserData: *const c_void,
    ) -> NDIS_STATUS;
}
