//! The timer-object and spin-lock exports called directly, at PASSIVE_LEVEL outside any callback,
//! by a minimal host-linked driver: what `NdisSetTimerObject` and `NdisCancelTimerObject` return,
//! that a cancelled or re-set timer does not fire for its old setting, that a one-shot fires once
//! and with which context, and that a spin lock raises and restores the simulated IRQL.
#![allow(non_snake_case, clippy::multiple_unsafe_ops_per_block)]

use core::ffi::c_void;
use core::ptr::null_mut;
use mpfilter::ndis::consts::*;
use mpfilter::ndis::ffi::*;
use mpfilter::ndis::types::*;
use ndis_emu::{EmuConfig, Emulator, EntryPoint};
use std::cell::{Cell, RefCell};

thread_local! {
    static HANDLE: Cell<usize> = const { Cell::new(0) };
    /// (context, interrupt time) of each firing.
    static FIRED: RefCell<Vec<(usize, u64)>> = const { RefCell::new(Vec::new()) };
}

unsafe extern "system" fn attach(
    _h: NDIS_HANDLE,
    _d: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_ATTACH_PARAMETERS,
) -> NDIS_STATUS {
    NDIS_STATUS_FAILURE
}
unsafe extern "system" fn detach(_ctx: NDIS_HANDLE) {}
unsafe extern "system" fn restart(
    _ctx: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_RESTART_PARAMETERS,
) -> NDIS_STATUS {
    NDIS_STATUS_SUCCESS
}
unsafe extern "system" fn pause(
    _ctx: NDIS_HANDLE,
    _p: *mut NDIS_FILTER_PAUSE_PARAMETERS,
) -> NDIS_STATUS {
    NDIS_STATUS_SUCCESS
}
unsafe extern "system" fn unload(_d: *mut DRIVER_OBJECT) {
    // SAFETY: the handle registration returned.
    unsafe { NdisFDeregisterFilterDriver(HANDLE.with(Cell::get) as NDIS_HANDLE) };
}

unsafe extern "system" fn driver_entry(
    d: *mut DRIVER_OBJECT,
    _r: *mut UNICODE_STRING,
) -> NDIS_STATUS {
    // SAFETY: the documented registration sequence with plain-data structures.
    unsafe {
        let mut c = ndis_emu::fault_filter::test_characteristics();
        c.AttachHandler = Some(attach);
        c.DetachHandler = Some(detach);
        c.RestartHandler = Some(restart);
        c.PauseHandler = Some(pause);
        let mut h: NDIS_HANDLE = null_mut();
        let s = NdisFRegisterFilterDriver(d, null_mut(), &raw mut c, &raw mut h);
        if s != NDIS_STATUS_SUCCESS {
            return s;
        }
        HANDLE.with(|c| c.set(h as usize));
        (*d).DriverUnload = Some(unload);
        NDIS_STATUS_SUCCESS
    }
}

unsafe extern "system" fn record(
    _s1: *mut c_void,
    ctx: *mut c_void,
    _s2: *mut c_void,
    _s3: *mut c_void,
) {
    let mut qpc = 0;
    // SAFETY: a local out slot.
    let t = unsafe { KeQueryInterruptTimePrecise(&raw mut qpc) };
    // In 100 ns units from the start of the emulator's virtual clock, not from boot.
    let t = t - ndis_emu::exports::kernel_time::UPTIME_AT_START / 100;
    FIRED.with(|f| f.borrow_mut().push((ctx as usize, t)));
}

fn loaded() -> Emulator {
    FIRED.with(|f| f.borrow_mut().clear());
    let mut emu = Emulator::new(EmuConfig::default());
    emu.load(EntryPoint::Host(driver_entry)).expect("registers");
    emu
}

fn timer(context: usize) -> NDIS_HANDLE {
    let mut c = NDIS_TIMER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
            NDIS_TIMER_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
        ),
        AllocationTag: 1,
        TimerFunction: Some(record),
        FunctionContext: core::ptr::without_provenance_mut(context),
    };
    let mut t: NDIS_HANDLE = null_mut();
    // SAFETY: the driver handle, valid characteristics and out slot.
    let s = unsafe {
        NdisAllocateTimerObject(
            HANDLE.with(Cell::get) as NDIS_HANDLE,
            &raw mut c,
            &raw mut t,
        )
    };
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    assert!(!t.is_null());
    t
}

fn fired() -> Vec<(usize, u64)> {
    FIRED.with(|f| f.borrow().clone())
}

#[test]
fn set_and_cancel_report_whether_the_timer_was_queued() {
    let mut emu = loaded();
    let t = timer(7);
    // SAFETY: a live timer of this driver; the calls run at PASSIVE_LEVEL.
    unsafe {
        assert_eq!(
            NdisSetTimerObject(t, -10_000, 0, null_mut()),
            0,
            "not queued yet"
        );
        assert_eq!(
            NdisSetTimerObject(t, -20_000, 0, null_mut()),
            1,
            "re-set while queued"
        );
        assert_eq!(NdisCancelTimerObject(t), 1, "was queued");
        assert_eq!(NdisCancelTimerObject(t), 0, "nothing queued");
    }
    emu.run_for(5_000_000);
    assert!(fired().is_empty(), "cancelled: neither setting fires");
    // SAFETY: as above.
    unsafe { NdisFreeTimerObject(t) };
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
}

#[test]
fn a_one_shot_fires_once_with_the_latest_setting_and_context() {
    let mut emu = loaded();
    let t = timer(7);
    // SAFETY: a live timer of this driver, at PASSIVE_LEVEL.
    unsafe {
        NdisSetTimerObject(t, -10_000, 0, null_mut());
        NdisSetTimerObject(t, -30_000, 0, core::ptr::without_provenance_mut(9));
    }
    emu.run_for(10_000_000);
    assert_eq!(
        fired(),
        [(9, 30_000)],
        "once, at 3 ms, with the set call's context"
    );
    // SAFETY: as above; a one-shot that fired is no longer set.
    unsafe {
        assert_eq!(NdisCancelTimerObject(t), 0);
        NdisSetTimerObject(t, 150_000, 0, null_mut());
    }
    // The clock stopped at the last event (3 ms): 15 ms is 12 ms away.
    emu.run_for(20_000_000);
    assert_eq!(
        fired(),
        [(9, 30_000), (7, 150_000)],
        "an absolute due time on the virtual clock, with the allocation's context"
    );
    // SAFETY: as above.
    unsafe { NdisFreeTimerObject(t) };
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
}

#[test]
fn a_timer_left_allocated_or_set_at_unload_is_reported() {
    let mut emu = loaded();
    let _forgotten = timer(1);
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    let leaks: Vec<&str> = emu.leaks().iter().map(|l| l.rule.name()).collect();
    assert_eq!(leaks, ["leak.timer"]);
    drop(emu);

    let mut emu = loaded();
    let t = timer(1);
    // SAFETY: a live timer of this driver, at PASSIVE_LEVEL.
    unsafe { NdisSetTimerObject(t, -10_000, 1, null_mut()) };
    emu.run_for(3_500_000);
    assert_eq!(fired().len(), 3, "1, 2 and 3 ms");
    emu.unload();
    let v = emu.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].rule.name(), "timer.set-at-detach");
}

#[test]
fn a_spin_lock_raises_the_irql_and_its_release_restores_it() {
    let emu = loaded();
    let mut a = NDIS_SPIN_LOCK::default();
    let mut b = NDIS_SPIN_LOCK::default();
    // SAFETY: locks on this stack frame, allocated before use.
    unsafe {
        NdisAllocateSpinLock(&raw mut a);
        NdisAllocateSpinLock(&raw mut b);
        NdisAcquireSpinLock(&raw mut a);
        // Under `a` the caller is at DISPATCH_LEVEL: the Dpr forms are right.
        NdisDprAcquireSpinLock(&raw mut b);
        NdisDprReleaseSpinLock(&raw mut b);
        NdisReleaseSpinLock(&raw mut a);
    }
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    // SAFETY: as above; back at PASSIVE_LEVEL the Dpr form is the fault.
    unsafe { NdisDprAcquireSpinLock(&raw mut b) };
    let v = emu.violations();
    assert_eq!(v[0].rule.name(), "spinlock.dpr-below-dispatch", "{v:?}");
}

#[test]
fn a_passive_only_call_under_a_spin_lock_is_caught() {
    let emu = loaded();
    let mut a = NDIS_SPIN_LOCK::default();
    // SAFETY: a lock on this stack frame; the handle is the driver's (the IRQL check comes first).
    unsafe {
        NdisAllocateSpinLock(&raw mut a);
        NdisAcquireSpinLock(&raw mut a);
        NdisFRestartComplete(HANDLE.with(Cell::get) as NDIS_HANDLE, NDIS_STATUS_SUCCESS);
    }
    let v = emu.violations();
    assert_eq!(v[0].rule.name(), "irql.passive-only", "{v:?}");
}
