//! The diagnostic events of the host-linked filter, as the emulator's recording backend keeps
//! them: the lifecycle sequence of every module through the pass-through scenario (with its
//! pause/restart cycle in the middle), in virtual-time order, and the refusal of damaged records.

use mpfilter::diag::{DecodeError, Event, EventId, RECORD_LEN};
use ndis_emu::exports::diag::MpDiagRecordHost;
use ndis_emu::scenario::{self, PassthroughConfig};
use ndis_emu::{AdapterConfig, DiagRecord, DiagRejectReason, DriverImage, EmuConfig, Emulator};
use ndis_emu::{TrafficConfig, exports};

/// The IfIndex of the miniport of adapter `a` (`AdapterConfig::numbered`).
fn miniport_if_index(a: usize) -> u32 {
    AdapterConfig::numbered(u8::try_from(a).unwrap()).if_index
}

/// The filter module's IfIndex on adapter `a`: the emulator's attach parameters number the
/// module interface 100 above its miniport.
fn module_if_index(a: usize) -> u32 {
    100 + miniport_if_index(a)
}

fn of_adapter(events: &[DiagRecord], a: usize) -> Vec<Event> {
    events
        .iter()
        .filter(|r| r.adapter == Some(a))
        .map(|r| r.event)
        .collect()
}

#[test]
fn each_module_reports_attach_restart_pause_restart_pause_detach_in_time_order() {
    let cfg = PassthroughConfig {
        seed: 0xD1A6,
        adapters: 3,
        nbls_each_way: 4_000,
        oid_storm: 20,
        pause_cycle: true,
        ..PassthroughConfig::default()
    };
    let r = scenario::passthrough(&cfg, DriverImage::Host);
    assert!(r.is_clean(), "{r}");
    assert!(
        r.diag.windows(2).all(|w| w[0].at <= w[1].at),
        "virtual times never go back"
    );
    assert!(
        r.diag.iter().all(|d| d.adapter.is_some()),
        "only modules emit today"
    );
    let mut pended_total = 0;
    for a in 0..cfg.adapters {
        let idx = module_if_index(a);
        let events = of_adapter(&r.diag, a);
        // A pended pause is followed by its completion, and nothing else comes between.
        let mut pended = 0;
        for (i, e) in events.iter().enumerate() {
            match e {
                Event::ModulePaused { pended: true, .. } => {
                    pended += 1;
                    assert_eq!(
                        events.get(i + 1),
                        Some(&Event::ModulePauseCompleted { if_index: idx }),
                        "adapter {a}: {events:?}"
                    );
                }
                Event::ModulePauseCompleted { .. } => assert!(
                    matches!(events[i - 1], Event::ModulePaused { pended: true, .. }),
                    "adapter {a}: a completion without a pended pause: {events:?}"
                ),
                _ => {}
            }
        }
        let sequence: Vec<Event> = events
            .iter()
            .copied()
            .filter(|e| e.id() != EventId::ModulePauseCompleted)
            .map(|e| match e {
                // The pended flag was checked above; compare the rest.
                Event::ModulePaused { if_index, .. } => Event::ModulePaused {
                    if_index,
                    pended: false,
                },
                other => other,
            })
            .collect();
        assert_eq!(
            sequence,
            [
                Event::ModuleAttached {
                    if_index: idx,
                    miniport_if_index: miniport_if_index(a),
                },
                Event::ModuleRestarted { if_index: idx },
                Event::ModulePaused {
                    if_index: idx,
                    pended: false
                },
                Event::ModuleRestarted { if_index: idx },
                Event::ModulePaused {
                    if_index: idx,
                    pended: false
                },
                Event::ModuleDetached { if_index: idx },
            ],
            "adapter {a}"
        );
        let counters = r.adapters[a].filter.expect("host build counters");
        assert_eq!(pended, counters.pauses_pended, "adapter {a}");
        pended_total += pended;
    }
    assert!(
        pended_total > 0,
        "the run paused with NBLs out at least once"
    );
}

#[test]
fn reports_of_the_same_seed_carry_the_same_events_at_the_same_times() {
    let cfg = PassthroughConfig {
        seed: 5,
        nbls_each_way: 2_000,
        oid_storm: 10,
        pause_cycle: true,
        ..PassthroughConfig::default()
    };
    let a = scenario::passthrough(&cfg, DriverImage::Host);
    let b = scenario::passthrough(&cfg, DriverImage::Host);
    assert!(a.is_clean(), "{a}");
    assert!(!a.diag.is_empty());
    assert_eq!(a.diag, b.diag);
}

#[test]
fn a_corrupted_record_is_rejected_by_decode() {
    let good = Event::ModulePaused {
        if_index: 11,
        pended: true,
    }
    .encode();
    assert!(Event::decode(good.as_bytes()).is_ok());
    let mut bad = *good.as_bytes();
    bad[6] ^= 0x01; // the pended flag: 1 → 0, a valid-looking value
    assert!(matches!(
        Event::decode(&bad),
        Err(DecodeError::Checksum { .. })
    ));
}

#[test]
fn the_recorder_keys_records_by_handle_and_refuses_bad_ones() {
    let mut emu = Emulator::new(EmuConfig::default());
    let a0 = emu.add_adapter(AdapterConfig::numbered(0), TrafficConfig::default());
    let a1 = emu.add_adapter(AdapterConfig::numbered(1), TrafficConfig::default());
    let record = |handle: usize, bytes: &[u8]| {
        // SAFETY: `bytes` is readable for its length during the call.
        unsafe { MpDiagRecordHost(handle as _, bytes.as_ptr(), bytes.len()) };
    };
    let detached = Event::ModuleDetached { if_index: 77 };
    let good = *detached.encode().as_bytes();
    record(emu.module_handle(a1), &good);
    record(emu.module_handle(a0), &good);
    let mut corrupted = good;
    corrupted[2] ^= 0x40;
    record(emu.module_handle(a0), &corrupted);
    record(emu.module_handle(a0), &good[..RECORD_LEN - 1]);
    record(0x1234, &good);
    // SAFETY: NULL with a length is refused before anything is read.
    unsafe { MpDiagRecordHost(emu.module_handle(a0) as _, std::ptr::null(), RECORD_LEN) };

    let events = emu.diag_events();
    let keyed: Vec<_> = events.iter().map(|r| (r.adapter, r.event)).collect();
    assert_eq!(keyed, [(Some(a1), detached), (Some(a0), detached)]);
    let reasons: Vec<_> = emu.diag_rejects().into_iter().map(|r| r.reason).collect();
    assert!(matches!(
        reasons[..],
        [
            DiagRejectReason::Decode(DecodeError::Checksum { .. }),
            DiagRejectReason::Decode(DecodeError::Length { len: 31 }),
            DiagRejectReason::UnknownHandle(0x1234),
            DiagRejectReason::NullRecord,
        ]
    ));
    // The export is the host hook only: a loaded .sys cannot import it.
    assert!(
        !exports::ndis::EXPORTS
            .iter()
            .chain(exports::ntos::EXPORTS)
            .any(|e| e.name == "MpDiagRecordHost")
    );
}

/// NDIS refuses adapter 0's module its attributes: its FilterAttach fails and says so with
/// `ModuleAttachFailed`, the module never attaches or restarts, nothing of it leaks, and adapter
/// 1's module, beside it, attaches and runs as ever.
#[test]
fn a_module_refused_its_attributes_fails_its_attach_and_reports_it() {
    let quiet = TrafficConfig {
        tx_nbls: 0,
        rx_nbls: 0,
        ..TrafficConfig::default()
    };
    let mut emu = Emulator::new(EmuConfig::default());
    emu.add_adapter(
        AdapterConfig::numbered(0).with_set_attributes_failing(),
        quiet.clone(),
    );
    emu.add_adapter(AdapterConfig::numbered(1), quiet);
    let img = DriverImage::Host.load().expect("image");
    emu.load(img.entry).expect("mpfilter loads");
    assert!(!emu.start(0), "attach failed");
    assert!(emu.start(1), "{:?}", emu.violations());
    assert_eq!(emu.module_state(0), ndis_emu::ModState::Detached);
    let events = emu.diag_events();
    assert_eq!(
        of_adapter(&events, 0),
        vec![Event::ModuleAttachFailed {
            if_index: module_if_index(0)
        }]
    );
    assert!(matches!(
        of_adapter(&events, 1).as_slice(),
        [
            Event::ModuleAttached { .. },
            Event::ModuleRestarted { .. },
            ..
        ]
    ));
    for a in 0..2 {
        emu.stop(a);
    }
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
}
