//! Receive takeover: frames that arrive on one member but belong to another go up the owner's
//! stack (issue 10 item 2), and the packet filter that lets them in.
//!
//! In preserve mode a member's frames keep its MAC whichever member sends them, so the switch
//! learns that MAC on the sending member's port and the replies arrive there. Member B's miniport
//! takes frames for A's MAC only with `NDIS_PACKET_TYPE_PROMISCUOUS`, so:
//!
//! - **The packet filter.** While B's group has two or more members, what goes down B's stack as
//!   `OID_GEN_CURRENT_PACKET_FILTER` is the protocol's value plus PROMISCUOUS: the protocol's own
//!   set is forwarded with its value altered in the module's [`OidScratch`] (the protocol's buffer
//!   is never written), and when the group grows or shrinks the filter sets the stack's value
//!   itself. A query of the packet filter is answered with what the protocol last set, so the
//!   layers above B read back the filter they set. The filter's own set and the protocol's can
//!   cross below (a miniport applies each when it gets to it, and either may pend): an own set
//!   carries the protocol's value while the protocol's set is still below, and when the two were
//!   below together, the last of them to complete sets the value once more from what the
//!   protocol then has. An own set that finds the previous one still below goes when it
//!   completes.
//! - **Classification** ([`Module::receive_teamed`]): each NBL's destination MAC decides. Another
//!   member's unicast MAC: taken over. Accepted by B's protocol's own receive filter: up B's
//!   stack. Anything else got in only through the team's PROMISCUOUS bit and is returned at once
//!   (counted), so B's protocol never sees a frame its filter would refuse. Before B's protocol
//!   has set a packet filter there is nothing to hold frames against; they go up as they came.
//! - **Ownership.** A taken-over frame goes up A's stack as a clone from A's pool with A's handle,
//!   indicated with `NDIS_RECEIVE_FLAGS_RESOURCES`: the receivers above A copy what they keep, the
//!   clone is the filter's again when the call returns and is freed, and the original goes back
//!   to B's miniport with the rest of B's frames — or, if B's indication had RESOURCES itself,
//!   stays with it. Nothing of B's waits on A's protocol, so B's pause never waits for A, and a
//!   RESOURCES indication below needs no copy. The cost is the copy the protocol above A makes of
//!   each taken-over frame (chosen over tracking clones across members on the return path; taken
//!   over are only the replies to traffic another member carried).

use super::route::Route;
use super::{Module, ModuleState};
use crate::ndis::consts::{
    NDIS_PACKET_TYPE_PROMISCUOUS, NDIS_STATUS_SUCCESS, OID_GEN_CURRENT_PACKET_FILTER,
};
use crate::ndis::types::{NDIS_PORT_NUMBER, NDIS_STATUS};
use crate::ndis::{
    ClonedOidRequest, NblChain, OidRequest, OidScratch, OwnQuery, OwnedNbl, QueryStart,
    ReceiveFlags,
};
use crate::probe::{destination_address, is_address_query};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Bytes of a received frame read for its addresses in rewrite mode (Ethernet, one VLAN tag, the
/// IPv6 header and a solicitation's target).
const ADDRESSING_BYTES: usize = 80;

/// The protocol's packet-filter set is below (NDIS gives a module one request at a time).
const PROTOCOL_BELOW: u32 = 1;
/// The filter's own packet-filter set is below.
const OWN_BELOW: u32 = 2;
/// Both were below at once: the last to complete sets the value again.
const CROSSED: u32 = 4;
/// One set or the other is below.
const EITHER_BELOW: u32 = PROTOCOL_BELOW | OWN_BELOW;

/// Marks `mine` below, and the two as crossed when the other one is: false (nothing changed)
/// when `mine` already was.
fn went_below(word: &AtomicU32, mine: u32) -> bool {
    word.fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
        if w & mine != 0 {
            return None;
        }
        let crossed = if w & EITHER_BELOW == 0 { 0 } else { CROSSED };
        Some(w | mine | crossed)
    })
    .is_ok()
}

/// Marks `mine` completed: true when it was the last of two that crossed (the caller sets the
/// value again).
fn came_back(word: &AtomicU32, mine: u32) -> bool {
    let mut again = false;
    let _ = word.fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
        let w = w & !mine;
        again = w & CROSSED != 0 && w & EITHER_BELOW == 0;
        Some(if again { w & !CROSSED } else { w })
    });
    again
}

/// A member's share of the team's packet filter.
#[derive(Default)]
pub(crate) struct TeamFilter {
    /// PROMISCUOUS is added to what goes down (the group has two or more members).
    widened: AtomicBool,
    /// The value below changed and is still to be set (the module could not issue requests, or
    /// its previous own set was still below).
    pending: AtomicBool,
    /// Which packet-filter sets are below (`PROTOCOL_BELOW`, `OWN_BELOW`) and whether they were
    /// below together (`CROSSED`).
    below: AtomicU32,
    /// The value of the protocol's set while it is below.
    requested: AtomicU32,
    /// The own request below is the query that learns the stack's packet filter.
    learning: AtomicBool,
    /// That query was made (once per module).
    learned: AtomicBool,
    /// The altered data of the protocol's set requests.
    scratch: OidScratch,
    /// The filter's own sets when the group changes (`None`: no memory at attach).
    own: Option<OwnQuery>,
}

impl TeamFilter {
    pub(crate) fn new() -> Self {
        Self {
            own: OwnQuery::new(),
            ..Self::default()
        }
    }
}

impl Module {
    fn team_filter(&self) -> Option<&TeamFilter> {
        self.team_filter.as_ref()
    }

    /// Whether the team has widened this member's packet filter.
    pub fn packet_filter_widened(&self) -> bool {
        self.team_filter()
            .is_some_and(|t| t.widened.load(Ordering::Acquire))
    }

    /// What goes down for the protocol's packet filter `bits`.
    fn filter_below(&self, bits: u32) -> u32 {
        if self.packet_filter_widened() {
            bits | NDIS_PACKET_TYPE_PROMISCUOUS
        } else {
            bits
        }
    }

    /// The group now has `members` members: the packet filter below is widened from two on, and
    /// set again — also before any protocol set one, so that the other members' frames (and the
    /// answers to the filter's own probe) are received from the start. Narrowing sets back the
    /// protocol's value. `attaching`: the call comes from this module's own FilterAttach, where
    /// NDIS refuses its requests; FilterRestart sets the filter then. IRQL <= DISPATCH_LEVEL
    /// (control plane).
    pub fn set_team_size(&self, members: usize, attaching: bool) {
        let Some(t) = self.team_filter() else {
            return;
        };
        let widen = members >= 2;
        if t.widened.swap(widen, Ordering::AcqRel) == widen {
            return;
        }
        t.pending.store(true, Ordering::Release);
        if !attaching {
            self.push_packet_filter();
        }
    }

    /// Sets the packet filter below if the team changed it since it was last set. While the
    /// previous own set is below, the change waits for its completion, which comes back here.
    pub(super) fn push_packet_filter(&self) {
        let Some(t) = self.team_filter() else {
            return;
        };
        let Some(own) = t.own.as_ref() else {
            return;
        };
        if self.state() == ModuleState::Detached
            || !t.pending.load(Ordering::Acquire)
            || !went_below(&t.below, OWN_BELOW)
        {
            return;
        }
        // OWN_BELOW is this call's now: no other push runs until the own request is back.
        if !self.receive_filter.is_set() && !t.learned.swap(true, Ordering::AcqRel) {
            // The change stays pending for the set that follows the answer.
            self.learn_packet_filter(t, own);
            return;
        }
        t.pending.store(false, Ordering::Release);
        let protocol = if t.below.load(Ordering::Acquire) & PROTOCOL_BELOW != 0 {
            t.requested.load(Ordering::Acquire)
        } else {
            self.receive_filter.packet_filter()
        };
        let bits = self.filter_below(protocol);
        match own.issue_set(
            self.handle,
            OID_GEN_CURRENT_PACKET_FILTER,
            &bits.to_le_bytes(),
        ) {
            QueryStart::Pending => {}
            QueryStart::Done(status, _) => {
                self.count_filter_set(status);
                self.own_filter_set_back();
            }
            QueryStart::Busy => self.own_query_busy(t),
        }
    }

    /// Not while OWN_BELOW is held (the own query has no other user): counted, and the next
    /// change or completion sets the value.
    fn own_query_busy(&self, t: &TeamFilter) {
        self.counters.packet_filter_sets_failed.inc();
        t.pending.store(true, Ordering::Release);
        let _ = came_back(&t.below, OWN_BELOW);
    }

    /// Reads the stack's packet filter before the filter's first set, which would otherwise
    /// replace what the protocol set before this module was attached (through an earlier
    /// instance, or before the filter was installed) with nothing. The set follows the answer.
    fn learn_packet_filter(&self, t: &TeamFilter, own: &OwnQuery) {
        t.learning.store(true, Ordering::Release);
        let mut out = [0u8; 4];
        match own.issue(self.handle, OID_GEN_CURRENT_PACKET_FILTER, &mut out) {
            QueryStart::Pending => {}
            QueryStart::Done(status, n) => {
                t.learning.store(false, Ordering::Release);
                self.learned_packet_filter(status, &out[..n.min(4)]);
                self.own_filter_set_back();
            }
            QueryStart::Busy => {
                t.learning.store(false, Ordering::Release);
                self.own_query_busy(t);
            }
        }
    }

    /// The stack's packet filter as the query found it.
    fn learned_packet_filter(&self, status: NDIS_STATUS, answer: &[u8]) {
        if status == NDIS_STATUS_SUCCESS
            && let Some(bits) = answer.first_chunk::<4>()
        {
            let bits = u32::from_le_bytes(*bits);
            // The team's bit is never the protocol's: an earlier instance narrows before it
            // detaches, so one still there was left by someone else's set.
            self.receive_filter
                .adopt_packet_filter(bits & !NDIS_PACKET_TYPE_PROMISCUOUS);
        }
    }

    /// The filter's own request is no longer below: sets the value again if the protocol's set
    /// crossed it, or if a change waited for it.
    fn own_filter_set_back(&self) {
        let Some(t) = self.team_filter() else {
            return;
        };
        if came_back(&t.below, OWN_BELOW) {
            t.pending.store(true, Ordering::Release);
        }
        self.push_packet_filter();
    }

    /// The protocol's packet-filter set `bits` goes down now.
    fn protocol_filter_sent(&self, bits: u32) {
        if let Some(t) = self.team_filter() {
            t.requested.store(bits, Ordering::Release);
            let _ = went_below(&t.below, PROTOCOL_BELOW);
        }
    }

    /// A request of the protocol completed (its results already observed): when it set the
    /// packet filter while an own set went down, the two may have crossed, so the value below is
    /// set once more from what the protocol now has.
    pub(super) fn protocol_request_done(&self, original: &OidRequest) {
        let Some(t) = self.team_filter() else {
            return;
        };
        if Self::protocol_filter_set(original).is_none() {
            return;
        }
        if came_back(&t.below, PROTOCOL_BELOW) {
            t.pending.store(true, Ordering::Release);
            self.push_packet_filter();
        }
    }

    fn count_filter_set(&self, status: NDIS_STATUS) {
        if status == NDIS_STATUS_SUCCESS {
            self.counters.packet_filter_sets.inc();
        } else {
            self.counters.packet_filter_sets_failed.inc();
        }
    }

    /// The filter's own packet-filter set completed: true when `req` was it.
    pub(super) fn own_filter_set_complete(
        &self,
        req: *mut crate::ndis::types::NDIS_OID_REQUEST,
        status: NDIS_STATUS,
    ) -> bool {
        let Some(t) = self.team_filter() else {
            return false;
        };
        let Some(own) = t.own.as_ref() else {
            return false;
        };
        if !own.is(req) {
            return false;
        }
        if t.learning.swap(false, Ordering::AcqRel) {
            let mut out = [0u8; 4];
            let n = own.finish(status, &mut out).unwrap_or(0);
            self.learned_packet_filter(status, &out[..n.min(4)]);
        } else {
            let status = own.finish(status, &mut []).map_or_else(|s| s, |_| status);
            self.count_filter_set(status);
        }
        self.own_filter_set_back();
        true
    }

    /// The protocol's packet filter `bits` when this request sets it, before it is cloned.
    pub(super) fn protocol_filter_set(request: &OidRequest) -> Option<u32> {
        if request.oid() != OID_GEN_CURRENT_PACKET_FILTER {
            return None;
        }
        let data = request.set_data()?;
        Some(u32::from_le_bytes(*data.first_chunk::<4>()?))
    }

    /// Forwards the protocol's packet filter with the team's bit added (in the scratch buffer).
    pub(super) fn widen_forwarded(&self, clone: &mut ClonedOidRequest, bits: u32) {
        let Some(t) = self.team_filter() else {
            return;
        };
        self.protocol_filter_sent(bits);
        let below = self.filter_below(bits);
        if below != bits {
            clone.substitute_set_data(&t.scratch, &below.to_le_bytes());
        }
    }

    /// A completed query of the packet filter reads back what the protocol set, not the team's
    /// widening.
    pub(super) fn hide_widening(&self, original: &mut OidRequest, status: NDIS_STATUS) {
        if status != NDIS_STATUS_SUCCESS
            || original.oid() != OID_GEN_CURRENT_PACKET_FILTER
            || !self.packet_filter_widened()
        {
            return;
        }
        let own = self.receive_filter.packet_filter();
        if let Some(answer) = original.query_answer_mut()
            && let Some(bits) = answer.first_chunk_mut::<4>()
        {
            let below = u32::from_le_bytes(*bits);
            // What the protocol set, keeping any bit the stack below reports beyond the team's.
            let shown =
                (below & !NDIS_PACKET_TYPE_PROMISCUOUS) | (own & NDIS_PACKET_TYPE_PROMISCUOUS);
            *bits = shown.to_le_bytes();
        }
    }

    /// FilterReceiveNetBufferLists of a member of a group with other members: takes over the
    /// frames of other members, drops what only the team's PROMISCUOUS bit let in, and indicates
    /// the rest up this stack (see the module docs).
    ///
    /// IRQL: <= DISPATCH_LEVEL. Serialised: against nothing.
    pub fn receive_teamed(
        &self,
        chain: NblChain,
        port: NDIS_PORT_NUMBER,
        flags: ReceiveFlags,
        route: &Route<'_>,
    ) {
        if !self.packet_filter_widened() {
            self.receive(chain, port, flags);
            return;
        }
        self.note_probe_answers(&chain);
        let mut chain = chain;
        if flags.has_resources() {
            // The indicator's chain must be linked as it was when this callback returns: each
            // NBL is handled alone and relinked in its place.
            let mut kept = NblChain::new();
            while let Some(nbl) = chain.pop_front() {
                let nbl = match self.classify(&nbl, route) {
                    // With RESOURCES the NBL always comes back from the indication.
                    Destination::Up => match self
                        .indicate_up(NblChain::from(nbl), port, flags)
                        .and_then(|mut one| one.pop_front())
                    {
                        Some(nbl) => nbl,
                        None => continue,
                    },
                    Destination::Member(owner) => owner.take_over(nbl, port, flags, false),
                    Destination::Readdressed(owner) => owner.take_over(nbl, port, flags, true),
                    Destination::Nobody => nbl,
                };
                kept.push_back(nbl);
            }
            kept.leave_with_indicator();
            return;
        }
        let mut up = NblChain::new();
        let mut back = NblChain::new();
        while let Some(nbl) = chain.pop_front() {
            match self.classify(&nbl, route) {
                Destination::Up => up.push_back(nbl),
                Destination::Member(owner) => {
                    back.push_back(owner.take_over(nbl, port, flags, false));
                }
                Destination::Readdressed(owner) => {
                    back.push_back(owner.take_over(nbl, port, flags, true));
                }
                Destination::Nobody => back.push_back(nbl),
            }
        }
        if !back.is_empty() {
            self.handle.return_nbls(back, flags.to_return_flags());
        }
        if !up.is_empty()
            && let Some(back) = self.indicate_up(up, port, flags)
        {
            // Not RESOURCES here: nothing comes back; kept for the type's sake.
            back.leave_with_indicator();
        }
    }

    /// Where a received frame goes: up this stack, up another member's, or nowhere.
    fn classify<'a>(&self, nbl: &OwnedNbl, route: &Route<'a>) -> Destination<'a> {
        // One read of the frame: its destination MAC, and in rewrite mode the addresses too.
        let mut storage = [0u8; ADDRESSING_BYTES];
        let want = if self.rewrite.is_some() {
            ADDRESSING_BYTES
        } else {
            6
        };
        let frame = nbl.peek_front(&mut storage[..want]);
        let Some(dst) = frame.first_chunk::<6>().copied() else {
            return Destination::Up;
        };
        let own = self.info.mac_address();
        // The common case, a frame to this member's own MAC, needs no search of the others.
        let theirs = if own == dst {
            if let Some(owner) = self.address_owner(frame, route) {
                return Destination::Readdressed(owner);
            }
            None
        } else if dst[0] & 1 != 0 {
            if let Some(owner) = self.stranded_owner(frame, route) {
                return Destination::Readdressed(owner);
            }
            None
        } else {
            other_member_with(route, self, dst)
        };
        if let Some(owner) = theirs {
            Destination::Member(owner)
        } else if !self.receive_filter.is_set() || self.receive_filter.accepts(own, dst) {
            // Until the protocol has stated its filter the miniport's choice stands.
            Destination::Up
        } else {
            self.counters.receive_nbls_filtered.inc();
            Destination::Nobody
        }
    }

    /// Rewrite mode: the other member whose address a frame to this member's MAC is for (its
    /// IPv4 or IPv6 destination, or an ARP packet's target), if any.
    fn address_owner<'a>(&self, frame: &[u8], route: &Route<'a>) -> Option<&'a Module> {
        self.rewrite.as_ref()?;
        let addr = destination_address(frame)?;
        route
            .seats
            .iter()
            .flatten()
            .copied()
            .find(|m| !core::ptr::eq(*m, self) && m.owns_address(addr))
    }

    /// Rewrite mode: the member a broadcast ARP request or multicast neighbour solicitation for
    /// one of its addresses is for, when that member's own path is not eligible (its port may be
    /// dead, so its stack would never hear the question; while its path is up it gets its own
    /// copy and this one stays here).
    fn stranded_owner<'a>(&self, frame: &[u8], route: &Route<'a>) -> Option<&'a Module> {
        self.rewrite.as_ref()?;
        if !is_address_query(frame) {
            return None;
        }
        let addr = destination_address(frame)?;
        let eligible = route.selector.eligible_mask();
        route.seats.iter().enumerate().find_map(|(seat, m)| {
            let m = (*m)?;
            let seat = u8::try_from(seat).ok()?;
            (!core::ptr::eq(m, self)
                && m.owns_address(addr)
                && !super::announce::usable(route, eligible, seat))
            .then_some(m)
        })
    }

    /// Indicates a clone of `nbl` (another member's frame) up this stack, lent with RESOURCES;
    /// gives `nbl` back. `readdressed`: the frame came to the receiving member's MAC for this
    /// member's address (rewrite mode), and goes up with this member's MAC as its destination,
    /// through a header slot of this member's (dropped, counted, when none is free).
    /// IRQL <= DISPATCH_LEVEL.
    fn take_over(
        &self,
        nbl: OwnedNbl,
        port: NDIS_PORT_NUMBER,
        flags: ReceiveFlags,
        readdressed: bool,
    ) -> OwnedNbl {
        if !self.gate.try_enter(1) {
            self.counters.receive_takeover_dropped.inc();
            return nbl;
        }
        // A teamed module without a pool (no memory at attach) cannot take frames over.
        let cloned = match self.pool.as_ref() {
            Some(pool) => pool.clone_single(nbl, self.handle),
            None => Err(nbl),
        };
        let nbl = match cloned {
            Ok(child) => {
                child.copy_receive_info();
                if !readdressed || self.readdress(&child) {
                    child.indicate_lent(self.handle, port, flags.is_dispatch());
                    self.counters.receive_nbls_taken_over.inc();
                    if readdressed {
                        self.counters.receive_nbls_readdressed.inc();
                        self.restore_child(&child);
                    }
                } else {
                    self.counters.receive_takeover_dropped.inc();
                }
                child.release()
            }
            Err(nbl) => {
                self.counters.receive_takeover_dropped.inc();
                nbl
            }
        };
        self.finish_leave(self.gate.leave(1));
        nbl
    }
}

/// What [`Module::receive_teamed`] does with one frame.
enum Destination<'a> {
    /// Up this member's stack.
    Up,
    /// Up another member's stack (taken over).
    Member(&'a Module),
    /// To this member's MAC but another member's address (rewrite mode): up that member's
    /// stack with its MAC as the destination.
    Readdressed(&'a Module),
    /// Back to the miniport: only the team's PROMISCUOUS bit let it in.
    Nobody,
}

/// The member other than `me` whose MAC is `dst` (unicast only).
fn other_member_with<'a>(route: &Route<'a>, me: &Module, dst: [u8; 6]) -> Option<&'a Module> {
    if dst[0] & 1 != 0 {
        return None;
    }
    route
        .seats
        .iter()
        .flatten()
        .copied()
        .find(|m| !core::ptr::eq(*m, me) && m.info.mac_address() == dst)
}
