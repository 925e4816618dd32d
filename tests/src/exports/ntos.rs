//! `IoAllocateDriverObjectExtension` / `IoGetDriverObjectExtension`: per-driver-object storage,
//! freed with the driver object (the emulator's world).
#![allow(non_snake_case)]

use crate::abi::Abi;
use crate::world;
use core::ffi::c_void;
use mpfilter::ndis::types::{DRIVER_OBJECT, NDIS_STATUS};
use std::alloc::Layout;

const STATUS_SUCCESS: NDIS_STATUS = 0;
const STATUS_INVALID_PARAMETER: NDIS_STATUS = 0xC000_000D_u32.cast_signed();
const STATUS_OBJECT_NAME_COLLISION: NDIS_STATUS = 0xC000_0035_u32.cast_signed();
const STATUS_INSUFFICIENT_RESOURCES: NDIS_STATUS = 0xC000_009A_u32.cast_signed();

/// Implementation of `IoAllocateDriverObjectExtension`.
///
/// # Safety
/// `out` is null or writable.
pub unsafe fn io_allocate_driver_object_extension(
    _abi: Abi,
    driver: *mut DRIVER_OBJECT,
    client_id: *mut c_void,
    size: u32,
    out: *mut *mut c_void,
) -> NDIS_STATUS {
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let r = world::with(|w| {
        if driver != w.driver_object {
            return Err(STATUS_INVALID_PARAMETER);
        }
        if w.drv_ext.iter().any(|e| e.0 == client_id as usize) {
            return Err(STATUS_OBJECT_NAME_COLLISION);
        }
        let Ok(layout) = Layout::from_size_align((size as usize).max(1), 16) else {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        };
        // SAFETY: non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        if p.is_null() {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        w.drv_ext.push((client_id as usize, p as usize, layout));
        Ok(p)
    });
    match r {
        Some(Ok(p)) => {
            // SAFETY: out is non-null and, per the contract, writable.
            unsafe { *out = p.cast() };
            STATUS_SUCCESS
        }
        Some(Err(s)) => s,
        None => STATUS_INSUFFICIENT_RESOURCES,
    }
}

/// Implementation of `IoGetDriverObjectExtension`.
///
/// # Safety
/// None beyond the C contract: the arguments are only compared.
pub unsafe fn io_get_driver_object_extension(
    _abi: Abi,
    driver: *mut DRIVER_OBJECT,
    client_id: *mut c_void,
) -> *mut c_void {
    world::with(|w| {
        if driver != w.driver_object {
            return std::ptr::null_mut();
        }
        w.drv_ext
            .iter()
            .find(|e| e.0 == client_id as usize)
            .map_or(std::ptr::null_mut(), |e| e.1 as *mut c_void)
    })
    .unwrap_or(std::ptr::null_mut())
}

crate::exports! {
    "ntoskrnl.exe" => {
        fn IoAllocateDriverObjectExtension(driver: *mut DRIVER_OBJECT, client_id: *mut c_void, size: u32, out: *mut *mut c_void) -> NDIS_STATUS => io_allocate_driver_object_extension;
        fn IoGetDriverObjectExtension(driver: *mut DRIVER_OBJECT, client_id: *mut c_void) -> *mut c_void => io_get_driver_object_extension;
    }
}
