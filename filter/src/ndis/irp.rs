//! The I/O request packet as the control device's dispatch routine sees it: the x64 layouts of
//! `IRP`, `IO_STACK_LOCATION`, `IO_STATUS_BLOCK` and the head of `FILE_OBJECT`, and [`Irp`], the
//! safe view of one METHOD_BUFFERED request that the driver completes exactly once.
//!
//! Layouts: wdm.h field order with natural x64 alignment; every offset asserted below was checked
//! against mingw-w64's DDK `wdm.h` (`x86_64-w64-mingw32-gcc`, `offsetof`), which matches the
//! WDK's public symbols for these long-stable structures (`dt nt!_IRP`: size 0xD0,
//! `Tail.Overlay.CurrentStackLocation` at 0xB8; `dt nt!_IO_STACK_LOCATION`: size 0x48).
//! Unions are declared as the one view the filter reads, with the union's full size.
#![allow(non_snake_case, non_camel_case_types, clippy::doc_markdown)]

use super::types::{DEVICE_OBJECT, MDL, UNICODE_STRING};
use core::ffi::c_void;

/// An NTSTATUS.
pub type NTSTATUS = i32;

/// `IRP_MJ_CREATE`.
pub const IRP_MJ_CREATE: u8 = 0x00;
/// `IRP_MJ_CLOSE`.
pub const IRP_MJ_CLOSE: u8 = 0x02;
/// `IRP_MJ_DEVICE_CONTROL`.
pub const IRP_MJ_DEVICE_CONTROL: u8 = 0x0E;
/// `IRP_MJ_CLEANUP`.
pub const IRP_MJ_CLEANUP: u8 = 0x12;
/// `IO_NO_INCREMENT`: the priority boost of a request completed in the caller's own thread.
pub const IO_NO_INCREMENT: i8 = 0;
/// `STATUS_SUCCESS`.
pub const STATUS_SUCCESS: NTSTATUS = 0;
/// `STATUS_ACCESS_DENIED`.
pub const STATUS_ACCESS_DENIED: NTSTATUS = 0xC000_0022_u32.cast_signed();
/// `STATUS_INVALID_DEVICE_REQUEST`.
pub const STATUS_INVALID_DEVICE_REQUEST: NTSTATUS = 0xC000_0010_u32.cast_signed();
/// `FILE_WRITE_ACCESS` (the access bits of a `CTL_CODE`).
pub const FILE_WRITE_ACCESS: u32 = 2;

/// The dispatch routine type (`DRIVER_DISPATCH`).
pub type DriverDispatch =
    unsafe extern "system" fn(DeviceObject: *mut DEVICE_OBJECT, Irp: *mut IRP) -> NTSTATUS;

/// `IO_STATUS_BLOCK` (size 0x10).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IO_STATUS_BLOCK {
    /// The union of `Status` and `Pointer`: the status in the low half (0x00).
    pub Status: NTSTATUS,
    /// The upper half of the union.
    pub Padding0: u32,
    /// Bytes transferred; for METHOD_BUFFERED, how many the I/O manager copies back (0x08).
    pub Information: usize,
}

/// `IRP` (x64, size 0xD0). The dispatch routine reads `AssociatedIrp.SystemBuffer` and
/// `Tail.Overlay.CurrentStackLocation` and writes `IoStatus`.
#[repr(C)]
pub struct IRP {
    /// `IO_TYPE_IRP` (6) (0x00).
    pub Type: i16,
    /// Bytes of the IRP and its stack locations (0x02).
    pub Size: u16,
    /// Allocation processor and reserved (0x04).
    pub Reserved0: u32,
    /// MDL of a direct-I/O buffer (0x08).
    pub MdlAddress: *mut MDL,
    /// Flags (0x10).
    pub Flags: u32,
    /// Alignment of the union below.
    pub Padding0: u32,
    /// `AssociatedIrp.SystemBuffer`: the METHOD_BUFFERED system buffer (0x18).
    pub SystemBuffer: *mut c_void,
    /// `ThreadListEntry` (0x20).
    pub ThreadListEntry: [*mut c_void; 2],
    /// The final status and information (0x30).
    pub IoStatus: IO_STATUS_BLOCK,
    /// `UserMode` (1) or `KernelMode` (0) (0x40).
    pub RequestorMode: i8,
    /// `PendingReturned` (0x41).
    pub PendingReturned: u8,
    /// Stack locations (0x42).
    pub StackCount: i8,
    /// The current stack location's number (0x43).
    pub CurrentLocation: i8,
    /// `Cancel` (0x44).
    pub Cancel: u8,
    /// `CancelIrql` (0x45).
    pub CancelIrql: u8,
    /// `ApcEnvironment` (0x46).
    pub ApcEnvironment: i8,
    /// `AllocationFlags` (0x47).
    pub AllocationFlags: u8,
    /// `UserIosb` (0x48).
    pub UserIosb: *mut IO_STATUS_BLOCK,
    /// `UserEvent` (0x50).
    pub UserEvent: *mut c_void,
    /// `Overlay` (0x58).
    pub Overlay: [u64; 2],
    /// `CancelRoutine` (0x68).
    pub CancelRoutine: *mut c_void,
    /// `UserBuffer` (0x70).
    pub UserBuffer: *mut c_void,
    /// `Tail.Overlay.DriverContext` (0x78).
    pub DriverContext: [*mut c_void; 4],
    /// `Tail.Overlay.Thread` (0x98).
    pub Thread: *mut c_void,
    /// `Tail.Overlay.AuxiliaryBuffer` (0xA0).
    pub AuxiliaryBuffer: *mut c_void,
    /// `Tail.Overlay.ListEntry` (0xA8).
    pub ListEntry: [*mut c_void; 2],
    /// `Tail.Overlay.CurrentStackLocation` (0xB8).
    pub CurrentStackLocation: *mut IO_STACK_LOCATION,
    /// `Tail.Overlay.OriginalFileObject` (0xC0).
    pub OriginalFileObject: *mut FILE_OBJECT,
    /// The rest of `Tail` (0xC8).
    pub TailRest: *mut c_void,
}

/// `Parameters.DeviceIoControl` of an `IO_STACK_LOCATION` (the union is 0x20 bytes; every
/// ULONG is pointer-aligned, `POINTER_ALIGNMENT` in wdm.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DEVICE_IO_CONTROL_PARAMETERS {
    /// Bytes the caller can receive (0x00).
    pub OutputBufferLength: u32,
    /// Alignment.
    pub Padding0: u32,
    /// Bytes the caller sent (0x08).
    pub InputBufferLength: u32,
    /// Alignment.
    pub Padding1: u32,
    /// The IOCTL code (0x10).
    pub IoControlCode: u32,
    /// Alignment.
    pub Padding2: u32,
    /// METHOD_NEITHER's input pointer; unused for METHOD_BUFFERED (0x18).
    pub Type3InputBuffer: *mut c_void,
}

/// `IO_STACK_LOCATION` (x64, size 0x48).
#[repr(C)]
pub struct IO_STACK_LOCATION {
    /// `IRP_MJ_*` (0x00).
    pub MajorFunction: u8,
    /// `IRP_MN_*` (0x01).
    pub MinorFunction: u8,
    /// Flags (0x02).
    pub Flags: u8,
    /// Control (0x03).
    pub Control: u8,
    /// Alignment of the union.
    pub Padding0: u32,
    /// The `Parameters` union, as its DeviceIoControl view (0x08).
    pub Parameters: DEVICE_IO_CONTROL_PARAMETERS,
    /// The target device (0x28).
    pub DeviceObject: *mut DEVICE_OBJECT,
    /// The file object of the handle (0x30).
    pub FileObject: *mut FILE_OBJECT,
    /// Completion routine (0x38).
    pub CompletionRoutine: *mut c_void,
    /// Its context (0x40).
    pub Context: *mut c_void,
}

/// The head of `FILE_OBJECT` through `FileName` (the whole object is 0xD8 bytes; only the name
/// is read, to refuse opens of a path below the device).
#[repr(C)]
pub struct FILE_OBJECT {
    /// `Type` through `Flags` (0x00).
    pub Head: [u64; 11],
    /// The name after the device's in the open (0x58): empty for `\\.\MpFilter`.
    pub FileName: UNICODE_STRING,
}

/// One request on the control device, from its dispatch to its completion. Completing consumes
/// it, so a request is completed exactly once; [`Irp::complete`] is the only way out.
pub struct Irp {
    irp: *mut IRP,
    stack: *mut IO_STACK_LOCATION,
}

impl Irp {
    /// The request `irp`, or `None` when it or its stack location is NULL.
    ///
    /// # Safety
    /// `irp` is NULL or an IRP the I/O manager (or NDIS, forwarding it) passed to a dispatch
    /// routine of this driver, not yet completed, with a valid current stack location and, for
    /// METHOD_BUFFERED, a system buffer of at least max(input, output) bytes.
    pub unsafe fn from_dispatch(irp: *mut IRP) -> Option<Irp> {
        if irp.is_null() {
            return None;
        }
        // SAFETY: a live IRP (caller contract).
        let stack = unsafe { (*irp).CurrentStackLocation };
        if stack.is_null() {
            return None;
        }
        Some(Irp { irp, stack })
    }

    /// The major function.
    pub fn major(&self) -> u8 {
        // SAFETY: the stack location is valid until completion (constructor contract).
        unsafe { (*self.stack).MajorFunction }
    }

    fn parameters(&self) -> DEVICE_IO_CONTROL_PARAMETERS {
        // SAFETY: as in `major`; the union's DeviceIoControl view is plain integers and a pointer.
        unsafe { (*self.stack).Parameters }
    }

    /// The IOCTL code (meaningful for IRP_MJ_DEVICE_CONTROL).
    pub fn ioctl_code(&self) -> u32 {
        self.parameters().IoControlCode
    }

    /// The bytes of the opened name below the device (empty for an open of the device itself,
    /// or when there is no file object).
    pub fn open_name_len(&self) -> u16 {
        // SAFETY: as in `major`.
        let file = unsafe { (*self.stack).FileObject };
        // SAFETY: a non-NULL file object of an IRP_MJ_CREATE is valid for the request.
        unsafe { file.as_ref() }.map_or(0, |f| f.FileName.Length)
    }

    fn system_buffer(&self) -> *mut u8 {
        // SAFETY: as in `major`.
        unsafe { (*self.irp).SystemBuffer }.cast()
    }

    /// The METHOD_BUFFERED input: `InputBufferLength` bytes of the system buffer (empty when
    /// there is none).
    pub fn input(&self) -> &[u8] {
        let len = self.parameters().InputBufferLength as usize;
        let buf = self.system_buffer();
        if buf.is_null() || len == 0 {
            return &[];
        }
        // SAFETY: the system buffer holds at least the input length (constructor contract), and
        // nothing writes it while this shared borrow of `self` lives (`output` needs `&mut`).
        unsafe { core::slice::from_raw_parts(buf, len) }
    }

    /// The METHOD_BUFFERED output: `OutputBufferLength` bytes of the same system buffer (the
    /// input is gone once this is written).
    pub fn output(&mut self) -> &mut [u8] {
        let len = self.parameters().OutputBufferLength as usize;
        let buf = self.system_buffer();
        if buf.is_null() || len == 0 {
            return &mut [];
        }
        // SAFETY: the system buffer holds at least the output length (constructor contract); the
        // exclusive borrow of `self` keeps `input` from aliasing it.
        unsafe { core::slice::from_raw_parts_mut(buf, len) }
    }

    /// Whether the handle the request came on may write: `IoValidateDeviceIoControlAccess`
    /// with FILE_WRITE_ACCESS (true for kernel-mode requesters).
    pub fn has_write_access(&self) -> bool {
        // SAFETY: a live, not yet completed IRP; PASSIVE_LEVEL (a dispatch routine's).
        let st = unsafe {
            super::io_imports::IoValidateDeviceIoControlAccess(self.irp, FILE_WRITE_ACCESS)
        };
        st == STATUS_SUCCESS
    }

    /// Completes the request with `status` and `information` bytes of output (cut to the
    /// output length, which the I/O manager would otherwise overrun); returns `status` for the
    /// dispatch routine to return.
    pub fn complete(self, status: NTSTATUS, information: usize) -> NTSTATUS {
        let information = information.min(self.parameters().OutputBufferLength as usize);
        // SAFETY: a live IRP this driver owns until the completion below.
        unsafe {
            (*self.irp).IoStatus = IO_STATUS_BLOCK {
                Status: status,
                Padding0: 0,
                Information: information,
            };
        }
        // SAFETY: completed once: `self` is consumed; at PASSIVE_LEVEL (dispatch).
        unsafe { super::io_imports::IofCompleteRequest(self.irp, IO_NO_INCREMENT) };
        status
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn irp() {
        // [mingw wdm.h] offsetof under x86_64-w64-mingw32-gcc.
        assert_eq!(size_of::<IRP>(), 0xD0);
        assert_eq!(offset_of!(IRP, MdlAddress), 0x08);
        assert_eq!(offset_of!(IRP, Flags), 0x10);
        assert_eq!(offset_of!(IRP, SystemBuffer), 0x18);
        assert_eq!(offset_of!(IRP, ThreadListEntry), 0x20);
        assert_eq!(offset_of!(IRP, IoStatus), 0x30);
        assert_eq!(
            offset_of!(IRP, IoStatus) + offset_of!(IO_STATUS_BLOCK, Information),
            0x38
        );
        assert_eq!(offset_of!(IRP, RequestorMode), 0x40);
        assert_eq!(offset_of!(IRP, StackCount), 0x42);
        assert_eq!(offset_of!(IRP, CurrentLocation), 0x43);
        assert_eq!(offset_of!(IRP, Cancel), 0x44);
        assert_eq!(offset_of!(IRP, UserIosb), 0x48);
        assert_eq!(offset_of!(IRP, CancelRoutine), 0x68);
        assert_eq!(offset_of!(IRP, UserBuffer), 0x70);
        assert_eq!(offset_of!(IRP, Thread), 0x98);
        assert_eq!(offset_of!(IRP, CurrentStackLocation), 0xB8);
        assert_eq!(offset_of!(IRP, OriginalFileObject), 0xC0);
        assert_eq!(size_of::<IO_STATUS_BLOCK>(), 0x10);
    }

    #[test]
    fn io_stack_location() {
        // [mingw wdm.h] as above.
        type S = IO_STACK_LOCATION;
        type D = DEVICE_IO_CONTROL_PARAMETERS;
        assert_eq!(size_of::<S>(), 0x48);
        assert_eq!(offset_of!(S, MinorFunction), 1);
        assert_eq!(offset_of!(S, Flags), 2);
        assert_eq!(offset_of!(S, Control), 3);
        let p = offset_of!(S, Parameters);
        assert_eq!(p, 0x08);
        assert_eq!(size_of::<D>(), 0x20, "the whole Parameters union");
        assert_eq!(p + offset_of!(D, OutputBufferLength), 0x08);
        assert_eq!(p + offset_of!(D, InputBufferLength), 0x10);
        assert_eq!(p + offset_of!(D, IoControlCode), 0x18);
        assert_eq!(p + offset_of!(D, Type3InputBuffer), 0x20);
        assert_eq!(offset_of!(S, DeviceObject), 0x28);
        assert_eq!(offset_of!(S, FileObject), 0x30);
        assert_eq!(offset_of!(S, CompletionRoutine), 0x38);
        assert_eq!(offset_of!(S, Context), 0x40);
        assert_eq!(offset_of!(FILE_OBJECT, FileName), 0x58);
    }
}
