//! OID requests: NdisFOidRequest, NdisFOidRequestComplete, NdisFCancelOidRequest,
//! NdisAllocateCloneOidRequest, NdisFreeCloneOidRequest.

use super::checks;
use crate::abi::Abi;
use crate::machine;
use crate::rules::{Rule, Subject};
use crate::world::{self, Event, OidClone, OidStore, OrigState};
use core::ffi::c_void;
use mpfilter::ndis::consts::{
    NDIS_STATUS_FAILURE, NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_REQUEST_ABORTED,
    NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS,
};
use mpfilter::ndis::types::{NDIS_HANDLE, NDIS_OID_REQUEST, NDIS_STATUS};

/// `NdisFOidRequest`: the miniport answers at once or pends.
///
/// # Safety
/// `req` is null or a live request the caller keeps until completion.
pub unsafe fn oid_request(_abi: Abi, h: NDIS_HANDLE, req: *mut NDIS_OID_REQUEST) -> NDIS_STATUS {
    const CALL: &str = "NdisFOidRequest";
    if req.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    let r = req as usize;
    world::with(|w| {
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return NDIS_STATUS_FAILURE;
        };
        if !w.oid_state_ok(a) {
            let s = w.adapters[a].module.state;
            w.violate(
                Rule::OidBadState,
                Subject::Request(r),
                CALL,
                format!("module is {s:?}"),
            );
            return NDIS_STATUS_FAILURE;
        }
        if w.orig_oids
            .get(&r)
            .is_some_and(|o| matches!(o.state, OrigState::InFilter | OrigState::Pending))
        {
            w.violate(
                Rule::OidOriginalForwarded,
                Subject::Request(r),
                CALL,
                "the request from above was passed down instead of a clone",
            );
            return NDIS_STATUS_FAILURE;
        }
        if w.oid_below.contains_key(&r) {
            w.violate(
                Rule::OidOriginalForwarded,
                Subject::Request(r),
                CALL,
                "the request is already pending below",
            );
            return NDIS_STATUS_FAILURE;
        }
        machine::mp_oid(w, a, r)
    })
    .unwrap_or(NDIS_STATUS_FAILURE)
}

/// `NdisFOidRequestComplete`.
///
/// # Safety
/// None beyond the C contract: only emulator-owned requests are written.
pub unsafe fn oid_complete(
    _abi: Abi,
    h: NDIS_HANDLE,
    req: *mut NDIS_OID_REQUEST,
    status: NDIS_STATUS,
) {
    const CALL: &str = "NdisFOidRequestComplete";
    let r = req as usize;
    world::with(|w| {
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return;
        };
        if w.oid_clones.contains_key(&r) || w.oid_below.contains_key(&r) {
            w.violate(
                Rule::OidCompleteOwnRequest,
                Subject::Request(r),
                CALL,
                "a request the filter issued (or its clone) completed upward",
            );
            return;
        }
        let Some(o) = w.orig_oids.get_mut(&r) else {
            w.violate(
                Rule::OidCompleteNotPending,
                Subject::Request(r),
                CALL,
                "not a request from above that is pending at the filter",
            );
            return;
        };
        if o.adapter != a {
            let was = o.adapter;
            w.violate(
                Rule::OidCompleteWrongModule,
                Subject::Request(r),
                CALL,
                format!("issued to adapter {was}'s module, completed on adapter {a}'s"),
            );
            return;
        }
        match o.state {
            OrigState::InFilter | OrigState::Pending => {
                o.state = OrigState::Done;
                machine::proto_oid_done(w, a, r, status, false);
            }
            OrigState::DoneSync => w.violate(
                Rule::OidCompleteNotPending,
                Subject::Request(r),
                CALL,
                "FilterOidRequest already returned a final status for it",
            ),
            OrigState::Done => w.violate(
                Rule::OidCompleteTwice,
                Subject::Request(r),
                CALL,
                "completed a second time",
            ),
        }
    });
}

/// `NdisFCancelOidRequest`: pending requests below with this id complete with REQUEST_ABORTED.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn cancel_oid(_abi: Abi, h: NDIS_HANDLE, id: *mut c_void) {
    const CALL: &str = "NdisFCancelOidRequest";
    world::with(|w| {
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return;
        };
        machine::forward::cancel_forwarded(w, a, machine::forward::CancelKind::Oid, id as usize);
        let hits: Vec<usize> = w
            .oid_below
            .iter()
            .filter(|&(&r, b)| {
                // SAFETY: requests below are live until their completion.
                b.adapter == a && unsafe { (*(r as *const NDIS_OID_REQUEST)).RequestId } == id
            })
            .map(|(&r, _)| r)
            .collect();
        for r in hits {
            w.oid_gen += 1;
            let generation = w.oid_gen;
            if let Some(b) = w.oid_below.get_mut(&r) {
                b.generation = generation;
            }
            w.sched.after(
                1,
                Event::OidComplete {
                    adapter: a,
                    req: r,
                    generation,
                    status: NDIS_STATUS_REQUEST_ABORTED,
                },
            );
        }
    });
}

/// `NdisAllocateCloneOidRequest`.
///
/// # Safety
/// `orig` is null or readable; `out` null or writable.
pub unsafe fn alloc_clone(
    _abi: Abi,
    h: NDIS_HANDLE,
    orig: *mut NDIS_OID_REQUEST,
    _tag: u32,
    out: *mut *mut NDIS_OID_REQUEST,
) -> NDIS_STATUS {
    const CALL: &str = "NdisAllocateCloneOidRequest";
    // What a refused allocation leaves in the out parameter: not NULL, never to be used.
    const POISON: usize = 0xDEAD_0000;
    if orig.is_null() || out.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    let refused = world::with(|w| {
        let pct = w.cfg.random.oid_clone_fail_percent;
        if pct == 0 || !w.rng.chance(pct) {
            return None;
        }
        let status = if w.rng.chance(50) {
            NDIS_STATUS_RESOURCES
        } else {
            NDIS_STATUS_FAILURE
        };
        if let Some(o) = w.orig_oids.get_mut(&(orig as usize)) {
            o.clone_refused = Some(status);
        }
        Some(status)
    });
    if let Some(Some(status)) = refused {
        // SAFETY: out is non-null and writable per the contract.
        unsafe { *out = core::ptr::without_provenance_mut(POISON) };
        return status;
    }
    let p = world::with(|w| {
        checks::module(w, CALL, h as usize)?;
        // SAFETY: NDIS_OID_REQUEST is plain data; all-zero is valid.
        let zeroed: NDIS_OID_REQUEST = unsafe { core::mem::zeroed() };
        let mut c = Box::new(OidStore {
            req: zeroed,
            buf: [0; crate::world::OID_STORE_BUFFER],
        });
        // SAFETY: orig is readable per the contract; both are NDIS_OID_REQUEST.
        unsafe { core::ptr::copy_nonoverlapping(orig.cast_const(), &raw mut c.req, 1) };
        c.req.NdisReserved = [core::ptr::null_mut(); 16];
        c.req.MiniportReserved = [core::ptr::null_mut(); 2];
        c.req.SourceReserved = [core::ptr::null_mut(); 2];
        c.req.RequestHandle = h;
        let p = Box::into_raw(c);
        w.oid_clones.insert(
            p as usize,
            OidClone {
                owner: h as usize,
                orig: orig as usize,
            },
        );
        Some(p)
    })
    .flatten();
    let Some(p) = p else {
        return NDIS_STATUS_FAILURE;
    };
    // SAFETY: out is non-null and writable per the contract; OidStore starts with the request.
    unsafe { *out = p.cast() };
    NDIS_STATUS_SUCCESS
}

/// `NdisFreeCloneOidRequest`.
///
/// # Safety
/// None beyond the C contract: only live clones are freed.
pub unsafe fn free_clone(_abi: Abi, h: NDIS_HANDLE, req: *mut NDIS_OID_REQUEST) {
    const CALL: &str = "NdisFreeCloneOidRequest";
    let r = req as usize;
    world::with(|w| {
        let why = match w.oid_clones.get(&r) {
            None => Some("not a live clone from NdisAllocateCloneOidRequest"),
            Some(_) if w.oid_below.contains_key(&r) => Some("the clone is still pending below"),
            Some(c) if c.owner != h as usize => {
                Some("freed on a different handle than it was allocated on")
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            w.violate(Rule::OidCloneFreeInvalid, Subject::Request(r), CALL, why);
            return;
        }
        w.oid_clones.remove(&r);
        // SAFETY: r was leaked from a Box<OidStore> by alloc_clone and is freed once, here.
        drop(unsafe { Box::from_raw(r as *mut OidStore) });
    });
}
