//! A small, deliberately breakable LWF: a correct pass-through (that also exercises clones,
//! NBL contexts, data-start retreat/advance and NdisGetDataBuffer) whose callbacks misbehave in
//! exactly one way chosen by a [`Fault`]. It is the negative-test subject for every rule, and with
//! `Fault::None` the positive control showing the same strictness passes a correct filter.
//!
//! It lives at the FFI edge (it is an NDIS driver), so it handles raw NDIS pointers; its state
//! is single-threaded (the emulator runs one thread per instance) and reached only through the
//! contexts NDIS hands back.
#![allow(
    clippy::too_many_lines,
    clippy::wildcard_imports,
    clippy::many_single_char_names,
    non_snake_case
)]

use crate::image::DriverImage;
use core::ffi::c_void;
use core::ptr::{self, null_mut};
use mpfilter::ndis::consts::*;
use mpfilter::ndis::ffi::*;
use mpfilter::ndis::types::*;
use std::cell::Cell;

/// The one way the filter misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Fault {
    /// A correct filter.
    None,
    /// Clones with NDIS_CLONE_FLAGS_RESERVED set.
    CloneWithReservedFlag,
    BadCharacteristics,
    BogusHandle,
    SkipSetAttributes,
    /// Opens its configuration with the monitoring filters' instance flag.
    ConfigInstanceFlag,
    /// Opens its configuration and never closes it.
    LeaveConfigOpen,
    SetAttributesOutsideAttach,
    SendWhileNotRunning,
    IndicateWhileNotRunning,
    CompletePausedWithSuccess,
    /// Registers with a UniqueName that is not a GUID.
    BadUniqueName,
    /// Completes sends with NDIS_STATUS_PAUSED while Running.
    CompletePausedWhileRunning,
    PauseFails,
    PauseSuccessWithOutstanding,
    PauseCompleteWhenNotPending,
    PauseNeverCompletes,
    RestartCompleteWhenNotPending,
    RestartNeverCompletes,
    DispatchFlagMismatch,
    PassiveOnlyAtDispatch,
    CompleteTwice,
    CompleteOnWrongModule,
    CompleteOwnNbl,
    CompleteWhileBelow,
    SendTwice,
    TouchWhileBelow,
    SendUnknownNbl,
    ChangeSourceHandle,
    OwnNblWithoutSourceHandle,
    ModifyBeforeHandback,
    WriteDataBeforeHandback,
    LeaveContextPushed,
    WrongNblCount,
    ReturnResourcesNbl,
    BreakResourcesChain,
    IndicateResourcesWithoutFlag,
    ReturnTwice,
    ReturnOnWrongModule,
    ReturnWhileIndicated,
    IndicateTwice,
    TouchWhileIndicated,
    ForwardOriginalOid,
    CompleteOidTwice,
    CompleteSyncOid,
    CompleteCloneUpward,
    CompleteOidOnWrongModule,
    NeverCompleteOid,
    FreeOidCloneWhileBelow,
    OidInAttach,
    StatusInAttach,
    StatusWithWrongSource,
    CloneFreeFlagsMismatch,
    CompleteParentWithLiveClone,
    SendParentWithLiveClone,
    /// Marks every NBL it sends down as a large send (the adapter has no LSO).
    SendLargeSendUnsupported,
    FreeCloneWithFreeNbl,
    FreeNblWhileBelow,
    FreePoolWithOutstanding,
    FreeContextNotAllocated,
    FreeMemoryTwice,
    HoldNblWhilePaused,
    LeakPool,
    LeakNbl,
    LeakOidClone,
    LeakContext,
    LeakMemory,
    LeakDevice,
    SkipDeregister,
    DropStatus,
    AlterStatus,
    DropNetPnp,
    DropDevicePnp,
    AlterPnpPort,
    ReplacePnpAnswer,
    DropSendCancel,
    DropOidCancel,
    AlterSendPort,
    AlterReceivePort,
    AlterOidAnswer,
    LoopChain,
    LoopNetBuffers,
    SwallowSends,
    /// FilterRestart never returns: it calls NdisGetVersion in an endless loop.
    SpinInCallback,
    /// Returns every receive to the miniport instead of indicating it up.
    SwallowReceives,
    DoubleDecrement,
    /// A correct filter that also runs a periodic timer and a spin lock (see `fault_timers`).
    CorrectTimers,
    /// A correct filter that teams its modules: the first NBL of each send goes down another
    /// running module's stack as a clone (SourceHandle = that module, ParentNetBufferList = the
    /// original), and that module's send-complete completes the parent on the module it came
    /// down. Exercises the emulator's team-aware wire and the delivery ledger.
    RerouteClones,
    TimerBadCharacteristics,
    FreeTimerWhileSet,
    CancelPeriodicAtDispatch,
    LeaveTimerSet,
    LeakTimer,
    AcquireUnallocatedLock,
    ReleaseUnheldLock,
    AcquireLockTwice,
    DprAcquireAtPassive,
    ReturnHoldingLock,
    // The control device's dispatch routine (`device_ioctl` reaches it).
    IrpNeverCompleted,
    IrpCompletedTwice,
    IrpInformationOverrun,
    IrpIgnoresAccess,
    DevicePnpHandler,
    /// Registers an ETW provider in DriverEntry and never unregisters it.
    LeakEtwProvider,
    /// Registers an ETW provider in DriverEntry and unregisters it twice at unload.
    EtwUnregisterTwice,
    /// Adds NDIS_PACKET_TYPE_PROMISCUOUS to every packet filter the protocol sets, and neither
    /// filters what that lets in nor hides the bit from the protocol's queries.
    WidenPacketFilter,
    /// Sets the group bit of the source MAC of the first frame of every send.
    MulticastSourceMac,
}

thread_local! {
    static NEXT_FAULT: Cell<Fault> = const { Cell::new(Fault::None) };
}

thread_local! {
    /// The fault of the control device's dispatch routine (which gets no driver context).
    static DEVICE_FAULT: Cell<Fault> = const { Cell::new(Fault::None) };
}

/// The control device's IRP_MJ_DEVICE_CONTROL routine, misbehaving as its fault says.
unsafe extern "system" fn fault_dispatch(
    _device: *mut DEVICE_OBJECT,
    irp: *mut mpfilter::ndis::irp::IRP,
) -> i32 {
    let fault = DEVICE_FAULT.with(Cell::get);
    // SAFETY: the emulator's IRP, with its stack location, live during the call.
    let stack = unsafe { (*irp).CurrentStackLocation };
    // SAFETY: as above.
    let out_len = unsafe { (*stack).Parameters.OutputBufferLength } as usize;
    let information = if fault == Fault::IrpInformationOverrun {
        out_len + 8
    } else {
        0
    };
    // SAFETY: as above; the driver owns the IRP until it completes it.
    unsafe {
        (*irp).IoStatus = mpfilter::ndis::irp::IO_STATUS_BLOCK {
            Status: 0,
            Padding0: 0,
            Information: information,
        };
    }
    if fault != Fault::IrpNeverCompleted {
        // SAFETY: completing the IRP we were given.
        unsafe { IofCompleteRequest(irp, 0) };
    }
    if fault == Fault::IrpCompletedTwice {
        // SAFETY: the fault: a second completion.
        unsafe { IofCompleteRequest(irp, 0) };
    }
    0
}

/// The driver image of the fault filter with `fault` (taken by the next DriverEntry on this
/// thread).
pub fn image(fault: Fault) -> DriverImage {
    NEXT_FAULT.with(|f| f.set(fault));
    DriverImage::HostEntry("fault-filter", driver_entry)
}

static CLIENT_ID: u8 = 0;
const TAG: u32 = u32::from_le_bytes(*b"fltF");

struct FaultDriver {
    handle: NDIS_HANDLE,
    fault: Fault,
    pool: NDIS_HANDLE,
    modules: Vec<*mut FaultModule>,
    memory: *mut c_void,
    device: NDIS_HANDLE,
    names: [Vec<u16>; 3],
    /// The ETW registration of the ETW faults.
    etw: u64,
}

struct FaultModule {
    handle: NDIS_HANDLE,
    driver: *mut FaultDriver,
    running: bool,
    pausing: bool,
    paused: bool,
    below: usize,
    above: usize,
    counter: u64,
    pool: NDIS_HANDLE,
    held: Vec<usize>,
    kit: crate::fault_timers::TimerKit,
}

// Raw accessors: each dereference in one place.

/// # Safety
/// `n` is a live NBL the caller may access.
unsafe fn nbl<'a>(n: *mut NET_BUFFER_LIST) -> &'a mut NET_BUFFER_LIST {
    // SAFETY: forwarded contract.
    unsafe { &mut *n }
}

/// # Safety
/// `ctx` is a module context this driver set.
unsafe fn module<'a>(ctx: NDIS_HANDLE) -> &'a mut FaultModule {
    // SAFETY: forwarded contract.
    unsafe { &mut *ctx.cast::<FaultModule>() }
}

/// # Safety
/// `m` belongs to a live driver.
unsafe fn driver<'a>(m: &FaultModule) -> &'a mut FaultDriver {
    // SAFETY: the driver state outlives its modules.
    unsafe { &mut *m.driver }
}

/// # Safety
/// `head` is a chain of NBLs the caller holds.
unsafe fn to_vec(head: *mut NET_BUFFER_LIST) -> Vec<*mut NET_BUFFER_LIST> {
    let mut v = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        v.push(cur);
        // SAFETY: cur is a held NBL.
        cur = unsafe { nbl(cur) }.Next;
    }
    v
}

/// # Safety
/// The NBLs are held by the caller.
unsafe fn link(v: &[*mut NET_BUFFER_LIST]) -> *mut NET_BUFFER_LIST {
    for w in v.windows(2) {
        // SAFETY: held NBL.
        unsafe { nbl(w[0]) }.Next = w[1];
    }
    if let Some(&l) = v.last() {
        // SAFETY: held NBL.
        unsafe { nbl(l) }.Next = null_mut();
    }
    v.first().copied().unwrap_or(null_mut())
}

fn other_module(m: &FaultModule, d: &FaultDriver) -> NDIS_HANDLE {
    d.modules
        .iter()
        .map(|&p| {
            // SAFETY: modules in the list are live until detach removes them.
            unsafe { (*p).handle }
        })
        .find(|&h| h != m.handle)
        .unwrap_or(0xBAD0 as NDIS_HANDLE)
}

fn maybe_pause_complete(m: &mut FaultModule) {
    // SAFETY: m belongs to a live driver.
    let fault = unsafe { driver(m) }.fault;
    if m.pausing && m.below == 0 && m.above == 0 && fault != Fault::PauseNeverCompletes {
        m.pausing = false;
        m.paused = true;
        // SAFETY: our module handle.
        unsafe { NdisFPauseComplete(m.handle) };
    }
}

unsafe extern "system" fn driver_entry(
    d: *mut DRIVER_OBJECT,
    _r: *mut UNICODE_STRING,
) -> NDIS_STATUS {
    let fault = NEXT_FAULT.with(Cell::get);
    let mut st = Box::new(FaultDriver {
        handle: null_mut(),
        fault,
        pool: null_mut(),
        modules: Vec::new(),
        memory: null_mut(),
        device: null_mut(),
        etw: 0,
        names: [
            "Fault filter".encode_utf16().collect(),
            if fault == Fault::BadUniqueName {
                "faultflt".encode_utf16().collect()
            } else {
                "{6C1E2D3F-0000-4000-8000-00000000F17E}"
                    .encode_utf16()
                    .collect()
            },
            "faultflt".encode_utf16().collect(),
        ],
    });
    let mut ext: *mut c_void = null_mut();
    // SAFETY: d is our driver object; ext receives pointer-sized storage.
    let s = unsafe {
        IoAllocateDriverObjectExtension(
            d,
            ptr::from_ref(&CLIENT_ID).cast_mut().cast(),
            8,
            &raw mut ext,
        )
    };
    if s != 0 || ext.is_null() {
        return NDIS_STATUS_FAILURE;
    }
    let us = |v: &mut Vec<u16>| UNICODE_STRING {
        Length: u16::try_from(v.len() * 2).unwrap_or(0),
        MaximumLength: u16::try_from(v.len() * 2).unwrap_or(0),
        Buffer: v.as_mut_ptr(),
    };
    // SAFETY: NDIS_FILTER_DRIVER_CHARACTERISTICS is plain data (None handlers when zero).
    let mut c: NDIS_FILTER_DRIVER_CHARACTERISTICS = unsafe { core::mem::zeroed() };
    c.Header = NDIS_OBJECT_HEADER::new(
        if fault == Fault::BadCharacteristics {
            0x80
        } else {
            NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS
        },
        NDIS_FILTER_CHARACTERISTICS_REVISION_2,
        NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2,
    );
    c.MajorNdisVersion = 6;
    c.MinorNdisVersion = 30;
    c.MajorDriverVersion = 1;
    c.FriendlyName = us(&mut st.names[0]);
    c.UniqueName = us(&mut st.names[1]);
    c.ServiceName = us(&mut st.names[2]);
    c.AttachHandler = Some(attach);
    c.DetachHandler = Some(detach);
    c.RestartHandler = Some(restart);
    c.PauseHandler = Some(pause);
    c.SetFilterModuleOptionsHandler = Some(set_module_options);
    c.SendNetBufferListsHandler = Some(send);
    c.SendNetBufferListsCompleteHandler = Some(send_complete);
    c.CancelSendNetBufferListsHandler = Some(cancel_send);
    c.ReceiveNetBufferListsHandler = Some(receive);
    c.ReturnNetBufferListsHandler = Some(return_nbls);
    c.OidRequestHandler = Some(oid_request);
    c.OidRequestCompleteHandler = Some(oid_complete);
    c.CancelOidRequestHandler = Some(cancel_oid);
    c.StatusHandler = Some(status);
    c.NetPnPEventHandler = Some(net_pnp);
    c.DevicePnPEventNotifyHandler = Some(device_pnp);
    let sp = Box::into_raw(st);
    // SAFETY: ext is 8 writable bytes from IoAllocateDriverObjectExtension.
    unsafe { *ext.cast::<*mut FaultDriver>() = sp };
    // SAFETY: sp is the live driver state.
    let st = unsafe { &mut *sp };
    // SAFETY: registering with valid characteristics and out pointer.
    let s = unsafe { NdisFRegisterFilterDriver(d, sp.cast(), &raw mut c, &raw mut st.handle) };
    if s != NDIS_STATUS_SUCCESS {
        // SAFETY: registration failed; nothing else references the state.
        drop(unsafe { Box::from_raw(sp) });
        return s;
    }
    let mut pp = NET_BUFFER_LIST_POOL_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEFAULT, 1, 0x10),
        ProtocolId: 0,
        fAllocateNetBuffer: 0,
        ContextSize: 0,
        PoolTag: TAG,
        DataSize: 0,
    };
    // SAFETY: our driver handle and valid parameters.
    st.pool = unsafe { NdisAllocateNetBufferListPool(st.handle, &raw mut pp) };
    if fault == Fault::LeakMemory {
        // SAFETY: our driver handle.
        st.memory =
            unsafe { NdisAllocateMemoryWithTagPriority(st.handle, 64, TAG, NORMAL_POOL_PRIORITY) };
    }
    let irp_fault = matches!(
        fault,
        Fault::IrpNeverCompleted
            | Fault::IrpCompletedTwice
            | Fault::IrpInformationOverrun
            | Fault::IrpIgnoresAccess
    );
    let mut table: [*mut c_void; IRP_MJ_COUNT] = [null_mut(); IRP_MJ_COUNT];
    if irp_fault {
        DEVICE_FAULT.with(|f| f.set(fault));
        let routine: mpfilter::ndis::irp::DriverDispatch = fault_dispatch;
        table[usize::from(mpfilter::ndis::irp::IRP_MJ_DEVICE_CONTROL)] = routine as *mut c_void;
    }
    if fault == Fault::DevicePnpHandler {
        let routine: mpfilter::ndis::irp::DriverDispatch = fault_dispatch;
        // IRP_MJ_PNP: NDIS owns PnP for the device.
        table[0x1B] = routine as *mut c_void;
    }
    if fault == Fault::LeakDevice || irp_fault || fault == Fault::DevicePnpHandler {
        // SAFETY: NDIS_DEVICE_OBJECT_ATTRIBUTES is plain data.
        let mut a: NDIS_DEVICE_OBJECT_ATTRIBUTES = unsafe { core::mem::zeroed() };
        a.Header = NDIS_OBJECT_HEADER::new(0x85, 1, 0x38);
        a.ExtensionSize = 16;
        a.MajorFunctions = table.as_mut_ptr();
        let mut dev: *mut DEVICE_OBJECT = null_mut();
        // SAFETY: valid attributes and out pointers.
        unsafe { NdisRegisterDeviceEx(st.handle, &raw mut a, &raw mut dev, &raw mut st.device) };
    }
    if matches!(fault, Fault::LeakEtwProvider | Fault::EtwUnregisterTwice) {
        let guid = GUID {
            Data1: 0xFA17_E7E7,
            Data2: 0,
            Data3: 0x5000,
            Data4: [0; 8],
        };
        // SAFETY: a live GUID and out handle, no enable callback, at PASSIVE_LEVEL.
        unsafe {
            crate::exports::etw::EtwRegister(&raw const guid, 0, null_mut(), &raw mut st.etw)
        };
    }
    // SAFETY: d is our driver object.
    unsafe { (*d).DriverUnload = Some(driver_unload) };
    NDIS_STATUS_SUCCESS
}

unsafe extern "system" fn driver_unload(d: *mut DRIVER_OBJECT) {
    // SAFETY: the extension we allocated in DriverEntry.
    let ext = unsafe { IoGetDriverObjectExtension(d, ptr::from_ref(&CLIENT_ID).cast_mut().cast()) };
    if ext.is_null() {
        return;
    }
    // SAFETY: the extension holds the driver state pointer.
    let sp = unsafe { *ext.cast::<*mut FaultDriver>() };
    // SAFETY: the live driver state.
    let st = unsafe { &mut *sp };
    if st.fault != Fault::SkipDeregister {
        // SAFETY: our driver handle.
        unsafe { NdisFDeregisterFilterDriver(st.handle) };
    }
    if !st.pool.is_null() {
        // SAFETY: our pool, all NBLs freed.
        unsafe { NdisFreeNetBufferListPool(st.pool) };
    }
    if st.fault != Fault::LeakDevice && !st.device.is_null() {
        // SAFETY: our device handle, deregistered once.
        unsafe { NdisDeregisterDeviceEx(st.device) };
    }

    if st.fault == Fault::EtwUnregisterTwice {
        for _ in 0..2 {
            // SAFETY: any value is accepted; the second call passes a closed handle.
            unsafe { crate::exports::etw::EtwUnregister(st.etw) };
        }
    }
    // SAFETY: unload is the last use of the state.
    drop(unsafe { Box::from_raw(sp) });
}

/// Reads one value of the module's configuration, as a correct filter does at attach (open, read,
/// close), or breaks that in the way `fault` says.
fn read_config(h: NDIS_HANDLE, fault: Fault) {
    let mut object = NDIS_CONFIGURATION_OBJECT {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
            NDIS_CONFIGURATION_OBJECT_REVISION_1,
            NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
        ),
        NdisHandle: h,
        Flags: if fault == Fault::ConfigInstanceFlag {
            NDIS_CONFIG_FLAG_FILTER_INSTANCE_CONFIGURATION
        } else {
            0
        },
    };
    let mut config: NDIS_HANDLE = null_mut();
    // SAFETY: live locals, our module handle, inside FilterAttach (PASSIVE_LEVEL).
    if unsafe { NdisOpenConfigurationEx(&raw mut object, &raw mut config) } != NDIS_STATUS_SUCCESS {
        return;
    }
    let mut name: Vec<u16> = "GroupId".encode_utf16().collect();
    let bytes = u16::try_from(name.len() * 2).unwrap_or(0);
    let mut key = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: name.as_mut_ptr(),
    };
    let mut status = NDIS_STATUS_SUCCESS;
    let mut value: *mut NDIS_CONFIGURATION_PARAMETER = null_mut();
    // SAFETY: live locals and the open handle.
    unsafe {
        NdisReadConfiguration(
            &raw mut status,
            &raw mut value,
            config,
            &raw mut key,
            NDIS_PARAMETER_INTEGER,
        );
    }
    if fault != Fault::LeaveConfigOpen {
        // SAFETY: the handle opened above, closed once.
        unsafe { NdisCloseConfiguration(config) };
    }
}

unsafe extern "system" fn attach(
    h: NDIS_HANDLE,
    drv: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_ATTACH_PARAMETERS,
) -> NDIS_STATUS {
    let d = drv.cast::<FaultDriver>();
    // SAFETY: our driver context.
    let fault = unsafe { (*d).fault };
    let m = Box::into_raw(Box::new(FaultModule {
        handle: h,
        driver: d,
        running: false,
        pausing: false,
        paused: true,
        below: 0,
        above: 0,
        counter: 0,
        pool: null_mut(),
        held: Vec::new(),
        kit: crate::fault_timers::TimerKit::new(fault),
    }));
    let mut attrs = NDIS_FILTER_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES, 1, 8),
        Flags: 0,
    };
    if fault != Fault::SkipSetAttributes {
        // SAFETY: inside FilterAttach with our handle and context.
        let s = unsafe { NdisFSetAttributes(h, m.cast(), &raw mut attrs) };
        if s != NDIS_STATUS_SUCCESS {
            // SAFETY: not published anywhere.
            drop(unsafe { Box::from_raw(m) });
            return s;
        }
    }
    // SAFETY: the live driver state.
    unsafe { (*d).modules.push(m) };
    read_config(h, fault);
    // SAFETY: m is live (published); the kit stays in it until FilterDetach.
    unsafe { (*m).kit.attach(h) };
    if matches!(
        fault,
        Fault::FreePoolWithOutstanding | Fault::LeakPool | Fault::LeakNbl
    ) {
        let mut pp = NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEFAULT, 1, 0x10),
            ProtocolId: 0,
            fAllocateNetBuffer: 0,
            ContextSize: 0,
            PoolTag: TAG,
            DataSize: 0,
        };
        // SAFETY: our module handle, valid parameters.
        let pool = unsafe { NdisAllocateNetBufferListPool(h, &raw mut pp) };
        // SAFETY: m is live.
        unsafe { (*m).pool = pool };
        if fault != Fault::LeakPool {
            // SAFETY: our pool.
            unsafe { NdisAllocateNetBufferList(pool, 0, 0) };
        }
    }
    if fault == Fault::OidInAttach {
        // SAFETY: NDIS_OID_REQUEST is plain data.
        let mut r: Box<NDIS_OID_REQUEST> = Box::new(unsafe { core::mem::zeroed() });
        r.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_OID_REQUEST,
            1,
            NDIS_SIZEOF_OID_REQUEST_REVISION_1,
        );
        // SAFETY: our module handle and a live request (leaked: the run halts).
        unsafe { NdisFOidRequest(h, Box::into_raw(r)) };
    }
    if fault == Fault::StatusInAttach {
        // SAFETY: NDIS_STATUS_INDICATION is plain data.
        let mut s: NDIS_STATUS_INDICATION = unsafe { core::mem::zeroed() };
        s.SourceHandle = h;
        // SAFETY: our module handle, a live indication.
        unsafe { NdisFIndicateStatus(h, &raw mut s) };
    }
    NDIS_STATUS_SUCCESS
}

unsafe extern "system" fn detach(ctx: NDIS_HANDLE) {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    let d = unsafe { driver(m) };
    d.modules.retain(|&p| p != ctx.cast());
    m.kit.detach();
    if !m.pool.is_null() && matches!(d.fault, Fault::FreePoolWithOutstanding) {
        // SAFETY: our module pool (with an NBL outstanding: the fault).
        unsafe { NdisFreeNetBufferListPool(m.pool) };
    }
    // SAFETY: detach is the last use of the module context.
    drop(unsafe { Box::from_raw(ctx.cast::<FaultModule>()) });
}

unsafe extern "system" fn set_module_options(_ctx: NDIS_HANDLE) -> NDIS_STATUS {
    NDIS_STATUS_SUCCESS
}

unsafe extern "system" fn restart(
    ctx: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_RESTART_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    let fault = unsafe { driver(m) }.fault;
    match fault {
        Fault::SetAttributesOutsideAttach => {
            let mut a = NDIS_FILTER_ATTRIBUTES {
                Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES, 1, 8),
                Flags: 0,
            };
            // SAFETY: our handle and context.
            unsafe { NdisFSetAttributes(m.handle, ctx, &raw mut a) };
        }
        Fault::PauseCompleteWhenNotPending => {
            // SAFETY: our handle.
            unsafe { NdisFPauseComplete(m.handle) };
        }
        Fault::RestartCompleteWhenNotPending => {
            // SAFETY: our handle.
            unsafe { NdisFRestartComplete(m.handle, NDIS_STATUS_SUCCESS) };
        }
        Fault::RestartNeverCompletes => return NDIS_STATUS_PENDING,
        Fault::SpinInCallback => loop {
            // SAFETY: no arguments; the fault: a loop that never ends.
            let _ = unsafe { NdisGetVersion() };
        },
        Fault::StatusWithWrongSource => {
            // SAFETY: NDIS_STATUS_INDICATION is plain data.
            let mut s: NDIS_STATUS_INDICATION = unsafe { core::mem::zeroed() };
            s.StatusCode = NDIS_STATUS_LINK_STATE;
            // SAFETY: our handle and a live indication.
            unsafe { NdisFIndicateStatus(m.handle, &raw mut s) };
        }
        Fault::FreeMemoryTwice => {
            // SAFETY: our module handle.
            let p = unsafe {
                NdisAllocateMemoryWithTagPriority(m.handle, 32, TAG, NORMAL_POOL_PRIORITY)
            };
            // SAFETY: live memory from NDIS.
            unsafe { NdisFreeMemory(p, 32, 0) };
            // SAFETY: the fault: freed again (the emulator refuses it).
            unsafe { NdisFreeMemory(p, 32, 0) };
        }
        _ => {}
    }
    m.kit.restart();
    m.running = true;
    m.paused = false;
    NDIS_STATUS_SUCCESS
}

unsafe extern "system" fn pause(
    ctx: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_PAUSE_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    let fault = unsafe { driver(m) }.fault;
    m.running = false;
    m.kit.pause();
    match fault {
        Fault::PauseFails => return NDIS_STATUS_FAILURE,
        Fault::PauseNeverCompletes => {
            m.pausing = true;
            return NDIS_STATUS_PENDING;
        }
        Fault::PauseSuccessWithOutstanding => {
            m.paused = true;
            return NDIS_STATUS_SUCCESS;
        }
        _ => {}
    }
    if m.below == 0 && m.above == 0 {
        m.paused = true;
        NDIS_STATUS_SUCCESS
    } else {
        m.pausing = true;
        NDIS_STATUS_PENDING
    }
}

fn cflag(dispatch: bool) -> u32 {
    u32::from(dispatch)
}

unsafe extern "system" fn send(
    ctx: NDIS_HANDLE,
    head: *mut NET_BUFFER_LIST,
    port: u32,
    flags: u32,
) {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    let d = unsafe { driver(m) };
    let fault = d.fault;
    let disp = flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0;
    // SAFETY: NDIS gave us this chain.
    let v = unsafe { to_vec(head) };
    if !m.running || fault == Fault::CompletePausedWhileRunning {
        match fault {
            Fault::SendWhileNotRunning => {
                // SAFETY: the fault: forwarded although not Running.
                unsafe { NdisFSendNetBufferLists(m.handle, head, port, flags) };
                return;
            }
            Fault::HoldNblWhilePaused if m.paused => {
                m.held.extend(v.iter().map(|&p| p as usize));
                return;
            }
            _ => {}
        }
        let st = if fault == Fault::CompletePausedWithSuccess {
            NDIS_STATUS_SUCCESS
        } else {
            NDIS_STATUS_PAUSED
        };
        for &n in &v {
            // SAFETY: held NBL.
            unsafe { nbl(n) }.Status = st;
        }
        // SAFETY: completing NBLs from above on our handle.
        unsafe { NdisFSendNetBufferListsComplete(m.handle, head, cflag(disp)) };
        return;
    }
    m.counter += 1;
    m.kit.send(disp);
    let Some(&first) = v.first() else { return };
    match fault {
        Fault::BogusHandle => {
            // SAFETY: the fault: a handle NDIS never gave out.
            unsafe { NdisFSendNetBufferLists(0x5151 as NDIS_HANDLE, head, port, flags) };
            return;
        }
        Fault::CompleteOwnNbl => {
            // SAFETY: our pool.
            let own = unsafe { NdisAllocateNetBufferList(d.pool, 0, 0) };
            // SAFETY: our NBL.
            unsafe { nbl(own) }.SourceHandle = m.handle;
            // SAFETY: the fault: our own NBL completed upward.
            unsafe { NdisFSendNetBufferListsComplete(m.handle, own, cflag(disp)) };
            return;
        }
        Fault::SendUnknownNbl => {
            // SAFETY: NET_BUFFER_LIST is plain data.
            let fake: Box<NET_BUFFER_LIST> = Box::new(unsafe { core::mem::zeroed() });
            let p = Box::into_raw(fake);
            // SAFETY: the fault: an NBL NDIS never allocated (the emulator never dereferences it).
            unsafe { NdisFSendNetBufferLists(m.handle, p, port, flags) };
            // SAFETY: p is our own box.
            drop(unsafe { Box::from_raw(p) });
            return;
        }
        Fault::ChangeSourceHandle => {
            // SAFETY: held NBL.
            unsafe { nbl(first) }.SourceHandle = m.handle;
        }
        Fault::OwnNblWithoutSourceHandle | Fault::FreeNblWhileBelow => {
            // SAFETY: our pool.
            let own = unsafe { NdisAllocateNetBufferList(d.pool, 0, 0) };
            if fault == Fault::FreeNblWhileBelow {
                // SAFETY: our NBL.
                unsafe { nbl(own) }.SourceHandle = m.handle;
            }
            m.below += 1;
            // SAFETY: sending our NBL.
            unsafe { NdisFSendNetBufferLists(m.handle, own, port, flags) };
            if fault == Fault::FreeNblWhileBelow {
                // SAFETY: the fault: freed while below.
                unsafe { NdisFreeNetBufferList(own) };
                return;
            }
        }
        Fault::LeaveContextPushed => {
            // SAFETY: held NBL.
            unsafe { NdisAllocateNetBufferListContext(first, 16, 0, TAG) };
        }
        Fault::LoopChain => {
            if let Some(&last) = v.last() {
                // SAFETY: held NBL; the fault: the chain now loops back to its head.
                unsafe { nbl(last) }.Next = first;
            }
        }
        Fault::LoopNetBuffers => {
            // SAFETY: held NBL.
            let nb = unsafe { nbl(first) }.FirstNetBuffer;
            if !nb.is_null() {
                // SAFETY: its live NET_BUFFER; the fault: the NET_BUFFER chain loops.
                unsafe { (*nb).Next = nb };
            }
        }
        Fault::SwallowSends => {
            // The fault: held for good, never forwarded nor completed.
            m.held.extend(v.iter().map(|&p| p as usize));
            return;
        }
        Fault::FreeContextNotAllocated => {
            // SAFETY: the fault: freeing context never allocated.
            unsafe { NdisFreeNetBufferListContext(first, 16) };
            return;
        }
        Fault::CloneFreeFlagsMismatch | Fault::FreeCloneWithFreeNbl => {
            // SAFETY: cloning a held NBL.
            let c = unsafe { NdisAllocateCloneNetBufferList(first, d.pool, null_mut(), 0) };
            if fault == Fault::CloneFreeFlagsMismatch {
                // SAFETY: the fault: wrong flags.
                unsafe { NdisFreeCloneNetBufferList(c, NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS) };
            } else {
                // SAFETY: the fault: wrong free function.
                unsafe { NdisFreeNetBufferList(c) };
            }
            return;
        }
        Fault::CompleteParentWithLiveClone | Fault::SendParentWithLiveClone => {
            // SAFETY: cloning a held NBL (kept: the fault).
            unsafe { NdisAllocateCloneNetBufferList(first, d.pool, null_mut(), 0) };
            if fault == Fault::CompleteParentWithLiveClone {
                for &n in &v {
                    // SAFETY: held NBL.
                    unsafe { nbl(n) }.Status = NDIS_STATUS_SUCCESS;
                }
                // SAFETY: the fault: the parent completes while its clone lives.
                unsafe { NdisFSendNetBufferListsComplete(m.handle, head, cflag(disp)) };
                return;
            }
        }
        Fault::LeakContext => {
            // SAFETY: our pool.
            let own = unsafe { NdisAllocateNetBufferList(d.pool, 0, 0) };
            // SAFETY: our NBL.
            unsafe { NdisAllocateNetBufferListContext(own, 32, 0, TAG) };
            // SAFETY: freed with the context still pushed (the fault).
            unsafe { NdisFreeNetBufferList(own) };
        }
        _ => {}
    }
    if matches!(fault, Fault::None | Fault::CloneWithReservedFlag) && m.counter.is_multiple_of(5) {
        send_with_extras(m, d, &v, port, flags);
        return;
    }
    if fault == Fault::RerouteClones && reroute_first(m, d, &v, port, flags) {
        return;
    }
    let sflags = if fault == Fault::DispatchFlagMismatch {
        flags & !NDIS_SEND_FLAGS_DISPATCH_LEVEL
    } else {
        flags
    };
    let sport = if fault == Fault::AlterSendPort {
        port ^ 1
    } else {
        port
    };
    if fault == Fault::SendLargeSendUnsupported {
        for &n in &v {
            // SAFETY: the fault: an NBL the filter holds gets LSOv2 information (MSS 1448).
            unsafe { nbl(n) }.NetBufferListInfo[TCP_LARGE_SEND_NET_BUFFER_LIST_INFO] =
                ptr::without_provenance_mut(0x5A8 | (1 << 30));
        }
    }
    m.below += v.len();
    if fault == Fault::MulticastSourceMac {
        // SAFETY: an NBL the filter holds.
        let nb = unsafe { nbl(first) }.FirstNetBuffer;
        if !nb.is_null() {
            // SAFETY: the held NBL's NET_BUFFER; its first 12 bytes are contiguous (NULL
            // otherwise, then nothing is written).
            let p = unsafe { NdisGetDataBuffer(nb, 12, null_mut(), 1, 0) }.cast::<u8>();
            if !p.is_null() {
                // SAFETY: byte 6 (the source MAC's first) is within the 12 contiguous bytes.
                let src = unsafe { p.add(6) };
                // SAFETY: the fault: the frame's data is writable memory the NBL describes.
                unsafe { *src |= 1 };
            }
        }
    }
    // SAFETY: forwarding the chain NDIS gave us.
    unsafe { NdisFSendNetBufferLists(m.handle, head, sport, sflags) };
    match fault {
        Fault::SendTwice => {
            // SAFETY: the fault: already below.
            unsafe { NdisFSendNetBufferLists(m.handle, head, port, flags) };
        }
        Fault::TouchWhileBelow => {
            // SAFETY: the fault: writing an NBL we no longer own (memory is still valid).
            unsafe { nbl(first) }.ProtocolReserved[3] = ptr::without_provenance_mut(1);
        }
        Fault::CompleteWhileBelow => {
            // SAFETY: the fault: completing NBLs that are below.
            unsafe { NdisFSendNetBufferListsComplete(m.handle, head, cflag(disp)) };
        }
        _ => {}
    }
}

/// `Fault::RerouteClones`: sends a clone of the first NBL down another running module (the
/// rest down this one); false (nothing done) if there is no such module or no clone.
fn reroute_first(
    m: &mut FaultModule,
    d: &FaultDriver,
    v: &[*mut NET_BUFFER_LIST],
    port: u32,
    flags: u32,
) -> bool {
    let me: *mut FaultModule = m;
    let Some(&other) = d.modules.iter().find(|&&p| {
        // SAFETY: modules in the list are live until detach removes them.
        p != me && unsafe { (*p).running }
    }) else {
        return false;
    };
    let first = v[0];
    // SAFETY: cloning a held NBL from our pool.
    let c = unsafe { NdisAllocateCloneNetBufferList(first, d.pool, null_mut(), 0) };
    if c.is_null() {
        return false;
    }
    // SAFETY: another live module of this driver (single-threaded emulator: no concurrent use).
    let o = unsafe { &mut *other };
    // SAFETY: our clone.
    let cn = unsafe { nbl(c) };
    cn.SourceHandle = o.handle;
    cn.ParentNetBufferList = first;
    cn.Scratch = null_mut();
    // Which module the parent came down, for the completion on the other module.
    cn.ProtocolReserved[0] = me.cast();
    // SAFETY: the original is held; ChildRefCount is ours to maintain as the cloner.
    unsafe { nbl(first) }.ChildRefCount += 1;
    // SAFETY: both NBLs are live.
    unsafe { NdisCopySendNetBufferListInfo(c, first) };
    m.below += v.len();
    o.below += 1;
    if v.len() > 1 {
        // SAFETY: the rest of the chain NDIS gave us.
        let rest = unsafe { link(&v[1..]) };
        // SAFETY: forwarding it.
        unsafe { NdisFSendNetBufferLists(m.handle, rest, port, flags) };
    }
    // SAFETY: our clone alone.
    let head = unsafe { link(&[c]) };
    // SAFETY: our clone, on the other module, which is running.
    unsafe { NdisFSendNetBufferLists(o.handle, head, port, flags) };
    true
}

/// The correct filter's exercise path: clone the first NBL (sending the clone instead), push and
/// pop a context on the others, and peek the Ethernet header through NdisGetDataBuffer after a
/// retreat/advance round trip.
fn send_with_extras(
    m: &mut FaultModule,
    d: &FaultDriver,
    v: &[*mut NET_BUFFER_LIST],
    port: u32,
    flags: u32,
) {
    let first = v[0];
    let flags_c = if m.counter.is_multiple_of(10) {
        0
    } else {
        NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS
    } | u32::from(d.fault == Fault::CloneWithReservedFlag); // NDIS_CLONE_FLAGS_RESERVED (1)
    // SAFETY: cloning a held NBL from our pool.
    let c = unsafe { NdisAllocateCloneNetBufferList(first, d.pool, null_mut(), flags_c) };
    let mut out = Vec::with_capacity(v.len());
    if c.is_null() {
        out.push(first);
    } else {
        // SAFETY: our clone.
        let cn = unsafe { nbl(c) };
        cn.SourceHandle = m.handle;
        cn.ParentNetBufferList = first;
        cn.Scratch = ptr::without_provenance_mut(flags_c as usize);
        // SAFETY: the original is held; ChildRefCount is ours to maintain as the cloner.
        unsafe { nbl(first) }.ChildRefCount += 1;
        // SAFETY: both NBLs are live.
        unsafe { NdisCopySendNetBufferListInfo(c, first) };
        out.push(c);
    }
    for &n in &v[1..] {
        // SAFETY: a held NBL from above.
        let s = unsafe { NdisAllocateNetBufferListContext(n, 16, 16, TAG) };
        // SAFETY: held NBL.
        let nb = unsafe { nbl(n) }.FirstNetBuffer;
        if !nb.is_null() {
            // SAFETY: held NBL's NET_BUFFER.
            if unsafe { NdisRetreatNetBufferDataStart(nb, 8, 0, null_mut()) } == NDIS_STATUS_SUCCESS
            {
                // SAFETY: as above.
                unsafe { NdisAdvanceNetBufferDataStart(nb, 8, 1, null_mut()) };
            }
            let mut hdr = [0u8; 14];
            // SAFETY: storage is 14 writable bytes.
            unsafe { NdisGetDataBuffer(nb, 14, hdr.as_mut_ptr().cast(), 1, 0) };
        }
        if s == NDIS_STATUS_SUCCESS {
            // SAFETY: pops what we pushed.
            unsafe { NdisFreeNetBufferListContext(n, 16) };
        }
        out.push(n);
    }
    m.below += out.len();
    // SAFETY: our chain: the clone and NBLs from above.
    let head = unsafe { link(&out) };
    // SAFETY: forwarding.
    unsafe { NdisFSendNetBufferLists(m.handle, head, port, flags) };
}

unsafe extern "system" fn send_complete(ctx: NDIS_HANDLE, head: *mut NET_BUFFER_LIST, flags: u32) {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    let d = unsafe { driver(m) };
    let fault = d.fault;
    let disp = flags & NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL != 0;
    // SAFETY: NDIS gave the chain back.
    let v = unsafe { to_vec(head) };
    // The fault counts the completion twice (clamped at zero, as a saturating counter would be).
    let back = if fault == Fault::DoubleDecrement {
        2 * v.len()
    } else {
        v.len()
    };
    m.below = m.below.saturating_sub(back);
    let mut up = Vec::with_capacity(v.len());
    let mut elsewhere = Vec::new();
    for &n in &v {
        // SAFETY: held NBL.
        let l = unsafe { nbl(n) };
        if l.SourceHandle == m.handle {
            let parent = l.ParentNetBufferList;
            let st = l.Status;
            let fl = u32::try_from(l.Scratch as usize).unwrap_or(u32::MAX);
            let origin = l.ProtocolReserved[0].cast::<FaultModule>();
            if fault == Fault::RerouteClones && !origin.is_null() && !parent.is_null() {
                // SAFETY: the parent is held by its module while its clone was out.
                let p = unsafe { nbl(parent) };
                p.Status = st;
                p.ChildRefCount -= 1;
                // SAFETY: our clone, allocated with flags 0.
                unsafe { NdisFreeCloneNetBufferList(n, 0) };
                elsewhere.push((origin, parent));
            } else if parent.is_null() {
                // SAFETY: our pool NBL.
                unsafe { NdisFreeNetBufferList(n) };
            } else {
                // SAFETY: the parent is held while its clone was out.
                let p = unsafe { nbl(parent) };
                p.Status = st;
                p.ChildRefCount -= 1;
                // SAFETY: our clone, freed with its allocation flags.
                unsafe { NdisFreeCloneNetBufferList(n, fl) };
                up.push(parent);
            }
        } else {
            up.push(n);
        }
    }
    if fault == Fault::ModifyBeforeHandback
        && let Some(&f) = up.first()
    {
        // SAFETY: held NBL.
        unsafe { nbl(f) }.ProtocolReserved[1] = ptr::without_provenance_mut(7);
    }
    if fault == Fault::WriteDataBeforeHandback
        && let Some(&f) = up.first()
    {
        // SAFETY: a held NBL.
        let nb = unsafe { nbl(f) }.FirstNetBuffer;
        if !nb.is_null() {
            // SAFETY: the held NBL's NET_BUFFER; its first 12 bytes are contiguous (NULL
            // otherwise, then nothing is written).
            let p = unsafe { NdisGetDataBuffer(nb, 12, null_mut(), 1, 0) }.cast::<u8>();
            if !p.is_null() {
                // SAFETY: byte 11 (the source MAC's last) is within the 12 contiguous bytes.
                let last = unsafe { p.add(11) };
                // SAFETY: the fault: the protocol's frame data is written, in memory the NBL
                // describes.
                unsafe { *last ^= 0x10 };
            }
        }
    }
    if fault == Fault::PassiveOnlyAtDispatch && disp {
        // SAFETY: the fault: a PASSIVE-only call at DISPATCH.
        unsafe { NdisSetOptionalHandlers(m.handle, null_mut()) };
    }
    if !up.is_empty() {
        let first = up[0];
        // SAFETY: held NBLs.
        let chain = unsafe { link(&up) };
        let h = if fault == Fault::CompleteOnWrongModule {
            other_module(m, d)
        } else {
            m.handle
        };
        // SAFETY: completing NBLs from above.
        unsafe { NdisFSendNetBufferListsComplete(h, chain, cflag(disp)) };
        if fault == Fault::CompleteTwice {
            // SAFETY: the fault: completed again (the emulator never dereferences a freed NBL).
            unsafe { NdisFSendNetBufferListsComplete(m.handle, first, cflag(disp)) };
        }
    }
    maybe_pause_complete(m);
    for (origin, parent) in elsewhere {
        // SAFETY: the module the parent came down: it cannot detach while the parent is out.
        let om = unsafe { &mut *origin };
        om.below = om.below.saturating_sub(1);
        // SAFETY: the parent alone.
        let head = unsafe { link(&[parent]) };
        // SAFETY: completing an NBL from above on the module it came down.
        unsafe { NdisFSendNetBufferListsComplete(om.handle, head, cflag(disp)) };
        maybe_pause_complete(om);
    }
}

unsafe extern "system" fn cancel_send(ctx: NDIS_HANDLE, id: *mut c_void) {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    if unsafe { driver(m) }.fault == Fault::DropSendCancel {
        return;
    }
    // SAFETY: passing the cancel down.
    unsafe { NdisFCancelSendNetBufferLists(m.handle, id) };
}

unsafe extern "system" fn receive(
    ctx: NDIS_HANDLE,
    head: *mut NET_BUFFER_LIST,
    port: u32,
    count: u32,
    flags: u32,
) {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    let fault = unsafe { driver(m) }.fault;
    let disp = flags & NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL != 0;
    let resources = flags & NDIS_RECEIVE_FLAGS_RESOURCES != 0;
    // SAFETY: NDIS gave us this chain.
    let v = unsafe { to_vec(head) };
    if !m.running && fault != Fault::IndicateWhileNotRunning {
        if !resources {
            // SAFETY: returning what we were given.
            unsafe { NdisFReturnNetBufferLists(m.handle, head, cflag(disp)) };
        }
        return;
    }
    if fault == Fault::SwallowReceives {
        if !resources {
            // SAFETY: the fault: straight back to the miniport, never up.
            unsafe { NdisFReturnNetBufferLists(m.handle, head, cflag(disp)) };
        }
        return;
    }
    if resources {
        match fault {
            Fault::ReturnResourcesNbl => {
                // SAFETY: the fault.
                unsafe { NdisFReturnNetBufferLists(m.handle, head, cflag(disp)) };
                return;
            }
            Fault::BreakResourcesChain if v.len() > 1 => {
                // SAFETY: the fault: the chain is left split.
                unsafe { nbl(v[0]) }.Next = null_mut();
                return;
            }
            _ => {}
        }
    }
    let n = if fault == Fault::WrongNblCount {
        count + 1
    } else {
        count
    };
    let rflags = if fault == Fault::IndicateResourcesWithoutFlag {
        flags & !NDIS_RECEIVE_FLAGS_RESOURCES
    } else {
        flags
    };
    if !resources {
        m.above += v.len();
    }
    if fault == Fault::None && !v.is_empty() {
        // SAFETY: held NBL.
        let nb = unsafe { nbl(v[0]) }.FirstNetBuffer;
        if !nb.is_null() {
            let mut hdr = [0u8; 14];
            // SAFETY: storage is 14 writable bytes.
            unsafe { NdisGetDataBuffer(nb, 14, hdr.as_mut_ptr().cast(), 1, 0) };
        }
    }
    let rport = if fault == Fault::AlterReceivePort {
        port ^ 1
    } else {
        port
    };
    // SAFETY: indicating the chain we hold.
    unsafe { NdisFIndicateReceiveNetBufferLists(m.handle, head, rport, n, rflags) };
    if resources {
        return;
    }
    match fault {
        Fault::ReturnWhileIndicated => {
            // SAFETY: the fault: returning NBLs that are above.
            unsafe { NdisFReturnNetBufferLists(m.handle, head, cflag(disp)) };
        }
        Fault::IndicateTwice => {
            // SAFETY: the fault.
            unsafe { NdisFIndicateReceiveNetBufferLists(m.handle, head, port, count, flags) };
        }
        Fault::TouchWhileIndicated if !v.is_empty() => {
            // SAFETY: the fault: writing an NBL that is above (memory still valid).
            unsafe { nbl(v[0]) }.ProtocolReserved[2] = ptr::without_provenance_mut(1);
        }
        _ => {}
    }
}

unsafe extern "system" fn return_nbls(ctx: NDIS_HANDLE, head: *mut NET_BUFFER_LIST, flags: u32) {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    let d = unsafe { driver(m) };
    let disp = flags & NDIS_RETURN_FLAGS_DISPATCH_LEVEL != 0;
    // SAFETY: NDIS gave the chain back.
    let v = unsafe { to_vec(head) };
    m.above -= v.len().min(m.above);
    let h = if d.fault == Fault::ReturnOnWrongModule {
        other_module(m, d)
    } else {
        m.handle
    };
    // SAFETY: returning received NBLs.
    unsafe { NdisFReturnNetBufferLists(h, head, cflag(disp)) };
    if d.fault == Fault::ReturnTwice
        && let Some(&f) = v.first()
    {
        // SAFETY: the fault (the emulator never dereferences a returned NBL).
        unsafe { NdisFReturnNetBufferLists(m.handle, f, cflag(disp)) };
    }
    maybe_pause_complete(m);
}

/// Copies the result fields (the DATA union and SupportedRevision) from a clone to its original.
///
/// # Safety
/// Both are live requests.
unsafe fn copy_result(orig: *mut NDIS_OID_REQUEST, clone: *mut NDIS_OID_REQUEST) {
    // SAFETY: the clone is live; DATA is plain data.
    let c = unsafe { &*clone };
    // SAFETY: the original is live and distinct from the clone.
    let o = unsafe { &mut *orig };
    o.DATA = c.DATA;
    o.SupportedRevision = c.SupportedRevision;
}

/// The `AlterOidAnswer` fault: BytesNeeded one more than the miniport said.
///
/// # Safety
/// `req` is a live request.
unsafe fn alter_answer(req: *mut NDIS_OID_REQUEST) {
    // SAFETY: forwarded contract.
    let r = unsafe { &mut *req };
    // SAFETY: reading the query view's plain integers.
    let needed = unsafe { r.DATA.QUERY_INFORMATION.BytesNeeded };
    // Writing a union field is safe.
    r.DATA.QUERY_INFORMATION.BytesNeeded = needed.wrapping_add(1);
}

/// A set of OID_GEN_CURRENT_PACKET_FILTER on its way down gets NDIS_PACKET_TYPE_PROMISCUOUS.
///
/// # Safety
/// `c` is a live request whose information buffer holds InformationBufferLength bytes.
unsafe fn widen_packet_filter(c: &mut NDIS_OID_REQUEST) {
    // SAFETY: per the contract (the set view's leading fields are the query view's).
    let q = unsafe { &mut c.DATA.SET_INFORMATION };
    if c.RequestType != NDIS_REQUEST_SET_INFORMATION
        || q.Oid != OID_GEN_CURRENT_PACKET_FILTER
        || q.InformationBufferLength < 4
        || q.InformationBuffer.is_null()
    {
        return;
    }
    let p = q.InformationBuffer.cast::<u32>();
    // SAFETY: at least 4 bytes (checked), read unaligned.
    let bits = unsafe { p.read_unaligned() };
    // SAFETY: as above, written unaligned.
    unsafe { p.write_unaligned(bits | 0x20) };
}

unsafe extern "system" fn oid_request(ctx: NDIS_HANDLE, req: *mut NDIS_OID_REQUEST) -> NDIS_STATUS {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    let fault = unsafe { driver(m) }.fault;
    if fault == Fault::ForwardOriginalOid {
        // SAFETY: the fault.
        return unsafe { NdisFOidRequest(m.handle, req) };
    }
    let mut clone: *mut NDIS_OID_REQUEST = null_mut();
    // SAFETY: cloning the request NDIS gave us.
    let s = unsafe { NdisAllocateCloneOidRequest(m.handle, req, TAG, &raw mut clone) };
    if s != NDIS_STATUS_SUCCESS {
        return s;
    }
    if fault == Fault::LeakOidClone {
        let mut extra: *mut NDIS_OID_REQUEST = null_mut();
        // SAFETY: the fault: a clone never freed.
        unsafe { NdisAllocateCloneOidRequest(m.handle, req, TAG, &raw mut extra) };
    }
    {
        // SAFETY: our clone.
        let c = unsafe { &mut *clone };
        c.SourceReserved[0] = req.cast();
        // SAFETY: the original is live.
        c.RequestId = unsafe { (*req).RequestId };
        if fault == Fault::WidenPacketFilter {
            // SAFETY: the clone is ours; the set view shares the query view's leading fields.
            unsafe { widen_packet_filter(c) };
        }
    }
    // SAFETY: forwarding our clone.
    let s = unsafe { NdisFOidRequest(m.handle, clone) };
    if s == NDIS_STATUS_PENDING {
        if fault == Fault::FreeOidCloneWhileBelow {
            // SAFETY: the fault: the clone is still below.
            unsafe { NdisFreeCloneOidRequest(m.handle, clone) };
        }
        return NDIS_STATUS_PENDING;
    }
    // SAFETY: both live.
    unsafe { copy_result(req, clone) };
    if fault == Fault::AlterOidAnswer {
        // SAFETY: the original is live; the fault: a result field changed on the way up.
        unsafe { alter_answer(req) };
    }
    // SAFETY: our clone, done.
    unsafe { NdisFreeCloneOidRequest(m.handle, clone) };
    if fault == Fault::CompleteSyncOid {
        // SAFETY: the fault: completing a request we also return a status for.
        unsafe { NdisFOidRequestComplete(m.handle, req, s) };
    }
    s
}

unsafe extern "system" fn oid_complete(
    ctx: NDIS_HANDLE,
    clone: *mut NDIS_OID_REQUEST,
    status: NDIS_STATUS,
) {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    let d = unsafe { driver(m) };
    // SAFETY: our clone.
    let orig = unsafe { (*clone).SourceReserved[0] }.cast::<NDIS_OID_REQUEST>();
    if d.fault == Fault::CompleteCloneUpward {
        // SAFETY: the fault.
        unsafe { NdisFOidRequestComplete(m.handle, clone, status) };
        return;
    }
    // SAFETY: both live.
    unsafe { copy_result(orig, clone) };
    if d.fault == Fault::AlterOidAnswer {
        // SAFETY: the original is live; the fault.
        unsafe { alter_answer(orig) };
    }
    // SAFETY: our clone, done.
    unsafe { NdisFreeCloneOidRequest(m.handle, clone) };
    match d.fault {
        Fault::NeverCompleteOid => {}
        Fault::CompleteOidOnWrongModule => {
            // SAFETY: the fault.
            unsafe { NdisFOidRequestComplete(other_module(m, d), orig, status) };
        }
        Fault::CompleteOidTwice => {
            // SAFETY: completing the original.
            unsafe { NdisFOidRequestComplete(m.handle, orig, status) };
            // SAFETY: the fault: again.
            unsafe { NdisFOidRequestComplete(m.handle, orig, status) };
        }
        _ => {
            // SAFETY: completing the original exactly once.
            unsafe { NdisFOidRequestComplete(m.handle, orig, status) };
        }
    }
}

unsafe extern "system" fn cancel_oid(ctx: NDIS_HANDLE, id: *mut c_void) {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    if unsafe { driver(m) }.fault == Fault::DropOidCancel {
        return;
    }
    // SAFETY: passing the cancel down.
    unsafe { NdisFCancelOidRequest(m.handle, id) };
}

unsafe extern "system" fn status(ctx: NDIS_HANDLE, ind: *mut NDIS_STATUS_INDICATION) {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    match unsafe { driver(m) }.fault {
        Fault::DropStatus => return,
        Fault::AlterStatus => {
            // SAFETY: the live indication NDIS gave us; the fault: its port changed.
            unsafe { (*ind).PortNumber ^= 1 };
        }
        _ => {}
    }
    // SAFETY: passing the indication up.
    unsafe { NdisFIndicateStatus(m.handle, ind) };
}

unsafe extern "system" fn net_pnp(
    ctx: NDIS_HANDLE,
    ev: *mut NET_PNP_EVENT_NOTIFICATION,
) -> NDIS_STATUS {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    match unsafe { driver(m) }.fault {
        Fault::DropNetPnp => return NDIS_STATUS_SUCCESS,
        Fault::AlterPnpPort => {
            // SAFETY: the live event NDIS gave us; the fault: its port changed.
            unsafe { (*ev).PortNumber ^= 1 };
        }
        Fault::ReplacePnpAnswer => {
            // SAFETY: passing the event down; the fault: the answer below is ignored.
            unsafe { NdisFNetPnPEvent(m.handle, ev) };
            return NDIS_STATUS_SUCCESS;
        }
        _ => {}
    }
    // SAFETY: passing the event down.
    unsafe { NdisFNetPnPEvent(m.handle, ev) }
}

unsafe extern "system" fn device_pnp(ctx: NDIS_HANDLE, ev: *mut NET_DEVICE_PNP_EVENT) {
    // SAFETY: our module context.
    let m = unsafe { module(ctx) };
    // SAFETY: m's driver is live.
    if unsafe { driver(m) }.fault == Fault::DropDevicePnp {
        return;
    }
    // SAFETY: passing the event down.
    unsafe { NdisFDevicePnPEventNotify(m.handle, ev) };
}

/// Rev-2 NDIS 6.30 filter characteristics with FriendlyName, UniqueName (a GUID) and ServiceName
/// set to names that live for the rest of the process, and no handlers: the start of every small
/// test driver that registers with the emulator.
pub fn test_characteristics() -> NDIS_FILTER_DRIVER_CHARACTERISTICS {
    let leak = |s: &str| {
        let units: &'static mut [u16] = Box::leak(s.encode_utf16().collect::<Box<[u16]>>());
        let bytes = u16::try_from(units.len() * 2).unwrap_or(0);
        UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: units.as_mut_ptr(),
        }
    };
    // SAFETY: the characteristics are plain data; all-zero is valid (NULL handlers are None).
    let mut c: NDIS_FILTER_DRIVER_CHARACTERISTICS = unsafe { core::mem::zeroed() };
    c.Header = NDIS_OBJECT_HEADER::new(
        NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS,
        NDIS_FILTER_CHARACTERISTICS_REVISION_2,
        NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2,
    );
    c.MajorNdisVersion = 6;
    c.MinorNdisVersion = 30;
    c.FriendlyName = leak("Test filter");
    c.UniqueName = leak("{7E57F17E-0000-4000-8000-000000000001}");
    c.ServiceName = leak("testflt");
    c
}
