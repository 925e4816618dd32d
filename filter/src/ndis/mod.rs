//! The hand-written NDIS 6.30 FFI: the only module of the filter that handles raw NDIS pointers.
//!
//! - [`types`] — `#[repr(C)]` x64 layouts with offset tests.
//! - [`consts`] — status codes, flags, object header types, revisions, OIDs.
//! - [`ffi`] — the imported functions, declared once for Windows and the Linux emulator.
//! - [`entry`] — the portable `DriverEntry` / unload and the filter characteristics.
//! - [`nbl`], [`flags`], [`handle`], [`oid`], [`params`] — safe wrappers: owning NBL chains and
//!   accessors, typed flags, the module handle with one safe method per NDIS call the filter makes,
//!   OID requests and the borrowed callback arguments.
//! - `trampolines` — the `extern "system"` callbacks NDIS calls; they turn raw pointers into those
//!   wrappers and call the safe filter logic in [`crate::module`].
//! - `diag_host` (host build only) — the call into the emulator's diagnostics recorder behind
//!   [`crate::diag`]'s emulator backend.
//!
//! # Tests and Miri
//! Every unit test under `ndis::` runs under Miri
//! (`cargo +nightly miri test -p mpfilter --lib ndis::`): the NBL chain and accessor tests work on
//! heap-allocated fake NBLs, and the trampoline/`DriverEntry` tests drive the real trampolines with
//! the NDIS imports replaced, in `cfg(test)` builds only, by the recording doubles of `mock`
//! (the real imports exist only when the emulator, `ndis-emu`, is linked, so no unit test of this
//! crate can call them). The end-to-end run against the real imports is the emulator's suite in
//! `tests/`.

pub mod consts;
#[cfg(not(windows))]
pub(crate) mod diag_host;
pub mod entry;
pub mod ffi;
pub mod flags;
pub mod handle;
pub mod nbl;
pub mod oid;
pub mod params;
mod trampolines;
pub mod types;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod trampoline_tests;

// The one place where the import target is chosen: unit tests of this crate get recording doubles
// with the same signatures; every other build calls the real imports.
#[cfg(not(test))]
use ffi as imports;
#[cfg(test)]
use mock as imports;

pub use flags::{ReceiveFlags, ReturnFlags, SendCompleteFlags, SendFlags};
pub use handle::FilterHandle;
pub use nbl::{CancelId, Nbl, NblChain, NetBuffer, OwnedNbl};
pub use oid::{ClonedOidRequest, OidForward, OidRequest, RequestId};
pub use params::{
    AttachParameters, DevicePnpEvent, LinkState, NetPnpEvent, PauseParameters, RestartParameters,
    StatusIndication,
};

use crate::module::{Module, ModuleState, ModuleStats};
use types::NDIS_HANDLE;

/// A snapshot of the counters of the filter module whose FilterModuleContext is `ctx` (the value
/// the filter passed to `NdisFSetAttributes`, which the emulator records), or `None` for NULL.
///
/// This is how the emulator and the simulator read per-module statistics without knowing the
/// module's Rust type.
///
/// # Safety
/// `ctx` must be NULL or a FilterModuleContext of this driver whose module has not been detached
/// yet (the context is freed when `FilterDetach` returns), and the call must not race with that
/// detach.
pub unsafe fn module_stats(ctx: NDIS_HANDLE) -> Option<ModuleStats> {
    // SAFETY: forwarded from this function's contract.
    unsafe { trampolines::module_ref(ctx) }.map(Module::stats)
}

/// The state of the filter module whose FilterModuleContext is `ctx`, or `None` for NULL.
///
/// # Safety
/// As for [`module_stats`].
pub unsafe fn module_state(ctx: NDIS_HANDLE) -> Option<ModuleState> {
    // SAFETY: forwarded from this function's contract.
    unsafe { trampolines::module_ref(ctx) }.map(Module::state)
}
