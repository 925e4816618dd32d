//! `mpctl install` / `uninstall`: the filter's network component added or removed through
//! INetCfg, the way `netcfg -l INF -c s -i MS_MpFilter` and `netcfg -u MS_MpFilter` do it:
//!
//! 1. (install with an INF) `SetupCopyOEMInfW` puts the package's INF into the driver store, so
//!    that INetCfg finds the component id (netcfg's `-l`);
//! 2. `CoInitializeEx`, `CoCreateInstance(CLSID_CNetCfg)` → `INetCfg`;
//! 3. `INetCfgLock::AcquireWriteLock` (S_FALSE: another program holds it, and says which);
//! 4. `INetCfg::Initialize`, then `QueryNetCfgClass(GUID_DEVCLASS_NETSERVICE)` →
//!    `INetCfgClassSetup`;
//! 5. `Install(id, OBO_USER)` — or `FindComponent(id)` and `DeInstall(component, OBO_USER)`;
//! 6. `Apply` (or `Cancel` after a failure), `Uninitialize`, `ReleaseWriteLock`,
//!    `CoUninitialize`.
//!
//! A filter's INF is of class NetService, so the class setup object is NetService's. NETCFG_S_REBOOT
//! (from `Install`, `DeInstall` or `Apply`) means the change completes at the next restart. On
//! other hosts both commands exist and say they need Windows.

use std::fmt;
use std::path::Path;

/// The component id `inf/mpfilter.inx` declares (its models' hardware id).
pub const COMPONENT_ID: &str = "MS_MpFilter";

/// How an install or uninstall ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Installed, bound to the adapters it applies to.
    Installed,
    /// Removed.
    Removed,
    /// Done, but it completes only after a restart (NETCFG_S_REBOOT).
    RebootNeeded,
    /// Removed from INetCfg, but other components still reference it
    /// (NETCFG_S_STILL_REFERENCED).
    StillReferenced,
    /// Uninstall: no such component was installed.
    NotInstalled,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Installed => "installed",
            Outcome::Removed => "removed",
            Outcome::RebootNeeded => "done; restart Windows to complete it (NETCFG_S_REBOOT)",
            Outcome::StillReferenced => {
                "removed; other components still reference it (NETCFG_S_STILL_REFERENCED)"
            }
            Outcome::NotInstalled => "not installed: nothing to remove",
        })
    }
}

/// Why an install or uninstall failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// This is not Windows.
    NeedsWindows,
    /// A call failed with this HRESULT.
    Call {
        /// The call (`"INetCfgClassSetup::Install"`, …).
        call: &'static str,
        /// Its HRESULT.
        hresult: i32,
    },
    /// Another program holds INetCfg's write lock.
    Locked {
        /// What it says it is.
        holder: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NeedsWindows => f.write_str(
                "install and uninstall need Windows (INetCfg); here use the emulator and mpsim",
            ),
            Error::Call { call, hresult } => {
                write!(f, "{call} failed: {}", describe(*hresult))
            }
            Error::Locked { holder } => write!(
                f,
                "the network configuration is being changed by \"{holder}\": close it and try again"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// An HRESULT as an administrator reads it: the NETCFG_* and common COM codes by name and
/// meaning, anything else in hex.
pub fn describe(hresult: i32) -> String {
    let text = match hresult.cast_unsigned() {
        0x0004_A020 => "NETCFG_S_REBOOT: restart Windows to complete the change",
        0x0004_A023 => "NETCFG_S_STILL_REFERENCED: other components still reference it",
        0x8004_A020 => "NETCFG_E_ALREADY_INITIALIZED",
        0x8004_A021 => "NETCFG_E_NOT_INITIALIZED",
        0x8004_A022 => "NETCFG_E_IN_USE: the component is in use; stop what uses it, or restart",
        0x8004_A024 => "NETCFG_E_NO_WRITE_LOCK: the write lock was not held",
        0x8004_A025 => "NETCFG_E_NEED_REBOOT: restart Windows, then try again",
        0x8004_A026 => "NETCFG_E_ACTIVE_RAS_CONNECTIONS: close the RAS connections first",
        0x8004_A027 => "NETCFG_E_ADAPTER_NOT_FOUND",
        0x8004_A028 => {
            "NETCFG_E_COMPONENT_REMOVED_PENDING_REBOOT: it was removed; restart Windows first"
        }
        0x8004_A029 => {
            "NETCFG_E_MAX_FILTER_LIMIT: too many filters on a stack (raise \
             HKLM\\SYSTEM\\CurrentControlSet\\Control\\Network\\MaxNumFilters, then restart)"
        }
        0x8004_A02A => "NETCFG_E_VMSWITCH_ACTIVE_OVER_ADAPTER",
        0x8004_A02B => "NETCFG_E_DUPLICATE_INSTANCEID",
        0x8007_0005 => "E_ACCESSDENIED: run mpctl as an administrator",
        0x8007_0002 => "the INF or its files were not found (ERROR_FILE_NOT_FOUND)",
        0x800F_0203 => {
            "SPAPI_E_NO_DRIVER_SELECTED: no INF in the driver store offers the component id: \
             pass --inf, or add the package with pnputil /add-driver"
        }
        0x800F_0214 => "SPAPI_E_DI_BAD_PATH: the INF's path is not valid",
        0x800F_0242 => {
            "SPAPI_E_AUTHENTICODE_TRUST_NOT_ESTABLISHED: the package's signer is not trusted \
             (test signing: docs/install.md)"
        }
        0x800B_0109 => "CERT_E_UNTRUSTEDROOT: the signing certificate's root is not trusted",
        0x800B_0100 => "TRUST_E_NOSIGNATURE: the package is not signed",
        0x8000_4005 => "E_FAIL",
        0x8007_000E => "E_OUTOFMEMORY",
        0x8000_FFFF => "E_UNEXPECTED",
        0x8007_0057 => "E_INVALIDARG",
        0x8004_0154 => "REGDB_E_CLASSNOTREG: INetCfg is not registered on this system",
        _ => return format!("HRESULT {:#010x}", hresult.cast_unsigned()),
    };
    format!("{text} ({:#010x})", hresult.cast_unsigned())
}

/// Installs component `id`, first copying `inf` into the driver store when given.
///
/// # Errors
/// [`Error`]: not Windows, a call's failure, the write lock held elsewhere.
pub fn install(inf: Option<&Path>, id: &str) -> Result<Outcome, Error> {
    imp::install(inf, id)
}

/// Removes component `id`.
///
/// # Errors
/// As for [`install`].
pub fn uninstall(id: &str) -> Result<Outcome, Error> {
    imp::uninstall(id)
}

#[cfg(not(windows))]
mod imp {
    use super::{Error, Outcome};
    use std::path::Path;

    pub(super) fn install(_inf: Option<&Path>, _id: &str) -> Result<Outcome, Error> {
        Err(Error::NeedsWindows)
    }

    pub(super) fn uninstall(_id: &str) -> Result<Outcome, Error> {
        Err(Error::NeedsWindows)
    }
}

#[cfg(windows)]
mod imp;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_their_names_and_unknown_ones_in_hex() {
        assert!(describe(0x8004_A025_u32.cast_signed()).starts_with("NETCFG_E_NEED_REBOOT"));
        assert!(describe(0x0004_A020).starts_with("NETCFG_S_REBOOT"));
        assert!(describe(0x8007_0005_u32.cast_signed()).contains("administrator"));
        assert!(describe(0x8004_A029_u32.cast_signed()).contains("MaxNumFilters"));
        assert_eq!(
            describe(0x8123_4567_u32.cast_signed()),
            "HRESULT 0x81234567"
        );
        let e = Error::Call {
            call: "INetCfgClassSetup::Install",
            hresult: 0x8004_A022_u32.cast_signed(),
        };
        assert_eq!(
            e.to_string(),
            "INetCfgClassSetup::Install failed: NETCFG_E_IN_USE: the component is in use; stop \
             what uses it, or restart (0x8004a022)"
        );
    }

    #[cfg(not(windows))]
    #[test]
    fn elsewhere_both_say_they_need_windows() {
        assert_eq!(install(None, COMPONENT_ID), Err(Error::NeedsWindows));
        assert_eq!(uninstall(COMPONENT_ID), Err(Error::NeedsWindows));
        assert!(Error::NeedsWindows.to_string().contains("need Windows"));
    }

    #[test]
    fn the_component_id_is_the_infs() {
        let inx = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../inf/mpfilter.inx"
        ))
        .expect("inf/mpfilter.inx");
        let models: Vec<&str> = inx
            .lines()
            .filter(|l| l.starts_with("%mpfilter_Desc%"))
            .collect();
        assert!(!models.is_empty());
        for m in models {
            assert_eq!(
                m.rsplit(',').next().map(str::trim),
                Some(COMPONENT_ID),
                "{m}"
            );
        }
    }
}
