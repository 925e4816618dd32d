//! Build script: on a Windows host with the `wdk` feature, configure the WDK driver link (wdk-build).
//! Everywhere else it does nothing: Linux host builds link the NDIS emulator, and the Linux cross
//! build of the `.sys` takes its link settings from `.cargo/config.toml`.

fn main() {
    #[cfg(all(windows, feature = "wdk"))]
    {
        wdk_build::configure_wdk_binary_build()
            .expect("wdk-build could not configure the driver build");
        println!("cargo::rustc-link-lib=ndis");
    }
}
