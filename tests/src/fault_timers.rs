//! The fault filter's timer and spin-lock behaviour: with `Fault::CorrectTimers` a correct use
//! (a periodic module timer whose function takes a spin lock at DISPATCH_LEVEL and reads the
//! clock and the processor number, cancelled in FilterPause and freed in FilterDetach, plus the
//! lock around a send counter), and otherwise exactly one misuse per timer or lock rule.
//!
//! Part of the fault filter (an NDIS driver at the FFI edge), kept in its own file.
#![allow(non_snake_case)]

use crate::fault_filter::Fault;
use core::ffi::c_void;
use core::ptr::null_mut;
use mpfilter::ndis::consts::{
    NDIS_OBJECT_TYPE_DEFAULT, NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
    NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1, NDIS_STATUS_SUCCESS,
    NDIS_TIMER_CHARACTERISTICS_REVISION_1,
};
use mpfilter::ndis::ffi::{
    KeGetCurrentProcessorNumberEx, KeQueryInterruptTimePrecise, NdisAcquireSpinLock,
    NdisAllocateSpinLock, NdisAllocateTimerObject, NdisCancelTimerObject, NdisDprAcquireSpinLock,
    NdisDprReleaseSpinLock, NdisFreeSpinLock, NdisFreeTimerObject, NdisReleaseSpinLock,
    NdisSetTimerObject,
};
use mpfilter::ndis::types::{
    NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_SPIN_LOCK, NDIS_TIMER_CHARACTERISTICS, PROCESSOR_NUMBER,
};
use std::cell::RefCell;

const TAG: u32 = u32::from_le_bytes(*b"fltT");
/// First firing 50 µs after the set (relative, 100 ns units), then every millisecond.
const FIRST_DUE: i64 = -500;
const PERIOD_MS: u32 = 1;

/// One run of a timer function of the correct filter: the virtual processor, the interrupt time
/// (100 ns units) and the performance counter it returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    /// `KeGetCurrentProcessorNumberEx`.
    pub cpu: u32,
    /// Its `PROCESSOR_NUMBER` (group, number).
    pub number: (u16, u8),
    /// `KeQueryInterruptTimePrecise`.
    pub interrupt_time: u64,
    /// The counter it wrote.
    pub qpc: u64,
}

thread_local! {
    static TICKS: RefCell<Vec<Tick>> = const { RefCell::new(Vec::new()) };
}

/// The timer-function runs of the fault filter on this thread so far (taken, oldest first).
pub fn take_ticks() -> Vec<Tick> {
    TICKS.with(|t| std::mem::take(&mut *t.borrow_mut()))
}

/// A module's timer and lock.
pub(crate) struct TimerKit {
    fault: Fault,
    timer: NDIS_HANDLE,
    lock: Box<NDIS_SPIN_LOCK>,
    lock_allocated: bool,
    sends: u64,
}

fn uses_lock(f: Fault) -> bool {
    matches!(
        f,
        Fault::CorrectTimers
            | Fault::ReleaseUnheldLock
            | Fault::AcquireLockTwice
            | Fault::DprAcquireAtPassive
            | Fault::ReturnHoldingLock
    )
}

fn uses_timer(f: Fault) -> bool {
    matches!(
        f,
        Fault::CorrectTimers
            | Fault::TimerBadCharacteristics
            | Fault::FreeTimerWhileSet
            | Fault::CancelPeriodicAtDispatch
            | Fault::LeaveTimerSet
            | Fault::LeakTimer
    )
}

impl TimerKit {
    pub(crate) fn new(fault: Fault) -> Self {
        Self {
            fault,
            timer: null_mut(),
            lock: Box::default(),
            lock_allocated: false,
            sends: 0,
        }
    }

    fn lock(&mut self) -> *mut NDIS_SPIN_LOCK {
        &raw mut *self.lock
    }

    /// FilterAttach, once the module context is published: allocates the timer (its context is
    /// this kit, which lives in the module context until FilterDetach) and the lock.
    pub(crate) fn attach(&mut self, h: NDIS_HANDLE) {
        if uses_lock(self.fault) {
            // SAFETY: our boxed lock.
            unsafe { NdisAllocateSpinLock(self.lock()) };
            self.lock_allocated = true;
        }
        if !uses_timer(self.fault) {
            return;
        }
        let ty = if self.fault == Fault::TimerBadCharacteristics {
            NDIS_OBJECT_TYPE_DEFAULT
        } else {
            NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS
        };
        let mut c = NDIS_TIMER_CHARACTERISTICS {
            Header: NDIS_OBJECT_HEADER::new(
                ty,
                NDIS_TIMER_CHARACTERISTICS_REVISION_1,
                NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
            ),
            AllocationTag: TAG,
            TimerFunction: Some(timer_function),
            FunctionContext: std::ptr::from_mut(self).cast(),
        };
        let mut t: NDIS_HANDLE = null_mut();
        // SAFETY: our module handle, valid characteristics and out slot.
        let s = unsafe { NdisAllocateTimerObject(h, &raw mut c, &raw mut t) };
        if s == NDIS_STATUS_SUCCESS {
            self.timer = t;
        }
    }

    /// FilterRestart (PASSIVE_LEVEL).
    pub(crate) fn restart(&mut self) {
        let t = self.timer;
        match self.fault {
            Fault::CorrectTimers | Fault::CancelPeriodicAtDispatch | Fault::LeaveTimerSet => {
                // SAFETY: our live timer.
                unsafe { NdisSetTimerObject(t, FIRST_DUE, PERIOD_MS, null_mut()) };
            }
            Fault::FreeTimerWhileSet => {
                // SAFETY: our live timer.
                unsafe { NdisSetTimerObject(t, -10_000_000, 0, null_mut()) };
                // SAFETY: the fault: freed while set (the emulator refuses and keeps it).
                unsafe { NdisFreeTimerObject(t) };
            }
            Fault::AcquireUnallocatedLock => {
                let mut never = NDIS_SPIN_LOCK::default();
                // SAFETY: the fault: a lock NdisAllocateSpinLock never saw.
                unsafe { NdisAcquireSpinLock(&raw mut never) };
            }
            Fault::ReleaseUnheldLock => {
                // SAFETY: the fault: released without an acquire.
                unsafe { NdisReleaseSpinLock(self.lock()) };
            }
            Fault::AcquireLockTwice => {
                // SAFETY: our allocated lock.
                unsafe { NdisAcquireSpinLock(self.lock()) };
                // SAFETY: the fault: acquired again on the same processor.
                unsafe { NdisAcquireSpinLock(self.lock()) };
            }
            Fault::DprAcquireAtPassive => {
                // SAFETY: the fault: the Dpr form at PASSIVE_LEVEL.
                unsafe { NdisDprAcquireSpinLock(self.lock()) };
            }
            Fault::ReturnHoldingLock => {
                // SAFETY: the fault: acquired and never released before returning.
                unsafe { NdisAcquireSpinLock(self.lock()) };
            }
            _ => {}
        }
    }

    /// FilterPause (PASSIVE_LEVEL): a periodic timer is cancelled here, where that is allowed.
    pub(crate) fn pause(&mut self) {
        if self.fault == Fault::CorrectTimers {
            // SAFETY: our live timer, at PASSIVE_LEVEL.
            unsafe { NdisCancelTimerObject(self.timer) };
        }
    }

    /// FilterSendNetBufferLists of a Running module: the lock around a counter, in the form the
    /// DISPATCH_LEVEL send flag allows.
    pub(crate) fn send(&mut self, at_dispatch: bool) {
        if self.fault != Fault::CorrectTimers {
            return;
        }
        let l = self.lock();
        if at_dispatch {
            // SAFETY: our allocated lock, at DISPATCH_LEVEL (the send flag says so).
            unsafe { NdisDprAcquireSpinLock(l) };
            self.sends += 1;
            // SAFETY: acquired above with the Dpr form.
            unsafe { NdisDprReleaseSpinLock(l) };
        } else {
            // SAFETY: our allocated lock.
            unsafe { NdisAcquireSpinLock(l) };
            self.sends += 1;
            // SAFETY: acquired above.
            unsafe { NdisReleaseSpinLock(l) };
        }
    }

    /// FilterDetach: frees what the fault does not leave behind.
    pub(crate) fn detach(&mut self) {
        let keep = matches!(self.fault, Fault::LeakTimer | Fault::LeaveTimerSet);
        if !self.timer.is_null() && !keep {
            // SAFETY: our timer, not set (cancelled in FilterPause).
            unsafe { NdisFreeTimerObject(self.timer) };
            self.timer = null_mut();
        }
        if self.lock_allocated {
            // SAFETY: our allocated lock, not held.
            unsafe { NdisFreeSpinLock(self.lock()) };
            self.lock_allocated = false;
        }
    }
}

unsafe extern "system" fn timer_function(
    _s1: *mut c_void,
    ctx: *mut c_void,
    _s2: *mut c_void,
    _s3: *mut c_void,
) {
    // SAFETY: the context is the module's kit, alive until FilterDetach frees the timer; nothing
    // else borrows it while a timer function runs (the emulator runs one callback at a time).
    let kit = unsafe { &mut *ctx.cast::<TimerKit>() };
    match kit.fault {
        Fault::CancelPeriodicAtDispatch => {
            // SAFETY: the fault: a periodic timer cancelled at DISPATCH_LEVEL.
            unsafe { NdisCancelTimerObject(kit.timer) };
        }
        Fault::CorrectTimers => {
            let l = kit.lock();
            // SAFETY: our allocated lock; a timer function runs at DISPATCH_LEVEL.
            unsafe { NdisDprAcquireSpinLock(l) };
            let mut qpc = 0;
            // SAFETY: a local out slot.
            let interrupt_time = unsafe { KeQueryInterruptTimePrecise(&raw mut qpc) };
            let mut n = PROCESSOR_NUMBER::default();
            // SAFETY: a local out slot.
            let cpu = unsafe { KeGetCurrentProcessorNumberEx(&raw mut n) };
            // SAFETY: acquired above with the Dpr form.
            unsafe { NdisDprReleaseSpinLock(l) };
            TICKS.with(|t| {
                t.borrow_mut().push(Tick {
                    cpu,
                    number: (n.Group, n.Number),
                    interrupt_time,
                    qpc,
                });
            });
        }
        _ => {}
    }
}
