//! The delivery ledger at the far end of every virtual wire: which frames the protocols sent, how
//! each was completed to its protocol, and which left a wire (in one global arrival order), so
//! loss, duplicates and per-flow reordering are measured rather than assumed.
//!
//! Frames are identified by [`FrameKey`] (origin adapter, flow, sequence within the flow). Plain
//! frames (`TrafficConfig::flows` = 0) form one flow, 0, per origin, sequenced by the adapter-wide
//! sequence.

use crate::sched::Nanos;
use crate::table::Map;
use std::collections::BTreeMap;

/// Identity of one sent frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameKey {
    /// The adapter whose protocol sent it.
    pub origin: usize,
    /// The flow.
    pub flow: u32,
    /// Sequence number within the flow (from 0).
    pub seq: u64,
}

/// One frame leaving a wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// When it reached the far end of the wire (the end of its transmission plus the wire's
    /// latency).
    pub at: Nanos,
    /// The adapter whose wire carried it.
    pub wire: usize,
    /// Which frame.
    pub key: FrameKey,
}

/// Delivery figures of one origin adapter's protocol (or of all of them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginReport {
    /// Frames the protocol sent (pause probes excluded).
    pub sent: u64,
    /// Completed to the protocol with NDIS_STATUS_SUCCESS.
    pub completed_ok: u64,
    /// Completed to the protocol with another status: count by status.
    pub completed_error: BTreeMap<i32, u64>,
    /// Sent and not completed yet.
    pub outstanding: u64,
    /// Distinct frames that left a wire.
    pub delivered: u64,
    /// Arrivals of a frame that had already arrived.
    pub duplicates: u64,
    /// Arrivals whose flow sequence is below the highest already arrived in that flow.
    pub reordered: u64,
    /// Frames sent and never delivered.
    pub lost: u64,
    /// Frames completed OK to the protocol and never delivered.
    pub silently_lost: u64,
}

impl OriginReport {
    /// Frames completed with a status other than SUCCESS.
    pub fn completed_errors(&self) -> u64 {
        self.completed_error.values().sum()
    }

    /// Frames completed with `status`.
    pub fn completed_with(&self, status: i32) -> u64 {
        self.completed_error.get(&status).copied().unwrap_or(0)
    }

    fn add(&mut self, o: &OriginReport) {
        self.sent += o.sent;
        self.completed_ok += o.completed_ok;
        for (&s, &n) in &o.completed_error {
            *self.completed_error.entry(s).or_default() += n;
        }
        self.outstanding += o.outstanding;
        self.delivered += o.delivered;
        self.duplicates += o.duplicates;
        self.reordered += o.reordered;
        self.lost += o.lost;
        self.silently_lost += o.silently_lost;
    }
}

/// What the ledger shows: per origin adapter (indexed by adapter), the total, and how many
/// arrivals each wire carried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Per origin adapter.
    pub origins: Vec<OriginReport>,
    /// All origins together.
    pub total: OriginReport,
    /// Arrivals (duplicates included) per wire, indexed by adapter.
    pub per_wire: Vec<u64>,
}

#[derive(Clone, Copy, Default)]
struct KeyState {
    completed: Option<i32>,
    arrivals: u32,
    /// The key was fed (a slot of a flow's vector below its highest sequence may not be).
    present: bool,
    sent_at: Nanos,
}

/// One flow's frames by sequence: the emulator numbers each flow's frames from 0, so a vector
/// indexed by sequence holds them (no hashing on a path every frame takes four times).
#[derive(Default)]
struct FlowFrames {
    states: Vec<KeyState>,
    /// The highest sequence arrived so far.
    highest: Option<u64>,
}

/// Flows numbered below this are kept by index.
const DENSE_FLOWS: u32 = 1 << 20;
/// A sequence this far beyond a flow's highest so far is kept in the map instead (only keys fed
/// by hand are sparse).
const DENSE_GAP: usize = 1 << 16;

/// Where a key's state lives.
enum Slot {
    Dense(usize, usize, usize),
    Sparse,
}

/// The ledger itself: fed by the emulator (or, in tests, by hand).
#[derive(Default)]
pub struct Ledger {
    /// Per origin, per flow.
    flows: Vec<Vec<FlowFrames>>,
    /// Keys that fit no flow's vector, and their flows' highest arrived sequence.
    sparse: Map<FrameKey, KeyState>,
    sparse_highest: Map<(usize, u32), u64>,
    arrivals: Vec<Arrival>,
    /// Per origin: sent, completed OK, errors by status, duplicates, reordered (counted as they
    /// happen; delivered and the losses are derived in `report`).
    running: Vec<OriginReport>,
    /// Send-to-completion times of the frames completed so far, in completion order.
    completion_times: Vec<Nanos>,
}

impl Ledger {
    fn origin(&mut self, o: usize) -> &mut OriginReport {
        if self.running.len() <= o {
            self.running.resize_with(o + 1, OriginReport::default);
        }
        &mut self.running[o]
    }

    fn slot(&mut self, key: FrameKey) -> Slot {
        let (Ok(seq), true) = (usize::try_from(key.seq), key.flow < DENSE_FLOWS) else {
            return Slot::Sparse;
        };
        let flow = key.flow as usize;
        if self.flows.len() <= key.origin {
            self.flows.resize_with(key.origin + 1, Vec::new);
        }
        let per = &mut self.flows[key.origin];
        if per.len() <= flow {
            per.resize_with(flow + 1, FlowFrames::default);
        }
        let states = &mut per[flow].states;
        if seq >= states.len() + DENSE_GAP {
            return Slot::Sparse;
        }
        if seq >= states.len() {
            states.resize(seq + 1, KeyState::default());
        }
        Slot::Dense(key.origin, flow, seq)
    }

    /// The state of `key`, created as it is first fed.
    fn state(&mut self, key: FrameKey) -> &mut KeyState {
        let k = match self.slot(key) {
            Slot::Dense(o, f, s) => &mut self.flows[o][f].states[s],
            Slot::Sparse => self.sparse.entry(key).or_default(),
        };
        k.present = true;
        k
    }

    /// The protocol of `key.origin` sent `key`.
    pub fn sent(&mut self, key: FrameKey) {
        self.state(key);
        self.origin(key.origin).sent += 1;
    }

    /// The protocol of `key.origin` sent `key` at `at` (what [`Ledger::completion_times`]
    /// measures from).
    pub fn sent_at(&mut self, key: FrameKey, at: Nanos) {
        self.state(key).sent_at = at;
        self.origin(key.origin).sent += 1;
    }

    /// `key` was completed to its protocol at `at` with `status`.
    pub fn completed_at(&mut self, key: FrameKey, status: i32, at: Nanos) {
        let sent = {
            let k = self.state(key);
            k.completed = Some(status);
            k.sent_at
        };
        self.count_completion(key.origin, status);
        self.completion_times.push(at.saturating_sub(sent));
    }

    /// How long each completed frame took from its send to its completion, in completion order.
    pub fn completion_times(&self) -> &[Nanos] {
        &self.completion_times
    }

    /// `key` was completed to its protocol with `status`.
    pub fn completed(&mut self, key: FrameKey, status: i32) {
        self.state(key).completed = Some(status);
        self.count_completion(key.origin, status);
    }

    fn count_completion(&mut self, origin: usize, status: i32) {
        let o = self.origin(origin);
        if status == 0 {
            o.completed_ok += 1;
        } else {
            *o.completed_error.entry(status).or_default() += 1;
        }
    }

    /// `key` left `wire` at `at` (calls come in arrival order).
    pub fn arrived(&mut self, key: FrameKey, wire: usize, at: Nanos) {
        self.arrivals.push(Arrival { at, wire, key });
        let k = self.state(key);
        k.arrivals += 1;
        let dup = k.arrivals > 1;
        let late = if key.flow < DENSE_FLOWS {
            // state() made the flow.
            let f = &mut self.flows[key.origin][key.flow as usize];
            let late = f.highest.is_some_and(|h| key.seq < h);
            f.highest = Some(f.highest.map_or(key.seq, |h| h.max(key.seq)));
            late
        } else {
            let h = self
                .sparse_highest
                .entry((key.origin, key.flow))
                .or_insert(key.seq);
            let late = key.seq < *h;
            *h = (*h).max(key.seq);
            late
        };
        let o = self.origin(key.origin);
        o.duplicates += u64::from(dup);
        o.reordered += u64::from(late);
    }

    /// Every arrival so far, in arrival order.
    pub fn arrivals(&self) -> &[Arrival] {
        &self.arrivals
    }

    /// The figures, with at least `adapters` origins and wires.
    pub fn report(&self, adapters: usize) -> DeliveryReport {
        let mut origins = self.running.clone();
        let n = adapters.max(origins.len());
        origins.resize_with(n, OriginReport::default);
        let dense = self.flows.iter().enumerate().flat_map(|(origin, per)| {
            per.iter()
                .flat_map(move |f| f.states.iter().map(move |k| (origin, k)))
        });
        let sparse = self.sparse.iter().map(|(key, k)| (key.origin, k));
        for (origin, k) in dense.chain(sparse).filter(|(_, k)| k.present) {
            let o = &mut origins[origin];
            let delivered = k.arrivals > 0;
            o.delivered += u64::from(delivered);
            o.outstanding += u64::from(k.completed.is_none());
            o.lost += u64::from(!delivered);
            o.silently_lost += u64::from(!delivered && k.completed == Some(0));
        }
        let mut total = OriginReport::default();
        for o in &origins {
            total.add(o);
        }
        let mut per_wire = vec![0; adapters];
        for a in &self.arrivals {
            if per_wire.len() <= a.wire {
                per_wire.resize(a.wire + 1, 0);
            }
            per_wire[a.wire] += 1;
        }
        DeliveryReport {
            origins,
            total,
            per_wire,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERR: i32 = mpfilter::ndis::consts::NDIS_STATUS_MEDIA_DISCONNECTED;

    fn k(origin: usize, flow: u32, seq: u64) -> FrameKey {
        FrameKey { origin, flow, seq }
    }

    #[test]
    fn clean_delivery_shows_nothing_wrong() {
        let mut l = Ledger::default();
        for s in 0..4 {
            l.sent(k(0, 1, s));
            l.arrived(k(0, 1, s), 0, s * 10);
            l.completed(k(0, 1, s), 0);
        }
        let r = l.report(2);
        let o = &r.origins[0];
        assert_eq!((o.sent, o.completed_ok, o.delivered), (4, 4, 4));
        assert_eq!(
            (o.duplicates, o.reordered, o.lost, o.silently_lost),
            (0, 0, 0, 0)
        );
        assert_eq!(o.outstanding, 0);
        assert_eq!(r.origins[1], OriginReport::default());
        assert_eq!(r.per_wire, vec![4, 0]);
        assert_eq!(r.total, *o);
    }

    #[test]
    fn completion_times_run_from_the_send_to_the_completion() {
        let mut l = Ledger::default();
        l.sent_at(k(0, 0, 0), 100);
        l.sent_at(k(0, 0, 1), 150);
        l.completed_at(k(0, 0, 1), 0, 400);
        l.completed_at(k(0, 0, 0), ERR, 1_000);
        assert_eq!(l.completion_times(), &[250, 900]);
        assert_eq!(l.report(1).origins[0].completed_ok, 1);
    }

    #[test]
    fn a_duplicate_is_counted_once_as_duplicate_and_delivered_once() {
        let mut l = Ledger::default();
        l.sent(k(0, 0, 0));
        l.arrived(k(0, 0, 0), 0, 1);
        l.arrived(k(0, 0, 0), 1, 2);
        let r = l.report(2);
        assert_eq!(r.origins[0].delivered, 1);
        assert_eq!(r.origins[0].duplicates, 1);
        assert_eq!(r.origins[0].reordered, 0, "equal, not below, the highest");
        assert_eq!(r.per_wire, vec![1, 1]);
        assert_eq!(r.origins[0].outstanding, 1);
    }

    #[test]
    fn reordering_is_per_flow_and_against_the_highest_arrived() {
        let mut l = Ledger::default();
        for s in 0..4 {
            l.sent(k(1, 7, s));
            l.sent(k(1, 8, s));
        }
        // Flow 7: 0, 2, 1, 3 -> one late arrival (1 after 2).
        for s in [0, 2, 1, 3] {
            l.arrived(k(1, 7, s), 1, 0);
        }
        // Flow 8 interleaved with flow 7 but in order: none.
        for s in 0..4 {
            l.arrived(k(1, 8, s), 0, 0);
        }
        // Another origin's flow 7 is another flow.
        l.sent(k(0, 7, 0));
        l.arrived(k(0, 7, 0), 0, 0);
        let r = l.report(2);
        assert_eq!(r.origins[1].reordered, 1);
        assert_eq!(r.origins[0].reordered, 0);
        assert_eq!(r.total.reordered, 1);
        assert_eq!(r.total.delivered, 9);
    }

    #[test]
    fn loss_and_silent_loss_follow_the_completion_status() {
        let mut l = Ledger::default();
        for s in 0..5 {
            l.sent(k(0, 0, s));
        }
        l.arrived(k(0, 0, 0), 0, 0);
        l.completed(k(0, 0, 0), 0);
        l.completed(k(0, 0, 1), 0); // OK but never arrived: silently lost
        l.completed(k(0, 0, 2), ERR); // failed, never arrived: lost, not silently
        l.completed(k(0, 0, 3), ERR);
        // seq 4 still outstanding, not arrived: lost (so far).
        let r = l.report(1);
        let o = &r.origins[0];
        assert_eq!(o.completed_ok, 2);
        assert_eq!(o.completed_with(ERR), 2);
        assert_eq!(o.completed_errors(), 2);
        assert_eq!(o.delivered, 1);
        assert_eq!(o.lost, 4);
        assert_eq!(o.silently_lost, 1);
        assert_eq!(o.outstanding, 1);
        assert_eq!(
            l.arrivals(),
            &[Arrival {
                at: 0,
                wire: 0,
                key: k(0, 0, 0)
            }]
        );
    }
}
