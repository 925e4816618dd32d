//! The filter's own path probe on one member (issue: "the filter's own probe"): every
//! `ProbeIntervalMs` an ARP request or neighbour solicitation for `ProbeTarget` goes down this
//! module's stack, and the answer must come back up the same stack before the next one is due.
//!
//! - Sending runs from the group's timer ([`Module::probe_tick`], DISPATCH_LEVEL). The frame is
//!   the module's [`OwnFrame`]: allocated at attach, one out at a time, counted by the pause gate
//!   like any NBL below (a pause waits for it), completed back here and never up.
//! - Answers are recognised on the receive path ([`Module::note_probe_answers`]) only while the
//!   probe out is unanswered, so other traffic pays a few atomic loads per indication. Answers are passed up
//!   like any frame: an ARP reply to the probe form (target protocol address 0.0.0.0) or an
//!   advertisement to an address the stack may not own is dropped by the stack above, harmlessly.
//! - The verdicts go to the engine as `ProbeLost` (each miss; the engine fails the path after
//!   `ProbeMissed` in a row) and `ProbeAnswered` (the first answer after a miss only, so an
//!   answered probe does not clear a path that failed for another reason every interval).
//!
//! Probes are not user traffic: they are counted apart (`probes_sent`, `probe_answers`,
//! `probes_missed`) and never in the send counters.

use super::Module;
use crate::ndis::consts::NDIS_SEND_FLAGS_DISPATCH_LEVEL;
use crate::ndis::nbl::reclaim_from;
use crate::ndis::{NblChain, OwnFrame, SendFlags};
use crate::probe::{PROBE_FRAME_MAX, ProbeTarget, Reply, check_reply, request};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Bytes of a received frame read to recognise an answer: an advertisement with its option.
const ANSWER_PEEK: usize = 96;

/// One member's probe state.
pub(crate) struct Prober {
    frame: OwnFrame,
    target: ProbeTarget,
    mac: [u8; 6],
    interval_ns: u64,
    /// When the next probe is due (the timer's clock, ns); 0 before the first.
    next_at: AtomicU64,
    /// Probes sent.
    sent: AtomicU32,
    /// `sent` as it was when the last answer arrived.
    answered: AtomicU32,
    /// A probe was sent and its verdict is still to be given.
    awaiting: AtomicBool,
    /// Misses in a row.
    misses: AtomicU32,
}

impl Prober {
    /// A prober for `target` from `mac` every `interval_ms`; `None` without a frame (no
    /// resources). PASSIVE_LEVEL (attach).
    pub(crate) fn new(
        handle: crate::ndis::FilterHandle,
        target: ProbeTarget,
        mac: [u8; 6],
        interval_ms: u32,
    ) -> Option<Prober> {
        Some(Prober {
            frame: OwnFrame::new(handle)?,
            target,
            mac,
            interval_ns: u64::from(interval_ms.max(1)) * 1_000_000,
            next_at: AtomicU64::new(0),
            sent: AtomicU32::new(0),
            answered: AtomicU32::new(0),
            awaiting: AtomicBool::new(false),
            misses: AtomicU32::new(0),
        })
    }

    /// Claims the probe due at `now`: true for exactly one caller per interval.
    fn due(&self, now: u64) -> bool {
        let at = self.next_at.load(Ordering::Relaxed);
        now >= at
            && self
                .next_at
                .compare_exchange(
                    at,
                    now + self.interval_ns,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

/// What a probe interval concluded, for the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeVerdict {
    /// The last probe went unanswered (or could not be sent because the one before is still
    /// out).
    Missed,
    /// Answered again after misses.
    Recovered,
}

impl Module {
    /// The probe's work at `now` (the group timer, DISPATCH_LEVEL): the verdict on the probe
    /// that is out when its interval is up, and the next probe. `None` when nothing is to be
    /// reported (no probe configured, not due, answered as before).
    ///
    /// IRQL: DISPATCH_LEVEL. Serialised: against nothing (a late timer run on another CPU loses
    /// the claim on the interval).
    pub fn probe_tick(&self, now: u64) -> Option<ProbeVerdict> {
        let p = self.prober.as_ref()?;
        if !p.due(now) {
            return None;
        }
        let verdict = if p.awaiting.swap(false, Ordering::AcqRel) {
            let sent = p.sent.load(Ordering::Acquire);
            if p.answered.load(Ordering::Acquire) == sent {
                (p.misses.swap(0, Ordering::Relaxed) > 0).then_some(ProbeVerdict::Recovered)
            } else {
                p.misses.fetch_add(1, Ordering::Relaxed);
                self.counters.probes_missed.inc();
                Some(ProbeVerdict::Missed)
            }
        } else {
            None
        };
        self.send_probe(p);
        verdict
    }

    fn send_probe(&self, p: &Prober) {
        if !self.gate.try_enter(1) {
            // Not Running: nothing goes down, and no verdict is due for this interval.
            return;
        }
        let mut bytes = [0u8; PROBE_FRAME_MAX];
        let n = request(p.target, p.mac, &mut bytes);
        let Some(nbl) = p.frame.take(&bytes[..n]) else {
            // The last probe is still below (a stalled miniport): it counts as missed, and is not
            // sent again until it is back.
            self.finish_leave(self.gate.leave(1));
            p.sent.fetch_add(1, Ordering::AcqRel);
            p.awaiting.store(true, Ordering::Release);
            return;
        };
        p.sent.fetch_add(1, Ordering::AcqRel);
        p.awaiting.store(true, Ordering::Release);
        self.counters.probes_sent.inc();
        self.handle.send(
            NblChain::from(nbl),
            0,
            SendFlags::from_bits(NDIS_SEND_FLAGS_DISPATCH_LEVEL),
        );
    }

    /// Notes the answers to this module's probe in a chain it received. IRQL <= DISPATCH_LEVEL.
    pub(super) fn note_probe_answers(&self, chain: &NblChain) {
        let Some(p) = self.prober.as_ref() else {
            return;
        };
        // Only while the probe out is unanswered: afterwards the receive path does no more than
        // these loads until the next probe.
        let sent = p.sent.load(Ordering::Acquire);
        if !p.awaiting.load(Ordering::Acquire) || p.answered.load(Ordering::Acquire) == sent {
            return;
        }
        for nbl in chain {
            let mut storage = [0u8; ANSWER_PEEK];
            if check_reply(p.target, p.mac, nbl.peek_front(&mut storage)) == Reply::Answer {
                p.answered.store(sent, Ordering::Release);
                self.counters.probe_answers.inc();
                return;
            }
        }
    }

    /// Takes the filter's own frames (this member's probe, its announcements) out of a
    /// completed chain; returns the rest and how many were its own, for the pause gate.
    pub(super) fn take_own_completions(&self, chain: NblChain) -> (NblChain, u64) {
        reclaim_from(chain, || {
            let probe = self.prober.iter().map(|p| &p.frame);
            let announcing = self.rewrite.iter().flat_map(|r| r.frames.iter().flatten());
            probe.chain(announcing)
        })
    }
}
