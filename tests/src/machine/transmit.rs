//! Send path, miniport side: the transmit queue timed by link speed, the frames checked on the
//! wire, and the batched (possibly reordered) send completions back up through the filter.

use super::fault::{self, Fate};
use super::send::proto_send_completed;
use super::{DIR_TX, call_filter, pick_irql, unchanged_while_away};
use crate::callbacks;
use crate::frames::{self, Check};
use crate::irql::Irql;
use crate::ledger::FrameKey;
use crate::nblmem;
use crate::rules::Rule;
use crate::sched::Nanos;
use crate::world::{self, Came, Event, NState, World};
use mpfilter::ndis::consts::{
    NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL, NDIS_STATUS_SUCCESS,
    TCP_LARGE_SEND_NET_BUFFER_LIST_INFO,
};

/// The miniport takes NBLs the filter sent (already validated and marked `Below`).
pub(crate) fn mp_enqueue(w: &mut World, a: usize, nbls: &[usize]) {
    w.adapters[a].mp.tx_queue.extend(nbls.iter().copied());
    for &nbl in nbls {
        if !w.failed_sends.is_empty()
            && let Some(root) = w.protocol_root(nbl)
            && w.failed_sends.remove(&root)
        {
            w.adapters[a].stats.tx_resends_taken += 1;
        }
        let target = destination_of(w, nbl);
        let ad = &mut w.adapters[a];
        let n = ad.mp.below_by_target.entry(target).or_insert(0);
        *n += 1;
        ad.stats.tx_below_peak_per_target = ad.stats.tx_below_peak_per_target.max(*n);
        ad.mp.below_target.insert(nbl, target);
    }
    let now = w.now();
    let ad = &mut w.adapters[a];
    if let Some(m) = ad.mp.shim.as_mut() {
        m.on_send(u32::try_from(nbls.len()).unwrap_or(u32::MAX), now);
    }
    ad.mp.below += nbls.len() as u64;
    ad.stats.tx_below_peak = ad.stats.tx_below_peak.max(ad.mp.below);
    if !w.adapters[a].mp.tx_busy {
        mp_start_tx(w, a);
    }
}

/// The destination an NBL's frame is for, as a balancer's target: the IPv4 destination address
/// of a flow frame (the last four bytes of the IPv6 one: the flow target), 0 for anything else.
fn destination_of(w: &mut World, nbl: usize) -> u32 {
    // SAFETY: nbl is a live emulator NBL just sent below the filter.
    let nb = unsafe { nblmem::nbl_mut(nbl) }.FirstNetBuffer;
    if nb.is_null() {
        return 0;
    }
    let mut scratch = std::mem::take(&mut w.scratch);
    // SAFETY: the NET_BUFFERs of a live NBL describe readable data.
    let (_, got) = unsafe { nblmem::read_nb(nb, &mut scratch) };
    let whole = &scratch[..got];
    // Behind an in-frame 802.1Q tag, the frame is read as if untagged.
    let frame = whole
        .get(frames::link_len(whole) - frames::ETH_HEADER..)
        .unwrap_or_default();
    let target = match (frame.get(12..14), frame.get(30..34)) {
        (Some([0x08, 0x00]), Some(ip)) => {
            u32::from_be_bytes(<[u8; 4]>::try_from(ip).unwrap_or_default())
        }
        (Some([0x86, 0xDD]), _) => frame.get(50..54).map_or(0, |ip| {
            u32::from_be_bytes(<[u8; 4]>::try_from(ip).unwrap_or_default())
        }),
        _ => 0,
    };
    w.scratch = scratch;
    target
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
    let ns = if w.adapters[a].mp.link.up {
        transmit_ns(bytes, w.adapters[a].cfg.link_speed_bps)
    } else {
        // Nothing goes out on a disconnected link: the miniport fails the NBL at once.
        1
    };
    w.adapters[a].mp.tx_busy = true;
    w.sched.after(ns, Event::TxDone(a));
}

/// Virtual time a frame of `bytes` (plus preamble, start delimiter, FCS and inter-frame gap:
/// 24 bytes) takes on a link of `bps`.
pub(crate) fn transmit_ns(bytes: u64, bps: u64) -> Nanos {
    ((bytes + 24) * 8 * 1_000_000_000 / bps.max(1)).max(1)
}

pub(super) fn mp_tx_done(a: usize) {
    world::with(|w| {
        if let Some(until) = fault::stalled(w, a) {
            // The frame on the wire finishes when the stall ends.
            w.sched.at(until, Event::TxDone(a));
            return;
        }
        let Some(nbl) = w.adapters[a].mp.tx_queue.pop_front() else {
            w.adapters[a].mp.tx_busy = false;
            return;
        };
        match fault::fate(w, a) {
            Fate::Fail(status) => {
                w.tx_failed.insert(nbl, status);
                if let Some(root) = w.protocol_root(nbl) {
                    w.failed_sends.insert(root);
                }
            }
            fate => {
                if !wire_check(w, a, nbl, fate == Fate::Deliver) {
                    return;
                }
            }
        }
        w.adapters[a].mp.batch.push(nbl);
        if w.adapters[a].mp.batch_target == 0 {
            let max = w.cfg.random.max_completion_batch.max(1);
            w.adapters[a].mp.batch_target = w.rng.range_usize(1, max);
        }
        let mp = &w.adapters[a].mp;
        if mp.batch.len() >= mp.batch_target {
            flush_batch(w, a);
        } else if mp.flush_due.is_none() {
            // A short batch still completes, a little later, together with whatever joins it.
            let d = w.rng.range(2_000, 20_000);
            w.adapters[a].mp.flush_due = Some(w.now() + d);
            w.sched.after(d, Event::TxFlush(a));
        }
        mp_start_tx(w, a);
    });
}

/// Schedules the completion of the miniport's current batch (a multi-NBL chain, reordered).
fn flush_batch(w: &mut World, a: usize) {
    let batch = std::mem::take(&mut w.adapters[a].mp.batch);
    w.adapters[a].mp.batch_target = 0;
    if batch.is_empty() {
        return;
    }
    let delay = w.rng.range(100, 2_000);
    w.sched.after(delay, Event::Complete(a, batch));
}

/// The flush timer of a short completion batch.
pub(super) fn mp_flush(a: usize) {
    world::with(|w| {
        w.adapters[a].mp.flush_due = None;
        flush_batch(w, a);
    });
}

/// Counts (and checks) every NET_BUFFER of an NBL the miniport transmits, and records each
/// intact emulator frame in the ledger if it is `delivered`; false (and `nbl.chain-cycle`) if its
/// NET_BUFFER chain does not end.
///
/// A frame names the adapter whose protocol sent it (a filter may have rerouted it here): its
/// MACs must be that adapter's.
fn wire_check(w: &mut World, a: usize, nbl: usize, delivered: bool) -> bool {
    super::each_frame(w, nbl, "-", |w, frame, total| {
        let check = {
            // Rewrite mode: another adapter carries a protocol's frame with its own MAC.
            let macs_of = |id: &frames::FrameId| {
                w.adapters.get(id.origin).map(|ad| {
                    let src = if id.origin != a && ad.cfg.rewrites_mac() {
                        w.adapters[a].cfg.mac
                    } else {
                        ad.cfg.mac
                    };
                    (w.tx_dst_of(id), src)
                })
            };
            frames::check(frame, total, DIR_TX, &macs_of)
        };
        let st = &mut w.adapters[a].stats;
        st.wire_tx_frames += 1;
        st.wire_tx_bytes += total as u64;
        if let Check::Good(id) = check {
            st.wire_tx_rerouted += u64::from(id.origin != a);
        }
        if super::fabric::on_wire(w, a, frame, &check, delivered) {
            if let Check::Bad(_) = check {
                w.adapters[a].stats.wire_tx_bad += 1;
            }
            return;
        }
        let st = &mut w.adapters[a].stats;
        match check {
            Check::Bad(_) => st.wire_tx_bad += 1,
            Check::Good(id) => {
                if delivered {
                    let key = FrameKey {
                        origin: id.origin,
                        flow: id.flow,
                        seq: id.flow_seq,
                    };
                    let latency = w.adapters[a].cfg.wire_latency_ns;
                    if latency == 0 {
                        let now = w.now();
                        w.ledger.arrived(key, a, now);
                    } else {
                        w.adapters[a].mp.propagating += 1;
                        w.sched.after(latency, Event::Arrive(key, a));
                    }
                }
            }
            Check::Foreign => {}
        }
    })
}

/// `LsoV2TransmitComplete` with Type = NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE and Reserved 0.
pub(crate) const LSO_V2_TRANSMIT_COMPLETE: usize = 1 << 30;

/// Before it completes an LSOv2 send — whatever the status — a miniport writes
/// `LsoV2TransmitComplete` over the request in the NBL's large-send info (NDIS's "Offloading the
/// Segmentation of Large TCP Packets"). The write lands on the NBL the miniport got: a filter's
/// clone, or the protocol's own NBL. The protocol that sent it must read the write-back at
/// hand-back (its expected snapshot is updated here; `send.nbl-modified-on-handback` otherwise).
/// The emulated protocols make no LSOv1 sends, whose write-back is the payload sent.
fn lso_write_back(w: &mut World, nbl: usize) {
    // SAFETY: nbl is live; the miniport owns it until its completion.
    let n = unsafe { nblmem::nbl_mut(nbl) };
    let info = n.NetBufferListInfo[TCP_LARGE_SEND_NET_BUFFER_LIST_INFO].addr();
    if !super::limits::large_send(info).is_some_and(|l| l.v2) {
        return;
    }
    n.NetBufferListInfo[TCP_LARGE_SEND_NET_BUFFER_LIST_INFO] =
        core::ptr::without_provenance_mut(LSO_V2_TRANSMIT_COMPLETE);
    if let Some(root) = w.protocol_root(nbl)
        && let Some(t) = w.nbls.get_mut(&root)
    {
        t.entry_snap.set_info(
            TCP_LARGE_SEND_NET_BUFFER_LIST_INFO,
            LSO_V2_TRANSMIT_COMPLETE,
        );
    }
}

pub(super) fn mp_complete(a: usize, mut nbls: Vec<usize>) {
    let plan = world::with(|w| {
        if let Some(until) = fault::stalled(w, a) {
            w.sched
                .at(until, Event::Complete(a, std::mem::take(&mut nbls)));
            return Some((0, Irql::Passive));
        }
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
            if !unchanged_while_away(w, nbl, Rule::SendTouchedWhilePending, || {
                format!("the NBL was below the filter (sent on adapter {module})")
            }) {
                return None;
            }
            let cancelled = w.cancelled.remove(&nbl);
            let failed = w.tx_failed.remove(&nbl);
            // SAFETY: nbl is live; the miniport owns it until the completion below.
            unsafe { nblmem::nbl_mut(nbl) }.Status = failed.unwrap_or(if cancelled {
                mpfilter::ndis::consts::NDIS_STATUS_SEND_ABORTED
            } else {
                NDIS_STATUS_SUCCESS
            });
            lso_write_back(w, nbl);
            if let Some(t) = w.nbls.get_mut(&nbl) {
                t.state = NState::Filter {
                    module: (came != Came::Own).then_some(module),
                    came,
                };
            }
            let now = w.now();
            let mp = &mut w.adapters[a].mp;
            if let Some(m) = mp.shim.as_mut() {
                m.on_complete(1, u32::from(failed.is_some()), now);
            }
            mp.below = mp.below.saturating_sub(1);
            if let Some(target) = mp.below_target.remove(&nbl)
                && let Some(n) = mp.below_by_target.get_mut(&target)
            {
                *n = n.saturating_sub(1);
            }
        }
        if !nbls.is_empty() {
            w.adapters[a].stats.chains_completed += 1;
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
