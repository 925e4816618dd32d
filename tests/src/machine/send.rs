//! Send path, protocol side: the protocol's send ticks, its chains (some tagged for cancel) going
//! down into the filter, and the completions it gets back.

use super::forward::{self, CancelKind};
use super::status::random_port;
use super::transmit::mp_enqueue;
use super::{
    DIR_TX, FramedNbl, append_flow_frames, bytes_nbl, call_filter, framed_nbl, pick_irql,
    resnapshot,
};
use crate::callbacks;
use crate::irql::Irql;
use crate::ledger::FrameKey;
use crate::nblmem;
use crate::world::{self, Came, Event, ModState, NState, Origin, World};
use mpfilter::ndis::consts::{
    NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK, NDIS_SEND_FLAGS_DISPATCH_LEVEL, NDIS_STATUS_PAUSED,
    NDIS_STATUS_SUCCESS,
};

pub(super) fn proto_send_tick(a: usize) {
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

/// The flow of the protocol's next frame and its sequence in it (drawn from the seeded RNG), or
/// `None` for plain frames (`flows` = 0: no draw, so such runs are as they always were);
/// `Err(())` when every flow is at its `flow_window` cap.
fn next_flow(w: &mut World, a: usize) -> Result<Option<(u32, u64)>, ()> {
    let flows = w.adapters[a].proto.flow_seqs.len();
    if flows == 0 {
        return Ok(None);
    }
    let drawn = w.rng.range_usize(0, flows - 1);
    let cap = w.traffic(a).flow_window;
    let p = &mut w.adapters[a].proto;
    let f = if cap == 0 {
        drawn
    } else {
        (0..flows)
            .map(|k| (drawn + k) % flows)
            .find(|&f| p.flow_outstanding[f] < cap)
            .ok_or(())?
    };
    let seq = p.flow_seqs[f];
    p.flow_seqs[f] += 1;
    Ok(Some((u32::try_from(f).unwrap_or(u32::MAX), seq)))
}

/// The protocol of adapter `a` sent `nbl` (not a probe): `len` bytes in `frames` frames,
/// `(flow, seq)` and the flow's next `frames - 1` in the ledger.
fn count_sent(
    w: &mut World,
    a: usize,
    nbl: usize,
    len: usize,
    (flow, seq): (u32, u64),
    frames: u16,
) {
    let st = &mut w.adapters[a].stats;
    st.tx_sent += 1;
    st.tx_sent_bytes += len as u64;
    let now = w.now();
    for i in 0..u64::from(frames) {
        let key = FrameKey {
            origin: a,
            flow,
            seq: seq + i,
        };
        w.ledger.sent_at(key, now);
    }
    if let Some(n) = w.adapters[a].proto.flow_outstanding.get_mut(flow as usize) {
        *n += u32::from(frames);
    }
    if let Some(t) = w.nbls.get_mut(&nbl) {
        t.frame = Some(FrameKey {
            origin: a,
            flow,
            seq,
        });
        t.frames = frames;
    }
}

/// Whether adapter `a`'s protocol makes large sends, and its frame length range: what its stack
/// presented — large sends only with LSO, every frame within the LSO limit or the MTU (plus the
/// Ethernet header).
fn frame_plan(w: &World, a: usize) -> (bool, (usize, usize)) {
    let t = w.traffic(a);
    let view = &w.adapters[a].proto;
    let lso_view = if t.ipv6 {
        view.lso6_view
    } else {
        view.lso_view
    };
    let lso = t.lso_mss != 0 && lso_view > 0;
    let limit = if lso { lso_view } else { view.mtu_view };
    let cap = 14 + usize::try_from(limit).unwrap_or(usize::MAX - 14);
    (lso, (t.frame_len.0.min(cap), t.frame_len.1.min(cap)))
}

/// How many more frames of `flow` adapter `a`'s protocol puts in further NET_BUFFERs of the NBL
/// it is building (its traffic's `nbs_per_nbl`; none without a flow), their flow sequence
/// numbers taken.
fn batch_extra(w: &mut World, a: usize, flow: Option<(u32, u64)>) -> usize {
    let Some((f, _)) = flow else {
        return 0;
    };
    let (lo, hi) = w.traffic(a).nbs_per_nbl;
    let n = w.rng.range_usize(lo.max(1), hi.max(lo.max(1))) - 1;
    if let Some(s) = w.adapters[a].proto.flow_seqs.get_mut(f as usize) {
        *s += n as u64;
    }
    n
}

/// Makes `nbl` (the protocol's, not yet sent) an LSOv2 send with `mss`, over IPv6 or IPv4.
fn mark_large_send(w: &mut World, nbl: usize, mss: u32, ipv6: bool) {
    // LSOv2 (Type bit 30), IPv4 (bit 31 clear) or IPv6 (set), the MSS in bits 0-19.
    let v6 = if ipv6 { 1 << 31 } else { 0 };
    let info = (mss & 0x000F_FFFF) | (1 << 30) | v6;
    // SAFETY: the protocol's own NBL, not yet handed to the filter.
    unsafe { nblmem::nbl_mut(nbl) }.NetBufferListInfo
        [mpfilter::ndis::consts::TCP_LARGE_SEND_NET_BUFFER_LIST_INFO] =
        core::ptr::without_provenance_mut(info as usize);
    // The entry snapshot must include the LSO information.
    resnapshot(w, nbl);
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
        resnapshot(w, n);
    }
    id
}

/// The protocol sends one chain on a random port; `probe` sends a short chain whatever the module
/// state (to check that a module that is not Running completes it with NDIS_STATUS_PAUSED).
pub(crate) fn proto_send(a: usize, probe: bool) {
    let plan = world::with(|w| {
        let t = w.traffic(a).clone();
        let ad = &w.adapters[a];
        let n = if probe {
            w.rng.range_usize(1, 4)
        } else {
            if !ad.proto.running
                || ad.module.state != ModState::Running
                || ad.proto.filter_pending.is_some()
                || ad.proto.multicast_pending.is_some()
            {
                return None;
            }
            let room = t
                .window
                .saturating_sub(usize::try_from(ad.proto.outstanding).unwrap_or(usize::MAX));
            let want = w.rng.range_usize(1, t.max_chain.max(1));
            want.min(room)
                .min(usize::try_from(w.adapters[a].tx_target).unwrap_or(usize::MAX))
        };
        if n == 0 {
            return None;
        }
        let port = random_port(w);
        let pool = w.adapters[a].proto.pool;
        let src = w.adapters[a].cfg.mac;
        let (lso, len) = frame_plan(w, a);
        let handle = w.adapters[a].proto.token.addr();
        let mut nbls = Vec::with_capacity(n);
        for _ in 0..n {
            let Ok(flow) = (if probe { Ok(None) } else { next_flow(w, a) }) else {
                break;
            };
            let seq = w.adapters[a].proto.tx_seq;
            w.adapters[a].proto.tx_seq += 1;
            let framed = FramedNbl {
                pool,
                origin: Origin::ProtoTx(a),
                macs: (w.tx_dst(a, flow.map_or(0, |f| f.0)), src),
                seq,
                adapter: a,
                dir: DIR_TX,
                len,
                source: handle,
                state: NState::Filter {
                    module: Some(a),
                    came: Came::Above,
                },
                probe,
                port,
                flow,
            };
            let (nbl, mut len) = framed_nbl(w, &framed)?;
            let extra = if lso { 0 } else { batch_extra(w, a, flow) };
            len += append_flow_frames(w, &framed, nbl, extra);
            if lso {
                mark_large_send(w, nbl, t.lso_mss, t.ipv6);
            }
            if probe {
                w.adapters[a].stats.probes_sent += 1;
            } else {
                let frames = u16::try_from(extra + 1).unwrap_or(u16::MAX);
                count_sent(w, a, nbl, len, flow.unwrap_or((0, seq)), frames);
                if w.adapters[a].traffic.check_for_loopback {
                    super::loopback::expect_loopback(w, a, w.tx_dst(a, flow.map_or(0, |f| f.0)));
                }
            }
            nbls.push(nbl);
        }
        let n = nbls.len();
        if n == 0 {
            return None;
        }
        let ad = &mut w.adapters[a];
        ad.stats.chains_sent += 1;
        ad.stats.chains_on_other_ports += u64::from(port != 0);
        ad.proto.outstanding += n as u64;
        if !probe {
            ad.tx_target -= n as u64;
        }
        let irql = pick_irql(w);
        let cancel = (!probe && w.rng.chance(w.cfg.random.send_cancel_percent))
            .then(|| tag_cancel(w, a, &nbls));
        entering(w, a, &nbls);
        Some((World::link(&nbls), irql, cancel, port, nbls))
    });
    let Some(Some((head, irql, cancel, port, nbls))) = plan else {
        return;
    };
    let flags = send_flags(a, irql);
    let sent = call_filter(Some(a), "FilterSendNetBufferLists", irql, |h, ctx| {
        // SAFETY: ctx is the module context; head a chain of live NBLs now owned by the filter.
        unsafe { callbacks::send(h, ctx, head as *mut _, port, flags) }
    });
    world::with(|w| entered(w, &nbls));
    if let (Some(true), Some(id)) = (sent, cancel) {
        proto_cancel(a, irql, id);
    }
    if sent == Some(false) {
        bypass_filter(a, head);
    }
}

/// The protocol of adapter `a` sends one NBL carrying `bytes` (an ARP request, a neighbour
/// solicitation: what a stack sends besides its flows); counted as a send, not in the ledger.
/// False if the protocol cannot send now (not running, module not Running, packet filter not
/// set yet).
pub(crate) fn proto_send_frame(a: usize, bytes: &[u8]) -> bool {
    let plan = world::with(|w| {
        let ad = &w.adapters[a];
        if !ad.proto.running
            || ad.module.state != ModState::Running
            || ad.proto.filter_pending.is_some()
            || ad.proto.multicast_pending.is_some()
        {
            return None;
        }
        let pool = ad.proto.pool;
        let source = ad.proto.token.addr();
        let state = NState::Filter {
            module: Some(a),
            came: Came::Above,
        };
        let (nbl, len) = bytes_nbl(w, pool, Origin::ProtoTx(a), bytes, source, state)?;
        let ad = &mut w.adapters[a];
        ad.stats.tx_sent += 1;
        ad.stats.tx_sent_bytes += len as u64;
        ad.stats.chains_sent += 1;
        ad.proto.outstanding += 1;
        let irql = pick_irql(w);
        entering(w, a, &[nbl]);
        Some((nbl, irql))
    });
    let Some(Some((nbl, irql))) = plan else {
        return false;
    };
    let flags = if irql.is_dispatch() {
        NDIS_SEND_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    let sent = call_filter(Some(a), "FilterSendNetBufferLists", irql, |h, ctx| {
        // SAFETY: ctx is the module context; nbl a live NBL now owned by the filter.
        unsafe { callbacks::send(h, ctx, nbl as *mut _, 0, flags) }
    });
    world::with(|w| entered(w, &[nbl]));
    if sent == Some(false) {
        bypass_filter(a, nbl);
    }
    true
}

/// No send handler: NDIS passes the protocol's chain straight to the miniport.
fn bypass_filter(a: usize, head: usize) {
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

/// The protocol cancels the chain it just sent (tagged with `id`).
fn proto_cancel(a: usize, irql: Irql, id: usize) {
    world::with(|w| forward::cancel_raised(w, a, CancelKind::Send, id));
    let had = call_filter(Some(a), "FilterCancelSendNetBufferLists", irql, |h, ctx| {
        // SAFETY: ctx is the module context; the id is the one the NBLs carry.
        unsafe { callbacks::cancel_send(h, ctx, core::ptr::without_provenance_mut(id)) }
    });
    if had == Some(false) {
        // No FilterCancelSendNetBufferLists: NDIS passes the cancel down itself.
        world::with(|w| forward::cancel_forwarded(w, a, CancelKind::Send, id));
    }
}

/// The protocol gets one of its NBLs back (already validated).
pub(crate) fn proto_send_completed(w: &mut World, a: usize, nbl: usize) {
    // SAFETY: nbl is a live protocol NBL handed back to the emulator.
    let status = unsafe { nblmem::nbl_mut(nbl) }.Status;
    // Back with the protocol: no re-send of it can follow (its address may be reused).
    w.failed_sends.remove(&nbl);
    let probe = w.nbls.get(&nbl).is_some_and(|t| t.probe);
    let sent = w
        .nbls
        .get_mut(&nbl)
        .and_then(|t| Some((t.frame.take()?, t.frames)));
    if let Some((key, frames)) = sent {
        let now = w.now();
        for i in 0..u64::from(frames) {
            w.ledger.completed_at(
                FrameKey {
                    seq: key.seq + i,
                    ..key
                },
                status,
                now,
            );
        }
        if let Some(n) = w.adapters[a]
            .proto
            .flow_outstanding
            .get_mut(key.flow as usize)
        {
            *n = n.saturating_sub(u32::from(frames));
        }
    }
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
            // SAFETY: as above.
            let id = unsafe { nblmem::nbl_mut(nbl) }.NetBufferListInfo
                [mpfilter::ndis::consts::NET_BUFFER_LIST_CANCEL_ID];
            st.tx_aborted_uncancelled += u64::from(id.is_null());
        }
    }
    if !super::accounting::take_one(w, a, super::accounting::Counter::ProtoSends) {
        return;
    }
    super::liveness::progress(w, a, super::liveness::Wait::Sends);
    w.pool_release(nbl);
}

/// `nbls` go into adapter `a`'s FilterSendNetBufferLists on this processor (threads mode: its
/// pause waits for the call to return, as NDIS pauses a module once the drivers above are quiet).
fn entering(w: &mut World, a: usize, nbls: &[usize]) {
    if w.census.threads() {
        let cpu = w.kernel.cpu;
        w.census.in_send.extend(nbls.iter().map(|&n| (n, (cpu, a))));
    }
}

/// The FilterSendNetBufferLists that took `nbls` returned (an NBL already completed and sent
/// again on another processor is that one's now).
fn entered(w: &mut World, nbls: &[usize]) {
    let cpu = w.kernel.cpu;
    for n in nbls {
        if w.census.in_send.get(n).is_some_and(|&(c, _)| c == cpu) {
            w.census.in_send.remove(n);
        }
    }
}

/// The SendFlags of a protocol's send on adapter `a` at `irql`.
fn send_flags(a: usize, irql: Irql) -> u32 {
    let mut flags = if irql.is_dispatch() {
        NDIS_SEND_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    if world::with(|w| w.traffic(a).check_for_loopback) == Some(true) {
        flags |= NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK;
    }
    flags
}
