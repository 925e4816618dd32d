//! A whole adapter stack in the order NDIS drives it: start, pause (protocol, filter, miniport),
//! restart bottom-up, stop for good, and NdisFRestartFilter's scheduled pause + restart.

use super::lifecycle::{attach, detach, pause_module, restart_module};
use super::pnp::pre_detach;
use super::send::proto_send;
use super::threads::{pnp_begin, pnp_end};
use super::{lifecycle_deadline, run_until};
use crate::world::{self, Event, ModState};

/// Brings an adapter's stack up: miniport, attach, restart, protocol.
pub(crate) fn start_stack(a: usize) -> bool {
    pnp_begin(a);
    let r = start_stack_now(a);
    pnp_end(a);
    r
}

fn start_stack_now(a: usize) -> bool {
    world::with(|w| w.adapters[a].mp.running = true);
    if !attach(a) || !restart_module(a) {
        return false;
    }
    proto_restart(a);
    true
}

fn proto_restart(a: usize) {
    world::with(|w| {
        let ad = &mut w.adapters[a];
        ad.proto.running = true;
        ad.mp.running = true;
        if !ad.tx_ticking && ad.tx_target > 0 {
            ad.tx_ticking = true;
            w.sched.after(1, Event::ProtoSendTick(a));
        }
        let ad = &mut w.adapters[a];
        if !ad.rx_ticking {
            ad.rx_ticking = true;
            w.sched.after(1, Event::MpRxTick(a));
        }
        if w.adapters[a].proto.oids_to_issue > 0 && !w.adapters[a].proto.oid_busy {
            w.sched.after(1, Event::ProtoOidTick(a));
        }
        // Status indications from below and PnP events from NDIS, at random times while up.
        for _ in 0..w.rng.range(1, 3) {
            let t = w.rng.range(500, 20_000);
            w.sched.after(t, Event::Status(a));
        }
        let t = w.rng.range(500, 20_000);
        w.sched.after(t, Event::NetPnp(a));
        let t = w.rng.range(500, 20_000);
        w.sched.after(t, Event::DevicePnp(a));
        super::fault::start_shim(w, a);
    });
}

/// Pauses a stack as NDIS does: protocol first (waits for its sends), then the filter (waits for
/// NdisFPauseComplete), then the miniport (waits for its receives to come back).
///
/// Sometimes (`Randomization::pause_with_sends_below_percent`) NDIS does not wait for the protocol's
/// sends: FilterPause comes at once, while the miniport still holds some of them (queued, on the
/// wire or in a completion batch); they complete only after FilterPause returned, so the
/// filter's last send completion must complete the pause.
pub(crate) fn pause_stack(a: usize, probe: bool) -> bool {
    pnp_begin(a);
    let r = pause_stack_now(a, probe);
    pnp_end(a);
    r
}

fn pause_stack_now(a: usize, probe: bool) -> bool {
    let overlap = world::with(|w| {
        w.adapters[a].proto.running = false;
        w.adapters[a].proto.outstanding > 0
            && w.rng.chance(w.cfg.random.pause_with_sends_below_percent)
    });
    if overlap != Some(true) {
        let dl = lifecycle_deadline();
        run_until(|w| w.adapters[a].proto.outstanding == 0, dl);
    }
    if world::with(|w| w.halted).unwrap_or(true) {
        return false;
    }
    if !pause_module(a, probe) {
        return false;
    }
    if probe {
        proto_send(a, true);
    }
    world::with(|w| w.adapters[a].mp.running = false);
    let dl = lifecycle_deadline();
    run_until(
        |w| w.adapters[a].mp.rx_outstanding == 0 && w.adapters[a].mp.tx_queue.is_empty(),
        dl,
    );
    world::with(|w| !w.halted).unwrap_or(false)
}

/// Restarts a paused stack bottom-up: miniport, SetModuleOptions + FilterRestart, protocol.
pub(crate) fn restart_stack(a: usize) -> bool {
    pnp_begin(a);
    let r = restart_stack_now(a);
    pnp_end(a);
    r
}

fn restart_stack_now(a: usize) -> bool {
    world::with(|w| w.adapters[a].mp.running = true);
    if !restart_module(a) {
        return false;
    }
    proto_restart(a);
    true
}

/// NdisFRestartFilter's scheduled work: pause the stack and restart it.
#[allow(clippy::collapsible_match)]
pub(super) fn restart_filter(a: usize) {
    let state = world::with(|w| w.adapters[a].module.state);
    match state {
        Some(ModState::Running) => {
            if pause_stack(a, false) {
                restart_stack(a);
            }
        }
        Some(ModState::Paused) => {
            restart_stack(a);
        }
        Some(ModState::Pausing | ModState::Restarting) => {
            world::with(|w| w.sched.after(10_000, Event::RestartFilter(a)));
        }
        _ => {}
    }
}

/// Takes a stack down for good: NetEventFilterPreDetach, pause, detach.
pub(crate) fn stop_stack(a: usize) {
    pnp_begin(a);
    stop_stack_now(a);
    pnp_end(a);
}

fn stop_stack_now(a: usize) {
    let state = world::with(|w| w.adapters[a].module.state);
    if state == Some(ModState::Running) {
        pre_detach(a);
        if !pause_stack(a, false) {
            return;
        }
    } else if state == Some(ModState::Paused) {
        pre_detach(a);
    }
    // NDIS detaches a filter module only once the OID requests in its stack are done: the
    // protocol's unbind waits for its own requests.
    let dl = lifecycle_deadline();
    run_until(
        |w| !w.adapters[a].proto.oid_busy && !w.oid_below.values().any(|b| b.adapter == a),
        dl,
    );
    detach(a);
}
