//! What NDIS does on its own initiative: the event loop, the traffic of the emulated protocols and
//! miniports, OIDs and status from above and below, and the lifecycle of each stack (attach,
//! restart, pause, detach, unload) in the order NDIS drives it.
//!
//! Pattern everywhere: decide and update state inside `world::with`, leave it, then call the
//! driver through [`call_filter`] (the driver re-enters the world through the exports).

use crate::callbacks::{self, Handlers};
use crate::frames::{self, Check};
use crate::irql::Irql;
use crate::nblmem::{self, SnapMask};
use crate::rules::{Rule, Subject};
use crate::sched::Nanos;
use crate::world::{
    self, AttachStore, Came, Event, Frame, ModState, NState, OidStore, Op, OrigOid, OrigState,
    Origin, World,
};
use core::ffi::c_void;
use mpfilter::ndis::consts::{
    MEDIA_CONNECT_STATE_CONNECTED, NDIS_FILTER_ATTACH_PARAMETERS_REVISION_4,
    NDIS_FILTER_PAUSE_PARAMETERS_REVISION_1, NDIS_FILTER_RESTART_PARAMETERS_REVISION_1,
    NDIS_LINK_STATE_REVISION_1, NDIS_MEDIUM_802_3, NDIS_OBJECT_TYPE_DEFAULT,
    NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS, NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS,
    NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS, NDIS_OBJECT_TYPE_OID_REQUEST,
    NDIS_OBJECT_TYPE_STATUS_INDICATION, NDIS_OID_REQUEST_REVISION_1,
    NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL, NDIS_RECEIVE_FLAGS_RESOURCES,
    NDIS_REQUEST_QUERY_INFORMATION, NDIS_REQUEST_SET_INFORMATION, NDIS_RETURN_FLAGS_DISPATCH_LEVEL,
    NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL, NDIS_SEND_FLAGS_DISPATCH_LEVEL,
    NDIS_SIZEOF_FILTER_ATTACH_PARAMETERS_REVISION_4,
    NDIS_SIZEOF_FILTER_PAUSE_PARAMETERS_REVISION_1,
    NDIS_SIZEOF_FILTER_RESTART_PARAMETERS_REVISION_1, NDIS_SIZEOF_LINK_STATE_REVISION_1,
    NDIS_SIZEOF_OID_REQUEST_REVISION_1, NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
    NDIS_STATUS_BUFFER_TOO_SHORT, NDIS_STATUS_INDICATION_REVISION_1, NDIS_STATUS_LINK_STATE,
    NDIS_STATUS_NOT_SUPPORTED, NDIS_STATUS_PAUSED, NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS,
    NET_EVENT_FILTER_PRE_DETACH, OID_802_3_CURRENT_ADDRESS, OID_GEN_CURRENT_PACKET_FILTER,
    OID_GEN_LINK_SPEED, OID_GEN_MAXIMUM_FRAME_SIZE,
};
use mpfilter::ndis::types::{
    NDIS_FILTER_ATTACH_PARAMETERS, NDIS_FILTER_PAUSE_PARAMETERS, NDIS_FILTER_RESTART_PARAMETERS,
    NDIS_LINK_STATE, NDIS_OBJECT_HEADER, NDIS_OID_REQUEST, NDIS_STATUS, NDIS_STATUS_INDICATION,
    NET_PNP_EVENT_NOTIFICATION, UNICODE_STRING,
};

/// Direction byte of frames the protocol sends.
pub(crate) const DIR_TX: u8 = 0;
/// Direction byte of frames the miniport receives.
pub(crate) const DIR_RX: u8 = 1;
/// `NDIS_STATUS_INVALID_LENGTH`.
pub(crate) const NDIS_STATUS_INVALID_LENGTH: NDIS_STATUS = 0xC001_0014_u32.cast_signed();
/// An OID number no miniport supports, to exercise failure completions.
pub(crate) const OID_UNSUPPORTED: u32 = 0xFF00_0F01;

/// Calls into the driver with a callback frame pushed and the IRQL set; `None` if there is no
/// registered driver (or module context) to call.
pub(crate) fn call_filter<R>(
    adapter: Option<usize>,
    name: &'static str,
    irql: Irql,
    f: impl FnOnce(&Handlers, *mut c_void) -> R,
) -> Option<R> {
    let (h, ctx, prev) = world::with(|w| {
        let h = w.driver.as_ref()?.handlers;
        let ctx = adapter.map_or(0, |a| w.adapters[a].module.ctx);
        w.frames.push(Frame { name, adapter });
        let prev = w.irql;
        w.irql = irql;
        Some((h, ctx, prev))
    })??;
    let r = f(&h, ctx as *mut c_void);
    world::with(|w| {
        w.frames.pop();
        w.irql = prev;
    });
    Some(r)
}

fn pick_irql(w: &mut World) -> Irql {
    if w.rng.chance(w.cfg.random.dispatch_percent) {
        Irql::Dispatch
    } else {
        Irql::Passive
    }
}

enum Step {
    Done,
    Halted,
    Idle,
    Run(Event),
}

/// Runs events until `pred` holds (true), or the run halts, the queue empties, virtual time
/// passes `deadline` or the event budget is spent (false).
pub(crate) fn run_until(mut pred: impl FnMut(&World) -> bool, deadline: Option<Nanos>) -> bool {
    let Some(budget) = world::with(|w| w.cfg.max_events_per_run) else {
        return false;
    };
    for _ in 0..budget {
        let step = world::with(|w| {
            if w.halted {
                return Step::Halted;
            }
            if pred(w) {
                return Step::Done;
            }
            match w.sched.peek_time() {
                None => Step::Idle,
                Some(t) if deadline.is_some_and(|d| t > d) => Step::Idle,
                Some(_) => w.sched.pop().map_or(Step::Idle, Step::Run),
            }
        });
        match step {
            None | Some(Step::Halted | Step::Idle) => {
                return world::with(|w| !w.halted && pred(w)).unwrap_or(false);
            }
            Some(Step::Done) => return true,
            Some(Step::Run(ev)) => dispatch(ev),
        }
    }
    false
}

fn dispatch(ev: Event) {
    match ev {
        Event::ProtoSendTick(a) => proto_send_tick(a),
        Event::MpRxTick(a) => mp_rx_tick(a),
        Event::TxDone(a) => mp_tx_done(a),
        Event::Complete(a, nbls) => mp_complete(a, nbls),
        Event::ProtoReturn(a, nbls) => proto_return(a, &nbls),
        Event::OidComplete {
            adapter,
            req,
            generation,
            status,
        } => mp_oid_complete(adapter, req, generation, status),
        Event::ProtoOidTick(a) => proto_issue_oid(a),
        Event::RestartFilter(a) => restart_filter(a),
        Event::ProtoOidCancel(a, req) => proto_cancel_oid(a, req),
        Event::Status(a) => mp_status(a),
    }
}

// ---------------------------------------------------------------------------------------------
// Send path: protocol → filter → miniport → completion.

fn proto_send_tick(a: usize) {
    let again = world::with(|w| {
        let ad = &mut w.adapters[a];
        ad.tx_ticking = ad.tx_target > 0 && ad.proto.running;
        if ad.tx_ticking {
            let iv = w.traffic(a).send_interval;
            w.sched.after(iv, Event::ProtoSendTick(a));
        }
        w.adapters[a].tx_ticking
    });
    if again == Some(true) {
        proto_send(a, false);
    }
}

/// Tags a chain the protocol is about to send with a fresh cancel id (it will cancel it).
fn tag_cancel(w: &mut World, a: usize, nbls: &[usize]) -> usize {
    let id = 0x00CA_0000 + usize::try_from(w.adapters[a].stats.tx_cancels).unwrap_or(0);
    w.adapters[a].stats.tx_cancels += 1;
    for &n in nbls {
        // SAFETY: the protocol's own NBL, not yet handed to the filter.
        unsafe { nblmem::nbl_mut(n) }.NetBufferListInfo
            [mpfilter::ndis::consts::NET_BUFFER_LIST_CANCEL_ID] =
            core::ptr::without_provenance_mut(id);
        // The entry snapshot must include the cancel id.
        // SAFETY: n is live.
        let snap = unsafe { nblmem::snapshot(n, SnapMask::Handback) };
        if let Some(t) = w.nbls.get_mut(&n) {
            t.entry_snap = snap;
        }
    }
    id
}

/// The protocol sends one chain; `probe` sends a single NBL whatever the module state (to check
/// that a module that is not Running completes it with NDIS_STATUS_PAUSED).
pub(crate) fn proto_send(a: usize, probe: bool) {
    let plan = world::with(|w| {
        let t = w.traffic(a).clone();
        let ad = &w.adapters[a];
        let n = if probe {
            1
        } else {
            if !ad.proto.running || ad.module.state != ModState::Running {
                return None;
            }
            let room = t.window.saturating_sub(ad.proto.outstanding);
            let want = w.rng.range_usize(1, t.max_chain.max(1));
            want.min(room)
                .min(usize::try_from(w.adapters[a].tx_target).unwrap_or(usize::MAX))
        };
        if n == 0 {
            return None;
        }
        let pool = w.adapters[a].proto.pool;
        let src = w.adapters[a].cfg.mac;
        let handle = w.adapters[a].proto.token.addr();
        let mut nbls = Vec::with_capacity(n);
        for _ in 0..n {
            let nbl = w.pool_alloc(pool, Origin::ProtoTx(a))?;
            let seq = w.adapters[a].proto.tx_seq;
            w.adapters[a].proto.tx_seq += 1;
            let len = w.rng.range_usize(t.frame_len.0, t.frame_len.1);
            // SAFETY: nbl is a live emulator block with a frame buffer and a NET_BUFFER.
            unsafe {
                nblmem::write_frame(nbl, |buf| {
                    frames::build(buf, frames::peer_mac(a), src, seq, a, DIR_TX, len)
                });
            }
            // SAFETY: as above; no other reference to the block is alive.
            let n = unsafe { nblmem::nbl_mut(nbl) };
            n.SourceHandle = handle as *mut c_void;
            // SAFETY: nbl is live.
            let snap = unsafe { nblmem::snapshot(nbl, SnapMask::Handback) };
            let tr = w.nbls.get_mut(&nbl)?;
            tr.state = NState::Filter {
                module: Some(a),
                came: Came::Above,
            };
            tr.source = handle;
            tr.entry_snap = snap;
            tr.probe = probe;
            let st = &mut w.adapters[a].stats;
            if probe {
                st.probes_sent += 1;
            } else {
                st.tx_sent += 1;
                st.tx_sent_bytes += len as u64;
            }
            nbls.push(nbl);
        }
        let ad = &mut w.adapters[a];
        ad.proto.outstanding += n;
        if !probe {
            ad.tx_target -= n as u64;
        }
        let irql = pick_irql(w);
        let cancel = (!probe && w.rng.chance(w.cfg.random.send_cancel_percent))
            .then(|| tag_cancel(w, a, &nbls));
        Some((World::link(&nbls), irql, cancel))
    });
    let Some(Some((head, irql, cancel))) = plan else {
        return;
    };
    let flags = if irql.is_dispatch() {
        NDIS_SEND_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    let sent = call_filter(Some(a), "FilterSendNetBufferLists", irql, |h, ctx| {
        // SAFETY: ctx is the module context; head a chain of live NBLs now owned by the filter.
        unsafe { callbacks::send(h, ctx, head as *mut _, 0, flags) }
    });
    if let (Some(true), Some(id)) = (sent, cancel) {
        call_filter(Some(a), "FilterCancelSendNetBufferLists", irql, |h, ctx| {
            // SAFETY: ctx is the module context; the id is the one the NBLs carry.
            unsafe { callbacks::cancel_send(h, ctx, core::ptr::without_provenance_mut(id)) }
        });
    }
    if sent == Some(false) {
        // No send handler: NDIS bypasses the filter.
        world::with(|w| {
            if let Ok(nbls) = w.walk(head) {
                for &n in &nbls {
                    if let Some(t) = w.nbls.get_mut(&n) {
                        t.state = NState::Below {
                            module: a,
                            came: Came::Above,
                        };
                    }
                }
                mp_enqueue(w, a, &nbls);
            }
        });
    }
}

/// The miniport takes NBLs the filter sent (already validated and marked `Below`).
pub(crate) fn mp_enqueue(w: &mut World, a: usize, nbls: &[usize]) {
    w.adapters[a].mp.tx_queue.extend(nbls.iter().copied());
    if !w.adapters[a].mp.tx_busy {
        mp_start_tx(w, a);
    }
}

fn mp_start_tx(w: &mut World, a: usize) {
    let Some(&front) = w.adapters[a].mp.tx_queue.front() else {
        w.adapters[a].mp.tx_busy = false;
        return;
    };
    // SAFETY: NBLs in the TX queue are live emulator NBLs below the filter.
    let n = unsafe { nblmem::nbl_mut(front) };
    let bytes = if n.FirstNetBuffer.is_null() {
        0
    } else {
        // SAFETY: FirstNetBuffer of a live NBL is a live NET_BUFFER.
        let nb = unsafe { &*n.FirstNetBuffer };
        // SAFETY: the ULONG view of the DataLength union.
        u64::from(unsafe { nb.DataLength.DataLength })
    };
    let speed = w.adapters[a].cfg.link_speed_bps.max(1);
    let ns = ((bytes + 24) * 8 * 1_000_000_000 / speed).max(1);
    w.adapters[a].mp.tx_busy = true;
    w.sched.after(ns, Event::TxDone(a));
}

fn mp_tx_done(a: usize) {
    world::with(|w| {
        let Some(nbl) = w.adapters[a].mp.tx_queue.pop_front() else {
            w.adapters[a].mp.tx_busy = false;
            return;
        };
        wire_check(w, a, nbl);
        w.adapters[a].mp.batch.push(nbl);
        let target = w
            .rng
            .range_usize(1, w.cfg.random.max_completion_batch.max(1));
        if w.adapters[a].mp.batch.len() >= target || w.adapters[a].mp.tx_queue.is_empty() {
            let batch = std::mem::take(&mut w.adapters[a].mp.batch);
            let delay = w.rng.range(100, 2_000);
            w.sched.after(delay, Event::Complete(a, batch));
        }
        mp_start_tx(w, a);
    });
}

/// Counts (and checks) every NET_BUFFER of an NBL the miniport transmits.
fn wire_check(w: &mut World, a: usize, nbl: usize) {
    // SAFETY: nbl is live and below the filter.
    let mut nb = unsafe { nblmem::nbl_mut(nbl) }.FirstNetBuffer;
    let mut hops = 0;
    let mac = w.adapters[a].cfg.mac;
    while !nb.is_null() && hops < 256 {
        hops += 1;
        let mut scratch = std::mem::take(&mut w.scratch);
        // SAFETY: NET_BUFFERs of a live NBL describe readable data.
        let (total, got) = unsafe { nblmem::read_nb(nb, &mut scratch) };
        let st = &mut w.adapters[a].stats;
        st.wire_tx_frames += 1;
        st.wire_tx_bytes += total as u64;
        if let Check::Bad(_) =
            frames::check(&scratch[..got], total, frames::peer_mac(a), mac, a, DIR_TX)
        {
            st.wire_tx_bad += 1;
        }
        w.scratch = scratch;
        // SAFETY: nb is a live NET_BUFFER.
        nb = unsafe { (*nb).Next };
    }
}

fn mp_complete(a: usize, mut nbls: Vec<usize>) {
    let plan = world::with(|w| {
        if w.cfg.random.reorder_completions {
            w.rng.shuffle(&mut nbls);
        }
        // Only NBLs still below this miniport complete (defensive: nothing else should be here).
        nbls.retain(|n| {
            matches!(w.nbls.get(n).map(|t| t.state), Some(NState::Below { module, .. }) if module == a)
        });
        for &nbl in &nbls {
            let Some(t) = w.nbls.get(&nbl) else { continue };
            let NState::Below { module, came } = t.state else {
                continue;
            };
            // SAFETY: nbl is a live NBL below the filter.
            let now = unsafe { nblmem::snapshot(nbl, SnapMask::WhileAway) };
            if let Some(d) = nblmem::diff(&t.away_snap, &now) {
                w.violate(
                    Rule::SendTouchedWhilePending,
                    Subject::Nbl(nbl),
                    "-",
                    format!("{d} while the NBL was below the filter (sent on adapter {module})"),
                );
                return None;
            }
            let cancelled = w.cancelled.remove(&nbl);
            // SAFETY: nbl is live; the miniport owns it until the completion below.
            unsafe { nblmem::nbl_mut(nbl) }.Status = if cancelled {
                mpfilter::ndis::consts::NDIS_STATUS_SEND_ABORTED
            } else {
                NDIS_STATUS_SUCCESS
            };
            if let Some(t) = w.nbls.get_mut(&nbl) {
                t.state = NState::Filter {
                    module: (came != Came::Own).then_some(module),
                    came,
                };
            }
        }
        let irql = pick_irql(w);
        Some((World::link(&nbls), irql))
    });
    let Some(Some((head, irql))) = plan else {
        return;
    };
    if head == 0 {
        return;
    }
    let flags = if irql.is_dispatch() {
        NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    let delivered = call_filter(
        Some(a),
        "FilterSendNetBufferListsComplete",
        irql,
        |h, ctx| {
            // SAFETY: ctx is the module context; the chain is live and owned by the filter again.
            unsafe { callbacks::send_complete(h, ctx, head as *mut _, flags) }
        },
    );
    if delivered == Some(false) {
        // Bypass: NDIS completes straight to the protocol.
        world::with(|w| {
            if let Ok(nbls) = w.walk(head) {
                for n in nbls {
                    proto_send_completed(w, a, n);
                }
            }
        });
    }
}

/// The protocol gets one of its NBLs back (already validated).
pub(crate) fn proto_send_completed(w: &mut World, a: usize, nbl: usize) {
    // SAFETY: nbl is a live protocol NBL handed back to the emulator.
    let status = unsafe { nblmem::nbl_mut(nbl) }.Status;
    let probe = w.nbls.get(&nbl).is_some_and(|t| t.probe);
    let st = &mut w.adapters[a].stats;
    if probe {
        if status == NDIS_STATUS_PAUSED {
            st.probes_paused += 1;
        }
    } else {
        st.tx_completed += 1;
        if status == NDIS_STATUS_SUCCESS {
            st.tx_completed_ok += 1;
        } else if status == mpfilter::ndis::consts::NDIS_STATUS_SEND_ABORTED {
            st.tx_completed_aborted += 1;
        }
    }
    w.adapters[a].proto.outstanding = w.adapters[a].proto.outstanding.saturating_sub(1);
    w.pool_release(nbl);
}

// ---------------------------------------------------------------------------------------------
// Receive path: miniport → filter → protocol → returns.

fn mp_rx_tick(a: usize) {
    let go = world::with(|w| {
        let ad = &w.adapters[a];
        let remaining = ad.rx_target > ad.stats.rx_received + ad.mp.rx_inflight;
        let go = remaining && ad.mp.running;
        w.adapters[a].rx_ticking = go;
        if go {
            let iv = w.traffic(a).rx_interval;
            w.sched.after(iv, Event::MpRxTick(a));
        }
        go
    });
    if go == Some(true) {
        mp_indicate(a);
    }
}

fn mp_indicate(a: usize) {
    let plan = world::with(|w| {
        let t = w.traffic(a).clone();
        let ad = &w.adapters[a];
        if ad.module.state == ModState::Detached || ad.module.state == ModState::Attaching {
            return None;
        }
        let remaining = ad
            .rx_target
            .saturating_sub(ad.stats.rx_received + ad.mp.rx_inflight);
        let room = t.window.saturating_sub(ad.mp.rx_outstanding);
        let n = w
            .rng
            .range_usize(1, t.max_chain.max(1))
            .min(room)
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        if n == 0 {
            return None;
        }
        let resources = w.rng.chance(w.cfg.random.resources_percent);
        let pool = w.adapters[a].mp.pool;
        let dst = w.adapters[a].cfg.mac;
        let handle = w.adapters[a].mp.token.addr();
        let mut nbls = Vec::with_capacity(n);
        for _ in 0..n {
            let nbl = w.pool_alloc(pool, Origin::MpRx(a))?;
            let seq = w.adapters[a].mp.rx_seq;
            w.adapters[a].mp.rx_seq += 1;
            let len = w.rng.range_usize(t.frame_len.0, t.frame_len.1);
            // SAFETY: nbl is a live emulator block with a frame buffer and a NET_BUFFER.
            unsafe {
                nblmem::write_frame(nbl, |buf| {
                    frames::build(buf, dst, frames::peer_mac(a), seq, a, DIR_RX, len)
                });
            }
            // SAFETY: as above.
            unsafe { nblmem::nbl_mut(nbl) }.SourceHandle = handle as *mut c_void;
            // SAFETY: nbl is live.
            let snap = unsafe { nblmem::snapshot(nbl, SnapMask::Handback) };
            let tr = w.nbls.get_mut(&nbl)?;
            tr.state = if resources {
                NState::Resources { module: a }
            } else {
                NState::Filter {
                    module: Some(a),
                    came: Came::Below,
                }
            };
            tr.source = handle;
            tr.entry_snap = snap;
            tr.probe = false;
            nbls.push(nbl);
        }
        let ad = &mut w.adapters[a];
        ad.stats.rx_indicated += n as u64;
        ad.mp.rx_inflight += n as u64;
        if resources {
            ad.stats.rx_indicated_resources += n as u64;
        } else {
            ad.mp.rx_outstanding += n;
        }
        let irql = pick_irql(w);
        Some((World::link(&nbls), nbls, irql, resources))
    });
    let Some(Some((head, nbls, irql, resources))) = plan else {
        return;
    };
    let mut flags = if irql.is_dispatch() {
        NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    if resources {
        flags |= NDIS_RECEIVE_FLAGS_RESOURCES;
    }
    let count = u32::try_from(nbls.len()).unwrap_or(u32::MAX);
    let delivered = call_filter(Some(a), "FilterReceiveNetBufferLists", irql, |h, ctx| {
        // SAFETY: ctx is the module context; head a chain of live NBLs lent to the filter.
        unsafe { callbacks::receive(h, ctx, head as *mut _, 0, count, flags) }
    });
    world::with(|w| {
        if delivered == Some(false) {
            // Bypass: straight up to the protocol, which returns at once.
            proto_receive(w, a, &nbls, true);
            for &n in &nbls {
                mp_reclaim(w, a, n, !resources);
            }
            return;
        }
        if !resources || w.halted {
            return;
        }
        resources_reclaim(w, a, &nbls);
    });
}

/// After a RESOURCES indication returns: the chain must be intact and every NBL unmodified.
fn resources_reclaim(w: &mut World, a: usize, nbls: &[usize]) {
    for (i, &nbl) in nbls.iter().enumerate() {
        let Some(t) = w.nbls.get(&nbl) else { return };
        if t.state != (NState::Resources { module: a }) {
            return;
        }
        let want = nbls.get(i + 1).copied().unwrap_or(0);
        // SAFETY: nbl is live (state checked).
        let next = unsafe { nblmem::next(nbl) };
        if next != want {
            w.violate(
                Rule::RecvResourcesChainNotRestored,
                Subject::Nbl(nbl),
                "-",
                format!(
                    "after FilterReceiveNetBufferLists returned, Next is {next:#x}, was {want:#x}"
                ),
            );
            return;
        }
        if !handback_ok(w, nbl, "FilterReceiveNetBufferLists returned") {
            return;
        }
    }
    for &nbl in nbls {
        mp_reclaim(w, a, nbl, false);
    }
}

/// Checks an NBL of another driver as it goes back to its owner: SourceHandle, contexts, header.
pub(crate) fn handback_ok(w: &mut World, nbl: usize, call: &'static str) -> bool {
    let Some(t) = w.nbls.get(&nbl) else {
        return false;
    };
    let (source, entry, mark) = (t.source, t.entry_snap, t.ctx_mark);
    // SAFETY: nbl is a live emulator NBL.
    let n = unsafe { nblmem::nbl_mut(nbl) };
    if n.SourceHandle as usize != source {
        let cur = n.SourceHandle as usize;
        w.violate(
            Rule::NblSourceHandleModified,
            Subject::Nbl(nbl),
            call,
            format!("SourceHandle is {cur:#x}, the originator set {source:#x}"),
        );
        return false;
    }
    // SAFETY: nbl is live.
    if unsafe { nblmem::context_mark(nbl) } != mark {
        w.violate(
            Rule::NblContextNotRestored,
            Subject::Nbl(nbl),
            call,
            "the NBL's context stack differs from when the filter got it",
        );
        return false;
    }
    // SAFETY: nbl is live.
    let now = unsafe { nblmem::snapshot(nbl, SnapMask::Handback) };
    if let Some(d) = nblmem::diff(&entry, &now) {
        w.violate(Rule::NblModifiedOnHandback, Subject::Nbl(nbl), call, d);
        return false;
    }
    true
}

/// The miniport takes a received NBL back.
pub(crate) fn mp_reclaim(w: &mut World, a: usize, nbl: usize, was_outstanding: bool) {
    let delivered = w.delivered.remove(&nbl);
    let ad = &mut w.adapters[a];
    if !delivered {
        ad.mp.rx_inflight = ad.mp.rx_inflight.saturating_sub(1);
    }
    if was_outstanding {
        ad.mp.rx_outstanding = ad.mp.rx_outstanding.saturating_sub(1);
    }
    ad.stats.rx_reclaimed += 1;
    w.pool_release(nbl);
}

/// The protocol receives NBLs the filter indicated (already validated and marked `Up`).
pub(crate) fn proto_receive(w: &mut World, a: usize, nbls: &[usize], resources: bool) {
    let mac = w.adapters[a].cfg.mac;
    for &nbl in nbls {
        // SAFETY: nbl is live and with the protocol.
        let mut nb = unsafe { nblmem::nbl_mut(nbl) }.FirstNetBuffer;
        let mut hops = 0;
        while !nb.is_null() && hops < 256 {
            hops += 1;
            let mut scratch = std::mem::take(&mut w.scratch);
            // SAFETY: NET_BUFFERs of a live NBL describe readable data.
            let (total, got) = unsafe { nblmem::read_nb(nb, &mut scratch) };
            let st = &mut w.adapters[a].stats;
            st.rx_received_bytes += total as u64;
            if let Check::Bad(_) =
                frames::check(&scratch[..got], total, mac, frames::peer_mac(a), a, DIR_RX)
            {
                st.rx_bad += 1;
            }
            w.scratch = scratch;
            // SAFETY: nb is a live NET_BUFFER.
            nb = unsafe { (*nb).Next };
        }
        // Only the miniport's own receives count as delivered (a filter may indicate its own).
        let mine = matches!(w.nbls.get(&nbl).map(|t| t.origin), Some(Origin::MpRx(x)) if x == a);
        if mine && w.delivered.insert(nbl) {
            let ad = &mut w.adapters[a];
            ad.mp.rx_inflight = ad.mp.rx_inflight.saturating_sub(1);
            ad.stats.rx_received += 1;
        }
    }
    if !resources {
        // Return in one or two groups after a while, possibly out of order.
        let max = w.cfg.random.max_return_delay;
        let mut v = nbls.to_vec();
        if v.len() > 1 && w.rng.chance(30) {
            let cut = w.rng.range_usize(1, v.len() - 1);
            let rest = v.split_off(cut);
            let d = w.rng.range(0, max);
            w.sched.after(d, Event::ProtoReturn(a, rest));
        }
        let d = w.rng.range(0, max);
        w.sched.after(d, Event::ProtoReturn(a, v));
    }
}

fn proto_return(a: usize, nbls: &[usize]) {
    let plan = world::with(|w| {
        for &nbl in nbls {
            let t = w.nbls.get(&nbl)?;
            let NState::Up { module, came, .. } = t.state else {
                return None;
            };
            // SAFETY: nbl is live and with the protocol.
            let now = unsafe { nblmem::snapshot(nbl, SnapMask::WhileAway) };
            if let Some(d) = nblmem::diff(&t.away_snap, &now) {
                w.violate(
                    Rule::RecvTouchedWhileIndicated,
                    Subject::Nbl(nbl),
                    "-",
                    format!("{d} while the NBL was indicated up (adapter {module})"),
                );
                return None;
            }
            if let Some(t) = w.nbls.get_mut(&nbl) {
                t.state = NState::Filter {
                    module: (came != Came::Own).then_some(module),
                    came,
                };
            }
        }
        w.adapters[a].stats.rx_returned_by_protocol += nbls.len() as u64;
        let irql = pick_irql(w);
        Some((World::link(nbls), irql))
    });
    let Some(Some((head, irql))) = plan else {
        return;
    };
    let flags = if irql.is_dispatch() {
        NDIS_RETURN_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    call_filter(Some(a), "FilterReturnNetBufferLists", irql, |h, ctx| {
        // SAFETY: ctx is the module context; the chain is live and the filter's again.
        unsafe { callbacks::return_nbls(h, ctx, head as *mut _, flags) }
    });
}

// ---------------------------------------------------------------------------------------------
// OIDs: protocol → filter → miniport.

/// A fresh OID request of a random kind, as the protocol issues it.
fn new_protocol_oid(w: &mut World, a: usize) -> Box<OidStore> {
    // SAFETY: NDIS_OID_REQUEST is plain data; all-zero is valid.
    let zeroed: NDIS_OID_REQUEST = unsafe { core::mem::zeroed() };
    let mut store = Box::new(OidStore {
        req: zeroed,
        buf: [0; 64],
    });
    let kind = w.rng.range(0, 5);
    let (rt, oid, len) = match kind {
        0 => (NDIS_REQUEST_QUERY_INFORMATION, OID_GEN_LINK_SPEED, 4),
        1 => (NDIS_REQUEST_QUERY_INFORMATION, OID_802_3_CURRENT_ADDRESS, 6),
        2 => (
            NDIS_REQUEST_SET_INFORMATION,
            OID_GEN_CURRENT_PACKET_FILTER,
            4,
        ),
        3 => (
            NDIS_REQUEST_QUERY_INFORMATION,
            OID_GEN_MAXIMUM_FRAME_SIZE,
            4,
        ),
        4 => (NDIS_REQUEST_QUERY_INFORMATION, OID_802_3_CURRENT_ADDRESS, 2),
        _ => (NDIS_REQUEST_QUERY_INFORMATION, OID_UNSUPPORTED, 4),
    };
    if oid == OID_GEN_CURRENT_PACKET_FILTER {
        store.buf[..4].copy_from_slice(&0x0000_000Bu32.to_le_bytes());
    }
    let buf = store.buf.as_mut_ptr().cast::<c_void>();
    let r = &mut store.req;
    r.Header = NDIS_OBJECT_HEADER::new(
        NDIS_OBJECT_TYPE_OID_REQUEST,
        NDIS_OID_REQUEST_REVISION_1,
        NDIS_SIZEOF_OID_REQUEST_REVISION_1,
    );
    r.RequestType = rt;
    r.RequestId = (0x1000 + w.adapters[a].stats.oids_issued) as *mut c_void;
    r.RequestHandle = w.adapters[a].proto.token.addr() as *mut c_void;
    // Writing a union field is safe; the set view shares these leading fields.
    r.DATA.QUERY_INFORMATION.Oid = oid;
    r.DATA.QUERY_INFORMATION.InformationBuffer = buf;
    r.DATA.QUERY_INFORMATION.InformationBufferLength = len;
    store
}

fn proto_issue_oid(a: usize) {
    let req = world::with(|w| {
        let ad = &w.adapters[a];
        if ad.proto.oid_busy || ad.proto.oids_to_issue == 0 {
            return None;
        }
        if !w.oid_state_ok(a) {
            w.sched.after(10_000, Event::ProtoOidTick(a));
            return None;
        }
        while w.done_oids.len() > 8 {
            if let Some(old) = w.done_oids.pop_front() {
                w.orig_oids.remove(&old);
            }
        }
        let store = world::Heap::new(*new_protocol_oid(w, a));
        let p = store.ptr() as usize;
        // The information buffer pointer must derive from the final home too.
        let sp = store.ptr();
        // SAFETY: sp is the live request store; the pointer stays within it.
        let buf = unsafe { &raw mut (*sp).buf };
        // SAFETY: as above; nothing else references the new request yet.
        let req = unsafe { &mut (*sp).req };
        req.DATA.QUERY_INFORMATION.InformationBuffer = buf.cast();
        w.orig_oids.insert(
            p,
            OrigOid {
                req: store,
                adapter: a,
                state: OrigState::InFilter,
                cancelled: false,
            },
        );
        let ad = &mut w.adapters[a];
        ad.proto.oid_busy = true;
        ad.proto.oids_to_issue -= 1;
        ad.stats.oids_issued += 1;
        Some(p)
    });
    let Some(Some(req)) = req else { return };
    let status = call_filter(Some(a), "FilterOidRequest", Irql::Passive, |h, ctx| {
        // SAFETY: ctx is the module context; req a live request owned by the emulator.
        unsafe { callbacks::oid_request(h, ctx, req as *mut NDIS_OID_REQUEST) }
    })
    .flatten();
    world::with(|w| {
        let Some(o) = w.orig_oids.get_mut(&req) else {
            return;
        };
        match (status, o.state) {
            (Some(NDIS_STATUS_PENDING), OrigState::InFilter) => {
                o.state = OrigState::Pending;
                if w.rng.chance(w.cfg.random.oid_cancel_percent) {
                    let d = w.rng.range(100, 5_000);
                    w.sched.after(d, Event::ProtoOidCancel(a, req));
                }
            }
            (Some(NDIS_STATUS_PENDING), _) => {}
            (Some(s), OrigState::InFilter) => {
                o.state = OrigState::DoneSync;
                proto_oid_done(w, a, req, s, true);
            }
            (Some(_), _) => w.violate(
                Rule::OidCompleteNotPending,
                Subject::Request(req),
                "-",
                "FilterOidRequest called NdisFOidRequestComplete and then returned a status other than PENDING",
            ),
            (None, _) => {
                o.state = OrigState::DoneSync;
                proto_oid_done(w, a, req, NDIS_STATUS_NOT_SUPPORTED, true);
            }
        }
    });
}

/// Whether the protocol got the answer its OID deserved (the miniport's answer, carried back
/// through the filter's clone).
fn oid_answer_ok(w: &World, a: usize, req: usize, status: NDIS_STATUS) -> bool {
    let Some(o) = w.orig_oids.get(&req) else {
        return false;
    };
    // SAFETY: reading the query view of our own request (plain integers and a pointer).
    let st = o.req.get();
    // SAFETY: reading the query view of our own request (plain integers and a pointer).
    let q = unsafe { st.req.DATA.QUERY_INFORMATION };
    if o.cancelled && status == mpfilter::ndis::consts::NDIS_STATUS_REQUEST_ABORTED {
        return true;
    }
    let cfg = &w.adapters[a].cfg;
    let word = u32::from_le_bytes([st.buf[0], st.buf[1], st.buf[2], st.buf[3]]);
    match q.Oid {
        OID_802_3_CURRENT_ADDRESS if q.InformationBufferLength < 6 => {
            status == NDIS_STATUS_BUFFER_TOO_SHORT && q.BytesNeeded == 6
        }
        OID_802_3_CURRENT_ADDRESS => {
            status == NDIS_STATUS_SUCCESS && q.BytesWritten == 6 && st.buf[..6] == cfg.mac
        }
        OID_GEN_LINK_SPEED => {
            status == NDIS_STATUS_SUCCESS
                && q.BytesWritten == 4
                && u64::from(word) == cfg.link_speed_bps / 100
        }
        OID_GEN_MAXIMUM_FRAME_SIZE => {
            status == NDIS_STATUS_SUCCESS && q.BytesWritten == 4 && word == 1500
        }
        OID_GEN_CURRENT_PACKET_FILTER => status == NDIS_STATUS_SUCCESS && q.BytesWritten == 4,
        _ => status == NDIS_STATUS_NOT_SUPPORTED,
    }
}

/// The protocol's OID finished (synchronously or through NdisFOidRequestComplete).
pub(crate) fn proto_oid_done(w: &mut World, a: usize, req: usize, status: NDIS_STATUS, sync: bool) {
    if !oid_answer_ok(w, a, req, status) {
        w.adapters[a].stats.oids_bad_answer += 1;
    }
    let st = &mut w.adapters[a].stats;
    if sync {
        st.oids_completed_sync += 1;
    } else {
        st.oids_completed_pending += 1;
    }
    if status != NDIS_STATUS_SUCCESS {
        st.oids_failed += 1;
    }
    w.adapters[a].proto.oid_busy = false;
    w.done_oids.push_back(req);
    if w.adapters[a].proto.oids_to_issue > 0 {
        let d = w.rng.range(100, 3_000);
        w.sched.after(d, Event::ProtoOidTick(a));
    }
}

/// The miniport takes an OID request: answers now, or pends it.
pub(crate) fn mp_oid(w: &mut World, a: usize, req: usize) -> NDIS_STATUS {
    if w.rng.chance(w.cfg.random.oid_pending_percent) {
        w.oid_gen += 1;
        let generation = w.oid_gen;
        w.oid_below.insert(
            req,
            world::OidBelow {
                adapter: a,
                generation,
            },
        );
        w.adapters[a].stats.mp_oids_pending += 1;
        let d = w.rng.range(1_000, 50_000);
        w.sched.after(
            d,
            Event::OidComplete {
                adapter: a,
                req,
                generation,
                status: NDIS_STATUS_SUCCESS,
            },
        );
        NDIS_STATUS_PENDING
    } else {
        w.adapters[a].stats.mp_oids_sync += 1;
        mp_oid_answer(w, a, req)
    }
}

/// Carries out an OID on the request's buffer.
fn mp_oid_answer(w: &mut World, a: usize, req: usize) -> NDIS_STATUS {
    // SAFETY: the request is live: the filter passed it to NdisFOidRequest and may not free it
    // before its completion.
    let req_ref = unsafe { &mut *(req as *mut NDIS_OID_REQUEST) };
    // SAFETY: the query view's leading fields are shared by the set view.
    let query = unsafe { &mut req_ref.DATA.QUERY_INFORMATION };
    let cfg = &w.adapters[a].cfg;
    let answer: Option<Vec<u8>> = match query.Oid {
        OID_GEN_LINK_SPEED => Some(
            u32::try_from(cfg.link_speed_bps / 100)
                .unwrap_or(u32::MAX)
                .to_le_bytes()
                .to_vec(),
        ),
        OID_802_3_CURRENT_ADDRESS => Some(cfg.mac.to_vec()),
        OID_GEN_MAXIMUM_FRAME_SIZE => Some(1500u32.to_le_bytes().to_vec()),
        OID_GEN_CURRENT_PACKET_FILTER if req_ref.RequestType == NDIS_REQUEST_SET_INFORMATION => {
            if query.InformationBufferLength < 4 || query.InformationBuffer.is_null() {
                query.BytesWritten = 0;
                query.BytesNeeded = 4;
                return NDIS_STATUS_INVALID_LENGTH;
            }
            let mut v = [0u8; 4];
            // SAFETY: the set buffer holds at least 4 bytes (checked).
            unsafe {
                core::ptr::copy_nonoverlapping(
                    query.InformationBuffer.cast::<u8>(),
                    v.as_mut_ptr(),
                    4,
                );
            }
            w.adapters[a].mp.packet_filter = u32::from_le_bytes(v);
            query.BytesWritten = 4; // BytesRead in the set view
            query.BytesNeeded = 0;
            req_ref.SupportedRevision = NDIS_OID_REQUEST_REVISION_1;
            return NDIS_STATUS_SUCCESS;
        }
        OID_GEN_CURRENT_PACKET_FILTER => {
            Some(w.adapters[a].mp.packet_filter.to_le_bytes().to_vec())
        }
        _ => None,
    };
    let Some(bytes) = answer else {
        query.BytesWritten = 0;
        query.BytesNeeded = 0;
        return NDIS_STATUS_NOT_SUPPORTED;
    };
    let need = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    if query.InformationBufferLength < need || query.InformationBuffer.is_null() {
        query.BytesWritten = 0;
        query.BytesNeeded = need;
        return NDIS_STATUS_BUFFER_TOO_SHORT;
    }
    // SAFETY: the caller's buffer holds InformationBufferLength >= need bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            query.InformationBuffer.cast::<u8>(),
            bytes.len(),
        );
    }
    query.BytesWritten = need;
    query.BytesNeeded = 0;
    req_ref.SupportedRevision = NDIS_OID_REQUEST_REVISION_1;
    NDIS_STATUS_SUCCESS
}

fn mp_oid_complete(a: usize, req: usize, generation: u64, status: NDIS_STATUS) {
    let go = world::with(|w| {
        match w.oid_below.get(&req) {
            Some(b) if b.generation == generation && b.adapter == a => {}
            _ => return None,
        }
        w.oid_below.remove(&req);
        let s = if status == NDIS_STATUS_SUCCESS {
            mp_oid_answer(w, a, req)
        } else {
            status
        };
        Some((s, pick_irql(w)))
    });
    let Some(Some((s, irql))) = go else { return };
    call_filter(Some(a), "FilterOidRequestComplete", irql, |h, ctx| {
        // SAFETY: ctx is the module context; req the filter's own live request.
        unsafe { callbacks::oid_complete(h, ctx, req as *mut NDIS_OID_REQUEST, s) }
    });
}

/// The protocol cancels one of its pended OIDs (if still pending).
fn proto_cancel_oid(a: usize, req: usize) {
    let id = world::with(|w| {
        let o = w.orig_oids.get_mut(&req)?;
        if o.state != OrigState::Pending {
            return None;
        }
        o.cancelled = true;
        let id = o.req.get().req.RequestId;
        w.adapters[a].stats.oid_cancels += 1;
        Some(id)
    });
    let Some(Some(id)) = id else { return };
    call_filter(
        Some(a),
        "FilterCancelOidRequest",
        Irql::Passive,
        |h, ctx| {
            // SAFETY: ctx is the module context; the id is the pending request's RequestId.
            unsafe { callbacks::cancel_oid(h, ctx, id) }
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Status indications from the miniport.

fn mp_status(a: usize) {
    let ind = world::with(|w| {
        if !w.oid_state_ok(a) {
            return None;
        }
        let cfg = &w.adapters[a].cfg;
        let ls = NDIS_LINK_STATE {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_LINK_STATE_REVISION_1,
                NDIS_SIZEOF_LINK_STATE_REVISION_1,
            ),
            MediaConnectState: MEDIA_CONNECT_STATE_CONNECTED,
            MediaDuplexState: 2,
            XmitLinkSpeed: cfg.link_speed_bps,
            RcvLinkSpeed: cfg.link_speed_bps,
            PauseFunctions: 0,
            AutoNegotiationFlags: 0,
        };
        // SAFETY: NDIS_STATUS_INDICATION is plain data; all-zero is valid.
        let mut ind: NDIS_STATUS_INDICATION = unsafe { core::mem::zeroed() };
        ind.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_STATUS_INDICATION,
            NDIS_STATUS_INDICATION_REVISION_1,
            NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
        );
        ind.SourceHandle = w.adapters[a].mp.token.addr() as *mut c_void;
        ind.StatusCode = NDIS_STATUS_LINK_STATE;
        ind.StatusBufferSize = u32::from(NDIS_SIZEOF_LINK_STATE_REVISION_1);
        let s = world::Heap::new((ind, ls));
        let sp = s.ptr();
        // SAFETY: sp is the live heap pair; pointers into it derive from its raw pointer.
        let link = unsafe { &raw mut (*sp).1 };
        // SAFETY: as above.
        unsafe { (*sp).0.StatusBuffer = link.cast() };
        let p = sp as usize;
        w.status_store = Some(s);
        w.delivering_status = p;
        Some(p)
    });
    let Some(Some(p)) = ind else { return };
    call_filter(Some(a), "FilterStatus", Irql::Dispatch, |h, ctx| {
        // SAFETY: ctx is the module context; p a live indication owned by the emulator.
        unsafe { callbacks::status(h, ctx, p as *mut NDIS_STATUS_INDICATION) }
    });
    world::with(|w| w.delivering_status = 0);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle.

fn ustr(s: &str) -> (UNICODE_STRING, Vec<u16>) {
    let v: Vec<u16> = s.encode_utf16().collect();
    let len = u16::try_from(v.len() * 2).unwrap_or(u16::MAX);
    (
        UNICODE_STRING {
            Length: len,
            MaximumLength: len,
            Buffer: std::ptr::null_mut(),
        },
        v,
    )
}

/// FilterAttach for an adapter's module; true if it attached (now Paused).
#[allow(clippy::too_many_lines)]
pub(crate) fn attach(a: usize) -> bool {
    let plan = world::with(|w| {
        let drv = w.driver.as_ref()?;
        let drv_ctx = drv.ctx;
        if w.adapters[a].module.state != ModState::Detached {
            return None;
        }
        let cfg = w.adapters[a].cfg.clone();
        // SAFETY: NDIS_FILTER_ATTACH_PARAMETERS is plain data; all-zero is valid.
        let zeroed: NDIS_FILTER_ATTACH_PARAMETERS = unsafe { core::mem::zeroed() };
        let mut store = Box::new(AttachStore {
            params: zeroed,
            strings: vec![
                ustr(&format!(
                    "{{5CBF81BD-5055-47CD-9055-A76B2B4E3{a:03X}}}-{{mpfilter}}-0000"
                )),
                ustr(&cfg.name),
                ustr(&format!(
                    "\\DEVICE\\{{5CBF81BD-5055-47CD-9055-A76B2B4E3{a:03X}}}"
                )),
            ],
        });
        for s in &mut store.strings {
            s.0.Buffer = s.1.as_mut_ptr();
        }
        let p: &mut NDIS_FILTER_ATTACH_PARAMETERS = &mut store.params;
        p.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS,
            NDIS_FILTER_ATTACH_PARAMETERS_REVISION_4,
            NDIS_SIZEOF_FILTER_ATTACH_PARAMETERS_REVISION_4,
        );
        p.IfIndex = 100 + cfg.if_index;
        p.NetLuid = (6u64 << 48) | u64::from(100 + cfg.if_index);
        p.FilterModuleGuidName = &raw mut store.strings[0].0;
        p.BaseMiniportIfIndex = cfg.if_index;
        p.BaseMiniportInstanceName = &raw mut store.strings[1].0;
        p.BaseMiniportName = &raw mut store.strings[2].0;
        p.MediaConnectState = MEDIA_CONNECT_STATE_CONNECTED;
        p.MediaDuplexState = 2;
        p.XmitLinkSpeed = cfg.link_speed_bps;
        p.RcvLinkSpeed = cfg.link_speed_bps;
        p.MiniportMediaType = NDIS_MEDIUM_802_3;
        p.MiniportPhysicalMediaType = 14; // NdisPhysicalMedium802_3
        p.MacAddressLength = 6;
        p.CurrentMacAddress[..6].copy_from_slice(&cfg.mac);
        p.BaseMiniportNetLuid = (6u64 << 48) | u64::from(cfg.if_index);
        p.LowerIfIndex = cfg.if_index;
        p.LowerIfNetLuid = p.BaseMiniportNetLuid;
        p.BaseMiniportIfConnectorPresent = 1;
        let store = world::Heap::new(*store);
        // SAFETY: the live attach store; the pointer derives from its raw pointer.
        let pp = unsafe { &raw mut (*store.ptr()).params };
        let m = &mut w.adapters[a].module;
        m.attach = Some(store);
        m.state = ModState::Attaching;
        m.attrs_set = false;
        m.ctx = 0;
        m.stats.attaches += 1;
        Some((m.token.addr(), drv_ctx, pp as usize))
    });
    let Some(Some((handle, drv_ctx, params))) = plan else {
        return false;
    };
    let status = call_filter(Some(a), "FilterAttach", Irql::Passive, |h, _| {
        // SAFETY: arguments as NDIS passes them; the parameters live in the module record.
        unsafe {
            callbacks::attach(
                h,
                handle as *mut c_void,
                drv_ctx as *mut c_void,
                params as *mut _,
            )
        }
    })
    .flatten();
    world::with(|w| {
        let m = &mut w.adapters[a].module;
        if status == Some(NDIS_STATUS_SUCCESS) {
            if !m.attrs_set {
                w.violate(
                    Rule::AttachNoSetAttributes,
                    Subject::Handle(handle),
                    "-",
                    "FilterAttach returned NDIS_STATUS_SUCCESS without calling NdisFSetAttributes",
                );
                return false;
            }
            m.state = ModState::Paused;
            true
        } else {
            m.state = ModState::Detached;
            false
        }
    })
    .unwrap_or(false)
}

fn lifecycle_deadline() -> Option<Nanos> {
    world::with(|w| w.now() + w.cfg_lifecycle_timeout())
}

/// SetModuleOptions + FilterRestart; true if the module is Running.
#[allow(clippy::too_many_lines)]
pub(crate) fn restart_module(a: usize) -> bool {
    let ok = world::with(|w| {
        let m = &mut w.adapters[a].module;
        if m.state != ModState::Paused {
            return false;
        }
        m.state = ModState::Restarting;
        m.restart = Op::InCallback;
        m.stats.restarts += 1;
        true
    });
    if ok != Some(true) {
        return false;
    }
    let opt = call_filter(
        Some(a),
        "FilterSetModuleOptions",
        Irql::Passive,
        |h, ctx| {
            // SAFETY: ctx is the module context.
            unsafe { callbacks::set_module_options(h, ctx) }
        },
    )
    .flatten();
    if opt.is_some_and(|s| s != NDIS_STATUS_SUCCESS) {
        world::with(|w| {
            let m = &mut w.adapters[a].module;
            m.state = ModState::Paused;
            m.restart = Op::Idle;
        });
        return false;
    }
    let mut params = NDIS_FILTER_RESTART_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS,
            NDIS_FILTER_RESTART_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_FILTER_RESTART_PARAMETERS_REVISION_1,
        ),
        MediaType: NDIS_MEDIUM_802_3,
        PhysicalMediumType: 14,
        RestartAttributes: std::ptr::null_mut(),
        LowerIfIndex: 0,
        LowerIfNetLuid: 0,
        Flags: 0,
    };
    if let Some(idx) = world::with(|w| w.adapters[a].cfg.if_index) {
        params.LowerIfIndex = idx;
        params.LowerIfNetLuid = (6u64 << 48) | u64::from(idx);
    }
    let pp = &raw mut params;
    let status = call_filter(Some(a), "FilterRestart", Irql::Passive, |h, ctx| {
        // SAFETY: ctx is the module context; the parameters outlive the call.
        unsafe { callbacks::restart(h, ctx, pp) }
    })
    .flatten()
    .unwrap_or(NDIS_STATUS_SUCCESS);
    let pending = world::with(|w| {
        let m = &mut w.adapters[a].module;
        match (status, m.restart) {
            (NDIS_STATUS_PENDING, Op::CompletedEarly) => {
                m.stats.restarts_pending += 1;
                m.restart = Op::Idle;
                m.state = if m.restart_status == NDIS_STATUS_SUCCESS {
                    ModState::Running
                } else {
                    ModState::Paused
                };
                false
            }
            (NDIS_STATUS_PENDING, _) => {
                m.stats.restarts_pending += 1;
                m.restart = Op::Pending;
                true
            }
            (_, Op::CompletedEarly) => {
                let h = m.token.addr();
                w.violate(
                    Rule::RestartCompleteNotPending,
                    Subject::Handle(h),
                    "-",
                    "FilterRestart called NdisFRestartComplete and then returned a status other than PENDING",
                );
                false
            }
            (s, _) => {
                m.restart = Op::Idle;
                m.state = if s == NDIS_STATUS_SUCCESS {
                    ModState::Running
                } else {
                    ModState::Paused
                };
                false
            }
        }
    });
    if pending == Some(true) {
        let dl = lifecycle_deadline();
        let done = run_until(|w| w.adapters[a].module.restart == Op::Idle, dl);
        if !done {
            world::with(|w| {
                if !w.halted {
                    let h = w.module_handle(a);
                    w.violate(
                        Rule::RestartNeverCompleted,
                        Subject::Handle(h),
                        "-",
                        "FilterRestart returned PENDING and NdisFRestartComplete never came",
                    );
                }
            });
        }
    }
    world::with(|w| w.adapters[a].module.state == ModState::Running).unwrap_or(false)
}

/// FilterPause, waiting for NdisFPauseComplete if it pends; true when Paused.
pub(crate) fn pause_module(a: usize, probe: bool) -> bool {
    let ok = world::with(|w| {
        let m = &mut w.adapters[a].module;
        if m.state != ModState::Running {
            return false;
        }
        m.state = ModState::Pausing;
        m.pause = Op::InCallback;
        m.stats.pauses += 1;
        true
    });
    if ok != Some(true) {
        return false;
    }
    let mut params = NDIS_FILTER_PAUSE_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS,
            NDIS_FILTER_PAUSE_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_FILTER_PAUSE_PARAMETERS_REVISION_1,
        ),
        Flags: 0,
        PauseReason: 0x4, // NDIS_PAUSE_FILTER_RESTART_STACK
    };
    let pp = &raw mut params;
    let status = call_filter(Some(a), "FilterPause", Irql::Passive, |h, ctx| {
        // SAFETY: ctx is the module context; the parameters outlive the call.
        unsafe { callbacks::pause(h, ctx, pp) }
    })
    .flatten()
    .unwrap_or(NDIS_STATUS_SUCCESS);
    let pending = world::with(|w| {
        let h = w.module_handle(a);
        let op = w.adapters[a].module.pause;
        match (status, op) {
            (NDIS_STATUS_PENDING, Op::CompletedEarly) => {
                let m = &mut w.adapters[a].module;
                m.stats.pauses_pending += 1;
                m.pause = Op::Idle;
                m.state = ModState::Paused;
                false
            }
            (NDIS_STATUS_PENDING, _) => {
                let m = &mut w.adapters[a].module;
                m.stats.pauses_pending += 1;
                m.pause = Op::Pending;
                true
            }
            (_, Op::CompletedEarly) => {
                w.violate(
                    Rule::PauseCompleteNotPending,
                    Subject::Handle(h),
                    "-",
                    "FilterPause called NdisFPauseComplete and then returned a status other than PENDING",
                );
                false
            }
            (s, _) => {
                if s != NDIS_STATUS_SUCCESS {
                    w.violate(
                        Rule::PauseFailed,
                        Subject::Handle(h),
                        "-",
                        format!("FilterPause returned {s:#x}; a pause cannot fail"),
                    );
                    return false;
                }
                if !pause_gate_ok(w, a, "FilterPause returned SUCCESS") {
                    return false;
                }
                let m = &mut w.adapters[a].module;
                m.pause = Op::Idle;
                m.state = ModState::Paused;
                false
            }
        }
    });
    if pending == Some(true) {
        if probe {
            proto_send(a, true);
        }
        let dl = lifecycle_deadline();
        let done = run_until(|w| w.adapters[a].module.pause == Op::Idle, dl);
        if !done {
            world::with(|w| {
                if !w.halted {
                    let h = w.module_handle(a);
                    let o = w.outstanding(a);
                    w.violate(
                        Rule::PauseNeverCompleted,
                        Subject::Handle(h),
                        "-",
                        format!(
                            "FilterPause returned PENDING and NdisFPauseComplete never came (held from above {}, from below {}, below {}, above {})",
                            o.0, o.1, o.2, o.3
                        ),
                    );
                }
            });
        }
    }
    world::with(|w| w.adapters[a].module.state == ModState::Paused).unwrap_or(false)
}

/// The pause gate: nothing outstanding on the module. Records a violation if not.
pub(crate) fn pause_gate_ok(w: &mut World, a: usize, when: &str) -> bool {
    let o = w.outstanding(a);
    if o == (0, 0, 0, 0) {
        return true;
    }
    let h = w.module_handle(a);
    w.violate(
        Rule::PauseOutstanding,
        Subject::Handle(h),
        "-",
        format!(
            "{when} with NBLs outstanding: held from above {}, held from below {}, sent below {}, indicated above {}",
            o.0, o.1, o.2, o.3
        ),
    );
    false
}

/// NetPnPEvent(NetEventFilterPreDetach), FilterDetach, then the module's leak check.
pub(crate) fn detach(a: usize) {
    let ok = world::with(|w| w.adapters[a].module.state == ModState::Paused);
    if ok != Some(true) {
        return;
    }
    call_filter(Some(a), "FilterDetach", Irql::Passive, |h, ctx| {
        // SAFETY: ctx is the module context.
        unsafe { callbacks::detach(h, ctx) }
    });
    world::with(|w| {
        let m = &mut w.adapters[a].module;
        m.state = ModState::Detached;
        m.stats.detaches += 1;
        m.attach = None;
        if !w.halted {
            detach_leaks(w, a);
        }
    });
}

/// Sends NetEventFilterPreDetach to the module (while it can still issue OIDs).
pub(crate) fn pre_detach(a: usize) {
    // SAFETY: NET_PNP_EVENT_NOTIFICATION is plain data; all-zero is valid.
    let mut ev: Box<NET_PNP_EVENT_NOTIFICATION> = Box::new(unsafe { core::mem::zeroed() });
    ev.Header = NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEFAULT, 1, 0xA0);
    ev.NetPnPEvent.NetEvent = NET_EVENT_FILTER_PRE_DETACH;
    let p = &raw mut *ev;
    call_filter(Some(a), "FilterNetPnPEvent", Irql::Passive, |h, ctx| {
        // SAFETY: ctx is the module context; the event outlives the call.
        unsafe { callbacks::net_pnp(h, ctx, p) }
    });
}

fn detach_leaks(w: &mut World, a: usize) {
    let phase = format!("detach adapter {a}");
    let h = w.module_handle(a);
    let o = w.outstanding(a);
    if o != (0, 0, 0, 0) {
        w.leak(
            Rule::LeakHeldNbl,
            Subject::Handle(h),
            &phase,
            format!(
                "held from above {}, from below {}, below {}, above {}",
                o.0, o.1, o.2, o.3
            ),
        );
    }
    let pools: Vec<(usize, usize)> = w
        .pools
        .iter()
        .filter(|(_, p)| p.owner == h && !p.freed)
        .map(|(&k, p)| (k, p.live))
        .collect();
    for (p, live) in pools {
        w.leak(
            Rule::LeakPool,
            Subject::Handle(p),
            &phase,
            format!("pool of the module not freed ({live} NBLs live)"),
        );
        if live > 0 {
            w.leak(
                Rule::LeakNbl,
                Subject::Handle(p),
                &phase,
                format!("{live} NBLs of the module's pool not freed"),
            );
        }
    }
    let clones: Vec<usize> = w
        .oid_clones
        .iter()
        .filter(|(_, c)| c.owner == h)
        .map(|(&k, _)| k)
        .collect();
    for c in clones {
        w.leak(
            Rule::LeakOidClone,
            Subject::Request(c),
            &phase,
            "OID clone not freed",
        );
    }
    let pending: Vec<usize> = w
        .orig_oids
        .iter()
        .filter(|(_, o)| {
            o.adapter == a && matches!(o.state, OrigState::Pending | OrigState::InFilter)
        })
        .map(|(&k, _)| k)
        .collect();
    for r in pending {
        w.leak(
            Rule::OidNeverCompleted,
            Subject::Request(r),
            &phase,
            "OID request from above pended and never completed",
        );
    }
}

/// Brings an adapter's stack up: miniport, attach, restart, protocol.
pub(crate) fn start_stack(a: usize) -> bool {
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
        w.sched.after(500, Event::Status(a));
    });
}

/// Pauses a stack as NDIS does: protocol first (waits for its sends), then the filter (waits for
/// NdisFPauseComplete), then the miniport (waits for its receives to come back).
pub(crate) fn pause_stack(a: usize, probe: bool) -> bool {
    world::with(|w| w.adapters[a].proto.running = false);
    let dl = lifecycle_deadline();
    run_until(|w| w.adapters[a].proto.outstanding == 0, dl);
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
    world::with(|w| w.adapters[a].mp.running = true);
    if !restart_module(a) {
        return false;
    }
    proto_restart(a);
    true
}

/// NdisFRestartFilter's scheduled work: pause the stack and restart it.
#[allow(clippy::collapsible_match)]
fn restart_filter(a: usize) {
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
    let state = world::with(|w| w.adapters[a].module.state);
    if state == Some(ModState::Running) {
        pre_detach(a);
        if !pause_stack(a, false) {
            return;
        }
    } else if state == Some(ModState::Paused) {
        pre_detach(a);
    }
    detach(a);
}

/// The NDIS side of unload: everything the driver left behind.
pub(crate) fn unload_leaks(w: &mut World) {
    let phase = "unload";
    if let Some(d) = &w.driver
        && !d.deregistered
    {
        w.leak(
            Rule::LeakRegistration,
            Subject::Driver,
            phase,
            "DriverUnload did not call NdisFDeregisterFilterDriver",
        );
    }
    let pools: Vec<(usize, usize)> = w
        .pools
        .iter()
        .filter(|(_, p)| p.owner != 0 && !p.freed)
        .map(|(&k, p)| (k, p.live))
        .collect();
    for (p, live) in pools {
        w.leak(
            Rule::LeakPool,
            Subject::Handle(p),
            phase,
            format!("NBL pool not freed ({live} NBLs live)"),
        );
        if live > 0 {
            w.leak(
                Rule::LeakNbl,
                Subject::Handle(p),
                phase,
                format!("{live} NBLs not freed"),
            );
        }
    }
    let clone_live = w.pools.get(&w.clone_pool).map_or(0, |p| p.live);
    if clone_live > 0 {
        w.leak(
            Rule::LeakNbl,
            Subject::Handle(w.clone_pool),
            phase,
            format!("{clone_live} NBL clones not freed"),
        );
    }
    let mem: Vec<(usize, usize)> = w.memory.iter().map(|(&k, v)| (k, v.0.size())).collect();
    for (p, size) in mem {
        w.leak(
            Rule::LeakMemory,
            Subject::Memory(p),
            phase,
            format!("{size} bytes not freed"),
        );
    }
    let devs: Vec<usize> = w.devices.keys().copied().collect();
    for d in devs {
        w.leak(
            Rule::LeakDevice,
            Subject::Handle(d),
            phase,
            "control device not deregistered",
        );
    }
    let clones: Vec<usize> = w.oid_clones.keys().copied().collect();
    for c in clones {
        w.leak(
            Rule::LeakOidClone,
            Subject::Request(c),
            phase,
            "OID clone not freed",
        );
    }
}
