//! Loads a real `mpfilter.sys` (PE32+, x64) into this Linux process and runs it under the emulator.
//!
//! - [`image`] — maps the sections, applies the base relocations, binds every import to an
//!   `extern "win64"` function of the emulator, and sets page protections (RX, R, RW).
//! - [`kernel`] — the ntoskrnl.exe functions the driver's runtime imports (pool, bug check, CRT
//!   memory routines, `__chkstk`, `DbgPrint`).
//! - [`tracelogging`] — reads the ETW TraceLogging events the driver writes back into diagnostic
//!   events (the ETW exports themselves are `exports::etw`).
//! - [`bugcheck`] — what `KeBugCheckEx` does here: records the bug check and freezes the calling
//!   thread (a stopped machine), which [`bugcheck::run_guarded`] turns into an `Err` for the test.
//!
//! Only x86_64 Linux can execute the image (the win64 calling convention is native there).

pub mod bugcheck;
pub mod image;
pub mod kernel;
pub mod tracelogging;

pub use bugcheck::{BugCheck, run_guarded};
pub use image::{LoadError, LoadedImage};

use crate::abi::Export;
use mpfilter::ndis::types::{DRIVER_OBJECT, NDIS_STATUS, UNICODE_STRING};
use std::path::Path;

/// A loaded driver's `DriverEntry`, Microsoft x64 convention.
pub type Win64DriverEntry =
    unsafe extern "win64" fn(*mut DRIVER_OBJECT, *mut UNICODE_STRING) -> NDIS_STATUS;

/// A driver image loaded and ready for its `DriverEntry` to be called. The image must outlive every
/// call into it: keep this until the driver has unloaded.
#[derive(Debug)]
pub struct LoadedDriver {
    /// The mapping (unmapped on drop).
    pub image: LoadedImage,
    /// Its entry point, which is also its exported `DriverEntry`.
    pub entry: Win64DriverEntry,
}

/// Everything a driver image may import from the emulator: ndis.sys, the ntoskrnl driver-object
/// extension routines, and this module's kernel runtime.
pub fn driver_tables() -> [&'static [Export]; 10] {
    [
        crate::exports::ndis::EXPORTS,
        crate::exports::ntos::EXPORTS,
        kernel::EXPORTS,
        kernel::ASM_EXPORTS,
        crate::exports::timer::EXPORTS,
        crate::exports::spin_lock::EXPORTS,
        crate::exports::kernel_time::EXPORTS,
        crate::exports::io::EXPORTS,
        crate::exports::etw::EXPORTS,
        crate::exports::mdl::EXPORTS,
    ]
}

/// Reads and loads the driver at `path` against [`driver_tables`].
///
/// # Errors
/// As [`load_driver_with`].
pub fn load_driver(path: &Path) -> Result<LoadedDriver, LoadError> {
    load_driver_with(path, &driver_tables())
}

/// Reads and loads the driver at `path`, binding its imports against `tables`, and finds its
/// `DriverEntry` (which must be both the PE entry point and an export of that name).
///
/// # Errors
/// The file cannot be read, or [`LoadedImage::load`] fails, or the entry point is not `DriverEntry`.
pub fn load_driver_with(path: &Path, tables: &[&[Export]]) -> Result<LoadedDriver, LoadError> {
    let bytes = std::fs::read(path)
        .map_err(|e| LoadError::Io(format!("cannot read {}: {e}", path.display())))?;
    let image = LoadedImage::load(&bytes, tables)?;
    if image.export("DriverEntry") != Some(image.entry()) {
        return Err(LoadError::Malformed(
            "the entry point is not the exported DriverEntry".into(),
        ));
    }
    // SAFETY: the entry point is the image's exported DriverEntry, compiled as
    // `extern "system"` for x86_64-pc-windows-msvc, which is the win64 convention; the image is
    // mapped executable for as long as `LoadedDriver` lives.
    let entry = unsafe { std::mem::transmute::<*const (), Win64DriverEntry>(image.entry()) };
    Ok(LoadedDriver { image, entry })
}
