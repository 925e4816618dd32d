//! Per-module counters: relaxed atomics bumped on the data path (no locks, no allocation), read
//! as a [`ModuleStats`] snapshot.

use core::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of one module's counters. Each field is read atomically on its own; the snapshot as
/// a whole is not a single instant while traffic flows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModuleStats {
    /// NBLs from above passed down with `NdisFSendNetBufferLists`.
    pub send_nbls_forwarded: u64,
    /// Data bytes of those NBLs.
    pub send_bytes_forwarded: u64,
    /// NBLs completed back up (`NdisFSendNetBufferListsComplete`) after the miniport completed them.
    pub send_nbls_completed: u64,
    /// NBLs from above completed at once with `NDIS_STATUS_PAUSED` because the module was not
    /// Running.
    pub send_nbls_rejected_paused: u64,
    /// `NdisFCancelSendNetBufferLists` calls forwarded down.
    pub send_cancels_forwarded: u64,
    /// NBLs from below indicated up with `NdisFIndicateReceiveNetBufferLists`.
    pub receive_nbls_indicated: u64,
    /// Data bytes of those NBLs.
    pub receive_bytes_indicated: u64,
    /// Indicated NBLs that came back through FilterReturnNetBufferLists and were returned down.
    pub receive_nbls_returned: u64,
    /// NBLs from below not indicated because the module was not Running (returned at once, or
    /// with RESOURCES simply left to the indicator).
    pub receive_nbls_rejected_paused: u64,
    /// OID requests cloned and forwarded down.
    pub oids_forwarded: u64,
    /// Forwarded OID requests that completed asynchronously (FilterOidRequestComplete).
    pub oids_completed_pending: u64,
    /// OID requests failed because no clone could be allocated.
    pub oid_clone_failures: u64,
    /// `NdisFCancelOidRequest` calls forwarded down.
    pub oid_cancels_forwarded: u64,
    /// Status indications passed up.
    pub status_indications: u64,
    /// Network and device PnP events forwarded down.
    pub pnp_events_forwarded: u64,
    /// Pauses (FilterPause calls).
    pub pauses: u64,
    /// Pauses that returned PENDING and were completed later with `NdisFPauseComplete`.
    pub pauses_pended: u64,
    /// Successful restarts.
    pub restarts: u64,
    /// Events NDIS delivered in a state where they are illegal, or completions of more NBLs than
    /// were out. Always 0 against a correct NDIS.
    pub protocol_errors: u64,
    /// NBLs from above sent on another member of the path group, as a clone (child).
    pub send_nbls_rerouted: u64,
    /// Children of other members' NBLs that this module's miniport completed.
    pub send_children_completed: u64,
    /// NBLs sent again after a completion with a path failure status.
    pub send_nbls_retried: u64,
    /// NBLs completed with their failure status after the last allowed re-send.
    pub send_nbls_retries_exhausted: u64,
    /// NBLs completed with NDIS_STATUS_MEDIA_DISCONNECTED because no path of the group was usable.
    pub send_nbls_failed_no_path: u64,
    /// NBLs completed with NDIS_STATUS_RESOURCES because NDIS had no memory for their send context.
    pub send_nbls_failed_resources: u64,
    /// NBLs meant for another member sent down their own stack instead (that member was not Running, or no clone could be allocated).
    pub send_reroute_fallbacks: u64,
    /// Clones of sent NBLs indicated back up as NDIS's send loopback (teamed modules provide it;
    /// see `module::loopback`).
    pub loopback_indicated: u64,
    /// Loopbacks not made because no clone could be allocated.
    pub loopback_failed: u64,
    /// NBLs completed with `NDIS_STATUS_INVALID_LENGTH` because no eligible member's stack could
    /// carry them (LSO limit or MTU; see `module::capability`).
    pub send_nbls_failed_incapable: u64,
    /// Offload current-config indications passed up narrowed to the group's limits.
    pub status_indications_narrowed: u64,
    /// NBLs whose headers could not be read in full (hashed on what could be read).
    pub send_headers_malformed: u64,
    /// Own NBLs in a completion that were no child (never originated by this driver; counted and left alone).
    pub send_own_unknown: u64,
    /// NBLs parked (every path at its outstanding cap, or none up in `AllDown = queue` mode).
    pub send_nbls_parked: u64,
    /// NBLs completed because the parking was full.
    pub send_nbls_park_overflow: u64,
    /// NBLs parked right now (a gauge, not a counter).
    pub send_nbls_parked_now: u64,
    /// Parked NBLs failed with NDIS_STATUS_MEDIA_DISCONNECTED after waiting the AllDown time.
    pub send_nbls_park_expired: u64,
    /// Parked NBLs completed by a pause (NDIS_STATUS_PAUSED).
    pub send_nbls_park_flushed: u64,
    /// Parked NBLs completed by a cancel (NDIS_STATUS_SEND_ABORTED).
    pub send_nbls_park_cancelled: u64,
    /// Times the module's path group (or the group table) was full at attach: it passes traffic through.
    pub team_refusals: u64,
    /// Times the module's group-wide settings differed from its group's (the group's stay).
    pub team_settings_ignored: u64,
    /// mpshim path events from the miniport taken (failed or recovered reports).
    pub shim_events: u64,
    /// mpshim path events ignored as not newer than the last one taken.
    pub shim_events_stale: u64,
    /// Indications tagged as mpshim's that were malformed (dropped, with a StatusDropped event).
    pub shim_events_malformed: u64,
    /// Answers to the filter's own mpshim health query taken.
    pub shim_health_answers: u64,
    /// The filter's own mpshim health queries or settings that failed (NOT_SUPPORTED: no shim
    /// below; a refused setting).
    pub shim_health_failed: u64,
    /// mpshim monitor settings the filter set on the miniport.
    pub shim_settings_applied: u64,
    /// The filter's own probes sent down this path (not counted as sends).
    pub probes_sent: u64,
    /// Answers to them received on this path (passed up like any frame).
    pub probe_answers: u64,
    /// Probe intervals that ended without an answer.
    pub probes_missed: u64,
    /// The filter's own sets of the packet filter below (the team's PROMISCUOUS bit on or off).
    pub packet_filter_sets: u64,
    /// Those that failed or could not be issued.
    pub packet_filter_sets_failed: u64,
    /// Received frames that only the team's PROMISCUOUS bit let in, returned without indication.
    pub receive_nbls_filtered: u64,
    /// Frames for this member received on another member and indicated up this stack (receive
    /// takeover).
    pub receive_nbls_taken_over: u64,
    /// Frames for this member received on another that could not be taken over (not Running, no
    /// clone).
    pub receive_takeover_dropped: u64,
    /// Rewrite mode: other members' NBLs sent down this stack with this member's source MAC.
    pub send_headers_rewritten: u64,
    /// Rewrite mode: such NBLs sent as they were (no header slot free).
    pub send_rewrite_skipped: u64,
    /// Rewrite mode: gratuitous ARPs and unsolicited neighbour advertisements sent down this stack.
    pub announcements_sent: u64,
    /// Rewrite mode: announcements due but not sent (not Running, frame still below).
    pub announcements_skipped: u64,
    /// Rewrite mode: frames to this member's MAC for another member's address, taken over.
    pub receive_nbls_readdressed: u64,
}

/// The live counters behind [`ModuleStats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub send_nbls_forwarded: Counter,
    pub send_bytes_forwarded: Counter,
    pub send_nbls_completed: Counter,
    pub send_nbls_rejected_paused: Counter,
    pub send_cancels_forwarded: Counter,
    pub receive_nbls_indicated: Counter,
    pub receive_bytes_indicated: Counter,
    pub receive_nbls_returned: Counter,
    pub receive_nbls_rejected_paused: Counter,
    pub oids_forwarded: Counter,
    pub oids_completed_pending: Counter,
    pub oid_clone_failures: Counter,
    pub oid_cancels_forwarded: Counter,
    pub status_indications: Counter,
    pub pnp_events_forwarded: Counter,
    pub pauses: Counter,
    pub pauses_pended: Counter,
    pub restarts: Counter,
    pub protocol_errors: Counter,
    pub send_nbls_rerouted: Counter,
    pub send_children_completed: Counter,
    pub send_nbls_retried: Counter,
    pub send_nbls_retries_exhausted: Counter,
    pub send_nbls_failed_no_path: Counter,
    pub send_nbls_failed_resources: Counter,
    pub send_reroute_fallbacks: Counter,
    pub loopback_indicated: Counter,
    pub loopback_failed: Counter,
    pub send_nbls_failed_incapable: Counter,
    pub status_indications_narrowed: Counter,
    pub send_headers_malformed: Counter,
    pub send_own_unknown: Counter,
    pub send_nbls_parked: Counter,
    pub send_nbls_park_overflow: Counter,
    pub send_nbls_park_expired: Counter,
    pub send_nbls_park_flushed: Counter,
    pub send_nbls_park_cancelled: Counter,
    pub team_refusals: Counter,
    pub team_settings_ignored: Counter,
    pub shim_events: Counter,
    pub shim_events_stale: Counter,
    pub shim_events_malformed: Counter,
    pub shim_health_answers: Counter,
    pub shim_health_failed: Counter,
    pub shim_settings_applied: Counter,
    pub probes_sent: Counter,
    pub probe_answers: Counter,
    pub probes_missed: Counter,
    pub packet_filter_sets: Counter,
    pub packet_filter_sets_failed: Counter,
    pub receive_nbls_filtered: Counter,
    pub receive_nbls_taken_over: Counter,
    pub receive_takeover_dropped: Counter,
    pub send_headers_rewritten: Counter,
    pub send_rewrite_skipped: Counter,
    pub announcements_sent: Counter,
    pub announcements_skipped: Counter,
    pub receive_nbls_readdressed: Counter,
}

/// One monotonically increasing counter.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Relaxed: counters order nothing.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Counters {
    /// Reads every counter.
    pub fn snapshot(&self) -> ModuleStats {
        ModuleStats {
            send_nbls_forwarded: self.send_nbls_forwarded.get(),
            send_bytes_forwarded: self.send_bytes_forwarded.get(),
            send_nbls_completed: self.send_nbls_completed.get(),
            send_nbls_rejected_paused: self.send_nbls_rejected_paused.get(),
            send_cancels_forwarded: self.send_cancels_forwarded.get(),
            receive_nbls_indicated: self.receive_nbls_indicated.get(),
            receive_bytes_indicated: self.receive_bytes_indicated.get(),
            receive_nbls_returned: self.receive_nbls_returned.get(),
            receive_nbls_rejected_paused: self.receive_nbls_rejected_paused.get(),
            oids_forwarded: self.oids_forwarded.get(),
            oids_completed_pending: self.oids_completed_pending.get(),
            oid_clone_failures: self.oid_clone_failures.get(),
            oid_cancels_forwarded: self.oid_cancels_forwarded.get(),
            status_indications: self.status_indications.get(),
            pnp_events_forwarded: self.pnp_events_forwarded.get(),
            pauses: self.pauses.get(),
            pauses_pended: self.pauses_pended.get(),
            restarts: self.restarts.get(),
            protocol_errors: self.protocol_errors.get(),
            send_nbls_rerouted: self.send_nbls_rerouted.get(),
            send_children_completed: self.send_children_completed.get(),
            send_nbls_retried: self.send_nbls_retried.get(),
            send_nbls_retries_exhausted: self.send_nbls_retries_exhausted.get(),
            send_nbls_failed_no_path: self.send_nbls_failed_no_path.get(),
            send_nbls_failed_resources: self.send_nbls_failed_resources.get(),
            send_reroute_fallbacks: self.send_reroute_fallbacks.get(),
            loopback_indicated: self.loopback_indicated.get(),
            loopback_failed: self.loopback_failed.get(),
            send_nbls_failed_incapable: self.send_nbls_failed_incapable.get(),
            status_indications_narrowed: self.status_indications_narrowed.get(),
            send_headers_malformed: self.send_headers_malformed.get(),
            send_own_unknown: self.send_own_unknown.get(),
            send_nbls_parked: self.send_nbls_parked.get(),
            send_nbls_park_overflow: self.send_nbls_park_overflow.get(),
            send_nbls_parked_now: 0,
            send_nbls_park_expired: self.send_nbls_park_expired.get(),
            send_nbls_park_flushed: self.send_nbls_park_flushed.get(),
            send_nbls_park_cancelled: self.send_nbls_park_cancelled.get(),
            team_refusals: self.team_refusals.get(),
            team_settings_ignored: self.team_settings_ignored.get(),
            shim_events: self.shim_events.get(),
            shim_events_stale: self.shim_events_stale.get(),
            shim_events_malformed: self.shim_events_malformed.get(),
            shim_health_answers: self.shim_health_answers.get(),
            shim_health_failed: self.shim_health_failed.get(),
            shim_settings_applied: self.shim_settings_applied.get(),
            probes_sent: self.probes_sent.get(),
            probe_answers: self.probe_answers.get(),
            probes_missed: self.probes_missed.get(),
            packet_filter_sets: self.packet_filter_sets.get(),
            packet_filter_sets_failed: self.packet_filter_sets_failed.get(),
            receive_nbls_filtered: self.receive_nbls_filtered.get(),
            receive_nbls_taken_over: self.receive_nbls_taken_over.get(),
            receive_takeover_dropped: self.receive_takeover_dropped.get(),
            send_headers_rewritten: self.send_headers_rewritten.get(),
            send_rewrite_skipped: self.send_rewrite_skipped.get(),
            announcements_sent: self.announcements_sent.get(),
            announcements_skipped: self.announcements_skipped.get(),
            receive_nbls_readdressed: self.receive_nbls_readdressed.get(),
        }
    }
}
