//! Status indications from the miniport (link state) up through the filter.

use super::call_filter;
use super::forward::{self, StatusSeen};
use crate::callbacks;
use crate::irql::Irql;
use crate::world::{self, World};
use core::ffi::c_void;
use mpfilter::ndis::consts::{
    MEDIA_CONNECT_STATE_CONNECTED, MEDIA_CONNECT_STATE_DISCONNECTED, NDIS_LINK_STATE_REVISION_1,
    NDIS_OBJECT_TYPE_DEFAULT, NDIS_OBJECT_TYPE_STATUS_INDICATION,
    NDIS_SIZEOF_LINK_STATE_REVISION_1, NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
    NDIS_STATUS_INDICATION_REVISION_1, NDIS_STATUS_LINK_STATE,
    NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG,
};
use mpfilter::ndis::types::{
    NDIS_LINK_STATE, NDIS_OBJECT_HEADER, NDIS_OFFLOAD, NDIS_STATUS_INDICATION,
};

/// A revision-1 link state: connected or not, full duplex, `bps` both ways.
fn link_state(bps: u64, connected: bool) -> NDIS_LINK_STATE {
    NDIS_LINK_STATE {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_LINK_STATE_REVISION_1,
            NDIS_SIZEOF_LINK_STATE_REVISION_1,
        ),
        MediaConnectState: if connected {
            MEDIA_CONNECT_STATE_CONNECTED
        } else {
            MEDIA_CONNECT_STATE_DISCONNECTED
        },
        MediaDuplexState: 2,
        XmitLinkSpeed: bps,
        RcvLinkSpeed: bps,
        PauseFunctions: 0,
        AutoNegotiationFlags: 0,
    }
}

/// The miniport indicates its link state (connected or not, current speeds) up the stack.
pub(super) fn mp_status(a: usize) {
    let ind = world::with(|w| {
        if !w.oid_state_ok(a) {
            return None;
        }
        let ls = link_state(w.adapters[a].cfg.link_speed_bps, w.adapters[a].mp.link.up);
        let mut ind = indication(w, a, NDIS_STATUS_LINK_STATE);
        ind.PortNumber = random_port(w);
        ind.StatusBufferSize = u32::from(NDIS_SIZEOF_LINK_STATE_REVISION_1);
        let s = world::Heap::new((ind, ls));
        let sp = s.ptr();
        // SAFETY: sp is the live heap pair; pointers into it derive from its raw pointer.
        let link = unsafe { &raw mut (*sp).1 };
        // The buffer is read as bytes (forward checks compare them): its padding must be
        // initialised, so it is zeroed in place and the fields written again (a move leaves
        // padding undefined).
        // SAFETY: link points at the live link state; all-zero is a valid NDIS_LINK_STATE.
        unsafe { link.write_bytes(0, 1) };
        // SAFETY: as above; a field-wise write leaves the zeroed padding alone.
        unsafe { fill_link_state(link, &ls) };
        // SAFETY: as above.
        unsafe { (*sp).0.StatusBuffer = link.cast() };
        let p = sp as usize;
        // SAFETY: the indication just built, its buffer the link state beside it.
        let seen = unsafe { StatusSeen::read(sp.cast_const().cast()) };
        w.status_store = Some(s);
        w.delivering_status = p;
        Some((p, seen))
    });
    let Some(Some((p, seen))) = ind else { return };
    world::with(|w| forward::status_raised(w, a, p, seen));
    let had_handler = deliver(a, p);
    world::with(|w| {
        w.delivering_status = 0;
        if had_handler == Some(false) {
            // No FilterStatus: NDIS passes the indication up itself.
            // SAFETY: p is still the emulator's live indication.
            let now = unsafe { StatusSeen::read(p as *const NDIS_STATUS_INDICATION) };
            forward::status_forwarded(w, a, p, &now);
        }
        forward::status_returned(w, a, p);
    });
}

/// The miniport indicates NDIS_STATUS_LINK_STATE malformed: with a NULL buffer of a claimed
/// `NDIS_SIZEOF_LINK_STATE_REVISION_1` bytes, or (`short`) with a buffer that holds a whole
/// disconnected link state but whose size claims only its first 8 bytes. Owed to the protocol
/// as it came, like any status; a reader must take nothing from it.
pub(crate) fn mp_malformed_link_status(a: usize, short: bool) {
    let ind = world::with(|w| {
        if !w.oid_state_ok(a) {
            return None;
        }
        let mut ind = indication(w, a, NDIS_STATUS_LINK_STATE);
        let bytes = if short {
            ind.StatusBufferSize = 8;
            disconnected_link_state_bytes(w.adapters[a].cfg.link_speed_bps)
        } else {
            ind.StatusBufferSize = u32::from(NDIS_SIZEOF_LINK_STATE_REVISION_1);
            Vec::new()
        };
        let s = world::Heap::new((ind, bytes));
        let sp = s.ptr();
        if short {
            // SAFETY: sp is the live heap pair; the buffer pointer derives from its raw pointer.
            let buffer = unsafe { (*sp).1.as_mut_ptr() };
            // SAFETY: as above.
            unsafe { (*sp).0.StatusBuffer = buffer.cast() };
        }
        let p = sp as usize;
        // SAFETY: the indication just built; its buffer is NULL (which the reader skips) or
        // holds more than its size.
        let seen = unsafe { StatusSeen::read(p as *const NDIS_STATUS_INDICATION) };
        w.private_status = Some(s);
        w.delivering_status = p;
        Some((p, seen))
    });
    if let Some(Some((p, seen))) = ind {
        deliver_owed(a, p, seen, |w| w.private_status = None);
    }
}

/// The bytes of a whole revision-1 `NDIS_LINK_STATE` saying disconnected (padding zero).
fn disconnected_link_state_bytes(bps: u64) -> Vec<u8> {
    // SAFETY: NDIS_LINK_STATE is plain data: all-zero is valid. Zeroed in place, so its padding
    // stays zero (a moved value's padding would not).
    let mut ls = unsafe { Box::<NDIS_LINK_STATE>::new_zeroed().assume_init() };
    // SAFETY: a live, writable link state; a field-wise write leaves the zeroed padding alone.
    unsafe { fill_link_state(&raw mut *ls, &link_state(bps, false)) };
    // SAFETY: the box holds size_of::<NDIS_LINK_STATE>() initialised bytes.
    unsafe {
        core::slice::from_raw_parts((&raw const *ls).cast::<u8>(), size_of::<NDIS_LINK_STATE>())
    }
    .to_vec()
}

/// Delivers indication `p` (as the miniport raised it: `seen`), which the protocol is owed, to
/// adapter `a`'s filter; then `release` drops the emulator's copy of it.
fn deliver_owed(a: usize, p: usize, seen: StatusSeen, release: impl FnOnce(&mut World)) {
    world::with(|w| forward::status_raised(w, a, p, seen));
    deliver(a, p);
    world::with(|w| {
        w.delivering_status = 0;
        forward::status_returned(w, a, p);
        release(w);
    });
}

/// The miniport indicates its current offload configuration
/// (NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG, an `NDIS_OFFLOAD` of its adapter's limits) up the
/// stack; owed to the protocol, as it is or narrowed by a filter (`forward::status_replaced`).
pub(crate) fn mp_offload_status(a: usize) {
    let ind = world::with(|w| {
        if !w.oid_state_ok(a) {
            return None;
        }
        let o = super::limits::offload_of(&w.adapters[a].cfg);
        let mut bytes = vec![0u8; size_of::<NDIS_OFFLOAD>()];
        // A revision-1 configuration is as long as its header says.
        bytes.truncate(usize::from(o.Header.Size));
        // SAFETY: NDIS_OFFLOAD is integers only with no padding (its one gap is a field);
        // its first `bytes.len()` bytes (at most its size) are copied.
        unsafe {
            core::ptr::copy_nonoverlapping(
                core::ptr::from_ref(&o).cast::<u8>(),
                bytes.as_mut_ptr(),
                bytes.len(),
            );
        }
        let len = w.adapters[a].cfg.offload_indication_len;
        if len > bytes.len() {
            let base = bytes.len();
            bytes.extend((base..len).map(|i| i.to_le_bytes()[0] ^ 0xA5));
            // The header's Size: a later revision's length (u16, as NDIS_OBJECT_HEADER has it).
            let size = u16::try_from(len).unwrap_or(u16::MAX);
            bytes[2..4].copy_from_slice(&size.to_le_bytes());
        }
        let mut ind = indication(w, a, NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG);
        ind.StatusBufferSize = u32::try_from(bytes.len()).unwrap_or(0);
        let s = world::Heap::new((ind, bytes));
        let sp = s.ptr();
        // SAFETY: sp is the live heap pair; the buffer pointer derives from its raw pointer.
        let buffer = unsafe { (*sp).1.as_mut_ptr() };
        // SAFETY: as above.
        unsafe { (*sp).0.StatusBuffer = buffer.cast() };
        let p = sp as usize;
        // SAFETY: the indication just built, its buffer beside it.
        let seen = unsafe { StatusSeen::read(sp.cast_const().cast()) };
        w.offload_status = Some(s);
        w.delivering_status = p;
        Some((p, seen))
    });
    if let Some(Some((p, seen))) = ind {
        deliver_owed(a, p, seen, |w| w.offload_status = None);
    }
}

/// Writes `v`'s fields into `*dst` one by one (never its padding).
///
/// # Safety
/// `dst` is a live, writable NDIS_LINK_STATE.
unsafe fn fill_link_state(dst: *mut NDIS_LINK_STATE, v: &NDIS_LINK_STATE) {
    // SAFETY: forwarded contract.
    let d = unsafe { &mut *dst };
    d.Header = v.Header;
    d.MediaConnectState = v.MediaConnectState;
    d.MediaDuplexState = v.MediaDuplexState;
    d.XmitLinkSpeed = v.XmitLinkSpeed;
    d.RcvLinkSpeed = v.RcvLinkSpeed;
    d.PauseFunctions = v.PauseFunctions;
    d.AutoNegotiationFlags = v.AutoNegotiationFlags;
}

/// A port number for traffic, a status indication or a PnP event: mostly non-zero ports, the
/// default port 0 sometimes.
pub(crate) fn random_port(w: &mut crate::world::World) -> u32 {
    u32::try_from(w.rng.range(0, 7)).unwrap_or(0)
}

/// The miniport raises a private status indication ([`mpshim::contract::STATUS_CODE`] with
/// `bytes` as its buffer). Unlike link state it is not owed to the protocol: a filter that
/// understands it may take it.
pub(crate) fn mp_private_status(a: usize, bytes: Vec<u8>) {
    let ind = world::with(|w| {
        if !w.oid_state_ok(a) {
            return None;
        }
        let mut ind = indication(w, a, mpshim::contract::STATUS_CODE);
        ind.StatusBufferSize = u32::try_from(bytes.len()).unwrap_or(0);
        let s = world::Heap::new((ind, bytes));
        let sp = s.ptr();
        // SAFETY: sp is the live heap pair; the buffer pointer derives from its raw pointer.
        let buffer = unsafe { (*sp).1.as_mut_ptr() };
        // SAFETY: as above.
        unsafe { (*sp).0.StatusBuffer = buffer.cast() };
        w.private_status = Some(s);
        w.delivering_status = sp as usize;
        Some(sp as usize)
    });
    let Some(Some(p)) = ind else { return };
    deliver(a, p);
    world::with(|w| {
        w.delivering_status = 0;
        w.private_status = None;
    });
}

/// A status indication from adapter `a`'s miniport with `code`; buffer, size and port to fill.
fn indication(w: &World, a: usize, code: i32) -> NDIS_STATUS_INDICATION {
    // SAFETY: NDIS_STATUS_INDICATION is plain data; all-zero is valid.
    let mut ind: NDIS_STATUS_INDICATION = unsafe { core::mem::zeroed() };
    ind.Header = NDIS_OBJECT_HEADER::new(
        NDIS_OBJECT_TYPE_STATUS_INDICATION,
        NDIS_STATUS_INDICATION_REVISION_1,
        NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
    );
    ind.SourceHandle = w.adapters[a].mp.token.addr() as *mut c_void;
    ind.StatusCode = code;
    ind
}

/// Calls the filter's FilterStatus with the emulator's live indication `p`; whether it has one.
fn deliver(a: usize, p: usize) -> Option<bool> {
    call_filter(Some(a), "FilterStatus", Irql::Dispatch, |h, ctx| {
        // SAFETY: ctx is the module context; p a live indication owned by the emulator.
        unsafe { callbacks::status(h, ctx, p as *mut NDIS_STATUS_INDICATION) }
    })
}
