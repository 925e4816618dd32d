//! What NDIS does on its own initiative: the event loop, the traffic of the emulated protocols and
//! miniports, OIDs and status from above and below, and the lifecycle of each stack (attach,
//! restart, pause, detach, unload) in the order NDIS drives it.
//!
//! Pattern everywhere: decide and update state inside `world::with`, leave it, then call the
//! driver through [`call_filter`] (the driver re-enters the world through the exports).
//!
//! This file keeps the event loop and what every area shares; each area has its own file:
//! [`send`], [`transmit`], [`receive`], [`oid`], [`status`], [`pnp`], [`forward`],
//! [`lifecycle`], [`stack`], [`leaks`], [`liveness`], [`fault`].

mod accounting;
mod fabric;
pub(crate) mod fault;
pub(crate) mod forward;
mod leaks;
mod lifecycle;
mod limits;
mod liveness;
mod loopback;
mod oid;
mod pnp;
mod receive;
mod restart_attrs;
mod send;
mod stack;
mod status;
mod transmit;
// Timer objects on the virtual clock.
pub(crate) mod timer;
// Real threads sharing one world.
pub(crate) mod threads;

pub(crate) use fault::LinkState;
pub(crate) use forward::Owed;
pub(crate) use leaks::unload_leaks;
pub(crate) use lifecycle::pause_gate_ok;
pub(crate) use limits::at_miniport_edge;
pub(crate) use loopback::loopback_received;
pub(crate) use oid::{mp_oid, proto_oid_done};
pub(crate) use receive::{mp_reclaim, proto_receive};
pub(crate) use send::{proto_send, proto_send_completed, proto_send_frame};
pub(crate) use stack::{pause_stack, restart_stack, start_stack, stop_stack};
pub(crate) use transmit::mp_enqueue;

use crate::callbacks::Handlers;
use crate::frames;
use crate::irql::Irql;
use crate::nblmem::{self, SnapMask};
use crate::rules::{Rule, Subject};
use crate::sched::Nanos;
use crate::world::{self, Event, Frame, MAX_NET_BUFFERS, NState, Origin, World};
use core::ffi::c_void;

/// Direction byte of frames the protocol sends.
const DIR_TX: u8 = 0;
/// Direction byte of frames the miniport receives.
const DIR_RX: u8 = 1;

/// Calls into the driver with a callback frame pushed and the IRQL set; `None` if there is no
/// registered driver (or module context) to call.
fn call_filter<R>(
    adapter: Option<usize>,
    name: &'static str,
    irql: Irql,
    f: impl FnOnce(&Handlers, *mut c_void) -> R,
) -> Option<R> {
    let (h, ctx, prev) = world::with(|w| {
        let h = w.driver.as_ref()?.handlers;
        let ctx = adapter.map_or(0, |a| w.adapters[a].module.ctx);
        w.frames.push(Frame::new(name, adapter));
        let prev = w.irql;
        w.irql = irql;
        threads::driver_entered(&mut w.census, adapter);
        Some((h, ctx, prev))
    })??;
    let r = f(&h, ctx as *mut c_void);
    world::with(|w| {
        threads::driver_left(&mut w.census, adapter);
        crate::exports::spin_lock::check_released_on_return(w, w.frames.len());
        w.frames.pop();
        w.irql = prev;
    });
    Some(r)
}

fn pick_irql(w: &mut World) -> Irql {
    if w.rng.chance(w.cfg.random.dispatch_percent) {
        Irql::Dispatch
    } else {
        Irql::Passive
    }
}

enum Step {
    Done,
    Halted,
    Idle,
    /// Nothing to run now, but another thread (threads mode) is still at work and may make some.
    Wait,
    Run(Event),
}

/// Runs events until `pred` holds (true), or the run halts, the queue empties, virtual time
/// passes `deadline` or the event budget is spent (false).
///
/// In threads mode the queue is shared: an empty one is idle only once every other thread is
/// parked too (one inside the driver may still queue work), and far-off events wait while
/// another thread is busy (`threads::may_run`); meanwhile this thread parks.
pub(crate) fn run_until(mut pred: impl FnMut(&World) -> bool, deadline: Option<Nanos>) -> bool {
    let Some(budget) = world::with(|w| w.cfg.max_events_per_run) else {
        return false;
    };
    let mut ran = 0;
    while ran < budget {
        let step = world::with(|w| {
            if w.halted {
                return Step::Halted;
            }
            if pred(w) {
                return Step::Done;
            }
            if !liveness::progressing(w) {
                return Step::Halted;
            }
            match w.sched.peek_time() {
                None if w.census.park() => Step::Wait,
                None => {
                    liveness::idle(w);
                    Step::Idle
                }
                Some(t) if deadline.is_some_and(|d| t > d) => Step::Idle,
                // Only timers ticking and nothing owed: idle, unless the caller asked for time
                // to pass (a deadline), which the ticks then fill.
                Some(_)
                    if deadline.is_none()
                        && timer::only_firings_queued(w)
                        && !liveness::anything_owed(w) =>
                {
                    if w.census.park() {
                        Step::Wait
                    } else {
                        Step::Idle
                    }
                }
                Some(t) if !threads::may_run(w, t) => {
                    w.census.park();
                    Step::Wait
                }
                Some(_) => {
                    if w.cfg.cpus > 1 && !w.census.threads() {
                        let cpu = w.rng.range(0, u64::from(w.cfg.cpus) - 1);
                        w.kernel.cpu = u32::try_from(cpu).unwrap_or(0);
                    }
                    threads::take_event(w).map_or(Step::Idle, Step::Run)
                }
            }
        });
        if !matches!(step, Some(Step::Wait)) {
            world::with(|w| w.census.unpark());
        }
        match step {
            None | Some(Step::Halted | Step::Idle) => {
                return world::with(|w| !w.halted && pred(w)).unwrap_or(false);
            }
            Some(Step::Done) => return true,
            Some(Step::Wait) => std::thread::yield_now(),
            Some(Step::Run(ev)) => {
                ran += 1;
                threads::run_event(ev);
            }
        }
    }
    false
}

fn dispatch(ev: Event) {
    let Some(ev) = threads::pnp_event_begins(ev) else {
        return;
    };
    let pnp = threads::pnp_adapter(&ev);
    dispatch_event(ev);
    if let Some(a) = pnp {
        threads::pnp_end(a);
    }
}

fn dispatch_event(ev: Event) {
    match ev {
        Event::ProtoSendTick(a) => send::proto_send_tick(a),
        Event::MpRxTick(a) => receive::mp_rx_tick(a),
        Event::TxDone(a) => transmit::mp_tx_done(a),
        Event::Complete(a, nbls) => transmit::mp_complete(a, nbls),
        Event::ProtoReturn(a, nbls) => receive::proto_return(a, &nbls),
        Event::OidComplete {
            adapter,
            req,
            generation,
            status,
        } => oid::mp_oid_complete(adapter, req, generation, status),
        Event::ProtoOidTick(a) => oid::proto_issue_oid(a),
        Event::RestartFilter(a) => stack::restart_filter(a),
        Event::ProtoOidCancel(a, req) => oid::proto_cancel_oid(a, req),
        Event::Status(a) => status::mp_status(a),
        Event::NetPnp(a) => pnp::ndis_net_pnp(a),
        Event::DevicePnp(a) => pnp::ndis_device_pnp(a),
        Event::TxFlush(a) => transmit::mp_flush(a),
        Event::Arrive(key, a) => world::with(|w| {
            let now = w.now();
            w.adapters[a].mp.propagating = w.adapters[a].mp.propagating.saturating_sub(1);
            w.ledger.arrived(key, a, now);
        })
        .unwrap_or(()),
        Event::Fault(a, f) => fault::apply(a, f),
        Event::ShimTick(a) => fault::shim_tick(a),
        Event::Timer { handle, generation } => timer::fire(handle, generation),
        Event::FabricIn { port, frame, wire } => fabric::switch_in(port, &frame, wire),
        Event::FabricOut { port, frame, wire } => fabric::port_out(port, frame, wire),
        Event::FabricRx(a) => fabric::mp_indicate_fabric(a),
    }
}

/// Reads every NET_BUFFER of live NBL `nbl` (into the world's scratch buffer) and hands `f` the
/// frame's first bytes and its whole length, in order; false — and `nbl.chain-cycle`, naming
/// `call` — when the NET_BUFFER chain goes on past [`MAX_NET_BUFFERS`] entries.
pub(crate) fn each_frame(
    w: &mut World,
    nbl: usize,
    call: &'static str,
    mut f: impl FnMut(&mut World, &[u8], usize),
) -> bool {
    // SAFETY: the callers pass a live emulator NBL.
    let mut nb = unsafe { nblmem::nbl_mut(nbl) }.FirstNetBuffer;
    let mut scratch = std::mem::take(&mut w.scratch);
    let mut hops = 0;
    let mut whole = true;
    while !nb.is_null() {
        hops += 1;
        if hops > MAX_NET_BUFFERS {
            w.violate(
                Rule::NblChainCycle,
                Subject::Nbl(nbl),
                call,
                format!("the NBL's NET_BUFFER chain goes on past {MAX_NET_BUFFERS} entries"),
            );
            whole = false;
            break;
        }
        // SAFETY: NET_BUFFERs of a live NBL describe readable data, which `f` (the emulator's
        // own checks, no driver call) neither frees nor writes.
        if let Some((data, total)) = unsafe { nblmem::contiguous_nb(nb, scratch.len()) } {
            f(w, data, total);
        } else {
            // SAFETY: as above.
            let (total, got) = unsafe { nblmem::read_nb(nb, &mut scratch) };
            f(w, &scratch[..got], total);
        }
        // SAFETY: nb is a live NET_BUFFER.
        nb = unsafe { (*nb).Next };
    }
    w.scratch = scratch;
    whole
}

/// Checks an NBL of another driver as it goes back to its owner: SourceHandle, contexts, header.
pub(crate) fn handback_ok(w: &mut World, nbl: usize, call: &'static str) -> bool {
    let Some(t) = w.nbls.get(&nbl) else {
        return false;
    };
    let (source, entry, mark) = (t.source, t.entry_snap, t.ctx_mark);
    // SAFETY: nbl is a live emulator NBL.
    let n = unsafe { nblmem::nbl_mut(nbl) };
    if n.SourceHandle as usize != source {
        let cur = n.SourceHandle as usize;
        w.violate(
            Rule::NblSourceHandleModified,
            Subject::Nbl(nbl),
            call,
            format!("SourceHandle is {cur:#x}, the originator set {source:#x}"),
        );
        return false;
    }
    // SAFETY: nbl is live.
    if unsafe { nblmem::context_mark(nbl) } != mark {
        w.violate(
            Rule::NblContextNotRestored,
            Subject::Nbl(nbl),
            call,
            "the NBL's context stack differs from when the filter got it",
        );
        return false;
    }
    // SAFETY: nbl is live.
    let now = unsafe { nblmem::snapshot(nbl, SnapMask::Handback) };
    if let Some(d) = nblmem::diff(&entry, &now) {
        let rule = if d == nblmem::DATA_CHANGED {
            Rule::NblDataWritten
        } else {
            Rule::NblModifiedOnHandback
        };
        w.violate(rule, Subject::Nbl(nbl), call, d);
        return false;
    }
    true
}

/// Whether an NBL coming back to the filter (from below, or from the protocol above) is as it was
/// when the filter handed it over; if not, records `rule` saying where it was (`away`).
fn unchanged_while_away(
    w: &mut World,
    nbl: usize,
    rule: Rule,
    away: impl FnOnce() -> String,
) -> bool {
    let Some(t) = w.nbls.get(&nbl) else {
        return false;
    };
    // SAFETY: callers pass a tracked NBL still below the filter or with the protocol: live.
    let now = unsafe { nblmem::snapshot(nbl, SnapMask::WhileAway) };
    let Some(d) = nblmem::diff(&t.away_snap, &now) else {
        return true;
    };
    w.violate(
        rule,
        Subject::Nbl(nbl),
        "-",
        format!("{d} while {}", away()),
    );
    false
}

fn lifecycle_deadline() -> Option<Nanos> {
    world::with(|w| w.now() + w.cfg_lifecycle_timeout())
}

/// What an emulated protocol (sending) or miniport (indicating) puts on the stack: one NBL from its
/// pool carrying a fresh test frame.
pub(super) struct FramedNbl {
    /// The originator's pool.
    pub pool: usize,
    /// Who originated it.
    pub origin: Origin,
    /// Destination and source MAC of the frame.
    pub macs: ([u8; 6], [u8; 6]),
    /// The frame's sequence number.
    pub seq: u64,
    /// The adapter (written into the frame so the far end can check where it came from).
    pub adapter: usize,
    /// `DIR_TX` or `DIR_RX`.
    pub dir: u8,
    /// Frame length range to draw from.
    pub len: (usize, usize),
    /// The originator's handle, stamped in SourceHandle.
    pub source: usize,
    /// Where the NBL is once handed to the filter.
    pub state: NState,
    /// Whether it is a pause probe.
    pub probe: bool,
    /// The port it is sent or indicated on.
    pub port: u32,
    /// Flow and sequence within it: a flow frame (`None`: a plain frame).
    pub flow: Option<(u32, u64)>,
}

/// What an emulated miniport says of every frame it receives, in the NBL's
/// `TcpIpChecksumNetBufferListInfo` slot: TCP and IP checksums verified (the receive view's
/// `TcpChecksumSucceeded` and `IpChecksumSucceeded` bits). A clone a filter indicates up in a
/// received NBL's place has to carry it (`NdisCopyReceiveNetBufferListInfo`), or the stack above
/// verifies every checksum again; the protocol counts the NBLs without it.
pub const RX_CHECKSUM_INFO: usize = 0x28;

/// Stamps a miniport's receive with [`RX_CHECKSUM_INFO`].
fn mark_received(nbl: usize, origin: Origin) {
    if matches!(origin, Origin::MpRx(_)) {
        // SAFETY: the callers pass a live emulator NBL no one else references.
        unsafe { nblmem::nbl_mut(nbl) }.NetBufferListInfo
            [mpfilter::ndis::consts::TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO] =
            RX_CHECKSUM_INFO as *mut c_void;
    }
}

/// An NBL from `pool` carrying `bytes` as they are (cut to a frame buffer), stamped with `source`,
/// snapshotted for the hand-back check and recorded as handed to the filter in `state`. Returns
/// the NBL and the frame length.
pub(super) fn bytes_nbl(
    w: &mut World,
    pool: usize,
    origin: Origin,
    bytes: &[u8],
    source: usize,
    state: NState,
) -> Option<(usize, usize)> {
    let nbl = w.pool_alloc(pool, origin)?;
    let len = bytes
        .len()
        .min(nblmem::FRAME_CAPACITY - nblmem::FRAME_BACKFILL);
    // SAFETY: nbl is a live emulator block with a frame buffer and a NET_BUFFER, and no other
    // reference to it is alive.
    unsafe {
        nblmem::write_frame(nbl, |buf| {
            buf[..len].copy_from_slice(&bytes[..len]);
            len
        });
    }
    // SAFETY: as above.
    unsafe { nblmem::nbl_mut(nbl) }.SourceHandle = source as *mut c_void;
    mark_received(nbl, origin);
    // SAFETY: nbl is live.
    let snap = unsafe { nblmem::snapshot(nbl, SnapMask::Handback) };
    let t = w.nbls.get_mut(&nbl)?;
    t.state = state;
    t.source = source;
    t.entry_snap = snap;
    Some((nbl, len))
}

/// The target (far-end address index) of flow `flow` of adapter `a`'s protocol: with a fabric
/// its peers (flow `f` to peer `f % peers`), else the traffic's targets.
fn flow_target(w: &World, a: usize) -> impl Fn(u32) -> u32 + use<> {
    let peers = w.fabric.as_ref().map_or(0, |fab| fab.cfg.peers.len());
    let targets = if peers > 0 {
        u32::try_from(peers).unwrap_or(u32::MAX)
    } else {
        w.traffic(a).targets
    };
    move |flow| if targets == 0 { flow } else { flow % targets }
}

/// Writes flow frame `id` of `len` bytes (before a `tag`) to `target` into `buf`; its length.
fn flow_frame(
    buf: &mut [u8],
    (dst, src): ([u8; 6], [u8; 6]),
    id: frames::FrameId,
    (len, tag): (usize, Option<u16>),
    target: u32,
    ipv6: bool,
) -> usize {
    let n = if ipv6 {
        frames::build_flow6_to(buf, dst, src, id, len, target)
    } else {
        frames::build_flow_to(buf, dst, src, id, len, target)
    };
    match tag {
        Some(tci) if n + frames::VLAN_TAG <= buf.len() => frames::insert_tag(buf, n, tci),
        _ => n,
    }
}

/// The in-frame 802.1Q tag of the frames `f` describes: a protocol's sends, when its traffic
/// tags them.
fn tag_of(w: &World, f: &FramedNbl) -> Option<u16> {
    (f.dir == DIR_TX)
        .then(|| w.traffic(f.adapter).in_frame_tag)
        .flatten()
}

/// Appends to flow NBL `nbl` (built by [`framed_nbl`] for `f`, whose flow frame is its first
/// NET_BUFFER) `extra` more NET_BUFFERs: the flow's next frames, each with the protocol's next
/// frame sequence number and a length drawn as the first's. Returns their bytes in all.
pub(super) fn append_flow_frames(w: &mut World, f: &FramedNbl, nbl: usize, extra: usize) -> usize {
    let Some((flow, first_seq)) = f.flow else {
        return 0;
    };
    let ipv6 = w.traffic(f.adapter).ipv6;
    let min = if ipv6 {
        frames::MIN_FLOW6_FRAME
    } else {
        frames::MIN_FLOW_FRAME
    };
    let target = flow_target(w, f.adapter)(flow);
    let tag = tag_of(w, f);
    let mut bytes = 0;
    for i in 1..=extra {
        let len = w.rng.range_usize(f.len.0, f.len.1).max(min);
        let seq = w.adapters[f.adapter].proto.tx_seq;
        w.adapters[f.adapter].proto.tx_seq += 1;
        let id = frames::FrameId {
            origin: f.adapter,
            flow,
            flow_seq: first_seq + i as u64,
            seq,
        };
        let mut written = 0;
        // SAFETY: nbl is the live emulator block `framed_nbl` just built, not yet handed on.
        unsafe {
            nblmem::append_frame(nbl, |buf| {
                written = flow_frame(buf, f.macs, id, (len, tag), target, ipv6);
                written
            });
        }
        bytes += written;
    }
    if extra > 0 {
        resnapshot(w, nbl);
    }
    bytes
}

/// Takes the hand-back snapshot of `nbl` (a live NBL the emulator built, not yet handed on)
/// again, after its builder changed it.
pub(super) fn resnapshot(w: &mut World, nbl: usize) {
    // SAFETY: nbl is live (contract).
    let snap = unsafe { nblmem::snapshot(nbl, SnapMask::Handback) };
    if let Some(t) = w.nbls.get_mut(&nbl) {
        t.entry_snap = snap;
    }
}

/// Allocates and fills a [`FramedNbl`], snapshots it for the hand-back check and records it as
/// handed to the filter. Returns the NBL and the frame length.
pub(super) fn framed_nbl(w: &mut World, f: &FramedNbl) -> Option<(usize, usize)> {
    let nbl = w.pool_alloc(f.pool, f.origin)?;
    let len = w.rng.range_usize(f.len.0, f.len.1);
    // A flow frame is never shorter than its headers and identity.
    let ipv6 = w.traffic(f.adapter).ipv6;
    let len = match (f.flow, ipv6) {
        (None, _) => len,
        (Some(_), false) => len.max(frames::MIN_FLOW_FRAME),
        (Some(_), true) => len.max(frames::MIN_FLOW6_FRAME),
    };
    let (dst, src) = f.macs;
    let target = flow_target(w, f.adapter);
    let tag = tag_of(w, f);
    // SAFETY: nbl is a live emulator block with a frame buffer and a NET_BUFFER, and no other
    // reference to it is alive.
    unsafe {
        nblmem::write_frame(nbl, |buf| match f.flow {
            None => frames::build(buf, dst, src, f.seq, f.adapter, f.dir, len),
            Some((flow, flow_seq)) => {
                let id = frames::FrameId {
                    origin: f.adapter,
                    flow,
                    flow_seq,
                    seq: f.seq,
                };
                flow_frame(buf, f.macs, id, (len, tag), target(flow), ipv6)
            }
        });
    }
    // SAFETY: as above.
    unsafe { nblmem::nbl_mut(nbl) }.SourceHandle = f.source as *mut c_void;
    mark_received(nbl, f.origin);
    // SAFETY: nbl is live.
    let snap = unsafe { nblmem::snapshot(nbl, SnapMask::Handback) };
    let tr = w.nbls.get_mut(&nbl)?;
    tr.state = f.state;
    tr.source = f.source;
    tr.entry_snap = snap;
    tr.probe = f.probe;
    tr.port = f.port;
    Some((nbl, len))
}
