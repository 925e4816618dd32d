//! The emulator's state: one `World` per thread, found by the exported NDIS functions (which take
//! no emulator argument) through a thread-local — or, in threads mode, one world shared by several
//! real threads (`crate::threads`), each with its own processor state.
//!
//! Nothing here calls into a driver. The rule: take what is needed out of the world, drop the
//! borrow, then call the driver (it re-enters through the exports). That rule is what lets real
//! threads share a world: the lock is held only inside [`with`], never while the driver runs.

use crate::callbacks::Handlers;
use crate::config::{AdapterConfig, EmuConfig};
use crate::irql::Irql;
use crate::nblmem::{self, NblBlock, Snap};
use crate::rng::Rng;
use crate::rules::{Leak, Rule, Subject, Violation};
use crate::sched::{Nanos, Scheduler};
use crate::stats::{AdapterStats, LifecycleStats};
use crate::table::{Map, Set};
use mpfilter::ndis::types::{
    DRIVER_OBJECT, NDIS_FILTER_ATTACH_PARAMETERS, NDIS_OID_REQUEST, NDIS_STATUS_INDICATION,
    NET_BUFFER_LIST_CONTEXT, UNICODE_STRING,
};
use std::alloc::Layout;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};

thread_local! {
    static WORLD: RefCell<Option<Box<World>>> = const { RefCell::new(None) };
    /// The shared world this thread entered (threads mode), with this thread's processor.
    static ENTERED: RefCell<Option<Entered>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's world (its own, or the shared one it entered); `None` if there is
/// none (or it is already borrowed on this thread, which would be an emulator bug, never a reason
/// to panic across an FFI boundary).
pub(crate) fn with<R>(f: impl FnOnce(&mut World) -> R) -> Option<R> {
    let own = WORLD.with(|c| c.try_borrow().map(|b| b.is_some()));
    match own {
        Ok(true) => WORLD.with(|c| {
            let mut b = c.try_borrow_mut().ok()?;
            let w = b.as_mut()?;
            Some(f(w))
        }),
        Ok(false) => with_shared(f),
        Err(_) => None,
    }
}

/// Calls the driver may make into the emulator from one callback before it counts as never
/// returning (`liveness.callback-spins`): far more than any real callback makes, reached in well
/// under a second by a loop that waits for what cannot change while it runs.
pub(crate) const SPIN_LIMIT: u64 = 5_000_000;

/// One more call inside the innermost callback. At [`SPIN_LIMIT`] the callback is stuck: the
/// violation is recorded and the run ends with a panic naming it, since nothing can make a driver
/// return (on Windows the DPC watchdog bug-checks such a callback at DISPATCH_LEVEL). Unwinding
/// out of the driver's callback aborts the test process, which fails the test instead of hanging
/// it.
fn count_call(w: &mut World) {
    let Some(frame) = w.frames.last_mut() else {
        return;
    };
    frame.calls += 1;
    if frame.calls < SPIN_LIMIT {
        return;
    }
    let detail = format!("{SPIN_LIMIT} calls into NDIS without returning");
    let at = w.where_();
    w.violate(
        crate::rules::Rule::LivenessCallbackSpins,
        crate::rules::Subject::Driver,
        "-",
        detail.clone(),
    );
    panic!("liveness.callback-spins in {at}: {detail}");
}

/// Counts a call of the driver into one of the emulator's exports (both ABIs' entry points call
/// it first): see [`count_call`].
pub fn driver_called() {
    let _ = with(count_call);
}

/// [`with`] on the shared world: its lock held for `f` only, this thread's processor state
/// swapped in for `f` and out again after.
fn with_shared<R>(body: impl FnOnce(&mut World) -> R) -> Option<R> {
    ENTERED.with(|cell| {
        // Borrowed already: a nested `with` on this thread, refused as on an own world (the
        // mutex would deadlock instead).
        let mut slot = cell.try_borrow_mut().ok()?;
        let entered = slot.as_mut()?;
        let mut world = entered.shared.lock();
        entered.cpu.swap(&mut world);
        let r = body(&mut world);
        entered.cpu.swap(&mut world);
        Some(r)
    })
}

/// Installs a world on this thread; false if one is already there.
pub(crate) fn install(w: Box<World>) -> bool {
    WORLD.with(|c| {
        let mut b = c.borrow_mut();
        if b.is_some() {
            return false;
        }
        *b = Some(w);
        true
    })
}

/// Removes this thread's world.
pub(crate) fn uninstall() -> Option<Box<World>> {
    WORLD.with(|c| c.borrow_mut().take())
}

/// A world several real threads share (threads mode): behind a lock taken only inside [`with`].
pub(crate) struct Shared(Mutex<Box<World>>);

// SAFETY: the world's raw pointers (NBL blocks, heap values, the driver object) point at memory
// the world owns or the driver handed it; every access to them goes through the mutex, and the
// driver code that uses the same memory without the lock is the code under test, whose own
// synchronisation (NDIS's contract) is what the threads mode exists to exercise.
unsafe impl Send for Shared {}
// SAFETY: as above: `&Shared` only gives access through the mutex.
unsafe impl Sync for Shared {}

impl Shared {
    /// Shares `w`.
    pub(crate) fn new(w: Box<World>) -> Arc<Shared> {
        Arc::new(Shared(Mutex::new(w)))
    }

    /// The world, locked. A panic under the lock (an emulator bug, reported by the thread that
    /// hit it) does not stop the others from reading what happened.
    fn lock(&self) -> std::sync::MutexGuard<'_, Box<World>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The world back, once no other thread holds the share.
    pub(crate) fn into_world(this: Arc<Shared>) -> Option<Box<World>> {
        Arc::into_inner(this).map(|s| s.0.into_inner().unwrap_or_else(PoisonError::into_inner))
    }
}

/// What a thread in threads mode keeps of its own: its processor.
struct Entered {
    shared: Arc<Shared>,
    cpu: Cpu,
}

/// One processor's part of the world, swapped in while its thread holds the lock: the IRQL, the
/// callback stack, the processor number and a status indication being delivered. Whatever reads
/// `World::irql` or `World::frames` thus reads the calling processor's.
#[derive(Default)]
pub(crate) struct Cpu {
    irql: Irql,
    frames: Vec<Frame>,
    number: u32,
    delivering_status: usize,
    private_status: Option<Heap<(NDIS_STATUS_INDICATION, Vec<u8>)>>,
    offload_status: Option<Heap<(NDIS_STATUS_INDICATION, Vec<u8>)>>,
    status_store: Option<
        Heap<(
            NDIS_STATUS_INDICATION,
            mpfilter::ndis::types::NDIS_LINK_STATE,
        )>,
    >,
    here: Here,
}

impl Cpu {
    /// Processor `number` at PASSIVE_LEVEL, in no callback.
    pub(crate) fn new(number: u32) -> Self {
        Cpu {
            number,
            ..Cpu::default()
        }
    }

    fn swap(&mut self, w: &mut World) {
        std::mem::swap(&mut self.irql, &mut w.irql);
        std::mem::swap(&mut self.frames, &mut w.frames);
        std::mem::swap(&mut self.number, &mut w.kernel.cpu);
        std::mem::swap(&mut self.delivering_status, &mut w.delivering_status);
        std::mem::swap(&mut self.private_status, &mut w.private_status);
        std::mem::swap(&mut self.offload_status, &mut w.offload_status);
        std::mem::swap(&mut self.status_store, &mut w.status_store);
        std::mem::swap(&mut self.here, &mut w.census.here);
    }
}

/// Enters `shared` on this thread as processor `cpu` (threads mode); false if this thread has
/// a world of its own or entered one already.
pub(crate) fn enter(shared: &Arc<Shared>, cpu: Cpu) -> bool {
    if WORLD.with(|c| c.borrow().is_some()) {
        return false;
    }
    let fresh = ENTERED.with(|c| {
        let mut b = c.borrow_mut();
        if b.is_some() {
            return false;
        }
        *b = Some(Entered {
            shared: Arc::clone(shared),
            cpu,
        });
        true
    });
    if fresh {
        with_shared(|w| w.census.entered += 1);
    }
    fresh
}

/// Leaves the shared world this thread entered; the callback frames it left open (none, unless
/// a driver call on it never returned).
pub(crate) fn leave() -> usize {
    let open = with_shared(|w| {
        w.census.entered -= 1;
        w.frames.len()
    })
    .unwrap_or(0);
    ENTERED.with(|c| c.borrow_mut().take());
    open
}

/// Who shares the world in threads mode (all zero otherwise). Kept by `machine::threads`.
#[derive(Default)]
pub(crate) struct Census {
    /// Threads that entered the shared world.
    pub entered: u32,
    /// Of those, threads that found nothing they may run and wait for another to make some.
    pub parked: u32,
    /// Threads busy (running an event, or inside the driver) and not parked.
    pub active: u32,
    /// Processors inside the driver now.
    pub in_driver: u32,
    /// Driver calls made from the emulator.
    pub driver_calls: u64,
    /// Of those, calls that began while another processor was inside the driver.
    pub overlapping: u64,
    /// Most processors inside the driver at once.
    pub most_in_driver: u32,
    /// A clock of driver entries and pauses, ordering the two.
    pub stamp: u64,
    /// NBLs handed to a FilterSendNetBufferLists that has not returned yet, with the processor
    /// it runs on and the adapter whose module it is.
    pub in_send: Map<usize, (u32, usize)>,
    /// Sends and indications on a Pausing module from a callback begun before its pause.
    pub across_pause: u64,
    /// Adapters whose stack a processor is changing (attach, pause, restart, detach) or
    /// delivering a status or PnP event to, with that processor and its nesting: NDIS
    /// serialises these per stack.
    pub pnp: Map<usize, (u32, u32)>,
    /// Callbacks into each adapter's module running now (any processor).
    pub in_module: Map<usize, u32>,
    /// PnP-serialised events put back because another processor held their stack.
    pub pnp_deferred: u64,
    /// The calling processor's own part (swapped per processor).
    pub here: Here,
}

/// One processor's part of the [`Census`].
#[derive(Clone, Copy)]
pub(crate) struct Here {
    /// Events it is running (nested: a lifecycle wait inside an event runs others).
    pub events: u32,
    /// Driver calls it is in (nested calls count once in the census).
    pub in_driver: u32,
    /// Whether it is parked.
    pub parked: bool,
    /// The census stamp of its entry into the driver (`u64::MAX` when outside, or inside
    /// through a path that is not stamped: no callback of it counts as begun earlier).
    pub entered: u64,
}

impl Default for Here {
    fn default() -> Self {
        Here {
            events: 0,
            in_driver: 0,
            parked: false,
            entered: u64::MAX,
        }
    }
}

impl Census {
    /// Whether real threads share the world.
    pub(crate) fn threads(&self) -> bool {
        self.entered > 0
    }
}

/// A heap value the driver holds raw pointers into. Kept as the raw pointer `Box::into_raw`
/// returned, so that moving the owner (into a map, an `Option`) never re-asserts uniqueness over
/// memory the driver still points at; every pointer handed out derives from [`Heap::ptr`].
pub(crate) struct Heap<T>(*mut T);

impl<T> Heap<T> {
    pub(crate) fn new(v: T) -> Self {
        Heap(Box::into_raw(Box::new(v)))
    }
    pub(crate) fn ptr(&self) -> *mut T {
        self.0
    }
    pub(crate) fn get(&self) -> &T {
        // SAFETY: live until drop; the caller holds the world (its own, or the shared one's
        // lock), and the emulator never hands the driver this value's memory while it reads it.
        unsafe { &*self.0 }
    }
}

impl<T> Drop for Heap<T> {
    fn drop(&mut self) {
        // SAFETY: from Box::into_raw in `new`, freed once, here.
        drop(unsafe { Box::from_raw(self.0) });
    }
}

/// A small heap token whose address serves as an NDIS handle (unique across parallel emulators).
pub(crate) struct Token(Box<[u64; 2]>);

impl Token {
    pub(crate) fn new() -> Self {
        Token(Box::new([0x4E44_4953_4841_4E44, 0]))
    }
    pub(crate) fn addr(&self) -> usize {
        std::ptr::from_ref(&*self.0) as usize
    }
}

/// Why [`World::walk`] stopped at an NBL it had already visited: the chain is a cycle.
pub(crate) const CHAIN_CYCLE: &str = "Next leads back to an NBL earlier in the same chain";

/// Chain length up to which [`World::walk`] looks for a repeat in the NBLs it has walked instead of
/// in a table.
const LINEAR_WALK: usize = 32;

/// Longest NET_BUFFER chain the emulator follows in one NBL (its NBLs carry one each; a filter's
/// retreat or clone keeps the count): anything longer is a cycle or garbage.
pub(crate) const MAX_NET_BUFFERS: usize = 256;

/// What an NDIS handle refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HandleKind {
    Driver,
    Module(usize),
    Pool,
    Device,
    Miniport(usize),
    Protocol(usize),
    Config,
}

/// Whose configuration a configuration handle opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConfigScope {
    Driver,
    Module(usize),
}

/// An open configuration handle and the values read through it (NDIS owns them until close).
pub(crate) struct OpenConfig {
    /// The handle's address, kept unique while the handle is open.
    pub _handle: Token,
    pub scope: ConfigScope,
    pub values: Vec<
        Heap<(
            mpfilter::ndis::types::NDIS_CONFIGURATION_PARAMETER,
            Vec<u16>,
        )>,
    >,
}

/// How an NBL reached the filter that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Came {
    /// From the protocol above through FilterSendNetBufferLists.
    Above,
    /// From the miniport below through FilterReceiveNetBufferLists.
    Below,
    /// Allocated by the filter (pool NBL or clone).
    Own,
}

/// Where an NBL is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NState {
    /// In its pool's free list.
    Free,
    /// With the emulated protocol or miniport.
    Emu,
    /// Held by the filter (module known unless the filter allocated it).
    Filter { module: Option<usize>, came: Came },
    /// Sent below by the filter through `module`.
    Below { module: usize, came: Came },
    /// Indicated above by the filter through `module`.
    Up {
        module: usize,
        came: Came,
        resources: bool,
    },
    /// Lent to the filter for the duration of a RESOURCES receive callback.
    Resources { module: usize },
}

/// Who allocated an NBL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The emulated protocol of an adapter (a send).
    ProtoTx(usize),
    /// The emulated miniport of an adapter (a receive).
    MpRx(usize),
    /// A filter pool.
    Pool,
    /// A filter clone of `parent`, allocated with `flags`.
    Clone { parent: usize, flags: u32 },
}

/// The emulator's record of one NBL.
pub(crate) struct NblTrack {
    pub pool: usize,
    pub origin: Origin,
    pub state: NState,
    /// SourceHandle when it entered the filter (others' NBLs).
    pub source: usize,
    /// Header when it entered the filter (others' NBLs): compared on handback.
    pub entry_snap: Snap,
    /// Header when the filter sent or indicated it away: compared when it comes back.
    pub away_snap: Snap,
    /// Context stack position at entry (others' NBLs) or allocation (pool NBLs).
    pub ctx_mark: (usize, u16),
    /// Sent to the filter while the module was not Running (must complete with PAUSED).
    pub probe: bool,
    /// The port number the protocol sent it on or the miniport indicated it on.
    pub port: u32,
    /// The ledger's key of the frame a protocol sent in it (pause probes have none): of its
    /// first NET_BUFFER's, when it carries several frames of one flow (`frames` of them, with
    /// consecutive flow sequence numbers).
    pub frame: Option<crate::ledger::FrameKey>,
    /// How many frames (NET_BUFFERs) the protocol put in it.
    pub frames: u16,
}

/// An NBL pool.
pub(crate) struct Pool {
    pub token: Token,
    /// Driver or module handle that allocated it; 0 for emulator pools.
    pub owner: usize,
    pub with_frame: bool,
    pub with_nb: bool,
    pub ctx_size: u16,
    pub free: VecDeque<usize>,
    pub all: Vec<usize>,
    pub live: usize,
    pub freed: bool,
}

impl Pool {
    pub(crate) fn new(owner: usize, with_frame: bool, with_nb: bool, ctx_size: u16) -> Self {
        Pool {
            token: Token::new(),
            owner,
            with_frame,
            with_nb,
            ctx_size,
            free: VecDeque::new(),
            all: Vec::new(),
            live: 0,
            freed: false,
        }
    }
}

/// Module states of [DOC:filter-module-states-and-operations].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModState {
    /// Not attached.
    Detached,
    /// Inside FilterAttach.
    Attaching,
    /// Attached, paused.
    Paused,
    /// Restart in progress.
    Restarting,
    /// Running: data may flow.
    Running,
    /// Pause in progress.
    Pausing,
}

/// Progress of a pause or restart that may pend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Idle,
    /// The handler is running.
    InCallback,
    /// The handler completed the operation early (before returning PENDING).
    CompletedEarly,
    /// The handler returned PENDING.
    Pending,
}

/// Attach parameters with the strings they point at.
pub(crate) struct AttachStore {
    pub params: NDIS_FILTER_ATTACH_PARAMETERS,
    /// What `params.DefaultOffloadConfiguration` points to.
    pub offload: mpfilter::ndis::types::NDIS_OFFLOAD,
    pub strings: Vec<(UNICODE_STRING, Vec<u16>)>,
}

/// A filter module: the driver's instance on one adapter.
pub(crate) struct Module {
    pub token: Token,
    pub ctx: usize,
    pub state: ModState,
    pub pause: Op,
    pub restart: Op,
    pub restart_status: i32,
    pub attrs_set: bool,
    pub attach: Option<Heap<AttachStore>>,
    pub stats: LifecycleStats,
    /// The census stamp of its last Running → Pausing (threads mode: a callback another
    /// processor entered before it may still be sending on the module).
    pub pausing_since: u64,
}

/// The emulated miniport of an adapter.
pub(crate) struct Miniport {
    pub token: Token,
    pub pool: usize,
    pub running: bool,
    pub tx_queue: VecDeque<usize>,
    pub tx_busy: bool,
    pub batch: Vec<usize>,
    pub rx_outstanding: u64,
    /// Indicated and neither received by the protocol nor reclaimed yet.
    pub rx_inflight: u64,
    pub rx_seq: u64,
    pub packet_filter: u32,
    /// Size the current completion batch completes at.
    pub batch_target: usize,
    /// When the scheduled flush of a short batch fires, if one is scheduled.
    pub flush_due: Option<Nanos>,
    /// NBLs the filter sent that the miniport has not completed yet.
    pub below: u64,
    /// mpshim's health monitor, when the adapter links the shim.
    pub shim: Option<mpshim::monitor::Monitor>,
    /// Whether the monitor's tick is scheduled.
    pub shim_ticking: bool,
    /// Those NBLs by destination (IPv4 destination of a flow frame, else 0).
    pub below_by_target: Map<u32, u64>,
    /// The destination of each of them.
    pub below_target: Map<usize, u32>,
    /// Faults in force on this miniport and its wire.
    pub link: crate::machine::LinkState,
    /// Frames on their way along the wire (sent, not yet at the far end: `wire_latency_ns`).
    pub propagating: u64,
    /// Fabric frames indicated and neither received by the protocol nor reclaimed yet.
    pub fabric_inflight: u64,
    /// The multicast list set with OID_802_3_MULTICAST_LIST.
    pub multicast: Vec<[u8; 6]>,
}

/// The emulated protocol bound above an adapter's stack.
pub(crate) struct Protocol {
    pub token: Token,
    pub pool: usize,
    pub running: bool,
    pub outstanding: u64,
    pub tx_seq: u64,
    pub oid_busy: bool,
    pub oids_to_issue: u32,
    /// Next sequence number of each flow (`TrafficConfig::flows` entries).
    pub flow_seqs: Vec<u64>,
    /// NBLs of each flow sent and not yet completed (`TrafficConfig::flow_window`).
    pub flow_outstanding: Vec<u32>,
    /// LINK_STATE indications received.
    pub link_seen: Vec<crate::wire::LinkIndication>,
    /// The packet filter the protocol sets first (`TrafficConfig::packet_filter`), until its
    /// request completes: no sends meanwhile.
    pub filter_pending: Option<u32>,
    /// The multicast list the protocol sets after its packet filter
    /// (`TrafficConfig::multicast_list`), until its request completes: no sends meanwhile.
    pub multicast_pending: Option<Vec<[u8; 6]>>,
    /// The MTU its stack presented at the last restart (`MtuSize` as it reached the protocol).
    pub mtu_view: u32,
    /// The IPv4 LSOv2 limit its stack presented at bind (0: none).
    pub lso_view: u32,
    /// The IPv6 LSOv2 limit its stack presented (as `lso_view`).
    pub lso6_view: u32,
    /// Its own frames the protocol got back as loopback indications.
    pub looped_back: std::collections::HashSet<crate::ledger::FrameKey>,
    /// The packet filter its last successful OID_GEN_CURRENT_PACKET_FILTER set installed.
    pub filter_set: Option<u32>,
    /// The value of the packet filter set it has in flight.
    pub filter_setting: Option<u32>,
}

/// One adapter: protocol → filter module → miniport.
pub(crate) struct Adapter {
    pub cfg: AdapterConfig,
    pub module: Module,
    pub mp: Miniport,
    pub proto: Protocol,
    pub stats: AdapterStats,
    pub traffic: crate::config::TrafficConfig,
    /// Receives still to deliver (counted when the protocol gets them).
    pub rx_target: u64,
    /// Sends still to make.
    pub tx_target: u64,
    pub tx_ticking: bool,
    pub rx_ticking: bool,
    /// What NDIS passed to the filter that the filter owes the other end.
    pub owed: crate::machine::Owed,
    /// Per kind of wait (`machine::liveness::Wait`): when something last came back, or when the
    /// wait began.
    pub progress: [Nanos; 3],
    /// Frames the synthetic receive generator indicated (all to this adapter's own MAC) since the
    /// protocol last received one.
    pub rx_unseen: u64,
}

/// State of an OID request from the emulated protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrigState {
    InFilter,
    Pending,
    DoneSync,
    Done,
}

/// An OID request issued by the emulated protocol.
pub(crate) struct OrigOid {
    pub req: Heap<OidStore>,
    pub adapter: usize,
    pub state: OrigState,
    pub cancelled: bool,
    /// NDIS refused the filter a clone of this request, with this status: the filter answers it
    /// itself, with that status.
    pub clone_refused: Option<mpfilter::ndis::types::NDIS_STATUS>,
    /// What the miniport answered on the filter's clone of this request.
    pub answer: Option<OidAnswer>,
}

/// The result fields a miniport set on a request (the query view; the set view shares them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OidAnswer {
    pub status: i32,
    /// BytesWritten (query) or BytesRead (set).
    pub bytes_done: u32,
    pub bytes_needed: u32,
    pub supported_revision: u8,
}

/// An OID request with its information buffer.
#[repr(C)]
pub(crate) struct OidStore {
    pub req: NDIS_OID_REQUEST,
    pub buf: [u8; OID_STORE_BUFFER],
}

/// The information buffer of a request the emulator makes: room for the protocol's longest
/// multicast list.
pub(crate) const OID_STORE_BUFFER: usize = 6 * crate::config::MAX_PROTOCOL_MULTICAST;

/// A request the filter passed below (at the miniport).
#[derive(Clone, Copy)]
pub(crate) struct OidBelow {
    pub adapter: usize,
    pub generation: u64,
}

/// An OID clone the filter allocated.
pub(crate) struct OidClone {
    pub owner: usize,
    /// The request it was cloned from.
    pub orig: usize,
}

/// A control device.
pub(crate) struct Device {
    pub object: Heap<[u64; 8]>,
    pub ext: Vec<u128>,
    /// The driver's dispatch routines by IRP major function (0 = none), copied at registration
    /// as NDIS does.
    pub dispatch: [usize; mpfilter::ndis::types::IRP_MJ_COUNT],
    /// The calling convention of the driver that registered it.
    pub abi: crate::abi::Abi,
}

/// An IRP the emulator handed a dispatch routine, until the routine returns.
pub(crate) struct IrpTrack {
    /// IofCompleteRequest calls for it.
    pub completions: u32,
    /// Whether the handle it came on was granted write access.
    pub write_access: bool,
    /// The caller's output buffer length.
    pub out_len: usize,
}

/// The registered filter driver.
pub(crate) struct Driver {
    pub token: Token,
    pub ctx: usize,
    pub handlers: Handlers,
    pub deregistered: bool,
}

/// Emulator events.
pub(crate) enum Event {
    ProtoSendTick(usize),
    MpRxTick(usize),
    TxDone(usize),
    Complete(usize, Vec<usize>),
    ProtoReturn(usize, Vec<usize>),
    OidComplete {
        adapter: usize,
        req: usize,
        generation: u64,
        status: i32,
    },
    ProtoOidTick(usize),
    RestartFilter(usize),
    ProtoOidCancel(usize, usize),
    Status(usize),
    NetPnp(usize),
    DevicePnp(usize),
    TxFlush(usize),
    /// A frame reaches the far end of adapter `.1`'s wire after the wire's latency.
    Arrive(crate::ledger::FrameKey, usize),
    /// A scheduled fault of an adapter.
    Fault(usize, crate::wire::Fault),
    /// The miniport's mpshim monitor tick.
    ShimTick(usize),
    /// A timer object's setting `generation` is due.
    Timer {
        handle: usize,
        generation: u64,
    },
    /// A frame reaches the fabric's switch through `port` (`wire`: the adapter whose wire first
    /// carried it, for the ledger).
    FabricIn {
        port: crate::fabric::Port,
        frame: Vec<u8>,
        wire: Option<usize>,
    },
    /// A frame the switch sent out of `port` reaches what is plugged into it.
    FabricOut {
        port: crate::fabric::Port,
        frame: Vec<u8>,
        wire: Option<usize>,
    },
    /// Adapter `.0`'s miniport indicates the frames the fabric brought it.
    FabricRx(usize),
}

/// A callback the emulator is inside.
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub name: &'static str,
    pub adapter: Option<usize>,
    /// Calls the driver made into the emulator while this is the innermost frame.
    pub calls: u64,
}

impl Frame {
    /// The frame of callback `name` (of adapter `adapter`'s module, if any).
    pub(crate) fn new(name: &'static str, adapter: Option<usize>) -> Self {
        Frame {
            name,
            adapter,
            calls: 0,
        }
    }
}

/// Everything one emulator instance knows.
pub(crate) struct World {
    pub cfg: EmuConfig,
    pub sched: Scheduler<Event>,
    pub rng: Rng,
    pub irql: Irql,
    pub frames: Vec<Frame>,
    pub halted: bool,
    pub violations: Vec<Violation>,
    pub leaks: Vec<Leak>,
    /// The driver object (from `Box::into_raw`, freed on drop): kept as a raw pointer because the
    /// driver holds one too, and a unique borrow of it would invalidate the driver's.
    pub driver_object: *mut DRIVER_OBJECT,
    pub registry_path: Box<(UNICODE_STRING, Vec<u16>)>,
    pub entry_abi: Option<crate::abi::Abi>,
    pub driver: Option<Driver>,
    pub register_calls: u32,
    pub drv_ext: Vec<(usize, usize, Layout)>,
    pub adapters: Vec<Adapter>,
    pub handles: Map<usize, HandleKind>,
    pub nbls: Map<usize, NblTrack>,
    pub pools: Map<usize, Pool>,
    pub children: Map<usize, u32>,
    /// Every dynamic context area the world allocated, in use or spare: the world owns them all
    /// and frees them when it is dropped.
    pub ctx_areas: Vec<usize>,
    /// Dynamic context areas the driver freed, by size, for the next allocation of that size
    /// (ndis.sys keeps such areas in lookaside lists; the emulator saves an allocation per call).
    pub ctx_spare: Map<u16, Vec<usize>>,
    pub memory: Map<usize, (Layout, u32)>,
    pub devices: Map<usize, Device>,
    pub irps: Map<usize, IrpTrack>,
    pub orig_oids: Map<usize, OrigOid>,
    pub done_oids: VecDeque<usize>,
    pub oid_below: Map<usize, OidBelow>,
    pub oid_clones: Map<usize, OidClone>,
    pub oid_gen: u64,
    pub clone_pool: usize,
    pub delivering_status: usize,
    /// A private (not owed) status indication being delivered, with its buffer.
    pub private_status: Option<Heap<(NDIS_STATUS_INDICATION, Vec<u8>)>>,
    /// A current-config offload indication being delivered, with its buffer.
    pub offload_status: Option<Heap<(NDIS_STATUS_INDICATION, Vec<u8>)>>,
    pub status_store: Option<
        Heap<(
            NDIS_STATUS_INDICATION,
            mpfilter::ndis::types::NDIS_LINK_STATE,
        )>,
    >,
    pub scratch: Vec<u8>,
    pub cancelled: Set<usize>,
    /// NBLs the miniport decided to fail (link down, error completions): their status.
    pub tx_failed: Map<usize, i32>,
    /// The protocol NBLs (by the emulator's address) a miniport failed, until a miniport takes
    /// them (or a clone of them) again: a re-send.
    pub failed_sends: Set<usize>,
    /// Where every protocol frame went.
    pub ledger: crate::ledger::Ledger,
    pub delivered: Set<usize>,
    pub retreat_mdls: Map<usize, Heap<(nblmem::MdlCell, Vec<u8>)>>,
    /// Diagnostic records from the host-linked filter.
    pub diag: crate::diag::DiagLog,
    /// Open configuration handles, by handle.
    pub configs: Map<usize, OpenConfig>,
    /// Timer objects, spin locks and the virtual processor running now.
    pub kernel: crate::kernel_sync::KernelSync,
    /// Registered ETW providers (a loaded `.sys`'s TraceLogging).
    pub etw: crate::exports::etw::EtwState,
    /// The L2 fabric, when configured.
    pub fabric: Option<crate::fabric::Fabric>,
    /// Real threads sharing this world (threads mode).
    pub census: Census,
    /// NBLs a miniport indicated carrying a frame the fabric brought.
    pub fabric_nbls: Set<usize>,
}

impl World {
    /// The protocol's NBL that `nbl` is, or is a clone of (at any depth); `None` for NBLs no
    /// protocol sent (receives, the filter's own pool NBLs).
    pub(crate) fn protocol_root(&self, nbl: usize) -> Option<usize> {
        let mut at = nbl;
        for _ in 0..64 {
            match self.nbls.get(&at)?.origin {
                Origin::Clone { parent, .. } => at = parent,
                Origin::ProtoTx(_) => return Some(at),
                Origin::MpRx(_) | Origin::Pool => return None,
            }
        }
        None
    }

    pub(crate) fn new(cfg: EmuConfig) -> Box<World> {
        // SAFETY: DRIVER_OBJECT is plain data (pointers, integers, an Option of a fn pointer,
        // whose all-zero pattern is None); all-zero is valid.
        let mut d: Box<DRIVER_OBJECT> = Box::new(unsafe { core::mem::zeroed() });
        d.Type = 4;
        d.Size = i16::try_from(size_of::<DRIVER_OBJECT>()).unwrap_or(0);
        let path: Vec<u16> = "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\mpfilter"
            .encode_utf16()
            .collect();
        let len = u16::try_from(path.len() * 2).unwrap_or(0);
        let mut rp = Box::new((
            UNICODE_STRING {
                Length: len,
                MaximumLength: len,
                Buffer: std::ptr::null_mut(),
            },
            path,
        ));
        rp.0.Buffer = rp.1.as_mut_ptr();
        let rng = Rng::new(cfg.seed);
        let fabric = cfg.fabric.clone().map(crate::fabric::Fabric::new);
        let mut w = Box::new(World {
            cfg,
            sched: Scheduler::default(),
            rng,
            irql: Irql::Passive,
            frames: Vec::new(),
            halted: false,
            violations: Vec::new(),
            leaks: Vec::new(),
            driver_object: Box::into_raw(d),
            registry_path: rp,
            entry_abi: None,
            driver: None,
            register_calls: 0,
            drv_ext: Vec::new(),
            adapters: Vec::new(),
            handles: Map::default(),
            nbls: Map::default(),
            pools: Map::default(),
            children: Map::default(),
            ctx_areas: Vec::new(),
            ctx_spare: Map::default(),
            memory: Map::default(),
            devices: Map::default(),
            irps: Map::default(),
            orig_oids: Map::default(),
            done_oids: VecDeque::new(),
            oid_below: Map::default(),
            oid_clones: Map::default(),
            oid_gen: 0,
            clone_pool: 0,
            delivering_status: 0,
            private_status: None,
            offload_status: None,
            status_store: None,
            scratch: vec![0; nblmem::FRAME_CAPACITY],
            cancelled: Set::default(),
            tx_failed: Map::default(),
            failed_sends: Set::default(),
            ledger: crate::ledger::Ledger::default(),
            delivered: Set::default(),
            retreat_mdls: Map::default(),
            diag: crate::diag::DiagLog::default(),
            configs: Map::default(),
            kernel: crate::kernel_sync::KernelSync::default(),
            etw: crate::exports::etw::EtwState::default(),
            fabric,
            fabric_nbls: Set::default(),
            census: Census::default(),
        });
        w.clone_pool = w.new_pool(0, false, false, 0);
        w
    }

    pub(crate) fn traffic(&self, a: usize) -> &crate::config::TrafficConfig {
        &self.adapters[a].traffic
    }

    /// The destination MAC of the frames adapter `a`'s protocol sends (of flow `flow`): with a
    /// fabric, the peer the flow goes to (peer 0 for plain frames).
    pub(crate) fn tx_dst(&self, a: usize, flow: u32) -> [u8; 6] {
        let traffic = &self.adapters[a].traffic;
        if !traffic.destinations.is_empty() {
            return traffic.destinations[flow as usize % traffic.destinations.len()];
        }
        if traffic.broadcast {
            return [0xFF; 6];
        }
        match self.fabric.as_ref().map(|f| &f.cfg.peers) {
            Some(peers) if !peers.is_empty() => peers[flow as usize % peers.len()].mac,
            _ => crate::frames::peer_mac(a),
        }
    }

    /// [`World::tx_dst`] of the frame `id`.
    pub(crate) fn tx_dst_of(&self, id: &crate::frames::FrameId) -> [u8; 6] {
        self.tx_dst(id.origin, id.flow)
    }

    pub(crate) fn cfg_lifecycle_timeout(&self) -> Nanos {
        self.cfg.lifecycle_timeout
    }

    pub(crate) fn now(&self) -> Nanos {
        self.sched.now()
    }

    /// The callback the emulator is in, for violation records.
    pub(crate) fn where_(&self) -> String {
        match self.frames.last() {
            None => "-".to_string(),
            Some(Frame {
                name,
                adapter: Some(a),
                ..
            }) => format!("{name} [adapter {a}]"),
            Some(Frame {
                name,
                adapter: None,
                ..
            }) => (*name).to_string(),
        }
    }

    /// Records a violation and halts the run.
    pub(crate) fn violate(
        &mut self,
        rule: Rule,
        subject: Subject,
        call: &'static str,
        detail: impl Into<String>,
    ) {
        if self.violations.len() < 32 {
            let v = Violation {
                rule,
                subject,
                call,
                callback: self.where_(),
                at: self.now(),
                detail: detail.into(),
            };
            self.violations.push(v);
        }
        self.halted = true;
    }

    /// Records a leak.
    pub(crate) fn leak(
        &mut self,
        rule: Rule,
        subject: Subject,
        phase: &str,
        detail: impl Into<String>,
    ) {
        self.leaks.push(Leak {
            rule,
            subject,
            phase: phase.to_string(),
            detail: detail.into(),
        });
    }

    /// Registers a new pool and returns its handle.
    pub(crate) fn new_pool(
        &mut self,
        owner: usize,
        with_frame: bool,
        with_nb: bool,
        ctx: u16,
    ) -> usize {
        let p = Pool::new(owner, with_frame, with_nb, ctx);
        let h = p.token.addr();
        self.handles.insert(h, HandleKind::Pool);
        self.pools.insert(h, p);
        h
    }

    /// Takes an NBL from a pool (creating blocks as needed); the caller sets origin and state.
    pub(crate) fn pool_alloc(&mut self, pool: usize, origin: Origin) -> Option<usize> {
        let p = self.pools.get_mut(&pool)?;
        let nbl = if let Some(n) = p.free.pop_front() {
            // SAFETY: blocks on the free list are live emulator blocks nobody else references.
            unsafe { nblmem::reset(n, p.with_nb) };
            n
        } else {
            let b = NblBlock::create(pool as *mut _, p.with_frame, p.with_nb, p.ctx_size);
            p.all.push(b as usize);
            b as usize
        };
        p.live += 1;
        // SAFETY: nbl is a live block just taken from the pool.
        let mark = unsafe { nblmem::context_mark(nbl) };
        match self.nbls.entry(nbl) {
            // A block from the free list: its record (left as `Free`) is renewed where it is,
            // rather than a new one (two header snapshots, most of a kilobyte) built and moved in.
            // Destructured without `..`: a field added to the record must be renewed here too.
            Entry::Occupied(mut e) => {
                let NblTrack {
                    pool: t_pool,
                    origin: t_origin,
                    state,
                    source,
                    entry_snap,
                    away_snap,
                    ctx_mark,
                    probe,
                    port,
                    frame,
                    frames,
                } = e.get_mut();
                (*t_pool, *t_origin, *state, *source) = (pool, origin, NState::Emu, 0);
                (*entry_snap, *away_snap) = (Snap::EMPTY, Snap::EMPTY);
                (*ctx_mark, *probe, *port, *frame, *frames) = (mark, false, 0, None, 1);
            }
            Entry::Vacant(e) => {
                e.insert(NblTrack {
                    pool,
                    origin,
                    state: NState::Emu,
                    source: 0,
                    entry_snap: Snap::EMPTY,
                    away_snap: Snap::EMPTY,
                    ctx_mark: mark,
                    probe: false,
                    port: 0,
                    frame: None,
                    frames: 1,
                });
            }
        }
        Some(nbl)
    }

    /// Puts an NBL back on its pool's free list (the record stays, as `Free`).
    pub(crate) fn pool_release(&mut self, nbl: usize) {
        let Some(t) = self.nbls.get_mut(&nbl) else {
            return;
        };
        t.state = NState::Free;
        if let Some(p) = self.pools.get_mut(&t.pool) {
            p.live = p.live.saturating_sub(1);
            p.free.push_back(nbl);
        }
    }

    /// The adapter whose module has this handle.
    pub(crate) fn module_of(&self, h: usize) -> Option<usize> {
        match self.handles.get(&h) {
            Some(HandleKind::Module(a)) => Some(*a),
            _ => None,
        }
    }

    /// Handle of an adapter's module.
    pub(crate) fn module_handle(&self, a: usize) -> usize {
        self.adapters[a].module.token.addr()
    }

    /// Walks a chain of live emulator NBLs starting at `head`; stops (returning the offending
    /// address) at an unknown or freed NBL, which is never dereferenced, and at an NBL already
    /// seen in this chain ([`CHAIN_CYCLE`]): every walk ends, whatever the driver did to `Next`.
    pub(crate) fn walk(&self, head: usize) -> Result<Vec<usize>, (usize, &'static str)> {
        let mut out = Vec::new();
        // Chains are short (a protocol's send, a completion batch): a look through `out` finds a
        // repeat sooner than a table would, which is only built once a chain grows long.
        let mut seen: Option<Set<usize>> = None;
        let mut cur = head;
        while cur != 0 {
            match self.nbls.get(&cur) {
                None => return Err((cur, "not an NBL NDIS allocated")),
                Some(t) if t.state == NState::Free => {
                    return Err((cur, "NBL was already freed or completed"));
                }
                Some(_) => {}
            }
            let repeat = if out.len() < LINEAR_WALK {
                out.contains(&cur)
            } else {
                !seen
                    .get_or_insert_with(|| out.iter().copied().collect())
                    .insert(cur)
            };
            if repeat {
                return Err((cur, CHAIN_CYCLE));
            }
            out.push(cur);
            // SAFETY: cur is a live emulator NBL (checked above).
            cur = unsafe { nblmem::next(cur) };
        }
        Ok(out)
    }

    /// Links `nbls` into a chain and returns its head (0 if empty).
    pub(crate) fn link(nbls: &[usize]) -> usize {
        for w in nbls.windows(2) {
            // SAFETY: callers pass live emulator NBLs they own at this point.
            unsafe { nblmem::set_next(w[0], w[1]) };
        }
        if let Some(&last) = nbls.last() {
            // SAFETY: as above.
            unsafe { nblmem::set_next(last, 0) };
        }
        nbls.first().copied().unwrap_or(0)
    }

    /// NBLs a module is still responsible for: (held from above, held from below, below, above).
    pub(crate) fn outstanding(&self, a: usize) -> (usize, usize, usize, usize) {
        let mut o = (0, 0, 0, 0);
        for t in self.nbls.values() {
            match t.state {
                NState::Filter {
                    module: Some(m),
                    came: Came::Above,
                } if m == a => o.0 += 1,
                NState::Filter {
                    module: Some(m),
                    came: Came::Below,
                } if m == a => o.1 += 1,
                NState::Below { module, .. } if module == a => o.2 += 1,
                NState::Up { module, .. } if module == a => o.3 += 1,
                _ => {}
            }
        }
        o
    }

    /// Whether OIDs and status indications are legal on the module.
    pub(crate) fn oid_state_ok(&self, a: usize) -> bool {
        !matches!(
            self.adapters[a].module.state,
            ModState::Attaching | ModState::Detached
        )
    }

    /// A dynamic context area of `size` bytes (`offset` of them unused), zeroed, on top of
    /// `next`: one the driver gave back earlier when there is one of that size.
    pub(crate) fn ctx_area_alloc(
        &mut self,
        size: u16,
        offset: u16,
        next: *mut NET_BUFFER_LIST_CONTEXT,
    ) -> *mut NET_BUFFER_LIST_CONTEXT {
        if let Some(p) = self.ctx_spare.get_mut(&size).and_then(Vec::pop) {
            let p = p as *mut NET_BUFFER_LIST_CONTEXT;
            // SAFETY: a spare area is from alloc_ctx, unlinked from every NBL and owned by the
            // world alone (ctx_area_release).
            unsafe { nblmem::renew_ctx(p, offset, next) };
            p
        } else {
            let p = nblmem::alloc_ctx(size, offset, next);
            self.ctx_areas.push(p as usize);
            p
        }
    }

    /// Takes back a dynamic context area (from [`World::ctx_area_alloc`]) the driver freed all of
    /// and the caller unlinked from its NBL.
    pub(crate) fn ctx_area_release(&mut self, p: *mut NET_BUFFER_LIST_CONTEXT) {
        // SAFETY: a dynamic area the world allocated has a valid header.
        let size = unsafe { (*p).Size };
        self.ctx_spare.entry(size).or_default().push(p as usize);
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // SAFETY: from Box::into_raw in `new`, freed once, here; the driver never runs again.
        drop(unsafe { Box::from_raw(self.driver_object) });
        for p in self.pools.values() {
            for &b in &p.all {
                // SAFETY: every block of every pool was created by NblBlock::create and is freed
                // exactly once, here; the driver is never called again.
                unsafe { NblBlock::destroy(b as *mut NblBlock) };
            }
        }
        for &c in &self.ctx_areas {
            // SAFETY: dynamic context areas, in use or spare, are owned by the world, listed
            // once, and freed once, here.
            unsafe { nblmem::free_ctx(c as *mut NET_BUFFER_LIST_CONTEXT) };
        }
        for (&p, &(layout, _)) in &self.memory {
            // SAFETY: allocated by NdisAllocateMemoryWithTagPriority with this layout.
            unsafe { std::alloc::dealloc(p as *mut u8, layout) };
        }
        for &(_, p, layout) in &self.drv_ext {
            // SAFETY: allocated by IoAllocateDriverObjectExtension with this layout.
            unsafe { std::alloc::dealloc(p as *mut u8, layout) };
        }
        for &c in self.oid_clones.keys() {
            // SAFETY: clones are Box<OidStore> leaked by NdisAllocateCloneOidRequest.
            drop(unsafe { Box::from_raw(c as *mut OidStore) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` NBLs from the world's clone pool, linked in order.
    fn chain(w: &mut World, n: usize) -> Vec<usize> {
        let nbls: Vec<usize> = (0..n)
            .map(|_| w.pool_alloc(w.clone_pool, Origin::Pool).expect("an NBL"))
            .collect();
        World::link(&nbls);
        nbls
    }

    #[test]
    fn walk_follows_a_chain_to_its_end() {
        let mut w = World::new(EmuConfig::default());
        for n in [1, LINEAR_WALK, LINEAR_WALK + 1, 3 * LINEAR_WALK] {
            let nbls = chain(&mut w, n);
            assert_eq!(w.walk(nbls[0]), Ok(nbls));
        }
        assert_eq!(w.walk(0), Ok(Vec::new()));
    }

    #[test]
    fn walk_stops_at_the_first_repeat_of_short_and_long_cycles() {
        let mut w = World::new(EmuConfig::default());
        // Loops back within the linear look, at its edge, and past it into the table.
        for (n, back_to) in [
            (1, 0),
            (5, 2),
            (LINEAR_WALK, 0),
            (LINEAR_WALK + 1, LINEAR_WALK - 1),
            (3 * LINEAR_WALK, 1),
            (3 * LINEAR_WALK, 2 * LINEAR_WALK),
        ] {
            let nbls = chain(&mut w, n);
            // SAFETY: the last NBL is a live block of the world's pool.
            unsafe { nblmem::set_next(nbls[n - 1], nbls[back_to]) };
            assert_eq!(
                w.walk(nbls[0]),
                Err((nbls[back_to], CHAIN_CYCLE)),
                "{n} → {back_to}"
            );
        }
    }

    #[test]
    fn walk_stops_at_a_freed_nbl() {
        let mut w = World::new(EmuConfig::default());
        let nbls = chain(&mut w, LINEAR_WALK + 4);
        w.pool_release(nbls[LINEAR_WALK + 2]);
        assert_eq!(
            w.walk(nbls[0]),
            Err((nbls[LINEAR_WALK + 2], "NBL was already freed or completed"))
        );
    }

    #[test]
    fn a_released_context_area_comes_back_zeroed_for_its_size_only() {
        let mut w = World::new(EmuConfig::default());
        let a = w.ctx_area_alloc(32, 32, core::ptr::null_mut());
        let data = |p: *mut NET_BUFFER_LIST_CONTEXT| {
            // SAFETY: a live area of 32 data bytes after its header.
            unsafe {
                p.cast::<u8>()
                    .add(size_of::<NET_BUFFER_LIST_CONTEXT>())
                    .cast::<[u8; 32]>()
            }
        };
        // SAFETY: a's 32 data bytes.
        unsafe { data(a).write([0xA5; 32]) };
        w.ctx_area_release(a);
        let b = w.ctx_area_alloc(64, 64, core::ptr::null_mut());
        assert_ne!(a, b, "another size, another area");
        let c = w.ctx_area_alloc(32, 0, b);
        assert_eq!(a, c, "the spare area of that size");
        // SAFETY: c is a live area.
        let hdr = unsafe { &*c };
        // SAFETY: its 32 data bytes.
        let bytes = unsafe { data(c).read() };
        assert_eq!((hdr.Size, hdr.Offset, hdr.Next), (32, 0, b));
        assert_eq!(bytes, [0; 32]);
        assert!(w.ctx_areas.contains(&(c as usize)));
    }
}
