//! OIDs: the protocol's requests down through the filter (and their cancels), the miniport's
//! answers (now or pended), and the check that the protocol got the answer it deserved.

use super::{call_filter, pick_irql};
use crate::callbacks;
use crate::irql::Irql;
use crate::rules::{Rule, Subject};
use crate::world::{self, Event, OidAnswer, OidStore, OrigOid, OrigState, World};
use core::ffi::c_void;
use mpfilter::ndis::consts::{
    NDIS_OBJECT_TYPE_OID_REQUEST, NDIS_OID_REQUEST_REVISION_1, NDIS_REQUEST_QUERY_INFORMATION,
    NDIS_REQUEST_SET_INFORMATION, NDIS_SIZEOF_OID_REQUEST_REVISION_1, NDIS_STATUS_BUFFER_TOO_SHORT,
    NDIS_STATUS_NOT_SUPPORTED, NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS, OID_802_3_CURRENT_ADDRESS,
    OID_802_3_MULTICAST_LIST, OID_GEN_CURRENT_PACKET_FILTER, OID_GEN_LINK_SPEED,
    OID_GEN_MAXIMUM_FRAME_SIZE,
};
use mpfilter::ndis::types::{NDIS_OBJECT_HEADER, NDIS_OID_REQUEST, NDIS_STATUS};

/// `NDIS_STATUS_INVALID_LENGTH`.
const NDIS_STATUS_INVALID_LENGTH: NDIS_STATUS = 0xC001_0014_u32.cast_signed();
/// An OID number no miniport supports, to exercise failure completions.
const OID_UNSUPPORTED: u32 = 0xFF00_0F01;

/// A fresh OID request of a random kind, as the protocol issues it.
fn new_protocol_oid(w: &mut World, a: usize) -> Box<OidStore> {
    // SAFETY: NDIS_OID_REQUEST is plain data; all-zero is valid.
    let zeroed: NDIS_OID_REQUEST = unsafe { core::mem::zeroed() };
    let mut store = Box::new(OidStore {
        req: zeroed,
        buf: [0; crate::world::OID_STORE_BUFFER],
    });
    let first_filter = w.adapters[a].proto.filter_pending;
    // With a fabric the protocol also reads its packet filter back (kind 6); without one the
    // draws are as they always were.
    let kinds = if w.fabric.is_some() { 6 } else { 5 };
    let kind = if first_filter.is_some() {
        2
    } else if w.adapters[a].proto.multicast_pending.is_some() {
        7
    } else {
        w.rng.range(0, kinds)
    };
    let (rt, oid, len) = match kind {
        0 => (NDIS_REQUEST_QUERY_INFORMATION, OID_GEN_LINK_SPEED, 4),
        1 => (NDIS_REQUEST_QUERY_INFORMATION, OID_802_3_CURRENT_ADDRESS, 6),
        2 => (
            NDIS_REQUEST_SET_INFORMATION,
            OID_GEN_CURRENT_PACKET_FILTER,
            4,
        ),
        3 => (
            NDIS_REQUEST_QUERY_INFORMATION,
            OID_GEN_MAXIMUM_FRAME_SIZE,
            4,
        ),
        4 => (NDIS_REQUEST_QUERY_INFORMATION, OID_802_3_CURRENT_ADDRESS, 2),
        6 => (
            NDIS_REQUEST_QUERY_INFORMATION,
            OID_GEN_CURRENT_PACKET_FILTER,
            4,
        ),
        7 => {
            let list = w.adapters[a]
                .proto
                .multicast_pending
                .as_deref()
                .unwrap_or(&[]);
            assert!(
                list.len() <= crate::config::MAX_PROTOCOL_MULTICAST,
                "a protocol's multicast list holds at most {} addresses",
                crate::config::MAX_PROTOCOL_MULTICAST
            );
            for (slot, mac) in store.buf.chunks_exact_mut(6).zip(list) {
                slot.copy_from_slice(mac);
            }
            // At most 40 addresses (asserted).
            #[allow(clippy::cast_possible_truncation)]
            let len = (6 * list.len()) as u32;
            (NDIS_REQUEST_SET_INFORMATION, OID_802_3_MULTICAST_LIST, len)
        }
        _ => (NDIS_REQUEST_QUERY_INFORMATION, OID_UNSUPPORTED, 4),
    };
    if oid == OID_GEN_CURRENT_PACKET_FILTER && rt == NDIS_REQUEST_SET_INFORMATION {
        // The protocol sets its own filter again (the default one when it has none).
        let value = first_filter
            .or(w.adapters[a].traffic.packet_filter)
            .unwrap_or(0x0000_000B);
        store.buf[..4].copy_from_slice(&value.to_le_bytes());
        w.adapters[a].proto.filter_setting = Some(value);
    }
    let buf = store.buf.as_mut_ptr().cast::<c_void>();
    let r = &mut store.req;
    r.Header = NDIS_OBJECT_HEADER::new(
        NDIS_OBJECT_TYPE_OID_REQUEST,
        NDIS_OID_REQUEST_REVISION_1,
        NDIS_SIZEOF_OID_REQUEST_REVISION_1,
    );
    r.RequestType = rt;
    r.RequestId = (0x1000 + w.adapters[a].stats.oids_issued) as *mut c_void;
    r.RequestHandle = w.adapters[a].proto.token.addr() as *mut c_void;
    // Writing a union field is safe; the set view shares these leading fields.
    r.DATA.QUERY_INFORMATION.Oid = oid;
    r.DATA.QUERY_INFORMATION.InformationBuffer = buf;
    r.DATA.QUERY_INFORMATION.InformationBufferLength = len;
    store
}

pub(super) fn proto_issue_oid(a: usize) {
    let req = world::with(|w| {
        let ad = &w.adapters[a];
        if ad.proto.oid_busy || ad.proto.oids_to_issue == 0 {
            return None;
        }
        if !w.oid_state_ok(a) {
            w.sched.after(10_000, Event::ProtoOidTick(a));
            return None;
        }
        while w.done_oids.len() > 8 {
            if let Some(old) = w.done_oids.pop_front() {
                w.orig_oids.remove(&old);
            }
        }
        let store = world::Heap::new(*new_protocol_oid(w, a));
        let p = store.ptr() as usize;
        // The information buffer pointer must derive from the final home too.
        let sp = store.ptr();
        // SAFETY: sp is the live request store; the pointer stays within it.
        let buf = unsafe { &raw mut (*sp).buf };
        // SAFETY: as above; nothing else references the new request yet.
        let req = unsafe { &mut (*sp).req };
        req.DATA.QUERY_INFORMATION.InformationBuffer = buf.cast();
        w.orig_oids.insert(
            p,
            OrigOid {
                req: store,
                adapter: a,
                state: OrigState::InFilter,
                cancelled: false,
                clone_refused: None,
                answer: None,
            },
        );
        let ad = &mut w.adapters[a];
        ad.proto.oid_busy = true;
        ad.proto.oids_to_issue -= 1;
        ad.stats.oids_issued += 1;
        Some(p)
    });
    let Some(Some(req)) = req else { return };
    let status = call_filter(Some(a), "FilterOidRequest", Irql::Passive, |h, ctx| {
        // SAFETY: ctx is the module context; req a live request owned by the emulator.
        unsafe { callbacks::oid_request(h, ctx, req as *mut NDIS_OID_REQUEST) }
    })
    .flatten();
    world::with(|w| {
        let Some(o) = w.orig_oids.get_mut(&req) else {
            return;
        };
        match (status, o.state) {
            (Some(NDIS_STATUS_PENDING), OrigState::InFilter) => {
                o.state = OrigState::Pending;
                if w.rng.chance(w.cfg.random.oid_cancel_percent) {
                    let d = w.rng.range(100, 5_000);
                    w.sched.after(d, Event::ProtoOidCancel(a, req));
                }
            }
            (Some(NDIS_STATUS_PENDING), _) => {}
            (Some(s), OrigState::InFilter) => {
                o.state = OrigState::DoneSync;
                proto_oid_done(w, a, req, s, true);
            }
            (Some(_), _) => w.violate(
                Rule::OidCompleteNotPending,
                Subject::Request(req),
                "-",
                "FilterOidRequest called NdisFOidRequestComplete and then returned a status other than PENDING",
            ),
            (None, _) => {
                o.state = OrigState::DoneSync;
                proto_oid_done(w, a, req, NDIS_STATUS_NOT_SUPPORTED, true);
            }
        }
    });
}

/// Whether the protocol got the answer its OID deserved (the miniport's answer, carried back
/// through the filter's clone).
fn oid_answer_ok(w: &World, a: usize, req: usize, status: NDIS_STATUS) -> bool {
    let Some(o) = w.orig_oids.get(&req) else {
        return false;
    };
    // SAFETY: reading the query view of our own request (plain integers and a pointer).
    let st = o.req.get();
    // SAFETY: reading the query view of our own request (plain integers and a pointer).
    let q = unsafe { st.req.DATA.QUERY_INFORMATION };
    if o.cancelled && status == mpfilter::ndis::consts::NDIS_STATUS_REQUEST_ABORTED {
        return true;
    }
    if let Some(refused) = o.clone_refused {
        return status == refused;
    }
    let cfg = &w.adapters[a].cfg;
    let word = u32::from_le_bytes([st.buf[0], st.buf[1], st.buf[2], st.buf[3]]);
    match q.Oid {
        OID_802_3_CURRENT_ADDRESS if q.InformationBufferLength < 6 => {
            status == NDIS_STATUS_BUFFER_TOO_SHORT && q.BytesNeeded == 6
        }
        OID_802_3_CURRENT_ADDRESS => {
            status == NDIS_STATUS_SUCCESS && q.BytesWritten == 6 && st.buf[..6] == cfg.mac
        }
        OID_GEN_LINK_SPEED => {
            status == NDIS_STATUS_SUCCESS
                && q.BytesWritten == 4
                && std::iter::once(&cfg.link_speed_bps)
                    .chain(&w.adapters[a].mp.link.past_speeds)
                    .any(|&bps| u64::from(word) == bps / 100)
        }
        OID_GEN_MAXIMUM_FRAME_SIZE => {
            status == NDIS_STATUS_SUCCESS && q.BytesWritten == 4 && word == 1500
        }
        OID_GEN_CURRENT_PACKET_FILTER => status == NDIS_STATUS_SUCCESS && q.BytesWritten == 4,
        // A set: BytesRead shares BytesWritten's place.
        OID_802_3_MULTICAST_LIST => {
            status == NDIS_STATUS_SUCCESS && q.BytesWritten == q.InformationBufferLength
        }
        _ => status == NDIS_STATUS_NOT_SUPPORTED,
    }
}

/// The protocol's packet filter request `req` finished with `status`: a set that succeeded is
/// the protocol's filter from now on; with a fabric, a query must read back exactly that
/// (`oid.packet-filter-altered`). False if the rule is broken.
fn packet_filter_seen(w: &mut World, a: usize, req: usize, status: NDIS_STATUS) -> bool {
    let Some(orig) = w.orig_oids.get(&req) else {
        return true;
    };
    let store = orig.req.get();
    // SAFETY: reading the query view of our own request (plain integers and a pointer).
    let query = unsafe { store.req.DATA.QUERY_INFORMATION };
    if query.Oid != OID_GEN_CURRENT_PACKET_FILTER || status != NDIS_STATUS_SUCCESS {
        return true;
    }
    let word = u32::from_le_bytes([store.buf[0], store.buf[1], store.buf[2], store.buf[3]]);
    let proto = &mut w.adapters[a].proto;
    if store.req.RequestType == NDIS_REQUEST_SET_INFORMATION {
        proto.filter_set = proto.filter_setting.take();
        return true;
    }
    match proto.filter_set {
        Some(set) if w.fabric.is_some() && set != word => {
            w.violate(
                Rule::OidPacketFilterAltered,
                Subject::Request(req),
                "-",
                format!("the protocol set packet filter {set:#x} and read back {word:#x}"),
            );
            false
        }
        _ => true,
    }
}

/// The result fields of a request (the query view; the set view's BytesRead is BytesWritten's
/// slot).
fn answer_of(r: &NDIS_OID_REQUEST, status: NDIS_STATUS) -> OidAnswer {
    // SAFETY: reading the query view's plain integers (shared with the set view).
    let q = unsafe { r.DATA.QUERY_INFORMATION };
    OidAnswer {
        status,
        bytes_done: q.BytesWritten,
        bytes_needed: q.BytesNeeded,
        supported_revision: r.SupportedRevision,
    }
}

/// The miniport finished `req` with `status`: if `req` is a filter's clone, what it answered is
/// what the original from above must end up with.
pub(crate) fn record_answer(w: &mut World, req: usize, status: NDIS_STATUS) {
    let Some(orig) = w.oid_clones.get(&req).map(|c| c.orig) else {
        return;
    };
    // SAFETY: the clone is live (it is in the clone table) and the miniport just answered it.
    let ans = answer_of(unsafe { &*(req as *const NDIS_OID_REQUEST) }, status);
    if let Some(o) = w.orig_oids.get_mut(&orig) {
        o.answer = Some(ans);
    }
}

/// `oid.answer-altered`: the original must carry exactly what the miniport answered its clone.
fn answer_carried(w: &mut World, req: usize, status: NDIS_STATUS, call: &'static str) -> bool {
    let Some(o) = w.orig_oids.get(&req) else {
        return true;
    };
    let Some(want) = o.answer else {
        return true;
    };
    let got = answer_of(&o.req.get().req, status);
    if got == want {
        return true;
    }
    w.violate(
        Rule::OidAnswerAltered,
        Subject::Request(req),
        call,
        format!("the miniport answered {want:?}, the protocol got {got:?}"),
    );
    false
}

/// The protocol's OID finished (synchronously or through NdisFOidRequestComplete).
pub(crate) fn proto_oid_done(w: &mut World, a: usize, req: usize, status: NDIS_STATUS, sync: bool) {
    let call = if sync { "-" } else { "NdisFOidRequestComplete" };
    if !answer_carried(w, req, status, call) {
        return;
    }
    if !oid_answer_ok(w, a, req, status) {
        w.adapters[a].stats.oids_bad_answer += 1;
    }
    if !packet_filter_seen(w, a, req, status) {
        return;
    }
    // OIDs go one at a time: the first to complete is the packet filter the protocol sets
    // before it sends, the next its multicast list if it sets one.
    if w.adapters[a].proto.filter_pending.take().is_none() {
        w.adapters[a].proto.multicast_pending = None;
    }
    let st = &mut w.adapters[a].stats;
    if sync {
        st.oids_completed_sync += 1;
    } else {
        st.oids_completed_pending += 1;
    }
    if status != NDIS_STATUS_SUCCESS {
        st.oids_failed += 1;
    }
    w.adapters[a].proto.oid_busy = false;
    w.done_oids.push_back(req);
    if w.adapters[a].proto.oids_to_issue > 0 {
        let d = w.rng.range(100, 3_000);
        w.sched.after(d, Event::ProtoOidTick(a));
    }
}

/// The miniport takes an OID request: answers now, or pends it.
pub(crate) fn mp_oid(w: &mut World, a: usize, req: usize) -> NDIS_STATUS {
    if w.rng.chance(w.cfg.random.oid_pending_percent) {
        w.oid_gen += 1;
        let generation = w.oid_gen;
        w.oid_below.insert(
            req,
            world::OidBelow {
                adapter: a,
                generation,
            },
        );
        w.adapters[a].stats.mp_oids_pending += 1;
        let d = w.rng.range(1_000, 50_000);
        w.sched.after(
            d,
            Event::OidComplete {
                adapter: a,
                req,
                generation,
                status: NDIS_STATUS_SUCCESS,
            },
        );
        NDIS_STATUS_PENDING
    } else {
        w.adapters[a].stats.mp_oids_sync += 1;
        let s = mp_oid_answer(w, a, req);
        record_answer(w, req, s);
        s
    }
}

/// Carries out an OID on the request's buffer.
fn mp_oid_answer(w: &mut World, a: usize, req: usize) -> NDIS_STATUS {
    // A miniport that links mpshim lets mpshim's edge serve the shim's OID from its monitor.
    let now = w.now();
    if let Some(m) = w.adapters[a].mp.shim.as_mut() {
        // SAFETY: the request is live and the miniport's alone during this call (the filter
        // passed it to NdisFOidRequest and may not touch it before its completion); its buffer
        // is valid for InformationBufferLength bytes.
        let served = unsafe {
            mpshim::edge::handle_oid_request(
                req as *mut mpshim::indication::NdisOidRequestPrefix,
                m,
                now,
            )
        };
        if let Some(status) = served {
            // SAFETY: as above.
            unsafe {
                (*(req as *mut NDIS_OID_REQUEST)).SupportedRevision = NDIS_OID_REQUEST_REVISION_1;
            };
            return status;
        }
    }
    // SAFETY: the request is live: the filter passed it to NdisFOidRequest and may not free it
    // before its completion.
    let req_ref = unsafe { &mut *(req as *mut NDIS_OID_REQUEST) };
    // SAFETY: the query view's leading fields are shared by the set view.
    let query = unsafe { &mut req_ref.DATA.QUERY_INFORMATION };
    let cfg = &w.adapters[a].cfg;
    let answer: Option<Vec<u8>> = match query.Oid {
        OID_GEN_LINK_SPEED => Some(
            u32::try_from(cfg.link_speed_bps / 100)
                .unwrap_or(u32::MAX)
                .to_le_bytes()
                .to_vec(),
        ),
        OID_802_3_CURRENT_ADDRESS => Some(cfg.mac.to_vec()),
        OID_GEN_MAXIMUM_FRAME_SIZE => Some(1500u32.to_le_bytes().to_vec()),
        OID_GEN_CURRENT_PACKET_FILTER if req_ref.RequestType == NDIS_REQUEST_SET_INFORMATION => {
            if query.InformationBufferLength < 4 || query.InformationBuffer.is_null() {
                query.BytesWritten = 0;
                query.BytesNeeded = 4;
                return NDIS_STATUS_INVALID_LENGTH;
            }
            let mut v = [0u8; 4];
            // SAFETY: the set buffer holds at least 4 bytes (checked).
            unsafe {
                core::ptr::copy_nonoverlapping(
                    query.InformationBuffer.cast::<u8>(),
                    v.as_mut_ptr(),
                    4,
                );
            }
            w.adapters[a].mp.packet_filter = u32::from_le_bytes(v);
            query.BytesWritten = 4; // BytesRead in the set view
            query.BytesNeeded = 0;
            req_ref.SupportedRevision = NDIS_OID_REQUEST_REVISION_1;
            return NDIS_STATUS_SUCCESS;
        }
        OID_GEN_CURRENT_PACKET_FILTER => {
            Some(w.adapters[a].mp.packet_filter.to_le_bytes().to_vec())
        }
        OID_802_3_MULTICAST_LIST if req_ref.RequestType == NDIS_REQUEST_SET_INFORMATION => {
            return set_multicast_list(w, a, req_ref);
        }
        OID_802_3_MULTICAST_LIST => Some(w.adapters[a].mp.multicast.concat()),
        _ => None,
    };
    let Some(bytes) = answer else {
        query.BytesWritten = 0;
        query.BytesNeeded = 0;
        return NDIS_STATUS_NOT_SUPPORTED;
    };
    let need = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    if query.InformationBufferLength < need || query.InformationBuffer.is_null() {
        query.BytesWritten = 0;
        query.BytesNeeded = need;
        return NDIS_STATUS_BUFFER_TOO_SHORT;
    }
    // SAFETY: the caller's buffer holds InformationBufferLength >= need bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            query.InformationBuffer.cast::<u8>(),
            bytes.len(),
        );
    }
    query.BytesWritten = need;
    query.BytesNeeded = 0;
    req_ref.SupportedRevision = NDIS_OID_REQUEST_REVISION_1;
    NDIS_STATUS_SUCCESS
}

/// OID_802_3_MULTICAST_LIST set: the miniport's list becomes the request's (whole MACs).
fn set_multicast_list(w: &mut World, a: usize, req: &mut NDIS_OID_REQUEST) -> NDIS_STATUS {
    // SAFETY: the set view of a live request.
    let set = unsafe { &mut req.DATA.SET_INFORMATION };
    let len = set.InformationBufferLength as usize;
    if !len.is_multiple_of(6) || (len > 0 && set.InformationBuffer.is_null()) {
        set.BytesRead = 0;
        set.BytesNeeded = 6;
        return NDIS_STATUS_INVALID_LENGTH;
    }
    let mut list = vec![0u8; len];
    if len > 0 {
        // SAFETY: the set buffer holds `len` bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(
                set.InformationBuffer.cast::<u8>(),
                list.as_mut_ptr(),
                len,
            );
        }
    }
    w.adapters[a].mp.multicast = list
        .chunks_exact(6)
        .map(|c| <[u8; 6]>::try_from(c).unwrap_or_default())
        .collect();
    set.BytesRead = set.InformationBufferLength;
    set.BytesNeeded = 0;
    req.SupportedRevision = NDIS_OID_REQUEST_REVISION_1;
    NDIS_STATUS_SUCCESS
}

pub(super) fn mp_oid_complete(a: usize, req: usize, generation: u64, status: NDIS_STATUS) {
    let go = world::with(|w| {
        match w.oid_below.get(&req) {
            Some(b) if b.generation == generation && b.adapter == a => {}
            _ => return None,
        }
        w.oid_below.remove(&req);
        let s = if status == NDIS_STATUS_SUCCESS {
            mp_oid_answer(w, a, req)
        } else {
            status
        };
        record_answer(w, req, s);
        Some((s, pick_irql(w)))
    });
    let Some(Some((s, irql))) = go else { return };
    call_filter(Some(a), "FilterOidRequestComplete", irql, |h, ctx| {
        // SAFETY: ctx is the module context; req the filter's own live request.
        unsafe { callbacks::oid_complete(h, ctx, req as *mut NDIS_OID_REQUEST, s) }
    });
}

/// The protocol cancels one of its pended OIDs (if still pending).
pub(super) fn proto_cancel_oid(a: usize, req: usize) {
    let id = world::with(|w| {
        let o = w.orig_oids.get_mut(&req)?;
        if o.state != OrigState::Pending {
            return None;
        }
        o.cancelled = true;
        let id = o.req.get().req.RequestId;
        w.adapters[a].stats.oid_cancels += 1;
        super::forward::cancel_raised(w, a, super::forward::CancelKind::Oid, id as usize);
        Some(id)
    });
    let Some(Some(id)) = id else { return };
    let had = call_filter(
        Some(a),
        "FilterCancelOidRequest",
        Irql::Passive,
        |h, ctx| {
            // SAFETY: ctx is the module context; the id is the pending request's RequestId.
            unsafe { callbacks::cancel_oid(h, ctx, id) }
        },
    );
    if had == Some(false) {
        // No FilterCancelOidRequest: NDIS cancels below itself.
        world::with(|w| {
            super::forward::cancel_forwarded(w, a, super::forward::CancelKind::Oid, id as usize);
        });
    }
}
