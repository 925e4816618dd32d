//! The driver: everything NDIS and the I/O manager call into, and the driver-wide state.
//!
//! - [`entry`] — the portable `DriverEntry` / unload and the filter characteristics.
//! - `trampolines` — the `extern "system"` callbacks of the characteristics: each turns NDIS's raw
//!   arguments into the safe wrappers of [`crate::ndis`] and calls the filter logic in
//!   [`crate::module`]; nothing else happens there.
//! - `context` — the FilterModuleContext: where a [`Module`](crate::module::Module) lives from
//!   FilterAttach to FilterDetach, with a pointer to the driver state it is registered in.
//! - `state` — the driver-wide state in the driver-object extension (the FilterDriverContext).
//! - [`registry`] — the attached modules by filter handle, IfIndex and path group.
//! - `team` — the path groups: members, the engine group of each, its publication to the data
//!   path (`publish`) and its tick timer.
//!
//! Dependencies run one way: `driver` → [`crate::module`] → {[`crate::engine`], [`crate::ndis`]};
//! `ndis` knows neither `module` nor `driver`.
//!
//! # Tests and Miri
//! The trampoline and `DriverEntry` tests drive the real callbacks with the NDIS imports replaced,
//! in `cfg(test)` builds only, by the recording doubles of `crate::ndis::mock`, and run under Miri
//! (`cargo +nightly miri test -p mpfilter --lib -- driver::`): module contexts, fake NBLs and OID
//! requests are real heap objects, so leaks, double frees and use-after-free are caught. The
//! end-to-end run against the real imports is the emulator's suite in `tests/`.

mod context;
pub mod entry;
pub mod publish;
pub mod registry;
mod state;
mod team;
mod trampolines;

#[cfg(test)]
mod trampoline_tests;

use crate::module::{ModuleState, ModuleStats};
use crate::ndis::types::NDIS_HANDLE;

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
    unsafe { context::context_ref(ctx) }.map(|c| c.stats())
}

/// The state of the filter module whose FilterModuleContext is `ctx`, or `None` for NULL.
///
/// # Safety
/// As for [`module_stats`].
pub unsafe fn module_state(ctx: NDIS_HANDLE) -> Option<ModuleState> {
    // SAFETY: forwarded from this function's contract.
    unsafe { context::context_ref(ctx) }.map(|c| c.state())
}

/// The configuration the filter module whose FilterModuleContext is `ctx` read at attach, or
/// `None` for NULL.
///
/// # Safety
/// As for [`module_stats`].
pub unsafe fn module_config(ctx: NDIS_HANDLE) -> Option<crate::config::ModuleConfig> {
    // SAFETY: forwarded from this function's contract.
    unsafe { context::context_ref(ctx) }.map(|c| c.config())
}
