//! The one place that calls into a driver: every filter handler, DriverEntry and DriverUnload,
//! with the calling convention of the image that registered them.
//!
//! A host-linked filter's handlers are `extern "system"` (SysV on Linux); a PE image's are
//! `extern "win64"`. Both are stored as plain addresses and called through a function-pointer type
//! of the matching ABI, so the rest of the emulator never cares which one it drives.
#![allow(clippy::too_many_arguments)]

use crate::abi::Abi;
use core::ffi::c_void;
use mpfilter::ndis::types::{
    DRIVER_OBJECT, NDIS_FILTER_ATTACH_PARAMETERS, NDIS_FILTER_DRIVER_CHARACTERISTICS,
    NDIS_FILTER_PAUSE_PARAMETERS, NDIS_FILTER_RESTART_PARAMETERS, NDIS_HANDLE, NDIS_OID_REQUEST,
    NDIS_STATUS, NDIS_STATUS_INDICATION, NET_BUFFER_LIST, NET_DEVICE_PNP_EVENT,
    NET_PNP_EVENT_NOTIFICATION, UNICODE_STRING,
};

/// A driver's entry point, in either ABI.
#[derive(Clone, Copy, Debug)]
pub enum EntryPoint {
    /// A host-linked `extern "system"` DriverEntry.
    Host(unsafe extern "system" fn(*mut DRIVER_OBJECT, *mut UNICODE_STRING) -> NDIS_STATUS),
    /// A PE image's `extern "win64"` DriverEntry.
    Win64(unsafe extern "win64" fn(*mut DRIVER_OBJECT, *mut UNICODE_STRING) -> NDIS_STATUS),
}

impl EntryPoint {
    /// The ABI of the image.
    pub fn abi(self) -> Abi {
        match self {
            EntryPoint::Host(_) => Abi::Host,
            EntryPoint::Win64(_) => Abi::Win64,
        }
    }

    /// Calls DriverEntry.
    ///
    /// # Safety
    /// The pointers are a valid driver object and registry path; the entry point is a real
    /// DriverEntry of the given ABI.
    pub unsafe fn call(self, d: *mut DRIVER_OBJECT, r: *mut UNICODE_STRING) -> NDIS_STATUS {
        match self {
            // SAFETY: forwarded contract.
            EntryPoint::Host(f) => unsafe { f(d, r) },
            // SAFETY: forwarded contract.
            EntryPoint::Win64(f) => unsafe { f(d, r) },
        }
    }
}

macro_rules! invoke {
    ($abi:expr, $addr:expr, fn($($t:ty),*) $(-> $r:ty)?, $($a:expr),*) => {{
        match $abi {
            Abi::Host => {
                // The address was exposed when it was stored (see `addr`).
                let p = core::ptr::with_exposed_provenance::<()>($addr);
                // SAFETY: the address is a handler the driver registered with this signature in
                // the host ABI (non-zero; checked by the caller).
                let f = unsafe { core::mem::transmute::<*const (), unsafe extern "system" fn($($t),*) $(-> $r)?>(p) };
                // SAFETY: calling the driver's handler with arguments NDIS would pass.
                unsafe { f($($a),*) }
            }
            Abi::Win64 => {
                let p = core::ptr::with_exposed_provenance::<()>($addr);
                // SAFETY: as above, for a PE image's win64 handler.
                let f = unsafe { core::mem::transmute::<*const (), unsafe extern "win64" fn($($t),*) $(-> $r)?>(p) };
                // SAFETY: calling the driver's handler with arguments NDIS would pass.
                unsafe { f($($a),*) }
            }
        }
    }};
}

fn addr<T: Copy>(f: Option<T>) -> usize {
    // Handlers are function pointers; a size mismatch would make the copy unsound, so only
    // pointer-sized types are read.
    match f {
        Some(f) if size_of::<T>() == size_of::<usize>() => {
            // SAFETY: T is a pointer-sized function pointer type (checked above); reading it as
            // a pointer keeps its provenance, which is then exposed for `invoke!`.
            unsafe { core::mem::transmute_copy::<T, *const ()>(&f) }.expose_provenance()
        }
        _ => 0,
    }
}

/// The handlers of a registered filter driver, as addresses plus the ABI to call them with.
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct Handlers {
    pub win64: bool,
    pub set_options: usize,
    pub set_module_options: usize,
    pub attach: usize,
    pub detach: usize,
    pub restart: usize,
    pub pause: usize,
    pub send: usize,
    pub send_complete: usize,
    pub cancel_send: usize,
    pub receive: usize,
    pub return_nbls: usize,
    pub oid_request: usize,
    pub oid_complete: usize,
    pub cancel_oid: usize,
    pub device_pnp: usize,
    pub net_pnp: usize,
    pub status: usize,
}

impl Handlers {
    /// Reads the handler table of registered characteristics.
    pub fn from_characteristics(abi: Abi, c: &NDIS_FILTER_DRIVER_CHARACTERISTICS) -> Self {
        Self {
            win64: abi == Abi::Win64,
            set_options: addr(c.SetOptionsHandler),
            set_module_options: addr(c.SetFilterModuleOptionsHandler),
            attach: addr(c.AttachHandler),
            detach: addr(c.DetachHandler),
            restart: addr(c.RestartHandler),
            pause: addr(c.PauseHandler),
            send: addr(c.SendNetBufferListsHandler),
            send_complete: addr(c.SendNetBufferListsCompleteHandler),
            cancel_send: addr(c.CancelSendNetBufferListsHandler),
            receive: addr(c.ReceiveNetBufferListsHandler),
            return_nbls: addr(c.ReturnNetBufferListsHandler),
            oid_request: addr(c.OidRequestHandler),
            oid_complete: addr(c.OidRequestCompleteHandler),
            cancel_oid: addr(c.CancelOidRequestHandler),
            device_pnp: addr(c.DevicePnPEventNotifyHandler),
            net_pnp: addr(c.NetPnPEventHandler),
            status: addr(c.StatusHandler),
        }
    }

    /// The ABI to call these handlers with.
    pub fn abi(&self) -> Abi {
        if self.win64 { Abi::Win64 } else { Abi::Host }
    }
}

/// FilterSetModuleOptions; `None` if the driver has none.
///
/// # Safety
/// `ctx` is the module context the driver set.
pub unsafe fn set_module_options(h: &Handlers, ctx: NDIS_HANDLE) -> Option<NDIS_STATUS> {
    (h.set_module_options != 0).then(|| {
        invoke!(
            h.abi(),
            h.set_module_options,
            fn(NDIS_HANDLE) -> NDIS_STATUS,
            ctx
        )
    })
}

/// FilterAttach.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn attach(
    h: &Handlers,
    module: NDIS_HANDLE,
    driver_ctx: NDIS_HANDLE,
    p: *mut NDIS_FILTER_ATTACH_PARAMETERS,
) -> Option<NDIS_STATUS> {
    (h.attach != 0).then(|| {
        invoke!(
            h.abi(),
            h.attach,
            fn(NDIS_HANDLE, NDIS_HANDLE, *mut NDIS_FILTER_ATTACH_PARAMETERS) -> NDIS_STATUS,
            module,
            driver_ctx,
            p
        )
    })
}

/// FilterDetach.
///
/// # Safety
/// `ctx` is the module context.
pub unsafe fn detach(h: &Handlers, ctx: NDIS_HANDLE) {
    if h.detach != 0 {
        invoke!(h.abi(), h.detach, fn(NDIS_HANDLE), ctx);
    }
}

/// FilterRestart.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn restart(
    h: &Handlers,
    ctx: NDIS_HANDLE,
    p: *mut NDIS_FILTER_RESTART_PARAMETERS,
) -> Option<NDIS_STATUS> {
    (h.restart != 0).then(|| {
        invoke!(
            h.abi(),
            h.restart,
            fn(NDIS_HANDLE, *mut NDIS_FILTER_RESTART_PARAMETERS) -> NDIS_STATUS,
            ctx,
            p
        )
    })
}

/// FilterPause.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn pause(
    h: &Handlers,
    ctx: NDIS_HANDLE,
    p: *mut NDIS_FILTER_PAUSE_PARAMETERS,
) -> Option<NDIS_STATUS> {
    (h.pause != 0).then(|| {
        invoke!(
            h.abi(),
            h.pause,
            fn(NDIS_HANDLE, *mut NDIS_FILTER_PAUSE_PARAMETERS) -> NDIS_STATUS,
            ctx,
            p
        )
    })
}

/// FilterSendNetBufferLists; false if the driver has none (bypass).
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn send(
    h: &Handlers,
    ctx: NDIS_HANDLE,
    nbl: *mut NET_BUFFER_LIST,
    port: u32,
    flags: u32,
) -> bool {
    if h.send == 0 {
        return false;
    }
    invoke!(
        h.abi(),
        h.send,
        fn(NDIS_HANDLE, *mut NET_BUFFER_LIST, u32, u32),
        ctx,
        nbl,
        port,
        flags
    );
    true
}

/// FilterSendNetBufferListsComplete; false if the driver has none.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn send_complete(
    h: &Handlers,
    ctx: NDIS_HANDLE,
    nbl: *mut NET_BUFFER_LIST,
    flags: u32,
) -> bool {
    if h.send_complete == 0 {
        return false;
    }
    invoke!(
        h.abi(),
        h.send_complete,
        fn(NDIS_HANDLE, *mut NET_BUFFER_LIST, u32),
        ctx,
        nbl,
        flags
    );
    true
}

/// FilterReceiveNetBufferLists; false if the driver has none (bypass).
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn receive(
    h: &Handlers,
    ctx: NDIS_HANDLE,
    nbl: *mut NET_BUFFER_LIST,
    port: u32,
    count: u32,
    flags: u32,
) -> bool {
    if h.receive == 0 {
        return false;
    }
    invoke!(
        h.abi(),
        h.receive,
        fn(NDIS_HANDLE, *mut NET_BUFFER_LIST, u32, u32, u32),
        ctx,
        nbl,
        port,
        count,
        flags
    );
    true
}

/// FilterReturnNetBufferLists; false if the driver has none.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn return_nbls(
    h: &Handlers,
    ctx: NDIS_HANDLE,
    nbl: *mut NET_BUFFER_LIST,
    flags: u32,
) -> bool {
    if h.return_nbls == 0 {
        return false;
    }
    invoke!(
        h.abi(),
        h.return_nbls,
        fn(NDIS_HANDLE, *mut NET_BUFFER_LIST, u32),
        ctx,
        nbl,
        flags
    );
    true
}

/// FilterOidRequest; `None` if the driver has none (NDIS then forwards the request itself).
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn oid_request(
    h: &Handlers,
    ctx: NDIS_HANDLE,
    req: *mut NDIS_OID_REQUEST,
) -> Option<NDIS_STATUS> {
    (h.oid_request != 0).then(|| {
        invoke!(
            h.abi(),
            h.oid_request,
            fn(NDIS_HANDLE, *mut NDIS_OID_REQUEST) -> NDIS_STATUS,
            ctx,
            req
        )
    })
}

/// FilterOidRequestComplete.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn oid_complete(
    h: &Handlers,
    ctx: NDIS_HANDLE,
    req: *mut NDIS_OID_REQUEST,
    status: NDIS_STATUS,
) -> bool {
    if h.oid_complete == 0 {
        return false;
    }
    invoke!(
        h.abi(),
        h.oid_complete,
        fn(NDIS_HANDLE, *mut NDIS_OID_REQUEST, NDIS_STATUS),
        ctx,
        req,
        status
    );
    true
}

/// FilterNetPnPEvent; `None` if the driver has none.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn net_pnp(
    h: &Handlers,
    ctx: NDIS_HANDLE,
    ev: *mut NET_PNP_EVENT_NOTIFICATION,
) -> Option<NDIS_STATUS> {
    (h.net_pnp != 0).then(|| {
        invoke!(
            h.abi(),
            h.net_pnp,
            fn(NDIS_HANDLE, *mut NET_PNP_EVENT_NOTIFICATION) -> NDIS_STATUS,
            ctx,
            ev
        )
    })
}

/// FilterDevicePnPEventNotify; false if the driver has none.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn device_pnp(h: &Handlers, ctx: NDIS_HANDLE, ev: *mut NET_DEVICE_PNP_EVENT) -> bool {
    if h.device_pnp == 0 {
        return false;
    }
    invoke!(
        h.abi(),
        h.device_pnp,
        fn(NDIS_HANDLE, *mut NET_DEVICE_PNP_EVENT),
        ctx,
        ev
    );
    true
}

/// FilterStatus; false if the driver has none.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn status(h: &Handlers, ctx: NDIS_HANDLE, ind: *mut NDIS_STATUS_INDICATION) -> bool {
    if h.status == 0 {
        return false;
    }
    invoke!(
        h.abi(),
        h.status,
        fn(NDIS_HANDLE, *mut NDIS_STATUS_INDICATION),
        ctx,
        ind
    );
    true
}

/// FilterCancelSendNetBufferLists; false if the driver has none.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn cancel_send(h: &Handlers, ctx: NDIS_HANDLE, id: *mut c_void) -> bool {
    if h.cancel_send == 0 {
        return false;
    }
    invoke!(
        h.abi(),
        h.cancel_send,
        fn(NDIS_HANDLE, *mut c_void),
        ctx,
        id
    );
    true
}

/// FilterCancelOidRequest; false if the driver has none.
///
/// # Safety
/// Arguments as NDIS passes them.
pub unsafe fn cancel_oid(h: &Handlers, ctx: NDIS_HANDLE, id: *mut c_void) -> bool {
    if h.cancel_oid == 0 {
        return false;
    }
    invoke!(h.abi(), h.cancel_oid, fn(NDIS_HANDLE, *mut c_void), ctx, id);
    true
}

/// `DRIVER_OBJECT.DriverUnload` of an image of the given ABI.
///
/// # Safety
/// `unload` is the driver's unload routine (non-zero) and `d` its driver object.
pub unsafe fn driver_unload(abi: Abi, unload: usize, d: *mut DRIVER_OBJECT) {
    invoke!(abi, unload, fn(*mut DRIVER_OBJECT), d);
}

/// Calls a control device's dispatch routine with an IRP.
///
/// # Safety
/// `routine` is a dispatch routine the driver registered for the device, in `abi`; the device
/// and IRP are the emulator's, valid during the call.
pub unsafe fn dispatch_irp(
    abi: Abi,
    routine: usize,
    device: *mut mpfilter::ndis::types::DEVICE_OBJECT,
    irp: *mut mpfilter::ndis::irp::IRP,
) -> i32 {
    invoke!(
        abi,
        routine,
        fn(*mut mpfilter::ndis::types::DEVICE_OBJECT, *mut mpfilter::ndis::irp::IRP) -> i32,
        device,
        irp
    )
}

/// An ETW provider's enable callback (`PETWENABLECALLBACK`) of an image of the given ABI.
///
/// # Safety
/// `callback` is the enable callback the driver passed to EtwRegister (non-zero), `source` the
/// provider GUID it registered, `context` the context it passed.
pub unsafe fn etw_enable(
    abi: Abi,
    callback: usize,
    source: *const mpfilter::ndis::types::GUID,
    control_code: u32,
    level: u8,
    match_any: u64,
    match_all: u64,
    context: *mut c_void,
) {
    invoke!(
        abi,
        callback,
        fn(*const mpfilter::ndis::types::GUID, u32, u8, u64, u64, *mut c_void, *mut c_void),
        source,
        control_code,
        level,
        match_any,
        match_all,
        core::ptr::null_mut(),
        context
    );
}
