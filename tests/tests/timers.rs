//! Timer objects, spin locks, the clock and virtual processors with a correct filter: the fault
//! filter's `Fault::CorrectTimers` runs a periodic module timer whose function takes a spin lock
//! and reads the clock and its processor, and takes the lock around a counter on every send.
//! (The misuse of each rule is in `rules.rs`.)

use ndis_emu::fault_filter::{Fault, image};
use ndis_emu::fault_timers::{Tick, take_ticks};
use ndis_emu::scenario::{self, SmokeConfig};
use ndis_emu::{AdapterConfig, EmuConfig, Emulator, TrafficConfig};

/// Virtual time between ticks of the 1 ms periodic timer, in the clock's 100 ns units.
const PERIOD_UNITS: u64 = 10_000;

/// One adapter with traffic, started, run for `ms` of virtual time with the timer ticking, paused
/// (the timer is cancelled there), stopped and unloaded; returns the ticks.
fn ticking_run(cpus: u32, seed: u64, ms: u64) -> Vec<Tick> {
    take_ticks();
    let mut emu = Emulator::new(EmuConfig {
        seed,
        cpus,
        ..EmuConfig::default()
    });
    let a = emu.add_adapter(
        AdapterConfig::numbered(0),
        TrafficConfig {
            tx_nbls: 200,
            rx_nbls: 200,
            ..TrafficConfig::default()
        },
    );
    let img = image(Fault::CorrectTimers).load().expect("host image");
    emu.load(img.entry).expect("loads");
    assert!(emu.start(a), "{:?}", emu.violations());
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    emu.run_for(ms * 1_000_000);
    assert!(emu.pause(a), "{:?}", emu.violations());
    emu.stop(a);
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    take_ticks()
}

#[test]
fn a_correct_timer_and_lock_user_passes_the_smoke_run() {
    take_ticks();
    let r = scenario::smoke(&SmokeConfig::default(), image(Fault::CorrectTimers));
    assert!(r.is_clean(), "{r}");
    assert!(
        !take_ticks().is_empty(),
        "the 50 µs first firing lands inside the traffic"
    );
}

#[test]
fn periodic_timers_tick_on_the_virtual_clock() {
    let ticks = ticking_run(1, 3, 20);
    assert!(
        ticks.len() >= 20,
        "{} ticks in 20 ms of a 1 ms timer",
        ticks.len()
    );
    for t in &ticks {
        assert_eq!(
            t.interrupt_time,
            t.qpc / 100,
            "100 ns units of the same instant"
        );
        assert_eq!((t.cpu, t.number), (0, (0, 0)), "one processor by default");
    }
    let gaps: Vec<u64> = ticks
        .windows(2)
        .map(|w| w[1].interrupt_time - w[0].interrupt_time)
        .collect();
    assert!(
        gaps.iter().all(|&g| g == PERIOD_UNITS),
        "one setting, so exactly one period apart: {gaps:?}"
    );
}

#[test]
fn timer_functions_run_on_processors_drawn_from_the_seed() {
    let ticks = ticking_run(70, 5, 30);
    let mut cpus: Vec<u32> = ticks.iter().map(|t| t.cpu).collect();
    for t in &ticks {
        assert!(t.cpu < 70);
        let group = u16::try_from(t.cpu / 64).unwrap();
        let number = u8::try_from(t.cpu % 64).unwrap();
        assert_eq!(
            t.number,
            (group, number),
            "group-aware index of cpu {}",
            t.cpu
        );
    }
    cpus.sort_unstable();
    cpus.dedup();
    assert!(cpus.len() > 5, "spread over the processors: {cpus:?}");
    assert!(cpus.iter().any(|&c| c >= 64), "group 1 is used: {cpus:?}");
    assert_eq!(ticks, ticking_run(70, 5, 30), "deterministic for a seed");
    assert_ne!(
        ticks,
        ticking_run(70, 6, 30),
        "another seed, other processors"
    );
}

#[test]
fn every_new_import_resolves_for_a_loaded_image() {
    let tables = ndis_emu::pe::driver_tables();
    for (dll, name) in [
        ("ndis.sys", "NdisAllocateTimerObject"),
        ("ndis.sys", "NdisSetTimerObject"),
        ("ndis.sys", "NdisCancelTimerObject"),
        ("ndis.sys", "NdisFreeTimerObject"),
        ("ndis.sys", "NdisAllocateSpinLock"),
        ("ndis.sys", "NdisFreeSpinLock"),
        ("ndis.sys", "NdisAcquireSpinLock"),
        ("ndis.sys", "NdisReleaseSpinLock"),
        ("ndis.sys", "NdisDprAcquireSpinLock"),
        ("ndis.sys", "NdisDprReleaseSpinLock"),
        ("ntoskrnl.exe", "KeQueryInterruptTimePrecise"),
        ("ntoskrnl.exe", "KeGetCurrentProcessorNumberEx"),
        ("ntoskrnl.exe", "KeQueryMaximumProcessorCountEx"),
    ] {
        assert!(
            ndis_emu::abi::resolve(&tables, dll, name).is_some(),
            "{dll}!{name}"
        );
        assert!(
            ndis_emu::abi::resolve(&tables, "ntoskrnl.exe", name).is_none()
                || dll == "ntoskrnl.exe",
            "{name} is not also an ntoskrnl export"
        );
    }
}
