//! One filter module's lifecycle callbacks: FilterAttach, SetModuleOptions + FilterRestart,
//! FilterPause (with the pause gate), NetEventFilterPreDetach and FilterDetach.

use super::leaks::detach_leaks;
use super::send::proto_send;
use super::{call_filter, lifecycle_deadline, run_until};
use crate::callbacks;
use crate::irql::Irql;
use crate::rules::{Rule, Subject};
use crate::world::{self, AttachStore, ModState, Op, World};
use core::ffi::c_void;
use mpfilter::ndis::consts::{
    MEDIA_CONNECT_STATE_CONNECTED, NDIS_FILTER_ATTACH_PARAMETERS_REVISION_4,
    NDIS_FILTER_PAUSE_PARAMETERS_REVISION_1, NDIS_FILTER_RESTART_PARAMETERS_REVISION_1,
    NDIS_MEDIUM_802_3, NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS,
    NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS, NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS,
    NDIS_SIZEOF_FILTER_ATTACH_PARAMETERS_REVISION_4,
    NDIS_SIZEOF_FILTER_PAUSE_PARAMETERS_REVISION_1,
    NDIS_SIZEOF_FILTER_RESTART_PARAMETERS_REVISION_1, NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS,
};
use mpfilter::ndis::types::{
    NDIS_FILTER_ATTACH_PARAMETERS, NDIS_FILTER_PAUSE_PARAMETERS, NDIS_FILTER_RESTART_PARAMETERS,
    NDIS_OBJECT_HEADER, UNICODE_STRING,
};

fn ustr(s: &str) -> (UNICODE_STRING, Vec<u16>) {
    let v: Vec<u16> = s.encode_utf16().collect();
    let len = u16::try_from(v.len() * 2).unwrap_or(u16::MAX);
    (
        UNICODE_STRING {
            Length: len,
            MaximumLength: len,
            Buffer: std::ptr::null_mut(),
        },
        v,
    )
}

/// FilterAttach for an adapter's module; true if it attached (now Paused).
#[allow(clippy::too_many_lines)]
pub(super) fn attach(a: usize) -> bool {
    let plan = world::with(|w| {
        let drv = w.driver.as_ref()?;
        let drv_ctx = drv.ctx;
        if w.adapters[a].module.state != ModState::Detached {
            return None;
        }
        let cfg = w.adapters[a].cfg.clone();
        // SAFETY: NDIS_FILTER_ATTACH_PARAMETERS is plain data; all-zero is valid.
        let zeroed: NDIS_FILTER_ATTACH_PARAMETERS = unsafe { core::mem::zeroed() };
        let mut store = Box::new(AttachStore {
            params: zeroed,
            offload: super::limits::offload_of(&cfg),
            strings: vec![
                ustr(&format!(
                    "{{5CBF81BD-5055-47CD-9055-A76B2B4E3{a:03X}}}-{{mpfilter}}-0000"
                )),
                ustr(&cfg.name),
                ustr(&format!(
                    "\\DEVICE\\{{5CBF81BD-5055-47CD-9055-A76B2B4E3{a:03X}}}"
                )),
            ],
        });
        for s in &mut store.strings {
            s.0.Buffer = s.1.as_mut_ptr();
        }
        let p: &mut NDIS_FILTER_ATTACH_PARAMETERS = &mut store.params;
        p.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS,
            NDIS_FILTER_ATTACH_PARAMETERS_REVISION_4,
            NDIS_SIZEOF_FILTER_ATTACH_PARAMETERS_REVISION_4,
        );
        p.IfIndex = cfg.filter_if_index();
        p.NetLuid = (6u64 << 48) | u64::from(cfg.filter_if_index());
        p.FilterModuleGuidName = &raw mut store.strings[0].0;
        p.BaseMiniportIfIndex = cfg.if_index;
        p.BaseMiniportInstanceName = &raw mut store.strings[1].0;
        p.BaseMiniportName = &raw mut store.strings[2].0;
        p.MediaConnectState = if w.adapters[a].mp.link.up {
            MEDIA_CONNECT_STATE_CONNECTED
        } else {
            mpfilter::ndis::consts::MEDIA_CONNECT_STATE_DISCONNECTED
        };
        p.MediaDuplexState = 2;
        p.XmitLinkSpeed = cfg.link_speed_bps;
        p.RcvLinkSpeed = cfg.link_speed_bps;
        p.MiniportMediaType = NDIS_MEDIUM_802_3;
        p.MiniportPhysicalMediaType = 14; // NdisPhysicalMedium802_3
        p.MacAddressLength = 6;
        p.CurrentMacAddress[..6].copy_from_slice(&cfg.mac);
        p.BaseMiniportNetLuid = (6u64 << 48) | u64::from(cfg.if_index);
        p.LowerIfIndex = cfg.if_index;
        p.LowerIfNetLuid = p.BaseMiniportNetLuid;
        p.BaseMiniportIfConnectorPresent = 1;
        let store = world::Heap::new(*store);
        // SAFETY: the live attach store; the pointer derives from its raw pointer.
        let pp = unsafe { &raw mut (*store.ptr()).params };
        // SAFETY: as above; the offload configuration lives in the same store.
        let offload = unsafe { &raw mut (*store.ptr()).offload };
        // SAFETY: `pp` points into the live store.
        unsafe { (*pp).DefaultOffloadConfiguration = offload.cast() };
        let m = &mut w.adapters[a].module;
        m.attach = Some(store);
        m.state = ModState::Attaching;
        m.attrs_set = false;
        m.ctx = 0;
        m.stats.attaches += 1;
        Some((m.token.addr(), drv_ctx, pp as usize))
    });
    let Some(Some((handle, drv_ctx, params))) = plan else {
        return false;
    };
    let status = call_filter(Some(a), "FilterAttach", Irql::Passive, |h, _| {
        // SAFETY: arguments as NDIS passes them; the parameters live in the module record.
        unsafe {
            callbacks::attach(
                h,
                handle as *mut c_void,
                drv_ctx as *mut c_void,
                params as *mut _,
            )
        }
    })
    .flatten();
    world::with(|w| {
        let m = &mut w.adapters[a].module;
        if status == Some(NDIS_STATUS_SUCCESS) {
            if !m.attrs_set {
                w.violate(
                    Rule::AttachNoSetAttributes,
                    Subject::Handle(handle),
                    "-",
                    "FilterAttach returned NDIS_STATUS_SUCCESS without calling NdisFSetAttributes",
                );
                return false;
            }
            m.state = ModState::Paused;
            // What the protocol binds to: the offload configuration as the filter left it.
            let lso = m.attach.as_ref().map(|s| {
                // SAFETY: the live attach store; the filter's FilterAttach has returned.
                let o = unsafe { (*s.ptr()).offload };
                let limit = |e: u32, max: u32| if e == 0 { 0 } else { max };
                (
                    limit(o.LsoV2IPv4.Encapsulation, o.LsoV2IPv4.MaxOffLoadSize),
                    limit(o.LsoV2IPv6.Encapsulation, o.LsoV2IPv6.MaxOffLoadSize),
                )
            });
            let (v4, v6) = lso.unwrap_or((0, 0));
            w.adapters[a].proto.lso_view = v4;
            w.adapters[a].proto.lso6_view = v6;
            true
        } else {
            m.state = ModState::Detached;
            false
        }
    })
    .unwrap_or(false)
}

/// SetModuleOptions + FilterRestart; true if the module is Running.
#[allow(clippy::too_many_lines)]
pub(super) fn restart_module(a: usize) -> bool {
    let ok = world::with(|w| {
        let m = &mut w.adapters[a].module;
        if m.state != ModState::Paused {
            return false;
        }
        m.state = ModState::Restarting;
        m.restart = Op::InCallback;
        m.stats.restarts += 1;
        true
    });
    if ok != Some(true) {
        return false;
    }
    let opt = call_filter(
        Some(a),
        "FilterSetModuleOptions",
        Irql::Passive,
        |h, ctx| {
            // SAFETY: ctx is the module context.
            unsafe { callbacks::set_module_options(h, ctx) }
        },
    )
    .flatten();
    if opt.is_some_and(|s| s != NDIS_STATUS_SUCCESS) {
        world::with(|w| {
            let m = &mut w.adapters[a].module;
            m.state = ModState::Paused;
            m.restart = Op::Idle;
        });
        return false;
    }
    let mut params = NDIS_FILTER_RESTART_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS,
            NDIS_FILTER_RESTART_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_FILTER_RESTART_PARAMETERS_REVISION_1,
        ),
        MediaType: NDIS_MEDIUM_802_3,
        PhysicalMediumType: 14,
        RestartAttributes: std::ptr::null_mut(),
        LowerIfIndex: 0,
        LowerIfNetLuid: 0,
        Flags: 0,
    };
    let mut attributes = world::with(|w| super::restart_attrs::general(&w.adapters[a].cfg))
        .expect("the adapter exists");
    params.RestartAttributes = attributes.as_list();
    if let Some(idx) = world::with(|w| w.adapters[a].cfg.if_index) {
        params.LowerIfIndex = idx;
        params.LowerIfNetLuid = (6u64 << 48) | u64::from(idx);
    }
    let pp = &raw mut params;
    let status = call_filter(Some(a), "FilterRestart", Irql::Passive, |h, ctx| {
        // SAFETY: ctx is the module context; the parameters outlive the call.
        unsafe { callbacks::restart(h, ctx, pp) }
    })
    .flatten()
    .unwrap_or(NDIS_STATUS_SUCCESS);
    // What the protocol sees: the MTU as the filter left it in the restart attributes.
    world::with(|w| w.adapters[a].proto.mtu_view = attributes.mtu());
    let pending = world::with(|w| {
        let m = &mut w.adapters[a].module;
        match (status, m.restart) {
            (NDIS_STATUS_PENDING, Op::CompletedEarly) => {
                m.stats.restarts_pending += 1;
                m.restart = Op::Idle;
                m.state = if m.restart_status == NDIS_STATUS_SUCCESS {
                    ModState::Running
                } else {
                    ModState::Paused
                };
                false
            }
            (NDIS_STATUS_PENDING, _) => {
                m.stats.restarts_pending += 1;
                m.restart = Op::Pending;
                true
            }
            (_, Op::CompletedEarly) => {
                let h = m.token.addr();
                w.violate(
                    Rule::RestartCompleteNotPending,
                    Subject::Handle(h),
                    "-",
                    "FilterRestart called NdisFRestartComplete and then returned a status other than PENDING",
                );
                false
            }
            (s, _) => {
                m.restart = Op::Idle;
                m.state = if s == NDIS_STATUS_SUCCESS {
                    ModState::Running
                } else {
                    ModState::Paused
                };
                false
            }
        }
    });
    if pending == Some(true) {
        let dl = lifecycle_deadline();
        let done = run_until(|w| w.adapters[a].module.restart == Op::Idle, dl);
        if !done {
            world::with(|w| {
                if !w.halted {
                    let h = w.module_handle(a);
                    w.violate(
                        Rule::RestartNeverCompleted,
                        Subject::Handle(h),
                        "-",
                        "FilterRestart returned PENDING and NdisFRestartComplete never came",
                    );
                }
            });
        }
    }
    world::with(|w| w.adapters[a].module.state == ModState::Running).unwrap_or(false)
}

/// FilterPause, waiting for NdisFPauseComplete if it pends; true when Paused.
#[allow(clippy::too_many_lines)]
pub(super) fn pause_module(a: usize, probe: bool) -> bool {
    // NDIS pauses a module once the drivers above are quiet: in threads mode a
    // FilterSendNetBufferLists into it another processor is still in finishes first.
    let dl = lifecycle_deadline();
    run_until(|w| !w.census.in_send.values().any(|&(_, m)| m == a), dl);
    let ok = world::with(|w| {
        let m = &mut w.adapters[a].module;
        if m.state != ModState::Running {
            return false;
        }
        m.state = ModState::Pausing;
        w.census.stamp += 1;
        let m = &mut w.adapters[a].module;
        m.pausing_since = w.census.stamp;
        m.pause = Op::InCallback;
        m.stats.pauses += 1;
        true
    });
    if ok != Some(true) {
        return false;
    }
    let mut params = NDIS_FILTER_PAUSE_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS,
            NDIS_FILTER_PAUSE_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_FILTER_PAUSE_PARAMETERS_REVISION_1,
        ),
        Flags: 0,
        PauseReason: 0x4, // NDIS_PAUSE_FILTER_RESTART_STACK
    };
    let pp = &raw mut params;
    let status = call_filter(Some(a), "FilterPause", Irql::Passive, |h, ctx| {
        // SAFETY: ctx is the module context; the parameters outlive the call.
        unsafe { callbacks::pause(h, ctx, pp) }
    })
    .flatten()
    .unwrap_or(NDIS_STATUS_SUCCESS);
    let pending = world::with(|w| {
        let h = w.module_handle(a);
        let op = w.adapters[a].module.pause;
        if status == NDIS_STATUS_PENDING && w.outstanding(a).2 > 0 {
            w.adapters[a].module.stats.pauses_pending_sends_below += 1;
        }
        match (status, op) {
            (NDIS_STATUS_PENDING, Op::CompletedEarly) => {
                let m = &mut w.adapters[a].module;
                m.stats.pauses_pending += 1;
                m.pause = Op::Idle;
                m.state = ModState::Paused;
                false
            }
            (NDIS_STATUS_PENDING, _) => {
                let m = &mut w.adapters[a].module;
                m.stats.pauses_pending += 1;
                m.pause = Op::Pending;
                true
            }
            (_, Op::CompletedEarly) => {
                w.violate(
                    Rule::PauseCompleteNotPending,
                    Subject::Handle(h),
                    "-",
                    "FilterPause called NdisFPauseComplete and then returned a status other than PENDING",
                );
                false
            }
            (s, _) => {
                if s != NDIS_STATUS_SUCCESS {
                    w.violate(
                        Rule::PauseFailed,
                        Subject::Handle(h),
                        "-",
                        format!("FilterPause returned {s:#x}; a pause cannot fail"),
                    );
                    return false;
                }
                if !pause_gate_ok(w, a, "FilterPause returned SUCCESS") {
                    return false;
                }
                let m = &mut w.adapters[a].module;
                m.pause = Op::Idle;
                m.state = ModState::Paused;
                false
            }
        }
    });
    if pending == Some(true) {
        if probe {
            proto_send(a, true);
        }
        let dl = lifecycle_deadline();
        let done = run_until(|w| w.adapters[a].module.pause == Op::Idle, dl);
        if !done {
            world::with(|w| {
                if !w.halted {
                    let h = w.module_handle(a);
                    let o = w.outstanding(a);
                    w.violate(
                        Rule::PauseNeverCompleted,
                        Subject::Handle(h),
                        "-",
                        format!(
                            "FilterPause returned PENDING and NdisFPauseComplete never came (held from above {}, from below {}, below {}, above {})",
                            o.0, o.1, o.2, o.3
                        ),
                    );
                }
            });
        }
    }
    world::with(|w| w.adapters[a].module.state == ModState::Paused).unwrap_or(false)
}

/// The pause gate: nothing outstanding on the module. Records a violation if not.
pub(crate) fn pause_gate_ok(w: &mut World, a: usize, when: &str) -> bool {
    let o = w.outstanding(a);
    if o == (0, 0, 0, 0) {
        return true;
    }
    let h = w.module_handle(a);
    w.violate(
        Rule::PauseOutstanding,
        Subject::Handle(h),
        "-",
        format!(
            "{when} with NBLs outstanding: held from above {}, held from below {}, sent below {}, indicated above {}",
            o.0, o.1, o.2, o.3
        ),
    );
    false
}

/// NetPnPEvent(NetEventFilterPreDetach), FilterDetach, then the module's leak check.
pub(super) fn detach(a: usize) {
    super::threads::quiet_module(a);
    let ok = world::with(|w| w.adapters[a].module.state == ModState::Paused);
    if ok != Some(true) {
        return;
    }
    call_filter(Some(a), "FilterDetach", Irql::Passive, |h, ctx| {
        // SAFETY: ctx is the module context.
        unsafe { callbacks::detach(h, ctx) }
    });
    world::with(|w| {
        let m = &mut w.adapters[a].module;
        m.state = ModState::Detached;
        m.stats.detaches += 1;
        m.attach = None;
        if !w.halted {
            detach_leaks(w, a);
        }
    });
}
