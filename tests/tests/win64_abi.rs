//! The emulator drives a driver whose entry point and handlers use the Microsoft x64 calling
//! convention (as a loaded `mpfilter.sys` does) and which calls NDIS only through the exports'
//! win64 entry points: a small pass-through written that way must run clean, proving that handler
//! invocation and the export table both honour `Abi::Win64`.
#![allow(non_snake_case, clippy::multiple_unsafe_ops_per_block)]

use core::ffi::c_void;
use core::ptr::null_mut;
use mpfilter::ndis::consts::*;
use mpfilter::ndis::types::*;
use ndis_emu::exports::ndis::win64 as ndis;
use ndis_emu::exports::ntos::win64 as ntos;
use ndis_emu::{AdapterConfig, EmuConfig, Emulator, EntryPoint, TrafficConfig};
use std::cell::Cell;

thread_local! {
    static DRIVER_HANDLE: Cell<usize> = const { Cell::new(0) };
    static CALLBACKS: Cell<u64> = const { Cell::new(0) };
}

struct Module {
    handle: NDIS_HANDLE,
    running: bool,
    pausing: bool,
    out: usize,
}

fn count() {
    CALLBACKS.with(|c| c.set(c.get() + 1));
}

/// # Safety
/// `ctx` is a module context set by `attach`.
unsafe fn module<'a>(ctx: NDIS_HANDLE) -> &'a mut Module {
    // SAFETY: forwarded contract.
    unsafe { &mut *ctx.cast::<Module>() }
}

/// # Safety
/// A chain of live NBLs.
unsafe fn chain_len(mut n: *mut NET_BUFFER_LIST) -> usize {
    let mut k = 0;
    while !n.is_null() {
        k += 1;
        // SAFETY: live NBL.
        n = unsafe { (*n).Next };
    }
    k
}

unsafe fn maybe_pause_complete(m: &mut Module) {
    if m.pausing && m.out == 0 {
        m.pausing = false;
        // SAFETY: our handle.
        unsafe { ndis::NdisFPauseComplete(m.handle) };
    }
}

unsafe extern "win64" fn attach(
    h: NDIS_HANDLE,
    _d: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_ATTACH_PARAMETERS,
) -> NDIS_STATUS {
    count();
    let m = Box::into_raw(Box::new(Module {
        handle: h,
        running: false,
        pausing: false,
        out: 0,
    }));
    let mut a = NDIS_FILTER_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES, 1, 8),
        Flags: 0,
    };
    // SAFETY: inside FilterAttach.
    unsafe { ndis::NdisFSetAttributes(h, m.cast(), &raw mut a) }
}

unsafe extern "win64" fn detach(ctx: NDIS_HANDLE) {
    count();
    // SAFETY: the module context, last use.
    drop(unsafe { Box::from_raw(ctx.cast::<Module>()) });
}

unsafe extern "win64" fn restart(
    ctx: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_RESTART_PARAMETERS,
) -> NDIS_STATUS {
    count();
    // SAFETY: our context.
    unsafe { module(ctx) }.running = true;
    NDIS_STATUS_SUCCESS
}

unsafe extern "win64" fn pause(
    ctx: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_PAUSE_PARAMETERS,
) -> NDIS_STATUS {
    count();
    // SAFETY: our context.
    let m = unsafe { module(ctx) };
    m.running = false;
    if m.out == 0 {
        NDIS_STATUS_SUCCESS
    } else {
        m.pausing = true;
        NDIS_STATUS_PENDING
    }
}

unsafe extern "win64" fn send(ctx: NDIS_HANDLE, n: *mut NET_BUFFER_LIST, port: u32, flags: u32) {
    count();
    // SAFETY: our context and a chain NDIS gave us.
    unsafe {
        let m = module(ctx);
        if !m.running {
            let mut c = n;
            while !c.is_null() {
                (*c).Status = NDIS_STATUS_PAUSED;
                c = (*c).Next;
            }
            ndis::NdisFSendNetBufferListsComplete(m.handle, n, flags & 1);
            return;
        }
        m.out += chain_len(n);
        ndis::NdisFSendNetBufferLists(m.handle, n, port, flags);
    }
}

unsafe extern "win64" fn send_complete(ctx: NDIS_HANDLE, n: *mut NET_BUFFER_LIST, flags: u32) {
    count();
    // SAFETY: our context and a chain NDIS gave back.
    unsafe {
        let m = module(ctx);
        m.out -= chain_len(n);
        ndis::NdisFSendNetBufferListsComplete(m.handle, n, flags);
        maybe_pause_complete(m);
    }
}

unsafe extern "win64" fn receive(
    ctx: NDIS_HANDLE,
    n: *mut NET_BUFFER_LIST,
    port: u32,
    k: u32,
    flags: u32,
) {
    count();
    let resources = flags & NDIS_RECEIVE_FLAGS_RESOURCES != 0;
    // SAFETY: our context and a chain NDIS lent us.
    unsafe {
        let m = module(ctx);
        if !m.running {
            if !resources {
                ndis::NdisFReturnNetBufferLists(m.handle, n, flags & 1);
            }
            return;
        }
        if !resources {
            m.out += k as usize;
        }
        ndis::NdisFIndicateReceiveNetBufferLists(m.handle, n, port, k, flags);
    }
}

unsafe extern "win64" fn return_nbls(ctx: NDIS_HANDLE, n: *mut NET_BUFFER_LIST, flags: u32) {
    count();
    // SAFETY: our context and a chain the protocol returned.
    unsafe {
        let m = module(ctx);
        m.out -= chain_len(n);
        ndis::NdisFReturnNetBufferLists(m.handle, n, flags);
        maybe_pause_complete(m);
    }
}

unsafe extern "win64" fn oid_request(ctx: NDIS_HANDLE, r: *mut NDIS_OID_REQUEST) -> NDIS_STATUS {
    count();
    // SAFETY: our context, the request from above and our clone.
    unsafe {
        let m = module(ctx);
        let mut c: *mut NDIS_OID_REQUEST = null_mut();
        let s = ndis::NdisAllocateCloneOidRequest(m.handle, r, 1, &raw mut c);
        if s != NDIS_STATUS_SUCCESS {
            return s;
        }
        (*c).SourceReserved[0] = r.cast();
        (*c).RequestId = (*r).RequestId;
        let s = ndis::NdisFOidRequest(m.handle, c);
        if s != NDIS_STATUS_PENDING {
            (*r).DATA = (*c).DATA;
            (*r).SupportedRevision = (*c).SupportedRevision;
            ndis::NdisFreeCloneOidRequest(m.handle, c);
        }
        s
    }
}

unsafe extern "win64" fn oid_complete(ctx: NDIS_HANDLE, c: *mut NDIS_OID_REQUEST, s: NDIS_STATUS) {
    count();
    // SAFETY: our context and our clone.
    unsafe {
        let m = module(ctx);
        let r = (*c).SourceReserved[0].cast::<NDIS_OID_REQUEST>();
        (*r).DATA = (*c).DATA;
        (*r).SupportedRevision = (*c).SupportedRevision;
        ndis::NdisFreeCloneOidRequest(m.handle, c);
        ndis::NdisFOidRequestComplete(m.handle, r, s);
    }
}

unsafe extern "win64" fn status(ctx: NDIS_HANDLE, s: *mut NDIS_STATUS_INDICATION) {
    count();
    // SAFETY: our context; passing the indication up.
    unsafe { ndis::NdisFIndicateStatus(module(ctx).handle, s) };
}

unsafe extern "win64" fn net_pnp(
    ctx: NDIS_HANDLE,
    e: *mut NET_PNP_EVENT_NOTIFICATION,
) -> NDIS_STATUS {
    count();
    // SAFETY: our context; passing the event down.
    unsafe { ndis::NdisFNetPnPEvent(module(ctx).handle, e) }
}

unsafe extern "win64" fn unload(_d: *mut DRIVER_OBJECT) {
    count();
    // SAFETY: the handle registration returned.
    unsafe { ndis::NdisFDeregisterFilterDriver(DRIVER_HANDLE.with(Cell::get) as NDIS_HANDLE) };
}

/// Stores a win64 handler in a characteristics slot, as a PE image's table holds it: an address.
/// Used inside `driver_entry`'s unsafe block: same size (function pointers); the emulator calls
/// it back with the win64 ABI because the driver registered through the win64 export.
macro_rules! slot {
    ($f:expr, $t:ty) => {
        Some(core::mem::transmute::<usize, $t>($f as *const () as usize))
    };
}

unsafe extern "win64" fn driver_entry(
    d: *mut DRIVER_OBJECT,
    _r: *mut UNICODE_STRING,
) -> NDIS_STATUS {
    count();
    // SAFETY: characteristics are plain data; the calls are the documented registration sequence.
    unsafe {
        let mut ext: *mut c_void = null_mut();
        if ntos::IoAllocateDriverObjectExtension(
            d,
            core::ptr::without_provenance_mut(1),
            8,
            &raw mut ext,
        ) != 0
        {
            return NDIS_STATUS_FAILURE;
        }
        let mut c = ndis_emu::fault_filter::test_characteristics();
        c.AttachHandler = slot!(attach, FilterAttachHandler);
        c.DetachHandler = slot!(detach, FilterDetachHandler);
        c.RestartHandler = slot!(restart, FilterRestartHandler);
        c.PauseHandler = slot!(pause, FilterPauseHandler);
        c.SendNetBufferListsHandler = slot!(send, FilterSendHandler);
        c.SendNetBufferListsCompleteHandler = slot!(send_complete, FilterSendCompleteHandler);
        c.ReceiveNetBufferListsHandler = slot!(receive, FilterReceiveHandler);
        c.ReturnNetBufferListsHandler = slot!(return_nbls, FilterReturnHandler);
        c.OidRequestHandler = slot!(oid_request, FilterOidRequestHandler);
        c.OidRequestCompleteHandler = slot!(oid_complete, FilterOidRequestCompleteHandler);
        c.StatusHandler = slot!(status, FilterStatusHandler);
        c.NetPnPEventHandler = slot!(net_pnp, FilterNetPnpEventHandler);
        let mut h: NDIS_HANDLE = null_mut();
        let s = ndis::NdisFRegisterFilterDriver(d, null_mut(), &raw mut c, &raw mut h);
        if s != NDIS_STATUS_SUCCESS {
            return s;
        }
        DRIVER_HANDLE.with(|c| c.set(h as usize));
        (*d).DriverUnload = slot!(unload, DriverUnloadRoutine);
        NDIS_STATUS_SUCCESS
    }
}

#[test]
fn a_win64_driver_runs_clean_through_the_full_lifecycle() {
    let mut emu = Emulator::new(EmuConfig {
        seed: 64,
        ..EmuConfig::default()
    });
    let traffic = TrafficConfig {
        tx_nbls: 2_000,
        rx_nbls: 2_000,
        ..TrafficConfig::default()
    };
    let a0 = emu.add_adapter(AdapterConfig::numbered(0), traffic.clone());
    let a1 = emu.add_adapter(AdapterConfig::numbered(1), traffic);
    emu.load(EntryPoint::Win64(driver_entry))
        .expect("DriverEntry registers");
    for a in [a0, a1] {
        assert!(emu.start(a));
        emu.issue_oids(a, 50);
    }
    assert!(
        emu.run_until(|v| v.stats(a0).tx_sent >= 1_000),
        "{:?}",
        emu.violations()
    );
    for a in [a0, a1] {
        assert!(emu.pause(a), "{:?}", emu.violations());
        assert!(emu.restart(a));
    }
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    for a in [a0, a1] {
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    for a in [a0, a1] {
        let s = emu.stats(a);
        assert_eq!((s.tx_completed_ok, s.rx_received), (2_000, 2_000));
        assert_eq!(s.oids_completed_sync + s.oids_completed_pending, 50);
        assert_eq!(s.oids_bad_answer, 0);
    }
    assert!(
        CALLBACKS.with(Cell::get) > 1_000,
        "the win64 handlers did the work"
    );
}
