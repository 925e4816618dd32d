//! A driver that uses the Microsoft x64 calling convention (as a loaded `mpfilter.sys` does) and
//! reaches timers, spin locks, the clock and the processor number only through the exports'
//! win64 entry points: its driver-level periodic timer must fire on the virtual clock through a
//! win64 call, and the run must be clean. This covers the `Abi::Win64` branch of timer firing,
//! which no host-linked filter reaches.
#![allow(non_snake_case, clippy::multiple_unsafe_ops_per_block)]

use core::ffi::c_void;
use core::ptr::null_mut;
use mpfilter::ndis::consts::*;
use mpfilter::ndis::types::*;
use ndis_emu::exports::kernel_time::win64 as ke;
use ndis_emu::exports::ndis::win64 as ndis;
use ndis_emu::exports::spin_lock::win64 as lock;
use ndis_emu::exports::timer::win64 as timer;
use ndis_emu::{EmuConfig, Emulator, EntryPoint};
use std::cell::{Cell, RefCell};

struct Driver {
    handle: NDIS_HANDLE,
    timer: NDIS_HANDLE,
    lock: NDIS_SPIN_LOCK,
}

thread_local! {
    static DRIVER: Cell<*mut Driver> = const { Cell::new(null_mut()) };
    /// (processor index, interrupt time) of each firing.
    static TICKS: RefCell<Vec<(u32, u64)>> = const { RefCell::new(Vec::new()) };
    static MAX_PROCESSORS: Cell<u32> = const { Cell::new(0) };
}

macro_rules! slot {
    ($f:expr, $t:ty) => {
        Some(core::mem::transmute::<usize, $t>($f as *const () as usize))
    };
}

unsafe extern "win64" fn tick(
    _s1: *mut c_void,
    ctx: *mut c_void,
    _s2: *mut c_void,
    _s3: *mut c_void,
) {
    // SAFETY: the context is the live driver state; the lock was allocated in DriverEntry, and a
    // timer function runs at DISPATCH_LEVEL, where the Dpr forms belong.
    unsafe {
        let d = &mut *ctx.cast::<Driver>();
        lock::NdisDprAcquireSpinLock(&raw mut d.lock);
        let t = ke::KeQueryInterruptTimePrecise(null_mut());
        let cpu = ke::KeGetCurrentProcessorNumberEx(null_mut());
        lock::NdisDprReleaseSpinLock(&raw mut d.lock);
        // In 100 ns units from the start of the emulator's virtual clock, not from boot.
        let t = t - ndis_emu::exports::kernel_time::UPTIME_AT_START / 100;
        TICKS.with(|v| v.borrow_mut().push((cpu, t)));
    }
}

unsafe extern "win64" fn attach(
    _h: NDIS_HANDLE,
    _d: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_ATTACH_PARAMETERS,
) -> NDIS_STATUS {
    NDIS_STATUS_FAILURE
}
unsafe extern "win64" fn detach(_ctx: NDIS_HANDLE) {}
unsafe extern "win64" fn restart(
    _ctx: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_RESTART_PARAMETERS,
) -> NDIS_STATUS {
    NDIS_STATUS_SUCCESS
}
unsafe extern "win64" fn pause(
    _ctx: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_PAUSE_PARAMETERS,
) -> NDIS_STATUS {
    NDIS_STATUS_SUCCESS
}

unsafe extern "win64" fn unload(_d: *mut DRIVER_OBJECT) {
    // SAFETY: the state DriverEntry made; unload runs at PASSIVE_LEVEL, where a periodic timer
    // may be cancelled; the timer is freed once cancelled, the lock once no callback can run.
    unsafe {
        let d = DRIVER.with(Cell::get);
        timer::NdisCancelTimerObject((*d).timer);
        timer::NdisFreeTimerObject((*d).timer);
        lock::NdisFreeSpinLock(&raw mut (*d).lock);
        ndis::NdisFDeregisterFilterDriver((*d).handle);
        drop(Box::from_raw(d));
    }
}

unsafe extern "win64" fn driver_entry(
    d: *mut DRIVER_OBJECT,
    _r: *mut UNICODE_STRING,
) -> NDIS_STATUS {
    // SAFETY: the documented registration sequence with plain-data structures.
    unsafe {
        let mut c = ndis_emu::fault_filter::test_characteristics();
        c.AttachHandler = slot!(attach, FilterAttachHandler);
        c.DetachHandler = slot!(detach, FilterDetachHandler);
        c.RestartHandler = slot!(restart, FilterRestartHandler);
        c.PauseHandler = slot!(pause, FilterPauseHandler);
        let st = Box::into_raw(Box::new(Driver {
            handle: null_mut(),
            timer: null_mut(),
            lock: NDIS_SPIN_LOCK::default(),
        }));
        let s = ndis::NdisFRegisterFilterDriver(d, null_mut(), &raw mut c, &raw mut (*st).handle);
        if s != NDIS_STATUS_SUCCESS {
            drop(Box::from_raw(st));
            return s;
        }
        lock::NdisAllocateSpinLock(&raw mut (*st).lock);
        let mut tc = NDIS_TIMER_CHARACTERISTICS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
                NDIS_TIMER_CHARACTERISTICS_REVISION_1,
                NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
            ),
            AllocationTag: u32::from_le_bytes(*b"w64T"),
            TimerFunction: slot!(tick, NDIS_TIMER_FUNCTION),
            FunctionContext: st.cast(),
        };
        let s = timer::NdisAllocateTimerObject((*st).handle, &raw mut tc, &raw mut (*st).timer);
        if s != NDIS_STATUS_SUCCESS {
            return s;
        }
        MAX_PROCESSORS.with(|m| m.set(ke::KeQueryMaximumProcessorCountEx(ALL_PROCESSOR_GROUPS)));
        // First firing 2 ms from now, then every 3 ms.
        timer::NdisSetTimerObject((*st).timer, -20_000, 3, null_mut());
        DRIVER.with(|c| c.set(st));
        (*d).DriverUnload = slot!(unload, DriverUnloadRoutine);
        NDIS_STATUS_SUCCESS
    }
}

#[test]
fn a_win64_driver_timer_fires_on_the_virtual_clock() {
    let mut emu = Emulator::new(EmuConfig {
        seed: 9,
        cpus: 3,
        ..EmuConfig::default()
    });
    emu.load(EntryPoint::Win64(driver_entry))
        .expect("DriverEntry registers");
    emu.run_for(30_000_000);
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    assert_eq!(MAX_PROCESSORS.with(Cell::get), 3, "EmuConfig::cpus");
    let ticks = TICKS.with(|t| t.borrow().clone());
    let times: Vec<u64> = ticks.iter().map(|t| t.1).collect();
    let expected: Vec<u64> = (0..10).map(|k| 20_000 + k * 30_000).collect();
    assert_eq!(
        times, expected,
        "at 2 ms, then every 3 ms, for 30 ms (100 ns units)"
    );
    assert!(ticks.iter().all(|t| t.0 < 3));
}
