//! The driver-wide state: one per driver object, kept in its driver-object extension (no
//! globals), and passed by NDIS to FilterAttach as the FilterDriverContext.
//!
//! It holds the filter driver handle and the [`Registry`] of attached modules. Driver-wide status
//! handling and the control device's IOCTL dispatch will hang here too, next to the registry they
//! act through.

use super::registry::Registry;
use super::team::Team;
use crate::module::Module;
use crate::ndis::types::NDIS_HANDLE;
use core::ptr;

/// The driver-wide state.
pub(crate) struct DriverState {
    /// The NdisFilterDriverHandle from `NdisFRegisterFilterDriver` (NULL until it succeeds).
    pub(crate) filter_driver_handle: NDIS_HANDLE,
    /// The attached modules.
    pub(crate) modules: Registry<Module>,
    /// The path groups the teamed modules form.
    pub(crate) team: Team,
    /// The control device's handle from `NdisRegisterDeviceEx` (NULL without one).
    pub(crate) control_device: NDIS_HANDLE,
}

// SAFETY: the filter driver handle is an opaque NDIS token, written only by DriverEntry and unload
// (which run alone) and never dereferenced; the registry is `Sync` itself.
unsafe impl Sync for DriverState {}

impl DriverState {
    /// The state before `NdisFRegisterFilterDriver`: no handle, no module.
    pub(crate) fn new() -> Self {
        Self {
            filter_driver_handle: ptr::null_mut(),
            modules: Registry::new(),
            team: Team::new(),
            control_device: ptr::null_mut(),
        }
    }
}
