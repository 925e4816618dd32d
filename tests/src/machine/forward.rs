//! End-to-end forwarding: what NDIS hands a pass-through filter at one end (a status indication
//! from the miniport, a PnP event or a cancel from NDIS above) must come out at the other end as
//! it went in. Each item is recorded when it is raised and struck off when the filter passes it on;
//! whatever is still owed when the module detaches was dropped.

use crate::rules::{Rule, Subject};
use crate::world::World;
use core::ffi::c_void;
use mpfilter::ndis::types::{NDIS_STATUS, NDIS_STATUS_INDICATION, NET_PNP_EVENT_NOTIFICATION};

/// A status indication as the miniport raised it (everything a receiver reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StatusSeen {
    source: usize,
    port: u32,
    code: NDIS_STATUS,
    flags: u32,
    size: u32,
    bytes: Vec<u8>,
}

impl StatusSeen {
    /// Reads an indication.
    ///
    /// # Safety
    /// `ind` is a live indication whose buffer holds `StatusBufferSize` readable bytes.
    pub(crate) unsafe fn read(ind: *const NDIS_STATUS_INDICATION) -> Self {
        // SAFETY: forwarded contract.
        let i = unsafe { &*ind };
        // SAFETY: as above; at most the emulator's own buffer size is read.
        let bytes = unsafe { buffer_bytes(i.StatusBuffer, i.StatusBufferSize) };
        StatusSeen {
            source: i.SourceHandle as usize,
            port: i.PortNumber,
            code: i.StatusCode,
            flags: i.Flags,
            size: i.StatusBufferSize,
            bytes,
        }
    }
}

/// Which PnP path an event takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PnpKind {
    /// FilterNetPnPEvent → NdisFNetPnPEvent.
    Net,
    /// FilterDevicePnPEventNotify → NdisFDevicePnPEventNotify.
    Device,
}

/// A PnP event as NDIS issued it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PnpSeen {
    pub port: u32,
    pub code: i32,
    pub bytes: Vec<u8>,
}

/// A PnP event owed to the miniport.
pub(crate) struct PnpOwed {
    /// The event structure NDIS passed (the filter forwards that one).
    pub ptr: usize,
    pub kind: PnpKind,
    pub seen: PnpSeen,
    /// What the miniport answers a NetPnPEvent with.
    pub answer: NDIS_STATUS,
    pub forwarded: bool,
}

/// Which cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelKind {
    /// FilterCancelSendNetBufferLists → NdisFCancelSendNetBufferLists.
    Send,
    /// FilterCancelOidRequest → NdisFCancelOidRequest.
    Oid,
}

/// What a module owes the other end of its stack.
#[derive(Default)]
pub(crate) struct Owed {
    /// Status indications raised by the miniport, not yet passed up: (indication address, as
    /// raised).
    status: Vec<(usize, StatusSeen)>,
    pnp: Vec<PnpOwed>,
    cancels: Vec<(CancelKind, usize)>,
}

/// Copies up to 512 bytes of a status or PnP buffer (more than any the emulator raises: an
/// `NDIS_OFFLOAD` is 156).
///
/// # Safety
/// `buf` is null or readable for `len` bytes.
unsafe fn buffer_bytes(buf: *const c_void, len: u32) -> Vec<u8> {
    if buf.is_null() {
        return Vec::new();
    }
    let n = (len as usize).min(512);
    // SAFETY: forwarded contract; n <= len.
    unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), n) }.to_vec()
}

/// Reads a NetPnPEvent notification.
///
/// # Safety
/// `ev` is live and its buffer readable for `BufferLength` bytes.
pub(crate) unsafe fn read_net_pnp(ev: *const NET_PNP_EVENT_NOTIFICATION) -> PnpSeen {
    // SAFETY: forwarded contract.
    let e = unsafe { &*ev };
    PnpSeen {
        port: e.PortNumber,
        code: e.NetPnPEvent.NetEvent,
        // SAFETY: as above.
        bytes: unsafe { buffer_bytes(e.NetPnPEvent.Buffer, e.NetPnPEvent.BufferLength) },
    }
}

/// `NET_DEVICE_PNP_EVENT` (the filter crate keeps it opaque; NDIS owns its layout).
#[repr(C)]
pub(crate) struct DevicePnpEvent {
    pub header: mpfilter::ndis::types::NDIS_OBJECT_HEADER,
    pub port: u32,
    pub event: i32,
    pub buffer: *mut c_void,
    pub len: u32,
    pub reserved: [u8; 16],
}

/// Reads a device PnP event.
///
/// # Safety
/// `ev` is a live [`DevicePnpEvent`] whose buffer is readable for `len` bytes.
pub(crate) unsafe fn read_device_pnp(ev: *const DevicePnpEvent) -> PnpSeen {
    // SAFETY: forwarded contract.
    let e = unsafe { &*ev };
    PnpSeen {
        port: e.port,
        code: e.event,
        // SAFETY: as above.
        bytes: unsafe { buffer_bytes(e.buffer, e.len) },
    }
}

/// The miniport raised a status indication at `ptr` on adapter `a`.
pub(crate) fn status_raised(w: &mut World, a: usize, ptr: usize, seen: StatusSeen) {
    w.adapters[a].owed.status.push((ptr, seen));
}

/// The filter passed `ptr` (the indication it got in FilterStatus) up: it must be as raised.
pub(crate) fn status_forwarded(w: &mut World, a: usize, ptr: usize, now: &StatusSeen) {
    let owed = &mut w.adapters[a].owed.status;
    let Some(i) = owed.iter().position(|(p, _)| *p == ptr) else {
        return;
    };
    let (_, raised) = owed.remove(i);
    if raised != *now {
        w.violate(
            Rule::ForwardStatusAltered,
            Subject::Handle(w.module_handle(a)),
            "NdisFIndicateStatus",
            format!("the miniport raised {raised:?}, the protocol got {now:?}"),
        );
    }
}

/// The filter originated `now` while the miniport's indication at `delivering` (owed to the
/// protocol) was in its FilterStatus: if both are NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG and
/// `now` narrows the raised one — the same bytes but for LSOv2 limits that are lower, or turned
/// off — it stands for it and settles what is owed; a replacement that widens or changes
/// anything else is `forward.status-altered`. False when `now` replaces nothing.
pub(crate) fn status_replaced(
    w: &mut World,
    a: usize,
    delivering: usize,
    now: &StatusSeen,
) -> bool {
    const CODE: NDIS_STATUS = mpfilter::ndis::consts::NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG;
    if now.code != CODE || delivering == 0 {
        return false;
    }
    let owed = &mut w.adapters[a].owed.status;
    let Some(i) = owed
        .iter()
        .position(|(p, s)| *p == delivering && s.code == CODE)
    else {
        return false;
    };
    let (_, raised) = owed.remove(i);
    if !narrows(&raised, now) {
        w.violate(
            Rule::ForwardStatusAltered,
            Subject::Handle(w.module_handle(a)),
            "NdisFIndicateStatus",
            format!("the miniport raised {raised:?}, the filter passed up {now:?}, which is no narrowing of it"),
        );
    }
    true
}

/// Whether `now` is `raised` with its LSOv2 limits lowered or turned off and nothing else changed.
fn narrows(raised: &StatusSeen, now: &StatusSeen) -> bool {
    use mpfilter::ndis::types::NDIS_OFFLOAD;
    let v4 = core::mem::offset_of!(NDIS_OFFLOAD, LsoV2IPv4);
    let v6 = core::mem::offset_of!(NDIS_OFFLOAD, LsoV2IPv6);
    if (raised.port, raised.flags, raised.size) != (now.port, now.flags, now.size)
        || raised.bytes.len() != now.bytes.len()
        || raised.bytes.len() < v6 + 12
    {
        return false;
    }
    let u32_at =
        |b: &[u8], at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]));
    let lso_fields = |at: usize| at == v4 || at == v4 + 4 || at == v6 || at == v6 + 4;
    let others_equal = (0..raised.bytes.len())
        .step_by(4)
        .filter(|&at| !lso_fields(at))
        .all(|at| {
            raised.bytes[at..(at + 4).min(raised.bytes.len())]
                == now.bytes[at..(at + 4).min(now.bytes.len())]
        });
    let lowered = [v4, v6].iter().all(|&at| {
        let (enc_r, max_r) = (u32_at(&raised.bytes, at), u32_at(&raised.bytes, at + 4));
        let (enc_n, max_n) = (u32_at(&now.bytes, at), u32_at(&now.bytes, at + 4));
        (enc_n == enc_r && max_n <= max_r) || (enc_n, max_n) == (0, 0)
    });
    others_equal && lowered
}

/// FilterStatus returned: an indication it did not pass up stays owed, under an address that no
/// longer matches anything (its memory goes back to the emulator).
pub(crate) fn status_returned(w: &mut World, a: usize, ptr: usize) {
    for (p, _) in &mut w.adapters[a].owed.status {
        if *p == ptr {
            *p = 0;
        }
    }
}

/// NDIS issued a PnP event to the filter; returns nothing, the miniport's answer is recorded.
pub(crate) fn pnp_raised(w: &mut World, a: usize, owed: PnpOwed) {
    w.adapters[a].owed.pnp.push(owed);
}

/// The filter passed a PnP event down; returns the miniport's answer.
pub(crate) fn pnp_forwarded(
    w: &mut World,
    a: usize,
    kind: PnpKind,
    ptr: usize,
    now: &PnpSeen,
) -> NDIS_STATUS {
    let call = match kind {
        PnpKind::Net => "NdisFNetPnPEvent",
        PnpKind::Device => "NdisFDevicePnPEventNotify",
    };
    let ok = mpfilter::ndis::consts::NDIS_STATUS_SUCCESS;
    let Some(o) = w.adapters[a]
        .owed
        .pnp
        .iter_mut()
        .find(|o| o.ptr == ptr && o.kind == kind && !o.forwarded)
    else {
        // An event the filter originated: the miniport accepts it.
        return ok;
    };
    o.forwarded = true;
    let answer = o.answer;
    if o.seen != *now {
        let was = o.seen.clone();
        w.violate(
            Rule::ForwardPnpAltered,
            Subject::Handle(w.module_handle(a)),
            call,
            format!("NDIS issued {was:?}, the miniport got {now:?}"),
        );
    }
    answer
}

/// The filter's PnP callback returned `status` (`None` for the device path, which returns
/// nothing): the event is settled, and a NetPnPEvent's answer must be the miniport's.
pub(crate) fn pnp_returned(w: &mut World, a: usize, ptr: usize, status: Option<NDIS_STATUS>) {
    let pnp = &mut w.adapters[a].owed.pnp;
    let Some(i) = pnp.iter().position(|o| o.ptr == ptr) else {
        return;
    };
    if !pnp[i].forwarded {
        // Still owed: the event structure dies with the callback, so it stays owed for good and
        // is reported at detach; the pointer is cleared so it never matches again.
        pnp[i].ptr = 0;
        return;
    }
    let o = pnp.remove(i);
    if let Some(s) = status
        && s != o.answer
    {
        w.violate(
            Rule::ForwardPnpAltered,
            Subject::Handle(w.module_handle(a)),
            "-",
            format!(
                "FilterNetPnPEvent returned {s:#x}, the miniport answered {:#x}",
                o.answer
            ),
        );
    }
}

/// NDIS passed a cancel (send cancel id or OID request id) to the filter.
pub(crate) fn cancel_raised(w: &mut World, a: usize, kind: CancelKind, id: usize) {
    w.adapters[a].owed.cancels.push((kind, id));
}

/// The filter passed a cancel down on adapter `a`'s module.
pub(crate) fn cancel_forwarded(w: &mut World, a: usize, kind: CancelKind, id: usize) {
    let c = &mut w.adapters[a].owed.cancels;
    if let Some(i) = c.iter().position(|&(k, x)| k == kind && x == id) {
        c.remove(i);
    }
}

/// At detach: everything still owed was dropped.
pub(crate) fn owed_leaks(w: &mut World, a: usize, phase: &str) {
    let h = w.module_handle(a);
    let owed = std::mem::take(&mut w.adapters[a].owed);
    for (_, s) in owed.status {
        w.leak(
            Rule::ForwardStatusDropped,
            Subject::Handle(h),
            phase,
            format!("status indication {s:?} from the miniport never reached the protocol"),
        );
    }
    for p in owed.pnp {
        w.leak(
            Rule::ForwardPnpDropped,
            Subject::Handle(h),
            phase,
            format!(
                "{:?} PnP event {:?} never reached the miniport",
                p.kind, p.seen
            ),
        );
    }
    for (kind, id) in owed.cancels {
        w.leak(
            Rule::ForwardCancelDropped,
            Subject::Handle(h),
            phase,
            format!("{kind:?} cancel {id:#x} from above never reached the miniport"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offload(v4_max: u32, v6_max: u32) -> StatusSeen {
        let mut bytes = vec![0u8; 156];
        bytes[0] = 0xA7;
        for (at, max) in [(0x50, v4_max), (0x5C, v6_max)] {
            bytes[at..at + 4].copy_from_slice(&u32::from(max != 0).wrapping_mul(2).to_ne_bytes());
            bytes[at + 4..at + 8].copy_from_slice(&max.to_ne_bytes());
        }
        StatusSeen {
            source: 1,
            port: 0,
            code: mpfilter::ndis::consts::NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG,
            flags: 0,
            size: 156,
            bytes,
        }
    }

    #[test]
    fn a_replacement_may_lower_or_turn_off_lso_and_change_nothing_else() {
        let raised = offload(64_000, 32_000);
        assert!(narrows(&raised, &offload(16_000, 32_000)));
        assert!(narrows(&raised, &offload(0, 0)));
        assert!(narrows(&raised, &raised));
        assert!(!narrows(&raised, &offload(64_001, 32_000)), "widened");
        assert!(!narrows(&offload(0, 0), &offload(1_000, 0)), "turned on");
        let mut other = offload(16_000, 32_000);
        other.bytes[4] = 1; // a checksum offload bit
        assert!(!narrows(&raised, &other), "another field changed");
        let mut port = offload(16_000, 32_000);
        port.port = 3;
        assert!(!narrows(&raised, &port), "another port");
    }
}
