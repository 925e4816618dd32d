//! Driver- and module-level functions: registration, control devices, memory, attributes,
//! pause/restart completion, status and PnP.

use super::checks;
use crate::abi::Abi;
use crate::callbacks::Handlers;
use crate::machine::{self, forward};
use crate::rules::{Rule, Subject};
use crate::world::{self, Device, Driver, Event, HandleKind, ModState, Op, Token};
use core::ffi::c_void;
use mpfilter::ndis::consts::{
    NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES, NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS,
    NDIS_STATUS_FAILURE, NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS,
};
use mpfilter::ndis::types::{
    DEVICE_OBJECT, DRIVER_OBJECT, EX_POOL_PRIORITY, MDL, NDIS_DEVICE_OBJECT_ATTRIBUTES,
    NDIS_DRIVER_OPTIONAL_HANDLERS, NDIS_FILTER_ATTRIBUTES, NDIS_FILTER_DRIVER_CHARACTERISTICS,
    NDIS_HANDLE, NDIS_STATUS, NDIS_STATUS_INDICATION, NET_DEVICE_PNP_EVENT,
    NET_PNP_EVENT_NOTIFICATION, UNICODE_STRING,
};
use std::alloc::Layout;

/// `NdisFRegisterFilterDriver`.
///
/// # Safety
/// `chars` and `out` are null or valid for the sizes NDIS reads and writes.
pub unsafe fn register(
    abi: Abi,
    driver: *mut DRIVER_OBJECT,
    ctx: NDIS_HANDLE,
    chars: *mut NDIS_FILTER_DRIVER_CHARACTERISTICS,
    out: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    const CALL: &str = "NdisFRegisterFilterDriver";
    let r = world::with(|w| {
        if !checks::passive(w, CALL, Subject::Driver) {
            return Err(NDIS_STATUS_FAILURE);
        }
        let bad = |w: &mut world::World, why: &str| {
            w.violate(Rule::DriverCharacteristics, Subject::Driver, CALL, why);
            Err(NDIS_STATUS_FAILURE)
        };
        if driver != w.driver_object {
            return bad(w, "DriverObject is not the one DriverEntry got");
        }
        if w.driver.as_ref().is_some_and(|d| !d.deregistered) {
            return bad(w, "the driver is already registered");
        }
        if chars.is_null() || out.is_null() {
            return bad(w, "NULL characteristics or handle pointer");
        }
        // SAFETY: chars is non-null; its header is always readable.
        let hdr = unsafe { (*chars).Header };
        if hdr.Type != NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS {
            return bad(w, &format!("header type {:#x}, expected 0x8B", hdr.Type));
        }
        let size_ok = match hdr.Revision {
            2 => hdr.Size >= 0xE0,
            3 => hdr.Size >= 0xF0,
            _ => false,
        };
        if !size_ok {
            return bad(
                w,
                &format!(
                    "revision {} size {:#x}: the emulator takes revision 2 (0xE0) or 3 (0xF0)",
                    hdr.Revision, hdr.Size
                ),
            );
        }
        // SAFETY: revision 2+ with a matching size: the whole 0xE0-byte structure is readable.
        let c = unsafe { &*chars };
        if c.MajorNdisVersion != 6 {
            return bad(w, &format!("MajorNdisVersion {}", c.MajorNdisVersion));
        }
        if let Err(why) = names_ok(c) {
            return bad(w, &why);
        }
        let h = Handlers::from_characteristics(abi, c);
        if h.attach == 0 || h.detach == 0 || h.pause == 0 || h.restart == 0 {
            return bad(
                w,
                "Attach, Detach, Pause and Restart handlers are mandatory",
            );
        }
        if (h.send != 0) != (h.send_complete != 0) {
            return bad(w, "Send and SendComplete handlers come together");
        }
        if (h.receive != 0) != (h.return_nbls != 0) {
            return bad(w, "Receive and Return handlers come together");
        }
        let token = Token::new();
        let handle = token.addr();
        w.handles.insert(handle, HandleKind::Driver);
        w.register_calls += 1;
        w.driver = Some(Driver {
            token,
            ctx: ctx as usize,
            handlers: h,
            deregistered: false,
        });
        Ok(handle)
    });
    match r {
        Some(Ok(handle)) => {
            // SAFETY: out is non-null (checked) and writable per the contract.
            unsafe { *out = handle as NDIS_HANDLE };
            NDIS_STATUS_SUCCESS
        }
        Some(Err(s)) => s,
        None => NDIS_STATUS_FAILURE,
    }
}

/// `NdisFDeregisterFilterDriver`: detaches every module still attached, then forgets the driver.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn deregister(_abi: Abi, h: NDIS_HANDLE) {
    const CALL: &str = "NdisFDeregisterFilterDriver";
    let attached = world::with(|w| {
        if !checks::passive(w, CALL, Subject::Handle(h as usize)) {
            return None;
        }
        if w.driver
            .as_ref()
            .is_none_or(|d| d.deregistered || d.token.addr() != h as usize)
        {
            w.violate(
                Rule::HandleInvalid,
                Subject::Handle(h as usize),
                CALL,
                "not a registered filter driver handle",
            );
            return None;
        }
        Some(
            (0..w.adapters.len())
                .filter(|&a| w.adapters[a].module.state != ModState::Detached)
                .collect::<Vec<_>>(),
        )
    })
    .flatten();
    let Some(attached) = attached else { return };
    for a in attached {
        machine::stop_stack(a);
    }
    world::with(|w| {
        if let Some(d) = w.driver.as_mut() {
            d.deregistered = true;
        }
    });
}

/// `NdisGetVersion`: NDIS 6.30.
///
/// # Safety
/// Always safe.
pub unsafe fn get_version(_abi: Abi) -> u32 {
    0x0006_001E
}

/// `IRP_MJ_POWER`.
const IRP_MJ_POWER: usize = 0x16;
/// `IRP_MJ_PNP`.
const IRP_MJ_PNP: usize = 0x1B;

/// `NdisRegisterDeviceEx`.
///
/// # Safety
/// Pointers are null or valid as in the C contract.
pub unsafe fn register_device(
    abi: Abi,
    h: NDIS_HANDLE,
    attrs: *mut NDIS_DEVICE_OBJECT_ATTRIBUTES,
    pdev: *mut *mut DEVICE_OBJECT,
    phandle: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    const CALL: &str = "NdisRegisterDeviceEx";
    if attrs.is_null() || pdev.is_null() || phandle.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: attrs is non-null and points at the attributes per the contract.
    let ext_size = unsafe { (*attrs).ExtensionSize } as usize;
    // SAFETY: as above.
    let table = unsafe { (*attrs).MajorFunctions };
    // SAFETY: as above.
    let hdr = unsafe { (*attrs).Header };
    // SAFETY: as above.
    let class_guid = unsafe { (*attrs).DeviceClassGuid };
    let mut dispatch = [0usize; mpfilter::ndis::types::IRP_MJ_COUNT];
    if !table.is_null() {
        for (i, slot) in dispatch.iter_mut().enumerate() {
            // SAFETY: a non-NULL MajorFunctions points at IRP_MJ_MAXIMUM_FUNCTION + 1 entries.
            let entry = unsafe { table.add(i) };
            // SAFETY: as above; the address is exposed for the emulator's calls through it.
            *slot = unsafe { entry.read() }.expose_provenance();
        }
    }
    let r = world::with(|w| {
        if !checks::passive(w, CALL, Subject::Handle(h as usize)) {
            return None;
        }
        if w.handles.get(&(h as usize)) != Some(&HandleKind::Driver) {
            w.violate(
                Rule::HandleInvalid,
                Subject::Handle(h as usize),
                CALL,
                "not the filter driver handle",
            );
            return None;
        }
        let why = if hdr.Type != 0x85 || hdr.Revision < 1 || hdr.Size < 0x38 {
            Some(format!(
                "header type {:#x} revision {} size {:#x}",
                hdr.Type, hdr.Revision, hdr.Size
            ))
        } else if !class_guid.is_null() {
            Some("DeviceClassGuid is reserved for NDIS (must be NULL)".to_owned())
        } else if dispatch[IRP_MJ_PNP] != 0 || dispatch[IRP_MJ_POWER] != 0 {
            Some("a PnP or Power dispatch routine (NDIS handles those)".to_owned())
        } else {
            None
        };
        if let Some(why) = why {
            w.violate(
                Rule::DeviceAttributes,
                Subject::Handle(h as usize),
                CALL,
                why,
            );
            return None;
        }
        let dev = Device {
            object: world::Heap::new([0; 8]),
            ext: vec![0u128; ext_size.div_ceil(16).max(1)],
            dispatch,
            abi,
        };
        let obj = dev.object.ptr() as usize;
        w.handles.insert(obj, HandleKind::Device);
        w.devices.insert(obj, dev);
        Some(obj)
    })
    .flatten();
    let Some(obj) = r else {
        return NDIS_STATUS_FAILURE;
    };
    // SAFETY: both out pointers are non-null (checked) and writable per the contract.
    unsafe { *pdev = obj as *mut DEVICE_OBJECT };
    // SAFETY: as above.
    unsafe { *phandle = obj as NDIS_HANDLE };
    NDIS_STATUS_SUCCESS
}

/// `NdisDeregisterDeviceEx`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn deregister_device(_abi: Abi, h: NDIS_HANDLE) {
    const CALL: &str = "NdisDeregisterDeviceEx";
    world::with(|w| {
        if !checks::passive(w, CALL, Subject::Handle(h as usize)) {
            return;
        }
        if w.devices.remove(&(h as usize)).is_none() {
            w.violate(
                Rule::HandleInvalid,
                Subject::Handle(h as usize),
                CALL,
                "not a registered device handle",
            );
            return;
        }
        w.handles.remove(&(h as usize));
    });
}

/// `NdisGetDeviceReservedExtension`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn device_extension(_abi: Abi, dev: *mut DEVICE_OBJECT) -> *mut c_void {
    world::with(|w| {
        w.devices
            .get_mut(&(dev as usize))
            .map_or(std::ptr::null_mut(), |d| d.ext.as_mut_ptr().cast())
    })
    .unwrap_or(std::ptr::null_mut())
}

/// `NdisAllocateMemoryWithTagPriority`: filled with 0xCD so reads of uninitialised memory are
/// deterministic and visible.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn alloc_memory(
    _abi: Abi,
    h: NDIS_HANDLE,
    len: u32,
    tag: u32,
    _prio: EX_POOL_PRIORITY,
) -> *mut c_void {
    const CALL: &str = "NdisAllocateMemoryWithTagPriority";
    world::with(|w| {
        if !checks::driver_or_module(w, CALL, h as usize) || len == 0 {
            return std::ptr::null_mut();
        }
        let Ok(layout) = Layout::from_size_align(len as usize, 16) else {
            return std::ptr::null_mut();
        };
        // SAFETY: non-zero size.
        let p = unsafe { std::alloc::alloc(layout) };
        if p.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: p is a fresh allocation of layout.size() bytes.
        unsafe { p.write_bytes(0xCD, layout.size()) };
        w.memory.insert(p as usize, (layout, tag));
        p.cast()
    })
    .unwrap_or(std::ptr::null_mut())
}

/// `NdisFreeMemory`.
///
/// # Safety
/// None beyond the C contract: unknown addresses are reported, not freed.
pub unsafe fn free_memory(_abi: Abi, p: *mut c_void, _len: u32, _flags: u32) {
    const CALL: &str = "NdisFreeMemory";
    world::with(|w| match w.memory.remove(&(p as usize)) {
        Some((layout, MDL_TAG)) => {
            w.memory.insert(p as usize, (layout, MDL_TAG));
            w.violate(
                Rule::MemoryFreeInvalid,
                Subject::Memory(p as usize),
                CALL,
                "an MDL from NdisAllocateMdl: free it with NdisFreeMdl",
            );
        }
        Some((layout, _)) => {
            // SAFETY: allocated by alloc_memory with this layout, removed from the table once.
            unsafe { std::alloc::dealloc(p.cast(), layout) };
        }
        None => w.violate(
            Rule::MemoryFreeInvalid,
            Subject::Memory(p as usize),
            CALL,
            "not live memory from NdisAllocateMemoryWithTagPriority",
        ),
    });
}

/// The tag the emulator's MDLs are kept under in the driver's memory table: an MDL the driver
/// never frees is a memory leak at unload like any other allocation.
pub const MDL_TAG: u32 = u32::from_le_bytes(*b"eMdl");

/// `NdisAllocateMdl`: an MDL describing `len` bytes at `va`, mapped (MappedSystemVa = `va`).
///
/// # Safety
/// None beyond the C contract (`va` must stay valid while the MDL is used; the emulator reads it
/// only when an NBL over the MDL is transmitted).
pub unsafe fn alloc_mdl(_abi: Abi, h: NDIS_HANDLE, va: *mut c_void, len: u32) -> *mut MDL {
    const CALL: &str = "NdisAllocateMdl";
    world::with(|w| {
        if !checks::driver_or_module(w, CALL, h as usize) || va.is_null() || len == 0 {
            return std::ptr::null_mut();
        }
        let at = va as usize;
        let mdl = MDL {
            Next: std::ptr::null_mut(),
            Size: i16::try_from(size_of::<MDL>()).unwrap_or(i16::MAX),
            // MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL.
            MdlFlags: 0x0001 | 0x0004,
            Process: std::ptr::null_mut(),
            MappedSystemVa: va,
            StartVa: (at & !0xFFF) as *mut c_void,
            ByteCount: len,
            ByteOffset: u32::try_from(at & 0xFFF).unwrap_or(0),
        };
        // Kept in the memory table (leak checks, teardown) with the layout its Box has.
        let p = Box::into_raw(Box::new(mdl));
        w.memory.insert(p as usize, (Layout::new::<MDL>(), MDL_TAG));
        p
    })
    .unwrap_or(std::ptr::null_mut())
}

/// `NdisFreeMdl`.
///
/// # Safety
/// None beyond the C contract: anything but a live MDL of `NdisAllocateMdl` is reported.
pub unsafe fn free_mdl(_abi: Abi, mdl: *mut MDL) {
    const CALL: &str = "NdisFreeMdl";
    world::with(|w| match w.memory.get(&(mdl as usize)) {
        Some(&(_, MDL_TAG)) => {
            w.memory.remove(&(mdl as usize));
            // SAFETY: boxed by alloc_mdl, removed from the table once.
            drop(unsafe { Box::from_raw(mdl) });
        }
        _ => w.violate(
            Rule::MemoryFreeInvalid,
            Subject::Memory(mdl as usize),
            CALL,
            "not a live MDL from NdisAllocateMdl",
        ),
    });
}

/// `NdisFSetAttributes`.
///
/// # Safety
/// `attrs` is null or readable.
pub unsafe fn set_attributes(
    _abi: Abi,
    h: NDIS_HANDLE,
    ctx: NDIS_HANDLE,
    attrs: *mut NDIS_FILTER_ATTRIBUTES,
) -> NDIS_STATUS {
    const CALL: &str = "NdisFSetAttributes";
    let hdr = if attrs.is_null() {
        None
    } else {
        // SAFETY: non-null attributes are readable per the contract.
        Some(unsafe { (*attrs).Header })
    };
    world::with(|w| {
        if !checks::passive(w, CALL, Subject::Handle(h as usize)) {
            return NDIS_STATUS_FAILURE;
        }
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return NDIS_STATUS_FAILURE;
        };
        let m = &w.adapters[a].module;
        if m.state != ModState::Attaching || m.attrs_set {
            let why = if m.attrs_set {
                "called twice in one FilterAttach"
            } else {
                "called outside FilterAttach"
            };
            w.violate(
                Rule::AttachSetAttributesOutside,
                Subject::Handle(h as usize),
                CALL,
                why,
            );
            return NDIS_STATUS_FAILURE;
        }
        match hdr {
            Some(hd)
                if hd.Type == NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES
                    && hd.Revision >= 1
                    && hd.Size >= 8 => {}
            _ => return NDIS_STATUS_INVALID_PARAMETER,
        }
        if w.adapters[a].cfg.set_attributes_fails {
            return NDIS_STATUS_RESOURCES;
        }
        let m = &mut w.adapters[a].module;
        m.ctx = ctx as usize;
        m.attrs_set = true;
        NDIS_STATUS_SUCCESS
    })
    .unwrap_or(NDIS_STATUS_FAILURE)
}

/// `NdisFPauseComplete`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn pause_complete(_abi: Abi, h: NDIS_HANDLE) {
    const CALL: &str = "NdisFPauseComplete";
    world::with(|w| {
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return;
        };
        let m = &w.adapters[a].module;
        if m.state != ModState::Pausing || !matches!(m.pause, Op::InCallback | Op::Pending) {
            let why = format!("module is {:?}, pause {:?}", m.state, m.pause);
            w.violate(
                Rule::PauseCompleteNotPending,
                Subject::Handle(h as usize),
                CALL,
                why,
            );
            return;
        }
        if !machine::pause_gate_ok(w, a, "NdisFPauseComplete") {
            return;
        }
        let m = &mut w.adapters[a].module;
        if m.pause == Op::InCallback {
            m.pause = Op::CompletedEarly;
        } else {
            m.pause = Op::Idle;
            m.state = ModState::Paused;
        }
    });
}

/// `NdisFRestartComplete`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn restart_complete(_abi: Abi, h: NDIS_HANDLE, status: NDIS_STATUS) {
    const CALL: &str = "NdisFRestartComplete";
    world::with(|w| {
        if !checks::passive(w, CALL, Subject::Handle(h as usize)) {
            return;
        }
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return;
        };
        let m = &mut w.adapters[a].module;
        if m.state != ModState::Restarting || !matches!(m.restart, Op::InCallback | Op::Pending) {
            let why = format!("module is {:?}, restart {:?}", m.state, m.restart);
            w.violate(
                Rule::RestartCompleteNotPending,
                Subject::Handle(h as usize),
                CALL,
                why,
            );
            return;
        }
        if m.restart == Op::InCallback {
            m.restart = Op::CompletedEarly;
            m.restart_status = status;
        } else {
            m.restart = Op::Idle;
            m.state = if status == NDIS_STATUS_SUCCESS {
                ModState::Running
            } else {
                ModState::Paused
            };
        }
    });
}

/// `NdisFRestartFilter`: schedules pause + SetModuleOptions + restart of the stack.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn restart_filter(_abi: Abi, h: NDIS_HANDLE) -> NDIS_STATUS {
    const CALL: &str = "NdisFRestartFilter";
    world::with(|w| {
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return NDIS_STATUS_FAILURE;
        };
        match w.adapters[a].module.state {
            ModState::Running | ModState::Paused | ModState::Pausing | ModState::Restarting => {
                w.adapters[a].module.stats.restart_requests += 1;
                w.sched.after(1_000, Event::RestartFilter(a));
                NDIS_STATUS_SUCCESS
            }
            _ => NDIS_STATUS_FAILURE,
        }
    })
    .unwrap_or(NDIS_STATUS_FAILURE)
}

/// `NdisSetOptionalHandlers`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn set_optional_handlers(
    _abi: Abi,
    h: NDIS_HANDLE,
    _p: *mut NDIS_DRIVER_OPTIONAL_HANDLERS,
) -> NDIS_STATUS {
    const CALL: &str = "NdisSetOptionalHandlers";
    world::with(|w| {
        if !checks::passive(w, CALL, Subject::Handle(h as usize))
            || !checks::driver_or_module(w, CALL, h as usize)
        {
            return NDIS_STATUS_FAILURE;
        }
        NDIS_STATUS_SUCCESS
    })
    .unwrap_or(NDIS_STATUS_FAILURE)
}

/// `NdisFIndicateStatus`: the protocol counts it; a forwarded indication must be as raised.
///
/// # Safety
/// `ind` is null or readable.
pub unsafe fn indicate_status(_abi: Abi, h: NDIS_HANDLE, ind: *mut NDIS_STATUS_INDICATION) {
    const CALL: &str = "NdisFIndicateStatus";
    if ind.is_null() {
        return;
    }
    // SAFETY: non-null indications are readable per the contract.
    let src = unsafe { (*ind).SourceHandle } as usize;
    world::with(|w| {
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return;
        };
        if !w.oid_state_ok(a) {
            let s = w.adapters[a].module.state;
            w.violate(
                Rule::StatusBadState,
                Subject::Handle(h as usize),
                CALL,
                format!("module is {s:?}"),
            );
            return;
        }
        let forwarded = ind as usize == w.delivering_status;
        let seen_now = (!forwarded && src == h as usize).then(|| {
            // SAFETY: a readable indication (contract) whose buffer holds its size.
            unsafe { forward::StatusSeen::read(ind) }
        });
        if let Some(now) = &seen_now {
            let delivering = w.delivering_status;
            forward::status_replaced(w, a, delivering, now);
        }
        if !forwarded && src != h as usize {
            w.violate(
                Rule::StatusSourceHandle,
                Subject::Handle(h as usize),
                CALL,
                format!("filter-originated indication with SourceHandle {src:#x}"),
            );
            return;
        }
        if forwarded {
            // SAFETY: the emulator's own live indication (with its own buffer).
            let now = unsafe { forward::StatusSeen::read(ind) };
            forward::status_forwarded(w, a, ind as usize, &now);
        }
        w.adapters[a].stats.status_indications += 1;
        // SAFETY: ind is readable (contract), its buffer for its size.
        if let Some((v4, v6)) = unsafe { offload_lso(ind) } {
            let st = &mut w.adapters[a].stats;
            st.status_lso_widest = st.status_lso_widest.max(u64::from(v4));
            // SAFETY: ind is readable (contract).
            st.status_offload_len = u64::from(unsafe { (*ind).StatusBufferSize });
            if !w.traffic(a).keeps_bind_limits {
                w.adapters[a].proto.lso_view = v4;
                w.adapters[a].proto.lso6_view = v6;
            }
        }
        // SAFETY: ind is readable (contract); its buffer is read only if its size says it holds
        // a link state.
        if let Some(l) = unsafe { link_indication(ind, w.now()) } {
            w.adapters[a].proto.link_seen.push(l);
        }
    });
}

/// The IPv4 and IPv6 LSOv2 limits (0: off) of a NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG indication with a
/// revision-1 NDIS_OFFLOAD.
///
/// # Safety
/// `ind` is readable, and its buffer readable for `StatusBufferSize` bytes.
unsafe fn offload_lso(ind: *const NDIS_STATUS_INDICATION) -> Option<(u32, u32)> {
    // SAFETY: forwarded contract.
    let i = unsafe { &*ind };
    if i.StatusCode != mpfilter::ndis::consts::NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG
        || i.StatusBuffer.is_null()
    {
        return None;
    }
    let size = usize::try_from(i.StatusBufferSize).unwrap_or(0);
    // SAFETY: the buffer holds `size` readable bytes (contract).
    let bytes = unsafe { core::slice::from_raw_parts(i.StatusBuffer.cast::<u8>(), size) };
    let l = mpfilter::ndis::OffloadLimits::from_bytes(bytes)?;
    Some((l.lso_v4_max, l.lso_v6_max))
}

/// The link state an indication carries, if it is a NDIS_STATUS_LINK_STATE with a whole
/// NDIS_LINK_STATE.
///
/// # Safety
/// `ind` is readable, and its buffer readable for `StatusBufferSize` bytes.
unsafe fn link_indication(
    ind: *const NDIS_STATUS_INDICATION,
    at: crate::sched::Nanos,
) -> Option<crate::wire::LinkIndication> {
    // SAFETY: forwarded contract.
    let i = unsafe { &*ind };
    let size = usize::try_from(i.StatusBufferSize).unwrap_or(0);
    if i.StatusCode != mpfilter::ndis::consts::NDIS_STATUS_LINK_STATE
        || i.StatusBuffer.is_null()
        || size < size_of::<mpfilter::ndis::types::NDIS_LINK_STATE>()
    {
        return None;
    }
    // SAFETY: a non-null buffer of at least an NDIS_LINK_STATE's size (contract); read unaligned
    // since a filter-built buffer need not be aligned.
    let l = unsafe {
        i.StatusBuffer
            .cast::<mpfilter::ndis::types::NDIS_LINK_STATE>()
            .read_unaligned()
    };
    Some(crate::wire::LinkIndication {
        at,
        connect_state: l.MediaConnectState,
        xmit_speed: l.XmitLinkSpeed,
        rcv_speed: l.RcvLinkSpeed,
    })
}

/// `NdisFNetPnPEvent`: the miniport answers; a forwarded event must be as NDIS issued it.
///
/// # Safety
/// `ev` is null or a live event with a readable buffer.
pub unsafe fn net_pnp(
    _abi: Abi,
    h: NDIS_HANDLE,
    ev: *mut NET_PNP_EVENT_NOTIFICATION,
) -> NDIS_STATUS {
    const CALL: &str = "NdisFNetPnPEvent";
    world::with(|w| {
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return NDIS_STATUS_FAILURE;
        };
        w.adapters[a].stats.pnp_events += 1;
        if ev.is_null() {
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: a live event per the contract.
        let now = unsafe { forward::read_net_pnp(ev) };
        forward::pnp_forwarded(w, a, forward::PnpKind::Net, ev as usize, &now)
    })
    .unwrap_or(NDIS_STATUS_RESOURCES)
}

/// `NdisFDevicePnPEventNotify`: a forwarded event must be as NDIS issued it.
///
/// # Safety
/// `ev` is null or a live `NET_DEVICE_PNP_EVENT` with a readable buffer.
pub unsafe fn device_pnp(_abi: Abi, h: NDIS_HANDLE, ev: *mut NET_DEVICE_PNP_EVENT) {
    const CALL: &str = "NdisFDevicePnPEventNotify";
    world::with(|w| {
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return;
        };
        w.adapters[a].stats.pnp_events += 1;
        if ev.is_null() {
            return;
        }
        // SAFETY: a live event per the contract.
        let now = unsafe { forward::read_device_pnp(ev.cast()) };
        forward::pnp_forwarded(w, a, forward::PnpKind::Device, ev as usize, &now);
    });
}

/// The text of a characteristics name, or `None` when it is not a readable counted string.
fn name_text(s: &UNICODE_STRING) -> Option<String> {
    if s.Buffer.is_null()
        || !s.Buffer.is_aligned()
        || !s.Length.is_multiple_of(2)
        || s.Length > s.MaximumLength
    {
        return None;
    }
    // SAFETY: a non-null, aligned buffer the driver declared to hold Length bytes.
    let units = unsafe { core::slice::from_raw_parts(s.Buffer, usize::from(s.Length) / 2) };
    Some(String::from_utf16_lossy(units))
}

/// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`.
fn is_braced_guid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 38
        && b[0] == b'{'
        && b[37] == b'}'
        && b[1..37].iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// FriendlyName, UniqueName and ServiceName are set, and UniqueName is the braced GUID the INF's
/// NetCfgInstanceId repeats.
fn names_ok(c: &NDIS_FILTER_DRIVER_CHARACTERISTICS) -> Result<(), String> {
    for (what, s) in [
        ("FriendlyName", &c.FriendlyName),
        ("UniqueName", &c.UniqueName),
        ("ServiceName", &c.ServiceName),
    ] {
        let text =
            name_text(s).ok_or_else(|| format!("{what} is not a readable counted string"))?;
        if text.is_empty() {
            return Err(format!("{what} is empty"));
        }
        if what == "UniqueName" && !is_braced_guid(&text) {
            return Err(format!("UniqueName {text:?} is not a braced GUID"));
        }
    }
    Ok(())
}
