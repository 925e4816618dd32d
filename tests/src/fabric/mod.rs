//! An L2 fabric around the adapters (opt-in: [`crate::EmuConfig::fabric`]): a learning switch
//! with one port per adapter and one per peer host, peers that answer ARP and neighbour
//! solicitation and echo the protocols' flow frames, and the records of what everyone saw.
//!
//! Addresses: adapter `a` is 10.0.`a`.1 and fd00::`a`:1 ([`adapter_ipv4`], [`adapter_ipv6`],
//! as the flow frames' sources always were); with [`FabricConfig::with_peers`], peer `k` (from 0)
//! is MAC 02:50:45:45:52:`k`, 10.1.0.`k` and fd01::`k` — the flow target `k` of the frames, so
//! flow `f` goes to peer `f % peers`.
//!
//! Timing: a frame enters the switch when the miniport finishes transmitting it plus the
//! adapter's wire latency plus `hop_latency`; it reaches a peer `hop_latency` after the switch
//! forwards it, and an adapter `hop_latency` plus its wire latency after. Faults: a link-down
//! port drops what the switch sends out of it (and its learnt entries are flushed when it goes
//! down); a blackholed adapter loses frames both ways (its link stays up); a stalled miniport
//! (`Fault::Stall`) stalls its transmit side only — frames the switch sends it are still
//! indicated, as a NIC whose transmit ring hangs still receives.

pub mod packets;
pub(crate) mod peer;
pub(crate) mod switch;

use crate::sched::Nanos;
use packets::FrameKind;

/// How long after its first answer a peer that [`PeerConfig::answers_twice`] sends the second.
pub const LATE_ANSWER: Nanos = 1_000_000;

/// A peer host behind the switch.
#[derive(Clone, Debug, PartialEq, Eq)]
// Independent switches of a scenario's peer, each set on its own.
#[allow(clippy::struct_excessive_bools)]
pub struct PeerConfig {
    /// Its name (for reports).
    pub name: String,
    /// Its MAC.
    pub mac: [u8; 6],
    /// Its IPv4 address.
    pub ipv4: [u8; 4],
    /// Its IPv6 address.
    pub ipv6: [u8; 16],
    /// Answers ARP requests and neighbour solicitations for its addresses.
    pub answers_neighbors: bool,
    /// Sends each such answer twice, the second [`LATE_ANSWER`] after the first (as a host and a
    /// proxy-ARP router that both answer for the address do): a prober must count one answer
    /// per request.
    pub answers_twice: bool,
    /// Echoes flow frames addressed to it.
    pub echoes: bool,
    /// Its neighbour cache starts with every adapter's IPv4 and IPv6 address at that adapter's
    /// MAC.
    pub static_neighbors: bool,
}

impl PeerConfig {
    /// Peer `k`: MAC 02:50:45:45:52:`k`, 10.1.0.`k`, fd01::`k`, answering, echoing, with static
    /// neighbours.
    pub fn numbered(k: u8) -> Self {
        PeerConfig {
            name: format!("peer {k}"),
            mac: peer_mac(usize::from(k)),
            ipv4: peer_ipv4(usize::from(k)),
            ipv6: peer_ipv6(usize::from(k)),
            answers_neighbors: true,
            answers_twice: false,
            echoes: true,
            static_neighbors: true,
        }
    }
}

/// The fabric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FabricConfig {
    /// The peer hosts (port `Port::Peer(k)` is `peers[k]`).
    pub peers: Vec<PeerConfig>,
    /// How long the switch keeps a learnt MAC it has not seen since (default 300 s).
    pub mac_ageing: Nanos,
    /// Time a frame takes into or out of the switch (default 1 µs).
    pub hop_latency: Nanos,
}

impl FabricConfig {
    /// `n` peers numbered from 0 (see [`PeerConfig::numbered`]), default ageing and latency.
    pub fn with_peers(n: u8) -> Self {
        FabricConfig {
            peers: (0..n).map(PeerConfig::numbered).collect(),
            mac_ageing: 300_000_000_000,
            hop_latency: 1_000,
        }
    }
}

/// The MAC of peer `k` of [`FabricConfig::with_peers`].
pub fn peer_mac(k: usize) -> [u8; 6] {
    [0x02, 0x50, 0x45, 0x45, 0x52, k.to_le_bytes()[0]]
}

/// The IPv4 address of peer `k`: 10.1.0.`k` (the flow frames' target `k`).
pub fn peer_ipv4(k: usize) -> [u8; 4] {
    crate::frames::flow_dst_ip(u32::try_from(k).unwrap_or(0))
}

/// The IPv6 address of peer `k`: fd01::`k`.
pub fn peer_ipv6(k: usize) -> [u8; 16] {
    crate::frames::flow_dst_ip6(u32::try_from(k).unwrap_or(0))
}

/// The IPv4 address of adapter `a`: 10.0.`a`.1.
pub fn adapter_ipv4(a: usize) -> [u8; 4] {
    crate::frames::flow_src_ip(a)
}

/// The IPv6 address of adapter `a`: fd00::`a`:1.
pub fn adapter_ipv6(a: usize) -> [u8; 16] {
    crate::frames::flow_src_ip6(a)
}

/// A port of the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Port {
    /// The port of adapter `.0`.
    Adapter(usize),
    /// The port of peer `.0`.
    Peer(usize),
}

/// Counters of one switch port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames that entered the switch through it.
    pub frames_in: u64,
    /// Frames the switch sent out of it.
    pub frames_out: u64,
    /// Frames that entered through it and were flooded (unknown unicast, broadcast, multicast).
    pub flooded: u64,
    /// Source MACs learnt on it that the switch had on another port (MAC moves).
    pub mac_moves: u64,
    /// Frames the switch sent out of it that were lost: link down or blackholed.
    pub dropped_out: u64,
}

/// Counters of one peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerCounters {
    /// ARP requests for its address it answered.
    pub arp_answered: u64,
    /// Neighbour solicitations for its address it answered.
    pub ns_answered: u64,
    /// Flow frames addressed to it that it received.
    pub flow_received: u64,
    /// Echoes it sent.
    pub echoes_sent: u64,
}

/// What one adapter's protocol and miniport saw of the fabric.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtocolSeen {
    /// Echoes of its own sends it received.
    pub echoes_own: u64,
    /// Echoes of another adapter's sends it received (misdelivered).
    pub echoes_other: u64,
    /// ARP frames (requests, replies, gratuitous) it received.
    pub arp: u64,
    /// Neighbour solicitations and advertisements it received.
    pub nd: u64,
    /// Anything else the fabric brought it.
    pub other: u64,
    /// Frames from the switch the miniport indicated (its packet filter accepted them).
    pub mp_accepted: u64,
    /// Frames from the switch the miniport dropped: its packet filter rejected them.
    pub mp_rejected: u64,
}

/// A frame a miniport put on its wire that is not a protocol's flow frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireFrame {
    /// When its transmission ended.
    pub at: Nanos,
    /// The adapter whose miniport transmitted it.
    pub adapter: usize,
    /// What it is.
    pub kind: FrameKind,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl FabricReport {
    /// The counters of `port` (zero if there is no such port).
    pub fn port(&self, port: Port) -> PortCounters {
        self.ports
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }

    /// The non-flow frames adapter `a`'s miniport put on its wire, of `kind`.
    pub fn wire_frames_of(&self, a: usize, kind: FrameKind) -> Vec<&WireFrame> {
        self.wire_frames
            .iter()
            .filter(|f| f.adapter == a && f.kind == kind)
            .collect()
    }
}

/// What the fabric saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FabricReport {
    /// Per adapter.
    pub protocols: Vec<ProtocolSeen>,
    /// Per switch port, adapters first, then peers.
    pub ports: Vec<(Port, PortCounters)>,
    /// Per peer.
    pub peers: Vec<PeerCounters>,
    /// Frames on the wires that are not flow frames, in order.
    pub wire_frames: Vec<WireFrame>,
}

/// The fabric's state in the world.
pub(crate) struct Fabric {
    pub cfg: FabricConfig,
    pub switch: switch::Switch,
    pub peers: Vec<peer::Peer>,
    pub seen: Vec<ProtocolSeen>,
    pub wire_frames: Vec<WireFrame>,
    /// Frames travelling between a port and the switch.
    pub in_flight: u64,
    /// Frames waiting for an adapter's miniport to indicate them, per adapter.
    pub rx_queue: Vec<std::collections::VecDeque<Vec<u8>>>,
    /// Whether an adapter's indication of queued frames is scheduled.
    pub rx_scheduled: Vec<bool>,
}

impl Fabric {
    /// The fabric with its peers and no adapter yet.
    pub(crate) fn new(cfg: FabricConfig) -> Self {
        let mut switch = switch::Switch::new(cfg.mac_ageing);
        for k in 0..cfg.peers.len() {
            switch.add_port(Port::Peer(k));
        }
        Fabric {
            switch,
            peers: cfg.peers.iter().cloned().map(peer::Peer::new).collect(),
            seen: Vec::new(),
            wire_frames: Vec::new(),
            in_flight: 0,
            rx_queue: Vec::new(),
            rx_scheduled: Vec::new(),
            cfg,
        }
    }

    /// Plugs adapter `a` (the next one) with `mac` in.
    pub(crate) fn add_adapter(&mut self, a: usize, mac: [u8; 6]) {
        self.switch.add_port(Port::Adapter(a));
        self.seen.push(ProtocolSeen::default());
        self.rx_queue.push(std::collections::VecDeque::new());
        self.rx_scheduled.push(false);
        for p in &mut self.peers {
            if p.cfg.static_neighbors {
                p.neighbors.insert(adapter_ipv4(a).to_vec(), mac);
                p.neighbors.insert(adapter_ipv6(a).to_vec(), mac);
            }
        }
    }

    /// The report.
    pub(crate) fn report(&self) -> FabricReport {
        FabricReport {
            protocols: self.seen.clone(),
            ports: self
                .switch
                .counters
                .iter()
                .map(|(p, c)| (*p, c.clone()))
                .collect(),
            peers: self.peers.iter().map(|p| p.counters.clone()).collect(),
            wire_frames: self.wire_frames.clone(),
        }
    }
}
