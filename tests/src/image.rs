//! Which driver image a scenario loads. All image-specific loading is in [`DriverImage::load`].

use crate::callbacks::EntryPoint;
use mpfilter::ndis::types::{DRIVER_OBJECT, NDIS_STATUS, UNICODE_STRING};
use std::any::Any;
use std::fmt;

/// mpfilter's per-module counters.
pub type FilterStats = mpfilter::module::ModuleStats;

/// A host-linked DriverEntry.
pub type HostDriverEntry =
    unsafe extern "system" fn(*mut DRIVER_OBJECT, *mut UNICODE_STRING) -> NDIS_STATUS;

/// The driver a scenario runs.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum DriverImage {
    /// mpfilter linked into this process (`mpfilter::driver::entry::DriverEntry`).
    Host,
    /// Another host-linked driver (the test filters), named for reports.
    HostEntry(&'static str, HostDriverEntry),
    /// A PE driver file (the cross-built `mpfilter.sys`), loaded in-process by [`crate::pe`].
    Pe(&'static std::path::Path),
}

impl fmt::Debug for DriverImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A prepared image: its entry point, and whatever must stay alive while it runs (a mapped PE).
pub struct LoadedImage {
    /// DriverEntry in the image's ABI.
    pub entry: EntryPoint,
    /// Kept alive for as long as the driver may run.
    pub keep_alive: Option<Box<dyn Any>>,
}

impl DriverImage {
    /// A short name for reports.
    pub fn name(&self) -> String {
        match self {
            DriverImage::Host => "mpfilter (host)".to_string(),
            DriverImage::HostEntry(name, _) => (*name).to_string(),
            DriverImage::Pe(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
        }
    }

    /// The filter module's own counters, for images that expose them (mpfilter's host build),
    /// read through the FilterModuleContext the driver gave NdisFSetAttributes.
    ///
    /// # Safety
    /// `ctx` is the context of a module of this image that is still attached, and the driver is
    /// not running on another thread.
    pub unsafe fn filter_stats(&self, ctx: usize) -> Option<FilterStats> {
        match self {
            // SAFETY: forwarded contract: a live module context of mpfilter.
            DriverImage::Host => unsafe {
                mpfilter::driver::module_stats(ctx as *mut core::ffi::c_void)
            },
            // A PE image's module type is its own; the emulator does not reach inside it.
            DriverImage::HostEntry(..) | DriverImage::Pe(_) => None,
        }
    }

    /// Prepares the image for loading.
    ///
    /// # Errors
    /// If the image cannot be prepared.
    pub fn load(&self) -> Result<LoadedImage, String> {
        match *self {
            DriverImage::Host => Ok(LoadedImage {
                entry: EntryPoint::Host(mpfilter::driver::entry::DriverEntry),
                keep_alive: None,
            }),
            DriverImage::HostEntry(_, f) => Ok(LoadedImage {
                entry: EntryPoint::Host(f),
                keep_alive: None,
            }),
            DriverImage::Pe(path) => {
                let driver = crate::pe::load_driver(path).map_err(|e| e.to_string())?;
                Ok(LoadedImage {
                    entry: EntryPoint::Win64(driver.entry),
                    keep_alive: Some(Box::new(driver.image)),
                })
            }
        }
    }
}
