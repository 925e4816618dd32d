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
        let traffic = TrafficConfig {
            tx_nbls: if i == 0 { 2_000 } else { 0 },
            rx_nbls: 0,
            ..TrafficConfig::default()
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
