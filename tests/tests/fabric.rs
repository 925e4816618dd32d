//! The L2 fabric around the adapters (`ndis_emu::fabric`), with the mpfilter pass-through: the
//! protocols' ARP and neighbour solicitations answered by peer hosts, echoes of their flows
//! coming back up the stack that sent them, the switch learning, flooding, ageing, flushing and
//! counting MAC moves, miniports dropping what their packet filter rejects, a blackhole losing
//! frames both ways, and the same seed giving the same report. Every run ends with detach and
//! unload with no rule violation and no leak.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use common::idle;

use ndis_emu::fabric::packets::{Arp, FrameKind, Nd};
use ndis_emu::fabric::{self, FabricConfig, FabricReport, Port};
use ndis_emu::wire::Fault;
use ndis_emu::{AdapterConfig, DeliveryReport, DriverImage, EmuConfig, Emulator, TrafficConfig};

fn flows(n: u64, ipv6: bool) -> TrafficConfig {
    TrafficConfig {
        tx_nbls: n,
        rx_nbls: 0,
        max_chain: 8,
        frame_len: (60, 600),
        send_interval: 2_000,
        flows: 16,
        ipv6,
        ..TrafficConfig::default()
    }
}

/// What a run left.
struct Run {
    fabric: FabricReport,
    delivery: DeliveryReport,
}

/// A scenario: the emulator, after every stack started and its packet filter is set, before the
/// traffic runs to its end.
type Setup<'a> = &'a dyn Fn(&mut Emulator);
/// Checks made on the emulator after the run, before detach.
type Probe<'a> = &'a dyn Fn(&Emulator);

fn run(
    image: &DriverImage,
    seed: u64,
    fabric: FabricConfig,
    traffic: &[TrafficConfig],
    setup: Setup<'_>,
    probe: Probe<'_>,
) -> Run {
    let mut emu = Emulator::new(EmuConfig {
        seed,
        fabric: Some(fabric),
        ..EmuConfig::default()
    });
    for (i, t) in traffic.iter().enumerate() {
        emu.add_adapter(AdapterConfig::numbered(u8::try_from(i).unwrap()), t.clone());
    }
    let img = common::boot(&mut emu, image);
    // The protocols set their packet filter first (pended OIDs take up to 50 µs).
    emu.run_for(200_000);
    setup(&mut emu);
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    probe(&emu);
    let fabric = emu.fabric_report().expect("a fabric");
    let delivery = emu.delivery();
    common::finish(emu, img);
    Run { fabric, delivery }
}

fn mac(a: u8) -> [u8; 6] {
    AdapterConfig::numbered(a).mac
}

fn nothing(_: &mut Emulator) {}
fn no_probe(_: &Emulator) {}

/// Adapter 0 asks for peer 1's IPv4 address and peer 0's IPv6 address.
fn resolve(emu: &mut Emulator) {
    let arp = Arp::request(mac(0), fabric::adapter_ipv4(0), fabric::peer_ipv4(1));
    assert!(emu.send_frame(0, &arp));
    let ns = Nd::solicit(mac(0), fabric::adapter_ipv6(0), fabric::peer_ipv6(0));
    assert!(emu.send_frame(0, &ns));
}

fn check_resolved(r: &Run) {
    let p = &r.fabric.protocols[0];
    assert_eq!((p.arp, p.nd, p.other), (1, 1, 0), "{p:?}");
    assert_eq!(r.fabric.peers[1].arp_answered, 1);
    assert_eq!(r.fabric.peers[0].ns_answered, 1);
    assert_eq!(
        r.fabric.peers[0].arp_answered + r.fabric.peers[1].ns_answered,
        0
    );
    let w = &r.fabric.wire_frames;
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!((w[0].adapter, w[0].kind), (0, FrameKind::ArpRequest));
    assert_eq!(
        (w[1].adapter, w[1].kind),
        (0, FrameKind::NeighborSolicitation)
    );
    // The broadcast and the multicast solicitation were flooded; the answers came straight back.
    let a0 = r.fabric.port(Port::Adapter(0));
    assert_eq!(
        (a0.frames_in, a0.flooded, a0.frames_out),
        (2, 2, 2),
        "{a0:?}"
    );
}

#[test]
fn arp_and_neighbor_solicitation_from_the_protocol_are_answered() {
    let r = run(
        &DriverImage::Host,
        1,
        FabricConfig::with_peers(2),
        &[idle()],
        &|emu| {
            resolve(emu);
            // Both answers up the stack, seen from a run predicate.
            assert!(emu.run_until(|v| {
                v.fabric_seen(0).is_some_and(|s| (s.arp, s.nd) == (1, 1))
                    && v.wire_frames().len() == 2
            }));
        },
        &|emu| {
            assert_eq!(emu.mac_port(mac(0)), Some(Port::Adapter(0)));
            assert_eq!(emu.mac_port(fabric::peer_mac(1)), Some(Port::Peer(1)));
            assert_eq!(emu.mac_port(fabric::peer_mac(0)), Some(Port::Peer(0)));
            // Learnt from the request and the solicitation.
            assert_eq!(emu.peer_neighbor(1, &fabric::adapter_ipv4(0)), Some(mac(0)));
            assert_eq!(emu.peer_neighbor(0, &fabric::adapter_ipv6(0)), Some(mac(0)));
        },
    );
    check_resolved(&r);
}

fn check_echoes(r: &Run, n: u64, adapters: usize) {
    let t = &r.delivery.total;
    assert_eq!(
        (t.sent, t.delivered, t.lost),
        (n * adapters as u64, n * adapters as u64, 0)
    );
    for a in 0..adapters {
        let p = &r.fabric.protocols[a];
        assert_eq!((p.echoes_own, p.echoes_other), (n, 0), "adapter {a}: {p:?}");
    }
    let echoed: u64 = r.fabric.peers.iter().map(|p| p.echoes_sent).sum();
    assert_eq!(echoed, n * adapters as u64);
    assert!(
        r.fabric.peers.iter().all(|p| p.echoes_sent > 0),
        "{:?}",
        r.fabric.peers
    );
}

#[test]
fn echoes_of_ipv4_flows_come_up_the_stack_that_sent_them() {
    let t = flows(400, false);
    let r = run(
        &DriverImage::Host,
        3,
        FabricConfig::with_peers(3),
        &[t.clone(), t],
        &nothing,
        &no_probe,
    );
    check_echoes(&r, 400, 2);
}

#[test]
fn echoes_of_ipv6_flows_come_up_the_stack_that_sent_them() {
    let t = flows(300, true);
    let r = run(
        &DriverImage::Host,
        4,
        FabricConfig::with_peers(2),
        &[t.clone(), t],
        &nothing,
        &no_probe,
    );
    check_echoes(&r, 300, 2);
}

#[test]
fn the_same_seed_gives_the_same_fabric_report() {
    let go = || {
        let t = flows(200, false);
        run(
            &DriverImage::Host,
            9,
            FabricConfig::with_peers(2),
            &[t.clone(), t],
            &resolve,
            &no_probe,
        )
    };
    let (a, b) = (go(), go());
    assert_eq!(a.fabric, b.fabric);
    assert_eq!(a.delivery, b.delivery);
}

/// One peer that neither answers nor echoes: the switch never learns its MAC.
fn silent_peer(ageing: u64) -> FabricConfig {
    let mut f = FabricConfig::with_peers(1);
    f.peers[0].echoes = false;
    f.peers[0].answers_neighbors = false;
    f.mac_ageing = ageing;
    f
}

#[test]
fn unknown_unicast_is_flooded_and_the_other_miniport_drops_it() {
    let r = run(
        &DriverImage::Host,
        5,
        silent_peer(300_000_000_000),
        &[flows(100, false), idle()],
        &nothing,
        &no_probe,
    );
    assert_eq!(r.delivery.total.delivered, 100, "the peer got them all");
    let a0 = r.fabric.port(Port::Adapter(0));
    assert_eq!((a0.frames_in, a0.flooded), (100, 100));
    assert_eq!(r.fabric.port(Port::Adapter(1)).frames_out, 100);
    let p1 = &r.fabric.protocols[1];
    assert_eq!(
        (p1.mp_rejected, p1.mp_accepted, p1.other),
        (100, 0, 0),
        "{p1:?}"
    );
}

#[test]
fn with_promiscuous_set_by_its_protocol_the_miniport_takes_what_is_flooded() {
    let promiscuous = TrafficConfig {
        packet_filter: Some(0x2B),
        ..idle()
    };
    let r = run(
        &DriverImage::Host,
        6,
        silent_peer(300_000_000_000),
        &[flows(100, false), promiscuous],
        &nothing,
        &no_probe,
    );
    let p1 = &r.fabric.protocols[1];
    assert_eq!((p1.mp_rejected, p1.mp_accepted), (0, 100), "{p1:?}");
    assert_eq!(
        p1.other, 100,
        "the flow frames of adapter 0 reached protocol 1"
    );
}

#[test]
fn learnt_macs_age_out_and_are_flushed_when_the_link_goes_down() {
    // Ageing of 1 ms: adapter 0's MAC is gone 1 ms after its last frame.
    let r = run(
        &DriverImage::Host,
        7,
        silent_peer(1_000_000),
        &[flows(20, false), flows(20, false)],
        &|emu| {
            assert!(emu.run_until_idle());
            assert_eq!(emu.mac_port(mac(0)), Some(Port::Adapter(0)));
            assert_eq!(emu.mac_port(mac(1)), Some(Port::Adapter(1)));
            // Virtual time moves with events: a no-op fault 1 ms on carries the clock there.
            let now = emu.now();
            emu.schedule_fault(1, now + 1_000_000, Fault::Blackhole(false));
            emu.run_for(1_000_000);
            assert_eq!(emu.mac_port(mac(1)), None, "aged out");
            assert_eq!(emu.mac_port(mac(0)), None, "aged out");
            // Learnt again, then flushed at link down long before it would age.
            assert!(emu.send_frame(0, &Arp::announce(mac(0), fabric::adapter_ipv4(0))));
            emu.run_for(20_000);
            assert_eq!(emu.mac_port(mac(0)), Some(Port::Adapter(0)));
            let now = emu.now();
            emu.schedule_fault(0, now + 1, Fault::LinkDown);
            emu.run_for(10);
            assert_eq!(emu.mac_port(mac(0)), None, "flushed at link down");
            emu.schedule_fault(0, now + 20_000, Fault::LinkUp);
            emu.run_for(40_000);
        },
        &no_probe,
    );
    assert_eq!(r.delivery.total.delivered, 40);
}

#[test]
fn a_mac_seen_on_another_port_moves_and_the_move_is_counted() {
    let r = run(
        &DriverImage::Host,
        8,
        FabricConfig::with_peers(1),
        &[idle(), idle()],
        &|emu| {
            assert!(emu.send_frame(0, &Arp::announce(mac(0), fabric::adapter_ipv4(0))));
            emu.run_for(20_000);
            assert_eq!(emu.mac_port(mac(0)), Some(Port::Adapter(0)));
            // Adapter 1's protocol announces A's address at A's MAC: the switch moves the MAC.
            assert!(emu.send_frame(1, &Arp::announce(mac(0), fabric::adapter_ipv4(0))));
            emu.run_for(20_000);
            assert_eq!(emu.mac_port(mac(0)), Some(Port::Adapter(1)));
        },
        &no_probe,
    );
    assert_eq!(r.fabric.port(Port::Adapter(1)).mac_moves, 1);
    assert_eq!(r.fabric.port(Port::Adapter(0)).mac_moves, 0);
    assert_eq!(r.fabric.wire_frames.len(), 2);
    assert!(
        r.fabric
            .wire_frames
            .iter()
            .all(|f| f.kind == FrameKind::GratuitousArp)
    );
}

#[test]
fn a_gratuitous_arp_moves_the_peer_cache_and_the_echoes_follow_it() {
    let r = run(
        &DriverImage::Host,
        10,
        FabricConfig::with_peers(1),
        &[flows(0, false), idle()],
        &|emu| {
            // A's IPv4 announced at B's MAC (what a team announces on failover).
            assert!(emu.send_frame(1, &Arp::announce(mac(1), fabric::adapter_ipv4(0))));
            emu.run_for(20_000);
            assert_eq!(emu.peer_neighbor(0, &fabric::adapter_ipv4(0)), Some(mac(1)));
            emu.add_traffic(0, 50, 0);
        },
        &no_probe,
    );
    assert_eq!(r.delivery.total.delivered, 50);
    // Without a filter that takes them over, the echoes of A's flows come up B's stack.
    let (p0, p1) = (&r.fabric.protocols[0], &r.fabric.protocols[1]);
    assert_eq!((p0.echoes_own, p0.echoes_other), (0, 0), "{p0:?}");
    assert_eq!((p1.echoes_own, p1.echoes_other), (0, 50), "{p1:?}");
}

#[test]
fn a_blackholed_adapter_loses_frames_both_ways() {
    let r = run(
        &DriverImage::Host,
        11,
        FabricConfig::with_peers(2),
        &[flows(0, false), idle()],
        &|emu| {
            let now = emu.now();
            emu.schedule_fault(0, now, Fault::Blackhole(true));
            emu.run_for(1);
            emu.add_traffic(0, 100, 0);
            // A broadcast from adapter 1 reaches adapter 0's port and is lost there.
            let arp = Arp::request(mac(1), fabric::adapter_ipv4(1), fabric::peer_ipv4(0));
            assert!(emu.send_frame(1, &arp));
        },
        &no_probe,
    );
    let o = &r.delivery.origins[0];
    assert_eq!(
        (o.sent, o.delivered, o.silently_lost),
        (100, 0, 100),
        "{o:?}"
    );
    assert!(r.fabric.port(Port::Adapter(0)).dropped_out >= 1);
    let (p0, p1) = (&r.fabric.protocols[0], &r.fabric.protocols[1]);
    assert_eq!((p0.arp, p0.mp_accepted, p0.echoes_own), (0, 0, 0), "{p0:?}");
    assert_eq!(p1.arp, 1, "adapter 1 got its answer");
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test fabric -- --ignored"]
fn sys_echoes_of_ipv4_flows_come_up_the_stack_that_sent_them() {
    let r = common::on_sys(|image| {
        let t = flows(400, false);
        let r = run(
            &image,
            3,
            FabricConfig::with_peers(3),
            &[t.clone(), t],
            &resolve,
            &no_probe,
        );
        (r.fabric, r.delivery)
    });
    let r = Run {
        fabric: r.0,
        delivery: r.1,
    };
    check_echoes(&r, 400, 2);
}
