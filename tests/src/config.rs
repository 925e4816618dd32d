//! Configuration of an emulator run: the seed, the randomisation switches, the adapters and
//! their traffic.

use crate::sched::Nanos;

/// Seeded randomisation of what NDIS leaves open.
#[derive(Clone, Debug)]
pub struct Randomization {
    /// Largest number of NBLs the miniport completes in one FilterSendNetBufferListsComplete
    /// (1 = one at a time); each batch size is drawn from 1..=this.
    pub max_completion_batch: usize,
    /// Shuffle the NBLs within each completion batch.
    pub reorder_completions: bool,
    /// Percentage of OIDs the miniport completes asynchronously (PENDING).
    pub oid_pending_percent: u8,
    /// Percentage of receive indications made with NDIS_RECEIVE_FLAGS_RESOURCES.
    pub resources_percent: u8,
    /// Percentage of sends, receives, completions and returns made at DISPATCH_LEVEL (the rest
    /// at PASSIVE_LEVEL, which NDIS also allows).
    pub dispatch_percent: u8,
    /// Longest time the protocol keeps received NBLs before returning them.
    pub max_return_delay: Nanos,
    /// Percentage of send chains the protocol tags with a cancel id and then cancels
    /// (FilterCancelSendNetBufferLists); NBLs still queued in the miniport complete with
    /// NDIS_STATUS_SEND_ABORTED.
    pub send_cancel_percent: u8,
    /// Percentage of pended OIDs the protocol cancels (FilterCancelOidRequest); a request still
    /// pending in the miniport completes with NDIS_STATUS_REQUEST_ABORTED.
    pub oid_cancel_percent: u8,
    /// Percentage of pauses for which NDIS does not wait for the protocol's sends to complete
    /// first: FilterPause comes while sends are still below, and they complete after it returned.
    pub pause_with_sends_below_percent: u8,
    /// Percentage of `NdisAllocateCloneOidRequest` calls NDIS refuses, with RESOURCES or FAILURE
    /// (the two refusals its documentation names) and a poisoned pointer left in the out parameter
    /// (stricter than the documented NULL: the filter must not read it): the filter must answer the
    /// protocol's request itself, with the status NDIS gave it.
    pub oid_clone_fail_percent: u8,
}

impl Default for Randomization {
    fn default() -> Self {
        Randomization {
            max_completion_batch: 16,
            reorder_completions: true,
            oid_pending_percent: 50,
            resources_percent: 10,
            dispatch_percent: 70,
            max_return_delay: 20_000,
            send_cancel_percent: 0,
            oid_cancel_percent: 0,
            pause_with_sends_below_percent: 50,
            oid_clone_fail_percent: 0,
        }
    }
}

/// Emulator-wide settings.
#[derive(Clone, Debug)]
pub struct EmuConfig {
    /// The seed: a run is a function of it and the rest of the configuration.
    pub seed: u64,
    /// The randomisation switches.
    pub random: Randomization,
    /// Safety net: the most events one `run_*` call processes before it declares a hang.
    pub max_events_per_run: u64,
    /// Virtual time NDIS waits for a pended pause or restart (and a protocol for its sends)
    /// before the run is declared hung.
    pub lifecycle_timeout: Nanos,
    /// The watchdog: virtual time the emulated protocol or miniport waits, with nothing coming
    /// back from the filter, before the run fails with `liveness.no-progress`.
    pub progress_timeout: Nanos,
    /// Send a chain into the module while it is Pausing and while it is Paused, to check it is
    /// completed with NDIS_STATUS_PAUSED.
    pub pause_probes: bool,
    /// Virtual processors (KeQueryMaximumProcessorCountEx); with more than one, each event runs on
    /// one drawn from the seeded RNG (KeGetCurrentProcessorNumberEx).
    pub cpus: u32,
    /// An L2 fabric (switch and peer hosts) around the adapters (see [`crate::fabric`]); `None`:
    /// each wire ends at a fictive far end, as always.
    pub fabric: Option<crate::fabric::FabricConfig>,
}

impl Default for EmuConfig {
    fn default() -> Self {
        EmuConfig {
            seed: 1,
            random: Randomization::default(),
            max_events_per_run: 50_000_000,
            lifecycle_timeout: 50_000_000,
            progress_timeout: 20_000_000,
            pause_probes: true,
            cpus: 1,
            fabric: None,
        }
    }
}

/// One virtual adapter (its miniport).
#[derive(Clone, Debug)]
pub struct AdapterConfig {
    /// Instance name, e.g. `Ethernet 0`.
    pub name: String,
    /// Permanent and current MAC address.
    pub mac: [u8; 6],
    /// Link speed in bits per second (both directions).
    pub link_speed_bps: u64,
    /// Interface index of the miniport.
    pub if_index: u32,
    /// The filter module's registry values (what `NdisReadConfiguration` finds on this stack;
    /// names compared case-insensitively, as the registry does).
    pub params: Vec<(String, RegValue)>,
    /// The miniport links mpshim with these monitor settings: it feeds the health monitor its
    /// sends, completions and link changes, ticks it every millisecond, and raises the path event
    /// the monitor decides (docs/miniport-shim.md). `None`: no shim.
    pub shim: Option<mpshim::contract::Settings>,
    /// NBL context backfill the drivers below the filter want (`ContextBackFillSize` of the
    /// restart attributes NDIS passes to FilterRestart). The miniport checks every NBL it takes
    /// for that much unused context in front of the top area and counts those short of it
    /// (`AdapterStats::tx_context_backfill_short`): each would make a driver below allocate.
    pub context_backfill: u16,
    /// The MTU (payload bytes after the link header) the stack below reports in its restart
    /// attributes; a frame above it reaching the miniport breaks `send.beyond-adapter-limits`.
    pub mtu: u32,
    /// LSOv2 `MaxOffLoadSize` (IPv4 and IPv6) of the miniport's offload configuration (0: no
    /// LSO); a large send above it, or any large send without LSO, breaks
    /// `send.beyond-adapter-limits`.
    pub lso_max: u32,
    /// The IPv6 LSOv2 `MaxOffLoadSize` when it differs from [`AdapterConfig::lso_max`] (which
    /// then is IPv4's alone).
    pub lso_v6_max: Option<u32>,
    /// NDIS refuses the filter's `NdisFSetAttributes` for this adapter's module (with
    /// NDIS_STATUS_RESOURCES, as when NDIS cannot allocate for it): its FilterAttach must fail.
    pub set_attributes_fails: bool,
    /// The adapter's link is down when its stack starts (until a `LinkUp` fault): the filter's
    /// attach parameters say MediaConnectStateDisconnected.
    pub starts_disconnected: bool,
    /// One-way propagation delay of the adapter's wire: a frame reaches the far end this long
    /// after its transmission ends (its send completes without waiting for it).
    pub wire_latency_ns: u64,
    /// Bytes of the miniport's current-config indications (0: `NDIS_OFFLOAD`'s own size). More
    /// is a later revision's longer structure: its header's `Size` says so, and the bytes past
    /// `NDIS_OFFLOAD`'s are a pattern a filter must pass on unchanged.
    pub offload_indication_len: usize,
    /// The miniport reports its offload configuration as NDIS 6.0 did: an `NDIS_OFFLOAD` of
    /// revision 1 (sized through `Flags`), at attach and in its current-config indications.
    pub offload_revision_1: bool,
}

/// A registry value of the filter module's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegValue {
    /// REG_DWORD.
    Dword(u32),
    /// REG_SZ.
    Sz(String),
    /// REG_BINARY.
    Binary(Vec<u8>),
}

impl AdapterConfig {
    /// The IfIndex of the filter module attached above this miniport (NDIS gives a filter module
    /// an interface of its own; the emulator numbers it 100 + the miniport's).
    pub fn filter_if_index(&self) -> u32 {
        100 + self.if_index
    }

    /// A 10 Gbit/s adapter with a locally administered MAC derived from `index`.
    pub fn numbered(index: u8) -> Self {
        AdapterConfig {
            name: format!("Ethernet {index}"),
            mac: [0x02, 0x00, 0x5E, 0x10, 0x00, index],
            link_speed_bps: 10_000_000_000,
            if_index: 10 + u32::from(index),
            params: Vec::new(),
            shim: None,
            context_backfill: 0,
            mtu: 1500,
            lso_max: 0,
            lso_v6_max: None,
            set_attributes_fails: false,
            starts_disconnected: false,
            wire_latency_ns: 0,
            offload_indication_len: 0,
            offload_revision_1: false,
        }
    }

    /// This adapter with an NDIS 6.0 miniport's offload configuration (see
    /// [`AdapterConfig::offload_revision_1`]).
    #[must_use]
    pub fn with_offload_revision_1(mut self) -> Self {
        self.offload_revision_1 = true;
        self
    }

    /// This adapter with current-config indications of `len` bytes (see
    /// [`AdapterConfig::offload_indication_len`]).
    #[must_use]
    pub fn with_offload_indication_len(mut self, len: usize) -> Self {
        self.offload_indication_len = len;
        self
    }

    /// This adapter with a miniport that links mpshim (see [`AdapterConfig::shim`]).
    #[must_use]
    pub fn with_shim(mut self, settings: mpshim::contract::Settings) -> Self {
        self.shim = Some(settings);
        self
    }

    /// This adapter with MTU `mtu` and LSOv2 up to `lso_max` bytes (0: none).
    #[must_use]
    pub fn with_limits(mut self, mtu: u32, lso_max: u32) -> Self {
        self.mtu = mtu;
        self.lso_max = lso_max;
        self
    }

    /// This adapter with its link down until a `LinkUp` fault.
    #[must_use]
    pub fn starting_disconnected(mut self) -> Self {
        self.starts_disconnected = true;
        self
    }

    /// This adapter with NDIS refusing its module's `NdisFSetAttributes`.
    #[must_use]
    pub fn with_set_attributes_failing(mut self) -> Self {
        self.set_attributes_fails = true;
        self
    }

    /// This adapter with an IPv6 LSOv2 limit of its own (`with_limits` sets both).
    #[must_use]
    pub fn with_lso_v6(mut self, lso_v6_max: u32) -> Self {
        self.lso_v6_max = Some(lso_v6_max);
        self
    }

    /// The IPv6 LSOv2 limit (0: none).
    pub fn lso_v6(&self) -> u32 {
        if self.lso_max == 0 {
            0
        } else {
            self.lso_v6_max.unwrap_or(self.lso_max)
        }
    }

    /// This adapter with drivers below the filter that want `bytes` of NBL context backfill.
    #[must_use]
    pub fn with_context_backfill(mut self, bytes: u16) -> Self {
        self.context_backfill = bytes;
        self
    }

    /// This adapter with the registry value `name` set to `value` for its filter module.
    #[must_use]
    pub fn with_param(mut self, name: &str, value: RegValue) -> Self {
        self.params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.params.push((name.to_owned(), value));
        self
    }

    /// Whether its filter module is configured for rewrite mode (`MacMode` = `rewrite`): a frame
    /// of its protocol that another adapter carries must then bear that adapter's source MAC
    /// (the fabric's `wire.source-mac`).
    pub fn rewrites_mac(&self) -> bool {
        self.params.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("MacMode")
                && matches!(v, RegValue::Sz(s) if s.trim().eq_ignore_ascii_case("rewrite"))
        })
    }
}

/// Traffic one adapter carries.
// Independent switches of one adapter's traffic, not the states of a machine.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Debug)]
pub struct TrafficConfig {
    /// NBLs the protocol sends.
    pub tx_nbls: u64,
    /// NBLs the miniport delivers to the protocol.
    pub rx_nbls: u64,
    /// Longest chain per send or receive indication.
    pub max_chain: usize,
    /// Frame length range (bytes, Ethernet header included).
    pub frame_len: (usize, usize),
    /// Most NBLs the protocol has outstanding (and the miniport has indicated) at a time.
    pub window: usize,
    /// Time between the protocol's send attempts.
    pub send_interval: Nanos,
    /// Time between the miniport's receive indications.
    pub rx_interval: Nanos,
    /// Flows the protocol's sends belong to. 0: plain emulator frames (EtherType 0x88B5), as
    /// always. More: Ethernet + IPv4 + TCP frames (see [`crate::frames::build_flow`]), each NBL's
    /// flow drawn from the seeded RNG, at least [`crate::frames::MIN_FLOW_FRAME`] bytes long
    /// (the frame length drawn from `frame_len` is raised to that); at most 55,535 flows (TCP
    /// source ports 10000 + flow).
    pub flows: u32,
    /// Most NBLs of one flow sent and not yet completed (0: no per-flow cap, only `window`).
    /// A flow drawn at its cap gives way to the next flow after it with room; a chain ends early
    /// when every flow is at its cap. Only with `flows` > 0.
    pub flow_window: u32,
    /// The protocol's frames go to the broadcast address instead of the far end's MAC.
    pub broadcast: bool,
    /// The protocol sends with `NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK`: NDIS (or a filter that took
    /// the service over) must indicate every sent frame its packet filter accepts back to it.
    pub check_for_loopback: bool,
    /// The protocol's first OID request sets this packet filter (`OID_GEN_CURRENT_PACKET_FILTER`),
    /// and it sends nothing until that request completed.
    pub packet_filter: Option<u32>,
    /// Every NBL the protocol sends is a large send (LSOv2 over IPv4) with this MSS (0: plain
    /// sends). The emulator does not segment: the frame crosses the wire whole.
    pub lso_mss: u32,
    /// Distinct IPv4 destinations the flows go to: flow `f` to target `f % targets` (0: each
    /// flow its own). What a balancer's per-target limits count.
    pub targets: u32,
    /// The protocol keeps building NBLs for the offload limits it was bound with and ignores
    /// later current-config indications (NBLs built before a change reached it).
    pub keeps_bind_limits: bool,
    /// Flow frames are Ethernet + IPv6 + TCP (fd00::`adapter`:1 to fd01::`target`) instead of
    /// IPv4 (at least [`crate::frames::MIN_FLOW6_FRAME`] bytes).
    pub ipv6: bool,
    /// Destination MACs the protocol's frames go to: flow `f`'s to `destinations[f % len]`
    /// (empty: the far end, or broadcast with `broadcast`). With `check_for_loopback`, a mix of
    /// broadcast, multicast and directed addresses tries every branch of a packet filter.
    pub destinations: Vec<[u8; 6]>,
    /// After its packet filter, the protocol sets this multicast list
    /// (`OID_802_3_MULTICAST_LIST`, at most [`MAX_PROTOCOL_MULTICAST`] addresses), and it sends
    /// nothing until that request completed.
    pub multicast_list: Option<Vec<[u8; 6]>>,
    /// NET_BUFFERs (frames) per NBL of the protocol's flows, drawn from this inclusive range:
    /// the frames of one NBL are consecutive frames of its flow, as a TCP stack batches a
    /// send. A large send always has one (NDIS requires it); so do frames without a flow.
    pub nbs_per_nbl: (usize, usize),
    /// The protocol's frames carry an in-frame 802.1Q tag with this TCI after their MACs (as a
    /// stack that tags in software does) instead of none; the frame lengths drawn are those of
    /// the untagged frames, so a tagged frame is up to 4 bytes longer than the MTU allows an
    /// untagged one.
    pub in_frame_tag: Option<u16>,
}

/// The longest multicast list a [`TrafficConfig`] sets (what its request buffer holds).
pub const MAX_PROTOCOL_MULTICAST: usize = 40;

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            tx_nbls: 1000,
            rx_nbls: 1000,
            max_chain: 32,
            frame_len: (60, 200),
            window: 512,
            send_interval: 2_000,
            rx_interval: 2_000,
            flows: 0,
            flow_window: 0,
            broadcast: false,
            check_for_loopback: false,
            packet_filter: None,
            lso_mss: 0,
            targets: 0,
            keeps_bind_limits: false,
            ipv6: false,
            destinations: Vec::new(),
            multicast_list: None,
            nbs_per_nbl: (1, 1),
            in_frame_tag: None,
        }
    }
}
