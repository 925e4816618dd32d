//! `TrafficConfig::flow_window`: the emulated protocol keeps at most that many NBLs of one flow
//! sent and not completed (a TCP-like per-flow window), against the real mpfilter (host build,
//! plain pass-through). A stall holds every completion, so what the protocol has sent when it
//! stops is exactly what the caps allow.

use ndis_emu::wire::Fault;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, TrafficConfig};

const MS: u64 = 1_000_000;

/// Sends of one adapter with `flows` flows, a per-flow cap of `flow_window` and a total window
/// far above both, while its miniport is stalled for 5 ms: (sent during the stall, final
/// delivery).
fn stalled(flows: u32, flow_window: u32) -> (u64, ndis_emu::OriginReport) {
    let mut emu = Emulator::new(EmuConfig {
        seed: 4,
        ..EmuConfig::default()
    });
    emu.add_adapter(
        AdapterConfig::numbered(0),
        TrafficConfig {
            tx_nbls: 400,
            rx_nbls: 0,
            max_chain: 4,
            frame_len: (200, 200),
            window: 512,
            send_interval: 2_000,
            flows,
            flow_window,
            ..TrafficConfig::default()
        },
    );
    let img = DriverImage::Host.load().expect("host image");
    emu.load(img.entry).expect("mpfilter loads");
    assert!(emu.start(0), "{:?}", emu.violations());
    let t = emu.now();
    emu.schedule_fault(0, t, Fault::Stall(5 * MS));
    emu.run_for(4 * MS);
    let sent_while_stalled = emu.stats(0).tx_sent;
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let o = emu.delivery().origins[0].clone();
    emu.stop(0);
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    (sent_while_stalled, o)
}

#[test]
fn each_flow_stops_at_its_window_and_every_nbl_still_goes_out() {
    let (sent, o) = stalled(6, 3);
    assert_eq!(sent, 18, "6 flows x 3 NBLs, nothing completing");
    assert_eq!((o.sent, o.delivered, o.completed_ok), (400, 400, 400));
}

#[test]
fn without_a_flow_window_only_the_total_window_holds_the_protocol_back() {
    let (sent, o) = stalled(6, 0);
    assert!(sent > 18 && sent <= 400, "{sent}");
    assert_eq!((o.sent, o.delivered), (400, 400));
}
