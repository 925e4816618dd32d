//! Checks shared by the exported functions.

use crate::rules::{Rule, Subject};
use crate::world::{HandleKind, ModState, NState, Origin, World};

/// PASSIVE_LEVEL-only call: records `irql.passive-only` when called at DISPATCH_LEVEL.
pub(super) fn passive(w: &mut World, call: &'static str, subject: Subject) -> bool {
    if w.irql.is_dispatch() {
        w.violate(
            Rule::IrqlPassiveOnly,
            subject,
            call,
            "PASSIVE_LEVEL-only function called at DISPATCH_LEVEL",
        );
        return false;
    }
    true
}

/// The callbacks NDIS may call at any IRQL up to DISPATCH_LEVEL without telling the filter
/// which: inside them the filter does not know the IRQL.
const IRQL_UNKNOWN_IN: [&str; 4] = [
    "FilterCancelSendNetBufferLists",
    "FilterStatus",
    "FilterOidRequestComplete",
    "FilterCancelOidRequest",
];

/// Whether the filter knows the current IRQL: anywhere but in the callbacks of
/// [`IRQL_UNKNOWN_IN`], unless it holds a spin lock there (it raised the IRQL itself).
fn irql_known(w: &World) -> bool {
    let unknown = w
        .frames
        .last()
        .is_some_and(|f| IRQL_UNKNOWN_IN.contains(&f.name));
    let cpu = w.kernel.cpu;
    !unknown
        || w.kernel
            .locks
            .values()
            .any(|h| h.is_some_and(|h| h.cpu == cpu))
}

/// The DISPATCH bit of a data-path call's flags says what the IRQL is: never set below
/// DISPATCH_LEVEL, and set at DISPATCH_LEVEL wherever the filter knows the IRQL. Where it does
/// not (a callback of [`IRQL_UNKNOWN_IN`]), a clear bit is what the documentation asks for.
pub(super) fn dispatch_flag(
    w: &mut World,
    call: &'static str,
    flag: bool,
    subject: Subject,
) -> bool {
    let at_dispatch = w.irql.is_dispatch();
    if flag != at_dispatch && (flag || irql_known(w)) {
        let irql = w.irql;
        w.violate(
            Rule::IrqlDispatchFlagMismatch,
            subject,
            call,
            format!(
                "DISPATCH_LEVEL flag {} but the caller runs at {irql}",
                if flag { "set" } else { "clear" }
            ),
        );
        return false;
    }
    true
}

/// The common entry of the NBL-chain calls (send, send-complete, indicate, return): a module handle,
/// a DISPATCH bit that tells the truth and — for the calls that pass NBLs on, named by
/// `not_running` — a Running module. Returns the adapter.
pub(super) fn data_call(
    w: &mut World,
    call: &'static str,
    h: usize,
    head: usize,
    dispatch: bool,
    not_running: Option<Rule>,
) -> Option<usize> {
    let a = module(w, call, h)?;
    let subject = Subject::Nbl(head);
    if !dispatch_flag(w, call, dispatch, subject) {
        return None;
    }
    if let Some(rule) = not_running {
        let m = &w.adapters[a].module;
        // In threads mode a callback this processor entered before the module began to pause
        // may still send on it: FilterPause (on another processor) then waits for that send.
        let began_running = m.state == ModState::Pausing
            && w.census.threads()
            && w.census.here.entered < m.pausing_since;
        let state = m.state;
        w.census.across_pause += u64::from(began_running);
        if state != ModState::Running && !began_running {
            w.violate(rule, subject, call, format!("module is {state:?}"));
            return None;
        }
    }
    Some(a)
}

/// The adapter of a module handle, or `handle.invalid`.
pub(super) fn module(w: &mut World, call: &'static str, h: usize) -> Option<usize> {
    let a = w.module_of(h);
    if a.is_none() {
        let what = match w.handles.get(&h) {
            Some(k) => format!("a {k:?} handle where a filter module handle is required"),
            None => "not a handle NDIS gave the driver".to_string(),
        };
        w.violate(Rule::HandleInvalid, Subject::Handle(h), call, what);
    }
    a
}

/// Whether a handle is the driver's or one of its modules' (what pools and optional handlers take).
pub(super) fn driver_or_module(w: &mut World, call: &'static str, h: usize) -> bool {
    if let Some(HandleKind::Driver | HandleKind::Module(_)) = w.handles.get(&h) {
        return true;
    }
    w.violate(
        Rule::HandleInvalid,
        Subject::Handle(h),
        call,
        "not the filter driver handle or a filter module handle",
    );
    false
}

/// Walks a chain the driver passed; an unknown or freed NBL is reported with `freed_rule` when it
/// is a freed NBL of `freed_origin` (e.g. completing a protocol NBL twice), else `nbl.unknown`.
pub(super) fn chain(
    w: &mut World,
    call: &'static str,
    head: usize,
    freed_rule: Rule,
    freed_origin: fn(Origin) -> bool,
) -> Option<Vec<usize>> {
    if head == 0 {
        w.violate(Rule::NblUnknown, Subject::Nbl(0), call, "NULL NBL chain");
        return None;
    }
    match w.walk(head) {
        Ok(v) => Some(v),
        Err((bad, why)) if why == crate::world::CHAIN_CYCLE => {
            w.violate(Rule::NblChainCycle, Subject::Nbl(bad), call, why);
            None
        }
        Err((bad, why)) => {
            let freed = w
                .nbls
                .get(&bad)
                .is_some_and(|t| t.state == NState::Free && freed_origin(t.origin));
            let rule = if freed { freed_rule } else { Rule::NblUnknown };
            w.violate(rule, Subject::Nbl(bad), call, why);
            None
        }
    }
}

/// A live clone parent may not be passed on or handed back.
pub(super) fn no_children(w: &mut World, call: &'static str, nbl: usize, rule: Rule) -> bool {
    let live = w.children.get(&nbl).copied().unwrap_or(0);
    if live > 0 {
        w.violate(
            rule,
            Subject::Nbl(nbl),
            call,
            format!("{live} clone(s) of this NBL are still live"),
        );
        return false;
    }
    true
}

/// A live NBL (known and not freed), or `nbl.unknown`.
pub(super) fn live_nbl(w: &mut World, call: &'static str, nbl: usize) -> bool {
    match w.nbls.get(&nbl) {
        Some(t) if t.state != NState::Free => true,
        Some(_) => {
            w.violate(
                Rule::NblUnknown,
                Subject::Nbl(nbl),
                call,
                "NBL was already freed",
            );
            false
        }
        None => {
            w.violate(
                Rule::NblUnknown,
                Subject::Nbl(nbl),
                call,
                "not an NBL NDIS allocated",
            );
            false
        }
    }
}

/// An NBL from another driver goes on with the port number it came with.
pub(super) fn same_port(w: &mut World, call: &'static str, nbl: usize, port: u32) -> bool {
    let Some(was) = w.nbls.get(&nbl).map(|t| t.port) else {
        return true;
    };
    if was == port {
        return true;
    }
    w.violate(
        Rule::ForwardPortAltered,
        Subject::Nbl(nbl),
        call,
        format!("arrived on port {was}, passed on on port {port}"),
    );
    false
}
