//! The filter module: one instance per adapter stack the filter is attached to. Safe Rust only —
//! the driver's callbacks (`crate::driver`) turn NDIS's raw arguments into the [`crate::ndis`]
//! wrappers used here, and call one entry point of [`Module`] per NDIS callback.
//!
//! Entry points, one file per concern (each entry point's doc gives its IRQL and what NDIS
//! serialises it against):
//! - `lifecycle` — attach, set module options, restart, pause, detach, and the module's state.
//! - `send` — FilterSendNetBufferLists and FilterCancelSendNetBufferLists.
//! - `send_complete` — FilterSendNetBufferListsComplete.
//! - `receive` — FilterReceiveNetBufferLists and FilterReturnNetBufferLists.
//! - `oid` — FilterOidRequest, FilterOidRequestComplete, FilterCancelOidRequest.
//! - `status` — FilterStatus, FilterNetPnPEvent, FilterDevicePnPEventNotify.
//!
//! What they share:
//! - [`state`] — the explicit module state machine.
//! - [`gate`] — the lock-free pause gate (state + outstanding NBLs in one atomic word).
//! - [`sync`] — the atomic word abstraction the gate is generic over (for loom).
//! - `stats` — per-module counters, read as [`ModuleStats`].
//!
//! The data-path entry points (`send`, `send_complete`, `receive`) allocate nothing and take no
//! lock: one CAS on the pause gate per call, relaxed counter increments, and a walk of the chain to
//! count it and its bytes.

mod announce;
pub mod capability;
mod configure;
pub mod drain_turn;
pub mod gate;
mod health;
mod lifecycle;
mod loopback;
mod oid;
mod parking;
mod probe;
mod receive;
mod rewrite;
pub mod route;
mod send;
mod send_complete;
pub mod state;
mod stats;
mod status;
pub mod sync;
mod takeover;
mod teamed;

pub use gate::{Leave, PauseGate};
pub use health::HealthQueryStart;
pub use loopback::MAX_MULTICAST;
pub use parking::PARK_MAX_NBLS;
pub use probe::ProbeVerdict;
pub use state::{IllegalTransition, ModuleEvent, ModuleState};
pub use stats::ModuleStats;

use crate::config::ModuleConfig;
use crate::ndis::{FilterHandle, NblChain, NblPool};
use core::sync::atomic::{AtomicU16, Ordering};
use route::NONE;

/// A module's team position when it is in no group.
const UNSEATED: u16 = u16::from_le_bytes([NONE, NONE]);
use stats::Counters;

/// The number of NBLs in `chain`, as the gate and the counters count them.
fn count(chain: &NblChain) -> u64 {
    chain.len() as u64
}

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
    /// The path group the module balances and fails over within: the `GroupId` of its
    /// configuration, [`NOT_TEAMED`] when it has none or a value was refused.
    pub path_group: u32,
    /// Whether the media was connected at attach (anything but MediaConnectStateDisconnected).
    pub connected: bool,
}

/// The path group id of a module that is in no path group.
pub const NOT_TEAMED: u32 = 0;

impl ModuleInfo {
    /// The MAC address bytes.
    pub fn mac_address(&self) -> &[u8] {
        &self.mac[..self.mac_len]
    }
}

/// The state of one attached filter module. The driver keeps it in the FilterModuleContext NDIS
/// passes to every module callback, and calls one entry point of it per callback.
pub struct Module {
    handle: FilterHandle,
    gate: PauseGate,
    counters: Counters,
    info: ModuleInfo,
    config: ModuleConfig,
    /// The pool clones of other members' NBLs come from (teamed modules only).
    pool: Option<NblPool>,
    /// NBLs waiting for a path (teamed modules only).
    parking: Option<parking::Parking>,
    /// The filter's own query of the miniport's mpshim health, and its last answer.
    health: Option<health::HealthQuery>,
    /// The module's place in a path group: the group's index in the driver's group table in the
    /// high byte, its seat in the low one; [`UNSEATED`] when in none. One word, so that a reader
    /// never pairs a group with a seat in another.
    team_position: AtomicU16,
    /// NBL context backfill the drivers below asked for in the last restart attributes
    /// (`ContextBackFillSize`): reserved in front of the filter's own context on every NBL it
    /// sends down this stack, its own and other members' clones alike.
    context_backfill: AtomicU16,
    /// What the protocol above set of its receive filter (for the send loopback a teamed module
    /// provides).
    receive_filter: loopback::ReceiveFilter,
    /// What this module's stack can carry (LSO limits, MTU), for NBLs other members send down it.
    capability: capability::Capability,
    /// Its stack's last full offload configuration (teamed modules only).
    last_offload: Option<capability::LastOffload>,
    /// The filter's own probe of this path (teamed modules with a `ProbeTarget`).
    prober: Option<probe::Prober>,
    /// The team's share of the packet filter (teamed modules only).
    team_filter: Option<takeover::TeamFilter>,
    /// Rewrite mode's header slots, learnt addresses and announcements (teamed modules with
    /// `MacMode = rewrite`).
    rewrite: Option<rewrite::Rewrite>,
}

impl Module {
    /// The configuration read at attach ([`ModuleConfig::NotTeamed`] when none was set or a
    /// value was refused). Any IRQL.
    pub fn config(&self) -> ModuleConfig {
        self.config
    }

    /// A snapshot of the module's counters. Any IRQL, any CPU.
    pub fn stats(&self) -> ModuleStats {
        let mut stats = self.counters.snapshot();
        stats.send_nbls_parked_now = self.parking.as_ref().map_or(0, |p| u64::from(p.len()));
        stats
    }

    /// What the module learnt at attach.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// The module's NdisFilterHandle.
    pub fn handle(&self) -> FilterHandle {
        self.handle
    }

    /// The context backfill of the stack below, from its last restart attributes (0 before the
    /// first restart or when NDIS gave none). Any IRQL.
    pub fn context_backfill(&self) -> u16 {
        self.context_backfill.load(Ordering::Relaxed)
    }

    /// The module's (group index, seat) while it is a member of a path group.
    pub fn team_position(&self) -> Option<(usize, u8)> {
        let [seat, group] = self.team_position.load(Ordering::Acquire).to_le_bytes();
        (group != NONE).then_some((usize::from(group), seat))
    }

    /// Records the module's place in a path group (the driver's control plane, under its lock):
    /// both [`NONE`] when it leaves its group.
    pub fn set_team_position(&self, group: u8, seat: u8) {
        debug_assert_eq!(
            group == NONE,
            seat == NONE,
            "a group and a seat, or neither"
        );
        self.team_position
            .store(u16::from_le_bytes([seat, group]), Ordering::Release);
    }

    /// The module's seat in its group ([`NONE`] when in none).
    pub fn seat(&self) -> u8 {
        self.team_position.load(Ordering::Acquire).to_le_bytes()[0]
    }

    /// The module's group was full (or the group table was): it passes traffic through.
    pub fn team_refused(&self) {
        self.counters.team_refusals.inc();
    }

    /// The module's group-wide setting `key` (the first that differs) is not its group's; the
    /// group's stays. Counted and reported.
    pub fn team_settings_ignored(&self, group: u32, key: &'static str) {
        self.counters.team_settings_ignored.inc();
        if let Some(key) = configure::key_code(key) {
            // Group ids are reported in 16 bits.
            #[allow(clippy::cast_possible_truncation)]
            crate::diag::emit(
                self.handle,
                crate::diag::Event::GroupSettingIgnored {
                    group: group as u16,
                    key,
                },
            );
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
