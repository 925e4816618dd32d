//! A peer host behind the switch: answers ARP (RFC 5227 probes included) and neighbour
//! solicitations for its own addresses, keeps a neighbour cache that learns as Linux's does, and
//! echoes the protocols' flow frames addressed to it.

use super::packets::{
    ALL_NODES, ARP_REPLY, ARP_REQUEST, Arp, ICMPV6_NA, ICMPV6_NS, NA_OVERRIDE, NA_SOLICITED, Nd,
    ipv6_multicast_mac, is_group,
};
use super::{PeerConfig, PeerCounters};
use crate::frames::{self, FlowDir, FrameId};
use std::collections::BTreeMap;

/// A peer and what it learnt.
pub(crate) struct Peer {
    pub cfg: PeerConfig,
    /// IP (4 or 16 bytes) → MAC.
    pub neighbors: BTreeMap<Vec<u8>, [u8; 6]>,
    pub counters: PeerCounters,
}

/// What a peer made of one frame.
#[derive(Default)]
pub(crate) struct Outcome {
    /// Frames it sends in answer.
    pub replies: Vec<Vec<u8>>,
    /// Answers that follow a moment later ([`PeerConfig::answers_twice`]'s second answer).
    pub late_replies: Vec<Vec<u8>>,
    /// The flow frame addressed to it that it received.
    pub flow: Option<FrameId>,
}

impl Peer {
    pub(crate) fn new(cfg: PeerConfig) -> Self {
        Peer {
            cfg,
            neighbors: BTreeMap::new(),
            counters: PeerCounters::default(),
        }
    }

    /// Where a frame to `ip` goes: the cached MAC, else `fallback`.
    fn mac_for(&self, ip: &[u8], fallback: [u8; 6]) -> [u8; 6] {
        self.neighbors.get(ip).copied().unwrap_or(fallback)
    }

    fn learn(&mut self, ip: &[u8], mac: [u8; 6], create: bool) {
        if ip.iter().all(|&b| b == 0) || is_group(&mac) {
            return;
        }
        if create || self.neighbors.contains_key(ip) {
            self.neighbors.insert(ip.to_vec(), mac);
        }
    }

    /// The peer's NIC takes `frame` (what the switch sent out its port).
    pub(crate) fn receive(&mut self, frame: &[u8]) -> Outcome {
        let mut out = Outcome::default();
        let Some(dst) = frame.get(0..6) else {
            return out;
        };
        if dst != self.cfg.mac && !is_group(dst) {
            return out;
        }
        if let Some(arp) = Arp::parse(frame) {
            self.arp(&arp, &mut out);
        } else if let Some(nd) = Nd::parse(frame) {
            self.nd(&nd, frame, &mut out);
        } else if dst == self.cfg.mac {
            self.flow(frame, &mut out);
        }
        out
    }

    fn arp(&mut self, arp: &Arp, out: &mut Outcome) {
        let for_me = arp.tpa == self.cfg.ipv4;
        // Linux: a request for us creates the sender's entry; anything else (replies,
        // gratuitous ARP) only updates an entry that exists — a reply to us creates one too.
        let create = for_me && (arp.op == ARP_REQUEST || arp.op == ARP_REPLY) && !arp.gratuitous();
        self.learn(&arp.spa, arp.sha, create);
        if !(for_me && arp.op == ARP_REQUEST && self.cfg.answers_neighbors) {
            return;
        }
        self.counters.arp_answered += 1;
        let reply = Arp {
            op: ARP_REPLY,
            sha: self.cfg.mac,
            spa: self.cfg.ipv4,
            tha: arp.sha,
            tpa: arp.spa,
        };
        let to = if arp.spa == [0; 4] {
            arp.sha
        } else {
            self.mac_for(&arp.spa, arp.sha)
        };
        let frame = reply.frame(to, self.cfg.mac);
        if self.cfg.answers_twice {
            out.late_replies.push(frame.clone());
        }
        out.replies.push(frame);
    }

    fn nd(&mut self, nd: &Nd, frame: &[u8], out: &mut Outcome) {
        if nd.kind == ICMPV6_NA {
            // Solicited advertisements create; unsolicited ones update only, and only with
            // the override flag (RFC 4861 7.2.5).
            if let Some(mac) = nd.lladdr {
                if nd.flags & NA_SOLICITED != 0 {
                    self.learn(&nd.target, mac, true);
                } else if nd.flags & NA_OVERRIDE != 0 {
                    self.learn(&nd.target, mac, false);
                }
            }
            return;
        }
        let dad = nd.src == [0; 16];
        if let (false, Some(mac)) = (dad, nd.lladdr) {
            self.learn(&nd.src, mac, true);
        }
        if nd.kind != ICMPV6_NS || nd.target != self.cfg.ipv6 || !self.cfg.answers_neighbors {
            return;
        }
        self.counters.ns_answered += 1;
        let (dst_ip, eth_dst, flags) = if dad {
            (ALL_NODES, ipv6_multicast_mac(&ALL_NODES), NA_OVERRIDE)
        } else {
            let fallback = nd
                .lladdr
                .unwrap_or_else(|| frame[6..12].try_into().unwrap_or([0; 6]));
            (
                nd.src,
                self.mac_for(&nd.src, fallback),
                NA_SOLICITED | NA_OVERRIDE,
            )
        };
        let na = Nd {
            kind: ICMPV6_NA,
            src: self.cfg.ipv6,
            dst: dst_ip,
            target: self.cfg.ipv6,
            flags,
            lladdr: Some(self.cfg.mac),
        };
        let frame = na.frame(eth_dst, self.cfg.mac);
        if self.cfg.answers_twice {
            out.late_replies.push(frame.clone());
        }
        out.replies.push(frame);
    }

    fn flow(&mut self, frame: &[u8], out: &mut Outcome) {
        let Some((id, FlowDir::Tx)) = frames::flow_identity(frame) else {
            return;
        };
        let Some((src_ip, dst_ip)) = frames::flow_ips(frame) else {
            return;
        };
        let mine = dst_ip == self.cfg.ipv4 || dst_ip == self.cfg.ipv6;
        if !mine {
            return;
        }
        out.flow = Some(id);
        if !self.cfg.echoes {
            return;
        }
        let fallback: [u8; 6] = frame[6..12].try_into().unwrap_or([0; 6]);
        let to = self.mac_for(src_ip, fallback);
        if let Some(e) = frames::echo_of(frame, to, self.cfg.mac) {
            self.counters.echoes_sent += 1;
            out.replies.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::{FabricConfig, adapter_ipv4, adapter_ipv6};

    const A: [u8; 6] = [2, 0, 0x5E, 0x10, 0, 0];
    const B: [u8; 6] = [2, 0, 0x5E, 0x10, 0, 1];

    fn peer() -> Peer {
        Peer::new(FabricConfig::with_peers(1).peers[0].clone())
    }

    #[test]
    fn an_arp_request_gets_a_unicast_reply_byte_by_byte() {
        let mut p = peer();
        let o = p.receive(&Arp::request(A, adapter_ipv4(0), p.cfg.ipv4));
        assert_eq!(o.replies.len(), 1);
        let r = &o.replies[0];
        assert_eq!(r[0..6], A, "to the requester");
        assert_eq!(r[6..12], p.cfg.mac);
        assert_eq!(r[12..14], [8, 6]);
        assert_eq!(r[14..22], [0, 1, 8, 0, 6, 4, 0, 2]);
        assert_eq!(r[22..28], p.cfg.mac);
        assert_eq!(r[28..32], [10, 1, 0, 0]);
        assert_eq!(r[32..38], A);
        assert_eq!(r[38..42], adapter_ipv4(0));
        assert_eq!(p.counters.arp_answered, 1);
        // A request for another address is not answered.
        assert!(
            p.receive(&Arp::request(A, adapter_ipv4(0), [10, 9, 9, 9]))
                .replies
                .is_empty()
        );
    }

    #[test]
    fn an_arp_probe_is_answered_to_its_sender_mac() {
        let mut p = peer();
        let o = p.receive(&Arp::request(B, [0; 4], p.cfg.ipv4));
        let r = Arp::parse(&o.replies[0]).expect("ARP");
        assert_eq!((r.op, r.tha, r.tpa), (ARP_REPLY, B, [0; 4]));
        assert_eq!(o.replies[0][0..6], B);
        assert_eq!(
            p.neighbors.get(&[0u8; 4][..]),
            None,
            "0.0.0.0 is not learnt"
        );
    }

    #[test]
    fn gratuitous_arp_moves_an_existing_entry_and_echoes_follow_it() {
        let mut p = peer();
        p.neighbors.insert(adapter_ipv4(0).to_vec(), A);
        // A's address announced at B's MAC.
        p.receive(&Arp::announce(B, adapter_ipv4(0)));
        assert_eq!(p.neighbors.get(&adapter_ipv4(0)[..]), Some(&B));
        // A GARP for an unknown address creates nothing.
        p.receive(&Arp::announce(B, [10, 0, 7, 1]));
        assert_eq!(p.neighbors.get(&[10u8, 0, 7, 1][..]), None);
        let mut buf = [0u8; 200];
        let id = FrameId {
            origin: 0,
            flow: 0,
            flow_seq: 3,
            seq: 3,
        };
        let n = frames::build_flow_to(&mut buf, p.cfg.mac, A, id, 100, 0);
        let o = p.receive(&buf[..n]);
        assert_eq!(o.flow, Some(id));
        assert_eq!(
            o.replies[0][0..6],
            B,
            "to the MAC the cache holds for A's IP"
        );
        assert_eq!(
            frames::flow_identity(&o.replies[0]),
            Some((id, FlowDir::Echo))
        );
        // Not for this peer's IP: neither received nor echoed.
        let n = frames::build_flow_to(&mut buf, p.cfg.mac, A, FrameId { flow: 1, ..id }, 100, 1);
        assert!(p.receive(&buf[..n]).flow.is_none());
    }

    #[test]
    fn a_solicitation_gets_a_solicited_advertisement_and_dad_gets_all_nodes() {
        let mut p = peer();
        let o = p.receive(&Nd::solicit(A, adapter_ipv6(0), p.cfg.ipv6));
        let f = &o.replies[0];
        assert_eq!(f[0..6], A);
        let na = Nd::parse(f).expect("a valid NA (checksum verified)");
        assert_eq!(na.kind, ICMPV6_NA);
        assert_eq!(
            (na.src, na.dst, na.target),
            (p.cfg.ipv6, adapter_ipv6(0), p.cfg.ipv6)
        );
        assert_eq!(na.flags, NA_SOLICITED | NA_OVERRIDE);
        assert_eq!(na.lladdr, Some(p.cfg.mac));
        assert_eq!(p.neighbors.get(&adapter_ipv6(0)[..]), Some(&A));
        let dad = Nd {
            kind: ICMPV6_NS,
            src: [0; 16],
            dst: crate::fabric::packets::solicited_node(&p.cfg.ipv6),
            target: p.cfg.ipv6,
            flags: 0,
            lladdr: None,
        }
        .frame([0x33, 0x33, 0xFF, 0, 0, 0], B);
        let o = p.receive(&dad);
        let na = Nd::parse(&o.replies[0]).expect("NA");
        assert_eq!(o.replies[0][0..6], [0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!((na.dst, na.flags), (ALL_NODES, NA_OVERRIDE));
        // An unsolicited override NA moves an existing entry.
        p.receive(&Nd::announce(B, adapter_ipv6(0)));
        assert_eq!(p.neighbors.get(&adapter_ipv6(0)[..]), Some(&B));
        assert_eq!(p.counters.ns_answered, 2);
    }
}
