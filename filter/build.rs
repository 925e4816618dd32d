//! Build script.
//!
//! - Windows host, `wdk` feature (the `cargo make` WDK build): wdk-build configures the driver link.
//! - Windows target without `wdk` (the Linux cross build of `mpfilter.sys`): the kernel-driver link
//!   arguments for rust-lld, on the cdylib only.
//! - Any Windows target: an empty `rpcrt4.lib` (see `empty_rpcrt4`).
//! - Anything else (the Linux host build): nothing; the NDIS imports resolve to the emulator.

fn main() {
    #[cfg(all(windows, feature = "wdk"))]
    {
        wdk_build::configure_wdk_binary_build()
            .expect("wdk-build could not configure the driver build");
        println!("cargo::rustc-link-lib=ndis");
    }

    let target_windows = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows");
    let wdk = std::env::var_os("CARGO_FEATURE_WDK").is_some();
    if target_windows && !wdk {
        for arg in [
            "/NODEFAULTLIB",
            "/DRIVER",
            "/SUBSYSTEM:NATIVE,10.0",
            "/ENTRY:DriverEntry",
            "/INTEGRITYCHECK",
            "/DYNAMICBASE",
            "/NXCOMPAT",
            "/RELEASE",
            "/Brepro",
        ] {
            println!("cargo::rustc-link-arg-cdylib={arg}");
        }
    }
    if target_windows {
        empty_rpcrt4();
    }
}

/// The `tracelogging` crate names `rpcrt4` for `Guid::new` (UuidCreate, user mode), which the
/// driver never calls. A kernel driver links no user-mode library (the cross build has none at
/// all), so both Windows builds get an archive with no members under that name, found first on
/// the library path: nothing resolves from it (UuidCreate is declared in `windows/etw.rs` only so
/// that the dead reference resolves), and pecheck's allow-list would refuse an rpcrt4 import.
fn empty_rpcrt4() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("rpcrt4.lib"), b"!<arch>\n").expect("write rpcrt4.lib");
    println!("cargo::rustc-link-search=native={}", out.display());
}
