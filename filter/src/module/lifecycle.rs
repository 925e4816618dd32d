//! The module lifecycle: FilterAttach, FilterSetModuleOptions, FilterRestart, FilterPause and
//! FilterDetach, driving the state machine of [`super::state`] through the pause gate.
//!
//! IRQL and serialisation (shared reference, ndis-lwf-facts §1–2): NDIS calls all five at
//! PASSIVE_LEVEL. It moves a module through its states one operation at a time — attach, then
//! restart only from Paused, pause only from Running, detach only from Paused — so these entry
//! points never overlap each other for one module. They do overlap the data path: sends and
//! receives may arrive on other CPUs while the module pauses (the gate rejects them), and the
//! completions that end a pause run on whatever CPU finishes the last NBL.

use super::{
    Counters, IllegalTransition, Leave, Module, ModuleEvent, ModuleInfo, ModuleState, NOT_TEAMED,
    PauseGate, UNSEATED,
};
use crate::config::{MacMode, ModuleConfig};
use crate::diag::{self, Event};
use crate::ndis::NblPool;
use crate::ndis::consts::{
    MEDIA_CONNECT_STATE_DISCONNECTED, NDIS_STATUS_FAILURE, NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS,
};
use crate::ndis::types::NDIS_STATUS;
use crate::ndis::{AttachParameters, FilterHandle, RestartParameters};
use core::sync::atomic::{AtomicU16, Ordering};

impl Module {
    /// FilterAttach: a module for the attach in progress (state Attaching). The driver then
    /// registers it with `NdisFSetAttributes` and reports the outcome with
    /// [`Module::attach_succeeded`] or [`Module::attach_failed`].
    ///
    /// IRQL: PASSIVE_LEVEL. Serialised: the first operation on the module; nothing else can reach
    /// it before FilterAttach returns.
    pub fn attach(handle: FilterHandle, params: &AttachParameters<'_>) -> Module {
        let mac_src = params.mac_address();
        let mut mac = [0; 32];
        mac[..mac_src.len()].copy_from_slice(mac_src);
        let config = super::configure::read(handle);
        let path_group = match config {
            ModuleConfig::Teamed { group_id, .. } => group_id,
            ModuleConfig::NotTeamed => NOT_TEAMED,
        };
        let teamed = matches!(config, ModuleConfig::Teamed { .. });
        let module = Module {
            pool: if teamed {
                NblPool::for_clones(handle)
            } else {
                None
            },
            parking: teamed.then(super::parking::Parking::new),
            health: super::health::HealthQuery::new(),
            team_position: AtomicU16::new(UNSEATED),
            context_backfill: AtomicU16::new(0),
            receive_filter: super::loopback::ReceiveFilter::default(),
            capability: super::capability::Capability::default(),
            last_offload: teamed.then(super::capability::LastOffload::new),
            prober: prober_for(handle, &config, mac_src),
            team_filter: teamed.then(super::takeover::TeamFilter::new),
            rewrite: rewrite_for(handle, &config),
            handle,
            gate: PauseGate::new(),
            counters: Counters::default(),
            info: ModuleInfo {
                if_index: params.if_index(),
                miniport_if_index: params.base_miniport_if_index(),
                mac,
                mac_len: mac_src.len(),
                xmit_link_speed: params.xmit_link_speed(),
                path_group,
                connected: params.media_connect_state() != MEDIA_CONNECT_STATE_DISCONNECTED,
            },
            config,
        };
        let own = params.offload_limits().unwrap_or_default();
        module.capability.set_offload(own);
        module.capability.set_presented_offload(own);
        if let (Some(last), Some(bytes)) = (&module.last_offload, params.offload_bytes()) {
            last.store(bytes);
        }
        module.apply(ModuleEvent::Attach);
        module
    }

    /// FilterAttach is about to return SUCCESS: Attaching → Paused.
    ///
    /// IRQL: PASSIVE_LEVEL, inside FilterAttach.
    pub fn attach_succeeded(&self) {
        self.apply(ModuleEvent::AttachSucceeded);
        diag::emit(
            self.handle,
            Event::ModuleAttached {
                if_index: self.info.if_index,
                miniport_if_index: self.info.miniport_if_index,
            },
        );
    }

    /// FilterAttach is about to fail: Attaching → Detached (the driver then frees the module).
    ///
    /// IRQL: PASSIVE_LEVEL, inside FilterAttach.
    pub fn attach_failed(&self) {
        self.apply(ModuleEvent::AttachFailed);
        diag::emit(
            self.handle,
            Event::ModuleAttachFailed {
                if_index: self.info.if_index,
            },
        );
    }

    /// FilterDetach: Paused → Detached. Detach cannot fail; the driver frees the module after.
    ///
    /// IRQL: PASSIVE_LEVEL. Serialised: the last operation on the module, only from Paused, so no
    /// NBL of the module is outstanding and no other callback of it runs.
    pub fn detach(&self) {
        self.apply(ModuleEvent::Detach);
        diag::emit(
            self.handle,
            Event::ModuleDetached {
                if_index: self.info.if_index,
            },
        );
    }

    /// FilterSetModuleOptions: the pass-through filter registers no optional handlers.
    ///
    /// IRQL: PASSIVE_LEVEL. Serialised: called while the module is Paused, before its restart.
    pub fn set_module_options(&self) -> NDIS_STATUS {
        NDIS_STATUS_SUCCESS
    }

    /// FilterRestart: Paused → Restarting → Running.
    ///
    /// IRQL: PASSIVE_LEVEL. Serialised: only from Paused, never with a pause or detach of the same
    /// module. Data-path calls that race it are rejected until the gate says Running.
    pub fn restart(&self, params: &RestartParameters<'_>) -> NDIS_STATUS {
        if !self.apply(ModuleEvent::Restart) {
            return NDIS_STATUS_FAILURE;
        }
        // Restarting is when a filter sizes what it sends from the drivers below; no send is in
        // flight here, and the next one starts after this store.
        let general = params.general();
        self.capability.set_mtu(general.map_or(0, |g| g.mtu));
        let backfill = general.map_or(0, |g| g.context_backfill);
        self.context_backfill.store(
            u16::try_from(backfill).unwrap_or(u16::MAX),
            Ordering::Relaxed,
        );
        // A packet filter the team changed while this module could not issue requests.
        self.push_packet_filter();
        // Nothing can fail in a pass-through restart.
        self.apply(ModuleEvent::RestartSucceeded);
        self.counters.restarts.inc();
        diag::emit(
            self.handle,
            Event::ModuleRestarted {
                if_index: self.info.if_index,
            },
        );
        NDIS_STATUS_SUCCESS
    }

    /// FilterPause: Running → Pausing, returning PENDING while forwarded NBLs are out (the last
    /// completion or return then calls `NdisFPauseComplete`), or → Paused and SUCCESS when none
    /// is. Pause cannot fail: an out-of-order pause is counted and answered SUCCESS.
    ///
    /// IRQL: PASSIVE_LEVEL. Serialised: only from Running, never with a restart or detach of the
    /// same module; concurrent with sends, receives and their completions on other CPUs, which
    /// the pause gate orders against it.
    pub fn pause(&self) -> NDIS_STATUS {
        self.counters.pauses.inc();
        match self.gate.transition(ModuleEvent::Pause) {
            Ok(ModuleState::Pausing) => {
                self.counters.pauses_pended.inc();
                diag::emit(
                    self.handle,
                    Event::ModulePaused {
                        if_index: self.info.if_index,
                        pended: true,
                    },
                );
                NDIS_STATUS_PENDING
            }
            Ok(_) => {
                diag::emit(
                    self.handle,
                    Event::ModulePaused {
                        if_index: self.info.if_index,
                        pended: false,
                    },
                );
                NDIS_STATUS_SUCCESS
            }
            Err(illegal) => {
                self.rejected(illegal);
                NDIS_STATUS_SUCCESS
            }
        }
    }

    /// The module's current state. Any IRQL, any CPU.
    pub fn state(&self) -> ModuleState {
        self.gate.state()
    }

    /// Applies a lifecycle event; an illegal one (an NDIS ordering bug) changes nothing and is
    /// counted. Returns whether it applied.
    fn apply(&self, event: ModuleEvent) -> bool {
        let result = self.gate.transition(event);
        if let Err(illegal) = result {
            self.rejected(illegal);
        }
        result.is_ok()
    }

    /// Counts and reports a lifecycle event NDIS delivered in a state where it is illegal.
    fn rejected(&self, illegal: IllegalTransition) {
        self.counters.protocol_errors.inc();
        diag::emit(
            self.handle,
            Event::LifecycleRejected {
                if_index: self.info.if_index,
                state: illegal.from,
                event: illegal.event.into(),
            },
        );
    }

    /// Finishes a [`PauseGate::leave`] of a send completion or receive return: completes the
    /// pause if this was the last NBL out. Runs at the caller's IRQL (<= DISPATCH_LEVEL).
    pub(super) fn finish_leave(&self, leave: Leave) {
        if leave.underflow {
            self.counters.protocol_errors.inc();
        }
        if leave.pause_completed {
            // Before NdisFPauseComplete: once it returns NDIS may detach and free this module.
            diag::emit(
                self.handle,
                Event::ModulePauseCompleted {
                    if_index: self.info.if_index,
                },
            );
            self.handle.pause_complete();
        }
    }
}

/// The probe of a teamed module whose configuration names a target (an Ethernet MAC is needed
/// for the frames); `None` otherwise, or without resources (the path is then not probed).
fn rewrite_for(handle: FilterHandle, config: &ModuleConfig) -> Option<super::rewrite::Rewrite> {
    let ModuleConfig::Teamed { group, .. } = config else {
        return None;
    };
    if group.mac_mode != MacMode::Rewrite {
        return None;
    }
    super::rewrite::Rewrite::new(handle, group.announce_count, group.announce_interval_ms)
}

fn prober_for(
    handle: FilterHandle,
    config: &ModuleConfig,
    mac: &[u8],
) -> Option<super::probe::Prober> {
    let ModuleConfig::Teamed { member, .. } = config else {
        return None;
    };
    let target = member.probe_target?;
    let mac: [u8; 6] = mac.try_into().ok()?;
    super::probe::Prober::new(handle, target, mac, member.probe_interval_ms)
}
