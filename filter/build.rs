//! Build script.
//!
//! - Windows host, `wdk` feature (the `cargo make` WDK build): wdk-build configures the driver link.
//! - Windows target without `wdk` (the Linux cross build of `mpfilter.sys`): the kernel-driver link
//!   arguments for rust-lld, on the cdylib only.
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
}
