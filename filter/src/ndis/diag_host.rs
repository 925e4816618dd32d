//! The host build's way to the emulator's diagnostic recorder (`MpDiagRecordHost`), for
//! [`crate::diag`]'s emulator backend. Not compiled for Windows: the `.sys` never imports it.

use super::imports;
use super::types::NDIS_HANDLE;

/// Passes one encoded record, with the handle of the driver or module that emitted it.
pub(crate) fn record(handle: NDIS_HANDLE, bytes: &[u8]) {
    // SAFETY: the recorder only reads `bytes.len()` bytes at `bytes` during the call, and only
    // looks the handle up in its own tables (an unknown handle is refused, never dereferenced).
    unsafe { imports::MpDiagRecordHost(handle, bytes.as_ptr(), bytes.len()) }
}
