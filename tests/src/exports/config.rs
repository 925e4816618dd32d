//! `NdisOpenConfigurationEx`, `NdisReadConfiguration`, `NdisCloseConfiguration` over each
//! adapter's parameter store ([`crate::config::AdapterConfig::params`]): the filter module's
//! registry values. Values read stay valid (emulator-owned) until the handle is closed, as with
//! NDIS; a handle left open is a leak at detach (module scope) or unload (driver scope).

use super::checks;
use crate::abi::Abi;
use crate::config::RegValue;
use crate::rules::{Rule, Subject};
use crate::world::{self, ConfigScope, HandleKind, Heap, OpenConfig, Token};
use mpfilter::ndis::consts::{
    NDIS_CONFIG_FLAG_FILTER_INSTANCE_CONFIGURATION, NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
    NDIS_PARAMETER_BINARY, NDIS_PARAMETER_INTEGER, NDIS_PARAMETER_STRING,
    NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1, NDIS_STATUS_FAILURE,
    NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_SUCCESS,
};
use mpfilter::ndis::types::{
    BINARY_DATA, NDIS_CONFIGURATION_OBJECT, NDIS_CONFIGURATION_PARAMETER,
    NDIS_CONFIGURATION_PARAMETER_DATA, NDIS_HANDLE, NDIS_PARAMETER_TYPE, NDIS_STATUS,
    UNICODE_STRING,
};

/// `NdisOpenConfigurationEx`.
///
/// # Safety
/// `object` and `out` are null or valid as in the C contract.
pub unsafe fn open(
    _abi: Abi,
    object: *mut NDIS_CONFIGURATION_OBJECT,
    out: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    const CALL: &str = "NdisOpenConfigurationEx";
    if object.is_null() || out.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: non-null and, per the contract, a configuration object.
    let o = unsafe { &*object };
    let (header, handle, flags) = (o.Header, o.NdisHandle, o.Flags);
    let opened = world::with(|w| {
        let subject = Subject::Handle(handle as usize);
        if !checks::passive(w, CALL, subject) {
            return None;
        }
        if header.Type != NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT
            || header.Revision < 1
            || header.Size < NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1
        {
            w.violate(
                Rule::ConfigBadObject,
                subject,
                CALL,
                format!(
                    "header type {:#x} revision {} size {:#x}",
                    header.Type, header.Revision, header.Size
                ),
            );
            return None;
        }
        if flags & NDIS_CONFIG_FLAG_FILTER_INSTANCE_CONFIGURATION != 0 {
            w.violate(
                Rule::ConfigBadObject,
                subject,
                CALL,
                "NDIS_CONFIG_FLAG_FILTER_INSTANCE_CONFIGURATION from a modifying filter",
            );
            return None;
        }
        let scope = match w.handles.get(&(handle as usize)) {
            Some(HandleKind::Driver) => ConfigScope::Driver,
            Some(HandleKind::Module(a)) => ConfigScope::Module(*a),
            _ => {
                w.violate(
                    Rule::HandleInvalid,
                    subject,
                    CALL,
                    "neither the filter driver handle nor a filter module handle",
                );
                return None;
            }
        };
        let token = Token::new();
        let h = token.addr();
        w.handles.insert(h, HandleKind::Config);
        w.configs.insert(
            h,
            OpenConfig {
                _handle: token,
                scope,
                values: Vec::new(),
            },
        );
        Some(h)
    })
    .flatten();
    match opened {
        Some(h) => {
            // SAFETY: out is non-null and writable per the contract.
            unsafe { *out = h as NDIS_HANDLE };
            NDIS_STATUS_SUCCESS
        }
        None => NDIS_STATUS_FAILURE,
    }
}

/// The keyword of a read, or `None` when it is not a readable UNICODE_STRING.
///
/// # Safety
/// `keyword` is null or a UNICODE_STRING whose buffer holds `Length` bytes.
unsafe fn keyword(keyword: *mut UNICODE_STRING) -> Option<String> {
    if keyword.is_null() {
        return None;
    }
    // SAFETY: non-null per the contract.
    let k = unsafe { *keyword };
    if k.Buffer.is_null() || k.Length % 2 != 0 || !k.Buffer.is_aligned() {
        return None;
    }
    // SAFETY: Length bytes of UTF-16 at an aligned, non-null buffer.
    let units = unsafe { core::slice::from_raw_parts(k.Buffer, usize::from(k.Length) / 2) };
    Some(String::from_utf16_lossy(units))
}

/// `NdisReadConfiguration`. `requested` is ignored, as NDIS 6 documents: the value comes back
/// with the type it has in the registry.
///
/// # Safety
/// Pointers are null or valid as in the C contract.
pub unsafe fn read(
    _abi: Abi,
    status: *mut NDIS_STATUS,
    value: *mut *mut NDIS_CONFIGURATION_PARAMETER,
    h: NDIS_HANDLE,
    key: *mut UNICODE_STRING,
    _requested: NDIS_PARAMETER_TYPE,
) {
    const CALL: &str = "NdisReadConfiguration";
    if status.is_null() || value.is_null() {
        return;
    }
    // SAFETY: as the contract says.
    let name = unsafe { keyword(key) };
    let found = world::with(|w| {
        if !checks::passive(w, CALL, Subject::Handle(h as usize)) {
            return None;
        }
        let Some(open) = w.configs.get(&(h as usize)) else {
            w.violate(
                Rule::HandleInvalid,
                Subject::Handle(h as usize),
                CALL,
                "not an open configuration handle",
            );
            return None;
        };
        let ConfigScope::Module(a) = open.scope else {
            return None;
        };
        let name = name?;
        let stored = w.adapters[a]
            .cfg
            .params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.clone())?;
        // The string's storage moves into the cell with the parameter; its heap buffer, which
        // the parameter points at, does not move.
        let (param, storage) = match stored {
            RegValue::Dword(v) => (
                NDIS_CONFIGURATION_PARAMETER {
                    ParameterType: NDIS_PARAMETER_INTEGER,
                    ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA { IntegerData: v },
                },
                Vec::new(),
            ),
            RegValue::Sz(text) => {
                let mut units: Vec<u16> = text.encode_utf16().collect();
                let bytes = u16::try_from(units.len() * 2).unwrap_or(u16::MAX - 1);
                let string = UNICODE_STRING {
                    Length: bytes,
                    MaximumLength: bytes,
                    Buffer: units.as_mut_ptr(),
                };
                (
                    NDIS_CONFIGURATION_PARAMETER {
                        ParameterType: NDIS_PARAMETER_STRING,
                        ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA { StringData: string },
                    },
                    units,
                )
            }
            RegValue::Binary(bytes) => {
                let mut units: Vec<u16> = bytes
                    .chunks(2)
                    .map(|c| u16::from_le_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
                    .collect();
                let binary = BINARY_DATA {
                    Length: u16::try_from(bytes.len()).unwrap_or(u16::MAX),
                    Buffer: units.as_mut_ptr().cast(),
                };
                (
                    NDIS_CONFIGURATION_PARAMETER {
                        ParameterType: NDIS_PARAMETER_BINARY,
                        ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA { BinaryData: binary },
                    },
                    units,
                )
            }
        };
        let cell = Heap::new((param, storage));
        // SAFETY: the cell was just allocated; the parameter's address is stable until close.
        let p = unsafe { &raw mut (*cell.ptr()).0 };
        w.configs.get_mut(&(h as usize))?.values.push(cell);
        Some(p)
    })
    .flatten();
    match found {
        Some(p) => {
            // SAFETY: value is non-null and writable per the contract.
            unsafe { *value = p };
            // SAFETY: status is non-null and writable per the contract.
            unsafe { *status = NDIS_STATUS_SUCCESS };
        }
        // SAFETY: as above.
        None => unsafe { *status = NDIS_STATUS_FAILURE },
    }
}

/// `NdisCloseConfiguration`: frees every value read through the handle.
///
/// # Safety
/// None beyond the C contract: the handle is only looked up.
pub unsafe fn close(_abi: Abi, h: NDIS_HANDLE) {
    const CALL: &str = "NdisCloseConfiguration";
    world::with(|w| {
        if !checks::passive(w, CALL, Subject::Handle(h as usize)) {
            return;
        }
        if w.configs.remove(&(h as usize)).is_none() {
            w.violate(
                Rule::HandleInvalid,
                Subject::Handle(h as usize),
                CALL,
                "not an open configuration handle",
            );
            return;
        }
        w.handles.remove(&(h as usize));
    });
}
