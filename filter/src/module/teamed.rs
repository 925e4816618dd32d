//! The send path of a module in a path group: every NBL's path is chosen inline, NBLs for another
//! member go down that member's stack as clones (children), and NBLs a path fails are sent again
//! on a survivor.
//!
//! IRQL and serialisation as for `send` and `send_complete`: <= DISPATCH_LEVEL, concurrently on
//! many CPUs, with completions and pauses. Nothing here allocates memory of its own or takes a
//! lock: the engine's hot path is lock-free, the members' pause gates are single CASes, and the
//! only NDIS allocations are the clone (from the target member's pool) and the 32-byte send
//! context that carries an NBL's accounting from its send to its completion.
//!
//! Ownership, end to end (docs/design.md, "life of a teamed NBL"):
//! - An NBL from the protocol above module A is counted in A's pause gate from
//!   FilterSendNetBufferLists until A completes it up: A's pause waits for it wherever it is.
//! - Sent on A itself, it carries a send context (kind `DIRECT`) and comes back through A's
//!   FilterSendNetBufferListsComplete among A's pass-through NBLs.
//! - Sent on member B, it becomes the parent of one clone from B's pool (SourceHandle = B's
//!   filter handle, counted in B's pause gate: B's pause waits for it) carrying the send context
//!   (kind `CHILD`, with A's seat). B's FilterSendNetBufferListsComplete separates its children by
//!   SourceHandle, frees each, and completes the parent on A's handle.
//! - A completion with a path failure status sends the NBL again (at most [`MAX_RESENDS`] times),
//!   preferring another path; otherwise the NBL completes with the status it got.

use super::capability::{Need, incapable_paths};
use super::parking::Parking;
use super::route::{MAX_RESENDS, NONE, Route};
use super::state::ModuleState;
use super::{Module, count};
use crate::config::AllDown;
use crate::diag::{self, Event};
use crate::engine::types::MAX_PATHS;
use crate::engine::{
    Attention, Completion, CompletionStatus, PathId, Selection, SendError, SendRequest, TargetKey,
};
use crate::flow;
use crate::ndis::consts::{
    NDIS_SEND_FLAGS_DISPATCH_LEVEL, NDIS_STATUS_BUFFER_TOO_SHORT, NDIS_STATUS_INVALID_LENGTH,
    NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_MEDIA_DISCONNECTED, NDIS_STATUS_NOT_SUPPORTED,
    NDIS_STATUS_PAUSED, NDIS_STATUS_REQUEST_ABORTED, NDIS_STATUS_RESOURCES,
    NDIS_STATUS_SEND_ABORTED, NDIS_STATUS_SUCCESS, TCP_LARGE_SEND_NET_BUFFER_LIST_INFO,
};
use crate::ndis::nbl::SendMeta;
use crate::ndis::types::{NDIS_PORT_NUMBER, NDIS_STATUS};
use crate::ndis::{CancelId, Nbl, NblChain, OwnedNbl, SendCompleteFlags, SendFlags, clock, cpu};

/// Send context kind: the NBL itself went down its own module's stack.
const KIND_DIRECT: u8 = 1;
/// Send context kind: a clone of the NBL went down another member's stack.
const KIND_CHILD: u8 = 2;
/// Send context kind: parked, every path at its outstanding cap.
const KIND_PARKED_DEFER: u8 = 3;
/// Send context kind: parked, no path usable (`AllDown = queue:<ms>`).
const KIND_PARKED_DOWN: u8 = 4;
/// Header bytes read to find an NBL's flow: Ethernet, two VLAN tags, IPv6 with its bounded walk of
/// extension headers, and the ports fit.
const HEADER_BYTES: usize = 256;
/// Port number for clones sent on another member (NDIS_DEFAULT_PORT_NUMBER): ports belong to one
/// miniport, so the original's port means nothing below another one.
const DEFAULT_PORT: NDIS_PORT_NUMBER = 0;

/// Where one NBL goes.
enum Placed {
    /// Down its own module's stack, with its send context pushed.
    Direct(OwnedNbl),
    /// A clone, with its send context, for the member in `seat`.
    Child { seat: u8, nbl: OwnedNbl },
    /// Completed now; its status is set.
    Failed(OwnedNbl),
    /// To wait in the module's parking (`kind` says why).
    Park { nbl: OwnedNbl, kind: u8 },
}

/// What handling one completion call carries to every NBL of it: the route, the completion
/// flags, the time and CPU (read once), and the re-sends made so far.
struct Completing<'r, 'a> {
    route: &'r Route<'a>,
    flags: SendCompleteFlags,
    now: u64,
    cpu: u32,
    burst: Burst,
}

impl Completing<'_, '_> {
    /// Reports a completion to the engine generation its send was counted in.
    fn account(&self, meta: &SendMeta, status: NDIS_STATUS) {
        let route = self.route;
        if meta.path == NONE {
            return;
        }
        let Some(selector) = route.selector_of(meta.generation) else {
            return;
        };
        let Some(path) = PathId::new(usize::from(meta.path)) else {
            return;
        };
        let c = Completion {
            path,
            len: meta.len,
            target: TargetKey(meta.target),
            cpu: self.cpu,
            status: completion_status(status),
            latency_ns: self.now.saturating_sub(meta.sent_ns),
        };
        if selector.on_complete(&c, self.now) == Attention::EvaluateHealth {
            route.control.evaluate_health(route.group);
        }
    }
}

/// Re-sends made while handling one completion, reported as `Reroute` diagnostic events: one per
/// run of NBLs moved from the same failed path to the same path.
#[derive(Default)]
struct Burst {
    current: Option<(u8, u8, u32)>,
}

impl Burst {
    fn add(&mut self, reporter: &Module, group: u32, from: u8, to: u8) {
        match &mut self.current {
            Some((f, t, n)) if *f == from && *t == to => *n += 1,
            _ => {
                self.flush(reporter, group);
                self.current = Some((from, to, 1));
            }
        }
    }

    fn flush(&mut self, reporter: &Module, group: u32) {
        if let Some((from_path, to_path, nbls)) = self.current.take() {
            // Group ids are reported in 16 bits.
            #[allow(clippy::cast_possible_truncation)]
            diag::emit(
                reporter.handle,
                Event::Reroute {
                    group: group as u16,
                    from_path,
                    to_path,
                    nbls,
                },
            );
        }
    }
}

/// Whether a failed completion says the path failed (send the NBL again elsewhere) rather than
/// this NBL (complete it with the status): cancels and malformed-request statuses belong to the
/// NBL; everything else — disconnects, resets, pauses, out-of-resources, generic failure — to the
/// path (docs/design.md, "failure sources").
pub fn is_path_failure(status: NDIS_STATUS) -> bool {
    !matches!(
        status,
        NDIS_STATUS_SUCCESS
            | NDIS_STATUS_SEND_ABORTED
            | NDIS_STATUS_REQUEST_ABORTED
            | NDIS_STATUS_INVALID_PARAMETER
            | NDIS_STATUS_NOT_SUPPORTED
            | NDIS_STATUS_BUFFER_TOO_SHORT
            | NDIS_STATUS_INVALID_LENGTH
    )
}

/// The engine's view of a completion status.
fn completion_status(status: NDIS_STATUS) -> CompletionStatus {
    match status {
        NDIS_STATUS_SUCCESS => CompletionStatus::Ok,
        NDIS_STATUS_RESOURCES => CompletionStatus::Error(SendError::Resources),
        NDIS_STATUS_PAUSED => CompletionStatus::Error(SendError::Paused),
        NDIS_STATUS_SEND_ABORTED | NDIS_STATUS_REQUEST_ABORTED => {
            CompletionStatus::Error(SendError::Aborted)
        }
        _ => CompletionStatus::Error(SendError::Failure),
    }
}

/// The send context's spare bytes: the seat of the module the NBL came from, then the port it
/// was sent on.
fn reserved(origin: u8, port: NDIS_PORT_NUMBER) -> [u8; 5] {
    let [p0, p1, p2, p3] = port.to_le_bytes();
    [origin, p0, p1, p2, p3]
}

/// The port an NBL was sent on, kept in its send context.
fn port_of(meta: &SendMeta) -> NDIS_PORT_NUMBER {
    let [_, p0, p1, p2, p3] = meta.reserved;
    u32::from_le_bytes([p0, p1, p2, p3])
}

/// The seat of the module an NBL came from, kept in its send context.
fn origin_of(meta: &SendMeta) -> u8 {
    meta.reserved[0]
}

/// Send flags for a call made from a completion (same IRQL as the completion).
fn send_flags_from(flags: SendCompleteFlags) -> SendFlags {
    SendFlags::from_bits(if flags.is_dispatch() {
        NDIS_SEND_FLAGS_DISPATCH_LEVEL
    } else {
        0
    })
}

impl Module {
    /// The NBL's engine request: its flow and target keys from its first NET_BUFFER's headers
    /// (never past its DataLength), its length, the current CPU.
    /// Also what it needs of the stack that sends it (module `capability`).
    fn request(&self, nbl: &Nbl, cpu: u32) -> (SendRequest, Need) {
        let mut storage = [0u8; HEADER_BYTES];
        let headers = nbl.peek_front(&mut storage);
        self.learn_address(headers);
        let c = flow::classify(headers, nbl.vlan_id());
        if c.malformed.is_some() {
            self.counters.send_headers_malformed.inc();
        }
        let need = Need::of(nbl, headers);
        let req = SendRequest {
            flow: c.flow,
            len: u32::try_from(nbl.data_length()).unwrap_or(u32::MAX),
            target: c.target,
            cpu,
        };
        (req, need)
    }

    /// Chooses the path of one NBL and prepares it for it (see [`Placed`]). `avoid` is a path
    /// mask the engine should prefer not to use (the path that just failed this NBL).
    #[allow(clippy::too_many_arguments)]
    fn place(
        &self,
        nbl: OwnedNbl,
        route: &Route<'_>,
        port: NDIS_PORT_NUMBER,
        resends: u8,
        avoid: u32,
        now: u64,
        cpu: u32,
    ) -> Placed {
        let (req, need) = self.request(&nbl, cpu);
        let me = self.seat();
        let mut avoid = avoid;
        let mut rechosen = false;
        let (p, seat, member) = loop {
            let p = match route.selector.select_avoiding(&req, now, avoid) {
                Selection::Path(p) => p,
                Selection::Defer => {
                    return Placed::Park {
                        nbl,
                        kind: KIND_PARKED_DEFER,
                    };
                }
                Selection::NoPath => {
                    if let AllDown::Queue { .. } = route.all_down {
                        return Placed::Park {
                            nbl,
                            kind: KIND_PARKED_DOWN,
                        };
                    }
                    self.counters.send_nbls_failed_no_path.inc();
                    nbl.set_status(NDIS_STATUS_MEDIA_DISCONNECTED);
                    return Placed::Failed(nbl);
                }
            };
            let Some((seat, member)) = route.member_on(p) else {
                route.selector.cancel(p, &req);
                return self.unaccounted(nbl, port, resends, now);
            };
            if member.capability().carries(need) {
                break (p, seat, member);
            }
            // A stack that cannot take this NBL (module `capability`): choose again among the
            // capable paths, once; none eligible → the NBL fails.
            route.selector.cancel(p, &req);
            if rechosen {
                self.counters.send_nbls_failed_incapable.inc();
                nbl.set_status(NDIS_STATUS_INVALID_LENGTH);
                return Placed::Failed(nbl);
            }
            rechosen = true;
            avoid |= incapable_paths(route, need);
        };
        let meta = SendMeta {
            lso_request: lso_request(&nbl),
            ..meta_for(&req, route, p, me, port, resends, now)
        };
        if seat == me {
            if !nbl.push_meta_with_backfill(
                SendMeta {
                    kind: KIND_DIRECT,
                    ..meta
                },
                self.context_backfill(),
            ) {
                route.selector.cancel(p, &req);
                return self.failed_resources(nbl);
            }
            route.selector.on_send(p, &req, now);
            return Placed::Direct(nbl);
        }
        match member.adopt(
            nbl,
            SendMeta {
                kind: KIND_CHILD,
                ..meta
            },
        ) {
            Ok(child) => {
                route.selector.on_send(p, &req, now);
                self.counters.send_nbls_rerouted.inc();
                Placed::Child { seat, nbl: child }
            }
            Err(nbl) => {
                route.selector.cancel(p, &req);
                self.counters.send_reroute_fallbacks.inc();
                self.unaccounted(nbl, port, resends, now)
            }
        }
    }

    /// Down the NBL's own stack without engine accounting (its path index is [`NONE`]).
    fn unaccounted(&self, nbl: OwnedNbl, port: NDIS_PORT_NUMBER, resends: u8, now: u64) -> Placed {
        let meta = SendMeta {
            sent_ns: now,
            path: NONE,
            retries: resends,
            kind: KIND_DIRECT,
            reserved: reserved(self.seat(), port),
            lso_request: lso_request(&nbl),
            ..SendMeta::default()
        };
        if nbl.push_meta_with_backfill(meta, self.context_backfill()) {
            Placed::Direct(nbl)
        } else {
            self.failed_resources(nbl)
        }
    }

    fn failed_resources(&self, nbl: OwnedNbl) -> Placed {
        self.counters.send_nbls_failed_resources.inc();
        nbl.set_status(NDIS_STATUS_RESOURCES);
        Placed::Failed(nbl)
    }

    /// Makes `parent` (another member's NBL) the parent of a clone on this module's stack,
    /// counted in this module's pause gate; gives the parent back when this module is not Running
    /// or NDIS has no memory.
    fn adopt(&self, parent: OwnedNbl, meta: SendMeta) -> Result<OwnedNbl, OwnedNbl> {
        let Some(pool) = self.pool.as_ref() else {
            return Err(parent);
        };
        if !self.gate.try_enter(1) {
            return Err(parent);
        }
        let child = match pool.clone_single(parent, self.handle) {
            Ok(child) => child,
            Err(parent) => {
                self.finish_leave(self.gate.leave(1));
                return Err(parent);
            }
        };
        child.copy_send_info();
        if !child.push_meta_with_backfill(meta, self.context_backfill()) {
            let parent = child.release();
            self.finish_leave(self.gate.leave(1));
            return Err(parent);
        }
        self.rewrite_child(&child);
        Ok(child.into_owned())
    }

    /// FilterSendNetBufferLists of a teamed module.
    ///
    /// IRQL: <= DISPATCH_LEVEL. Serialised: against nothing (as [`Module::send`]).
    pub fn send_teamed(
        &self,
        chain: NblChain,
        port: NDIS_PORT_NUMBER,
        flags: SendFlags,
        route: &Route<'_>,
    ) {
        let n = count(&chain);
        if !self.gate.try_enter(n) {
            self.send(chain, port, flags);
            return;
        }
        let (flags, loopback) = Self::loopback_taken_over(flags);
        let now = clock::now_ns();
        let cpu = cpu::current_index();
        let mut chain = chain;
        let mut direct = NblChain::new();
        let mut children: [NblChain; MAX_PATHS] = [const { NblChain::new() }; MAX_PATHS];
        let mut failed = NblChain::new();
        while let Some(nbl) = chain.pop_front() {
            let nbl = if loopback {
                self.loop_back(nbl, port, flags)
            } else {
                nbl
            };
            match self.place(nbl, route, port, 0, 0, now, cpu) {
                Placed::Direct(nbl) => direct.push_back(nbl),
                Placed::Child { seat, nbl } => children[usize::from(seat)].push_back(nbl),
                Placed::Failed(nbl) => failed.push_back(nbl),
                Placed::Park { nbl, kind } => {
                    if let Some(nbl) = self.park(nbl, kind, port, 0, now) {
                        failed.push_back(nbl);
                    }
                }
            }
        }
        self.dispatch(direct, children, failed, port, flags, route);
        if self.state() != ModuleState::Running {
            // A pause began while this send parked NBLs: they must not wait for a drain that
            // only a Running module makes.
            self.flush_parked(NDIS_STATUS_PAUSED, flags.to_complete_flags());
        }
    }

    /// Makes one NDIS call per destination, and completes the failed NBLs.
    fn dispatch(
        &self,
        direct: NblChain,
        children: [NblChain; MAX_PATHS],
        failed: NblChain,
        port: NDIS_PORT_NUMBER,
        flags: SendFlags,
        route: &Route<'_>,
    ) {
        if !direct.is_empty() {
            self.counters.send_bytes_forwarded.add(direct.data_length());
            self.counters.send_nbls_forwarded.add(count(&direct));
            self.handle.send(direct, port, flags);
        }
        for (seat, chain) in children.into_iter().enumerate() {
            if chain.is_empty() {
                continue;
            }
            let member = u8::try_from(seat).ok().and_then(|s| route.member_at(s));
            match member {
                Some(m) => m.handle.send(chain, DEFAULT_PORT, flags.for_other_module()),
                // `place` only makes children for seats of this route.
                None => self.unreachable_seat(chain),
            }
        }
        if !failed.is_empty() {
            let k = count(&failed);
            self.handle.send_complete(failed, flags.to_complete_flags());
            self.finish_leave(self.gate.leave(k));
        }
    }

    /// Sends one NBL of this module's again after a path failed it; `Some(nbl)` when it is to be
    /// completed instead (success, an NBL failure, no re-send left, or this module not Running).
    fn resend_or_finish(
        &self,
        nbl: OwnedNbl,
        meta: &SendMeta,
        status: NDIS_STATUS,
        cx: &mut Completing<'_, '_>,
    ) -> Option<OwnedNbl> {
        let route = cx.route;
        if !is_path_failure(status) {
            return Some(nbl);
        }
        if meta.retries >= MAX_RESENDS {
            self.counters.send_nbls_retries_exhausted.inc();
            return Some(nbl);
        }
        if self.state() != ModuleState::Running {
            return Some(nbl);
        }
        let failed = (meta.path != NONE && route.selector_of(meta.generation).is_some())
            .then_some(meta.path);
        let avoid = failed.map_or(0, |p| 1u32 << (p & 31));
        self.counters.send_nbls_retried.inc();
        // The miniport wrote its completion over a large send's request (on this NBL, or on the
        // clone it was copied back from): sent again, it asks for the same segmentation.
        nbl.set_info(
            TCP_LARGE_SEND_NET_BUFFER_LIST_INFO,
            usize::try_from(meta.lso_request).unwrap_or(0),
        );
        let port = port_of(meta);
        let placed = self.place(nbl, route, port, meta.retries + 1, avoid, cx.now, cx.cpu);
        let to = match &placed {
            Placed::Direct(n) | Placed::Child { nbl: n, .. } => Some(n.meta().path),
            Placed::Failed(_) | Placed::Park { .. } => None,
        };
        if let (Some(from), Some(to)) = (failed, to)
            && from != to
            && to != NONE
        {
            cx.burst.add(self, route.group, from, to);
        }
        let send_flags = send_flags_from(cx.flags);
        self.send_placed(placed, port, send_flags, route, meta.retries + 1, cx.now)
    }

    /// Sends one placed NBL (a re-send or a drained one) at once; `Some(nbl)` when it is to be
    /// completed instead.
    fn send_placed(
        &self,
        placed: Placed,
        port: NDIS_PORT_NUMBER,
        send_flags: SendFlags,
        route: &Route<'_>,
        resends: u8,
        now: u64,
    ) -> Option<OwnedNbl> {
        match placed {
            Placed::Direct(nbl) => {
                self.counters.send_nbls_forwarded.inc();
                self.handle.send(NblChain::from(nbl), port, send_flags);
                None
            }
            Placed::Child { seat, nbl } => {
                match route.member_at(seat) {
                    Some(m) => m.handle.send(
                        NblChain::from(nbl),
                        DEFAULT_PORT,
                        send_flags.for_other_module(),
                    ),
                    None => self.unreachable_seat(NblChain::from(nbl)),
                }
                None
            }
            Placed::Failed(nbl) => Some(nbl),
            Placed::Park { nbl, kind } => self.park(nbl, kind, port, resends, now),
        }
    }

    /// Parks `nbl` (see [`super::parking`]) since `since`; `Some(nbl)` — its status set — when it
    /// cannot wait (no memory for its context, or the queue is full).
    fn park(
        &self,
        nbl: OwnedNbl,
        kind: u8,
        port: NDIS_PORT_NUMBER,
        resends: u8,
        since: u64,
    ) -> Option<OwnedNbl> {
        let Some(parking) = self.parking.as_ref() else {
            nbl.set_status(NDIS_STATUS_RESOURCES);
            return Some(nbl);
        };
        if !nbl.push_meta_with_backfill(
            SendMeta {
                sent_ns: since,
                path: NONE,
                retries: resends,
                kind,
                reserved: reserved(self.seat(), port),
                ..SendMeta::default()
            },
            self.context_backfill(),
        ) {
            self.counters.send_nbls_failed_resources.inc();
            nbl.set_status(NDIS_STATUS_RESOURCES);
            return Some(nbl);
        }
        match parking.push(nbl) {
            Ok(()) => {
                self.counters.send_nbls_parked.inc();
                None
            }
            Err(nbl) => {
                let _ = nbl.pop_meta();
                self.counters.send_nbls_park_overflow.inc();
                nbl.set_status(if kind == KIND_PARKED_DOWN {
                    NDIS_STATUS_MEDIA_DISCONNECTED
                } else {
                    NDIS_STATUS_RESOURCES
                });
                Some(nbl)
            }
        }
    }

    /// Sends what waits in this module's parking while paths take it, in order; fails what waited
    /// longer than `AllDown = queue:<ms>` allows. Runs on completions and on the group's tick, on
    /// any processor (one drain at a time per module).
    pub fn drain_parked(&self, route: &Route<'_>, flags: SendCompleteFlags) {
        let Some(parking) = self.parking.as_ref() else {
            return;
        };
        if parking.is_empty() || self.state() != ModuleState::Running || !parking.begin_drain() {
            return;
        }
        let mut done = NblChain::new();
        loop {
            parking.begin_pass();
            self.drain_pass(parking, route, flags, &mut done);
            if !parking.end_drain() {
                break;
            }
        }
        self.complete_now(done, flags);
    }

    /// One pass of [`Module::drain_parked`]: sends parked NBLs until one still cannot leave;
    /// what is finished (expired, failed) joins `done`.
    fn drain_pass(
        &self,
        parking: &Parking,
        route: &Route<'_>,
        flags: SendCompleteFlags,
        done: &mut NblChain,
    ) {
        let now = clock::now_ns();
        let cpu = cpu::current_index();
        let max_wait = match route.all_down {
            AllDown::Queue { ms } => u64::from(ms) * 1_000_000,
            AllDown::Fail => 0,
        };
        while let Some(nbl) = parking.pop() {
            let meta = nbl.pop_meta();
            let port = port_of(&meta);
            if meta.kind == KIND_PARKED_DOWN && now.saturating_sub(meta.sent_ns) >= max_wait {
                self.counters.send_nbls_park_expired.inc();
                nbl.set_status(NDIS_STATUS_MEDIA_DISCONNECTED);
                done.push_back(nbl);
                continue;
            }
            match self.place(nbl, route, port, meta.retries, 0, now, cpu) {
                Placed::Park { nbl, kind } => {
                    // Still nowhere to go: back at the head, with its original time.
                    if nbl
                        .push_meta_with_backfill(SendMeta { kind, ..meta }, self.context_backfill())
                    {
                        parking.unpop(nbl);
                    } else {
                        self.counters.send_nbls_failed_resources.inc();
                        nbl.set_status(NDIS_STATUS_RESOURCES);
                        done.push_back(nbl);
                    }
                    break;
                }
                placed => {
                    let send_flags = send_flags_from(flags);
                    if let Some(nbl) =
                        self.send_placed(placed, port, send_flags, route, meta.retries, now)
                    {
                        done.push_back(nbl);
                    }
                }
            }
        }
    }

    /// Completes `chain` (statuses set) up this module's stack and counts it out of the gate.
    fn complete_now(&self, chain: NblChain, flags: SendCompleteFlags) {
        if chain.is_empty() {
            return;
        }
        let k = count(&chain);
        self.counters.send_nbls_completed.add(k);
        self.handle.send_complete(chain, flags);
        self.finish_leave(self.gate.leave(k));
    }

    /// Completes every parked NBL with `status` (a pause: `NDIS_STATUS_PAUSED`).
    pub fn flush_parked(&self, status: NDIS_STATUS, flags: SendCompleteFlags) {
        let Some(parking) = self.parking.as_ref() else {
            return;
        };
        if parking.is_empty() {
            return;
        }
        let chain = parking.take_matching(|_| true);
        for nbl in &chain {
            let _ = nbl.pop_meta();
        }
        chain.set_status_all(status);
        self.counters.send_nbls_park_flushed.add(count(&chain));
        self.complete_now(chain, flags);
    }

    /// Drains the parking of every member of `route` that has NBLs waiting.
    pub fn drain_group(route: &Route<'_>, flags: SendCompleteFlags) {
        for m in route.seats.iter().flatten() {
            m.drain_parked(route, flags);
        }
    }

    /// FilterSendNetBufferListsComplete of a teamed module: this module's own NBLs (sent on its
    /// stack) and the children of other members' NBLs.
    ///
    /// IRQL: <= DISPATCH_LEVEL. Serialised: against nothing.
    pub fn send_complete_teamed(
        &self,
        chain: NblChain,
        flags: SendCompleteFlags,
        route: &Route<'_>,
    ) {
        let mut cx = Completing {
            route,
            flags,
            now: clock::now_ns(),
            cpu: cpu::current_index(),
            burst: Burst::default(),
        };
        let (chain, probes) = self.take_own_completions(chain);
        let split = chain.split_by_source(self.handle);
        let mut up = NblChain::new();
        let mut own_nbls = split.pass_through;
        while let Some(nbl) = own_nbls.pop_front() {
            let meta = nbl.pop_meta();
            let status = nbl.status();
            cx.account(&meta, status);
            if let Some(done) = self.resend_or_finish(nbl, &meta, status, &mut cx) {
                up.push_back(done);
            }
        }
        let k = count(&up);
        if k > 0 {
            self.counters.send_nbls_completed.add(k);
            self.handle.send_complete(up, flags);
        }
        let children = self.complete_children(split.own, &mut cx);
        cx.burst.flush(self, route.group);
        self.counters.send_children_completed.add(children);
        // Completions free outstanding slots: parked NBLs of any member may fit now.
        Self::drain_group(route, flags);
        // Only after every NBL is gone — and this module is no longer used here — may a pause
        // complete: one count for the module's own NBLs and its children.
        self.finish_leave(self.gate.leave(k + children + probes));
    }

    /// Frees the children in `own`, and completes (or sends again) their parents on the members
    /// they came from. Returns how many children there were.
    fn complete_children(&self, mut own: NblChain, cx: &mut Completing<'_, '_>) -> u64 {
        let route = cx.route;
        let mut children = 0;
        let mut done_by_origin: [NblChain; MAX_PATHS] = [const { NblChain::new() }; MAX_PATHS];
        while let Some(nbl) = own.pop_front() {
            let Some(child) = self.pool.as_ref().and_then(|p| p.reclaim(nbl).ok()) else {
                // Not a clone of this module's pool: nothing this driver sent. Left alone.
                self.counters.send_own_unknown.inc();
                continue;
            };
            children += 1;
            let meta = child.pop_meta();
            let (status, lso) = child.completion();
            cx.account(&meta, status);
            self.restore_child(&child);
            let parent = child.release();
            parent.set_status(status);
            // The miniport's LSO write-back landed on the clone; the protocol reads the parent.
            parent.set_info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO, lso);
            let Some(origin) = route.member_at(origin_of(&meta)) else {
                // The origin's pause waits for this parent, so it cannot have left the group.
                self.unreachable_seat(NblChain::from(parent));
                continue;
            };
            if let Some(done) = origin.resend_or_finish(parent, &meta, status, cx) {
                // Collected per origin: one completion call (and one gate count) per member.
                done_by_origin[usize::from(origin_of(&meta)) % MAX_PATHS].push_back(done);
            }
        }
        for (seat, done) in done_by_origin.into_iter().enumerate() {
            if done.is_empty() {
                continue;
            }
            match u8::try_from(seat).ok().and_then(|s| route.member_at(s)) {
                Some(origin) => origin.complete_now(done, cx.flags),
                None => self.unreachable_seat(done),
            }
        }
        children
    }

    /// What a structurally impossible case (a seat missing from the route the NBLs were placed
    /// with) does with the NBLs it holds: counts a driver bug and keeps them from being used
    /// again. They are not completed — nothing valid could complete them — and the emulator reports
    /// them as leaked.
    fn unreachable_seat(&self, chain: NblChain) {
        self.counters.protocol_errors.inc();
        chain.leave_with_indicator();
    }

    /// FilterCancelSendNetBufferLists of a teamed module: down its own stack, and down every
    /// Running member's, where its children may be (they carry the cancel id, copied with the
    /// send information).
    pub fn cancel_send_teamed(&self, id: CancelId, route: &Route<'_>) {
        if let Some(parking) = self.parking.as_ref()
            && !parking.is_empty()
        {
            let cancelled = parking.take_matching(|nbl| nbl.cancel_id() == id);
            for nbl in &cancelled {
                let _ = nbl.pop_meta();
            }
            cancelled.set_status_all(NDIS_STATUS_SEND_ABORTED);
            self.counters
                .send_nbls_park_cancelled
                .add(count(&cancelled));
            // FilterCancelSendNetBufferLists runs at <= DISPATCH_LEVEL, which the flags cannot
            // claim to know: no DISPATCH flag.
            self.complete_now(cancelled, SendCompleteFlags::from_bits(0));
        }
        self.cancel_send(id);
        let me = self.seat();
        for (seat, member) in route.seats.iter().enumerate() {
            if let Some(m) = member
                && usize::from(me) != seat
                && m.state() == ModuleState::Running
            {
                m.handle.cancel_send(id);
            }
        }
    }
}

/// The large-send request an NBL carries as it is placed (0 for none), for [`SendMeta`].
fn lso_request(nbl: &Nbl) -> u64 {
    nbl.info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO)
        .map_or(0, |v| v as u64)
}

/// The send context of an NBL chosen for path `p`.
fn meta_for(
    req: &SendRequest,
    route: &Route<'_>,
    p: PathId,
    origin: u8,
    port: NDIS_PORT_NUMBER,
    resends: u8,
    now: u64,
) -> SendMeta {
    SendMeta {
        sent_ns: now,
        target: req.target.0,
        len: req.len,
        generation: route.generation,
        // PathId indices are < 16.
        path: u8::try_from(p.index()).unwrap_or(NONE),
        retries: resends,
        kind: 0,
        reserved: reserved(origin, port),
        ..SendMeta::default()
    }
}
