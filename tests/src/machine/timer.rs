//! Timer objects on the virtual clock: firing (at DISPATCH_LEVEL, re-arming periodic timers), the
//! idle rule for a queue that holds only firings, and the checks at detach and unload.

use crate::abi::Abi;
use crate::exports::spin_lock::check_released_on_return;
use crate::irql::Irql;
use crate::rules::{Rule, Subject};
use crate::world::{self, Event, Frame, World};
use core::ffi::c_void;

/// The callback frame name of a timer function in violation records.
const FRAME: &str = "NetTimerCallback";

/// Whether everything queued is a timer firing: nothing is left to do but tick, which counts as
/// idle (a periodic timer would otherwise keep every run busy until its budget runs out).
pub(crate) fn only_firings_queued(w: &World) -> bool {
    w.kernel.queued_firings > 0 && w.kernel.queued_firings >= w.sched.len()
}

/// `Event::Timer`: runs the callback if this firing is still the timer's current setting.
pub(super) fn fire(handle: usize, generation: u64) {
    let call = world::with(|w| {
        w.kernel.queued_firings = w.kernel.queued_firings.saturating_sub(1);
        if w.halted || w.driver.is_none() {
            return None;
        }
        let t = w.kernel.timers.get_mut(&handle)?;
        let s = t.set?;
        if s.generation != generation {
            return None;
        }
        let context = if s.context == 0 { t.context } else { s.context };
        let (abi, callback, adapter) = (t.abi, t.callback, t.adapter);
        if s.period == 0 {
            t.set = None;
        } else {
            w.kernel.queued_firings += 1;
            w.sched.after(s.period, Event::Timer { handle, generation });
        }
        w.kernel.fired += 1;
        w.frames.push(Frame::new(FRAME, adapter));
        let prev = w.irql;
        w.irql = Irql::Dispatch;
        Some((abi, callback, context, prev, w.frames.len()))
    })
    .flatten();
    let Some((abi, callback, context, prev, depth)) = call else {
        return;
    };
    // SAFETY: the address is the TimerFunction the driver registered for this timer, in the ABI
    // of the call that registered it; the context is the one the driver chose for it.
    unsafe { invoke(abi, callback, context) };
    world::with(|w| {
        check_released_on_return(w, depth);
        w.frames.pop();
        w.irql = prev;
    });
}

/// Calls an `NDIS_TIMER_FUNCTION` the way NDIS does: (SystemSpecific1, FunctionContext,
/// SystemSpecific2, SystemSpecific3), the system arguments NULL.
///
/// # Safety
/// `callback` is a timer function of `abi` (its provenance exposed) and `context` is what the
/// driver asked to be passed to it.
unsafe fn invoke(abi: Abi, callback: usize, context: usize) {
    let f = core::ptr::with_exposed_provenance::<()>(callback);
    let ctx = core::ptr::with_exposed_provenance_mut::<c_void>(context);
    let null = core::ptr::null_mut::<c_void>();
    match abi {
        Abi::Host => {
            // SAFETY: a host-ABI timer function (contract).
            let f = unsafe {
                core::mem::transmute::<
                    *const (),
                    unsafe extern "system" fn(*mut c_void, *mut c_void, *mut c_void, *mut c_void),
                >(f)
            };
            // SAFETY: calling it with the arguments NDIS passes.
            unsafe { f(null, ctx, null, null) }
        }
        Abi::Win64 => {
            // SAFETY: a PE image's win64 timer function (contract).
            let f = unsafe {
                core::mem::transmute::<
                    *const (),
                    unsafe extern "win64" fn(*mut c_void, *mut c_void, *mut c_void, *mut c_void),
                >(f)
            };
            // SAFETY: calling it with the arguments NDIS passes.
            unsafe { f(null, ctx, null, null) }
        }
    }
}

/// After FilterDetach (`owner` = the module handle) or unload (`owner` = None: every timer): a
/// timer still set could call into what is gone (`timer.set-at-detach`); one not freed leaks.
pub(crate) fn timer_leaks(w: &mut World, owner: Option<usize>, phase: &str) {
    let mut left: Vec<(usize, bool)> = w
        .kernel
        .timers
        .iter()
        .filter(|(_, t)| owner.is_none_or(|o| t.owner == o))
        .map(|(&h, t)| (h, t.set.is_some()))
        .collect();
    left.sort_unstable();
    if let Some(&(h, _)) = left.iter().find(|(_, set)| *set) {
        w.violate(
            Rule::TimerSetAtDetach,
            Subject::Handle(h),
            "-",
            format!("timer still set at {phase}: its callback would run after its owner is gone"),
        );
        return;
    }
    super::leaks::leak_each(
        w,
        Rule::LeakTimer,
        left.into_iter().map(|(h, _)| Subject::Handle(h)),
        phase,
        "timer object not freed with NdisFreeTimerObject",
    );
}
