//! The I/O manager's side of a control device: IRPs handed to the driver's dispatch routines
//! ([`send_irp`]), their completion (`IofCompleteRequest`) and the write-access check
//! (`IoValidateDeviceIoControlAccess`).
//!
//! The emulator does not pre-filter an IOCTL by its code's access bits as the real I/O manager
//! does for user-mode handles: the request reaches the driver, whose own check is what the
//! `irp.write-access` rule tests (a kernel-mode sender bypasses the I/O manager's).

use crate::abi::Abi;
use crate::callbacks;
use crate::rules::{Rule, Subject};
use crate::world::{self, Frame, IrpTrack};
use mpfilter::ndis::irp::{
    DEVICE_IO_CONTROL_PARAMETERS, FILE_OBJECT, IO_STACK_LOCATION, IO_STATUS_BLOCK, IRP, NTSTATUS,
};
use mpfilter::ndis::types::UNICODE_STRING;

const STATUS_SUCCESS: NTSTATUS = 0;
const STATUS_ACCESS_DENIED: NTSTATUS = 0xC000_0022_u32.cast_signed();
const STATUS_INVALID_DEVICE_REQUEST: NTSTATUS = 0xC000_0010_u32.cast_signed();
/// `STATUS_PENDING`.
const STATUS_PENDING: NTSTATUS = 0x103;
/// `IO_TYPE_IRP`.
const IO_TYPE_IRP: i16 = 6;
/// `FILE_WRITE_ACCESS` in a CTL_CODE's access bits.
const FILE_WRITE_ACCESS: u32 = 2;

/// What a request on the control device came back with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrpOutcome {
    /// The status the dispatch routine returned.
    pub status: NTSTATUS,
    /// `IoStatus.Information` at completion.
    pub information: usize,
    /// What the I/O manager copies back for METHOD_BUFFERED: `information` bytes of the system
    /// buffer (none for an error status).
    pub output: Vec<u8>,
}

/// One request: the major function, and for IRP_MJ_DEVICE_CONTROL its code, input, output
/// length and the handle's write access; `name_len` is the opened name's length below the
/// device (IRP_MJ_CREATE).
#[derive(Clone, Debug)]
pub struct IrpRequest<'a> {
    /// `IRP_MJ_*`.
    pub major: u8,
    /// The IOCTL code.
    pub code: u32,
    /// The input buffer.
    pub input: &'a [u8],
    /// The output buffer's length.
    pub out_len: usize,
    /// Whether the handle was granted write access.
    pub write_access: bool,
    /// Bytes of the file name after the device name.
    pub name_len: u16,
}

/// Sends `req` to the dispatch routine of the driver's (first) control device, at PASSIVE_LEVEL,
/// and checks its completion. `None` when there is no device or no routine for the major function
/// (the I/O manager would answer STATUS_INVALID_DEVICE_REQUEST itself).
pub fn send_irp(req: &IrpRequest<'_>) -> Option<IrpOutcome> {
    let (device, routine, abi) = world::with(|w| {
        let (&device, d) = w.devices.iter().min_by_key(|(k, _)| **k)?;
        let routine = *d.dispatch.get(usize::from(req.major))?;
        (routine != 0).then_some((device, routine, d.abi))
    })??;
    let mut buffer = vec![0u8; req.input.len().max(req.out_len)];
    buffer[..req.input.len()].copy_from_slice(req.input);
    let mut name = vec![u16::from(b'x'); usize::from(req.name_len / 2)];
    let mut file = FILE_OBJECT {
        Head: [0; 11],
        FileName: UNICODE_STRING {
            Length: req.name_len,
            MaximumLength: req.name_len,
            Buffer: name.as_mut_ptr(),
        },
    };
    let mut stack = Box::new(IO_STACK_LOCATION {
        MajorFunction: req.major,
        MinorFunction: 0,
        Flags: 0,
        Control: 0,
        Padding0: 0,
        Parameters: DEVICE_IO_CONTROL_PARAMETERS {
            OutputBufferLength: u32::try_from(req.out_len).unwrap_or(u32::MAX),
            Padding0: 0,
            InputBufferLength: u32::try_from(req.input.len()).unwrap_or(u32::MAX),
            Padding1: 0,
            IoControlCode: req.code,
            Padding2: 0,
            Type3InputBuffer: std::ptr::null_mut(),
        },
        DeviceObject: std::ptr::with_exposed_provenance_mut(device),
        FileObject: &raw mut file,
        CompletionRoutine: std::ptr::null_mut(),
        Context: std::ptr::null_mut(),
    });
    // SAFETY: IRP is integers and raw pointers, valid when zeroed.
    let mut irp: Box<IRP> = unsafe { Box::new_zeroed().assume_init() };
    irp.Type = IO_TYPE_IRP;
    irp.Size = u16::try_from(size_of::<IRP>() + size_of::<IO_STACK_LOCATION>()).unwrap_or(0);
    irp.StackCount = 1;
    irp.CurrentLocation = 1;
    irp.RequestorMode = 1;
    irp.SystemBuffer = if buffer.is_empty() {
        std::ptr::null_mut()
    } else {
        buffer.as_mut_ptr().cast()
    };
    irp.CurrentStackLocation = &raw mut *stack;
    irp.OriginalFileObject = &raw mut file;
    let irp_ptr: *mut IRP = &raw mut *irp;
    let key = irp_ptr.addr();
    world::with(|w| {
        w.irps.insert(
            key,
            IrpTrack {
                completions: 0,
                write_access: req.write_access,
                out_len: req.out_len,
            },
        );
        w.frames.push(Frame::new("DispatchDeviceControl", None));
    });
    // SAFETY: the routine the driver registered for this major function, in its ABI; the device
    // object is the one NdisRegisterDeviceEx handed out, the IRP is complete and live.
    let status = unsafe {
        callbacks::dispatch_irp(
            abi,
            routine,
            std::ptr::with_exposed_provenance_mut(device),
            irp_ptr,
        )
    };
    let io = irp.IoStatus;
    world::with(|w| check_completion(w, key, req, status))?;
    // The I/O manager copies the system buffer back for success and warnings, not errors.
    let information = io.Information;
    let copied = if io.Status >= 0 || io.Status.cast_unsigned() >> 30 == 2 {
        information.min(req.out_len)
    } else {
        0
    };
    Some(IrpOutcome {
        status,
        information,
        output: buffer[..copied].to_vec(),
    })
}

/// After the dispatch routine returned: it completed the IRP (once; `complete_request` saw any
/// second time), did not pend it, and did not let a read-only handle change state.
fn check_completion(w: &mut world::World, key: usize, req: &IrpRequest<'_>, status: NTSTATUS) {
    let track = w.irps.remove(&key);
    let completions = track.as_ref().map_or(0, |t| t.completions);
    if completions == 0 && !w.halted {
        w.violate(
            Rule::IrpNotCompleted,
            Subject::Request(key),
            "DispatchDeviceControl",
            format!("returned {status:#x} without IoCompleteRequest"),
        );
    }
    if status == STATUS_PENDING && !w.halted {
        w.violate(
            Rule::IrpNotCompleted,
            Subject::Request(key),
            "DispatchDeviceControl",
            "returned STATUS_PENDING",
        );
    }
    let wants_write = (req.code >> 14) & FILE_WRITE_ACCESS != 0;
    if wants_write
        && req.major == mpfilter::ndis::irp::IRP_MJ_DEVICE_CONTROL
        && !req.write_access
        && status >= 0
        && !w.halted
    {
        w.violate(
            Rule::IrpWriteAccess,
            Subject::Request(key),
            "DispatchDeviceControl",
            format!(
                "IOCTL {:#x} succeeded on a handle without write access",
                req.code
            ),
        );
    }
    w.frames.pop();
}

/// `IofCompleteRequest`.
///
/// # Safety
/// `irp` is NULL or an IRP the emulator handed the driver (checked before it is read).
pub unsafe fn complete_request(_abi: Abi, irp: *mut IRP, _boost: i8) {
    const CALL: &str = "IoCompleteRequest";
    world::with(|w| {
        let Some(track) = w.irps.get_mut(&irp.addr()) else {
            w.violate(
                Rule::IrpCompletedTwice,
                Subject::Request(irp.addr()),
                CALL,
                "not an IRP the driver was given and still owns",
            );
            return;
        };
        track.completions += 1;
        let (completions, out_len) = (track.completions, track.out_len);
        if completions > 1 {
            w.violate(
                Rule::IrpCompletedTwice,
                Subject::Request(irp.addr()),
                CALL,
                format!("completion number {completions}"),
            );
            return;
        }
        // SAFETY: a live IRP of the emulator's (found in the table above).
        let io: IO_STATUS_BLOCK = unsafe { (*irp).IoStatus };
        if io.Information > out_len && io.Status >= 0 {
            w.violate(
                Rule::IrpInformationOverrun,
                Subject::Request(irp.addr()),
                CALL,
                format!("Information {} > output buffer {out_len}", io.Information),
            );
        }
    });
}

/// `IoValidateDeviceIoControlAccess`.
///
/// # Safety
/// None beyond the C contract: the IRP is only looked up.
pub unsafe fn validate_access(_abi: Abi, irp: *mut IRP, required: u32) -> NTSTATUS {
    world::with(|w| match w.irps.get(&irp.addr()) {
        None => STATUS_INVALID_DEVICE_REQUEST,
        Some(t) if required & FILE_WRITE_ACCESS != 0 && !t.write_access => STATUS_ACCESS_DENIED,
        Some(_) => STATUS_SUCCESS,
    })
    .unwrap_or(STATUS_INVALID_DEVICE_REQUEST)
}

crate::exports! {
    "ntoskrnl.exe" => {
        fn IofCompleteRequest(irp: *mut IRP, boost: i8) => complete_request;
        fn IoValidateDeviceIoControlAccess(irp: *mut IRP, required: u32) -> NTSTATUS => validate_access;
    }
}
