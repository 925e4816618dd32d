//! `MpDiagRecordHost`: the host build's diagnostics hook (`mpfilter::ndis::ffi`, declared for
//! non-Windows targets only). Not an NDIS function, so not in the export tables a loaded `.sys`
//! resolves against: only the host-linked filter reaches it.

use crate::diag::{DiagRecord, DiagReject, DiagRejectReason};
use crate::world::{self, HandleKind};
use mpfilter::diag::{DecodeError, Event, RECORD_LEN};
use mpfilter::ndis::types::NDIS_HANDLE;

/// The event in the caller's bytes; only a record-sized buffer is read at all.
///
/// # Safety
/// `record` is NULL or readable for `len` bytes.
unsafe fn decode(record: *const u8, len: usize) -> Result<Event, DiagRejectReason> {
    if record.is_null() {
        return Err(DiagRejectReason::NullRecord);
    }
    if len != RECORD_LEN {
        return Err(DiagRejectReason::Decode(DecodeError::Length { len }));
    }
    // SAFETY: non-NULL and readable for `len` bytes (contract).
    let bytes = unsafe { core::slice::from_raw_parts(record, len) };
    Event::decode(bytes).map_err(DiagRejectReason::Decode)
}

/// Records one diagnostic record in this thread's emulator, with the virtual time and the adapter
/// of the module whose handle came with it (`None` for the driver handle).
///
/// # Safety
/// `record` is NULL or readable for `len` bytes.
#[unsafe(no_mangle)]
#[allow(non_snake_case)]
pub unsafe extern "system" fn MpDiagRecordHost(handle: NDIS_HANDLE, record: *const u8, len: usize) {
    // SAFETY: forwarded from this function's contract.
    let decoded = unsafe { decode(record, len) };
    world::with(|w| {
        let at = w.now();
        let h = handle as usize;
        let adapter = match w.handles.get(&h) {
            Some(HandleKind::Module(a)) => Some(*a),
            Some(HandleKind::Driver) => None,
            _ => {
                let reason = DiagRejectReason::UnknownHandle(h);
                w.diag.rejects.push(DiagReject { at, reason });
                return;
            }
        };
        match decoded {
            Ok(event) => w.diag.records.push(DiagRecord { at, adapter, event }),
            Err(reason) => w.diag.rejects.push(DiagReject { at, reason }),
        }
    });
}
