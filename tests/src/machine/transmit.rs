//! Send path, miniport side: the transmit queue timed by link speed, the frames checked on the
//! wire, and the batched (possibly reordered) send completions back up through the filter.

use super::send::proto_send_completed;
use super::{DIR_TX, call_filter, pick_irql, unchanged_while_away};
use crate::callbacks;
use crate::frames::{self, Check};
use crate::nblmem;
use crate::rules::Rule;
use crate::world::{self, Came, Event, NState, World};
use mpfilter::ndis::consts::{NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL, NDIS_STATUS_SUCCESS};

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

pub(super) fn mp_tx_done(a: usize) {
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

pub(super) fn mp_complete(a: usize, mut nbls: Vec<usize>) {
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
            if !unchanged_while_away(w, nbl, Rule::SendTouchedWhilePending, || {
                format!("the NBL was below the filter (sent on adapter {module})")
            }) {
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
