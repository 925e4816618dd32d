//! The filter reads each module's registry values through the emulated NdisOpenConfigurationEx /
//! NdisReadConfiguration / NdisCloseConfiguration: a configured GroupId teams the module, a
//! refused value leaves it a plain pass-through and says which key, and nothing leaks.

use mpfilter::config::{ModuleConfig, PolicyName};
use mpfilter::diag::{ConfigKey, Event};
use ndis_emu::config::RegValue;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, TrafficConfig};

fn traffic() -> TrafficConfig {
    TrafficConfig {
        tx_nbls: 200,
        rx_nbls: 200,
        ..TrafficConfig::default()
    }
}

#[test]
fn registry_values_team_or_refuse_each_module_and_traffic_passes_either_way() {
    let mut emu = Emulator::new(EmuConfig::default());
    let teamed = emu.add_adapter(
        AdapterConfig::numbered(0)
            .with_param("GroupId", RegValue::Dword(7))
            .with_param("policy", RegValue::Sz("Quota".into()))
            .with_param("Failback", RegValue::Sz("deferred:250".into())),
        traffic(),
    );
    let bad_quota = emu.add_adapter(
        AdapterConfig::numbered(1)
            .with_param("GroupId", RegValue::Dword(7))
            .with_param("QuotaBytes", RegValue::Dword(0)),
        traffic(),
    );
    let binary = emu.add_adapter(
        AdapterConfig::numbered(2).with_param("GroupId", RegValue::Binary(vec![7, 0, 0, 0])),
        traffic(),
    );
    let plain = emu.add_adapter(AdapterConfig::numbered(3), traffic());
    let img = DriverImage::Host.load().expect("host image");
    emu.load(img.entry).expect("loads");
    for a in [teamed, bad_quota, binary, plain] {
        assert!(emu.start(a));
    }
    let config = |a: usize| {
        // SAFETY: the module of adapter `a` is attached (started above, not stopped yet) and the
        // host-linked filter runs on this thread only.
        unsafe { mpfilter::driver::module_config(emu.module_context(a) as *mut core::ffi::c_void) }
            .expect("a module context")
    };
    match config(teamed) {
        ModuleConfig::Teamed {
            group_id, group, ..
        } => {
            assert_eq!((group_id, group.policy), (7, PolicyName::Quota));
        }
        ModuleConfig::NotTeamed => panic!("adapter 0 is not teamed"),
    }
    for a in [bad_quota, binary, plain] {
        assert_eq!(config(a), ModuleConfig::NotTeamed, "adapter {a}");
    }
    let rejected: Vec<(Option<usize>, Event)> = emu
        .diag_events()
        .iter()
        .filter(|r| matches!(r.event, Event::ConfigRejected { .. }))
        .map(|r| (r.adapter, r.event))
        .collect();
    assert_eq!(
        rejected,
        [
            (
                Some(bad_quota),
                Event::ConfigRejected {
                    key: ConfigKey::RegQuotaBytes,
                    value: 0,
                    min: 1,
                    max: 16 << 20
                }
            ),
            (
                Some(binary),
                Event::ConfigRejected {
                    key: ConfigKey::RegGroupId,
                    value: 0,
                    min: 0,
                    max: 0
                }
            ),
        ]
    );
    assert!(emu.run_until_idle());
    for a in [teamed, bad_quota, binary, plain] {
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    for a in [teamed, bad_quota, binary, plain] {
        let s = emu.stats(a);
        assert_eq!(
            (s.tx_completed, s.rx_received),
            (200, 200),
            "adapter {a}: {s:?}"
        );
    }
}
