//! The portable driver entry: `DriverEntry`, the filter characteristics, and unload.
//!
//! The same code runs in the Windows `.sys` and in the Linux host build, where the emulator calls
//! `DriverEntry` with an emulated DRIVER_OBJECT and unloads through `DriverUnload`.
//!
//! The driver's state lives in a driver-object extension (`IoAllocateDriverObjectExtension`, keyed
//! by the address of [`DRIVER_STATE_CLIENT_ID`]) rather than in a global, so that unload finds it
//! from the DRIVER_OBJECT alone and several driver instances (parallel emulator tests) never share
//! it. The I/O manager frees the extension together with the driver object.

use super::state::DriverState;
use super::trampolines as t;
use crate::ndis::consts::{
    NDIS_FILTER_CHARACTERISTICS_REVISION_2, NDIS_FILTER_MAJOR_VERSION, NDIS_FILTER_MINOR_VERSION,
    NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS,
    NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2, NDIS_STATUS_INVALID_PARAMETER,
    NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS,
};
use crate::ndis::imports;
use crate::ndis::types::{
    DRIVER_OBJECT, NDIS_FILTER_DRIVER_CHARACTERISTICS, NDIS_OBJECT_HEADER, NDIS_STATUS,
    UNICODE_STRING,
};
use core::ffi::c_void;
use core::ptr;

/// Display name of the filter.
pub const FRIENDLY_NAME: &str = "mpfilter NDIS Multipath Filter";
/// The filter's unique name: the INF's NetCfgInstanceId.
pub const UNIQUE_NAME: &str = "{5c3ba7a4-8f0e-4b9a-9d1e-6a2f3c7e1b40}";
/// The service name (the INF's AddService name).
pub const SERVICE_NAME: &str = "mpfilter";

/// The filter's major version, reported in the characteristics.
const DRIVER_MAJOR_VERSION: u8 = 1;
/// The filter's minor version.
const DRIVER_MINOR_VERSION: u8 = 0;

/// ASCII to UTF-16 at compile time (the names above are ASCII; anything else fails the build).
#[allow(clippy::cast_lossless)]
pub(super) const fn utf16<const N: usize>(s: &str) -> [u16; N] {
    let bytes = s.as_bytes();
    assert!(bytes.len() == N, "length mismatch");
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N {
        assert!(bytes[i] < 0x80, "names must be ASCII");
        out[i] = bytes[i] as u16;
        i += 1;
    }
    out
}

static FRIENDLY_NAME_UTF16: [u16; FRIENDLY_NAME.len()] = utf16(FRIENDLY_NAME);
static UNIQUE_NAME_UTF16: [u16; UNIQUE_NAME.len()] = utf16(UNIQUE_NAME);
static SERVICE_NAME_UTF16: [u16; SERVICE_NAME.len()] = utf16(SERVICE_NAME);

/// A counted string over a static: NDIS copies the names during registration and never writes
/// them, so the `*mut` the C type demands is never used for writing.
#[allow(clippy::cast_possible_truncation)]
pub(super) fn static_unicode(s: &'static [u16]) -> UNICODE_STRING {
    // The names are a few dozen characters; the byte length fits a u16.
    let bytes = (s.len() * 2) as u16;
    UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: s.as_ptr().cast_mut(),
    }
}

/// Its address is the client id of the driver-object extension holding the driver state; only the
/// address matters (a non-zero-sized static has a unique one).
pub static DRIVER_STATE_CLIENT_ID: u8 = 0;

fn client_id() -> *mut c_void {
    ptr::addr_of!(DRIVER_STATE_CLIENT_ID).cast_mut().cast()
}

/// The filter driver characteristics: revision 2, NDIS 6.30, every handler of a modifying
/// pass-through filter.
///
/// The three direct-OID handlers are left NULL: they are optional, and a filter that does not
/// filter direct OID requests sets them to NULL, in which case NDIS passes direct OIDs to the
/// driver below without involving the filter ("FilterDirectOidRequest is an optional function. If
/// a filter driver does not use direct OID requests, it can set the entry point for this function
/// to NULL", FILTER_DIRECT_OID_REQUEST, ndis.h docs). Forwarding them through the regular OID
/// path would be wrong (they are unserialized and must go down with NdisFDirectOidRequest), and a
/// stub that fails them would break direct OIDs for the whole stack.
pub fn filter_characteristics() -> NDIS_FILTER_DRIVER_CHARACTERISTICS {
    NDIS_FILTER_DRIVER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS,
            NDIS_FILTER_CHARACTERISTICS_REVISION_2,
            NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
        MajorNdisVersion: NDIS_FILTER_MAJOR_VERSION,
        MinorNdisVersion: NDIS_FILTER_MINOR_VERSION,
        MajorDriverVersion: DRIVER_MAJOR_VERSION,
        MinorDriverVersion: DRIVER_MINOR_VERSION,
        Flags: 0,
        FriendlyName: static_unicode(&FRIENDLY_NAME_UTF16),
        UniqueName: static_unicode(&UNIQUE_NAME_UTF16),
        ServiceName: static_unicode(&SERVICE_NAME_UTF16),
        SetOptionsHandler: Some(t::filter_set_options),
        SetFilterModuleOptionsHandler: Some(t::filter_set_module_options),
        AttachHandler: Some(t::filter_attach),
        DetachHandler: Some(t::filter_detach),
        RestartHandler: Some(t::filter_restart),
        PauseHandler: Some(t::filter_pause),
        SendNetBufferListsHandler: Some(t::filter_send),
        SendNetBufferListsCompleteHandler: Some(t::filter_send_complete),
        CancelSendNetBufferListsHandler: Some(t::filter_cancel_send),
        ReceiveNetBufferListsHandler: Some(t::filter_receive),
        ReturnNetBufferListsHandler: Some(t::filter_return),
        OidRequestHandler: Some(t::filter_oid_request),
        OidRequestCompleteHandler: Some(t::filter_oid_request_complete),
        CancelOidRequestHandler: Some(t::filter_cancel_oid_request),
        DevicePnPEventNotifyHandler: Some(t::filter_device_pnp_event_notify),
        NetPnPEventHandler: Some(t::filter_net_pnp_event),
        StatusHandler: Some(t::filter_status),
        DirectOidRequestHandler: None,
        DirectOidRequestCompleteHandler: None,
        CancelDirectOidRequestHandler: None,
    }
}

/// The driver's entry point: allocates the driver state, registers the filter with NDIS and sets
/// the unload routine. On failure it returns the status after undoing what it did (the only
/// allocation, the driver-object extension, is released by the I/O manager with the driver
/// object when DriverEntry fails); it never panics.
///
/// # Safety
/// Called once per driver object, at PASSIVE_LEVEL, by the I/O manager (or the emulator / PE
/// loader standing in for it) with a valid DRIVER_OBJECT.
#[allow(non_snake_case)]
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverEntry(
    driver_object: *mut DRIVER_OBJECT,
    _registry_path: *mut UNICODE_STRING,
) -> NDIS_STATUS {
    if driver_object.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    let mut extension: *mut c_void = ptr::null_mut();
    // `DriverState` is a handle and the registry's slots, a few hundred bytes: it fits a u32.
    #[allow(clippy::cast_possible_truncation)]
    let size = size_of::<DriverState>() as u32;
    // SAFETY: a valid driver object (caller contract), a unique client id, and a local for the
    // result, at PASSIVE_LEVEL.
    let status = unsafe {
        imports::IoAllocateDriverObjectExtension(
            driver_object,
            client_id(),
            size,
            &raw mut extension,
        )
    };
    if status != NDIS_STATUS_SUCCESS {
        return status;
    }
    let state = extension.cast::<DriverState>();
    if state.is_null() || !state.is_aligned() {
        return NDIS_STATUS_RESOURCES;
    }
    // SAFETY: the extension is at least `size_of::<DriverState>()` bytes, aligned (checked), and
    // ours alone.
    unsafe { state.write(DriverState::new()) };
    // SAFETY: initialised above, ours alone until NdisFRegisterFilterDriver (below) lets modules
    // attach; the team now sits at its final address.
    unsafe { (*state).team.init() };
    // Tracing first: modules may attach (and emit) during NdisFRegisterFilterDriver.
    crate::diag::start();
    let mut characteristics = filter_characteristics();
    // SAFETY: `state` is valid and initialised (above); this only takes a field address.
    let handle_slot = unsafe { &raw mut (*state).filter_driver_handle };
    // SAFETY: PASSIVE_LEVEL; NDIS copies the characteristics during the call and writes the
    // driver handle straight into the driver state (so it is set even if NDIS attaches modules
    // before this call returns). The driver state is the FilterDriverContext.
    let status = unsafe {
        imports::NdisFRegisterFilterDriver(
            driver_object,
            state.cast::<c_void>(),
            &raw mut characteristics,
            handle_slot,
        )
    };
    if status != NDIS_STATUS_SUCCESS {
        // No unload will run: free what `init` allocated (the extension itself goes with the
        // driver object).
        // SAFETY: the registration failed, so no module attached and nothing else uses the team.
        unsafe { (*state).team.teardown() };
        crate::diag::stop();
        return status;
    }
    // The filter works without its control device: a failed registration is not DriverEntry's.
    // SAFETY: PASSIVE_LEVEL, the initialised state, after the filter registration.
    let _ = unsafe { super::control::register(state) };
    // SAFETY: a valid driver object; setting the unload routine is DriverEntry's job.
    unsafe { (*driver_object).DriverUnload = Some(driver_unload) };
    NDIS_STATUS_SUCCESS
}

/// The driver's unload routine: deregisters the filter driver (NDIS has detached every module by
/// the time it returns).
///
/// # Safety
/// Called once by the I/O manager (or its stand-in) with the driver object DriverEntry succeeded
/// on, at PASSIVE_LEVEL.
pub unsafe extern "system" fn driver_unload(driver_object: *mut DRIVER_OBJECT) {
    if driver_object.is_null() {
        return;
    }
    // SAFETY: a valid driver object and the client id DriverEntry used.
    let extension = unsafe { imports::IoGetDriverObjectExtension(driver_object, client_id()) };
    let state = extension.cast::<DriverState>();
    if state.is_null() {
        return;
    }
    // SAFETY: DriverEntry initialised the state in this extension; unload runs alone.
    let handle = unsafe { (*state).filter_driver_handle };
    if handle.is_null() {
        return;
    }
    // SAFETY: PASSIVE_LEVEL; unload runs alone.
    unsafe { super::control::deregister(state) };
    // SAFETY: the handle NdisFRegisterFilterDriver returned, deregistered once (cleared below).
    unsafe { imports::NdisFDeregisterFilterDriver(handle) };
    // SAFETY: as above.
    unsafe { (*state).filter_driver_handle = ptr::null_mut() };
    // SAFETY: every module has detached (deregistration returned), so no group and no timer is
    // left; unload runs alone.
    unsafe { (*state).team.teardown() };
    // Last: detaches emit until deregistration returns.
    crate::diag::stop();
}

#[cfg(test)]
mod tests {
    //! DriverEntry and unload against the recording doubles (runs under Miri).
    use super::*;
    use crate::ndis::consts::NDIS_STATUS_FAILURE;
    use crate::ndis::mock::{Call, Config, DRIVER_HANDLE, Session};
    use std::boxed::Box;
    use std::string::String;

    fn driver_object() -> Box<DRIVER_OBJECT> {
        // SAFETY: DRIVER_OBJECT is integers, raw pointers and an Option of a function pointer, all
        // valid when zeroed.
        unsafe { Box::<DRIVER_OBJECT>::new_zeroed().assume_init() }
    }

    fn decode(s: &UNICODE_STRING) -> String {
        assert_eq!(s.Length % 2, 0);
        assert!(s.MaximumLength >= s.Length);
        // SAFETY: the buffer holds `Length` bytes of UTF-16 (a static of this module).
        let units = unsafe { core::slice::from_raw_parts(s.Buffer, usize::from(s.Length / 2)) };
        String::from_utf16(units).unwrap()
    }

    #[test]
    fn registers_every_handler_and_unloads_once() {
        let s = Session::new(Config::default());
        let mut driver = driver_object();
        let d: *mut DRIVER_OBJECT = &raw mut *driver;
        // SAFETY: a valid (fake) driver object.
        let status = unsafe { DriverEntry(d, ptr::null_mut()) };
        assert_eq!(status, NDIS_STATUS_SUCCESS);
        let calls = s.take_calls();
        let [
            Call::Register {
                driver: rd,
                context,
            },
        ] = calls[..]
        else {
            panic!("unexpected calls {calls:?}");
        };
        assert_eq!(rd, d.addr());
        // SAFETY: the driver object and client id DriverEntry used.
        let extension = unsafe { imports::IoGetDriverObjectExtension(d, client_id()) };
        assert_eq!(
            context,
            extension.addr(),
            "the driver state is the FilterDriverContext"
        );
        s.with_characteristics(|c| {
            assert_eq!(
                (c.Header.Type, c.Header.Revision, c.Header.Size),
                (0x8B, 2, 0xE0)
            );
            assert_eq!((c.MajorNdisVersion, c.MinorNdisVersion), (6, 30));
            assert_eq!(decode(&c.FriendlyName), FRIENDLY_NAME);
            assert_eq!(
                decode(&c.UniqueName),
                "{5c3ba7a4-8f0e-4b9a-9d1e-6a2f3c7e1b40}"
            );
            assert_eq!(decode(&c.ServiceName), "mpfilter");
            assert!(c.SetOptionsHandler.is_some());
            assert!(c.SetFilterModuleOptionsHandler.is_some());
            assert!(c.AttachHandler.is_some() && c.DetachHandler.is_some());
            assert!(c.RestartHandler.is_some() && c.PauseHandler.is_some());
            assert!(c.SendNetBufferListsHandler.is_some());
            assert!(c.SendNetBufferListsCompleteHandler.is_some());
            assert!(c.CancelSendNetBufferListsHandler.is_some());
            assert!(c.ReceiveNetBufferListsHandler.is_some());
            assert!(c.ReturnNetBufferListsHandler.is_some());
            assert!(c.OidRequestHandler.is_some() && c.OidRequestCompleteHandler.is_some());
            assert!(c.CancelOidRequestHandler.is_some());
            assert!(c.DevicePnPEventNotifyHandler.is_some() && c.NetPnPEventHandler.is_some());
            assert!(c.StatusHandler.is_some());
            assert!(c.DirectOidRequestHandler.is_none());
            assert!(c.DirectOidRequestCompleteHandler.is_none());
            assert!(c.CancelDirectOidRequestHandler.is_none());
        })
        .expect("registered");
        let unload = driver.DriverUnload.expect("DriverUnload set");
        // SAFETY: the driver object DriverEntry succeeded on.
        unsafe { unload(d) };
        assert_eq!(
            s.take_calls(),
            [Call::Deregister {
                handle: DRIVER_HANDLE
            }]
        );
        // SAFETY: as above; a second unload must not deregister again.
        unsafe { unload(d) };
        assert!(s.take_calls().is_empty());
    }

    #[test]
    fn registration_failure_returns_the_status_without_an_unload_routine() {
        let s = Session::new(Config {
            register_status: NDIS_STATUS_FAILURE,
            ..Config::default()
        });
        let mut driver = driver_object();
        // SAFETY: a valid (fake) driver object.
        let status = unsafe { DriverEntry(&raw mut *driver, ptr::null_mut()) };
        assert_eq!(status, NDIS_STATUS_FAILURE);
        assert!(driver.DriverUnload.is_none());
        assert!(matches!(s.take_calls()[..], [Call::Register { .. }]));

        s.set_config(Config {
            extension_status: NDIS_STATUS_RESOURCES,
            ..Config::default()
        });
        let mut other = driver_object();
        // SAFETY: as above.
        let status = unsafe { DriverEntry(&raw mut *other, ptr::null_mut()) };
        assert_eq!(status, NDIS_STATUS_RESOURCES);
        assert!(other.DriverUnload.is_none());
        assert!(
            s.take_calls().is_empty(),
            "nothing registered without driver state"
        );
        // SAFETY: NULL is rejected.
        let status = unsafe { DriverEntry(ptr::null_mut(), ptr::null_mut()) };
        assert_eq!(status, NDIS_STATUS_INVALID_PARAMETER);
        // SAFETY: unloading a driver whose entry failed finds no state and does nothing.
        unsafe { driver_unload(&raw mut *other) };
        assert!(s.take_calls().is_empty());
    }
}
