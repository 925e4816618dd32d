//! A filter module's configuration: `NdisOpenConfigurationEx` on its filter handle,
//! `NdisReadConfiguration` per key, `NdisCloseConfiguration` when the [`Configuration`] drops.
//!
//! PASSIVE_LEVEL only, and only while the module's handle is valid (during FilterAttach, a
//! restart or a PnP notification; shared/reference/ndis-reroute-facts.md Q5). Values borrow from
//! the open configuration: NDIS frees them when it is closed.

use super::consts::{
    NDIS_CONFIGURATION_OBJECT_REVISION_1, NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
    NDIS_PARAMETER_HEX_INTEGER, NDIS_PARAMETER_INTEGER, NDIS_PARAMETER_STRING,
    NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1, NDIS_STATUS_SUCCESS,
};
use super::handle::FilterHandle;
use super::imports;
use super::types::{
    NDIS_CONFIGURATION_OBJECT, NDIS_CONFIGURATION_PARAMETER, NDIS_HANDLE, NDIS_OBJECT_HEADER,
    NDIS_STATUS, UNICODE_STRING,
};
use core::marker::PhantomData;
use core::ptr;

/// The longest key name read.
pub const MAX_KEY: usize = 64;

/// How to ask for a value (NDIS converts a REG_SZ of digits when an integer is asked for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requested {
    /// `NdisParameterInteger`.
    Integer,
    /// `NdisParameterString`.
    Text,
}

/// One value as NDIS returned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamValue<'a> {
    /// An integer (decimal or hex in the registry).
    Integer(u32),
    /// A string, as UTF-16 code units without terminator.
    Text(&'a [u16]),
    /// A multi-string, binary value, or a string NDIS returned malformed.
    Unsupported,
}

/// An open configuration; closed on drop.
pub struct Configuration<'m> {
    handle: NDIS_HANDLE,
    module: PhantomData<&'m FilterHandle>,
}

impl<'m> Configuration<'m> {
    /// Opens the configuration of the module `filter` (flags 0: a modifying filter must not use
    /// `NDIS_CONFIG_FLAG_FILTER_INSTANCE_CONFIGURATION`).
    ///
    /// # Errors
    /// The status of a failed `NdisOpenConfigurationEx`.
    pub fn open(filter: &'m FilterHandle) -> Result<Self, NDIS_STATUS> {
        let mut object = NDIS_CONFIGURATION_OBJECT {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
                NDIS_CONFIGURATION_OBJECT_REVISION_1,
                NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
            ),
            NdisHandle: filter.as_raw(),
            Flags: 0,
        };
        let mut handle: NDIS_HANDLE = ptr::null_mut();
        // SAFETY: object and handle are live locals for the call; the filter handle is valid for
        // 'm, which the returned value cannot outlive.
        let status = unsafe { imports::NdisOpenConfigurationEx(&raw mut object, &raw mut handle) };
        if status != NDIS_STATUS_SUCCESS || handle.is_null() {
            return Err(status);
        }
        Ok(Configuration {
            handle,
            module: PhantomData,
        })
    }

    /// The value of `key` (ASCII, at most [`MAX_KEY`] characters), or `None` when it is absent.
    pub fn read(&self, key: &str, requested: Requested) -> Option<ParamValue<'_>> {
        if !key.is_ascii() || key.len() > MAX_KEY {
            return None;
        }
        let mut units = [0u16; MAX_KEY];
        for (u, b) in units.iter_mut().zip(key.bytes()) {
            *u = u16::from(b);
        }
        let bytes = u16::try_from(key.len() * 2).ok()?;
        let mut keyword = UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: units.as_mut_ptr(),
        };
        let mut status: NDIS_STATUS = NDIS_STATUS_SUCCESS;
        let mut value: *mut NDIS_CONFIGURATION_PARAMETER = ptr::null_mut();
        let ty = match requested {
            Requested::Integer => NDIS_PARAMETER_INTEGER,
            Requested::Text => NDIS_PARAMETER_STRING,
        };
        // SAFETY: every pointer is to a live local; the handle is open until self drops.
        unsafe {
            imports::NdisReadConfiguration(
                &raw mut status,
                &raw mut value,
                self.handle,
                &raw mut keyword,
                ty,
            );
        }
        if status != NDIS_STATUS_SUCCESS || value.is_null() {
            return None;
        }
        // SAFETY: NDIS returned a parameter it owns until NdisCloseConfiguration, which only
        // runs when self drops; the borrow of self bounds the reference.
        let param = unsafe { &*value };
        // SAFETY: as above: the parameter and its string stay valid while self is borrowed.
        Some(unsafe { decode(param) })
    }
}

/// The value of a parameter NDIS returned.
///
/// # Safety
/// `p` is a parameter NDIS returned; for a string, its buffer holds `Length` bytes for as long as
/// `p` is borrowed.
unsafe fn decode(p: &NDIS_CONFIGURATION_PARAMETER) -> ParamValue<'_> {
    match p.ParameterType {
        NDIS_PARAMETER_INTEGER | NDIS_PARAMETER_HEX_INTEGER => {
            // SAFETY: NDIS sets IntegerData for the integer types.
            ParamValue::Integer(unsafe { p.ParameterData.IntegerData })
        }
        NDIS_PARAMETER_STRING => {
            // SAFETY: NDIS sets StringData for NdisParameterString.
            let s = unsafe { p.ParameterData.StringData };
            if s.Buffer.is_null() || s.Length % 2 != 0 || !s.Buffer.is_aligned() {
                return ParamValue::Unsupported;
            }
            // SAFETY: a string of Length bytes at an aligned, non-null Buffer, owned by NDIS while p is
            // borrowed.
            ParamValue::Text(unsafe {
                core::slice::from_raw_parts(s.Buffer, usize::from(s.Length) / 2)
            })
        }
        _ => ParamValue::Unsupported,
    }
}

impl Drop for Configuration<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle is open (opened in `open`, closed only here).
        unsafe { imports::NdisCloseConfiguration(self.handle) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndis::mock::{Call, Config, Param, Session};

    fn filter() -> FilterHandle {
        // SAFETY: the mock never dereferences handles.
        unsafe { FilterHandle::from_raw(core::ptr::without_provenance_mut(0x4000)) }.unwrap()
    }

    #[test]
    fn reads_integers_and_text_and_closes_once() {
        let s = Session::new(Config {
            params: std::vec![
                ("GroupId", Param::Integer(3)),
                ("Policy", Param::Text("Quota".into())),
            ],
            ..Config::default()
        });
        let f = filter();
        {
            let c = Configuration::open(&f).unwrap();
            assert_eq!(
                c.read("groupid", Requested::Integer),
                Some(ParamValue::Integer(3))
            );
            let units: std::vec::Vec<u16> = "Quota".encode_utf16().collect();
            assert_eq!(
                c.read("Policy", Requested::Text),
                Some(ParamValue::Text(&units))
            );
            assert_eq!(c.read("Weight", Requested::Integer), None);
            assert_eq!(c.read("é", Requested::Integer), None);
        }
        let calls = s.take_config_calls();
        assert!(matches!(
            calls[0],
            Call::OpenConfig {
                handle: 0x4000,
                flags: 0
            }
        ));
        assert_eq!(
            calls
                .iter()
                .filter(|c| matches!(c, Call::CloseConfig { .. }))
                .count(),
            1
        );
        assert_eq!(
            calls
                .iter()
                .filter(|c| matches!(c, Call::ReadConfig { .. }))
                .count(),
            3
        );
    }

    #[test]
    fn a_failed_open_is_an_error_and_closes_nothing() {
        let s = Session::new(Config {
            open_config_status: crate::ndis::consts::NDIS_STATUS_RESOURCES,
            ..Config::default()
        });
        let f = filter();
        assert_eq!(
            Configuration::open(&f).err(),
            Some(crate::ndis::consts::NDIS_STATUS_RESOURCES)
        );
        assert!(
            !s.take_calls()
                .iter()
                .any(|c| matches!(c, Call::CloseConfig { .. }))
        );
    }
}
