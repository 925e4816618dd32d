//! PnP events NDIS sends down a stack: FilterNetPnPEvent (a reconfigure with a random payload,
//! and NetEventFilterPreDetach before detach) and FilterDevicePnPEventNotify (a power-profile
//! change), each recorded so the miniport can check it arrived as issued.

use super::call_filter;
use super::forward::{self, DevicePnpEvent, PnpKind, PnpOwed, read_device_pnp, read_net_pnp};
use super::status::random_port;
use crate::callbacks;
use crate::irql::Irql;
use crate::world::{self, ModState};
use core::ffi::c_void;
use mpfilter::ndis::consts::{
    NDIS_OBJECT_TYPE_DEFAULT, NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1,
    NDIS_STATUS_NOT_SUPPORTED, NDIS_STATUS_SUCCESS, NET_EVENT_FILTER_PRE_DETACH,
    NET_PNP_EVENT_NOTIFICATION_REVISION_1,
};
use mpfilter::ndis::types::{NDIS_OBJECT_HEADER, NET_PNP_EVENT_NOTIFICATION};

/// `NetEventReconfigure`.
const NET_EVENT_RECONFIGURE: i32 = 4;
/// `NdisDevicePnPEventPowerProfileChanged`.
const DEVICE_PNP_POWER_PROFILE_CHANGED: i32 = 5;

/// Whether NDIS may send PnP events to the module now.
fn attached(a: usize) -> bool {
    world::with(|w| {
        matches!(
            w.adapters[a].module.state,
            ModState::Running | ModState::Paused
        )
    })
    .unwrap_or(false)
}

/// A reconfigure event with a random payload, at a random time while the stack is up.
pub(super) fn ndis_net_pnp(a: usize) {
    if !attached(a) {
        return;
    }
    let Some((payload, port, answer)) = world::with(|w| {
        let len = w.rng.range_usize(1, 32);
        let payload: Vec<u8> = (0..len)
            .map(|_| u8::try_from(w.rng.range(0, 255)).unwrap_or(0))
            .collect();
        let answer = if w.rng.chance(50) {
            NDIS_STATUS_SUCCESS
        } else {
            NDIS_STATUS_NOT_SUPPORTED
        };
        (payload, random_port(w), answer)
    }) else {
        return;
    };
    net_pnp(a, NET_EVENT_RECONFIGURE, payload, port, answer);
}

/// NetEventFilterPreDetach (no payload, port 0), which the miniport accepts.
pub(super) fn pre_detach(a: usize) {
    net_pnp(
        a,
        NET_EVENT_FILTER_PRE_DETACH,
        Vec::new(),
        0,
        NDIS_STATUS_SUCCESS,
    );
}

/// Issues one FilterNetPnPEvent and settles it.
fn net_pnp(a: usize, code: i32, mut payload: Vec<u8>, port: u32, answer: i32) {
    // SAFETY: NET_PNP_EVENT_NOTIFICATION is plain data; all-zero is valid.
    let mut ev: Box<NET_PNP_EVENT_NOTIFICATION> = Box::new(unsafe { core::mem::zeroed() });
    ev.Header = NDIS_OBJECT_HEADER::new(
        NDIS_OBJECT_TYPE_DEFAULT,
        NET_PNP_EVENT_NOTIFICATION_REVISION_1,
        NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1,
    );
    ev.PortNumber = port;
    ev.NetPnPEvent.NetEvent = code;
    if !payload.is_empty() {
        ev.NetPnPEvent.Buffer = payload.as_mut_ptr().cast::<c_void>();
        ev.NetPnPEvent.BufferLength = u32::try_from(payload.len()).unwrap_or(0);
    }
    let p = &raw mut *ev;
    // SAFETY: p is the live event just built, its buffer the payload.
    let seen = unsafe { read_net_pnp(p) };
    world::with(|w| {
        forward::pnp_raised(
            w,
            a,
            PnpOwed {
                ptr: p as usize,
                kind: PnpKind::Net,
                seen,
                answer,
                forwarded: false,
            },
        );
    });
    let status = call_filter(Some(a), "FilterNetPnPEvent", Irql::Passive, |h, ctx| {
        // SAFETY: ctx is the module context; the event and its payload outlive the call.
        unsafe { callbacks::net_pnp(h, ctx, p) }
    });
    world::with(|w| {
        let status = match status {
            // No handler: NDIS passes the event down itself.
            Some(None) => {
                // SAFETY: p is still live.
                let now = unsafe { read_net_pnp(p) };
                Some(forward::pnp_forwarded(w, a, PnpKind::Net, p as usize, &now))
            }
            Some(Some(s)) => Some(s),
            None => return,
        };
        forward::pnp_returned(w, a, p as usize, status);
    });
    drop(ev);
    drop(payload);
}

/// A power-profile change (a 4-byte payload) through FilterDevicePnPEventNotify.
pub(super) fn ndis_device_pnp(a: usize) {
    if !attached(a) {
        return;
    }
    let Some((profile, port)) = world::with(|w| (u32::from(w.rng.chance(50)), random_port(w)))
    else {
        return;
    };
    let mut payload = Box::new(profile.to_le_bytes());
    let mut ev = Box::new(DevicePnpEvent {
        header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            1,
            u16::try_from(size_of::<DevicePnpEvent>()).unwrap_or(0),
        ),
        port,
        event: DEVICE_PNP_POWER_PROFILE_CHANGED,
        buffer: payload.as_mut_ptr().cast(),
        len: 4,
        reserved: [0; 16],
    });
    let p = &raw mut *ev;
    // SAFETY: p is the live event just built.
    let seen = unsafe { read_device_pnp(p) };
    world::with(|w| {
        forward::pnp_raised(
            w,
            a,
            PnpOwed {
                ptr: p as usize,
                kind: PnpKind::Device,
                seen,
                answer: NDIS_STATUS_SUCCESS,
                forwarded: false,
            },
        );
    });
    let called = call_filter(
        Some(a),
        "FilterDevicePnPEventNotify",
        Irql::Passive,
        |h, ctx| {
            // SAFETY: ctx is the module context; the event outlives the call.
            unsafe { callbacks::device_pnp(h, ctx, p.cast()) }
        },
    );
    world::with(|w| {
        match called {
            Some(false) => {
                // SAFETY: p is still live.
                let now = unsafe { read_device_pnp(p) };
                forward::pnp_forwarded(w, a, PnpKind::Device, p as usize, &now);
            }
            Some(true) => {}
            None => return,
        }
        forward::pnp_returned(w, a, p as usize, None);
    });
    drop(ev);
    drop(payload);
}
