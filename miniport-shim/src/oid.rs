//! The private OID, as a miniport's MiniportOidRequest handles it — over safe slices.
//!
//! [`crate::edge::handle_oid_request`] unpacks a raw NDIS_OID_REQUEST into an [`OidRequest`]; a
//! miniport that already has the fields can call [`handle`] directly.
#![forbid(unsafe_code)]

use crate::contract::{
    DecodeError, HEALTH_LEN_V1, OID_MPSHIM_HEALTH, SETTINGS_LEN_V1, Settings, SettingsError,
};
use crate::monitor::Monitor;

/// NDIS_STATUS_SUCCESS.
pub const NDIS_STATUS_SUCCESS: i32 = 0;
/// NDIS_STATUS_NOT_SUPPORTED: our OID, but a request type we do not serve.
pub const NDIS_STATUS_NOT_SUPPORTED: i32 = 0xC000_00BB_u32.cast_signed();
/// NDIS_STATUS_INVALID_LENGTH: a set buffer too short for the settings.
pub const NDIS_STATUS_INVALID_LENGTH: i32 = 0xC001_0014_u32.cast_signed();
/// NDIS_STATUS_INVALID_DATA: a set buffer that is not valid settings.
pub const NDIS_STATUS_INVALID_DATA: i32 = 0xC001_0015_u32.cast_signed();
/// NDIS_STATUS_BUFFER_TOO_SHORT: a query buffer too short for the snapshot.
pub const NDIS_STATUS_BUFFER_TOO_SHORT: i32 = 0xC001_0016_u32.cast_signed();
/// NDIS_STATUS_INVALID_OID: not an OID this handler serves.
pub const NDIS_STATUS_INVALID_OID: i32 = 0xC001_0017_u32.cast_signed();

/// NdisRequestQueryInformation.
pub const REQUEST_QUERY_INFORMATION: u32 = 0;
/// NdisRequestSetInformation.
pub const REQUEST_SET_INFORMATION: u32 = 1;

/// The fields of an OID request the handler needs.
#[derive(Debug)]
pub enum OidRequest<'a> {
    /// A query: the handler writes into the information buffer.
    Query {
        /// The OID.
        oid: u32,
        /// InformationBuffer, InformationBufferLength bytes.
        buffer: &'a mut [u8],
    },
    /// A set: the handler reads the information buffer.
    Set {
        /// The OID.
        oid: u32,
        /// InformationBuffer, InformationBufferLength bytes.
        buffer: &'a [u8],
    },
    /// Any other request type (statistics, method, ...).
    Other {
        /// The OID.
        oid: u32,
        /// The NDIS_REQUEST_TYPE value.
        request_type: u32,
    },
}

impl OidRequest<'_> {
    /// The OID of the request.
    pub fn oid(&self) -> u32 {
        match self {
            Self::Query { oid, .. } | Self::Set { oid, .. } | Self::Other { oid, .. } => *oid,
        }
    }
}

/// What the miniport copies back into the NDIS_OID_REQUEST and returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OidOutcome {
    /// The NDIS_STATUS to return from MiniportOidRequest.
    pub status: i32,
    /// BytesWritten (query) or BytesRead (set).
    pub bytes_transferred: u32,
    /// BytesNeeded: the buffer length the request needs, when it was too short.
    pub bytes_needed: u32,
    /// Why a set was refused, for the miniport's log.
    pub refused: Option<SetRefusal>,
}

/// Why a set of the settings was refused with NDIS_STATUS_INVALID_DATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetRefusal {
    /// The buffer is not valid settings.
    Decode(DecodeError),
    /// The settings are out of range.
    Invalid(SettingsError),
}

/// Whether `oid` is served by [`handle`]; a miniport dispatches on it before its own OIDs.
pub const fn is_shim_oid(oid: u32) -> bool {
    oid == OID_MPSHIM_HEALTH
}

/// The OIDs to add to the miniport's OID_GEN_SUPPORTED_LIST answer.
pub const SUPPORTED_OIDS: [u32; 1] = [OID_MPSHIM_HEALTH];

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).expect("layout sizes fit in u32")
}

const fn outcome(status: i32, bytes_transferred: u32, bytes_needed: u32) -> OidOutcome {
    OidOutcome {
        status,
        bytes_transferred,
        bytes_needed,
        refused: None,
    }
}

/// Serves one OID request at `now_ns`.
///
/// Query of [`OID_MPSHIM_HEALTH`]: the [`crate::contract::HealthSnapshot`], or BUFFER_TOO_SHORT
/// with BytesNeeded. Set: [`Settings`] applied to `monitor`, or INVALID_LENGTH with BytesNeeded
/// (short buffer), or INVALID_DATA (not settings, or settings out of range; the old settings
/// stay). Any other request type: NOT_SUPPORTED. Any other OID: INVALID_OID, buffers untouched.
pub fn handle(request: OidRequest<'_>, monitor: &mut Monitor, now_ns: u64) -> OidOutcome {
    if !is_shim_oid(request.oid()) {
        return outcome(NDIS_STATUS_INVALID_OID, 0, 0);
    }
    match request {
        OidRequest::Query { buffer, .. } => {
            let Some(out) = buffer.get_mut(..HEALTH_LEN_V1) else {
                return outcome(NDIS_STATUS_BUFFER_TOO_SHORT, 0, len_u32(HEALTH_LEN_V1));
            };
            out.copy_from_slice(&monitor.snapshot(now_ns).encode());
            outcome(NDIS_STATUS_SUCCESS, len_u32(HEALTH_LEN_V1), 0)
        }
        OidRequest::Set { buffer, .. } => {
            if buffer.len() < SETTINGS_LEN_V1 {
                return outcome(NDIS_STATUS_INVALID_LENGTH, 0, len_u32(SETTINGS_LEN_V1));
            }
            let refusal = match Settings::decode(buffer) {
                Err(DecodeError::Truncated { needed, .. }) => {
                    // A newer writer declared more than it passed.
                    return outcome(NDIS_STATUS_INVALID_LENGTH, 0, len_u32(needed));
                }
                Err(e) => SetRefusal::Decode(e),
                Ok(settings) => match monitor.set_settings(settings, now_ns) {
                    Ok(()) => return outcome(NDIS_STATUS_SUCCESS, len_u32(SETTINGS_LEN_V1), 0),
                    Err(e) => SetRefusal::Invalid(e),
                },
            };
            OidOutcome {
                refused: Some(refusal),
                ..outcome(NDIS_STATUS_INVALID_DATA, 0, 0)
            }
        }
        OidRequest::Other { .. } => outcome(NDIS_STATUS_NOT_SUPPORTED, 0, 0),
    }
}

#[cfg(test)]
mod tests;
