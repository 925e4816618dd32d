//! Doubles of the timer, spin-lock, clock and processor imports, for this crate's unit tests only
//! (`cfg(test)`; `super::kernel_imports` points here then).
//!
//! Timers are heap records the tests fire by hand ([`KernelSession::fire`]); spin locks really
//! exclude (a compare-exchange on the lock word, so threads of one test contend as on Windows)
//! and check their pairing per thread; the IRQL is a per-thread value that acquire raises and
//! release restores. Misuse panics, so a wrapper bug fails its test (and Miri sees leaks).
#![allow(non_snake_case, clippy::missing_safety_doc, clippy::unused_self)]

use super::consts::NDIS_STATUS_SUCCESS;
use super::types::{
    NDIS_HANDLE, NDIS_SPIN_LOCK, NDIS_STATUS, NDIS_TIMER_CHARACTERISTICS, NDIS_TIMER_FUNCTION,
    PROCESSOR_NUMBER,
};
use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::boxed::Box;
use std::cell::RefCell;
use std::vec::Vec;

/// The simulated IRQL of the test thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MockIrql {
    Passive,
    Dispatch,
}

/// What the doubles know of one timer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerRecord {
    pub owner: usize,
    pub tag: u32,
    pub callback: NDIS_TIMER_FUNCTION,
    pub context: *mut c_void,
    pub due: i64,
    pub period_ms: u32,
    pub set_context: *mut c_void,
    pub set: bool,
}

struct State {
    calls: Vec<&'static str>,
    irql: MockIrql,
    timers: Vec<(*mut u64, TimerRecord)>,
    allocation_status: NDIS_STATUS,
    /// Locks this thread holds: (lock address, taken with the Dpr form).
    held: Vec<(usize, bool)>,
    interrupt_time: u64,
    processor: u32,
    processors: u32,
    groups_asked: Vec<u16>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            calls: Vec::new(),
            irql: MockIrql::Passive,
            timers: Vec::new(),
            allocation_status: NDIS_STATUS_SUCCESS,
            held: Vec::new(),
            interrupt_time: 0,
            processor: 0,
            processors: 1,
            groups_asked: Vec::new(),
        }
    }
}

std::thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

fn record(call: &'static str) {
    with(|s| s.calls.push(call));
}

/// Resets this thread's doubles; on drop frees leftover timers and checks that none leaked and
/// no lock is held.
pub(crate) struct KernelSession(());

impl KernelSession {
    pub(crate) fn new() -> Self {
        with(|s| *s = State::default());
        KernelSession(())
    }
    pub(crate) fn take_calls(&self) -> Vec<&'static str> {
        with(|s| core::mem::take(&mut s.calls))
    }
    pub(crate) fn irql(&self) -> MockIrql {
        with(|s| s.irql)
    }
    pub(crate) fn set_irql(&self, irql: MockIrql) {
        with(|s| s.irql = irql);
    }
    pub(crate) fn timer(&self, handle: NDIS_HANDLE) -> Option<TimerRecord> {
        with(|s| {
            s.timers
                .iter()
                .find(|(h, _)| h.addr() == handle.addr())
                .map(|(_, t)| *t)
        })
    }
    pub(crate) fn fail_timer_allocation(&self, status: NDIS_STATUS) {
        with(|s| s.allocation_status = status);
    }
    pub(crate) fn set_interrupt_time(&self, ticks: u64) {
        with(|s| s.interrupt_time = ticks);
    }
    /// The current processor's system-wide index and the maximum count.
    pub(crate) fn set_processors(&self, current: u32, max: u32) {
        with(|s| {
            s.processor = current;
            s.processors = max;
        });
    }
    pub(crate) fn groups_asked(&self) -> Vec<u16> {
        with(|s| s.groups_asked.clone())
    }

    /// Fires a set timer as NDIS would: at DISPATCH_LEVEL, with the context of the set call or
    /// else of the allocation; a one-shot timer is no longer set afterwards.
    ///
    /// # Safety
    /// The timer's context is valid for its callback.
    pub(crate) unsafe fn fire(&self, handle: NDIS_HANDLE) {
        let (callback, context) = with(|s| {
            let (_, t) = s
                .timers
                .iter_mut()
                .find(|(h, _)| h.addr() == handle.addr())
                .expect("firing a live timer");
            assert!(t.set, "firing a timer that is not set");
            if t.period_ms == 0 {
                t.set = false;
            }
            let context = if t.set_context.is_null() {
                t.context
            } else {
                t.set_context
            };
            s.calls.push("fire");
            (t.callback, context)
        });
        let before = self.irql();
        self.set_irql(MockIrql::Dispatch);
        // SAFETY: a callback the wrapper registered, with its context (contract).
        unsafe {
            callback(
                core::ptr::null_mut(),
                context,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            );
        }
        self.set_irql(before);
    }
}

/// Timers allocated on this thread and not freed.
pub(crate) fn live_timers() -> usize {
    with(|s| s.timers.len())
}

impl Drop for KernelSession {
    fn drop(&mut self) {
        let state = with(core::mem::take);
        for &(h, _) in &state.timers {
            // SAFETY: allocated as a Box<u64> by the allocation double and not freed.
            drop(unsafe { Box::from_raw(h) });
        }
        if !std::thread::panicking() {
            assert!(state.timers.is_empty(), "timers leaked");
            assert!(state.held.is_empty(), "spin locks still held");
        }
    }
}

pub unsafe fn NdisAllocateTimerObject(
    owner: NDIS_HANDLE,
    characteristics: *mut NDIS_TIMER_CHARACTERISTICS,
    out: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    record("allocate");
    let status = with(|s| s.allocation_status);
    if status != NDIS_STATUS_SUCCESS {
        return status;
    }
    // SAFETY: the caller's characteristics, read during the call.
    let c = unsafe { *characteristics };
    assert_eq!(
        (c.Header.Type, c.Header.Revision, c.Header.Size),
        (0x97, 1, 24),
        "timer characteristics header"
    );
    let callback = c.TimerFunction.expect("a timer function");
    let handle = Box::into_raw(Box::new(0u64));
    with(|s| {
        s.timers.push((
            handle,
            TimerRecord {
                owner: owner.addr(),
                tag: c.AllocationTag,
                callback,
                context: c.FunctionContext,
                due: 0,
                period_ms: 0,
                set_context: core::ptr::null_mut(),
                set: false,
            },
        ));
    });
    // SAFETY: the caller's out slot.
    unsafe { out.write(handle.cast()) };
    NDIS_STATUS_SUCCESS
}

fn timer_mut<R>(handle: NDIS_HANDLE, f: impl FnOnce(&mut TimerRecord) -> R) -> R {
    with(|s| {
        let (_, t) = s
            .timers
            .iter_mut()
            .find(|(h, _)| h.addr() == handle.addr())
            .expect("a live timer object");
        f(t)
    })
}

pub unsafe fn NdisSetTimerObject(
    handle: NDIS_HANDLE,
    due: i64,
    period_ms: u32,
    context: *mut c_void,
) -> u8 {
    record("set");
    timer_mut(handle, |t| {
        let was = t.set;
        t.due = due;
        t.period_ms = period_ms;
        t.set_context = context;
        t.set = true;
        u8::from(was)
    })
}

pub unsafe fn NdisCancelTimerObject(handle: NDIS_HANDLE) -> u8 {
    record("cancel");
    timer_mut(handle, |t| {
        let was = t.set;
        t.set = false;
        u8::from(was)
    })
}

pub unsafe fn NdisFreeTimerObject(handle: NDIS_HANDLE) {
    record("free");
    let addr = with(|s| {
        let i = s
            .timers
            .iter()
            .position(|(h, _)| h.addr() == handle.addr())
            .expect("freeing a live timer object");
        assert!(!s.timers[i].1.set, "freeing a timer that is still set");
        s.timers.swap_remove(i).0
    });
    // SAFETY: allocated as a Box<u64> by the allocation double; freed once (removed above).
    drop(unsafe { Box::from_raw(addr) });
}

/// # Safety
/// `lock` points at a live NDIS_SPIN_LOCK.
unsafe fn word<'a>(lock: *mut NDIS_SPIN_LOCK) -> &'a AtomicUsize {
    // SAFETY: KSPIN_LOCK is a usize at offset 0 of the lock, which is 8-aligned; every access to
    // it in these doubles is atomic.
    unsafe { AtomicUsize::from_ptr(lock.cast::<usize>()) }
}

pub unsafe fn NdisAllocateSpinLock(lock: *mut NDIS_SPIN_LOCK) {
    record("spin-alloc");
    // SAFETY: the caller's lock, not shared yet.
    unsafe { word(lock) }.store(0, Ordering::Relaxed);
}

pub unsafe fn NdisFreeSpinLock(lock: *mut NDIS_SPIN_LOCK) {
    record("spin-free");
    // SAFETY: the caller's live lock.
    let word = unsafe { word(lock) }.load(Ordering::Relaxed);
    assert_eq!(word, 0, "freeing a held lock");
}

unsafe fn acquire(lock: *mut NDIS_SPIN_LOCK, dpr: bool) {
    let already = with(|s| s.held.iter().any(|&(l, _)| l == lock.addr()));
    assert!(!already, "acquiring a lock this thread holds: deadlock");
    if dpr {
        assert_eq!(
            with(|s| s.irql),
            MockIrql::Dispatch,
            "Dpr acquire below DISPATCH_LEVEL"
        );
    }
    // SAFETY: the caller's live lock.
    let w = unsafe { word(lock) };
    while w
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
    let old = with(|s| {
        s.held.push((lock.addr(), dpr));
        core::mem::replace(&mut s.irql, MockIrql::Dispatch)
    });
    if !dpr {
        // SAFETY: the lock is held by this thread, so OldIrql is ours to write.
        unsafe { (*lock).OldIrql = u8::from(old == MockIrql::Dispatch) * 2 };
    }
}

unsafe fn release(lock: *mut NDIS_SPIN_LOCK, dpr: bool) {
    let held = with(|s| {
        let i = s.held.iter().position(|&(l, _)| l == lock.addr())?;
        Some(s.held.remove(i).1)
    });
    assert_eq!(held, Some(dpr), "release without the matching acquire");
    if !dpr {
        // SAFETY: still held by this thread.
        let old = unsafe { (*lock).OldIrql };
        with(|s| {
            s.irql = if old == 0 {
                MockIrql::Passive
            } else {
                MockIrql::Dispatch
            };
        });
    }
    // SAFETY: the caller's live lock, held by this thread.
    unsafe { word(lock) }.store(0, Ordering::Release);
}

pub unsafe fn NdisAcquireSpinLock(lock: *mut NDIS_SPIN_LOCK) {
    record("acquire");
    // SAFETY: forwarded.
    unsafe { acquire(lock, false) }
}

pub unsafe fn NdisReleaseSpinLock(lock: *mut NDIS_SPIN_LOCK) {
    record("release");
    // SAFETY: forwarded.
    unsafe { release(lock, false) }
}

pub unsafe fn NdisDprAcquireSpinLock(lock: *mut NDIS_SPIN_LOCK) {
    record("dpr-acquire");
    // SAFETY: forwarded.
    unsafe { acquire(lock, true) }
}

pub unsafe fn NdisDprReleaseSpinLock(lock: *mut NDIS_SPIN_LOCK) {
    record("dpr-release");
    // SAFETY: forwarded.
    unsafe { release(lock, true) }
}

pub unsafe fn KeQueryInterruptTimePrecise(qpc: *mut u64) -> u64 {
    let t = with(|s| s.interrupt_time);
    if !qpc.is_null() {
        // SAFETY: the caller's out slot.
        unsafe { qpc.write(t) };
    }
    t
}

pub unsafe fn KeGetCurrentProcessorNumberEx(number: *mut PROCESSOR_NUMBER) -> u32 {
    let index = with(|s| s.processor);
    if !number.is_null() {
        // SAFETY: the caller's out slot. 64 processors per group, as Windows fills groups.
        unsafe {
            number.write(PROCESSOR_NUMBER {
                Group: u16::try_from(index / 64).unwrap(),
                Number: u8::try_from(index % 64).unwrap(),
                Reserved: 0,
            });
        }
    }
    index
}

pub unsafe fn KeQueryMaximumProcessorCountEx(group: u16) -> u32 {
    with(|s| {
        s.groups_asked.push(group);
        s.processors
    })
}
