//! mpctl against the real handlers: a transport that hands the IOCTL bytes to mpfilter's control
//! device in the emulator, as `mpsim run --control` will over its socket.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use mpctl::client::{self, Error};
use mpctl::render;
use mpctl::transport::{Reply, Transport};
use mpctl_proto::{AdminAction, status};
use ndis_emu::config::RegValue;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, LoadedImage, TrafficConfig};

struct Emulated<'a> {
    emu: &'a mut Emulator,
    write: bool,
}

impl Transport for Emulated<'_> {
    fn ioctl(&mut self, code: u32, input: &[u8], out_len: usize) -> std::io::Result<Reply> {
        let o = self
            .emu
            .device_ioctl(code, input, out_len, self.write)
            .ok_or_else(|| std::io::Error::other("no control device"))?;
        Ok(Reply {
            status: o.status,
            output: o.output,
        })
    }
}

fn team() -> (Emulator, LoadedImage) {
    team_sending(&TrafficConfig {
        tx_nbls: 2_000,
        rx_nbls: 0,
        ..TrafficConfig::default()
    })
}

/// Group 3 of two members, weighted; member 0 sends `traffic`.
fn team_sending(traffic: &TrafficConfig) -> (Emulator, LoadedImage) {
    let mut emu = Emulator::new(EmuConfig {
        seed: 9,
        cpus: 2,
        ..EmuConfig::default()
    });
    for i in 0..2u8 {
        let a = AdapterConfig::numbered(i)
            .with_param("GroupId", RegValue::Dword(3))
            .with_param("Policy", RegValue::Sz("weighted".into()))
            .with_param("UpDelayMs", RegValue::Dword(0));
        let traffic = if i == 0 {
            traffic.clone()
        } else {
            TrafficConfig {
                tx_nbls: 0,
                rx_nbls: 0,
                ..TrafficConfig::default()
            }
        };
        emu.add_adapter(a, traffic);
    }
    let img = DriverImage::Host.load().expect("host image");
    emu.load(img.entry).expect("mpfilter loads");
    for a in 0..2 {
        assert!(emu.start(a), "{:?}", emu.violations());
    }
    (emu, img)
}

fn shut_down(mut emu: Emulator, img: LoadedImage) {
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    for a in 0..2 {
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    drop(img);
}

#[test]
fn show_fail_reinstate_and_stats_through_the_real_handlers() {
    let (mut emu, img) = team();
    emu.run_for(1_000_000);
    let shown = {
        let mut t = Emulated {
            emu: &mut emu,
            write: false,
        };
        render::show(&client::list(&mut t).expect("a list"))
    };
    println!("{shown}");
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert!(
        lines[0].starts_with("group 3 policy=weighted-paths paths=2 eligible=0b11"),
        "{shown}"
    );
    assert!(
        lines[1].starts_with("|- if 110") && lines[1].contains(" active "),
        "{shown}"
    );
    assert!(
        lines[2].starts_with("`- if 111") && lines[2].contains("share"),
        "{shown}"
    );

    let mut ro = Emulated {
        emu: &mut emu,
        write: false,
    };
    assert!(matches!(
        client::admin(&mut ro, 111, AdminAction::Fail),
        Err(Error::Refused(status::ACCESS_DENIED))
    ));
    let mut rw = Emulated {
        emu: &mut emu,
        write: true,
    };
    client::admin(&mut rw, 111, AdminAction::Fail).expect("failed");
    let after = render::show(&client::list(&mut rw).expect("a list"));
    println!("{after}");
    assert!(after.contains("eligible=0b1 "), "{after}");
    let line = after.lines().nth(2).expect("path 111");
    assert!(
        line.contains(" failed ") && line.contains("admin fail"),
        "{line}"
    );
    assert!(matches!(
        client::admin(&mut rw, 4242, AdminAction::Reinstate),
        Err(Error::Refused(status::NOT_FOUND))
    ));
    client::admin(&mut rw, 111, AdminAction::Reinstate).expect("reinstated");

    let json = render::stats_json(&client::stats(&mut rw, 110).expect("counters"));
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["if_index"], 110);
    assert!(
        v["counters"]["send_nbls_completed"]
            .as_u64()
            .expect("a number")
            > 0,
        "{json}"
    );
    shut_down(emu, img);
}

fn pairs(p: &[(&str, &str)]) -> mpctl_proto::Settings {
    let owned: Vec<(&str, String)> = p.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    client::settings(&owned).expect("settings")
}

fn sent(t: &mut Emulated<'_>) -> Vec<u64> {
    client::list(t)
        .expect("a list")
        .paths
        .iter()
        .map(|p| p.sent_nbls)
        .collect()
}

#[test]
fn set_policy_set_path_and_reset_counters_through_the_real_handlers() {
    // 6,000 NBLs over 30 ms: still sending through every change below.
    let (mut emu, img) = team_sending(&TrafficConfig {
        tx_nbls: 6_000,
        rx_nbls: 0,
        max_chain: 4,
        send_interval: 5_000,
        flows: 16,
        ..TrafficConfig::default()
    });
    emu.run_for(500_000);
    let mut ro = Emulated {
        emu: &mut emu,
        write: false,
    };
    assert!(matches!(
        client::set_group(&mut ro, 3, pairs(&[("Policy", "failover")])),
        Err(Error::Refused(status::ACCESS_DENIED))
    ));
    let mut rw = Emulated {
        emu: &mut emu,
        write: true,
    };
    let refused = client::set_group(
        &mut rw,
        3,
        pairs(&[("Policy", "failover"), ("FlowletGapUs", "2000000")]),
    )
    .expect_err("out of range");
    let text = refused.to_string();
    assert!(
        text.contains("Policy=failover, FlowletGapUs=2000000")
            && text.contains("nothing was changed"),
        "{text}"
    );
    let shown = render::show(&client::list(&mut rw).expect("a list"));
    assert!(
        shown.starts_with("group 3 policy=weighted-paths"),
        "{shown}"
    );
    assert!(matches!(
        client::set_group(&mut rw, 99, pairs(&[("Policy", "hash")])),
        Err(Error::Refused(status::NOT_FOUND))
    ));

    // Failover: path 111 gets nothing more.
    client::set_group(&mut rw, 3, pairs(&[("Policy", "failover")])).expect("changed");
    let shown = render::show(&client::list(&mut rw).expect("a list"));
    assert!(shown.starts_with("group 3 policy=failover-only"), "{shown}");
    let at_failover = sent(&mut rw);
    rw.emu.run_for(1_000_000);
    let after_failover = sent(&mut rw);
    assert!(after_failover[0] > at_failover[0], "{after_failover:?}");
    assert_eq!(after_failover[1], at_failover[1], "failover: path 110 only");

    // Round-robin, per packet: both paths again, in the same run.
    client::set_group(
        &mut rw,
        3,
        pairs(&[("Policy", "round-robin"), ("FlowletGapUs", "0")]),
    )
    .expect("changed");
    rw.emu.run_for(1_000_000);
    let after_rr = sent(&mut rw);
    let (d0, d1) = (
        after_rr[0] - after_failover[0],
        after_rr[1] - after_failover[1],
    );
    assert!(d1 > 0 && d0.abs_diff(d1) * 10 <= d0 + d1, "{d0} vs {d1}");

    // A path's weight: refused out of range, taken in range.
    let e = client::set_path(&mut rw, 111, pairs(&[("Weight", "0")])).expect_err("range");
    assert!(e.to_string().contains("Weight=0"), "{e}");
    client::set_path(
        &mut rw,
        111,
        pairs(&[("Weight", "5"), ("QuotaBytes", "9000")]),
    )
    .expect("changed");

    // Resets.
    client::reset(&mut rw, mpctl_proto::ResetTarget::Group(3)).expect("reset");
    let zeroed = client::list(&mut rw).expect("a list");
    assert!(
        zeroed
            .paths
            .iter()
            .all(|p| p.completed_nbls == 0 && p.failed_nbls == 0),
        "{:?}",
        zeroed.paths
    );
    client::reset(&mut rw, mpctl_proto::ResetTarget::Module(110)).expect("reset");
    let m = client::stats(&mut rw, 110).expect("counters");
    assert_eq!(m.get("send_nbls_forwarded"), Some(0));
    assert!(matches!(
        client::reset(&mut rw, mpctl_proto::ResetTarget::Module(4242)),
        Err(Error::Refused(status::NOT_FOUND))
    ));
    assert!(matches!(client::settings(&[]), Err(Error::Usage(_))));
    assert!(matches!(
        client::settings(&[("Policy", "round robin".to_owned())]),
        Err(Error::Usage(_))
    ));
    shut_down(emu, img);
}
