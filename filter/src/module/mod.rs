//! The filter module: one instance per adapter stack the filter is attached to. Safe Rust only —
//! the trampolines in [`crate::ndis`] turn NDIS's raw arguments into the wrappers used here.
//!
//! - [`state`] — the explicit module state machine.
//! - [`gate`] — the lock-free pause gate (state + outstanding NBLs in one atomic word).
//! - [`sync`] — the atomic word abstraction the gate is generic over (for loom).
//! - `datapath` — pass-through send, send-complete, cancel, receive and return.
//! - `requests` — OID forwarding, status indications and PnP events.
//! - `stats` — per-module counters, read as [`ModuleStats`].

mod datapath;
pub mod gate;
mod requests;
pub mod state;
mod stats;
pub mod sync;

pub use gate::{Leave, PauseGate};
pub use state::{IllegalTransition, ModuleEvent, ModuleState};
pub use stats::ModuleStats;

use crate::ndis::consts::{NDIS_STATUS_FAILURE, NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS};
use crate::ndis::types::NDIS_STATUS;
use crate::ndis::{AttachParameters, FilterHandle, PauseParameters, RestartParameters};
use stats::Counters;

/// What the filter learnt about its adapter at attach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Interface index of the filter module.
    pub if_index: u32,
    /// Interface index of the miniport below the stack.
    pub miniport_if_index: u32,
    /// The adapter's MAC address (first `mac_len` bytes).
    pub mac: [u8; 32],
    /// Bytes used in `mac`.
    pub mac_len: usize,
    /// Transmit link speed at attach, bits/s.
    pub xmit_link_speed: u64,
    /// The path group the module balances and fails over within; [`NOT_TEAMED`] when it is in
    /// none. It will come from the module's configuration; until that is read, every module is
    /// [`NOT_TEAMED`].
    pub path_group: u32,
}

/// The path group id of a module that is in no path group.
pub const NOT_TEAMED: u32 = 0;

impl ModuleInfo {
    /// The MAC address bytes.
    pub fn mac_address(&self) -> &[u8] {
        &self.mac[..self.mac_len]
    }
}

/// The state of one attached filter module: the FilterModuleContext NDIS passes to every module
/// callback.
pub struct Module {
    handle: FilterHandle,
    gate: PauseGate,
    counters: Counters,
    info: ModuleInfo,
}

impl Module {
    /// A module for a FilterAttach in progress (state Attaching). The trampoline then registers
    /// it with `NdisFSetAttributes` and reports the outcome with [`Module::attach_succeeded`] or
    /// [`Module::attach_failed`].
    pub fn attach(handle: FilterHandle, params: &AttachParameters<'_>) -> Module {
        let mac_src = params.mac_address();
        let mut mac = [0; 32];
        mac[..mac_src.len()].copy_from_slice(mac_src);
        let module = Module {
            handle,
            gate: PauseGate::new(),
            counters: Counters::default(),
            info: ModuleInfo {
                if_index: params.if_index(),
                miniport_if_index: params.base_miniport_if_index(),
                mac,
                mac_len: mac_src.len(),
                xmit_link_speed: params.xmit_link_speed(),
                path_group: NOT_TEAMED,
            },
        };
        module.apply(ModuleEvent::Attach);
        module
    }

    /// FilterAttach is about to return SUCCESS: Attaching → Paused.
    pub fn attach_succeeded(&self) {
        self.apply(ModuleEvent::AttachSucceeded);
    }

    /// FilterAttach is about to fail: Attaching → Detached (the trampoline then frees the module).
    pub fn attach_failed(&self) {
        self.apply(ModuleEvent::AttachFailed);
    }

    /// FilterDetach: Paused → Detached. Detach cannot fail; the trampoline frees the module after.
    pub fn detach(&self) {
        self.apply(ModuleEvent::Detach);
    }

    /// FilterSetModuleOptions: the pass-through filter registers no optional handlers.
    pub fn set_module_options(&self) -> NDIS_STATUS {
        NDIS_STATUS_SUCCESS
    }

    /// FilterRestart: Paused → Restarting → Running.
    pub fn restart(&self, _params: &RestartParameters<'_>) -> NDIS_STATUS {
        if !self.apply(ModuleEvent::Restart) {
            return NDIS_STATUS_FAILURE;
        }
        // Nothing can fail in a pass-through restart.
        self.apply(ModuleEvent::RestartSucceeded);
        self.counters.restarts.inc();
        NDIS_STATUS_SUCCESS
    }

    /// FilterPause: Running → Pausing, returning PENDING while forwarded NBLs are out (the last
    /// completion or return then calls `NdisFPauseComplete`), or → Paused and SUCCESS when none
    /// is. Pause cannot fail: an out-of-order pause is counted and answered SUCCESS.
    pub fn pause(&self, _params: &PauseParameters<'_>) -> NDIS_STATUS {
        self.counters.pauses.inc();
        match self.gate.transition(ModuleEvent::Pause) {
            Ok(ModuleState::Pausing) => {
                self.counters.pauses_pended.inc();
                NDIS_STATUS_PENDING
            }
            Ok(_) => NDIS_STATUS_SUCCESS,
            Err(_) => {
                self.counters.protocol_errors.inc();
                NDIS_STATUS_SUCCESS
            }
        }
    }

    /// The module's current state.
    pub fn state(&self) -> ModuleState {
        self.gate.state()
    }

    /// A snapshot of the module's counters.
    pub fn stats(&self) -> ModuleStats {
        self.counters.snapshot()
    }

    /// What the module learnt at attach.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// The module's NdisFilterHandle.
    pub fn handle(&self) -> FilterHandle {
        self.handle
    }

    /// Applies a lifecycle event; an illegal one (an NDIS ordering bug) changes nothing and is
    /// counted. Returns whether it applied.
    fn apply(&self, event: ModuleEvent) -> bool {
        let applied = self.gate.transition(event).is_ok();
        if !applied {
            self.counters.protocol_errors.inc();
        }
        applied
    }

    /// Finishes a [`PauseGate::leave`]: completes the pause if this was the last NBL out.
    fn finish_leave(&self, leave: Leave) {
        if leave.underflow {
            self.counters.protocol_errors.inc();
        }
        if leave.pause_completed {
            self.handle.pause_complete();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_may_be_used_from_every_processor() {
        // NDIS calls a module's callbacks concurrently on any CPU through the same context.
        fn shared_across_cpus<T: Send + Sync>() {}
        shared_across_cpus::<Module>();
        shared_across_cpus::<FilterHandle>();
    }

    #[test]
    fn module_info_exposes_only_the_used_mac_bytes() {
        let mut info = ModuleInfo {
            mac_len: 6,
            ..ModuleInfo::default()
        };
        info.mac[..6].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        assert_eq!(info.mac_address(), [2, 0, 0, 0, 0, 9]);
    }
}
