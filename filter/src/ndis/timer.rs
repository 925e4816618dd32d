//! [`Timer`]: an owned NDIS timer object (`NdisAllocateTimerObject` … `NdisFreeTimerObject`).
//!
//! The rules NDIS sets, which this type leaves to its owner:
//! - The callback runs at DISPATCH_LEVEL, possibly on another processor than the one that set
//!   the timer and concurrently with the owner: its context must be safe to use from there.
//! - The context must outlive the timer: drop the timer (which cancels, then frees) before the
//!   context goes, and drop a module's timers before FilterDetach returns (the driver's before
//!   unload ends), so no callback can reach a detached module.
//! - Cancelling a **periodic** timer requires PASSIVE_LEVEL; NDIS then flushes queued DPCs, so no
//!   callback runs after the cancel returns. Cancelling a **one-shot** timer that has already
//!   fired does not wait for its callback: a one-shot owner needs its own synchronisation (a
//!   reference the callback gives back) before it frees the context.

use super::consts::{
    NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS, NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
    NDIS_STATUS_FAILURE, NDIS_STATUS_SUCCESS, NDIS_TIMER_CHARACTERISTICS_REVISION_1,
};
use super::kernel_imports as imports;
use super::types::{
    NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_STATUS, NDIS_TIMER_CHARACTERISTICS, NDIS_TIMER_FUNCTION,
};
use core::ffi::c_void;
use core::num::NonZeroU32;
use core::ptr::{self, NonNull};

/// The 100 ns unit of NDIS due times.
const NS_PER_TICK: u64 = 100;

/// A relative `DueTime` for `NdisSetTimerObject`: `delay_ns` rounded up to the 100 ns unit, as
/// the negative number NDIS reads as "relative to now". At least one unit, so a zero delay still
/// means "as soon as possible" rather than the absolute time 0.
pub const fn relative_due_time(delay_ns: u64) -> i64 {
    let ticks = delay_ns.div_ceil(NS_PER_TICK);
    let ticks = if ticks == 0 { 1 } else { ticks };
    if ticks > i64::MAX as u64 {
        -i64::MAX
    } else {
        -ticks.cast_signed()
    }
}

/// An NDIS timer object, freed on drop (after a cancel). See the module docs for the rules.
#[derive(Debug)]
pub struct Timer {
    handle: NonNull<c_void>,
}

// SAFETY: a timer object handle is an opaque token NDIS accepts on any processor at
// <= DISPATCH_LEVEL; NDIS serialises set and cancel on it.
unsafe impl Send for Timer {}
// SAFETY: as above; every method only passes the token to NDIS.
unsafe impl Sync for Timer {}

impl Timer {
    /// `NdisAllocateTimerObject` for `owner` with `callback(context)`.
    ///
    /// # Errors
    /// The status NDIS returned (`NDIS_STATUS_FAILURE` if it returned success without a handle).
    ///
    /// # Safety
    /// - `owner` is the live NdisFilterDriverHandle or a module's NdisFilterHandle, and the timer
    ///   is dropped before that handle goes (unload, FilterDetach).
    /// - `context` stays valid for `callback`, at DISPATCH_LEVEL on any processor, until the timer
    ///   is dropped (and, for a one-shot timer, until a callback already running has returned).
    pub unsafe fn allocate(
        owner: NDIS_HANDLE,
        tag: u32,
        callback: NDIS_TIMER_FUNCTION,
        context: *mut c_void,
    ) -> Result<Self, NDIS_STATUS> {
        let mut characteristics = NDIS_TIMER_CHARACTERISTICS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
                NDIS_TIMER_CHARACTERISTICS_REVISION_1,
                NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
            ),
            AllocationTag: tag,
            TimerFunction: Some(callback),
            FunctionContext: context,
        };
        let mut handle: NDIS_HANDLE = ptr::null_mut();
        // SAFETY: `owner` is live (contract); the characteristics and the out slot are locals
        // NDIS reads and writes during the call only.
        let status = unsafe {
            imports::NdisAllocateTimerObject(owner, &raw mut characteristics, &raw mut handle)
        };
        if status != NDIS_STATUS_SUCCESS {
            return Err(status);
        }
        NonNull::new(handle)
            .map(|handle| Self { handle })
            .ok_or(NDIS_STATUS_FAILURE)
    }

    /// Sets the timer to fire once, `delay_ns` from now (rounded up to 100 ns), with the
    /// allocation's context. True if it was already queued (the earlier setting is replaced).
    pub fn set_once(&self, delay_ns: u64) -> bool {
        // SAFETY: the handle is a live timer object (type invariant).
        let queued = unsafe {
            imports::NdisSetTimerObject(
                self.handle.as_ptr(),
                relative_due_time(delay_ns),
                0,
                ptr::null_mut(),
            )
        };
        queued != 0
    }

    /// Sets the timer to fire `first_ns` from now and then every `period_ms` milliseconds until
    /// cancelled. True if it was already queued.
    pub fn set_periodic(&self, first_ns: u64, period_ms: NonZeroU32) -> bool {
        // SAFETY: the handle is a live timer object (type invariant).
        let queued = unsafe {
            imports::NdisSetTimerObject(
                self.handle.as_ptr(),
                relative_due_time(first_ns),
                period_ms.get(),
                ptr::null_mut(),
            )
        };
        queued != 0
    }

    /// `NdisCancelTimerObject`: true if the timer was queued (and now will not fire). For a
    /// periodic timer, call at PASSIVE_LEVEL.
    pub fn cancel(&self) -> bool {
        // SAFETY: the handle is a live timer object (type invariant).
        unsafe { imports::NdisCancelTimerObject(self.handle.as_ptr()) != 0 }
    }

    /// The raw timer object handle (for comparisons and diagnostics).
    pub fn as_raw(&self) -> NDIS_HANDLE {
        self.handle.as_ptr()
    }
}

impl Drop for Timer {
    /// Cancels, then frees: NDIS requires a timer not to be set when it is freed. Drop a
    /// periodic timer at PASSIVE_LEVEL.
    fn drop(&mut self) {
        self.cancel();
        // SAFETY: the handle is a live timer object, no longer set, and freed once (here).
        unsafe { imports::NdisFreeTimerObject(self.handle.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::super::mock_kernel::{self, KernelSession};
    use super::{Timer, relative_due_time};
    use core::ffi::c_void;
    use core::num::NonZeroU32;
    use core::sync::atomic::{AtomicU32, Ordering};

    unsafe extern "system" fn count(
        _s1: *mut c_void,
        context: *mut c_void,
        _s2: *mut c_void,
        _s3: *mut c_void,
    ) {
        // SAFETY: every test passes a live AtomicU32 as the context.
        unsafe { &*context.cast::<AtomicU32>() }.fetch_add(1, Ordering::Relaxed);
    }

    fn owner() -> *mut c_void {
        core::ptr::without_provenance_mut(0x0D00)
    }

    #[test]
    fn due_times_are_relative_and_round_up() {
        assert_eq!(relative_due_time(0), -1);
        assert_eq!(relative_due_time(1), -1);
        assert_eq!(relative_due_time(100), -1);
        assert_eq!(relative_due_time(101), -2);
        assert_eq!(relative_due_time(1_000_000), -10_000);
        assert_eq!(
            relative_due_time(u64::MAX),
            -u64::MAX.div_ceil(100).cast_signed()
        );
    }

    #[test]
    fn allocate_passes_characteristics_and_drop_cancels_then_frees() {
        let session = KernelSession::new();
        let fired = AtomicU32::new(0);
        let context = (&raw const fired).cast_mut().cast::<c_void>();
        // SAFETY: `fired` outlives the timer (dropped at the end of this scope, before it).
        let timer = unsafe { Timer::allocate(owner(), 0x6C66_706D, count, context) }.unwrap();
        let t = session.timer(timer.as_raw()).expect("allocated");
        assert_eq!(t.owner, 0x0D00);
        assert_eq!(t.tag, 0x6C66_706D);
        assert_eq!(t.context, context);
        assert!(!timer.set_once(1_000));
        let t = session.timer(timer.as_raw()).unwrap();
        assert_eq!((t.due, t.period_ms, t.set), (-10, 0, true));
        assert!(timer.set_once(2_000), "already queued");
        // SAFETY: the timer's context is `fired`, alive.
        unsafe { session.fire(timer.as_raw()) };
        assert_eq!(fired.load(Ordering::Relaxed), 1);
        assert!(
            !session.timer(timer.as_raw()).unwrap().set,
            "one-shot fired"
        );
        assert!(!timer.cancel(), "nothing queued any more");
        let raw = timer.as_raw();
        assert!(!timer.set_periodic(0, NonZeroU32::new(5).unwrap()));
        drop(timer);
        assert!(session.timer(raw).is_none(), "freed");
        assert_eq!(
            session.take_calls(),
            [
                "allocate", "set", "set", "fire", "cancel", "set", "cancel", "free"
            ]
        );
    }

    #[test]
    fn periodic_timers_stay_set_after_firing() {
        let session = KernelSession::new();
        let fired = AtomicU32::new(0);
        let context = (&raw const fired).cast_mut().cast::<c_void>();
        // SAFETY: `fired` outlives the timer.
        let timer = unsafe { Timer::allocate(owner(), 1, count, context) }.unwrap();
        timer.set_periodic(500, NonZeroU32::new(10).unwrap());
        for _ in 0..3 {
            // SAFETY: the context is `fired`, alive.
            unsafe { session.fire(timer.as_raw()) };
        }
        assert_eq!(fired.load(Ordering::Relaxed), 3);
        let t = session.timer(timer.as_raw()).unwrap();
        assert_eq!((t.due, t.period_ms, t.set), (-5, 10, true));
        assert!(timer.cancel());
    }

    #[test]
    fn allocation_failure_is_the_status() {
        let session = KernelSession::new();
        session.fail_timer_allocation(super::super::consts::NDIS_STATUS_RESOURCES);
        // SAFETY: nothing is allocated.
        let r = unsafe { Timer::allocate(owner(), 1, count, core::ptr::null_mut()) };
        assert_eq!(r.unwrap_err(), super::super::consts::NDIS_STATUS_RESOURCES);
        assert_eq!(mock_kernel::live_timers(), 0);
    }
}
