//! What flowed where: per-adapter and per-module counters.

/// Counters of one adapter's stack, as the emulated protocol and miniport saw them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdapterStats {
    /// NBLs the protocol sent (pause probes excluded).
    pub tx_sent: u64,
    /// Bytes the protocol sent.
    pub tx_sent_bytes: u64,
    /// NBLs completed back to the protocol (all statuses, probes excluded).
    pub tx_completed: u64,
    /// Of those, with NDIS_STATUS_SUCCESS.
    pub tx_completed_ok: u64,
    /// Send chains the protocol cancelled.
    pub tx_cancels: u64,
    /// NBLs completed with NDIS_STATUS_SEND_ABORTED.
    pub tx_completed_aborted: u64,
    /// Of those, NBLs the protocol never tagged for a cancel: aborted although nobody cancelled
    /// them.
    pub tx_aborted_uncancelled: u64,
    /// NBLs the miniport completed with NDIS_STATUS_SEND_ABORTED because a cancel that reached it
    /// named them while they still waited in its queue (whichever protocol sent them).
    pub mp_tx_cancelled: u64,
    /// NBLs sent to the filter while it was not Running (pause probes).
    pub probes_sent: u64,
    /// Probes completed with NDIS_STATUS_PAUSED.
    pub probes_paused: u64,
    /// Frames the miniport put on the wire.
    pub wire_tx_frames: u64,
    /// Bytes the miniport put on the wire.
    pub wire_tx_bytes: u64,
    /// Frames the miniport found malformed.
    pub wire_tx_bad: u64,
    /// Of the frames on this adapter's wire, those another adapter's protocol sent (rerouted to
    /// this adapter by a filter).
    pub wire_tx_rerouted: u64,
    /// Most NBLs the filter had below this miniport at once (queued, on the wire or awaiting
    /// completion), checked at every send the miniport takes.
    pub tx_below_peak: u64,
    /// Most NBLs for one destination (a flow frame's IPv4 destination) below this miniport at
    /// once, checked at every send the miniport takes.
    pub tx_below_peak_per_target: u64,
    /// NBLs the miniport took whose top context area had less unused space in front than the
    /// adapter's `context_backfill` (0 when that is 0).
    pub tx_context_backfill_short: u64,
    /// NBLs the miniport checked for context backfill (all it took while `context_backfill` > 0).
    pub tx_context_backfill_checked: u64,
    /// Loopback indications of its own sent frames the protocol received (NDIS's, or a filter's
    /// that provides the service), each frame counted once.
    pub rx_loopback: u64,
    /// Frames its protocol sent asking for loopback that the receive filter it set accepts:
    /// what [`AdapterStats::rx_loopback`] should come to.
    pub tx_loopback_expected: u64,
    /// Loopback indications of a frame the protocol had already got back.
    pub rx_loopback_duplicates: u64,
    /// Loopback indications of frames this protocol never sent (another adapter's).
    pub rx_loopback_foreign: u64,
    /// Sends that reached this miniport with `NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK` (NDIS loops
    /// them back to this adapter's protocol when its packet filter accepts them).
    pub tx_loopback_flagged: u64,
    /// Largest frame the miniport took (bytes, link header included).
    pub tx_largest_frame: u64,
    /// Large sends (LSO info set) the miniport took.
    pub tx_large_sends: u64,
    /// NBLs the miniport indicated.
    pub rx_indicated: u64,
    /// Of those, in RESOURCES indications.
    pub rx_indicated_resources: u64,
    /// NBLs returned to the miniport (or reclaimed after a RESOURCES indication).
    pub rx_reclaimed: u64,
    /// NBLs the protocol received.
    pub rx_received: u64,
    /// Bytes the protocol received.
    pub rx_received_bytes: u64,
    /// Received frames the protocol found malformed.
    pub rx_bad: u64,
    /// Received NBLs (loopback aside) that reached the protocol without the receive information
    /// the miniport set on every frame it received (`machine::RX_CHECKSUM_INFO`).
    pub rx_receive_info_missing: u64,
    /// Received NBLs the protocol returned.
    pub rx_returned_by_protocol: u64,
    /// OIDs the protocol issued.
    pub oids_issued: u64,
    /// OIDs the filter completed synchronously.
    pub oids_completed_sync: u64,
    /// OIDs the filter pended and completed later.
    pub oids_completed_pending: u64,
    /// OIDs completed with a status other than SUCCESS.
    pub oids_failed: u64,
    /// Pended OIDs the protocol cancelled.
    pub oid_cancels: u64,
    /// OIDs whose status, byte counts or data were not what the miniport answered.
    pub oids_bad_answer: u64,
    /// OIDs the miniport answered synchronously.
    pub mp_oids_sync: u64,
    /// OIDs the miniport pended.
    pub mp_oids_pending: u64,
    /// NBLs the miniport took that a miniport had failed before (re-sends of a protocol's NBL,
    /// or of a clone of it).
    pub tx_resends_taken: u64,
    /// Status indications the protocol received.
    pub status_indications: u64,
    /// The largest IPv4 LSOv2 limit an offload-configuration indication showed the protocol (0:
    /// none came): with a team it must never exceed what every member can carry.
    pub status_lso_widest: u64,
    /// Bytes of the last offload-configuration indication the protocol received.
    pub status_offload_len: u64,
    /// PnP events (NetPnPEvent and DevicePnPEventNotify) the miniport received.
    pub pnp_events: u64,
    /// Chains the protocol sent (FilterSendNetBufferLists calls, probes included).
    pub chains_sent: u64,
    /// Chains the miniport completed (FilterSendNetBufferListsComplete calls).
    pub chains_completed: u64,
    /// Chains the miniport indicated (FilterReceiveNetBufferLists calls).
    pub chains_indicated: u64,
    /// Chains the protocol returned (FilterReturnNetBufferLists calls).
    pub chains_returned: u64,
    /// Send chains and receive indications on a port other than the default port 0.
    pub chains_on_other_ports: u64,
}

/// Lifecycle counters of one filter module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LifecycleStats {
    /// FilterAttach calls.
    pub attaches: u64,
    /// FilterRestart calls.
    pub restarts: u64,
    /// Restarts that returned PENDING.
    pub restarts_pending: u64,
    /// FilterPause calls.
    pub pauses: u64,
    /// Pauses that returned PENDING.
    pub pauses_pending: u64,
    /// Of those, pauses with sends still below the filter when FilterPause returned (so the
    /// filter's last send completion had to complete the pause).
    pub pauses_pending_sends_below: u64,
    /// FilterDetach calls.
    pub detaches: u64,
    /// NdisFRestartFilter requests.
    pub restart_requests: u64,
}
