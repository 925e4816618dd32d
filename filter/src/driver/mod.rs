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
//! - `control` — the control device (`\\Device\\MpFilter`) and its IOCTL dispatch; `counters` —
//!   a module's counters on its wire.
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
mod control;
mod counters;
pub mod entry;
pub mod publish;
pub mod registry;
mod state;
mod team;

pub use counters::from_values as module_stats_from_counters;
pub use team::{GroupSnapshot, MemberSnapshot};
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

/// The path group of the filter module whose FilterModuleContext is `ctx`, as it is now (members,
/// their paths' states and counters, their modules' counters); `None` for NULL or a module in no
/// group. Takes the control-plane lock; any IRQL <= DISPATCH_LEVEL.
///
/// # Safety
/// As for [`module_stats`].
pub unsafe fn group_snapshot(ctx: NDIS_HANDLE) -> Option<GroupSnapshot> {
    // SAFETY: forwarded from this function's contract.
    let c = unsafe { context::context_ref(ctx) }?;
    c.driver().team.snapshot(c.module())
}

/// An administrator fails (`fail`) or reinstates the path of the filter module whose
/// FilterModuleContext is `ctx` — what the control device's IOCTL will call. Reinstating is also
/// the approval a path waits for under manual failback. Returns false for NULL or a module in no
/// group. Takes the control-plane lock; any IRQL <= DISPATCH_LEVEL.
///
/// # Safety
/// As for [`module_stats`].
pub unsafe fn admin_path(ctx: NDIS_HANDLE, fail: bool) -> bool {
    // SAFETY: forwarded from this function's contract.
    let Some(c) = (unsafe { context::context_ref(ctx) }) else {
        return false;
    };
    if c.team_position().is_none() {
        return false;
    }
    c.driver()
        .team
        .member_changed(c.module(), team::MemberChange::Admin { fail });
    true
}

/// Issues the filter's own mpshim health query (`OID_MPSHIM_HEALTH`) down the stack of the
/// filter module whose FilterModuleContext is `ctx`; `None` for NULL. The answer is read with
/// [`shim_health`]. IRQL <= DISPATCH_LEVEL.
///
/// # Safety
/// As for [`module_stats`].
pub unsafe fn query_shim_health(ctx: NDIS_HANDLE) -> Option<crate::module::HealthQueryStart> {
    // SAFETY: forwarded from this function's contract.
    unsafe { context::context_ref(ctx) }.map(|c| c.query_shim_health())
}

/// The miniport's mpshim health as the last answered query of the filter module whose
/// FilterModuleContext is `ctx` reported it; `None` for NULL or no answer yet.
///
/// # Safety
/// As for [`module_stats`].
pub unsafe fn shim_health(ctx: NDIS_HANDLE) -> Option<mpshim::contract::HealthSnapshot> {
    // SAFETY: forwarded from this function's contract.
    unsafe { context::context_ref(ctx) }.and_then(|c| c.shim_health())
}

/// Sets the miniport's mpshim monitor settings (`OID_MPSHIM_HEALTH` set, the filter's own
/// request) under the filter module whose FilterModuleContext is `ctx`; `None` for NULL.
///
/// # Safety
/// As for [`module_stats`].
pub unsafe fn set_shim_settings(
    ctx: NDIS_HANDLE,
    settings: &mpshim::contract::Settings,
) -> Option<crate::module::HealthQueryStart> {
    // SAFETY: forwarded from this function's contract.
    unsafe { context::context_ref(ctx) }.map(|c| c.set_shim_settings(settings))
}
