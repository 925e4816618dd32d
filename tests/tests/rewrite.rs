//! Rewrite mode (issue 10 items 3 and 6b), through the emulator's L2 fabric: member 0's protocol
//! sends flows to two peers, which echo them. Member 0's link fails at 103 ms: its traffic keeps
//! flowing through member 1 with member 1's source MAC (the emulator's `wire.source-mac` holds
//! every carried frame to the carrier's MAC in rewrite mode, and `nbl.data-written` every
//! protocol buffer to what the protocol wrote), so the switch never learns member 0's MAC on
//! member 1's port. Member 1 announces member 0's address at its own MAC (gratuitous ARP,
//! `AnnounceCount` of them `AnnounceIntervalMs` apart), the peers' entries move, and their echoes
//! — to member 1's MAC and member 0's IP — come up member 0's stack with member 0's MAC. The link
//! comes back at 400 ms: member 0 announces its address at its own MAC again (failback).
//!
//! The control: with `AnnounceCount` 0 nothing is announced and the peers' entries stay at
//! member 0's MAC, which no port has any more: every echo is flooded, and only the team's
//! promiscuous member 1 brings it up member 0's stack (as in preserve mode).
//! Host build and loaded `mpfilter.sys`.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use common::idle;
use mpfilter::diag::Event;
use mpfilter::module::ModuleStats;
use ndis_emu::config::RegValue;
use ndis_emu::fabric::packets::{Arp, FrameKind, NA_OVERRIDE, Nd};
use ndis_emu::fabric::{
    FabricConfig, FabricReport, Port, adapter_ipv4, adapter_ipv6, peer_ipv4, peer_ipv6, peer_mac,
};
use ndis_emu::ledger::OriginReport;
use ndis_emu::wire::Fault;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, TrafficConfig};

const MS: u64 = 1_000_000;
/// Between two of the group timer's 10 ms ticks.
const DOWN_AT: u64 = 103 * MS;
const UP_AT: u64 = 250 * MS;
const INTERVAL_MS: u32 = 50;
/// When a peer asks for member 0's address, its link down.
const ASK_AT: u64 = 200 * MS;

fn member(index: u8, announce: u32) -> AdapterConfig {
    AdapterConfig::numbered(index)
        .with_param("GroupId", RegValue::Dword(1))
        .with_param("Policy", RegValue::Sz("failover".into()))
        .with_param("Priority", RegValue::Dword(u32::from(index)))
        .with_param("Failback", RegValue::Sz("immediate".into()))
        .with_param("UpDelayMs", RegValue::Dword(0))
        .with_param("MacMode", RegValue::Sz("rewrite".into()))
        .with_param("AnnounceCount", RegValue::Dword(announce))
        .with_param("AnnounceIntervalMs", RegValue::Dword(INTERVAL_MS))
}

fn traffic(ipv6: bool) -> TrafficConfig {
    TrafficConfig {
        ipv6,
        tx_nbls: 10_000,
        rx_nbls: 0,
        max_chain: 4,
        frame_len: (200, 600),
        window: 64,
        send_interval: 100_000,
        flows: 16,
        ..TrafficConfig::default()
    }
}

struct Seen {
    fabric: FabricReport,
    origin: OriginReport,
    stats: Vec<ModuleStats>,
    macs: [[u8; 6]; 2],
    /// When member 0's link went down (virtual ns).
    down_at: u64,
    /// The flows were IPv6.
    ipv6: bool,
    /// The NBLs carried several frames.
    batches: bool,
    /// The protocol's window of outstanding NBLs.
    window: u64,
    /// Most NBLs below member 1's miniport at once.
    below_peak_1: u64,
    /// The filter's `Announced` events: (owner seat, carrier seat, announcements sent).
    announced: Vec<(u8, u8, u8)>,
    /// The port the switch had learnt member 0's MAC on just before its link came back.
    mac0_port_while_down: Option<Port>,
    /// The MAC each peer had for member 0's IPv4 address while its link was down, and at the end.
    peer_entries_while_down: Vec<Option<[u8; 6]>>,
    peer_entries_at_end: Vec<Option<[u8; 6]>>,
}

fn run(image: DriverImage, announce: u32) -> Seen {
    run_with(image, announce, Flows::V4)
}

/// What member 0's protocol sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flows {
    V4,
    V6,
    /// IPv4 large sends (LSOv2, MSS 1400) of 1000 to 1914 bytes: the header slot's partial MDL
    /// describes up to 1786 bytes of the protocol's buffer.
    LargeSends,
    /// IPv4 sends of one to three NET_BUFFERs each: every NET_BUFFER's frame needs a header of
    /// its own.
    Batches,
    /// IPv4 sends with a window of 200 NBLs, faster than member 1's 10 Mb/s link drains them
    /// while it carries alone: more than half of the carrier's 256 header slots are held at once.
    Deep,
}

/// The protocol's window of outstanding NBLs in [`Flows::Deep`].
const DEEP_WINDOW: usize = 200;

fn run_with(image: DriverImage, announce: u32, flows: Flows) -> Seen {
    let ipv6 = flows == Flows::V6;
    let mut emu = Emulator::new(EmuConfig {
        seed: 11,
        cpus: 4,
        fabric: Some(FabricConfig::with_peers(2)),
        ..EmuConfig::default()
    });
    let (mut a0, mut a1) = (member(0, announce), member(1, announce));
    let mut t = traffic(ipv6);
    if flows == Flows::LargeSends {
        (a0, a1) = (a0.with_limits(1900, 1900), a1.with_limits(1900, 1900));
        t = TrafficConfig {
            frame_len: (1000, 1914),
            lso_mss: 1400,
            ..t
        };
    }
    if flows == Flows::Batches {
        t.nbs_per_nbl = (1, 3);
    }
    if flows == Flows::Deep {
        a1.link_speed_bps = 10_000_000;
        t.window = DEEP_WINDOW;
    }
    let macs = [a0.mac, a1.mac];
    let t_window = t.window;
    emu.add_adapter(a0, t);
    emu.add_adapter(a1, idle());
    let img = common::boot(&mut emu, &image);
    let start = emu.now();
    emu.schedule_fault(0, start + DOWN_AT, Fault::LinkDown);
    emu.schedule_fault(0, start + UP_AT, Fault::LinkUp);
    // Mid-outage, peer 0 asks the segment for member 0's address (its cache entry expired, say):
    // member 0's port is dead, so only the carrier's copy can reach member 0's stack.
    emu.run_for(ASK_AT);
    let question = if ipv6 {
        Nd::solicit(peer_mac(0), peer_ipv6(0), adapter_ipv6(0))
    } else {
        Arp::request(peer_mac(0), peer_ipv4(0), adapter_ipv4(0))
    };
    assert!(emu.peer_send(0, &question));
    if !ipv6 {
        // And peer 1 asks for member 1's own address, which only member 1's stack answers.
        let own = Arp::request(peer_mac(1), peer_ipv4(1), adapter_ipv4(1));
        assert!(emu.peer_send(1, &own));
    }
    emu.run_for(UP_AT - MS - ASK_AT);
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    let mac0_port_while_down = emu.mac_port(macs[0]);
    let ip: Vec<u8> = if ipv6 {
        adapter_ipv6(0).to_vec()
    } else {
        adapter_ipv4(0).to_vec()
    };
    let entries = |emu: &Emulator| {
        (0..2)
            .map(|k| emu.peer_neighbor(k, &ip))
            .collect::<Vec<_>>()
    };
    let peer_entries_while_down = entries(&emu);
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let peer_entries_at_end = entries(&emu);
    let announced = emu
        .diag_events()
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Announced {
                owner,
                carrier,
                sent,
                ..
            } => Some((owner, carrier, sent)),
            _ => None,
        })
        .collect();
    let below_peak_1 = emu.stats(1).tx_below_peak;
    let fabric = emu.fabric_report().expect("a fabric");
    let origin = emu.delivery().origins[0].clone();
    let stats = (0..2)
        .map(|a| {
            common::module_stats(&mut emu, AdapterConfig::numbered(a).filter_if_index())
                .expect("teamed")
        })
        .collect();
    common::finish(emu, img);
    Seen {
        fabric,
        origin,
        stats,
        macs,
        down_at: start + DOWN_AT,
        ipv6,
        batches: flows == Flows::Batches,
        window: t_window as u64,
        below_peak_1,
        announced,
        mac0_port_while_down,
        peer_entries_while_down,
        peer_entries_at_end,
    }
}

/// The gratuitous ARPs adapter `a` put on its wire: (time, sender MAC, sender IP).
fn announcements(s: &Seen, a: usize) -> Vec<(u64, [u8; 6], [u8; 4])> {
    s.fabric
        .wire_frames_of(a, FrameKind::GratuitousArp)
        .iter()
        .map(|f| {
            let g = Arp::parse(&f.bytes).expect("an ARP packet");
            (f.at, g.sha, g.spa)
        })
        .collect()
}

/// `flooded`: echoes may also be flooded to member 0's port once its link is back, while the
/// switch has not learnt its MAC again, and then reach its stack twice (its own copy and member
/// 1's promiscuous one) — the preserve-mode cost that announcements avoid.
fn assert_nothing_lost(s: &Seen, flooded: bool) {
    let o = &s.origin;
    // 10,000 NBLs: one frame each, or more in batches.
    if s.batches {
        assert!(o.sent > 15_000, "{o:?}");
    } else {
        assert_eq!(o.sent, 10_000, "{o:?}");
    }
    assert_eq!(
        (o.lost, o.silently_lost, o.duplicates, o.outstanding),
        (0, 0, 0, 0),
        "{o:?}"
    );
    assert_eq!(o.delivered, o.sent);
    let p0 = &s.fabric.protocols[0];
    let p1 = &s.fabric.protocols[1];
    // Only echoes on their way to member 0's port as its link went down (at most the flows'
    // window) can be lost.
    let extra = if flooded { s.window } else { 0 };
    assert!(
        p0.echoes_own + s.window >= o.delivered && p0.echoes_own <= o.delivered + extra,
        "echoes up member 0's stack: {p0:?} for {o:?}"
    );
    assert_eq!(
        (p0.echoes_other, p1.echoes_own, p1.echoes_other),
        (0, 0, 0),
        "member 1's protocol sees none: {p1:?}"
    );
    // The peer's question during the outage went up member 0's stack, not member 1's; member 1's
    // protocol sees only the question for its own address (IPv4) and member 0's broadcast
    // failback announcements (the unsolicited advertisements go to all-nodes, which its packet
    // filter does not take).
    let (q0, q1) = if s.ipv6 {
        (p0.nd, p1.nd)
    } else {
        (p0.arp, p1.arp)
    };
    let failback_arps = announcements(s, 0).len() as u64;
    let own_question = u64::from(!s.ipv6);
    assert_eq!((q0, q1), (1, failback_arps + own_question), "{p0:?} {p1:?}");
    assert_ne!(
        s.mac0_port_while_down,
        Some(Port::Adapter(1)),
        "member 0's MAC never appears on member 1's port"
    );
    let carried = s.stats[1].send_headers_rewritten;
    assert!(carried > 0, "{:?}", s.stats[1]);
    assert_eq!(s.stats[1].send_rewrite_skipped, 0);
    assert_eq!(
        s.stats[0].send_headers_rewritten, 0,
        "member 0 carried nothing for member 1"
    );
}

#[test]
fn after_failover_traffic_flows_through_the_carrier_with_its_mac_and_replies_follow_the_announcement()
 {
    let s = run(DriverImage::Host, 3);
    assert_nothing_lost(&s, false);
    let [mac0, mac1] = s.macs;
    // Failover: member 1 announces member 0's address at its own MAC, 3 times, 50 ms apart
    // (on the group timer's 10 ms ticks).
    let failover = announcements(&s, 1);
    assert_eq!(failover.len(), 3, "{failover:?}");
    assert!(
        failover
            .iter()
            .all(|&(_, sha, spa)| sha == mac1 && spa == adapter_ipv4(0))
    );
    let spacing: Vec<u64> = failover.windows(2).map(|w| w[1].0 - w[0].0).collect();
    // The first on the timer tick after the engine learnt of the link-down.
    assert!(
        failover[0].0 > s.down_at && failover[0].0 - s.down_at <= 11 * MS,
        "{failover:?}"
    );
    println!(
        "failover announcements at {:?} us after the link went down, spaced {:?} us",
        failover
            .iter()
            .map(|f| (f.0 - s.down_at) / 1_000)
            .collect::<Vec<_>>(),
        spacing.iter().map(|d| d / 1_000).collect::<Vec<_>>()
    );
    println!(
        "member 1 carried {} frames with its MAC; {} echoes readdressed up member 0's stack",
        s.stats[1].send_headers_rewritten, s.stats[0].receive_nbls_readdressed
    );
    for d in &spacing {
        assert!(
            (u64::from(INTERVAL_MS) * MS..u64::from(INTERVAL_MS + 10) * MS).contains(d),
            "announcements {d} ns apart"
        );
    }
    assert_eq!(
        s.peer_entries_while_down,
        vec![Some(mac1), Some(mac1)],
        "the peers' entries moved to member 1's MAC"
    );
    // The echoes came to member 1's MAC for member 0's address and went up member 0's stack.
    let readdressed = s.stats[0].receive_nbls_readdressed;
    assert!(
        readdressed > 1_000 && readdressed <= s.fabric.protocols[0].echoes_own,
        "{:?}",
        s.stats[0]
    );
    // Failback: member 0 announces its address at its own MAC, and the peers follow.
    let failback = announcements(&s, 0);
    assert_eq!(failback.len(), 3, "{failback:?}");
    assert!(
        failback
            .iter()
            .all(|&(_, sha, spa)| sha == mac0 && spa == adapter_ipv4(0))
    );
    assert!(failback[0].0 > failover[2].0);
    assert_eq!(s.peer_entries_at_end, vec![Some(mac0), Some(mac0)]);
    // Traced: three rounds of member 0's one address by member 1 (seat 1), then three by itself
    // (seats follow attach order here).
    assert_eq!(
        s.announced,
        [[(0, 1, 1); 3], [(0, 0, 1); 3]].concat(),
        "Announced events"
    );
    assert_eq!(s.stats[1].announcements_sent, 3);
    assert_eq!(s.stats[0].announcements_sent, 3);
    assert_eq!(
        s.stats[0].announcements_skipped + s.stats[1].announcements_skipped,
        0
    );
}

#[test]
fn without_announcements_the_peers_keep_the_dead_mac_and_every_echo_is_flooded() {
    let s = run(DriverImage::Host, 0);
    assert_nothing_lost(&s, true);
    let [mac0, _] = s.macs;
    assert!(announcements(&s, 0).is_empty() && announcements(&s, 1).is_empty());
    assert!(s.announced.is_empty());
    assert_eq!(s.peer_entries_while_down, vec![Some(mac0), Some(mac0)]);
    assert_eq!(
        s.stats[0].receive_nbls_readdressed, 1,
        "only the peer's broadcast question"
    );
    // The echoes reached member 1 only because the switch flooded them.
    let flooded: u64 = s
        .fabric
        .ports
        .iter()
        .filter(|(p, _)| matches!(p, Port::Peer(_)))
        .map(|(_, c)| c.flooded)
        .sum();
    assert!(flooded > 1_000, "{:?}", s.fabric.ports);
}

#[test]
fn an_ipv6_failover_is_announced_with_unsolicited_override_advertisements() {
    let s = run_with(DriverImage::Host, 2, Flows::V6);
    assert_nothing_lost(&s, false);
    let [mac0, mac1] = s.macs;
    let nas = |a: usize| -> Vec<(u64, Nd, [u8; 6])> {
        s.fabric
            .wire_frames_of(a, FrameKind::NeighborAdvertisement)
            .iter()
            .map(|f| {
                let src: [u8; 6] = f.bytes[6..12].try_into().unwrap();
                (f.at, Nd::parse(&f.bytes).expect("checksum verified"), src)
            })
            .collect()
    };
    let failover = nas(1);
    assert_eq!(failover.len(), 2, "{:?}", failover.len());
    for (_, na, src) in &failover {
        assert_eq!(*src, mac1);
        assert_eq!((na.src, na.target), (adapter_ipv6(0), adapter_ipv6(0)));
        assert_eq!(na.dst[..2], [0xFF, 0x02], "to all-nodes");
        assert_eq!((na.flags, na.lladdr), (NA_OVERRIDE, Some(mac1)));
    }
    assert_eq!(failover[1].0 - failover[0].0, u64::from(INTERVAL_MS) * MS);
    assert_eq!(s.peer_entries_while_down, vec![Some(mac1); 2]);
    assert!(
        s.stats[0].receive_nbls_readdressed > 1_000,
        "{:?}",
        s.stats[0]
    );
    let failback = nas(0);
    assert_eq!(failback.len(), 2);
    assert!(
        failback
            .iter()
            .all(|(_, na, src)| *src == mac0 && na.lladdr == Some(mac0))
    );
    assert_eq!(s.peer_entries_at_end, vec![Some(mac0); 2]);
    assert!(
        announcements(&s, 0).is_empty() && announcements(&s, 1).is_empty(),
        "no ARP"
    );
}

#[test]
fn large_sends_carried_in_rewrite_mode_keep_their_payload_on_the_protocols_buffer() {
    let s = run_with(DriverImage::Host, 1, Flows::LargeSends);
    // Every large send delivered intact (the wire check verifies each byte of the payload,
    // which the carrier described by a partial MDL over the protocol's buffer).
    assert_nothing_lost(&s, false);
    assert!(
        s.stats[1].send_headers_rewritten > 1_000,
        "{:?}",
        s.stats[1]
    );
    assert_eq!(announcements(&s, 1).len(), 1);
}

/// A deep queue on the carrier: more than 128 of its 256 header slots are held at once, so
/// processors claim slots from every word of the bitmap, wherever their search starts; every
/// frame still leaves with the carrier's MAC and none is skipped.
#[test]
fn a_carrier_holding_more_than_half_its_header_slots_rewrites_every_frame() {
    let s = run_with(DriverImage::Host, 1, Flows::Deep);
    assert_nothing_lost(&s, false);
    assert!(
        (129..=256).contains(&s.below_peak_1),
        "peak below member 1: {}",
        s.below_peak_1
    );
}

/// Sends of several NET_BUFFERs carried in rewrite mode: each frame leaves the carrier with the
/// carrier's MAC (member 0's MAC never shows on member 1's port), none is lost.
#[test]
fn batched_sends_carried_in_rewrite_mode_wear_the_carriers_mac_in_every_frame() {
    let s = run_with(DriverImage::Host, 1, Flows::Batches);
    assert_nothing_lost(&s, false);
    assert!(
        s.stats[1].send_headers_rewritten > 1_000,
        "{:?}",
        s.stats[1]
    );
}

#[test]
#[ignore = "needs the cross-built mpfilter.sys: bash tools/build-sys.sh"]
fn sys_after_failover_traffic_flows_through_the_carrier_with_its_mac_and_replies_follow_the_announcement()
 {
    let s = common::on_sys(|image| run(image, 3));
    assert_nothing_lost(&s, false);
    assert_eq!(announcements(&s, 1).len(), 3);
    assert_eq!(announcements(&s, 0).len(), 3);
    assert_eq!(s.peer_entries_at_end, vec![Some(s.macs[0]); 2]);
    assert!(s.stats[0].receive_nbls_readdressed > 1_000);
    // The Announced events came through the driver's ETW provider.
    assert_eq!(s.announced, [[(0, 1, 1); 3], [(0, 0, 1); 3]].concat());
}
