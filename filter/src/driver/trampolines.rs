//! The `extern "system"` callbacks of the filter characteristics.
//!
//! Each one converts NDIS's raw arguments into the safe wrappers of [`crate::ndis`] and calls the
//! filter logic in [`crate::module`]; nothing else happens here. The FilterModuleContext is a
//! pointer to the module's heap context (see `super::context`), allocated and registered in
//! [`filter_attach`], deregistered and freed in [`filter_detach`]; every other callback reaches
//! the module through [`with_module`].
//!
//! Bad input never crashes: a NULL module context or NULL required argument (which NDIS never
//! passes) makes the callback return without touching anything.

use super::context::{self, ModuleContext};
use super::state::DriverState;
use super::team::MemberChange;
use crate::module::Module;
use crate::module::capability;
use crate::ndis::consts::{
    NDIS_FILTER_ATTRIBUTES_REVISION_1, NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES,
    NDIS_SIZEOF_FILTER_ATTRIBUTES_REVISION_1, NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_PAUSED,
    NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS,
};
use crate::ndis::flags::{ReceiveFlags, ReturnFlags, SendCompleteFlags, SendFlags};
use crate::ndis::handle::FilterHandle;
use crate::ndis::imports;
use crate::ndis::nbl::{CancelId, NblChain};
use crate::ndis::oid::{ClonedOidRequest, OidRequest, RequestId};
use crate::ndis::params::{
    AttachParameters, DevicePnpEvent, NetPnpEvent, RestartParameters, StatusIndication,
};
use crate::ndis::types::{
    NDIS_FILTER_ATTACH_PARAMETERS, NDIS_FILTER_ATTRIBUTES, NDIS_FILTER_PAUSE_PARAMETERS,
    NDIS_FILTER_RESTART_PARAMETERS, NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_OID_REQUEST,
    NDIS_PORT_NUMBER, NDIS_STATUS, NDIS_STATUS_INDICATION, NET_BUFFER_LIST, NET_DEVICE_PNP_EVENT,
    NET_PNP_EVENT_NOTIFICATION,
};
use core::ffi::c_void;
use core::ptr::NonNull;
use mpshim::contract::PathEventKind;

/// Runs `f` on the module context NDIS passed to a module callback, or returns `absent` when the
/// context is NULL (which NDIS never passes). The context dereferences to the [`Module`].
///
/// The one place where a context pointer becomes a reference for a callback. Only the callbacks of
/// this file call it, and only with the `filter_module_context` argument NDIS passed them; the
/// closure bounds the borrow to the callback.
fn with_module<R>(ctx: NDIS_HANDLE, absent: R, f: impl FnOnce(&ModuleContext) -> R) -> R {
    // SAFETY: NDIS passes every module callback the context the filter handed NdisFSetAttributes
    // in FilterAttach — made by `context::allocate` — and calls none with it once FilterDetach has
    // returned, which is when `filter_detach` frees it; so for the duration of the callback, which
    // `f`'s borrow cannot outlive, the context is live.
    match unsafe { context::context_ref(ctx) } {
        Some(module) => f(module),
        None => absent,
    }
}

/// `FILTER_SET_OPTIONS`: the driver registers no optional driver-level handlers.
pub(crate) unsafe extern "system" fn filter_set_options(
    _ndis_driver_handle: NDIS_HANDLE,
    _driver_context: NDIS_HANDLE,
) -> NDIS_STATUS {
    NDIS_STATUS_SUCCESS
}

/// `FILTER_ATTACH`: allocates the module context, registers it with `NdisFSetAttributes`, leaves
/// the module Paused and, last, registers it in the driver's module registry. Every failure frees
/// what was allocated; a full registry fails the attach with `NDIS_STATUS_RESOURCES`.
pub(crate) unsafe extern "system" fn filter_attach(
    ndis_filter_handle: NDIS_HANDLE,
    filter_driver_context: NDIS_HANDLE,
    attach_parameters: *mut NDIS_FILTER_ATTACH_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: NDIS passes this module's handle, valid until its FilterDetach returns; the handle
    // is stored only in the module, which FilterDetach frees.
    let Some(handle) = (unsafe { FilterHandle::from_raw(ndis_filter_handle) }) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    // The FilterDriverContext is the driver state DriverEntry registered.
    let Some(driver) = NonNull::new(filter_driver_context.cast::<DriverState>()) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the attach parameters are valid for the duration of this call.
    let Some(params) = (unsafe { AttachParameters::from_raw(attach_parameters) }) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    let Some(ctx) = context::allocate(Module::attach(handle, &params), driver) else {
        return NDIS_STATUS_RESOURCES;
    };
    let mut attributes = NDIS_FILTER_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES,
            NDIS_FILTER_ATTRIBUTES_REVISION_1,
            NDIS_SIZEOF_FILTER_ATTRIBUTES_REVISION_1,
        ),
        Flags: 0,
    };
    // SAFETY: PASSIVE_LEVEL inside FilterAttach, as required; `ctx` is the live module, and the
    // attributes are a local NDIS reads during the call.
    let status = unsafe { imports::NdisFSetAttributes(handle.as_raw(), ctx, &raw mut attributes) };
    // SAFETY: `ctx` was just allocated and is live until freed below or in FilterDetach.
    let Some(module) = (unsafe { context::context_ref(ctx) }) else {
        return NDIS_STATUS_RESOURCES;
    };
    let status = if status == NDIS_STATUS_SUCCESS {
        // SAFETY: the module stays live until FilterDetach, which deregisters it before freeing
        // it; lookups follow the registry's lifetime rule.
        match unsafe { module.driver().modules.register(module.module()) } {
            Ok(()) => NDIS_STATUS_SUCCESS,
            Err(_full) => NDIS_STATUS_RESOURCES,
        }
    } else {
        status
    };
    if status != NDIS_STATUS_SUCCESS {
        module.attach_failed();
        // SAFETY: the attach fails, so NDIS makes no call with this context and the registry does
        // not hold it; `module` is not used past this point.
        unsafe { context::free(ctx) };
        return status;
    }
    module.attach_succeeded();
    let driver = module.driver();
    driver
        .team
        .join(module.module(), driver.filter_driver_handle);
    // The drivers above see what every member of the group can carry.
    let presented = driver
        .team
        .with_route(module.module(), |r| r.map(capability::group_limits));
    if let Some((lso, _)) = presented {
        if let Some(shown) = params.narrow_offload(lso) {
            module.module().capability().set_presented_offload(shown);
        }
        // The members already bound learn of what this one narrowed.
        driver
            .team
            .with_route(module.module(), |r| r.map(capability::present_group));
    }
    NDIS_STATUS_SUCCESS
}

/// `FILTER_DETACH`: deregisters the module (Paused, nothing outstanding) and frees it.
pub(crate) unsafe extern "system" fn filter_detach(filter_module_context: NDIS_HANDLE) {
    let detached = with_module(filter_module_context, false, |module| {
        // Out of its group (and every snapshot readers may hold) before it can be freed.
        module.driver().team.leave(module.module());
        module.driver().modules.deregister(module.module());
        module.detach();
        true
    });
    if detached {
        // SAFETY: after FilterDetach NDIS makes no further call with this context, the registry
        // no longer holds it, and the borrow above has ended.
        unsafe { context::free(filter_module_context) };
    }
}

/// `FILTER_SET_MODULE_OPTIONS`.
pub(crate) unsafe extern "system" fn filter_set_module_options(
    filter_module_context: NDIS_HANDLE,
) -> NDIS_STATUS {
    with_module(
        filter_module_context,
        NDIS_STATUS_INVALID_PARAMETER,
        |module| module.set_module_options(),
    )
}

/// `FILTER_RESTART`.
pub(crate) unsafe extern "system" fn filter_restart(
    filter_module_context: NDIS_HANDLE,
    restart_parameters: *mut NDIS_FILTER_RESTART_PARAMETERS,
) -> NDIS_STATUS {
    with_module(
        filter_module_context,
        NDIS_STATUS_INVALID_PARAMETER,
        |module| {
            // SAFETY: NULL or valid for the duration of this call.
            let params = unsafe { RestartParameters::from_raw(restart_parameters) };
            let status = module.restart(&params);
            if status == NDIS_STATUS_SUCCESS {
                let team = &module.driver().team;
                team.member_changed(module.module(), MemberChange::Restarted);
                // The drivers above see the smallest MTU of the group.
                let presented =
                    team.with_route(module.module(), |r| r.map(capability::group_limits));
                if let Some((_, mtu)) = presented {
                    params.narrow_mtu(mtu);
                    // Its MTU is known now: the others may have to present a smaller one.
                    team.with_route(module.module(), |r| r.map(capability::present_group));
                }
            }
            status
        },
    )
}

/// `FILTER_PAUSE`. Pause cannot fail, not even for a NULL context. The parameters are not
/// read: their one field, `PauseReason`, is deprecated since NDIS 6.40, and every pause is
/// handled alike whatever its reason.
pub(crate) unsafe extern "system" fn filter_pause(
    filter_module_context: NDIS_HANDLE,
    _pause_parameters: *mut NDIS_FILTER_PAUSE_PARAMETERS,
) -> NDIS_STATUS {
    with_module(filter_module_context, NDIS_STATUS_SUCCESS, |module| {
        // The path leaves service before the pause is acknowledged, and what it parked is
        // completed (before and after the pause gate closes: a send may park in between).
        module
            .driver()
            .team
            .member_changed(module.module(), MemberChange::Paused);
        let passive = SendCompleteFlags::from_bits(0);
        module.flush_parked(NDIS_STATUS_PAUSED, passive);
        let status = module.pause();
        module.flush_parked(NDIS_STATUS_PAUSED, passive);
        status
    })
}

/// `FILTER_SEND_NET_BUFFER_LISTS`.
pub(crate) unsafe extern "system" fn filter_send(
    filter_module_context: NDIS_HANDLE,
    net_buffer_lists: *mut NET_BUFFER_LIST,
    port_number: NDIS_PORT_NUMBER,
    send_flags: u32,
) {
    with_module(filter_module_context, (), |module| {
        // SAFETY: NDIS hands the filter ownership of this NULL-terminated chain until it completes
        // it.
        let chain = unsafe { NblChain::from_raw(net_buffer_lists) };
        let flags = SendFlags::from_bits(send_flags);
        module
            .driver()
            .team
            .with_route(module.module(), |route| match route {
                Some(route) => module.send_teamed(chain, port_number, flags, route),
                None => module.send(chain, port_number, flags),
            });
    });
}

/// `FILTER_SEND_NET_BUFFER_LISTS_COMPLETE`.
pub(crate) unsafe extern "system" fn filter_send_complete(
    filter_module_context: NDIS_HANDLE,
    net_buffer_lists: *mut NET_BUFFER_LIST,
    send_complete_flags: u32,
) {
    with_module(filter_module_context, (), |module| {
        // SAFETY: completed NBLs come back to the filter, which owns them again.
        let chain = unsafe { NblChain::from_raw(net_buffer_lists) };
        let flags = SendCompleteFlags::from_bits(send_complete_flags);
        module
            .driver()
            .team
            .with_route(module.module(), |route| match route {
                Some(route) => module.send_complete_teamed(chain, flags, route),
                None => module.send_complete(chain, flags),
            });
    });
}

/// `FILTER_CANCEL_SEND_NET_BUFFER_LISTS`.
pub(crate) unsafe extern "system" fn filter_cancel_send(
    filter_module_context: NDIS_HANDLE,
    cancel_id: *mut c_void,
) {
    with_module(filter_module_context, (), |module| {
        let id = CancelId::from_raw(cancel_id);
        module
            .driver()
            .team
            .with_route(module.module(), |route| match route {
                Some(route) => module.cancel_send_teamed(id, route),
                None => module.cancel_send(id),
            });
    });
}

/// `FILTER_RECEIVE_NET_BUFFER_LISTS`.
pub(crate) unsafe extern "system" fn filter_receive(
    filter_module_context: NDIS_HANDLE,
    net_buffer_lists: *mut NET_BUFFER_LIST,
    port_number: NDIS_PORT_NUMBER,
    _number_of_net_buffer_lists: u32,
    receive_flags: u32,
) {
    with_module(filter_module_context, (), |module| {
        // SAFETY: the indication lends the chain to the filter: until it is returned, or, with
        // RESOURCES, until this callback returns. The chain is counted rather than trusting
        // NumberOfNetBufferLists.
        let chain = unsafe { NblChain::from_raw(net_buffer_lists) };
        let flags = ReceiveFlags::from_bits(receive_flags);
        module
            .driver()
            .team
            .with_route(module.module(), |route| match route {
                Some(route) => module.receive_teamed(chain, port_number, flags, route),
                None => module.receive(chain, port_number, flags),
            });
    });
}

/// `FILTER_RETURN_NET_BUFFER_LISTS`.
pub(crate) unsafe extern "system" fn filter_return(
    filter_module_context: NDIS_HANDLE,
    net_buffer_lists: *mut NET_BUFFER_LIST,
    return_flags: u32,
) {
    with_module(filter_module_context, (), |module| {
        // SAFETY: returned NBLs are the filter's again until it returns them down.
        let chain = unsafe { NblChain::from_raw(net_buffer_lists) };
        module.return_nbls(chain, ReturnFlags::from_bits(return_flags));
    });
}

/// `FILTER_OID_REQUEST`.
pub(crate) unsafe extern "system" fn filter_oid_request(
    filter_module_context: NDIS_HANDLE,
    oid_request: *mut NDIS_OID_REQUEST,
) -> NDIS_STATUS {
    with_module(
        filter_module_context,
        NDIS_STATUS_INVALID_PARAMETER,
        |module| {
            // SAFETY: the request stays valid until the filter answers or completes it.
            match unsafe { OidRequest::from_raw(oid_request) } {
                Some(request) => module.oid_request(request),
                None => NDIS_STATUS_INVALID_PARAMETER,
            }
        },
    )
}

/// `FILTER_OID_REQUEST_COMPLETE`.
pub(crate) unsafe extern "system" fn filter_oid_request_complete(
    filter_module_context: NDIS_HANDLE,
    oid_request: *mut NDIS_OID_REQUEST,
    status: NDIS_STATUS,
) {
    with_module(filter_module_context, (), |module| {
        // The filter's own query first: it is no clone.
        if module.own_query_complete(oid_request, status) {
            return;
        }
        // SAFETY: the clone NDIS hands back; the filter owns it again.
        if let Some(clone) = unsafe { ClonedOidRequest::from_completion(oid_request) } {
            module.oid_request_complete(clone, status);
        }
    });
}

/// `FILTER_CANCEL_OID_REQUEST`.
pub(crate) unsafe extern "system" fn filter_cancel_oid_request(
    filter_module_context: NDIS_HANDLE,
    request_id: *mut c_void,
) {
    with_module(filter_module_context, (), |module| {
        module.cancel_oid_request(RequestId::from_raw(request_id));
    });
}

/// `FILTER_STATUS`.
pub(crate) unsafe extern "system" fn filter_status(
    filter_module_context: NDIS_HANDLE,
    status_indication: *mut NDIS_STATUS_INDICATION,
) {
    with_module(filter_module_context, (), |module| {
        // SAFETY: the indication is valid for the duration of this call.
        if let Some(indication) = unsafe { StatusIndication::from_raw(status_indication) } {
            // mpshim's path event is private to the miniport and this filter: taken (and acted on
            // in a team), never passed up.
            let code = indication.status_code();
            match mpshim::contract::classify_status(code, indication.buffer()) {
                None => {}
                Some(Ok(event)) => {
                    module.shim_event_taken();
                    module.driver().team.member_changed(
                        module.module(),
                        MemberChange::Shim {
                            failed: event.kind == PathEventKind::Failed,
                            sequence: event.sequence,
                        },
                    );
                    return;
                }
                Some(Err(error)) => {
                    module.shim_event_malformed(code, &error);
                    return;
                }
            }
            if let Some(link) = indication.link_state() {
                module.driver().team.member_changed(
                    module.module(),
                    MemberChange::Link {
                        connected: link.connected,
                        xmit_bps: link.xmit_bps,
                    },
                );
            }
            // A teamed module presents the group's limits: a current-config indication from its
            // miniport goes up narrowed to what every member can carry.
            let presented = if indication.offload_limits().is_some() {
                module
                    .driver()
                    .team
                    .with_route(module.module(), |r| r.map(capability::group_limits))
            } else {
                None
            };
            module.status(&indication, presented.map(|(lso, _)| lso));
            if presented.is_some() {
                // A smaller configuration of this member narrows what the others present.
                module
                    .driver()
                    .team
                    .with_route(module.module(), |r| r.map(capability::present_group));
            }
        }
    });
}

/// `FILTER_NET_PNP_EVENT`.
pub(crate) unsafe extern "system" fn filter_net_pnp_event(
    filter_module_context: NDIS_HANDLE,
    net_pnp_event_notification: *mut NET_PNP_EVENT_NOTIFICATION,
) -> NDIS_STATUS {
    with_module(
        filter_module_context,
        NDIS_STATUS_INVALID_PARAMETER,
        |module| {
            // SAFETY: the notification is valid for the duration of this call.
            match unsafe { NetPnpEvent::from_raw(net_pnp_event_notification) } {
                Some(event) => {
                    if event.is_filter_pre_detach() {
                        // The member is leaving: out of service before its pause and detach.
                        module
                            .driver()
                            .team
                            .member_changed(module.module(), MemberChange::PreDetach);
                    }
                    module.net_pnp_event(&event)
                }
                None => NDIS_STATUS_INVALID_PARAMETER,
            }
        },
    )
}

/// `FILTER_DEVICE_PNP_EVENT_NOTIFY`.
pub(crate) unsafe extern "system" fn filter_device_pnp_event_notify(
    filter_module_context: NDIS_HANDLE,
    net_device_pnp_event: *mut NET_DEVICE_PNP_EVENT,
) {
    with_module(filter_module_context, (), |module| {
        // SAFETY: the event is valid for the duration of this call.
        if let Some(event) = unsafe { DevicePnpEvent::from_raw(net_device_pnp_event) } {
            module.device_pnp_event_notify(&event);
        }
    });
}
