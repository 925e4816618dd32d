//! The public face of the emulator: build a world of adapters, load a driver into it, drive its
//! lifecycle and traffic, read what happened.
//!
//! An `Emulator` is bound to the thread that made it (its state is that thread's world, which the
//! exported NDIS functions find without an argument); tests on different threads each have their
//! own. At most one per thread at a time.

use crate::callbacks::{self, EntryPoint};
use crate::config::{AdapterConfig, EmuConfig, TrafficConfig};
use crate::irql::Irql;
use crate::ledger::{Arrival, DeliveryReport};
use crate::machine;
use crate::rules::{Leak, Violation};
use crate::sched::Nanos;
use crate::stats::{AdapterStats, LifecycleStats};
use crate::wire::{Fault, LinkIndication};
use crate::world::{self, Adapter, Frame, Miniport, ModState, Module, Op, Protocol, Token, World};
use core::marker::PhantomData;
use mpfilter::ndis::consts::NDIS_STATUS_SUCCESS;
use std::fmt;

/// Why a driver could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The image could not be prepared (e.g. a PE file failed to map).
    Image(String),
    /// DriverEntry returned this failure status.
    DriverEntry(i32),
    /// DriverEntry succeeded without registering a filter driver.
    NotRegistered,
    /// A driver is already loaded in this emulator.
    AlreadyLoaded,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Image(s) => write!(f, "image: {s}"),
            LoadError::DriverEntry(s) => write!(f, "DriverEntry returned {s:#x}"),
            LoadError::NotRegistered => {
                f.write_str("DriverEntry did not call NdisFRegisterFilterDriver")
            }
            LoadError::AlreadyLoaded => f.write_str("a driver is already loaded"),
        }
    }
}

/// A read-only view of the emulator for run predicates.
pub struct View<'a>(&'a World);

impl View<'_> {
    /// Counters of an adapter's stack.
    pub fn stats(&self, adapter: usize) -> &AdapterStats {
        &self.0.adapters[adapter].stats
    }
    /// The module's state.
    pub fn module_state(&self, adapter: usize) -> ModState {
        self.0.adapters[adapter].module.state
    }
    /// Virtual time.
    pub fn now(&self) -> Nanos {
        self.0.now()
    }
    /// Every frame that left a wire so far, in arrival order.
    pub fn arrivals(&self) -> &[Arrival] {
        self.0.ledger.arrivals()
    }
    /// The LINK_STATE indications an adapter's protocol received so far.
    pub fn link_indications(&self, adapter: usize) -> &[LinkIndication] {
        &self.0.adapters[adapter].proto.link_seen
    }
    /// NBLs an adapter's miniport holds now (sent down, not completed yet).
    pub fn below(&self, adapter: usize) -> u64 {
        self.0.adapters[adapter].mp.below
    }
    /// What adapter `adapter`'s protocol and miniport saw of the fabric so far (`None` without a
    /// fabric).
    pub fn fabric_seen(&self, adapter: usize) -> Option<&crate::fabric::ProtocolSeen> {
        self.0.fabric.as_ref()?.seen.get(adapter)
    }
    /// The non-flow frames the miniports put on their wires so far (empty without a fabric).
    pub fn wire_frames(&self) -> &[crate::fabric::WireFrame] {
        self.0.fabric.as_ref().map_or(&[], |f| &f.wire_frames)
    }
}

/// A deterministic NDIS for one driver and a set of adapters.
pub struct Emulator {
    _thread_bound: PhantomData<*const ()>,
}

impl Emulator {
    /// A new emulator on this thread.
    ///
    /// # Panics
    /// If this thread already has one.
    pub fn new(cfg: EmuConfig) -> Self {
        assert!(
            world::install(World::new(cfg)),
            "one Emulator per thread at a time"
        );
        Emulator {
            _thread_bound: PhantomData,
        }
    }

    fn with<R>(f: impl FnOnce(&mut World) -> R) -> R {
        world::with(f).expect("the emulator's world is installed on its own thread")
    }

    /// Adds an adapter (miniport with a protocol bound above it) and returns its index.
    pub fn add_adapter(&mut self, cfg: AdapterConfig, traffic: TrafficConfig) -> usize {
        Self::with(|w| {
            let a = w.adapters.len();
            let mut traffic = traffic;
            if let Some(f) = w.fabric.as_mut() {
                f.add_adapter(a, cfg.mac);
                // Replies must be able to arrive: directed, multicast and broadcast.
                traffic.packet_filter = traffic.packet_filter.or(Some(0x0B));
            }
            let mp_pool = w.new_pool(0, true, true, 0);
            let proto_pool = w.new_pool(0, true, true, 0);
            let ad = Adapter {
                module: Module {
                    token: Token::new(),
                    ctx: 0,
                    state: ModState::Detached,
                    pause: Op::Idle,
                    restart: Op::Idle,
                    restart_status: 0,
                    attrs_set: false,
                    attach: None,
                    stats: LifecycleStats::default(),
                    pausing_since: 0,
                },
                mp: Miniport {
                    token: Token::new(),
                    pool: mp_pool,
                    running: false,
                    tx_queue: std::collections::VecDeque::new(),
                    tx_busy: false,
                    batch: Vec::new(),
                    rx_outstanding: 0,
                    rx_inflight: 0,
                    rx_seq: 0,
                    packet_filter: 0,
                    batch_target: 0,
                    flush_due: None,
                    below: 0,
                    shim: cfg.shim.map(|settings| {
                        let path = mpshim::contract::PathIdentity {
                            net_luid: 0,
                            if_index: cfg.if_index,
                        };
                        mpshim::monitor::Monitor::new(path, settings, 0)
                            .expect("AdapterConfig::shim holds valid mpshim settings")
                    }),
                    shim_ticking: false,
                    below_by_target: crate::table::Map::default(),
                    below_target: crate::table::Map::default(),
                    link: crate::machine::LinkState {
                        up: !cfg.starts_disconnected,
                        ..crate::machine::LinkState::default()
                    },
                    propagating: 0,
                    fabric_inflight: 0,
                    multicast: Vec::new(),
                },
                proto: Protocol {
                    token: Token::new(),
                    pool: proto_pool,
                    running: false,
                    outstanding: 0,
                    tx_seq: 0,
                    oid_busy: false,
                    oids_to_issue: u32::from(traffic.packet_filter.is_some())
                        + u32::from(traffic.multicast_list.is_some()),
                    flow_seqs: vec![0; traffic.flows as usize],
                    flow_outstanding: vec![0; traffic.flows as usize],
                    link_seen: Vec::new(),
                    filter_pending: traffic.packet_filter,
                    multicast_pending: traffic.multicast_list.clone(),
                    mtu_view: cfg.mtu,
                    lso_view: cfg.lso_max,
                    lso6_view: cfg.lso_v6(),
                    looped_back: std::collections::HashSet::new(),
                    filter_set: None,
                    filter_setting: None,
                },
                stats: AdapterStats::default(),
                rx_target: traffic.rx_nbls,
                tx_target: traffic.tx_nbls,
                traffic,
                cfg,
                tx_ticking: false,
                rx_ticking: false,
                owed: crate::machine::Owed::default(),
                progress: [0; 3],
                rx_unseen: 0,
            };
            w.handles
                .insert(ad.module.token.addr(), world::HandleKind::Module(a));
            w.handles
                .insert(ad.mp.token.addr(), world::HandleKind::Miniport(a));
            w.handles
                .insert(ad.proto.token.addr(), world::HandleKind::Protocol(a));
            w.adapters.push(ad);
            a
        })
    }

    /// Calls DriverEntry (at PASSIVE_LEVEL) with the emulator's driver object.
    ///
    /// # Errors
    /// If DriverEntry fails or does not register a filter driver.
    pub fn load(&mut self, entry: EntryPoint) -> Result<(), LoadError> {
        let ptrs = Self::with(|w| {
            if w.driver.is_some() || w.entry_abi.is_some() {
                return None;
            }
            w.entry_abi = Some(entry.abi());
            w.frames.push(Frame::new("DriverEntry", None));
            w.irql = Irql::Passive;
            let d = w.driver_object;
            let r = std::ptr::from_mut(&mut w.registry_path.0);
            Some((d, r))
        });
        let Some((d, r)) = ptrs else {
            return Err(LoadError::AlreadyLoaded);
        };
        // SAFETY: a real driver object and registry path owned by the world, alive for the call.
        let status = unsafe { entry.call(d, r) };
        Self::with(|w| {
            w.frames.pop();
            if status != NDIS_STATUS_SUCCESS {
                // No unload follows a failed DriverEntry: what it registered must be gone now.
                crate::exports::etw::provider_leaks(w, "failed DriverEntry");
                Err(LoadError::DriverEntry(status))
            } else if w.driver.is_none() {
                Err(LoadError::NotRegistered)
            } else {
                Ok(())
            }
        })
    }

    /// Starts an adapter's stack: miniport, FilterAttach, SetModuleOptions + FilterRestart,
    /// protocol. True if the module is Running.
    pub fn start(&mut self, adapter: usize) -> bool {
        machine::start_stack(adapter)
    }

    /// Pauses a stack (protocol, filter, miniport); true if it paused cleanly.
    pub fn pause(&mut self, adapter: usize) -> bool {
        let probe = Self::with(|w| w.cfg.pause_probes);
        machine::pause_stack(adapter, probe)
    }

    /// Restarts a paused stack (miniport, filter, protocol); true if Running again.
    pub fn restart(&mut self, adapter: usize) -> bool {
        machine::restart_stack(adapter)
    }

    /// Takes a stack down: NetEventFilterPreDetach, pause, FilterDetach, then the detach leak
    /// check.
    pub fn stop(&mut self, adapter: usize) {
        machine::stop_stack(adapter);
    }

    /// The ETW session that enables the providers the driver registers from now on: by default
    /// everything (`Session::EVERYTHING`); `None` for no session, when no provider is enabled and
    /// a TraceLogging driver writes nothing.
    pub fn set_etw_session(&mut self, session: Option<crate::exports::etw::Session>) {
        Self::with(|w| w.etw.session = session);
    }

    /// Calls the driver's DriverUnload (at PASSIVE_LEVEL), then the unload leak check.
    pub fn unload(&mut self) {
        let plan = Self::with(|w| {
            let abi = w.entry_abi?;
            // SAFETY: the world's driver object is live until the world drops.
            let unload = unsafe { (*w.driver_object).DriverUnload }.map_or(0, |f| f as usize);
            w.frames.push(Frame::new("DriverUnload", None));
            Some((abi, unload, w.driver_object))
        });
        let Some((abi, unload, d)) = plan else { return };
        if unload != 0 {
            // SAFETY: the driver set DriverUnload on this driver object in its own ABI.
            unsafe { callbacks::driver_unload(abi, unload, d) };
        }
        Self::with(|w| {
            w.frames.pop();
            if !w.halted {
                machine::unload_leaks(w);
            }
        });
    }

    /// The packet filter adapter `adapter`'s miniport applies now (the last set it processed).
    pub fn miniport_packet_filter(&self, adapter: usize) -> u32 {
        Self::with(|w| w.adapters[adapter].mp.packet_filter)
    }

    /// Attaches and restarts a module again on a stopped (detached) adapter, then lets its
    /// protocol send; true if the module is Running.
    pub fn reattach(&mut self, adapter: usize) -> bool {
        machine::start_stack(adapter)
    }

    /// Schedules `fault` on an adapter at absolute virtual time `at` (now, if `at` has passed).
    /// Faults at the same instant apply in the order they were scheduled.
    pub fn schedule_fault(&mut self, adapter: usize, at: Nanos, fault: Fault) {
        Self::with(|w| machine::fault::schedule(w, adapter, at, fault));
    }

    /// Where the protocols' frames went so far (see [`crate::ledger`]).
    pub fn delivery(&self) -> DeliveryReport {
        Self::with(|w| w.ledger.report(w.adapters.len()))
    }

    /// Every frame that left a wire so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        Self::with(|w| w.ledger.arrivals().to_vec())
    }

    /// How long each frame the protocols sent took from its send to its completion, in
    /// completion order.
    pub fn completion_times(&self) -> Vec<Nanos> {
        Self::with(|w| w.ledger.completion_times().to_vec())
    }

    /// Stops an adapter's protocol from making further sends (those still outstanding complete
    /// as usual): how a run of a fixed virtual duration ends its traffic before the final drain.
    pub fn end_traffic(&mut self, adapter: usize) {
        Self::with(|w| w.adapters[adapter].tx_target = 0);
    }

    /// The NDIS_STATUS_LINK_STATE indications an adapter's protocol received, in order.
    pub fn link_indications(&self, adapter: usize) -> Vec<LinkIndication> {
        Self::with(|w| w.adapters[adapter].proto.link_seen.clone())
    }

    /// Adds traffic to an adapter (sends and receives still to make).
    pub fn add_traffic(&mut self, adapter: usize, tx: u64, rx: u64) {
        Self::with(|w| {
            let ad = &mut w.adapters[adapter];
            ad.tx_target += tx;
            ad.rx_target += rx;
            if ad.proto.running && !ad.tx_ticking && ad.tx_target > 0 {
                ad.tx_ticking = true;
                w.sched.after(1, world::Event::ProtoSendTick(adapter));
            }
            let ad = &mut w.adapters[adapter];
            if ad.mp.running && !ad.rx_ticking {
                ad.rx_ticking = true;
                w.sched.after(1, world::Event::MpRxTick(adapter));
            }
        });
    }

    /// Has the protocol of an adapter issue `count` more OIDs (one at a time, as NDIS serialises
    /// them).
    pub fn issue_oids(&mut self, adapter: usize, count: u32) {
        Self::with(|w| {
            let p = &mut w.adapters[adapter].proto;
            p.oids_to_issue += count;
            if !p.oid_busy {
                w.sched.after(1, world::Event::ProtoOidTick(adapter));
            }
        });
    }

    /// Sends one NBL into the module whatever its state (a pause probe).
    pub fn probe_send(&mut self, adapter: usize) {
        machine::proto_send(adapter, true);
    }

    /// Runs until `pred` holds; false if the run halted, went idle or spent its budget first.
    pub fn run_until(&mut self, mut pred: impl FnMut(&View<'_>) -> bool) -> bool {
        machine::run_until(|w| pred(&View(w)), None)
    }

    /// Runs for `ns` of virtual time (or until the run halts or goes idle).
    pub fn run_for(&mut self, ns: Nanos) {
        let end = Self::with(|w| w.now()) + ns;
        machine::run_until(|w| w.now() >= end, Some(end));
    }

    /// Runs until every adapter's traffic and OIDs are done; false if the run halted or hung.
    pub fn run_until_idle(&mut self) -> bool {
        machine::run_until(
            |w| {
                w.adapters.iter().all(|ad| {
                    ad.tx_target == 0
                        && ad.proto.outstanding == 0
                        && ad.stats.rx_received >= ad.rx_target
                        && ad.mp.rx_outstanding == 0
                        && !ad.proto.oid_busy
                        && ad.proto.oids_to_issue == 0
                        && ad.mp.propagating == 0
                }) && w.fabric.as_ref().is_none_or(|f| {
                    f.in_flight == 0 && f.rx_queue.iter().all(std::collections::VecDeque::is_empty)
                })
            },
            None,
        )
    }

    /// The IPv6 LSOv2 limit adapter `a`'s protocol was presented (as [`Emulator::protocol_view`]).
    pub fn protocol_lso6_view(&self, adapter: usize) -> u32 {
        Self::with(|w| w.adapters[adapter].proto.lso6_view)
    }

    /// What adapter `a`'s protocol was presented: (MTU at its last restart, IPv4 LSO limit at
    /// bind, 0 for none).
    pub fn protocol_view(&self, adapter: usize) -> (u32, u32) {
        Self::with(|w| {
            let p = &w.adapters[adapter].proto;
            (p.mtu_view, p.lso_view)
        })
    }

    /// Counters of an adapter's stack.
    pub fn stats(&self, adapter: usize) -> AdapterStats {
        Self::with(|w| w.adapters[adapter].stats.clone())
    }

    /// Lifecycle counters of an adapter's module.
    pub fn lifecycle_stats(&self, adapter: usize) -> LifecycleStats {
        Self::with(|w| w.adapters[adapter].module.stats.clone())
    }

    /// State of an adapter's module.
    pub fn module_state(&self, adapter: usize) -> ModState {
        Self::with(|w| w.adapters[adapter].module.state)
    }

    /// The FilterModuleContext the driver set for an adapter's module (0 if none).
    pub fn module_context(&self, adapter: usize) -> usize {
        Self::with(|w| w.adapters[adapter].module.ctx)
    }

    /// The module handle NDIS gave the driver for an adapter.
    pub fn module_handle(&self, adapter: usize) -> usize {
        Self::with(|w| w.module_handle(adapter))
    }

    /// Violations so far (the first one halted the run).
    pub fn violations(&self) -> Vec<Violation> {
        Self::with(|w| w.violations.clone())
    }

    /// Leaks found at detach and unload.
    pub fn leaks(&self) -> Vec<Leak> {
        Self::with(|w| w.leaks.clone())
    }

    /// Whether a violation halted the run.
    pub fn halted(&self) -> bool {
        Self::with(|w| w.halted)
    }

    /// Virtual time.
    pub fn now(&self) -> Nanos {
        Self::with(|w| w.now())
    }

    /// Number of adapters.
    pub fn adapter_count(&self) -> usize {
        Self::with(|w| w.adapters.len())
    }

    /// Diagnostic events the host-linked filter emitted so far, in order (a loaded `.sys` emits
    /// none yet: its backend drops them).
    pub fn diag_events(&self) -> Vec<crate::diag::DiagRecord> {
        Self::with(|w| w.diag.records.clone())
    }

    /// What the fabric saw so far (`None` without a fabric).
    pub fn fabric_report(&self) -> Option<crate::fabric::FabricReport> {
        Self::with(|w| w.fabric.as_ref().map(crate::fabric::Fabric::report))
    }

    /// The switch port the fabric has `mac` on now (learnt and not aged out).
    pub fn mac_port(&self, mac: [u8; 6]) -> Option<crate::fabric::Port> {
        Self::with(|w| {
            let now = w.now();
            w.fabric.as_ref()?.switch.lookup(mac, now)
        })
    }

    /// The MAC peer `peer`'s neighbour cache holds for `ip` (4 or 16 bytes).
    pub fn peer_neighbor(&self, peer: usize, ip: &[u8]) -> Option<[u8; 6]> {
        Self::with(|w| {
            w.fabric
                .as_ref()?
                .peers
                .get(peer)?
                .neighbors
                .get(ip)
                .copied()
        })
    }

    /// Peer `peer` puts one frame of `bytes` on its wire (e.g. a broadcast ARP request of its
    /// own); false without a fabric or such a peer.
    pub fn peer_send(&mut self, peer: usize, bytes: &[u8]) -> bool {
        Self::with(|w| {
            let hop = match w.fabric.as_mut() {
                Some(f) if peer < f.peers.len() => {
                    f.in_flight += 1;
                    f.cfg.hop_latency
                }
                _ => return false,
            };
            w.sched.after(
                hop,
                world::Event::FabricIn {
                    port: crate::fabric::Port::Peer(peer),
                    frame: bytes.to_vec(),
                    wire: None,
                },
            );
            true
        })
    }

    /// Adapter `adapter`'s protocol sends one frame of `bytes` (e.g.
    /// [`crate::fabric::packets::Arp::request`]) through the filter; false if it cannot send now
    /// (not running, or its packet filter not set yet).
    pub fn send_frame(&mut self, adapter: usize, bytes: &[u8]) -> bool {
        machine::proto_send_frame(adapter, bytes)
    }

    /// Diagnostic records refused so far (bad bytes or an unknown handle).
    pub fn diag_rejects(&self) -> Vec<crate::diag::DiagReject> {
        Self::with(|w| w.diag.rejects.clone())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        drop(world::uninstall());
    }
}
