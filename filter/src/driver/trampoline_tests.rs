//! The trampolines and the module logic behind them, driven as NDIS would call them, with the
//! NDIS imports replaced by the recording doubles of `mock` (unit-test builds only). Every test
//! here runs under Miri: fake NBLs, OID requests and module contexts are real heap objects, so
//! leaks, double frees and use-after-free of the module context are caught.

use super::context::context_ref;
use super::registry::MAX_MODULES;
use super::state::DriverState;
use super::trampolines as t;
use super::{module_state, module_stats};
use crate::module::ModuleState;
use crate::module::{Module, NOT_TEAMED};
use crate::ndis::consts::*;
use crate::ndis::mock::{Call, Config, Session};
use crate::ndis::testkit::FakeNbls;
use crate::ndis::types::*;
use crate::ndis::{LinkState, StatusIndication};
use core::ffi::c_void;
use core::ptr;
use std::boxed::Box;
use std::vec::Vec;

const HANDLE: usize = 0xF1_0000;
const DISPATCH: u32 = 1;

fn handle() -> NDIS_HANDLE {
    ptr::without_provenance_mut(HANDLE)
}

std::thread_local! {
    /// The driver state of this test's driver (each test runs on its own thread); NDIS passes it
    /// to FilterAttach as the FilterDriverContext.
    static DRIVER: DriverState = DriverState::new();
}

fn driver_context() -> NDIS_HANDLE {
    DRIVER.with(|d| ptr::from_ref(d).cast_mut().cast())
}

fn driver<R>(f: impl FnOnce(&DriverState) -> R) -> R {
    DRIVER.with(f)
}

fn boxed_zeroed<T>() -> Box<T> {
    // SAFETY: used only for NDIS structures made of integers and raw pointers.
    unsafe { Box::<T>::new_zeroed().assume_init() }
}

fn attach_parameters() -> Box<NDIS_FILTER_ATTACH_PARAMETERS> {
    let mut params = boxed_zeroed::<NDIS_FILTER_ATTACH_PARAMETERS>();
    params.IfIndex = 7;
    params.BaseMiniportIfIndex = 3;
    params.MacAddressLength = 6;
    params.CurrentMacAddress[..6].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    params.XmitLinkSpeed = 10_000_000_000;
    params
}

/// Attaches a module (FilterAttach) with filter handle `handle` and IfIndex `if_index`; returns
/// its context, or the status of a failed attach.
fn try_attach(s: &Session, handle: usize, if_index: u32) -> Result<NDIS_HANDLE, NDIS_STATUS> {
    let mut params = attach_parameters();
    params.IfIndex = if_index;
    // SAFETY: valid handle, driver context and parameters for the duration of the call.
    let status = unsafe {
        t::filter_attach(
            ptr::without_provenance_mut(handle),
            driver_context(),
            &raw mut *params,
        )
    };
    let calls = s.take_calls();
    let [Call::SetAttributes { handle: h, context }] = calls[..] else {
        panic!("expected one NdisFSetAttributes, got {calls:?}");
    };
    assert_eq!(h, handle);
    if status == NDIS_STATUS_SUCCESS {
        Ok(context)
    } else {
        Err(status)
    }
}

/// Attaches a module (FilterAttach) and returns its context.
fn attach(s: &Session) -> NDIS_HANDLE {
    try_attach(s, HANDLE, 7).expect("attach succeeds")
}

/// The module behind a live context of this test.
fn module<'a>(ctx: NDIS_HANDLE) -> &'a Module {
    // SAFETY: a live context of this test, used only before its detach.
    unsafe { context_ref(ctx) }.unwrap().module()
}

fn state(ctx: NDIS_HANDLE) -> ModuleState {
    // SAFETY: a live context of this test.
    unsafe { module_state(ctx) }.unwrap()
}

fn stats(ctx: NDIS_HANDLE) -> crate::module::ModuleStats {
    // SAFETY: a live context of this test.
    unsafe { module_stats(ctx) }.unwrap()
}

fn restart(ctx: NDIS_HANDLE) -> NDIS_STATUS {
    // SAFETY: a live context; NULL parameters are tolerated.
    unsafe { t::filter_restart(ctx, ptr::null_mut()) }
}

fn pause(ctx: NDIS_HANDLE) -> NDIS_STATUS {
    let mut params = NDIS_FILTER_PAUSE_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(0x9A, 1, 0xC),
        Flags: 0,
        PauseReason: 0,
    };
    // SAFETY: a live context and parameters valid during the call.
    unsafe { t::filter_pause(ctx, &raw mut params) }
}

fn detach(ctx: NDIS_HANDLE) {
    // SAFETY: a live context, never used again.
    unsafe { t::filter_detach(ctx) };
}

/// Attached, options set and restarted: Running.
fn running(s: &Session) -> NDIS_HANDLE {
    let ctx = attach(s);
    // SAFETY: a live context.
    let options = unsafe { t::filter_set_module_options(ctx) };
    assert_eq!(options, NDIS_STATUS_SUCCESS);
    assert_eq!(restart(ctx), NDIS_STATUS_SUCCESS);
    assert_eq!(state(ctx), ModuleState::Running);
    ctx
}

fn send(ctx: NDIS_HANDLE, head: *mut NET_BUFFER_LIST, port: u32, flags: u32) {
    // SAFETY: a live context and a chain of live fake NBLs handed over.
    unsafe { t::filter_send(ctx, head, port, flags) };
}

fn send_complete(ctx: NDIS_HANDLE, head: *mut NET_BUFFER_LIST, flags: u32) {
    // SAFETY: as above.
    unsafe { t::filter_send_complete(ctx, head, flags) };
}

fn receive(ctx: NDIS_HANDLE, head: *mut NET_BUFFER_LIST, count: u32, flags: u32) {
    // SAFETY: as above.
    unsafe { t::filter_receive(ctx, head, 0, count, flags) };
}

fn return_nbls(ctx: NDIS_HANDLE, head: *mut NET_BUFFER_LIST, flags: u32) {
    // SAFETY: as above.
    unsafe { t::filter_return(ctx, head, flags) };
}

#[test]
fn attach_registers_the_context_and_leaves_the_module_paused() {
    let s = Session::new(Config::default());
    let ctx = attach(&s);
    assert_eq!(state(ctx), ModuleState::Paused);
    assert_eq!(stats(ctx), crate::module::ModuleStats::default());
    detach(ctx);
    assert!(s.take_calls().is_empty(), "detach calls nothing");
}

#[test]
fn attach_failures_free_the_context_and_return_the_status() {
    let s = Session::new(Config {
        set_attributes_status: NDIS_STATUS_FAILURE,
        ..Config::default()
    });
    // The failure path must free the module (Miri checks for leaks) and leave it unregistered.
    assert_eq!(try_attach(&s, HANDLE, 7), Err(NDIS_STATUS_FAILURE));
    assert!(driver(|d| d.modules.is_empty()));
    let mut params = attach_parameters();
    // SAFETY: NULL handle / driver context / parameters are rejected before anything is
    // allocated.
    let null_handle =
        unsafe { t::filter_attach(ptr::null_mut(), driver_context(), &raw mut *params) };
    assert_eq!(null_handle, NDIS_STATUS_INVALID_PARAMETER);
    // SAFETY: as above.
    let null_driver = unsafe { t::filter_attach(handle(), ptr::null_mut(), &raw mut *params) };
    assert_eq!(null_driver, NDIS_STATUS_INVALID_PARAMETER);
    // SAFETY: as above.
    let null_params = unsafe { t::filter_attach(handle(), driver_context(), ptr::null_mut()) };
    assert_eq!(null_params, NDIS_STATUS_INVALID_PARAMETER);
    assert!(s.take_calls().is_empty());
}

#[test]
fn attached_modules_are_registered_from_attach_until_detach() {
    let s = Session::new(Config::default());
    let first = try_attach(&s, HANDLE, 7).unwrap();
    let second = try_attach(&s, HANDLE + 0x100, 8).unwrap();
    let found_by_handle = |h: usize| {
        driver(|d| {
            // SAFETY: both modules stay attached while this test looks them up.
            unsafe { d.modules.by_filter_handle(ptr::without_provenance_mut(h)) }.map(ptr::from_ref)
        })
    };
    let found_by_if_index = |i: u32| {
        // SAFETY: as above.
        driver(|d| unsafe { d.modules.by_if_index(i) }.map(ptr::from_ref))
    };
    assert_eq!(found_by_handle(HANDLE), Some(ptr::from_ref(module(first))));
    assert_eq!(
        found_by_handle(HANDLE + 0x100),
        Some(ptr::from_ref(module(second)))
    );
    assert_eq!(found_by_if_index(8), Some(ptr::from_ref(module(second))));
    assert_eq!(found_by_if_index(7), Some(ptr::from_ref(module(first))));
    assert_eq!(module(first).info().path_group, NOT_TEAMED);
    // SAFETY: as above.
    let teamless = driver(|d| unsafe { d.modules.for_each_in_group(NOT_TEAMED, |_| ()) });
    assert_eq!(teamless, 2, "every module is in the not-teamed group today");

    detach(first);
    assert_eq!(found_by_handle(HANDLE), None);
    assert_eq!(found_by_if_index(7), None);
    assert_eq!(found_by_if_index(8), Some(ptr::from_ref(module(second))));
    detach(second);
    assert!(driver(|d| d.modules.is_empty()));
}

#[test]
fn an_attach_beyond_the_registry_capacity_fails_with_resources_and_frees_the_module() {
    let s = Session::new(Config::default());
    let if_index = |i: usize| u32::try_from(i).unwrap() + 1;
    let attached: Vec<NDIS_HANDLE> = (0..MAX_MODULES)
        .map(|i| try_attach(&s, HANDLE + i, if_index(i)).unwrap())
        .collect();
    assert_eq!(driver(|d| d.modules.len()), MAX_MODULES);

    // NdisFSetAttributes succeeds, registration does not: the attach fails and frees the context
    // (Miri checks that nothing leaks), and nothing is registered for it.
    let extra = HANDLE + MAX_MODULES;
    assert_eq!(try_attach(&s, extra, 1000), Err(NDIS_STATUS_RESOURCES));
    assert_eq!(driver(|d| d.modules.len()), MAX_MODULES);
    // SAFETY: every registered module stays attached during the lookups.
    assert!(driver(|d| unsafe { d.modules.by_if_index(1000) }.is_none()));
    let extra_handle = ptr::without_provenance_mut(extra);
    // SAFETY: as above.
    assert!(driver(|d| unsafe {
        d.modules.by_filter_handle(extra_handle)
    }
    .is_none()));

    // A detach frees a slot: the same adapter attaches now.
    detach(attached[0]);
    let late = try_attach(&s, extra, 1000).unwrap();
    assert_eq!(state(late), ModuleState::Paused);
    detach(late);
    for &ctx in &attached[1..] {
        detach(ctx);
    }
    assert!(driver(|d| d.modules.is_empty()));
}

#[test]
fn sends_while_paused_complete_at_once_with_paused_and_matching_dispatch() {
    let s = Session::new(Config::default());
    let ctx = attach(&s);
    let f = FakeNbls::simple(3);
    send(
        ctx,
        f.chain(),
        0,
        DISPATCH | NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK,
    );
    assert_eq!(
        s.take_calls(),
        [Call::SendComplete {
            handle: HANDLE,
            nbls: f.addrs(0..3),
            flags: NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
        }]
    );
    assert!((0..3).all(|i| f.status(i) == NDIS_STATUS_PAUSED));
    send(ctx, f.link(0..1), 0, 0);
    assert_eq!(
        s.take_calls(),
        [Call::SendComplete {
            handle: HANDLE,
            nbls: f.addrs(0..1),
            flags: 0
        }],
        "no DISPATCH flag when the send had none"
    );
    assert_eq!(stats(ctx).send_nbls_rejected_paused, 4);
    assert_eq!(stats(ctx).send_nbls_forwarded, 0);
    detach(ctx);
}

#[test]
fn running_sends_pass_down_unchanged_and_completions_pass_up() {
    let s = Session::new(Config::default());
    let ctx = running(&s);
    let f = FakeNbls::new(&[&[100, 200], &[1514], &[60]]);
    send(ctx, f.chain(), 4, DISPATCH);
    assert_eq!(
        s.take_calls(),
        [Call::Send {
            handle: HANDLE,
            nbls: f.addrs(0..3),
            port: 4,
            flags: DISPATCH
        }]
    );
    // The miniport completes in two batches, in another order.
    // SAFETY: writing the status as the miniport would, on NBLs it owns at this point.
    unsafe { (*f.ptr(2)).Status = NDIS_STATUS_SUCCESS };
    send_complete(ctx, f.link(2..3), 0);
    send_complete(ctx, f.link(0..2), DISPATCH);
    assert_eq!(
        s.take_calls(),
        [
            Call::SendComplete {
                handle: HANDLE,
                nbls: f.addrs(2..3),
                flags: 0
            },
            Call::SendComplete {
                handle: HANDLE,
                nbls: f.addrs(0..2),
                flags: DISPATCH
            }
        ]
    );
    let st = stats(ctx);
    assert_eq!(st.send_nbls_forwarded, 3);
    assert_eq!(st.send_bytes_forwarded, 100 + 200 + 1514 + 60);
    assert_eq!(st.send_nbls_completed, 3);
    assert_eq!(pause(ctx), NDIS_STATUS_SUCCESS, "nothing outstanding");
    detach(ctx);
}

#[test]
fn pause_pends_until_the_last_completion_which_completes_it_once() {
    let s = Session::new(Config::default());
    let ctx = running(&s);
    let f = FakeNbls::simple(4);
    send(ctx, f.link(0..3), 0, 0);
    s.take_calls();
    assert_eq!(pause(ctx), NDIS_STATUS_PENDING);
    assert_eq!(state(ctx), ModuleState::Pausing);
    // A send arriving while pausing is rejected, not forwarded.
    send(ctx, f.link(3..4), 0, DISPATCH);
    assert_eq!(
        s.take_calls(),
        [Call::SendComplete {
            handle: HANDLE,
            nbls: f.addrs(3..4),
            flags: DISPATCH
        }]
    );
    send_complete(ctx, f.link(0..2), 0);
    assert!(
        !s.take_calls()
            .contains(&Call::PauseComplete { handle: HANDLE }),
        "one NBL is still out"
    );
    assert_eq!(state(ctx), ModuleState::Pausing);
    send_complete(ctx, f.link(2..3), DISPATCH);
    assert_eq!(
        s.take_calls(),
        [
            Call::SendComplete {
                handle: HANDLE,
                nbls: f.addrs(2..3),
                flags: DISPATCH
            },
            Call::PauseComplete { handle: HANDLE }
        ],
        "the completion goes up before the pause completes"
    );
    assert_eq!(state(ctx), ModuleState::Paused);
    let st = stats(ctx);
    assert_eq!((st.pauses, st.pauses_pended, st.protocol_errors), (1, 1, 0));
    // Restart and pause again: nothing out, so SUCCESS at once and no NdisFPauseComplete.
    assert_eq!(restart(ctx), NDIS_STATUS_SUCCESS);
    assert_eq!(pause(ctx), NDIS_STATUS_SUCCESS);
    assert!(s.take_calls().is_empty());
    detach(ctx);
}

#[test]
fn receives_are_indicated_up_and_returns_go_down() {
    let s = Session::new(Config::default());
    let ctx = running(&s);
    let f = FakeNbls::new(&[&[64], &[128], &[256]]);
    receive(ctx, f.chain(), 3, DISPATCH | NDIS_RECEIVE_FLAGS_MORE_NBLS);
    assert_eq!(
        s.take_calls(),
        [Call::Indicate {
            handle: HANDLE,
            nbls: f.addrs(0..3),
            port: 0,
            count: 3,
            flags: DISPATCH | NDIS_RECEIVE_FLAGS_MORE_NBLS
        }]
    );
    assert_eq!(pause(ctx), NDIS_STATUS_PENDING, "indicated NBLs are out");
    return_nbls(ctx, f.link(1..2), DISPATCH);
    return_nbls(ctx, f.link(0..1), 0);
    assert!(
        !s.take_calls()
            .contains(&Call::PauseComplete { handle: HANDLE })
    );
    return_nbls(ctx, f.link(2..3), 0);
    assert_eq!(
        s.take_calls(),
        [
            Call::Return {
                handle: HANDLE,
                nbls: f.addrs(2..3),
                flags: 0
            },
            Call::PauseComplete { handle: HANDLE }
        ]
    );
    let st = stats(ctx);
    assert_eq!(st.receive_nbls_indicated, 3);
    assert_eq!(st.receive_bytes_indicated, 64 + 128 + 256);
    assert_eq!(st.receive_nbls_returned, 3);
    detach(ctx);
}

#[test]
fn resources_receives_are_indicated_but_never_returned() {
    let s = Session::new(Config::default());
    let ctx = running(&s);
    let f = FakeNbls::simple(2);
    receive(ctx, f.chain(), 2, NDIS_RECEIVE_FLAGS_RESOURCES);
    assert_eq!(
        s.take_calls(),
        [Call::Indicate {
            handle: HANDLE,
            nbls: f.addrs(0..2),
            port: 0,
            count: 2,
            flags: NDIS_RECEIVE_FLAGS_RESOURCES
        }]
    );
    assert_eq!(
        pause(ctx),
        NDIS_STATUS_SUCCESS,
        "a RESOURCES indication is over when the callback returns"
    );
    detach(ctx);
}

#[test]
fn receives_while_paused_are_returned_or_left_with_resources() {
    let s = Session::new(Config::default());
    let ctx = attach(&s);
    let f = FakeNbls::simple(2);
    receive(ctx, f.chain(), 2, DISPATCH);
    assert_eq!(
        s.take_calls(),
        [Call::Return {
            handle: HANDLE,
            nbls: f.addrs(0..2),
            flags: NDIS_RETURN_FLAGS_DISPATCH_LEVEL
        }]
    );
    receive(ctx, f.chain(), 2, NDIS_RECEIVE_FLAGS_RESOURCES);
    assert!(
        s.take_calls().is_empty(),
        "RESOURCES NBLs are never returned"
    );
    assert_eq!(stats(ctx).receive_nbls_rejected_paused, 4);
    detach(ctx);
}

fn query_request(oid: NDIS_OID) -> Box<NDIS_OID_REQUEST> {
    let mut r = boxed_zeroed::<NDIS_OID_REQUEST>();
    r.Header = NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_OID_REQUEST, 1, 0xEC);
    r.RequestType = NDIS_REQUEST_QUERY_INFORMATION;
    r.RequestId = ptr::without_provenance_mut(0x1D);
    r.DATA.QUERY_INFORMATION = NDIS_OID_QUERY_INFORMATION {
        Oid: oid,
        InformationBuffer: ptr::null_mut(),
        InformationBufferLength: 8,
        BytesWritten: 0,
        BytesNeeded: 0,
    };
    r
}

#[test]
fn synchronous_oids_are_cloned_forwarded_copied_back_and_freed() {
    let s = Session::new(Config {
        oid_bytes: 4,
        ..Config::default()
    });
    let ctx = attach(&s);
    let mut request = query_request(OID_GEN_LINK_SPEED);
    let original: *mut NDIS_OID_REQUEST = &raw mut *request;
    // SAFETY: a live context and request.
    let status = unsafe { t::filter_oid_request(ctx, original) };
    assert_eq!(status, NDIS_STATUS_SUCCESS);
    let calls = s.take_calls();
    let [
        Call::CloneOid {
            original: o, clone, ..
        },
        Call::OidRequest { request: fwd, .. },
        Call::FreeCloneOid { request: freed, .. },
    ] = calls[..]
    else {
        panic!("unexpected calls {calls:?}");
    };
    assert_eq!(o, original.addr());
    assert_eq!(
        (fwd, freed),
        (clone.addr(), clone.addr()),
        "the clone, never the original, goes down"
    );
    assert_ne!(clone.addr(), original.addr());
    assert_eq!(s.live_clones(), 0);
    // SAFETY: the union variant of a query.
    let q = unsafe { request.DATA.QUERY_INFORMATION };
    assert_eq!((q.BytesWritten, q.BytesNeeded), (4, 5));
    assert_eq!(request.SupportedRevision, 1);
    assert_eq!(stats(ctx).oids_forwarded, 1);
    detach(ctx);
}

#[test]
fn synchronous_oid_failures_are_returned_and_the_clone_freed() {
    let s = Session::new(Config {
        oid_status: NDIS_STATUS_NOT_SUPPORTED,
        ..Config::default()
    });
    let ctx = attach(&s);
    let mut request = query_request(OID_GEN_STATISTICS);
    // SAFETY: a live context and request.
    let status = unsafe { t::filter_oid_request(ctx, &raw mut *request) };
    assert_eq!(status, NDIS_STATUS_NOT_SUPPORTED);
    assert_eq!(s.live_clones(), 0);
    assert!(
        !s.take_calls()
            .iter()
            .any(|c| matches!(c, Call::OidComplete { .. }))
    );
    detach(ctx);
}

#[test]
fn pending_oids_complete_the_original_exactly_once() {
    let s = Session::new(Config {
        oid_status: NDIS_STATUS_PENDING,
        ..Config::default()
    });
    let ctx = attach(&s);
    let mut request = query_request(OID_802_3_CURRENT_ADDRESS);
    request.RequestType = NDIS_REQUEST_SET_INFORMATION;
    let original: *mut NDIS_OID_REQUEST = &raw mut *request;
    // SAFETY: a live context and request.
    let status = unsafe { t::filter_oid_request(ctx, original) };
    assert_eq!(status, NDIS_STATUS_PENDING);
    let calls = s.take_calls();
    let [Call::CloneOid { clone, .. }, Call::OidRequest { .. }] = calls[..] else {
        panic!("unexpected calls {calls:?}");
    };
    assert_eq!(s.live_clones(), 1);
    // SAFETY: the clone is live until its completion below.
    let clone_id = unsafe { (*clone).RequestId };
    assert_eq!(clone_id, request.RequestId);
    // SAFETY: as above.
    unsafe {
        assert_eq!((*clone).SourceReserved[0], original.cast::<c_void>());
    }
    // The miniport fills in the result.
    // SAFETY: as above.
    let clone_data = unsafe { &mut (*clone).DATA };
    // SAFETY: a set request uses the set variant.
    let mut set = unsafe { clone_data.SET_INFORMATION };
    set.BytesRead = 6;
    clone_data.SET_INFORMATION = set;
    // Cancellation goes down with the same id while the clone pends.
    // SAFETY: a live context.
    unsafe { t::filter_cancel_oid_request(ctx, ptr::without_provenance_mut(0x1D)) };
    // SAFETY: NDIS hands back the clone it completed.
    unsafe { t::filter_oid_request_complete(ctx, clone, NDIS_STATUS_SUCCESS) };
    assert_eq!(
        s.take_calls(),
        [
            Call::CancelOid {
                handle: HANDLE,
                id: 0x1D
            },
            Call::FreeCloneOid {
                handle: HANDLE,
                request: clone.addr()
            },
            Call::OidComplete {
                handle: HANDLE,
                request: original.addr(),
                status: NDIS_STATUS_SUCCESS
            }
        ]
    );
    // SAFETY: the set variant.
    assert_eq!(unsafe { request.DATA.SET_INFORMATION.BytesRead }, 6);
    assert_eq!(s.live_clones(), 0);
    let st = stats(ctx);
    assert_eq!((st.oids_forwarded, st.oids_completed_pending), (1, 1));
    detach(ctx);
}

#[test]
fn clone_failure_answers_resources_without_forwarding() {
    let s = Session::new(Config {
        clone_fails: true,
        ..Config::default()
    });
    let ctx = attach(&s);
    let mut request = query_request(OID_GEN_LINK_SPEED);
    // SAFETY: a live context and request.
    let status = unsafe { t::filter_oid_request(ctx, &raw mut *request) };
    assert_eq!(status, NDIS_STATUS_RESOURCES);
    assert!(s.take_calls().is_empty());
    assert_eq!(stats(ctx).oid_clone_failures, 1);
    detach(ctx);
}

#[test]
fn a_completion_for_a_request_that_is_not_our_clone_is_ignored() {
    let s = Session::new(Config::default());
    let ctx = attach(&s);
    let mut foreign = query_request(OID_GEN_LINK_SPEED);
    // SAFETY: a live context and request without an original in SourceReserved.
    unsafe { t::filter_oid_request_complete(ctx, &raw mut *foreign, NDIS_STATUS_SUCCESS) };
    // SAFETY: NULL is tolerated.
    unsafe { t::filter_oid_request_complete(ctx, ptr::null_mut(), NDIS_STATUS_SUCCESS) };
    assert!(s.take_calls().is_empty());
    detach(ctx);
}

#[test]
fn status_pnp_and_cancel_are_forwarded_with_the_same_objects() {
    let s = Session::new(Config {
        pnp_status: NDIS_STATUS_FAILURE,
        ..Config::default()
    });
    let ctx = running(&s);
    let mut link = NDIS_LINK_STATE {
        Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEFAULT, 1, 0x28),
        MediaConnectState: MEDIA_CONNECT_STATE_DISCONNECTED,
        MediaDuplexState: 0,
        XmitLinkSpeed: 0,
        RcvLinkSpeed: 0,
        PauseFunctions: 0,
        AutoNegotiationFlags: 0,
    };
    let mut indication = boxed_zeroed::<NDIS_STATUS_INDICATION>();
    indication.StatusCode = NDIS_STATUS_LINK_STATE;
    indication.StatusBuffer = (&raw mut link).cast();
    indication.StatusBufferSize = 0x28;
    let ind: *mut NDIS_STATUS_INDICATION = &raw mut *indication;
    // SAFETY: a live context and indication.
    unsafe { t::filter_status(ctx, ind) };
    let mut pnp = boxed_zeroed::<NET_PNP_EVENT_NOTIFICATION>();
    pnp.NetPnPEvent.NetEvent = NET_EVENT_FILTER_PRE_DETACH;
    let pnp_ptr: *mut NET_PNP_EVENT_NOTIFICATION = &raw mut *pnp;
    // SAFETY: a live context and notification.
    let pnp_status = unsafe { t::filter_net_pnp_event(ctx, pnp_ptr) };
    assert_eq!(
        pnp_status, NDIS_STATUS_FAILURE,
        "the lower drivers' answer is passed back"
    );
    let mut device_event = 0u64;
    let dev: *mut NET_DEVICE_PNP_EVENT = (&raw mut device_event).cast();
    // SAFETY: a live context; the event is opaque and only forwarded.
    unsafe { t::filter_device_pnp_event_notify(ctx, dev) };
    // SAFETY: a live context.
    unsafe { t::filter_cancel_send(ctx, ptr::without_provenance_mut(0x77)) };
    assert_eq!(
        s.take_calls(),
        [
            Call::IndicateStatus {
                handle: HANDLE,
                indication: ind.addr()
            },
            Call::NetPnp {
                handle: HANDLE,
                event: pnp_ptr.addr()
            },
            Call::DevicePnp {
                handle: HANDLE,
                event: dev.addr()
            },
            Call::CancelSend {
                handle: HANDLE,
                id: 0x77
            }
        ]
    );
    let st = stats(ctx);
    assert_eq!(
        (
            st.status_indications,
            st.pnp_events_forwarded,
            st.send_cancels_forwarded
        ),
        (1, 2, 1)
    );
    assert_eq!(pause(ctx), NDIS_STATUS_SUCCESS);
    detach(ctx);
}

#[test]
fn link_state_payload_is_parsed_only_when_well_formed() {
    let mut link = NDIS_LINK_STATE {
        Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEFAULT, 1, 0x28),
        MediaConnectState: MEDIA_CONNECT_STATE_CONNECTED,
        MediaDuplexState: 2,
        XmitLinkSpeed: 1_000_000_000,
        RcvLinkSpeed: 100_000_000,
        PauseFunctions: 0,
        AutoNegotiationFlags: 0,
    };
    let mut ind = boxed_zeroed::<NDIS_STATUS_INDICATION>();
    ind.StatusCode = NDIS_STATUS_LINK_STATE;
    ind.StatusBuffer = (&raw mut link).cast();
    ind.StatusBufferSize = 0x28;
    // SAFETY: a live indication.
    let view = unsafe { StatusIndication::from_raw(&raw mut *ind) }.unwrap();
    assert_eq!(
        view.link_state(),
        Some(LinkState {
            connected: Some(true),
            xmit_bps: 1_000_000_000,
            rcv_bps: 100_000_000
        })
    );
    ind.StatusBufferSize = 0x27;
    // SAFETY: as above.
    let short = unsafe { StatusIndication::from_raw(&raw mut *ind) }.unwrap();
    assert_eq!(short.link_state(), None, "a short buffer is not read");
    ind.StatusBufferSize = 0x28;
    ind.StatusCode = NDIS_STATUS_MEDIA_DISCONNECTED;
    // SAFETY: as above.
    let other = unsafe { StatusIndication::from_raw(&raw mut *ind) }.unwrap();
    assert_eq!(other.link_state(), None);
}

#[test]
fn out_of_order_lifecycle_calls_are_counted_not_obeyed() {
    let s = Session::new(Config::default());
    let ctx = running(&s);
    assert_eq!(restart(ctx), NDIS_STATUS_FAILURE, "restart while running");
    assert_eq!(state(ctx), ModuleState::Running);
    assert_eq!(pause(ctx), NDIS_STATUS_SUCCESS);
    assert_eq!(
        pause(ctx),
        NDIS_STATUS_SUCCESS,
        "pause cannot fail, even twice"
    );
    assert_eq!(stats(ctx).protocol_errors, 2);
    assert!(s.take_calls().is_empty());
    detach(ctx);
}

#[test]
fn null_contexts_and_chains_are_harmless() {
    let s = Session::new(Config::default());
    let null = ptr::null_mut();
    send(null, null.cast(), 0, 0);
    send_complete(null, null.cast(), 0);
    receive(null, null.cast(), 0, 0);
    return_nbls(null, null.cast(), 0);
    detach(null);
    assert_eq!(pause(null), NDIS_STATUS_SUCCESS);
    // SAFETY: NULL contexts are tolerated.
    let oid_status = unsafe { t::filter_oid_request(null, null.cast()) };
    assert_eq!(oid_status, NDIS_STATUS_INVALID_PARAMETER);
    // SAFETY: as above.
    assert!(unsafe { module_stats(null) }.is_none());
    let ctx = running(&s);
    send(ctx, ptr::null_mut(), 0, 0);
    receive(ctx, ptr::null_mut(), 0, NDIS_RECEIVE_FLAGS_RESOURCES);
    assert!(
        s.take_calls().is_empty(),
        "empty chains are never passed to NDIS"
    );
    assert_eq!(pause(ctx), NDIS_STATUS_SUCCESS);
    detach(ctx);
    let _unused: Vec<()> = Vec::new();
}

/// The diagnostic events the module emitted so far, decoded; every one from the module's handle.
fn diag_events(s: &Session) -> Vec<crate::diag::Event> {
    s.take_diag()
        .into_iter()
        .map(|(h, bytes)| {
            assert_eq!(h, HANDLE, "emitted for the module's own handle");
            crate::diag::Event::decode(&bytes).expect("a valid record")
        })
        .collect()
}

#[test]
fn the_lifecycle_emits_its_diagnostic_events_in_order() {
    use crate::diag::{Event, LifecycleEvent};
    let s = Session::new(Config::default());
    let ctx = running(&s);
    assert_eq!(
        diag_events(&s),
        [
            Event::ModuleAttached {
                if_index: 7,
                miniport_if_index: 3
            },
            Event::ModuleRestarted { if_index: 7 }
        ]
    );
    // One NBL out makes the pause pend; its completion completes the pause.
    let f = FakeNbls::simple(1);
    send(ctx, f.chain(), 0, 0);
    assert_eq!(pause(ctx), NDIS_STATUS_PENDING);
    send_complete(ctx, f.chain(), 0);
    // A second pause while Paused is illegal: rejected and reported, nothing else changes.
    assert_eq!(pause(ctx), NDIS_STATUS_SUCCESS);
    detach(ctx);
    assert_eq!(
        diag_events(&s),
        [
            Event::ModulePaused {
                if_index: 7,
                pended: true
            },
            Event::ModulePauseCompleted { if_index: 7 },
            Event::LifecycleRejected {
                if_index: 7,
                state: ModuleState::Paused,
                event: LifecycleEvent::Pause
            },
            Event::ModuleDetached { if_index: 7 },
        ]
    );
    let _ = s.take_calls();
}

#[test]
fn a_refused_attach_emits_attach_failed_and_no_attached() {
    let s = Session::new(Config {
        set_attributes_status: NDIS_STATUS_RESOURCES,
        ..Config::default()
    });
    let mut params = attach_parameters();
    // SAFETY: valid handle and parameters for the duration of the call.
    let status = unsafe { t::filter_attach(handle(), driver_context(), &raw mut *params) };
    assert_eq!(status, NDIS_STATUS_RESOURCES);
    assert_eq!(
        diag_events(&s),
        [crate::diag::Event::ModuleAttachFailed { if_index: 7 }]
    );
}

#[test]
fn an_oid_failed_for_want_of_a_clone_is_reported() {
    use crate::diag::{Event, RequestRejectReason};
    let s = Session::new(Config {
        clone_fails: true,
        ..Config::default()
    });
    let ctx = attach(&s);
    let _ = diag_events(&s);
    let mut request = query_request(OID_GEN_LINK_SPEED);
    // SAFETY: a live context and request.
    let status = unsafe { t::filter_oid_request(ctx, &raw mut *request) };
    assert_eq!(status, NDIS_STATUS_RESOURCES);
    assert_eq!(
        diag_events(&s),
        [Event::OidRejected {
            oid: OID_GEN_LINK_SPEED,
            status: NDIS_STATUS_RESOURCES,
            reason: RequestRejectReason::CloneFailed
        }]
    );
    detach(ctx);
}

#[test]
fn a_configured_group_id_puts_the_module_in_that_group() {
    use crate::config::ModuleConfig;
    use crate::ndis::mock::Param;
    let s = Session::new(Config {
        params: std::vec![
            ("GroupId", Param::Integer(5)),
            ("Policy", Param::Text("quota".into()))
        ],
        ..Config::default()
    });
    let ctx = attach(&s);
    assert_eq!(module(ctx).info().path_group, 5);
    assert!(matches!(
        module(ctx).config(),
        ModuleConfig::Teamed { group_id: 5, .. }
    ));
    // SAFETY: the module stays attached while this test looks it up.
    let members = driver(|d| unsafe { d.modules.for_each_in_group(5, |_| ()) });
    assert_eq!(members, 1);
    // Opened once, read every key, closed once.
    let calls = s.take_config_calls();
    assert!(matches!(
        calls.first(),
        Some(Call::OpenConfig { flags: 0, .. })
    ));
    assert!(matches!(calls.last(), Some(Call::CloseConfig { .. })));
    let reads = calls
        .iter()
        .filter(|c| matches!(c, Call::ReadConfig { .. }))
        .count();
    assert_eq!(reads, crate::config::KEYS.len());
    detach(ctx);
}

#[test]
fn a_refused_value_leaves_the_module_untamed_and_says_which_key() {
    use crate::config::ModuleConfig;
    use crate::diag::{ConfigKey, Event};
    use crate::ndis::mock::Param;
    let s = Session::new(Config {
        params: std::vec![
            ("GroupId", Param::Integer(5)),
            ("QuotaBytes", Param::Integer(0))
        ],
        ..Config::default()
    });
    let ctx = attach(&s);
    assert_eq!(module(ctx).info().path_group, NOT_TEAMED);
    assert_eq!(module(ctx).config(), ModuleConfig::NotTeamed);
    let events = diag_events(&s);
    assert_eq!(
        events.first(),
        Some(&Event::ConfigRejected {
            key: ConfigKey::RegQuotaBytes,
            value: 0,
            min: 1,
            max: 16 << 20,
        })
    );
    detach(ctx);
}

#[test]
fn a_configuration_that_cannot_be_opened_is_reported_and_not_teamed() {
    use crate::diag::{ConfigKey, Event};
    let s = Session::new(Config {
        open_config_status: NDIS_STATUS_RESOURCES,
        ..Config::default()
    });
    let ctx = attach(&s);
    assert_eq!(module(ctx).info().path_group, NOT_TEAMED);
    assert!(matches!(
        diag_events(&s).first(),
        Some(Event::ConfigRejected {
            key: ConfigKey::RegOpenFailed,
            ..
        })
    ));
    detach(ctx);
}
