//! Recording doubles of the NDIS imports, for this crate's unit tests only (`cfg(test)`).
//!
//! Same names and signatures as [`super::ffi`]; `super::imports` points here in test builds. Each
//! call is appended to a per-thread log that tests inspect; OID clones and driver-object
//! extensions are real heap allocations tracked here, so tests (and Miri) see leaks and double
//! frees. Behaviour that NDIS would choose (OID status, allocation failures) comes from a
//! per-thread [`Config`].
// The session methods take `&self` only to tie their use to a live session.
#![allow(non_snake_case, clippy::missing_safety_doc, clippy::unused_self)]

use super::consts::{NDIS_PARAMETER_INTEGER, NDIS_PARAMETER_STRING, NDIS_STATUS_FAILURE};
use super::consts::{NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS};
use super::types::BOOLEAN;
use super::types::{
    DRIVER_OBJECT, MDL, NDIS_FILTER_ATTRIBUTES, NDIS_FILTER_DRIVER_CHARACTERISTICS, NDIS_HANDLE,
    NDIS_OID_REQUEST, NDIS_PORT_NUMBER, NDIS_STATUS, NDIS_STATUS_INDICATION, NET_BUFFER,
    NET_BUFFER_LIST, NET_BUFFER_LIST_CONTEXT, NET_BUFFER_LIST_POOL_PARAMETERS,
    NET_DEVICE_PNP_EVENT, NET_PNP_EVENT_NOTIFICATION,
};
use super::types::{
    NDIS_CONFIGURATION_OBJECT, NDIS_CONFIGURATION_PARAMETER, NDIS_CONFIGURATION_PARAMETER_DATA,
    NDIS_PARAMETER_TYPE, UNICODE_STRING,
};
use core::ffi::c_void;
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::boxed::Box;
use std::cell::RefCell;
use std::vec::Vec;

/// One recorded call. Pointers are recorded as addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Send {
        handle: usize,
        nbls: Vec<usize>,
        port: u32,
        flags: u32,
    },
    SendComplete {
        handle: usize,
        nbls: Vec<usize>,
        flags: u32,
    },
    Indicate {
        handle: usize,
        nbls: Vec<usize>,
        port: u32,
        count: u32,
        flags: u32,
    },
    Return {
        handle: usize,
        nbls: Vec<usize>,
        flags: u32,
    },
    CancelSend {
        handle: usize,
        id: usize,
    },
    IndicateStatus {
        handle: usize,
        indication: usize,
    },
    NetPnp {
        handle: usize,
        event: usize,
    },
    DevicePnp {
        handle: usize,
        event: usize,
    },
    PauseComplete {
        handle: usize,
    },
    RestartComplete {
        handle: usize,
        status: NDIS_STATUS,
    },
    RestartFilter {
        handle: usize,
    },
    CloneOid {
        handle: usize,
        original: usize,
        clone: *mut NDIS_OID_REQUEST,
    },
    OidRequest {
        handle: usize,
        request: usize,
    },
    FreeCloneOid {
        handle: usize,
        request: usize,
    },
    OidComplete {
        handle: usize,
        request: usize,
        status: NDIS_STATUS,
    },
    CancelOid {
        handle: usize,
        id: usize,
    },
    SetAttributes {
        handle: usize,
        context: NDIS_HANDLE,
    },
    Register {
        driver: usize,
        context: usize,
    },
    Deregister {
        handle: usize,
    },
    CloneNbl {
        original: usize,
        clone: usize,
        flags: u32,
    },
    FreeCloneNbl {
        clone: usize,
        flags: u32,
    },
    OpenConfig {
        handle: usize,
        flags: u32,
    },
    ReadConfig {
        config: usize,
        key: std::string::String,
        requested: NDIS_PARAMETER_TYPE,
    },
    CloseConfig {
        config: usize,
    },
    AllocPool {
        handle: usize,
        params: PoolParams,
        /// The handle returned (0 = NULL).
        pool: usize,
    },
    FreePool {
        pool: usize,
    },
    AllocContext {
        nbl: usize,
        size: u16,
        backfill: u16,
        tag: u32,
        status: NDIS_STATUS,
    },
    FreeContext {
        nbl: usize,
        size: u16,
    },
    CopySendInfo {
        dst: usize,
        src: usize,
    },
    GetDataBuffer {
        nb: usize,
        bytes: u32,
        storage: usize,
        align_multiple: u32,
        align_offset: u32,
    },
}

/// The fields of a `NET_BUFFER_LIST_POOL_PARAMETERS` the pool double was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolParams {
    /// (Type, Revision, Size) of the header.
    pub header: (u8, u8, u16),
    pub protocol_id: u8,
    pub allocate_net_buffer: u8,
    pub context_size: u16,
    pub pool_tag: u32,
    pub data_size: u32,
}

/// A registry value the configuration doubles return.
#[derive(Clone, Debug)]
pub(crate) enum Param {
    Integer(u32),
    Text(std::string::String),
}

/// What the doubles answer.
#[derive(Clone, Debug)]
#[allow(clippy::struct_excessive_bools)] // one knob per failure a double can simulate
pub(crate) struct Config {
    /// Returned by `NdisFOidRequest` (PENDING = the test completes the clone later).
    pub oid_status: NDIS_STATUS,
    /// Written into the clone's BytesWritten/BytesRead when `NdisFOidRequest` completes in line.
    pub oid_bytes: u32,
    /// `NdisAllocateCloneOidRequest` fails with RESOURCES.
    pub clone_fails: bool,
    /// Returned by `NdisFSetAttributes`.
    pub set_attributes_status: NDIS_STATUS,
    /// Returned by `NdisFRegisterFilterDriver`.
    pub register_status: NDIS_STATUS,
    /// `IoAllocateDriverObjectExtension` fails with this status (SUCCESS = it works).
    pub extension_status: NDIS_STATUS,
    /// Returned by `NdisFNetPnPEvent`.
    pub pnp_status: NDIS_STATUS,
    /// `NdisAllocateCloneNetBufferList` returns NULL.
    pub nbl_clone_fails: bool,
    /// Returned by `NdisOpenConfigurationEx` (SUCCESS = it opens).
    pub open_config_status: NDIS_STATUS,
    /// The values `NdisReadConfiguration` finds (keys compared case-insensitively).
    pub params: Vec<(&'static str, Param)>,
    /// `NdisAllocateNetBufferListPool` returns NULL.
    pub pool_alloc_fails: bool,
    /// `NdisAllocateNetBufferListContext` fails with RESOURCES when it needs a new context area.
    pub context_alloc_fails: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            oid_status: NDIS_STATUS_SUCCESS,
            oid_bytes: 0,
            clone_fails: false,
            set_attributes_status: NDIS_STATUS_SUCCESS,
            register_status: NDIS_STATUS_SUCCESS,
            extension_status: NDIS_STATUS_SUCCESS,
            pnp_status: NDIS_STATUS_SUCCESS,
            nbl_clone_fails: false,
            open_config_status: NDIS_STATUS_SUCCESS,
            params: Vec::new(),
            pool_alloc_fails: false,
            context_alloc_fails: false,
        }
    }
}

/// The driver handle `NdisFRegisterFilterDriver` hands out.
pub(crate) const DRIVER_HANDLE: usize = 0xD0_0000;

const EXTENSION_ALIGN: usize = 16;

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    config: Config,
    live_clones: Vec<usize>,
    /// (driver object, client id, block, size).
    extensions: Vec<(usize, usize, *mut u8, usize)>,
    /// The characteristics of the last registration, copied.
    characteristics: Option<Box<NDIS_FILTER_DRIVER_CHARACTERISTICS>>,
    /// NBL clones not freed yet, with their allocation flags.
    live_nbl_clones: Vec<(*mut NET_BUFFER_LIST, u32)>,
    /// (clone, the pool it was allocated from) of the live clones.
    clone_pools: Vec<(usize, usize)>,
    /// `MpDiagRecordHost` calls: (handle, record bytes), kept apart from `calls` so that
    /// diagnostics never change the NDIS call sequences the tests assert.
    diag: Vec<(usize, Vec<u8>)>,
    /// Open configuration handles, each with the values read through it (freed at close).
    configs: Vec<OpenConfig>,
    /// Configuration calls, kept apart from `calls` like `diag`: every attach reads its
    /// configuration, and the data-path call sequences the tests assert stay as they are.
    config_calls: Vec<Call>,
    /// Pool, NBL-context, send-info and data-buffer calls, kept apart from `calls` for the same
    /// reason: the send path's call sequences the tests assert stay as they are.
    nbl_calls: Vec<Call>,
    /// Pools not freed yet (heap tokens).
    live_pools: Vec<*mut u8>,
    /// Context areas the context double allocated and has not freed, with their layouts.
    context_areas: Vec<(*mut u8, Layout)>,
    /// NBLs with one NET_BUFFER from `NdisAllocateNetBufferAndNetBufferList`, not freed yet.
    live_frame_nbls: Vec<(*mut NET_BUFFER_LIST, *mut NET_BUFFER)>,
    /// MDLs from `NdisAllocateMdl`, not freed yet.
    live_mdls: Vec<*mut MDL>,
}

fn record_nbl(call: Call) {
    STATE.with(|s| s.borrow_mut().nbl_calls.push(call));
}

fn record_config(call: Call) {
    STATE.with(|s| s.borrow_mut().config_calls.push(call));
}

struct OpenConfig {
    handle: *mut u8,
    values: Vec<(*mut NDIS_CONFIGURATION_PARAMETER, Option<Vec<u16>>)>,
}

impl OpenConfig {
    fn free(self) {
        for (p, _text) in self.values {
            // SAFETY: boxed by the read double, freed once here.
            drop(unsafe { Box::from_raw(p) });
        }
        // SAFETY: boxed by the open double, freed once here.
        drop(unsafe { Box::from_raw(self.handle) });
    }
}

std::thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn record(call: Call) {
    STATE.with(|s| s.borrow_mut().calls.push(call));
}

fn config() -> Config {
    STATE.with(|s| s.borrow().config.clone())
}

/// The addresses of a NULL-terminated chain.
fn chain_addresses(mut p: *mut NET_BUFFER_LIST) -> Vec<usize> {
    let mut out = Vec::new();
    while !p.is_null() {
        out.push(p.addr());
        // SAFETY: the tests only pass chains of live fake NBLs.
        p = unsafe { (*p).Next };
    }
    out
}

/// Installs `config` and clears the log; frees everything on drop and checks that no OID clone
/// leaked.
pub(crate) struct Session(());

impl Session {
    pub(crate) fn new(config: Config) -> Self {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            *s = State::default();
            s.config = config;
        });
        Session(())
    }
    pub(crate) fn set_config(&self, config: Config) {
        STATE.with(|s| s.borrow_mut().config = config);
    }
    /// Takes the calls recorded so far.
    pub(crate) fn take_calls(&self) -> Vec<Call> {
        STATE.with(|s| core::mem::take(&mut s.borrow_mut().calls))
    }
    pub(crate) fn live_clones(&self) -> usize {
        STATE.with(|s| s.borrow().live_clones.len())
    }
    pub(crate) fn live_nbl_clones(&self) -> usize {
        STATE.with(|s| s.borrow().live_nbl_clones.len())
    }
    /// Takes the configuration calls made so far.
    pub(crate) fn take_config_calls(&self) -> Vec<Call> {
        STATE.with(|s| core::mem::take(&mut s.borrow_mut().config_calls))
    }
    /// Takes the pool, context, send-info and data-buffer calls made so far.
    pub(crate) fn take_nbl_calls(&self) -> Vec<Call> {
        STATE.with(|s| core::mem::take(&mut s.borrow_mut().nbl_calls))
    }
    pub(crate) fn live_pools(&self) -> usize {
        STATE.with(|s| s.borrow().live_pools.len())
    }
    /// NBLs of `NdisAllocateNetBufferAndNetBufferList` and MDLs of `NdisAllocateMdl` not freed
    /// yet.
    pub(crate) fn live_frames_and_mdls(&self) -> (usize, usize) {
        STATE.with(|s| {
            let s = s.borrow();
            (s.live_frame_nbls.len(), s.live_mdls.len())
        })
    }
    /// Context areas allocated by the context double and not freed yet.
    pub(crate) fn live_context_areas(&self) -> usize {
        STATE.with(|s| s.borrow().context_areas.len())
    }
    /// Takes the diagnostic records emitted so far.
    pub(crate) fn take_diag(&self) -> Vec<(usize, Vec<u8>)> {
        STATE.with(|s| core::mem::take(&mut s.borrow_mut().diag))
    }
    /// Calls the closure with the characteristics of the last registration.
    pub(crate) fn with_characteristics<R>(
        &self,
        f: impl FnOnce(&NDIS_FILTER_DRIVER_CHARACTERISTICS) -> R,
    ) -> Option<R> {
        STATE.with(|s| s.borrow().characteristics.as_deref().map(f))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let state = STATE.with(|s| core::mem::take(&mut *s.borrow_mut()));
        for (_, _, block, size) in state.extensions {
            let layout = Layout::from_size_align(size.max(1), EXTENSION_ALIGN).unwrap();
            // SAFETY: allocated below with this layout, freed once.
            unsafe { dealloc(block, layout) };
        }
        let configs_leaked = !state.configs.is_empty();
        for c in state.configs {
            c.free();
        }
        let nbl_clones_leaked = !state.live_nbl_clones.is_empty();
        for (clone, _) in state.live_nbl_clones {
            // SAFETY: allocated as a Box by the clone double, not freed by the test.
            drop(unsafe { Box::from_raw(clone) });
        }
        let pools_leaked = !state.live_pools.is_empty();
        for pool in state.live_pools {
            // SAFETY: boxed by the pool double, not freed by the test.
            drop(unsafe { Box::from_raw(pool) });
        }
        let contexts_leaked = !state.context_areas.is_empty();
        for (area, layout) in state.context_areas {
            // SAFETY: allocated by the context double with this layout, not freed by the test.
            unsafe { dealloc(area, layout) };
        }
        let frames_leaked = !state.live_frame_nbls.is_empty() || !state.live_mdls.is_empty();
        for (nbl, nb) in state.live_frame_nbls {
            // SAFETY: boxed by the frame double, not freed by the test.
            drop(unsafe { Box::from_raw(nbl) });
            // SAFETY: as above.
            drop(unsafe { Box::from_raw(nb) });
        }
        for mdl in state.live_mdls {
            // SAFETY: boxed by the MDL double, not freed by the test.
            drop(unsafe { Box::from_raw(mdl) });
        }
        if !std::thread::panicking() {
            assert!(!frames_leaked, "NBLs with data or MDLs leaked");
            assert!(!pools_leaked, "NBL pools leaked");
            assert!(!contexts_leaked, "NBL context areas leaked");
            assert!(state.live_clones.is_empty(), "OID clones leaked");
            assert!(!nbl_clones_leaked, "NBL clones leaked");
            assert!(!configs_leaked, "configuration handles left open");
        }
    }
}

pub unsafe fn NdisFSendNetBufferLists(
    h: NDIS_HANDLE,
    nbl: *mut NET_BUFFER_LIST,
    port: NDIS_PORT_NUMBER,
    flags: u32,
) {
    record(Call::Send {
        handle: h.addr(),
        nbls: chain_addresses(nbl),
        port,
        flags,
    });
}

pub unsafe fn NdisFSendNetBufferListsComplete(h: NDIS_HANDLE, nbl: *mut NET_BUFFER_LIST, f: u32) {
    record(Call::SendComplete {
        handle: h.addr(),
        nbls: chain_addresses(nbl),
        flags: f,
    });
}

pub unsafe fn NdisFIndicateReceiveNetBufferLists(
    h: NDIS_HANDLE,
    nbl: *mut NET_BUFFER_LIST,
    port: NDIS_PORT_NUMBER,
    count: u32,
    flags: u32,
) {
    record(Call::Indicate {
        handle: h.addr(),
        nbls: chain_addresses(nbl),
        port,
        count,
        flags,
    });
}

pub unsafe fn NdisFReturnNetBufferLists(h: NDIS_HANDLE, nbl: *mut NET_BUFFER_LIST, flags: u32) {
    record(Call::Return {
        handle: h.addr(),
        nbls: chain_addresses(nbl),
        flags,
    });
}

pub unsafe fn NdisFCancelSendNetBufferLists(h: NDIS_HANDLE, id: *mut c_void) {
    record(Call::CancelSend {
        handle: h.addr(),
        id: id.addr(),
    });
}

pub unsafe fn NdisFIndicateStatus(h: NDIS_HANDLE, s: *mut NDIS_STATUS_INDICATION) {
    record(Call::IndicateStatus {
        handle: h.addr(),
        indication: s.addr(),
    });
}

pub unsafe fn NdisFNetPnPEvent(h: NDIS_HANDLE, e: *mut NET_PNP_EVENT_NOTIFICATION) -> NDIS_STATUS {
    record(Call::NetPnp {
        handle: h.addr(),
        event: e.addr(),
    });
    config().pnp_status
}

pub unsafe fn NdisFDevicePnPEventNotify(h: NDIS_HANDLE, e: *mut NET_DEVICE_PNP_EVENT) {
    record(Call::DevicePnp {
        handle: h.addr(),
        event: e.addr(),
    });
}

pub unsafe fn NdisFPauseComplete(h: NDIS_HANDLE) {
    record(Call::PauseComplete { handle: h.addr() });
}

pub unsafe fn NdisFRestartComplete(h: NDIS_HANDLE, status: NDIS_STATUS) {
    record(Call::RestartComplete {
        handle: h.addr(),
        status,
    });
}

pub unsafe fn NdisFRestartFilter(h: NDIS_HANDLE) -> NDIS_STATUS {
    record(Call::RestartFilter { handle: h.addr() });
    NDIS_STATUS_SUCCESS
}

pub unsafe fn NdisAllocateCloneOidRequest(
    h: NDIS_HANDLE,
    original: *mut NDIS_OID_REQUEST,
    _tag: u32,
    out: *mut *mut NDIS_OID_REQUEST,
) -> NDIS_STATUS {
    if config().clone_fails {
        return NDIS_STATUS_RESOURCES;
    }
    // SAFETY: tests pass a live request; NDIS copies the whole structure into the clone.
    let copy = unsafe { core::ptr::read(original) };
    let clone = Box::into_raw(Box::new(copy));
    STATE.with(|s| s.borrow_mut().live_clones.push(clone.addr()));
    record(Call::CloneOid {
        handle: h.addr(),
        original: original.addr(),
        clone,
    });
    // SAFETY: `out` is the caller's local.
    unsafe { out.write(clone) };
    NDIS_STATUS_SUCCESS
}

pub unsafe fn NdisFOidRequest(h: NDIS_HANDLE, request: *mut NDIS_OID_REQUEST) -> NDIS_STATUS {
    record(Call::OidRequest {
        handle: h.addr(),
        request: request.addr(),
    });
    let config = config();
    if config.oid_status != super::consts::NDIS_STATUS_PENDING {
        // SAFETY: the clone is live.
        let data = unsafe { &mut (*request).DATA };
        // SAFETY: every variant is plain integers and a pointer; query and set share the offsets
        // of the counters written.
        let mut q = unsafe { data.QUERY_INFORMATION };
        q.BytesWritten = config.oid_bytes;
        q.BytesNeeded = config.oid_bytes + 1;
        data.QUERY_INFORMATION = q;
        // SAFETY: as above.
        unsafe { (*request).SupportedRevision = 1 };
    }
    config.oid_status
}

pub unsafe fn NdisFreeCloneOidRequest(h: NDIS_HANDLE, request: *mut NDIS_OID_REQUEST) {
    let known = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let before = s.live_clones.len();
        s.live_clones.retain(|&c| c != request.addr());
        before != s.live_clones.len()
    });
    assert!(known, "freeing an OID request that is not a live clone");
    record(Call::FreeCloneOid {
        handle: h.addr(),
        request: request.addr(),
    });
    // SAFETY: allocated by `NdisAllocateCloneOidRequest` above; freed once (checked).
    drop(unsafe { Box::from_raw(request) });
}

pub unsafe fn NdisFOidRequestComplete(
    h: NDIS_HANDLE,
    request: *mut NDIS_OID_REQUEST,
    status: NDIS_STATUS,
) {
    record(Call::OidComplete {
        handle: h.addr(),
        request: request.addr(),
        status,
    });
}

pub unsafe fn NdisFCancelOidRequest(h: NDIS_HANDLE, id: *mut c_void) {
    record(Call::CancelOid {
        handle: h.addr(),
        id: id.addr(),
    });
}

pub unsafe fn NdisFSetAttributes(
    h: NDIS_HANDLE,
    context: NDIS_HANDLE,
    attributes: *mut NDIS_FILTER_ATTRIBUTES,
) -> NDIS_STATUS {
    // SAFETY: the caller's local attributes.
    let header = unsafe { (*attributes).Header };
    assert_eq!(
        (header.Type, header.Revision, header.Size),
        (0x8D, 1, 8),
        "filter attributes header"
    );
    record(Call::SetAttributes {
        handle: h.addr(),
        context,
    });
    config().set_attributes_status
}

pub unsafe fn NdisFRegisterFilterDriver(
    driver: *mut DRIVER_OBJECT,
    context: NDIS_HANDLE,
    characteristics: *mut NDIS_FILTER_DRIVER_CHARACTERISTICS,
    handle: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    record(Call::Register {
        driver: driver.addr(),
        context: context.addr(),
    });
    // SAFETY: the caller's characteristics; NDIS copies them.
    let copy = Box::new(unsafe { core::ptr::read(characteristics) });
    STATE.with(|s| s.borrow_mut().characteristics = Some(copy));
    let status = config().register_status;
    if status == NDIS_STATUS_SUCCESS {
        // SAFETY: the caller's out slot.
        unsafe { handle.write(core::ptr::without_provenance_mut(DRIVER_HANDLE)) };
    }
    status
}

pub unsafe fn NdisFDeregisterFilterDriver(handle: NDIS_HANDLE) {
    record(Call::Deregister {
        handle: handle.addr(),
    });
}

pub unsafe fn IoAllocateDriverObjectExtension(
    driver: *mut DRIVER_OBJECT,
    client: *mut c_void,
    size: u32,
    out: *mut *mut c_void,
) -> NDIS_STATUS {
    let status = config().extension_status;
    if status != NDIS_STATUS_SUCCESS {
        return status;
    }
    let size = size as usize;
    let layout = Layout::from_size_align(size.max(1), EXTENSION_ALIGN).unwrap();
    // SAFETY: non-zero size.
    let block = unsafe { alloc_zeroed(layout) };
    assert!(!block.is_null());
    STATE.with(|s| {
        s.borrow_mut()
            .extensions
            .push((driver.addr(), client.addr(), block, size));
    });
    // SAFETY: the caller's out slot.
    unsafe { out.write(block.cast()) };
    NDIS_STATUS_SUCCESS
}

pub unsafe fn IoGetDriverObjectExtension(
    driver: *mut DRIVER_OBJECT,
    client: *mut c_void,
) -> *mut c_void {
    STATE.with(|s| {
        s.borrow()
            .extensions
            .iter()
            .find(|(d, c, _, _)| *d == driver.addr() && *c == client.addr())
            .map_or(core::ptr::null_mut(), |&(_, _, block, _)| block.cast())
    })
}

pub unsafe fn NdisAllocateCloneNetBufferList(
    original: *mut NET_BUFFER_LIST,
    nbl_pool: NDIS_HANDLE,
    _nb_pool: NDIS_HANDLE,
    flags: u32,
) -> *mut NET_BUFFER_LIST {
    if config().nbl_clone_fails {
        return core::ptr::null_mut();
    }
    // SAFETY: NET_BUFFER_LIST is pointers and integers, for which all zeroes is valid (NDIS zeroes
    // ParentNetBufferList and ChildRefCount of a new NBL too).
    let clone = Box::into_raw(unsafe { Box::<NET_BUFFER_LIST>::new_zeroed().assume_init() });
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.live_nbl_clones.push((clone, flags));
        s.clone_pools.push((clone.addr(), nbl_pool.addr()));
    });
    record(Call::CloneNbl {
        original: original.addr(),
        clone: clone.addr(),
        flags,
    });
    clone
}

/// The pool a live clone was allocated from (NULL for any other NBL, as a stand-in for the pool of
/// an NBL this double did not allocate).
pub unsafe fn NdisGetPoolFromNetBufferList(nbl: *mut NET_BUFFER_LIST) -> NDIS_HANDLE {
    STATE.with(|s| {
        s.borrow()
            .clone_pools
            .iter()
            .find(|&&(c, _)| c == nbl.addr())
            .map_or(core::ptr::null_mut(), |&(_, p)| {
                core::ptr::without_provenance_mut(p)
            })
    })
}

pub unsafe fn NdisFreeCloneNetBufferList(clone: *mut NET_BUFFER_LIST, flags: u32) {
    record(Call::FreeCloneNbl {
        clone: clone.addr(),
        flags,
    });
    let allocated = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.clone_pools.retain(|&(c, _)| c != clone.addr());
        let i = s.live_nbl_clones.iter().position(|&(c, _)| c == clone)?;
        Some(s.live_nbl_clones.swap_remove(i).1)
    });
    assert_eq!(
        allocated,
        Some(flags),
        "freed a live clone with its allocation flags"
    );
    // SAFETY: allocated as a Box by the double above and freed once (removed from the live list).
    drop(unsafe { Box::from_raw(clone) });
}

#[cfg(not(windows))]
pub unsafe fn MpDiagRecordHost(handle: NDIS_HANDLE, record: *const u8, len: usize) {
    // SAFETY: the caller passes a live byte buffer of `len` bytes for the duration of the call.
    let bytes = unsafe { core::slice::from_raw_parts(record, len) }.to_vec();
    STATE.with(|s| s.borrow_mut().diag.push((handle.addr(), bytes)));
}

pub unsafe fn NdisOpenConfigurationEx(
    object: *mut NDIS_CONFIGURATION_OBJECT,
    out: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    // SAFETY: the caller passes a live configuration object.
    let o = unsafe { &*object };
    let (handle, flags) = (o.NdisHandle, o.Flags);
    record_config(Call::OpenConfig {
        handle: handle.addr(),
        flags,
    });
    let status = config().open_config_status;
    if status == NDIS_STATUS_SUCCESS {
        let block = Box::into_raw(Box::new(0u8));
        STATE.with(|s| {
            s.borrow_mut().configs.push(OpenConfig {
                handle: block,
                values: Vec::new(),
            });
        });
        // SAFETY: out is writable per the caller's contract.
        unsafe { *out = block.cast() };
    }
    status
}

pub unsafe fn NdisReadConfiguration(
    status: *mut NDIS_STATUS,
    value: *mut *mut NDIS_CONFIGURATION_PARAMETER,
    handle: NDIS_HANDLE,
    keyword: *mut UNICODE_STRING,
    requested: NDIS_PARAMETER_TYPE,
) {
    // SAFETY: the caller passes a live keyword.
    let k = unsafe { &*keyword };
    // SAFETY: its buffer holds Length bytes.
    let units = unsafe { core::slice::from_raw_parts(k.Buffer, usize::from(k.Length) / 2) };
    let key = std::string::String::from_utf16_lossy(units);
    record_config(Call::ReadConfig {
        config: handle.addr(),
        key: key.clone(),
        requested,
    });
    let found = config()
        .params
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&key));
    let mut text = None;
    let param = match found {
        None => None,
        Some((_, Param::Integer(v))) => Some(NDIS_CONFIGURATION_PARAMETER {
            ParameterType: NDIS_PARAMETER_INTEGER,
            ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA { IntegerData: v },
        }),
        Some((_, Param::Text(t))) => {
            // A Vec, not a Box: moving it below must not retag the buffer the parameter points at.
            let mut units: Vec<u16> = t.encode_utf16().collect();
            let s = UNICODE_STRING {
                Length: u16::try_from(units.len() * 2).unwrap(),
                MaximumLength: u16::try_from(units.len() * 2).unwrap(),
                Buffer: units.as_mut_ptr(),
            };
            text = Some(units);
            Some(NDIS_CONFIGURATION_PARAMETER {
                ParameterType: NDIS_PARAMETER_STRING,
                ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA { StringData: s },
            })
        }
    };
    let result = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let open = s.configs.iter_mut().find(|c| c.handle.cast() == handle)?;
        let p = Box::into_raw(Box::new(param?));
        open.values.push((p, text));
        Some(p)
    });
    match result {
        Some(p) => {
            // SAFETY: status is writable per the caller's contract.
            unsafe { *status = NDIS_STATUS_SUCCESS };
            // SAFETY: value is writable per the caller's contract.
            unsafe { *value = p };
        }
        // SAFETY: as above.
        None => unsafe { *status = NDIS_STATUS_FAILURE },
    }
}

pub unsafe fn NdisCloseConfiguration(handle: NDIS_HANDLE) {
    record_config(Call::CloseConfig {
        config: handle.addr(),
    });
    let open = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let i = s.configs.iter().position(|c| c.handle.cast() == handle)?;
        Some(s.configs.swap_remove(i))
    });
    open.expect("closed a configuration handle that is open")
        .free();
}

pub unsafe fn NdisAllocateNetBufferListPool(
    handle: NDIS_HANDLE,
    params: *mut NET_BUFFER_LIST_POOL_PARAMETERS,
) -> NDIS_HANDLE {
    // SAFETY: the caller passes live parameters.
    let p = unsafe { *params };
    let pool = if config().pool_alloc_fails {
        core::ptr::null_mut()
    } else {
        let token = Box::into_raw(Box::new(0u8));
        STATE.with(|s| s.borrow_mut().live_pools.push(token));
        token
    };
    record_nbl(Call::AllocPool {
        handle: handle.addr(),
        params: PoolParams {
            header: (p.Header.Type, p.Header.Revision, p.Header.Size),
            protocol_id: p.ProtocolId,
            allocate_net_buffer: p.fAllocateNetBuffer,
            context_size: p.ContextSize,
            pool_tag: p.PoolTag,
            data_size: p.DataSize,
        },
        pool: pool.addr(),
    });
    pool.cast()
}

pub unsafe fn NdisFreeNetBufferListPool(pool: NDIS_HANDLE) {
    record_nbl(Call::FreePool { pool: pool.addr() });
    let token = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let i = s.live_pools.iter().position(|&t| t.cast() == pool)?;
        Some(s.live_pools.swap_remove(i))
    });
    let token = token.expect("freed a pool that is not live");
    // SAFETY: boxed by the pool double and removed from the live list, so freed once.
    drop(unsafe { Box::from_raw(token) });
}

pub unsafe fn NdisAllocateMdl(_handle: NDIS_HANDLE, va: *mut c_void, len: u32) -> *mut MDL {
    // SAFETY: MDL is pointers and integers, for which all zeroes is valid.
    let mut mdl = unsafe { Box::<MDL>::new_zeroed().assume_init() };
    mdl.MappedSystemVa = va;
    mdl.ByteCount = len;
    let mdl = Box::into_raw(mdl);
    STATE.with(|s| s.borrow_mut().live_mdls.push(mdl));
    mdl
}

pub unsafe fn IoAllocateMdl(
    va: *mut c_void,
    len: u32,
    _secondary: BOOLEAN,
    _quota: BOOLEAN,
    _irp: *mut c_void,
) -> *mut MDL {
    // SAFETY: MDL is pointers and integers, for which all zeroes is valid.
    let mut mdl = unsafe { Box::<MDL>::new_zeroed().assume_init() };
    mdl.StartVa = va;
    mdl.ByteCount = len;
    let mdl = Box::into_raw(mdl);
    STATE.with(|s| s.borrow_mut().live_mdls.push(mdl));
    mdl
}

pub unsafe fn IoFreeMdl(mdl: *mut MDL) {
    // SAFETY: forwarded: both doubles box plain MDLs on the same list.
    unsafe { NdisFreeMdl(mdl) };
}

pub unsafe fn IoBuildPartialMdl(source: *mut MDL, target: *mut MDL, va: *mut c_void, len: u32) {
    // SAFETY: the caller passes live MDLs.
    let s = unsafe { &*source };
    // SAFETY: as above.
    let t = unsafe { &mut *target };
    let offset = va.addr() - (s.StartVa.addr() + s.ByteOffset as usize);
    assert!(
        offset < s.ByteCount as usize,
        "the range starts outside the source"
    );
    let len = if len == 0 {
        s.ByteCount - u32::try_from(offset).unwrap()
    } else {
        len
    };
    assert!(
        offset + len as usize <= s.ByteCount as usize,
        "the range passes the source's end"
    );
    t.StartVa = s.StartVa;
    t.ByteOffset = s.ByteOffset + u32::try_from(offset).unwrap();
    t.ByteCount = len;
    t.MdlFlags = 0x10 | (s.MdlFlags & 0x1);
    t.MappedSystemVa = s.MappedSystemVa.cast::<u8>().wrapping_add(offset).cast();
}

pub unsafe fn MmUnmapLockedPages(_base: *mut c_void, _mdl: *mut MDL) {
    panic!("the doubles never map a partial MDL");
}

pub unsafe fn NdisFreeMdl(mdl: *mut MDL) {
    let found = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let i = s.live_mdls.iter().position(|&m| m == mdl)?;
        Some(s.live_mdls.swap_remove(i))
    });
    let mdl = found.expect("freed an MDL that is not live");
    // SAFETY: boxed by the MDL double and removed from the live list, so freed once.
    drop(unsafe { Box::from_raw(mdl) });
}

pub unsafe fn NdisAllocateNetBufferAndNetBufferList(
    _pool: NDIS_HANDLE,
    _context_size: u16,
    _backfill: u16,
    mdl: *mut MDL,
    offset: u32,
    len: usize,
) -> *mut NET_BUFFER_LIST {
    // SAFETY: NET_BUFFER and NET_BUFFER_LIST are pointers and integers; all zeroes is valid.
    let nb = Box::into_raw(unsafe { Box::<NET_BUFFER>::new_zeroed().assume_init() });
    // SAFETY: as above.
    let nbl = Box::into_raw(unsafe { Box::<NET_BUFFER_LIST>::new_zeroed().assume_init() });
    // SAFETY: a fresh allocation, written before anyone else sees it.
    let b = unsafe { &mut *nb };
    b.MdlChain = mdl;
    b.CurrentMdl = mdl;
    b.DataOffset = offset;
    b.CurrentMdlOffset = offset;
    b.DataLength.DataLength = u32::try_from(len).unwrap_or(u32::MAX);
    // SAFETY: as above.
    unsafe { (*nbl).FirstNetBuffer = nb };
    STATE.with(|s| s.borrow_mut().live_frame_nbls.push((nbl, nb)));
    nbl
}

pub unsafe fn NdisFreeNetBufferList(nbl: *mut NET_BUFFER_LIST) {
    let found = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let i = s.live_frame_nbls.iter().position(|&(n, _)| n == nbl)?;
        Some(s.live_frame_nbls.swap_remove(i))
    });
    let (nbl, nb) = found.expect("freed an NBL the double did not allocate");
    // SAFETY: boxed by the frame double and removed from the live list, so freed once.
    drop(unsafe { Box::from_raw(nbl) });
    // SAFETY: as above.
    drop(unsafe { Box::from_raw(nb) });
}

/// Bytes before the data of a context area (`NET_BUFFER_LIST_CONTEXT::ContextData`).
const CONTEXT_HEADER: usize = core::mem::offset_of!(NET_BUFFER_LIST_CONTEXT, ContextData);

/// `NdisAllocateNetBufferListContext` as NDIS does it: the top area's unused space when it has
/// `size` bytes left, else a new area of `size + backfill` bytes pushed on the stack.
pub unsafe fn NdisAllocateNetBufferListContext(
    nbl: *mut NET_BUFFER_LIST,
    size: u16,
    backfill: u16,
    tag: u32,
) -> NDIS_STATUS {
    assert_eq!(
        size % 16,
        0,
        "ContextSize is a multiple of MEMORY_ALLOCATION_ALIGNMENT"
    );
    // SAFETY: the caller passes a live NBL it owns.
    let top = unsafe { (*nbl).Context };
    // SAFETY: a non-NULL top is a live area (the double's or the test's).
    let status = if !top.is_null() && unsafe { (*top).Offset } >= size {
        // SAFETY: as above.
        unsafe { (*top).Offset -= size };
        NDIS_STATUS_SUCCESS
    } else if config().context_alloc_fails {
        NDIS_STATUS_RESOURCES
    } else {
        let total = size.checked_add(backfill).expect("context size overflows");
        let layout = Layout::from_size_align(CONTEXT_HEADER + usize::from(total), 16).unwrap();
        // SAFETY: a non-zero size.
        let area = unsafe { alloc_zeroed(layout) };
        assert!(!area.is_null());
        STATE.with(|s| s.borrow_mut().context_areas.push((area, layout)));
        #[allow(clippy::cast_ptr_alignment)] // the layout above is 16-aligned
        let ctx = area.cast::<NET_BUFFER_LIST_CONTEXT>();
        // SAFETY: a fresh area of at least the header's size, 16-aligned.
        unsafe {
            ctx.write(NET_BUFFER_LIST_CONTEXT {
                Next: top,
                Size: total,
                Offset: backfill,
                Padding0: 0,
                ContextData: [],
            });
        }
        // SAFETY: the caller's NBL.
        unsafe { (*nbl).Context = ctx };
        NDIS_STATUS_SUCCESS
    };
    record_nbl(Call::AllocContext {
        nbl: nbl.addr(),
        size,
        backfill,
        tag,
        status,
    });
    status
}

/// `NdisFreeNetBufferListContext` as NDIS does it: gives `size` bytes back to the top area and
/// pops the area once all of it is unused.
pub unsafe fn NdisFreeNetBufferListContext(nbl: *mut NET_BUFFER_LIST, size: u16) {
    record_nbl(Call::FreeContext {
        nbl: nbl.addr(),
        size,
    });
    // SAFETY: the caller passes a live NBL it owns.
    let top = unsafe { (*nbl).Context };
    assert!(!top.is_null(), "freed a context of an NBL that has none");
    // SAFETY: a live area.
    let area = unsafe { &*top };
    let (area_size, offset) = (area.Size, area.Offset);
    assert!(
        size <= area_size - offset,
        "freed more context than is allocated"
    );
    let offset = offset + size;
    if offset < area_size {
        // SAFETY: as above.
        unsafe { (*top).Offset = offset };
        return;
    }
    let layout = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let i = s.context_areas.iter().position(|&(a, _)| a == top.cast())?;
        Some(s.context_areas.swap_remove(i).1)
    });
    let layout = layout.expect("popped a context area the double did not allocate");
    let below = area.Next;
    // SAFETY: as above; unlinked before it is freed.
    unsafe { (*nbl).Context = below };
    // SAFETY: allocated by the double with this layout, removed from the live list: freed once.
    unsafe { dealloc(top.cast(), layout) };
}

/// `NdisCopySendNetBufferListInfo`: copies every info slot (as the emulator does).
pub unsafe fn NdisCopySendNetBufferListInfo(dst: *mut NET_BUFFER_LIST, src: *mut NET_BUFFER_LIST) {
    record_nbl(Call::CopySendInfo {
        dst: dst.addr(),
        src: src.addr(),
    });
    // SAFETY: a live NBL, only read.
    let info = unsafe { (*src).NetBufferListInfo };
    // SAFETY: a live NBL the caller owns.
    unsafe { (*dst).NetBufferListInfo = info };
}

pub unsafe fn NdisCopyReceiveNetBufferListInfo(
    dst: *mut NET_BUFFER_LIST,
    src: *mut NET_BUFFER_LIST,
) {
    // SAFETY: a live NBL, only read.
    let info = unsafe { (*src).NetBufferListInfo };
    // SAFETY: a live NBL the caller owns.
    unsafe { (*dst).NetBufferListInfo = info };
}

/// `NdisGetDataBuffer` as NDIS does it: a pointer into the current MDL when the bytes are
/// contiguous there, else a copy into `storage` (NULL without storage); NULL when the NET_BUFFER
/// has fewer than `bytes` bytes of data.
pub unsafe fn NdisGetDataBuffer(
    nb: *mut NET_BUFFER,
    bytes: u32,
    storage: *mut c_void,
    align_multiple: u32,
    align_offset: u32,
) -> *mut c_void {
    record_nbl(Call::GetDataBuffer {
        nb: nb.addr(),
        bytes,
        storage: storage.addr(),
        align_multiple,
        align_offset,
    });
    // SAFETY: the caller passes a live NET_BUFFER.
    let b = unsafe { &*nb };
    // SAFETY: the ULONG member of the union.
    let length = unsafe { b.DataLength.DataLength };
    if bytes == 0 || bytes > length || b.CurrentMdl.is_null() {
        return core::ptr::null_mut();
    }
    let mut mdl = b.CurrentMdl;
    let mut offset = b.CurrentMdlOffset as usize;
    // SAFETY: the current MDL of a live NET_BUFFER.
    let first = unsafe { &*mdl };
    if first.ByteCount as usize - offset >= bytes as usize {
        // SAFETY: within the first MDL's mapped buffer.
        return unsafe { first.MappedSystemVa.cast::<u8>().add(offset) }.cast();
    }
    if storage.is_null() {
        return core::ptr::null_mut();
    }
    let mut copied = 0usize;
    let wanted = bytes as usize;
    while copied < wanted && !mdl.is_null() {
        // SAFETY: MDLs of a live chain.
        let m = unsafe { &*mdl };
        let take = (m.ByteCount as usize - offset).min(wanted - copied);
        // SAFETY: `take` bytes from `offset` are inside this MDL's buffer.
        let from =
            unsafe { core::slice::from_raw_parts(m.MappedSystemVa.cast::<u8>(), offset + take) };
        // SAFETY: the caller sized the storage for `bytes`, and `copied + take <= bytes`; it never
        // overlaps the NET_BUFFER's data.
        let to = unsafe { core::slice::from_raw_parts_mut(storage.cast::<u8>(), wanted) };
        to[copied..copied + take].copy_from_slice(&from[offset..]);
        copied += take;
        offset = 0;
        mdl = m.Next;
    }
    if copied == wanted {
        storage
    } else {
        core::ptr::null_mut()
    }
}
