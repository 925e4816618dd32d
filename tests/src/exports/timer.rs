//! NDIS timer objects: `NdisAllocateTimerObject`, `NdisSetTimerObject`, `NdisCancelTimerObject`,
//! `NdisFreeTimerObject`. They fire on the virtual clock (`machine::timer::fire`).
#![allow(non_snake_case)]

use super::checks;
use crate::abi::Abi;
use crate::kernel_sync::{TimerObj, TimerSetting, delay_of};
use crate::rules::{Rule, Subject};
use crate::world::{self, Event, HandleKind, Token, World};
use core::ffi::c_void;
use mpfilter::ndis::consts::{
    NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS, NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
    NDIS_STATUS_FAILURE, NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_SUCCESS,
};
use mpfilter::ndis::types::{BOOLEAN, NDIS_HANDLE, NDIS_STATUS, NDIS_TIMER_CHARACTERISTICS};

/// `NdisAllocateTimerObject`.
///
/// # Safety
/// `c` is null or readable; `out` is null or writable.
pub unsafe fn allocate(
    abi: Abi,
    h: NDIS_HANDLE,
    c: *mut NDIS_TIMER_CHARACTERISTICS,
    out: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    const CALL: &str = "NdisAllocateTimerObject";
    if c.is_null() || out.is_null() {
        world::with(|w| {
            w.violate(
                Rule::TimerCharacteristics,
                Subject::Handle(h as usize),
                CALL,
                "NULL characteristics or NULL out handle",
            );
        });
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: non-null characteristics are readable (contract); plain data, Copy.
    let ch = unsafe { *c };
    let r = world::with(|w| {
        if !checks::driver_or_module(w, CALL, h as usize) {
            return Err(NDIS_STATUS_INVALID_PARAMETER);
        }
        let hd = ch.Header;
        let problem = if hd.Type != NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS {
            Some(format!("header type {:#x}, expected 0x97", hd.Type))
        } else if hd.Revision < 1 || hd.Size < NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1 {
            Some(format!(
                "revision {} size {}, expected revision 1 with size >= 24",
                hd.Revision, hd.Size
            ))
        } else if ch.TimerFunction.is_none() {
            Some("no TimerFunction".to_string())
        } else {
            None
        };
        if let Some(p) = problem {
            w.violate(
                Rule::TimerCharacteristics,
                Subject::Handle(h as usize),
                CALL,
                p,
            );
            return Err(NDIS_STATUS_INVALID_PARAMETER);
        }
        let callback = ch
            .TimerFunction
            .map_or(0, |f| (f as *const ()).expose_provenance());
        let adapter = match w.handles.get(&(h as usize)) {
            Some(HandleKind::Module(a)) => Some(*a),
            _ => None,
        };
        let token = Token::new();
        let handle = token.addr();
        w.kernel.timers.insert(
            handle,
            TimerObj {
                _token: token,
                owner: h as usize,
                adapter,
                abi,
                callback,
                context: ch.FunctionContext.expose_provenance(),
                set: None,
                generations: 0,
            },
        );
        Ok(handle)
    });
    match r {
        Some(Ok(handle)) => {
            let p = w_handle_ptr(handle);
            // SAFETY: non-null out slot, writable (contract).
            unsafe { out.write(p) };
            NDIS_STATUS_SUCCESS
        }
        Some(Err(s)) => s,
        None => NDIS_STATUS_FAILURE,
    }
}

/// The handle the driver gets: the token's address with its provenance exposed (the driver only
/// hands it back).
fn w_handle_ptr(handle: usize) -> NDIS_HANDLE {
    core::ptr::with_exposed_provenance_mut(handle)
}

/// The timer behind `t`, or `handle.invalid`.
fn live<'w>(w: &'w mut World, call: &'static str, t: usize) -> Option<&'w mut TimerObj> {
    if !w.kernel.timers.contains_key(&t) {
        w.violate(
            Rule::HandleInvalid,
            Subject::Handle(t),
            call,
            "not a live timer object (never allocated, or freed)",
        );
        return None;
    }
    w.kernel.timers.get_mut(&t)
}

/// `NdisSetTimerObject`: (re)arms the timer; TRUE if it was set.
///
/// # Safety
/// None beyond the C contract: the handle is looked up, never dereferenced.
pub unsafe fn set(
    _abi: Abi,
    t: NDIS_HANDLE,
    due: i64,
    period_ms: u32,
    ctx: *mut c_void,
) -> BOOLEAN {
    const CALL: &str = "NdisSetTimerObject";
    let t = t as usize;
    world::with(|w| {
        let now = w.now();
        let Some(timer) = live(w, CALL, t) else {
            return 0;
        };
        let was = timer.set.is_some();
        timer.generations += 1;
        let generation = timer.generations;
        timer.set = Some(TimerSetting {
            generation,
            period: u64::from(period_ms) * 1_000_000,
            context: ctx.expose_provenance(),
        });
        w.kernel.queued_firings += 1;
        w.sched.after(
            delay_of(due, now),
            Event::Timer {
                handle: t,
                generation,
            },
        );
        u8::from(was)
    })
    .unwrap_or(0)
}

/// `NdisCancelTimerObject`: TRUE if the timer was set. A periodic timer only at PASSIVE_LEVEL.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn cancel(_abi: Abi, t: NDIS_HANDLE) -> BOOLEAN {
    const CALL: &str = "NdisCancelTimerObject";
    let t = t as usize;
    world::with(|w| {
        let dispatch = w.irql.is_dispatch();
        let timer = live(w, CALL, t)?;
        if dispatch && timer.set.is_some_and(|s| s.period > 0) {
            w.violate(
                Rule::TimerCancelPeriodicAtDispatch,
                Subject::Handle(t),
                CALL,
                "cancelling a periodic timer at DISPATCH_LEVEL (it must flush the timer's DPCs at PASSIVE_LEVEL)",
            );
            return None;
        }
        let timer = w.kernel.timers.get_mut(&t)?;
        Some(u8::from(timer.set.take().is_some()))
    })
    .flatten()
    .unwrap_or(0)
}

/// `NdisFreeTimerObject`: frees a timer that is not set.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn free(_abi: Abi, t: NDIS_HANDLE) {
    const CALL: &str = "NdisFreeTimerObject";
    let t = t as usize;
    world::with(|w| {
        let Some(timer) = live(w, CALL, t) else {
            return;
        };
        if timer.set.is_some() {
            w.violate(
                Rule::TimerFreeWhileSet,
                Subject::Handle(t),
                CALL,
                "the timer is still set: cancel it first",
            );
            return;
        }
        w.kernel.timers.remove(&t);
    });
}

crate::exports! {
    "ndis.sys" => {
        fn NdisAllocateTimerObject(h: NDIS_HANDLE, c: *mut NDIS_TIMER_CHARACTERISTICS, out: *mut NDIS_HANDLE) -> NDIS_STATUS => allocate;
        fn NdisSetTimerObject(t: NDIS_HANDLE, due: i64, period_ms: u32, ctx: *mut c_void) -> BOOLEAN => set;
        fn NdisCancelTimerObject(t: NDIS_HANDLE) -> BOOLEAN => cancel;
        fn NdisFreeTimerObject(t: NDIS_HANDLE) => free;
    }
}
