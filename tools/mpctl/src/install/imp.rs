//! The Windows side: INetCfg through the `windows` crate (windows-sys has no COM interfaces).
//! The calls whose success codes matter (S_FALSE from the lock and `FindComponent`,
//! NETCFG_S_REBOOT / NETCFG_S_STILL_REFERENCED) go through the vtables directly, since the
//! crate's wrappers fold every success code into `Ok`.

use super::{Error, Outcome};
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use windows::Win32::Devices::DeviceAndDriverInstallation::{
    GUID_DEVCLASS_NETSERVICE, SP_COPY_STYLE, SPOST_PATH, SetupCopyOEMInfW,
};
use windows::Win32::NetworkManagement::NetManagement::{
    INetCfg, INetCfgClassSetup, INetCfgComponent, INetCfgLock, NETCFG_S_REBOOT,
    NETCFG_S_STILL_REFERENCED, OBO_TOKEN, OBO_USER,
};
use windows::Win32::System::Com::{
    CLSCTX_INPROC_SERVER, COINIT_APARTMENTTHREADED, CoCreateInstance, CoInitializeEx,
    CoTaskMemFree, CoUninitialize,
};
use windows::core::{GUID, HRESULT, Interface, PCWSTR, PWSTR};

/// `CLSID_CNetCfg` (netcfgx.h): the INetCfg object.
const CLSID_CNETCFG: GUID = GUID::from_u128(0x5b03_5261_40f9_11d1_aaec_0080_5fc1_270e);
/// How long to wait for the write lock, ms.
const LOCK_TIMEOUT_MS: u32 = 5_000;
/// Who mpctl says it is to other INetCfg clients while it holds the lock.
const CLIENT: &str = "mpctl";

fn wide(s: &std::ffi::OsStr) -> Vec<u16> {
    s.encode_wide().chain(Some(0)).collect()
}

fn failed(call: &'static str, hr: HRESULT) -> Error {
    Error::Call {
        call,
        hresult: hr.0,
    }
}

fn check(call: &'static str, hr: HRESULT) -> Result<HRESULT, Error> {
    if hr.is_ok() {
        Ok(hr)
    } else {
        Err(failed(call, hr))
    }
}

fn ensure(call: &'static str, hr: HRESULT) -> Result<(), Error> {
    check(call, hr).map(drop)
}

/// COM initialised on this thread for as long as it lives.
struct Com;

impl Com {
    fn init() -> Result<Com, Error> {
        // SAFETY: no reserved pointer; balanced by `CoUninitialize` in drop.
        ensure("CoInitializeEx", unsafe {
            CoInitializeEx(None, COINIT_APARTMENTTHREADED)
        })?;
        Ok(Com)
    }
}

impl Drop for Com {
    fn drop(&mut self) {
        // SAFETY: `init` succeeded on this thread.
        unsafe { CoUninitialize() };
    }
}

/// INetCfg, write-locked and initialised; undone in the reverse order on drop.
struct Session {
    cfg: INetCfg,
    lock: INetCfgLock,
    initialised: bool,
    locked: bool,
}

impl Session {
    fn open() -> Result<Session, Error> {
        // SAFETY: a well-known class id, in-process server.
        let cfg: INetCfg = unsafe { CoCreateInstance(&CLSID_CNETCFG, None, CLSCTX_INPROC_SERVER) }
            .map_err(|e| failed("CoCreateInstance(CLSID_CNetCfg)", e.code()))?;
        let lock: INetCfgLock = cfg
            .cast()
            .map_err(|e| failed("QueryInterface(INetCfgLock)", e.code()))?;
        let mut s = Session {
            cfg,
            lock,
            initialised: false,
            locked: false,
        };
        let client = wide(CLIENT.as_ref());
        let mut holder = PWSTR::null();
        // SAFETY: the vtable of a live INetCfgLock; the description is NUL-terminated and
        // outlives the call; `holder` receives a CoTaskMemAlloc'd string or stays null.
        let hr = unsafe {
            (Interface::vtable(&s.lock).AcquireWriteLock)(
                Interface::as_raw(&s.lock),
                LOCK_TIMEOUT_MS,
                PCWSTR(client.as_ptr()),
                &raw mut holder,
            )
        };
        if hr == windows::Win32::Foundation::S_FALSE {
            // SAFETY: NULL or a NUL-terminated string INetCfg allocated for us.
            let name = unsafe { holder.to_string() }.unwrap_or_default();
            // SAFETY: allocated by CoTaskMemAlloc (or NULL), freed once.
            unsafe { CoTaskMemFree(Some(holder.0 as *const _)) };
            return Err(Error::Locked { holder: name });
        }
        ensure("INetCfgLock::AcquireWriteLock", hr)?;
        s.locked = true;
        // SAFETY: a live INetCfg, not yet initialised; no reserved pointer.
        unsafe { s.cfg.Initialize(None) }.map_err(|e| failed("INetCfg::Initialize", e.code()))?;
        s.initialised = true;
        Ok(s)
    }

    fn class_setup(&self) -> Result<INetCfgClassSetup, Error> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: an initialised INetCfg; the class and interface ids are statics; `raw`
        // receives an AddRef'd interface pointer, which `from_raw` takes over.
        unsafe {
            self.cfg.QueryNetCfgClass(
                &GUID_DEVCLASS_NETSERVICE,
                &INetCfgClassSetup::IID,
                Some(&raw mut raw),
            )
        }
        .map_err(|e| failed("INetCfg::QueryNetCfgClass(NetService)", e.code()))?;
        // SAFETY: as above; non-null after success.
        Ok(unsafe { INetCfgClassSetup::from_raw(raw) })
    }

    /// Applies the pending change (keeping NETCFG_S_REBOOT), or cancels it on `Err`.
    fn finish(&self, change: Result<HRESULT, Error>) -> Result<HRESULT, Error> {
        match change {
            Ok(hr) => {
                // SAFETY: an initialised, write-locked INetCfg.
                let applied = unsafe { (Interface::vtable(&self.cfg).Apply)(self.cfg.as_raw()) };
                let applied = check("INetCfg::Apply", applied)?;
                Ok(if applied == NETCFG_S_REBOOT {
                    applied
                } else {
                    hr
                })
            }
            Err(e) => {
                // SAFETY: as above. A failed cancel adds nothing to the error being reported.
                let _ = unsafe { self.cfg.Cancel() };
                Err(e)
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.initialised {
            // SAFETY: initialised by `open`, uninitialised once.
            let _ = unsafe { self.cfg.Uninitialize() };
        }
        if self.locked {
            // SAFETY: acquired by `open`, released once (after Uninitialize, as netcfg does).
            let _ = unsafe { self.lock.ReleaseWriteLock() };
        }
    }
}

fn obo_user() -> OBO_TOKEN {
    OBO_TOKEN {
        Type: OBO_USER,
        ..Default::default()
    }
}

fn outcome(hr: HRESULT, done: Outcome) -> Outcome {
    if hr == NETCFG_S_REBOOT {
        Outcome::RebootNeeded
    } else if hr == NETCFG_S_STILL_REFERENCED {
        Outcome::StillReferenced
    } else {
        done
    }
}

pub(super) fn install(inf: Option<&Path>, id: &str) -> Result<Outcome, Error> {
    let _com = Com::init()?;
    if let Some(inf) = inf {
        let path = wide(inf.as_os_str());
        let dir = wide(inf.parent().unwrap_or(Path::new(".")).as_os_str());
        // SAFETY: NUL-terminated paths that outlive the call; no output buffers.
        unsafe {
            SetupCopyOEMInfW(
                PCWSTR(path.as_ptr()),
                PCWSTR(dir.as_ptr()),
                SPOST_PATH,
                SP_COPY_STYLE(0),
                None,
                None,
                None,
            )
        }
        .map_err(|e| failed("SetupCopyOEMInfW", e.code()))?;
    }
    let session = Session::open()?;
    let setup = session.class_setup()?;
    let id = wide(id.as_ref());
    let obo = obo_user();
    let mut component: *mut core::ffi::c_void = std::ptr::null_mut();
    // SAFETY: a live INetCfgClassSetup; the id is NUL-terminated; the token lives across the
    // call; no answer file; `component` receives an AddRef'd pointer, released below.
    let hr = unsafe {
        (Interface::vtable(&setup).Install)(
            setup.as_raw(),
            PCWSTR(id.as_ptr()),
            &raw const obo,
            0,
            0,
            PCWSTR::null(),
            PCWSTR::null(),
            &raw mut component,
        )
    };
    if !component.is_null() {
        // SAFETY: the AddRef'd component Install returned; dropping releases it.
        drop(unsafe { INetCfgComponent::from_raw(component) });
    }
    let hr = session.finish(check("INetCfgClassSetup::Install", hr))?;
    Ok(outcome(hr, Outcome::Installed))
}

pub(super) fn uninstall(id: &str) -> Result<Outcome, Error> {
    let _com = Com::init()?;
    let session = Session::open()?;
    let id = wide(id.as_ref());
    let mut raw: *mut core::ffi::c_void = std::ptr::null_mut();
    // SAFETY: an initialised INetCfg; the id is NUL-terminated; `raw` receives an AddRef'd
    // pointer (S_OK) or stays null (S_FALSE: not installed).
    let hr = unsafe {
        (Interface::vtable(&session.cfg).FindComponent)(
            session.cfg.as_raw(),
            PCWSTR(id.as_ptr()),
            &raw mut raw,
        )
    };
    ensure("INetCfg::FindComponent", hr)?;
    if raw.is_null() {
        return Ok(Outcome::NotInstalled);
    }
    // SAFETY: the AddRef'd component FindComponent returned.
    let component = unsafe { INetCfgComponent::from_raw(raw) };
    let setup = session.class_setup()?;
    let obo = obo_user();
    // SAFETY: live interfaces; the token lives across the call; no references list wanted.
    let hr = unsafe {
        (Interface::vtable(&setup).DeInstall)(
            setup.as_raw(),
            component.as_raw(),
            &raw const obo,
            std::ptr::null_mut(),
        )
    };
    let hr = session.finish(check("INetCfgClassSetup::DeInstall", hr))?;
    Ok(outcome(hr, Outcome::Removed))
}
