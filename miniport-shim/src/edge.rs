//! The miniport-side NDIS edge: the only mpshim code that touches raw pointers.
//!
//! The status call is passed in as a function pointer ([`IndicateStatusFn`]): a miniport passes
//! `NdisMIndicateStatusEx` (declared here under the `ndis-edge` feature, off by default, so a
//! Linux host build never references the import), an emulator or a test passes its own.

use crate::contract::PathEvent;
use crate::indication::{NdisHandle, NdisOidRequestPrefix, NdisStatusIndication};
use crate::monitor::Monitor;
use crate::oid::{self, OidRequest, REQUEST_QUERY_INFORMATION, REQUEST_SET_INFORMATION};

/// The shape of `NdisMIndicateStatusEx(MiniportAdapterHandle, StatusIndication)`.
pub type IndicateStatusFn = unsafe extern "system" fn(NdisHandle, *mut NdisStatusIndication);

#[cfg(feature = "ndis-edge")]
mod import {
    use super::{NdisHandle, NdisStatusIndication};

    // ndis.lib provides it; the miniport links ndis.lib already.
    unsafe extern "system" {
        /// NdisMIndicateStatusEx, exported by ndis.sys (callable at IRQL <= DISPATCH_LEVEL).
        pub fn NdisMIndicateStatusEx(handle: NdisHandle, indication: *mut NdisStatusIndication);
    }
}

#[cfg(feature = "ndis-edge")]
pub use import::NdisMIndicateStatusEx;

/// Raises `event` as NDIS_STATUS_MEDIA_SPECIFIC_INDICATION_EX from the miniport `adapter`.
///
/// # Safety
/// `indicate` must honour the `NdisMIndicateStatusEx` contract, `adapter` must be the
/// MiniportAdapterHandle NDIS passed to MiniportInitializeEx, and the call must come from a
/// context where the miniport may indicate status: IRQL <= DISPATCH_LEVEL, after its registration
/// attributes are set and before MiniportHaltEx returns.
pub unsafe fn indicate_path_event(
    indicate: IndicateStatusFn,
    adapter: NdisHandle,
    event: &PathEvent,
) {
    let payload = event.encode();
    let mut indication = NdisStatusIndication::path_event(adapter, &payload);
    // SAFETY: the caller vouches for `indicate`, `adapter` and the IRQL; `indication` and the
    // payload it points at live on this frame until the synchronous call returns.
    unsafe { indicate(adapter, &raw mut indication) };
}

/// Serves `request` if it is the mpshim OID, from the miniport's MiniportOidRequest.
///
/// Returns `None`, with the request untouched, for any other OID (the miniport handles it);
/// otherwise fills BytesWritten/BytesRead and BytesNeeded and returns the NDIS_STATUS to return.
///
/// # Safety
/// `request` must point to a valid NDIS_OID_REQUEST that NDIS handed to MiniportOidRequest and
/// that no one else accesses during the call; its InformationBuffer must be valid for
/// InformationBufferLength bytes (reads for a set, writes for a query).
pub unsafe fn handle_oid_request(
    request: *mut NdisOidRequestPrefix,
    monitor: &mut Monitor,
    now_ns: u64,
) -> Option<i32> {
    // SAFETY: the caller guarantees `request` points to a live NDIS_OID_REQUEST.
    let oid = unsafe { (*request).oid };
    if !oid::is_shim_oid(oid) {
        return None;
    }
    // SAFETY: as above.
    let request_type = unsafe { (*request).request_type };
    // SAFETY: as above.
    let buffer = unsafe { (*request).information_buffer }.cast::<u8>();
    // SAFETY: as above.
    let len = unsafe { (*request).information_buffer_length } as usize;
    let outcome = match request_type {
        REQUEST_QUERY_INFORMATION => {
            let buffer: &mut [u8] = if buffer.is_null() || len == 0 {
                &mut []
            } else {
                // SAFETY: the caller guarantees the buffer is valid and unaliased for `len` bytes.
                unsafe { core::slice::from_raw_parts_mut(buffer, len) }
            };
            oid::handle(OidRequest::Query { oid, buffer }, monitor, now_ns)
        }
        REQUEST_SET_INFORMATION => {
            let buffer: &[u8] = if buffer.is_null() || len == 0 {
                &[]
            } else {
                // SAFETY: the caller guarantees the buffer is valid for reads of `len` bytes.
                unsafe { core::slice::from_raw_parts(buffer, len) }
            };
            oid::handle(OidRequest::Set { oid, buffer }, monitor, now_ns)
        }
        other => oid::handle(
            OidRequest::Other {
                oid,
                request_type: other,
            },
            monitor,
            now_ns,
        ),
    };
    // SAFETY: the caller guarantees exclusive access to the request for the call.
    unsafe { (*request).bytes_transferred = outcome.bytes_transferred };
    // SAFETY: as above.
    unsafe { (*request).bytes_needed = outcome.bytes_needed };
    Some(outcome.status)
}

#[cfg(test)]
mod tests;
