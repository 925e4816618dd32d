//! Receive path: the miniport's indications (some with NDIS_RECEIVE_FLAGS_RESOURCES, reclaimed as
//! soon as the call returns), the protocol taking them, and its returns back down.

use super::accounting::{Counter, take_one};
use super::status::random_port;
use super::{
    DIR_RX, FramedNbl, call_filter, framed_nbl, handback_ok, pick_irql, unchanged_while_away,
};
use crate::callbacks;
use crate::frames::{self, Check};
use crate::machine::Irql;
use crate::nblmem;
use crate::rules::{Rule, Subject};
use crate::world::{self, Came, Event, ModState, NState, Origin, World};
use mpfilter::ndis::consts::{
    NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL, NDIS_RECEIVE_FLAGS_RESOURCES,
    NDIS_RETURN_FLAGS_DISPATCH_LEVEL,
};
use mpfilter::ndis::types::NDIS_PORT_NUMBER;

pub(super) fn mp_rx_tick(a: usize) {
    let go = world::with(|w| {
        let ad = &w.adapters[a];
        let remaining = ad.rx_target > ad.stats.rx_received + ad.mp.rx_inflight;
        // Nothing arrives on a disconnected link: the ticks stop, and link up starts them again.
        let go = remaining && ad.mp.running && ad.mp.link.up;
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
        let room = t
            .window
            .saturating_sub(usize::try_from(ad.mp.rx_outstanding).unwrap_or(usize::MAX));
        let n = w
            .rng
            .range_usize(1, t.max_chain.max(1))
            .min(room)
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        if n == 0 {
            return None;
        }
        let resources = w.rng.chance(w.cfg.random.resources_percent);
        let port = random_port(w);
        let pool = w.adapters[a].mp.pool;
        let dst = w.adapters[a].cfg.mac;
        let handle = w.adapters[a].mp.token.addr();
        let mut nbls = Vec::with_capacity(n);
        for _ in 0..n {
            let seq = w.adapters[a].mp.rx_seq;
            w.adapters[a].mp.rx_seq += 1;
            let state = if resources {
                NState::Resources { module: a }
            } else {
                NState::Filter {
                    module: Some(a),
                    came: Came::Below,
                }
            };
            let (nbl, _) = framed_nbl(
                w,
                &FramedNbl {
                    pool,
                    origin: Origin::MpRx(a),
                    macs: (dst, frames::peer_mac(a)),
                    seq,
                    adapter: a,
                    dir: DIR_RX,
                    len: t.frame_len,
                    source: handle,
                    state,
                    probe: false,
                    port,
                    flow: None,
                },
            )?;
            nbls.push(nbl);
        }
        let ad = &mut w.adapters[a];
        ad.stats.chains_indicated += 1;
        ad.stats.chains_on_other_ports += u64::from(port != 0);
        ad.stats.rx_indicated += n as u64;
        // Frames a Running module's protocol is owed (a module not Running returns them).
        if ad.module.state == ModState::Running {
            ad.rx_unseen += n as u64;
        }
        ad.mp.rx_inflight += n as u64;
        if resources {
            ad.stats.rx_indicated_resources += n as u64;
        } else {
            ad.mp.rx_outstanding += n as u64;
        }
        let irql = pick_irql(w);
        Some((World::link(&nbls), nbls, irql, resources, port))
    });
    let Some(Some((head, nbls, irql, resources, port))) = plan else {
        return;
    };
    let delivered = indicate_chain(a, head, nbls.len(), irql, resources, port);
    world::with(|w| {
        if delivered == Some(false) {
            proto_receive_bypass(w, a, &nbls, resources);
            return;
        }
        if !resources || w.halted {
            return;
        }
        resources_reclaim(w, a, &nbls);
    });
}

/// No receive handler: NDIS indicates the miniport's chain straight to the protocol, which
/// returns it at once.
pub(super) fn proto_receive_bypass(w: &mut World, a: usize, nbls: &[usize], resources: bool) {
    proto_receive(w, a, nbls, true);
    for &n in nbls {
        mp_reclaim(w, a, n, !resources);
    }
}

/// After a RESOURCES indication returns: the chain must be intact and every NBL unmodified.
pub(super) fn resources_reclaim(w: &mut World, a: usize, nbls: &[usize]) {
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

/// The miniport takes a received NBL back.
pub(crate) fn mp_reclaim(w: &mut World, a: usize, nbl: usize, was_outstanding: bool) {
    let delivered = w.delivered.remove(&nbl);
    let inflight = if w.fabric_nbls.remove(&nbl) {
        Counter::FabricInflight
    } else {
        Counter::MpInflight
    };
    if !delivered && !take_one(w, a, inflight) {
        return;
    }
    if was_outstanding && !take_one(w, a, Counter::MpReceives) {
        return;
    }
    w.adapters[a].stats.rx_reclaimed += 1;
    super::liveness::progress(w, a, super::liveness::Wait::Returns);
    w.pool_release(nbl);
}

/// The protocol receives NBLs the filter indicated (already validated and marked `Up`).
pub(crate) fn proto_receive(w: &mut World, a: usize, nbls: &[usize], resources: bool) {
    let mac = w.adapters[a].cfg.mac;
    for &nbl in nbls {
        if super::loopback_received(w, a, nbl) {
            continue;
        }
        w.adapters[a].rx_unseen = 0;
        super::liveness::progress(w, a, super::liveness::Wait::Receives);
        // SAFETY: the callers pass live emulator NBLs.
        let info = unsafe { crate::nblmem::nbl_mut(nbl) }.NetBufferListInfo
            [mpfilter::ndis::consts::TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO]
            as usize;
        if info != super::RX_CHECKSUM_INFO {
            w.adapters[a].stats.rx_receive_info_missing += 1;
        }
        let whole = super::each_frame(
            w,
            nbl,
            "NdisFIndicateReceiveNetBufferLists",
            |w, frame, total| {
                if !super::fabric::protocol_filter_ok(w, a, nbl, frame)
                    || super::fabric::protocol_saw(w, a, frame)
                {
                    w.adapters[a].stats.rx_received_bytes += total as u64;
                    return;
                }
                let st = &mut w.adapters[a].stats;
                st.rx_received_bytes += total as u64;
                let from_peer = |id: &frames::FrameId| {
                    (id.origin == a & 0xFF).then_some((mac, frames::peer_mac(a)))
                };
                if let Check::Bad(_) = frames::check(frame, total, DIR_RX, &from_peer) {
                    st.rx_bad += 1;
                }
            },
        );
        if !whole || w.halted {
            return;
        }
        // Only the miniport's own receives count as delivered (a filter may indicate its own).
        let mine = matches!(w.nbls.get(&nbl).map(|t| t.origin), Some(Origin::MpRx(x)) if x == a);
        if mine && w.delivered.insert(nbl) {
            if w.fabric_nbls.contains(&nbl) {
                if !take_one(w, a, Counter::FabricInflight) {
                    return;
                }
                continue;
            }
            if !take_one(w, a, Counter::MpInflight) {
                return;
            }
            w.adapters[a].stats.rx_received += 1;
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

pub(super) fn proto_return(a: usize, nbls: &[usize]) {
    let plan = world::with(|w| {
        for &nbl in nbls {
            let t = w.nbls.get(&nbl)?;
            let NState::Up { module, came, .. } = t.state else {
                return None;
            };
            if !unchanged_while_away(w, nbl, Rule::RecvTouchedWhileIndicated, || {
                format!("the NBL was indicated up (adapter {module})")
            }) {
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
        w.adapters[a].stats.chains_returned += 1;
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

/// Calls the filter's FilterReceiveNetBufferLists with the linked chain at `head` of `len` NBLs
/// (with RESOURCES when `resources`, DISPATCH when `irql` is); `Some(false)` when no module could
/// take it (see `call_filter`).
pub(super) fn indicate_chain(
    a: usize,
    head: usize,
    len: usize,
    irql: Irql,
    resources: bool,
    port: NDIS_PORT_NUMBER,
) -> Option<bool> {
    let mut flags = if irql.is_dispatch() {
        NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    if resources {
        flags |= NDIS_RECEIVE_FLAGS_RESOURCES;
    }
    let count = u32::try_from(len).unwrap_or(u32::MAX);
    call_filter(Some(a), "FilterReceiveNetBufferLists", irql, |h, ctx| {
        // SAFETY: ctx is the module context; head a chain of live NBLs lent to the filter.
        unsafe { callbacks::receive(h, ctx, head as *mut _, port, count, flags) }
    })
}
