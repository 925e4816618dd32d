//! Scheduled faults of a miniport and its wire ([`Fault`]): link state with its indication,
//! blackholes, error completions, rate changes, stalls, flapping, and lifecycle operations NDIS
//! starts at a chosen virtual time.

use super::stack::{pause_stack, restart_stack, start_stack, stop_stack};
use super::status::{mp_private_status, mp_status};
use crate::sched::Nanos;
use crate::wire::{Fault, ShimDefect};
use crate::world::{self, Event, ModState, World};

/// Faults in force on one miniport and its wire.
#[derive(Clone, Debug)]
pub(crate) struct LinkState {
    /// Media connected.
    pub up: bool,
    /// Frames transmitted vanish (completions still succeed).
    pub blackhole: bool,
    /// The next this-many NBLs complete with this status.
    pub errors: Option<(i32, u32)>,
    /// Until when the miniport neither transmits nor completes.
    pub stalled_until: Nanos,
    /// Speeds the link had before its `Rate` changes (an OID the miniport answered before a
    /// change may reach the protocol after it).
    pub past_speeds: Vec<u64>,
}

impl Default for LinkState {
    fn default() -> Self {
        LinkState {
            up: true,
            blackhole: false,
            errors: None,
            stalled_until: 0,
            past_speeds: Vec::new(),
        }
    }
}

/// What becomes of an NBL the miniport finished transmitting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// On the wire and delivered at the far end.
    Deliver,
    /// On the wire, then lost without a trace.
    Vanish,
    /// Never on the wire; completes with this status.
    Fail(i32),
}

/// Decides (and consumes an error completion for) the NBL adapter `a` just finished.
pub(crate) fn fate(w: &mut World, a: usize) -> Fate {
    let link = &mut w.adapters[a].mp.link;
    if !link.up {
        return Fate::Fail(mpfilter::ndis::consts::NDIS_STATUS_MEDIA_DISCONNECTED);
    }
    if let Some((status, left)) = link.errors {
        link.errors = (left > 1).then_some((status, left - 1));
        return Fate::Fail(status);
    }
    if link.blackhole {
        Fate::Vanish
    } else {
        Fate::Deliver
    }
}

/// Until when adapter `a`'s miniport is stalled, if it is now.
pub(crate) fn stalled(w: &World, a: usize) -> Option<Nanos> {
    let until = w.adapters[a].mp.link.stalled_until;
    (until > w.now()).then_some(until)
}

/// Queues `fault` for adapter `a` at absolute virtual time `at` (a flap is expanded here).
pub(crate) fn schedule(w: &mut World, a: usize, at: Nanos, fault: Fault) {
    if let Fault::Flap { period, until } = fault {
        let period = period.max(1);
        let mut t = at;
        let mut down = true;
        while t < until {
            let f = if down { Fault::LinkDown } else { Fault::LinkUp };
            w.sched.at(t, Event::Fault(a, f));
            down = !down;
            t = t.saturating_add(period);
        }
        if !down {
            w.sched.at(until, Event::Fault(a, Fault::LinkUp));
        }
        return;
    }
    w.sched.at(at, Event::Fault(a, fault));
}

/// A scheduled fault is due.
pub(super) fn apply(a: usize, fault: Fault) {
    let lifecycle = world::with(|w| {
        let state = w.adapters[a].module.state;
        let now = w.now();
        let link = &mut w.adapters[a].mp.link;
        match fault {
            Fault::LinkDown | Fault::LinkUp => {
                link.up = fault == Fault::LinkUp;
                if !link.up {
                    super::fabric::link_down(w, a);
                }
                let ad = &mut w.adapters[a];
                if let Some(m) = ad.mp.shim.as_mut() {
                    m.on_link(ad.mp.link.up, now);
                }
                if ad.mp.link.up && ad.mp.running && !ad.rx_ticking {
                    ad.rx_ticking = true;
                    w.sched.after(1, Event::MpRxTick(a));
                }
                None
            }
            Fault::Blackhole(on) => {
                link.blackhole = on;
                None
            }
            Fault::ErrorCompletions { status, count } => {
                link.errors = (count > 0).then_some((status, count));
                None
            }
            Fault::Rate(bps) => {
                let old = std::mem::replace(&mut w.adapters[a].cfg.link_speed_bps, bps.max(1));
                w.adapters[a].mp.link.past_speeds.push(old);
                None
            }
            Fault::Stall(d) => {
                link.stalled_until = link.stalled_until.max(now.saturating_add(d));
                None
            }
            // Expanded when scheduled.
            Fault::OffloadChange(lso_max) => {
                w.adapters[a].cfg.lso_max = lso_max;
                None
            }
            Fault::Flap { .. }
            | Fault::ShimPath { .. }
            | Fault::ShimMalformed(_)
            | Fault::MalformedLinkState
            | Fault::ShortLinkState => None,
            Fault::Pause | Fault::Restart | Fault::Detach | Fault::Reattach => Some(state),
        }
    });
    match (fault, lifecycle) {
        (Fault::LinkDown | Fault::LinkUp | Fault::Rate(_), _) => mp_status(a),
        (Fault::OffloadChange(_), _) => super::status::mp_offload_status(a),
        (Fault::MalformedLinkState, _) => super::status::mp_malformed_link_status(a, false),
        (Fault::ShortLinkState, _) => super::status::mp_malformed_link_status(a, true),
        (Fault::ShimPath { failed, sequence }, _) => {
            let if_index = world::with(|w| w.adapters[a].cfg.if_index).unwrap_or(0);
            mp_private_status(a, shim_path_event(failed, sequence, if_index).to_vec());
        }
        (Fault::ShimMalformed(defect), _) => {
            let mut bytes = shim_path_event(true, u32::MAX, 0).to_vec();
            // The 16-byte tag, then the header (type, revision, size), then the event kind.
            match defect {
                ShimDefect::UnknownKind => bytes[20..22].copy_from_slice(&0xFFFF_u16.to_le_bytes()),
                ShimDefect::Truncated => bytes.truncate(bytes.len() - 8),
                ShimDefect::BadRevision => bytes[17] = 0,
            }
            mp_private_status(a, bytes);
        }
        (Fault::Pause, Some(Some(ModState::Running))) => {
            let probe = world::with(|w| w.cfg.pause_probes).unwrap_or(false);
            pause_stack(a, probe);
        }
        (Fault::Restart, Some(Some(ModState::Paused))) => {
            restart_stack(a);
        }
        (Fault::Detach, Some(Some(ModState::Running | ModState::Paused))) => stop_stack(a),
        (Fault::Reattach, Some(Some(ModState::Detached))) => {
            start_stack(a);
        }
        _ => {}
    }
}

/// The bytes of an mpshim path event about the adapter with `if_index`.
fn shim_path_event(
    failed: bool,
    sequence: u32,
    if_index: u32,
) -> [u8; mpshim::contract::PATH_EVENT_LEN_V1] {
    use mpshim::contract::{PathEvent, PathEventKind, PathIdentity, Reason};
    PathEvent {
        kind: if failed {
            PathEventKind::Failed
        } else {
            PathEventKind::Recovered
        },
        reason: if failed {
            Reason::TxTimeout
        } else {
            Reason::Recovered
        },
        sequence,
        path: PathIdentity {
            net_luid: 0,
            if_index,
        },
        at_ns: 0,
        since_ns: 0,
        evidence: mpshim::contract::Evidence::default(),
    }
    .encode()
}

/// Period of the miniport's mpshim monitor tick.
pub(crate) const SHIM_TICK_NS: Nanos = 1_000_000;

/// Starts the mpshim monitor's tick of a miniport that links the shim (when the stack starts).
pub(crate) fn start_shim(w: &mut World, a: usize) {
    let mp = &mut w.adapters[a].mp;
    if mp.shim.is_some() && !mp.shim_ticking {
        mp.shim_ticking = true;
        w.sched.after(SHIM_TICK_NS, Event::ShimTick(a));
    }
}

/// The miniport's timer: ticks the monitor and raises the path event it decides; stops while the
/// miniport is not running.
pub(super) fn shim_tick(a: usize) {
    let event = world::with(|w| {
        let now = w.now();
        let ad = &mut w.adapters[a];
        if !ad.mp.running {
            ad.mp.shim_ticking = false;
            return None;
        }
        let event = ad.mp.shim.as_mut().and_then(|m| m.tick(now));
        let handle = ad.mp.token.addr() as mpshim::indication::NdisHandle;
        w.sched.after(SHIM_TICK_NS, Event::ShimTick(a));
        event.map(|e| (e, handle))
    });
    if let Some(Some((event, handle))) = event {
        // Through mpshim's own miniport edge, with the emulator's NdisMIndicateStatusEx.
        // SAFETY: `emu_indicate_status` honours the NdisMIndicateStatusEx contract; `handle` is
        // the running miniport's handle; the emulator runs callbacks at <= DISPATCH_LEVEL.
        unsafe { mpshim::edge::indicate_path_event(emu_indicate_status, handle, &event) };
    }
}

/// The emulator's NdisMIndicateStatusEx for the miniports that link mpshim: copies the
/// indication's status buffer and raises it through the filter.
///
/// # Safety
/// `indication` is a live NDIS_STATUS_INDICATION whose buffer holds `status_buffer_size` bytes.
unsafe extern "system" fn emu_indicate_status(
    handle: mpshim::indication::NdisHandle,
    indication: *mut mpshim::indication::NdisStatusIndication,
) {
    // SAFETY: the caller's live indication.
    let Some(ind) = (unsafe { indication.as_ref() }) else {
        return;
    };
    if ind.status_buffer.is_null() || ind.status_code != mpshim::contract::STATUS_CODE {
        return;
    }
    // SAFETY: the indicator promises `status_buffer_size` readable bytes.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            ind.status_buffer.cast::<u8>(),
            ind.status_buffer_size as usize,
        )
    }
    .to_vec();
    let a = world::with(|w| {
        w.adapters
            .iter()
            .position(|ad| ad.mp.token.addr() == handle as usize)
    })
    .flatten();
    if let Some(a) = a {
        mp_private_status(a, bytes);
    }
}
