//! The data path: NdisFSendNetBufferLists, NdisFSendNetBufferListsComplete,
//! NdisFIndicateReceiveNetBufferLists, NdisFReturnNetBufferLists, NdisFCancelSendNetBufferLists.

use super::checks;
use crate::abi::Abi;
use crate::machine;
use crate::nblmem::{self, SnapMask};
use crate::rules::{Rule, Subject};
use crate::world::{self, Came, Event, ModState, NState, Origin, World};
use core::ffi::c_void;
use mpfilter::ndis::consts::{
    NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL, NDIS_RECEIVE_FLAGS_RESOURCES,
    NDIS_RETURN_FLAGS_DISPATCH_LEVEL, NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL,
    NDIS_SEND_FLAGS_DISPATCH_LEVEL, NDIS_STATUS_PAUSED, NET_BUFFER_LIST_CANCEL_ID,
};
use mpfilter::ndis::types::{NDIS_HANDLE, NET_BUFFER_LIST};

fn describe(s: NState) -> String {
    match s {
        NState::Free => "freed".into(),
        NState::Emu => "owned by NDIS".into(),
        NState::Filter { module, came } => {
            format!("held by the filter ({came:?}, module {module:?})")
        }
        NState::Below { module, .. } => {
            format!("still below the filter (sent on adapter {module})")
        }
        NState::Up { module, .. } => format!("still indicated above the filter (adapter {module})"),
        NState::Resources { module } => {
            format!("lent in a RESOURCES indication (adapter {module})")
        }
    }
}

/// `NdisFSendNetBufferLists`.
///
/// # Safety
/// The chain is read only through NBLs the emulator allocated.
pub unsafe fn send(_abi: Abi, h: NDIS_HANDLE, head: *mut NET_BUFFER_LIST, port: u32, flags: u32) {
    const CALL: &str = "NdisFSendNetBufferLists";
    world::with(|w| {
        let Some(a) = checks::data_call(
            w,
            CALL,
            h as usize,
            head as usize,
            flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0,
            Some(Rule::StateSendNotRunning),
        ) else {
            return;
        };
        let Some(nbls) = checks::chain(w, CALL, head as usize, Rule::SendNotOwned, |o| {
            matches!(o, Origin::ProtoTx(_) | Origin::MpRx(_))
        }) else {
            return;
        };
        let mh = h as usize;
        let mut cames = Vec::with_capacity(nbls.len());
        for &n in &nbls {
            let t = &w.nbls[&n];
            // SAFETY: n is a live emulator NBL (walked).
            let src = unsafe { nblmem::nbl_mut(n) }.SourceHandle as usize;
            match t.state {
                NState::Filter {
                    module: Some(m),
                    came: Came::Above,
                } if m == a => {
                    if src != t.source {
                        let was = t.source;
                        w.violate(
                            Rule::NblSourceHandleModified,
                            Subject::Nbl(n),
                            CALL,
                            format!("SourceHandle {src:#x}, the protocol set {was:#x}"),
                        );
                        return;
                    }
                    if !checks::same_port(w, CALL, n, port) {
                        return;
                    }
                    cames.push(Came::Above);
                }
                NState::Filter {
                    came: Came::Own, ..
                } => {
                    if src != mh {
                        w.violate(
                            Rule::NblSourceHandleNotFilter,
                            Subject::Nbl(n),
                            CALL,
                            format!(
                                "SourceHandle {src:#x}, the sending module's handle is {mh:#x}"
                            ),
                        );
                        return;
                    }
                    cames.push(Came::Own);
                }
                s => {
                    w.violate(
                        Rule::SendNotOwned,
                        Subject::Nbl(n),
                        CALL,
                        format!("the NBL is {}", describe(s)),
                    );
                    return;
                }
            }
            if !checks::no_children(w, CALL, n, Rule::CloneParentPassedOn) {
                return;
            }
        }
        for (&n, &came) in nbls.iter().zip(&cames) {
            // SAFETY: n is live; it now goes below.
            let snap = unsafe { nblmem::snapshot(n, SnapMask::WhileAway) };
            if let Some(t) = w.nbls.get_mut(&n) {
                t.away_snap = snap;
                t.state = NState::Below { module: a, came };
            }
        }
        machine::at_miniport_edge(w, a, &nbls, flags);
        machine::mp_enqueue(w, a, &nbls);
    });
}

/// `NdisFSendNetBufferListsComplete`.
///
/// # Safety
/// As for [`send`].
pub unsafe fn send_complete(_abi: Abi, h: NDIS_HANDLE, head: *mut NET_BUFFER_LIST, flags: u32) {
    const CALL: &str = "NdisFSendNetBufferListsComplete";
    world::with(|w| {
        let Some(a) = checks::data_call(
            w,
            CALL,
            h as usize,
            head as usize,
            flags & NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL != 0,
            None,
        ) else {
            return;
        };
        let Some(nbls) = checks::chain(w, CALL, head as usize, Rule::SendCompleteTwice, |o| {
            matches!(o, Origin::ProtoTx(_))
        }) else {
            return;
        };
        for &n in &nbls {
            let t = &w.nbls[&n];
            match (t.state, t.origin) {
                (
                    NState::Filter {
                        module: Some(m),
                        came: Came::Above,
                    },
                    _,
                ) if m == a => {}
                (
                    NState::Filter {
                        module: Some(m),
                        came: Came::Above,
                    },
                    _,
                ) => {
                    w.violate(
                        Rule::SendCompleteWrongModule,
                        Subject::Nbl(n),
                        CALL,
                        format!("came down adapter {m}'s module, completed on adapter {a}'s"),
                    );
                    return;
                }
                (
                    NState::Filter {
                        came: Came::Own, ..
                    },
                    _,
                )
                | (_, Origin::Pool | Origin::Clone { .. }) => {
                    w.violate(
                        Rule::SendCompleteOwnNbl,
                        Subject::Nbl(n),
                        CALL,
                        "the filter's own NBL completed upward",
                    );
                    return;
                }
                (s, _) => {
                    w.violate(
                        Rule::SendCompleteNotOwned,
                        Subject::Nbl(n),
                        CALL,
                        format!("the NBL is {}", describe(s)),
                    );
                    return;
                }
            }
            let probe = t.probe;
            if !checks::no_children(w, CALL, n, Rule::CloneParentCompletedWithChildren) {
                return;
            }
            if !completion_status(w, a, n, probe, CALL) {
                return;
            }
            if !machine::handback_ok(w, n, CALL) {
                return;
            }
        }
        for &n in &nbls {
            if let Some(Origin::ProtoTx(x)) = w.nbls.get(&n).map(|t| t.origin) {
                machine::proto_send_completed(w, x, n);
            }
        }
    });
}

/// The status an NBL from above is completed with: NDIS_STATUS_PAUSED exactly for the pause
/// probes (sent while the module was not Running), and never while the module is Running.
fn completion_status(w: &mut World, a: usize, n: usize, probe: bool, call: &'static str) -> bool {
    // SAFETY: n is live (walked).
    let status = unsafe { nblmem::nbl_mut(n) }.Status;
    if probe && status != NDIS_STATUS_PAUSED {
        w.violate(
            Rule::SendPausedStatus,
            Subject::Nbl(n),
            call,
            format!("sent while the module was not Running, completed with {status:#x}"),
        );
        return false;
    }
    if !probe && status == NDIS_STATUS_PAUSED && w.adapters[a].module.state == ModState::Running {
        w.violate(
            Rule::SendPausedWhileRunning,
            Subject::Nbl(n),
            call,
            "completed with NDIS_STATUS_PAUSED while the module is Running",
        );
        return false;
    }
    true
}

/// `NdisFIndicateReceiveNetBufferLists`.
#[allow(clippy::too_many_lines)]
///
/// # Safety
/// As for [`send`].
pub unsafe fn indicate(
    _abi: Abi,
    h: NDIS_HANDLE,
    head: *mut NET_BUFFER_LIST,
    port: u32,
    count: u32,
    flags: u32,
) {
    const CALL: &str = "NdisFIndicateReceiveNetBufferLists";
    world::with(|w| {
        let Some(a) = checks::data_call(
            w,
            CALL,
            h as usize,
            head as usize,
            flags & NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL != 0,
            Some(Rule::StateIndicateNotRunning),
        ) else {
            return;
        };
        let Some(nbls) = checks::chain(w, CALL, head as usize, Rule::RecvIndicateNotOwned, |o| {
            matches!(o, Origin::MpRx(_) | Origin::ProtoTx(_))
        }) else {
            return;
        };
        if nbls.len() != count as usize {
            w.violate(
                Rule::RecvCountMismatch,
                Subject::Nbl(head as usize),
                CALL,
                format!("NumberOfNetBufferLists {count}, chain has {}", nbls.len()),
            );
            return;
        }
        let resources = flags & NDIS_RECEIVE_FLAGS_RESOURCES != 0;
        let mh = h as usize;
        let mut plan = Vec::with_capacity(nbls.len());
        for &n in &nbls {
            let t = &w.nbls[&n];
            // SAFETY: n is a live emulator NBL (walked).
            let src = unsafe { nblmem::nbl_mut(n) }.SourceHandle as usize;
            let came = match t.state {
                NState::Filter {
                    module: Some(m),
                    came: Came::Below,
                } if m == a => Came::Below,
                NState::Resources { module } if module == a => {
                    if !resources {
                        w.violate(
                            Rule::RecvResourcesIndicatedWithoutFlag,
                            Subject::Nbl(n),
                            CALL,
                            "received with RESOURCES, indicated up without it",
                        );
                        return;
                    }
                    Came::Below
                }
                NState::Filter {
                    came: Came::Own, ..
                } => Came::Own,
                s => {
                    w.violate(
                        Rule::RecvIndicateNotOwned,
                        Subject::Nbl(n),
                        CALL,
                        format!("the NBL is {}", describe(s)),
                    );
                    return;
                }
            };
            if came == Came::Below && !checks::same_port(w, CALL, n, port) {
                return;
            }
            let t = &w.nbls[&n];
            if came == Came::Below && src != t.source {
                let was = t.source;
                w.violate(
                    Rule::NblSourceHandleModified,
                    Subject::Nbl(n),
                    CALL,
                    format!("SourceHandle {src:#x}, the miniport set {was:#x}"),
                );
                return;
            }
            if came == Came::Own && src != mh {
                w.violate(
                    Rule::NblSourceHandleNotFilter,
                    Subject::Nbl(n),
                    CALL,
                    format!("SourceHandle {src:#x}, the indicating module's handle is {mh:#x}"),
                );
                return;
            }
            let prev = t.state;
            if !checks::no_children(w, CALL, n, Rule::CloneParentPassedOn) {
                return;
            }
            plan.push((n, prev, came));
        }
        for &(n, _, came) in &plan {
            // SAFETY: n is live; it now goes above.
            let snap = unsafe { nblmem::snapshot(n, SnapMask::WhileAway) };
            if let Some(t) = w.nbls.get_mut(&n) {
                t.away_snap = snap;
                t.state = NState::Up {
                    module: a,
                    came,
                    resources,
                };
            }
        }
        machine::proto_receive(w, a, &nbls, resources);
        if resources {
            for &(n, prev, _) in &plan {
                if let Some(t) = w.nbls.get_mut(&n) {
                    t.state = prev;
                }
            }
        }
    });
}

/// `NdisFReturnNetBufferLists`.
///
/// # Safety
/// As for [`send`].
pub unsafe fn return_nbls(_abi: Abi, h: NDIS_HANDLE, head: *mut NET_BUFFER_LIST, flags: u32) {
    const CALL: &str = "NdisFReturnNetBufferLists";
    world::with(|w| {
        let Some(a) = checks::data_call(
            w,
            CALL,
            h as usize,
            head as usize,
            flags & NDIS_RETURN_FLAGS_DISPATCH_LEVEL != 0,
            None,
        ) else {
            return;
        };
        let Some(nbls) = checks::chain(w, CALL, head as usize, Rule::RecvReturnTwice, |o| {
            matches!(o, Origin::MpRx(_))
        }) else {
            return;
        };
        for &n in &nbls {
            let t = &w.nbls[&n];
            match t.state {
                NState::Filter {
                    module: Some(m),
                    came: Came::Below,
                } if m == a => {}
                NState::Filter {
                    module: Some(m),
                    came: Came::Below,
                } => {
                    w.violate(
                        Rule::RecvReturnWrongModule,
                        Subject::Nbl(n),
                        CALL,
                        format!("received on adapter {m}'s module, returned on adapter {a}'s"),
                    );
                    return;
                }
                NState::Resources { .. } => {
                    w.violate(
                        Rule::RecvReturnResources,
                        Subject::Nbl(n),
                        CALL,
                        "the NBL was indicated with NDIS_RECEIVE_FLAGS_RESOURCES",
                    );
                    return;
                }
                s => {
                    w.violate(
                        Rule::RecvReturnNotOwned,
                        Subject::Nbl(n),
                        CALL,
                        format!("the NBL is {}", describe(s)),
                    );
                    return;
                }
            }
            if !checks::no_children(w, CALL, n, Rule::CloneParentCompletedWithChildren) {
                return;
            }
            if !machine::handback_ok(w, n, CALL) {
                return;
            }
        }
        for &n in &nbls {
            if let Some(Origin::MpRx(x)) = w.nbls.get(&n).map(|t| t.origin) {
                machine::mp_reclaim(w, x, n, true);
            }
        }
    });
}

/// `NdisFCancelSendNetBufferLists`: the miniport completes queued NBLs with this cancel id.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn cancel_send(_abi: Abi, h: NDIS_HANDLE, id: *mut c_void) {
    const CALL: &str = "NdisFCancelSendNetBufferLists";
    world::with(|w| {
        let Some(a) = checks::module(w, CALL, h as usize) else {
            return;
        };
        machine::forward::cancel_forwarded(w, a, machine::forward::CancelKind::Send, id as usize);
        let queue = std::mem::take(&mut w.adapters[a].mp.tx_queue);
        let (mut hit, mut keep) = (Vec::new(), std::collections::VecDeque::new());
        for (i, n) in queue.into_iter().enumerate() {
            // SAFETY: queued NBLs are live emulator NBLs.
            let slot = unsafe { nblmem::nbl_mut(n) }.NetBufferListInfo[NET_BUFFER_LIST_CANCEL_ID];
            // The head is on the wire already: it cannot be cancelled.
            if i > 0 && !id.is_null() && slot == id {
                hit.push(n);
            } else {
                keep.push_back(n);
            }
        }
        w.adapters[a].mp.tx_queue = keep;
        if !hit.is_empty() {
            w.adapters[a].stats.mp_tx_cancelled += u64::try_from(hit.len()).unwrap_or(u64::MAX);
            for &n in &hit {
                w.cancelled.insert(n);
            }
            w.sched.after(1, Event::Complete(a, hit));
        }
    });
}
