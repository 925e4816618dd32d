//! The learning switch: one port per adapter and per peer, a MAC table learnt on ingress with
//! ageing on the virtual clock, flushed per port when its link goes down, known unicast to its
//! port only, everything else flooded.

use super::packets::is_group;
use super::{Port, PortCounters};
use crate::sched::Nanos;
use std::collections::BTreeMap;

/// One learnt address.
#[derive(Clone, Copy, Debug)]
struct Entry {
    port: Port,
    seen: Nanos,
}

/// The switch.
pub(crate) struct Switch {
    table: BTreeMap<[u8; 6], Entry>,
    ageing: Nanos,
    /// Every port (adapters first, then peers: `Port`'s order) and its counters.
    pub counters: BTreeMap<Port, PortCounters>,
}

impl Switch {
    pub(crate) fn new(ageing: Nanos) -> Self {
        Switch {
            table: BTreeMap::new(),
            ageing,
            counters: BTreeMap::new(),
        }
    }

    /// Plugs in `port`.
    pub(crate) fn add_port(&mut self, port: Port) {
        self.counters.entry(port).or_default();
    }

    /// Where the switch has `mac` now (aged entries are gone).
    pub(crate) fn lookup(&self, mac: [u8; 6], now: Nanos) -> Option<Port> {
        self.table
            .get(&mac)
            .filter(|e| now.saturating_sub(e.seen) < self.ageing)
            .map(|e| e.port)
    }

    fn count(&mut self, p: Port) -> &mut PortCounters {
        self.counters.entry(p).or_default()
    }

    /// A frame from `src` to `dst` enters on `ingress` at `now`: learns `src` and returns the
    /// ports it leaves by (never `ingress`).
    pub(crate) fn forward(
        &mut self,
        ingress: Port,
        dst: [u8; 6],
        src: [u8; 6],
        now: Nanos,
    ) -> Vec<Port> {
        self.count(ingress).frames_in += 1;
        if !is_group(&src) && src != [0; 6] {
            if self.lookup(src, now).is_some_and(|p| p != ingress) {
                self.count(ingress).mac_moves += 1;
            }
            self.table.insert(
                src,
                Entry {
                    port: ingress,
                    seen: now,
                },
            );
        }
        let out: Vec<Port> = match (is_group(&dst), self.lookup(dst, now)) {
            (false, Some(p)) if p == ingress => Vec::new(),
            (false, Some(p)) => vec![p],
            _ => {
                self.count(ingress).flooded += 1;
                self.counters
                    .keys()
                    .copied()
                    .filter(|&p| p != ingress)
                    .collect()
            }
        };
        for &p in &out {
            self.count(p).frames_out += 1;
        }
        out
    }

    /// The link of `port` went down: forget everything learnt on it.
    pub(crate) fn flush(&mut self, port: Port) {
        self.table.retain(|_, e| e.port != port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const P: [u8; 6] = [2, 0, 0, 0, 0, 9];

    fn switch(ageing: Nanos) -> Switch {
        let mut s = Switch::new(ageing);
        for p in [Port::Peer(0), Port::Adapter(1), Port::Adapter(0)] {
            s.add_port(p);
        }
        s
    }

    #[test]
    fn unknown_unicast_floods_then_learnt_goes_to_one_port_only() {
        let mut s = switch(1_000);
        let out = s.forward(Port::Adapter(0), P, A, 0);
        assert_eq!(out, vec![Port::Adapter(1), Port::Peer(0)]);
        assert_eq!(s.counters[&Port::Adapter(0)].flooded, 1);
        let out = s.forward(Port::Peer(0), A, P, 10);
        assert_eq!(out, vec![Port::Adapter(0)]);
        let out = s.forward(Port::Adapter(0), P, A, 20);
        assert_eq!(out, vec![Port::Peer(0)]);
        assert_eq!(s.counters[&Port::Peer(0)].frames_in, 1);
        assert_eq!(s.counters[&Port::Peer(0)].frames_out, 2);
        // A frame for a MAC on its own ingress port goes nowhere.
        assert!(s.forward(Port::Adapter(0), A, A, 30).is_empty());
        // Broadcast floods to all others.
        let out = s.forward(Port::Adapter(1), [0xFF; 6], B, 40);
        assert_eq!(out, vec![Port::Adapter(0), Port::Peer(0)]);
    }

    #[test]
    fn entries_age_out_move_and_flush() {
        let mut s = switch(1_000);
        s.forward(Port::Adapter(0), P, A, 0);
        assert_eq!(s.lookup(A, 999), Some(Port::Adapter(0)));
        assert_eq!(s.lookup(A, 1_000), None, "aged out after mac_ageing");
        s.forward(Port::Adapter(0), P, A, 1_000);
        s.forward(Port::Adapter(1), P, A, 1_001);
        assert_eq!(s.counters[&Port::Adapter(1)].mac_moves, 1);
        assert_eq!(s.lookup(A, 1_002), Some(Port::Adapter(1)));
        // An aged entry reappearing elsewhere is learning, not a move.
        s.forward(Port::Adapter(0), P, A, 5_000);
        assert_eq!(s.counters[&Port::Adapter(0)].mac_moves, 0);
        s.flush(Port::Adapter(0));
        assert_eq!(s.lookup(A, 5_001), None);
    }
}
