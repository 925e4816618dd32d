//! Recording doubles of the control device's imports (`cfg(test)` only): device registration,
//! its reserved extension, IRP completion and the write-access check.
#![allow(non_snake_case, clippy::missing_safety_doc)]

use super::irp::{IRP, NTSTATUS, STATUS_ACCESS_DENIED, STATUS_SUCCESS};
use super::types::{
    DEVICE_OBJECT, NDIS_DEVICE_OBJECT_ATTRIBUTES, NDIS_HANDLE, NDIS_STATUS, UNICODE_STRING,
};
use core::ffi::c_void;
use std::boxed::Box;
use std::cell::RefCell;
use std::string::String;
use std::vec::Vec;

/// What a registration passed, copied.
#[derive(Clone, Debug)]
pub(crate) struct Registered {
    pub handle: usize,
    pub device_name: String,
    pub symbolic_name: String,
    pub sddl: Option<String>,
    pub major_functions: Vec<usize>,
    pub extension_size: u32,
    pub class_guid_null: bool,
}

#[derive(Default)]
struct State {
    register_status: NDIS_STATUS,
    read_only: bool,
    registered: Vec<Registered>,
    deregistered: Vec<usize>,
    /// (irp, status, information) of each completion.
    completions: Vec<(usize, NTSTATUS, usize)>,
    extensions: Vec<(usize, Box<[u64; 4]>)>,
}

std::thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Installs the answers (registration status, whether handles are read-only) and clears the log.
pub(crate) struct IoSession(());

#[allow(clippy::unused_self)] // methods, so that only a live session is asked
impl IoSession {
    pub(crate) fn new(register_status: NDIS_STATUS, read_only: bool) -> Self {
        STATE.with(|s| {
            *s.borrow_mut() = State {
                register_status,
                read_only,
                ..State::default()
            };
        });
        IoSession(())
    }

    pub(crate) fn registered(&self) -> Vec<Registered> {
        STATE.with(|s| s.borrow().registered.clone())
    }

    pub(crate) fn deregistered(&self) -> Vec<usize> {
        STATE.with(|s| s.borrow().deregistered.clone())
    }

    pub(crate) fn completions(&self) -> Vec<(usize, NTSTATUS, usize)> {
        STATE.with(|s| s.borrow().completions.clone())
    }
}

impl Drop for IoSession {
    fn drop(&mut self) {
        STATE.with(|s| *s.borrow_mut() = State::default());
    }
}

fn text(s: *const UNICODE_STRING) -> Option<String> {
    // SAFETY: the driver passes NULL or a counted string over a static.
    let s = unsafe { s.as_ref() }?;
    // SAFETY: `Length` bytes of UTF-16 at `Buffer`.
    let units = unsafe { core::slice::from_raw_parts(s.Buffer, usize::from(s.Length / 2)) };
    String::from_utf16(units).ok()
}

pub unsafe fn NdisRegisterDeviceEx(
    handle: NDIS_HANDLE,
    attrs: *mut NDIS_DEVICE_OBJECT_ATTRIBUTES,
    device: *mut *mut DEVICE_OBJECT,
    device_handle: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    let _ = handle;
    // SAFETY: the driver's attributes, valid during the call.
    let a = unsafe { &*attrs };
    // SAFETY: the table has IRP_MJ_COUNT entries (the driver's array).
    let table =
        unsafe { core::slice::from_raw_parts(a.MajorFunctions, super::types::IRP_MJ_COUNT) };
    let status = STATE.with(|s| s.borrow().register_status);
    if status != 0 {
        return status;
    }
    let ext = Box::new([0u64; 4]);
    let token = core::ptr::from_ref(&*ext).addr();
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.registered.push(Registered {
            handle: token,
            device_name: text(a.DeviceName).unwrap_or_default(),
            symbolic_name: text(a.SymbolicName).unwrap_or_default(),
            sddl: text(a.DefaultSDDLString),
            major_functions: table.iter().map(|p| p.expose_provenance()).collect(),
            extension_size: a.ExtensionSize,
            class_guid_null: a.DeviceClassGuid.is_null(),
        });
        s.extensions.push((token, ext));
    });
    // SAFETY: the caller's out slot; the device object is the token (never dereferenced).
    unsafe { device.write(core::ptr::with_exposed_provenance_mut(token)) };
    // SAFETY: as above.
    unsafe { device_handle.write(core::ptr::with_exposed_provenance_mut(token)) };
    0
}

pub unsafe fn NdisDeregisterDeviceEx(handle: NDIS_HANDLE) {
    STATE.with(|s| s.borrow_mut().deregistered.push(handle.addr()));
}

pub unsafe fn NdisGetDeviceReservedExtension(device: *mut DEVICE_OBJECT) -> *mut c_void {
    STATE.with(|s| {
        s.borrow_mut()
            .extensions
            .iter_mut()
            .find(|(t, _)| *t == device.addr())
            .map_or(core::ptr::null_mut(), |(_, e)| e.as_mut_ptr().cast())
    })
}

pub unsafe fn IofCompleteRequest(irp: *mut IRP, _boost: i8) {
    // SAFETY: the test's IRP, live during the call.
    let io = unsafe { (*irp).IoStatus };
    STATE.with(|s| {
        s.borrow_mut()
            .completions
            .push((irp.addr(), io.Status, io.Information));
    });
}

pub unsafe fn IoValidateDeviceIoControlAccess(_irp: *mut IRP, _required: u32) -> NTSTATUS {
    if STATE.with(|s| s.borrow().read_only) {
        STATUS_ACCESS_DENIED
    } else {
        STATUS_SUCCESS
    }
}
