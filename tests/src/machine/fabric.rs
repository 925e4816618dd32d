//! The fabric in motion ([`crate::fabric`]): frames leaving a wire enter the switch, the switch
//! sends them out of its ports, peers answer, and an adapter's miniport indicates what its packet
//! filter accepts through the filter as it indicates any receive.

use super::receive::indicate_chain;
use super::receive::{proto_receive_bypass, resources_reclaim};
use super::status::random_port;
use super::{bytes_nbl, pick_irql};
use crate::fabric::Port;
use crate::fabric::packets::{self, FrameKind};
use crate::frames::{self, Check, SOURCE_MAC};
use crate::ledger::FrameKey;
use crate::rules::{Rule, Subject};
use crate::world::{self, Came, Event, ModState, NState, Origin, World};

/// `NDIS_PACKET_TYPE_*` bits.
pub(crate) const DIRECTED: u32 = 0x01;
pub(crate) const MULTICAST: u32 = 0x02;
pub(crate) const ALL_MULTICAST: u32 = 0x04;
pub(crate) const BROADCAST: u32 = 0x08;
pub(crate) const PROMISCUOUS: u32 = 0x20;

/// Whether a packet filter `bits` with multicast list `list` on an adapter with `mac` accepts a
/// frame to `dst`.
pub(crate) fn filter_accepts(bits: u32, list: &[[u8; 6]], mac: [u8; 6], dst: &[u8]) -> bool {
    if bits & PROMISCUOUS != 0 {
        return true;
    }
    if dst == [0xFF; 6] {
        return bits & BROADCAST != 0;
    }
    if packets::is_group(dst) {
        return bits & ALL_MULTICAST != 0
            || (bits & MULTICAST != 0 && list.iter().any(|m| m[..] == *dst));
    }
    bits & DIRECTED != 0 && dst == mac
}

/// A frame adapter `a`'s miniport finished transmitting (`check` is what the wire check made of
/// it); with a fabric it goes to the switch (if `delivered`) and the frame is the fabric's, not
/// the ledger's: true. False without a fabric.
pub(crate) fn on_wire(
    w: &mut World,
    a: usize,
    frame: &[u8],
    check: &Check,
    delivered: bool,
) -> bool {
    let Some(f) = w.fabric.as_mut() else {
        return false;
    };
    let now = w.sched.now();
    if !matches!(check, Check::Good(_)) {
        let kind = packets::kind_of(frame);
        if kind != FrameKind::Flow {
            f.wire_frames.push(crate::fabric::WireFrame {
                at: now,
                adapter: a,
                kind,
                bytes: frame.to_vec(),
            });
        }
    }
    let src = &frame[6.min(frame.len())..12.min(frame.len())];
    if src.len() < 6 || packets::is_group(src) || src.iter().all(|&b| b == 0) {
        w.violate(
            Rule::WireSourceMac,
            Subject::Driver,
            "-",
            format!("adapter {a}'s miniport put a frame with source MAC {src:02x?} on its wire"),
        );
        return true;
    }
    if let Check::Bad(SOURCE_MAC) = check {
        w.violate(
            Rule::WireSourceMac,
            Subject::Driver,
            "-",
            format!(
                "adapter {a}'s miniport put a protocol's frame with source MAC {src:02x?} on its \
                 wire: not its sender's in the group's MAC mode (preserve: the protocol's \
                 adapter's; rewrite: the carrying adapter's)"
            ),
        );
        return true;
    }
    if delivered {
        let d = f.cfg.hop_latency + w.adapters[a].cfg.wire_latency_ns;
        if let Some(f) = w.fabric.as_mut() {
            f.in_flight += 1;
        }
        w.sched.after(
            d,
            Event::FabricIn {
                port: Port::Adapter(a),
                frame: frame.to_vec(),
                wire: Some(a),
            },
        );
    }
    true
}

/// A frame reaches the switch through `port`.
pub(super) fn switch_in(port: Port, frame: &[u8], wire: Option<usize>) {
    world::with(|w| {
        let now = w.now();
        let Some(f) = w.fabric.as_mut() else { return };
        f.in_flight = f.in_flight.saturating_sub(1);
        if frame.len() < 14 {
            return;
        }
        let dst: [u8; 6] = frame[0..6].try_into().unwrap_or([0; 6]);
        let src: [u8; 6] = frame[6..12].try_into().unwrap_or([0; 6]);
        let hop = f.cfg.hop_latency;
        for out in f.switch.forward(port, dst, src, now) {
            let d = match out {
                Port::Adapter(b) => hop + w.adapters[b].cfg.wire_latency_ns,
                Port::Peer(_) => hop,
            };
            if let Some(f) = w.fabric.as_mut() {
                f.in_flight += 1;
            }
            w.sched.after(
                d,
                Event::FabricOut {
                    port: out,
                    frame: frame.to_vec(),
                    wire,
                },
            );
        }
    });
}

/// A frame the switch sent out of `port` reaches what is plugged into it.
pub(super) fn port_out(port: Port, frame: Vec<u8>, wire: Option<usize>) {
    world::with(|w| {
        let Some(f) = w.fabric.as_mut() else { return };
        f.in_flight = f.in_flight.saturating_sub(1);
        match port {
            Port::Peer(k) => to_peer(w, k, &frame, wire),
            Port::Adapter(b) => to_adapter(w, b, frame),
        }
    });
}

fn to_peer(w: &mut World, k: usize, frame: &[u8], wire: Option<usize>) {
    let now = w.now();
    let Some(f) = w.fabric.as_mut() else { return };
    let out = f.peers[k].receive(frame);
    let hop = f.cfg.hop_latency;
    let mut arrived = out.flow;
    if out.flow.is_some() {
        f.peers[k].counters.flow_received += 1;
    } else if packets::ethertype(frame) == frames::ETHERTYPE && frame[0..6] == f.peers[k].cfg.mac {
        // A plain frame addressed to this peer is delivered too.
        let dst = f.peers[k].cfg.mac;
        let macs_of = |id: &frames::FrameId| w.adapters.get(id.origin).map(|ad| (dst, ad.cfg.mac));
        if let Check::Good(id) = frames::check(frame, frame.len(), super::DIR_TX, &macs_of) {
            arrived = Some(id);
        }
    }
    if let (Some(id), Some(wire)) = (arrived, wire) {
        let key = FrameKey {
            origin: id.origin,
            flow: id.flow,
            seq: id.flow_seq,
        };
        w.ledger.arrived(key, wire, now);
    }
    let n = (out.replies.len() + out.late_replies.len()) as u64;
    if let Some(f) = w.fabric.as_mut() {
        f.in_flight += n;
    }
    let late = hop + crate::fabric::LATE_ANSWER;
    let timed = out.replies.into_iter().map(|r| (hop, r));
    for (after, r) in timed.chain(out.late_replies.into_iter().map(|r| (late, r))) {
        w.sched.after(
            after,
            Event::FabricIn {
                port: Port::Peer(k),
                frame: r,
                wire: None,
            },
        );
    }
}

fn to_adapter(w: &mut World, b: usize, frame: Vec<u8>) {
    let ad = &w.adapters[b];
    let alive = ad.mp.link.up
        && !ad.mp.link.blackhole
        && ad.mp.running
        && !matches!(ad.module.state, ModState::Detached | ModState::Attaching);
    let accepted = filter_accepts(
        ad.mp.packet_filter,
        &ad.mp.multicast,
        ad.cfg.mac,
        &frame[0..6],
    );
    let Some(f) = w.fabric.as_mut() else { return };
    if !alive {
        if let Some(c) = f.switch.counters.get_mut(&Port::Adapter(b)) {
            c.dropped_out += 1;
        }
        return;
    }
    if !accepted {
        f.seen[b].mp_rejected += 1;
        return;
    }
    f.seen[b].mp_accepted += 1;
    f.rx_queue[b].push_back(frame);
    if !f.rx_scheduled[b] {
        f.rx_scheduled[b] = true;
        w.sched.after(1, Event::FabricRx(b));
    }
}

/// Adapter `a`'s miniport's link went down: the switch forgets what it learnt on its port.
pub(crate) fn link_down(w: &mut World, a: usize) {
    if let Some(f) = w.fabric.as_mut() {
        f.switch.flush(Port::Adapter(a));
    }
}

/// An NBL from adapter `a`'s miniport pool carrying `bytes`, stamped and snapshotted as a
/// receive.
fn frame_nbl(w: &mut World, a: usize, bytes: &[u8], state: NState, port: u32) -> Option<usize> {
    let pool = w.adapters[a].mp.pool;
    let source = w.adapters[a].mp.token.addr();
    let (nbl, _) = bytes_nbl(w, pool, Origin::MpRx(a), bytes, source, state)?;
    w.nbls.get_mut(&nbl)?.port = port;
    w.fabric_nbls.insert(nbl);
    Some(nbl)
}

/// Adapter `a`'s miniport indicates the frames the switch brought it (a chain of at most
/// `max_chain`; the rest follow).
pub(super) fn mp_indicate_fabric(a: usize) {
    let plan = world::with(|w| {
        let max = w.traffic(a).max_chain.max(1);
        let f = w.fabric.as_mut()?;
        let n = f.rx_queue[a].len().min(max);
        let batch: Vec<Vec<u8>> = f.rx_queue[a].drain(..n).collect();
        let more = !f.rx_queue[a].is_empty();
        f.rx_scheduled[a] = more;
        if more {
            w.sched.after(1, Event::FabricRx(a));
        }
        let ad = &w.adapters[a];
        if batch.is_empty()
            || !ad.mp.running
            || matches!(ad.module.state, ModState::Detached | ModState::Attaching)
        {
            return None;
        }
        let resources = w.rng.chance(w.cfg.random.resources_percent);
        let port = random_port(w);
        let state = if resources {
            NState::Resources { module: a }
        } else {
            NState::Filter {
                module: Some(a),
                came: Came::Below,
            }
        };
        let mut nbls = Vec::with_capacity(batch.len());
        for bytes in &batch {
            nbls.push(frame_nbl(w, a, bytes, state, port)?);
        }
        let mp = &mut w.adapters[a].mp;
        mp.fabric_inflight += nbls.len() as u64;
        if !resources {
            mp.rx_outstanding += nbls.len() as u64;
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
        if resources && !w.halted {
            resources_reclaim(w, a, &nbls);
        }
    });
}

/// Adapter `a`'s protocol got `frame` (not a loopback) with a fabric configured: true if it is
/// one of the fabric's kinds (counted here); false for the emulator's own receive frames.
pub(crate) fn protocol_saw(w: &mut World, a: usize, frame: &[u8]) -> bool {
    let Some(f) = w.fabric.as_mut() else {
        return false;
    };
    let seen = &mut f.seen[a];
    match packets::kind_of(frame) {
        FrameKind::Echo => {
            let own = frames::flow_identity(frame).is_some_and(|(id, _)| id.origin == a & 0xFF);
            if own {
                seen.echoes_own += 1;
            } else {
                seen.echoes_other += 1;
            }
        }
        FrameKind::ArpRequest | FrameKind::ArpReply | FrameKind::GratuitousArp => seen.arp += 1,
        FrameKind::NeighborSolicitation | FrameKind::NeighborAdvertisement => seen.nd += 1,
        FrameKind::Flow => seen.other += 1,
        FrameKind::Other => {
            if packets::ethertype(frame) == frames::ETHERTYPE {
                return false;
            }
            seen.other += 1;
        }
    }
    true
}

/// `recv.outside-protocol-filter`: with a fabric, a frame indicated to adapter `a`'s protocol
/// must pass the packet filter the protocol itself set (if it set one), whatever the filter below
/// did to the miniport's.
pub(crate) fn protocol_filter_ok(w: &mut World, a: usize, nbl: usize, frame: &[u8]) -> bool {
    if w.fabric.is_none() || frame.len() < 6 {
        return true;
    }
    let p = &w.adapters[a].proto;
    let Some(bits) = p.filter_set else {
        return true;
    };
    // The protocol sets no multicast list of its own.
    if filter_accepts(bits, &[], w.adapters[a].cfg.mac, &frame[0..6]) {
        return true;
    }
    w.violate(
        Rule::RecvOutsideProtocolFilter,
        Subject::Nbl(nbl),
        "NdisFIndicateReceiveNetBufferLists",
        format!(
            "a frame to {:02x?} reached adapter {a}'s protocol, whose packet filter is {bits:#x}",
            &frame[0..6]
        ),
    );
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const OTHER: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const GROUP: [u8; 6] = [0x33, 0x33, 0xFF, 0, 0, 1];

    #[test]
    fn the_packet_filter_accepts_what_each_bit_says() {
        let f = |bits, list: &[[u8; 6]], dst: [u8; 6]| filter_accepts(bits, list, MAC, &dst);
        assert!(f(DIRECTED, &[], MAC));
        assert!(!f(DIRECTED, &[], OTHER));
        assert!(!f(BROADCAST | MULTICAST, &[GROUP], MAC), "no DIRECTED");
        assert!(f(BROADCAST, &[], [0xFF; 6]));
        assert!(!f(DIRECTED | MULTICAST, &[GROUP], [0xFF; 6]));
        assert!(f(MULTICAST, &[GROUP], GROUP));
        assert!(!f(MULTICAST, &[], GROUP), "not in the list");
        assert!(
            !f(BROADCAST, &[GROUP], GROUP),
            "in the list without MULTICAST"
        );
        assert!(f(ALL_MULTICAST, &[], GROUP));
        assert!(f(PROMISCUOUS, &[], OTHER));
        assert!(!f(0, &[], MAC));
    }
}
