//! The control device from the outside: what mpctl (through the I/O manager) sends the driver.
//! Each call builds an IRP, calls the driver's dispatch routine at PASSIVE_LEVEL and checks its
//! completion (`exports::io`).

use crate::emulator::Emulator;
use crate::exports::io::{IrpOutcome, IrpRequest, send_irp};
use mpfilter::ndis::irp::{IRP_MJ_CLEANUP, IRP_MJ_CLOSE, IRP_MJ_CREATE, IRP_MJ_DEVICE_CONTROL};

impl Emulator {
    /// A METHOD_BUFFERED IOCTL on the driver's control device: `input` in, up to `out_len` bytes
    /// back, on a handle with or without write access. `None` when the driver registered no
    /// control device (or no DEVICE_CONTROL routine).
    pub fn device_ioctl(
        &mut self,
        code: u32,
        input: &[u8],
        out_len: usize,
        write_access: bool,
    ) -> Option<IrpOutcome> {
        send_irp(&IrpRequest {
            major: IRP_MJ_DEVICE_CONTROL,
            code,
            input,
            out_len,
            write_access,
            name_len: 0,
        })
    }

    /// Opens the control device (`name_len` bytes of file name after the device's own, 0 for
    /// `\\.\MpFilter`); the status of IRP_MJ_CREATE.
    pub fn device_create(&mut self, name_len: u16) -> Option<i32> {
        Self::simple(IRP_MJ_CREATE, name_len)
    }

    /// Closes a handle: IRP_MJ_CLEANUP then IRP_MJ_CLOSE; their statuses.
    pub fn device_close(&mut self) -> Option<(i32, i32)> {
        Some((
            Self::simple(IRP_MJ_CLEANUP, 0)?,
            Self::simple(IRP_MJ_CLOSE, 0)?,
        ))
    }

    fn simple(major: u8, name_len: u16) -> Option<i32> {
        send_irp(&IrpRequest {
            major,
            code: 0,
            input: &[],
            out_len: 0,
            write_access: true,
            name_len,
        })
        .map(|o| o.status)
    }
}
