//! Rewrite mode: announcing where a member's addresses are now (issue 10 item 3).
//!
//! A member A's *carrier* is A itself while A's path is eligible, else the first eligible member
//! in seat order (any member would do: replies to A's addresses arriving on any member go up A's
//! stack, `module/takeover.rs`). When A's carrier changes — failover to B, failback to A — the
//! carrier sends, for every address A's stack was seen sending from (`rewrite::AddressBook`),
//! `AnnounceCount` gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6, to
//! all-nodes, Override set, the target link-layer address option) naming the carrier's MAC: the
//! first on the group timer tick that sees the change, then one round every
//! `AnnounceIntervalMs` (as Linux bonding's `num_grat_arp` / `num_unsol_na` after a failover,
//! repeated every `peer_notif_delay`).
//!
//! The frames are the carrier's own ([`OwnFrame`](crate::ndis::OwnFrame)s allocated at attach,
//! one per address, counted by its pause gate, completed back to it and never up) and not user
//! traffic: counted as `announcements_sent`, or `announcements_skipped` when the carrier is not
//! Running or the frame is still below from the last round; each round that sent something is
//! traced (`Announced`). A carrier change in the middle of a series starts a new series for the
//! new carrier. A member whose stack has sent nothing yet has no address to announce: its rounds
//! pass empty.

use super::Module;
use super::route::{NONE, Route};
use crate::diag::{self, Event};
use crate::engine::types::MAX_PATHS;
use crate::ndis::NblChain;
use crate::ndis::SendFlags;
use crate::ndis::consts::NDIS_SEND_FLAGS_DISPATCH_LEVEL;
use crate::probe::{PROBE_FRAME_MAX, announcement};
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

/// One member's announcement series.
pub(crate) struct Announcing {
    count: u8,
    interval_ns: u64,
    /// The seat of the member that carried this member's traffic when last looked at
    /// ([`NONE`]: the member itself, as at the start).
    carrier: AtomicU8,
    /// Rounds still to send.
    left: AtomicU32,
    /// When the next round is due (the timer's clock, ns).
    next_at: AtomicU64,
}

impl Announcing {
    /// `count` rounds `interval_ms` apart after each carrier change.
    pub(crate) fn new(count: u8, interval_ms: u32) -> Self {
        Announcing {
            count,
            interval_ns: u64::from(interval_ms.max(1)) * 1_000_000,
            carrier: AtomicU8::new(NONE),
            left: AtomicU32::new(0),
            next_at: AtomicU64::new(0),
        }
    }

    /// Notes `seat`'s carrier now (`me` is the member's own seat); starts a series on a change.
    fn note(&self, me: u8, carrier: u8, now: u64) {
        let raw = self.carrier.load(Ordering::Relaxed);
        let last = if raw == NONE { me } else { raw };
        if last != carrier
            && self
                .carrier
                .compare_exchange(raw, carrier, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.next_at.store(now, Ordering::Relaxed);
            self.left.store(u32::from(self.count), Ordering::Release);
        }
    }

    /// Claims the round due at `now`: true for exactly one caller per round.
    fn due(&self, now: u64) -> bool {
        if self.left.load(Ordering::Acquire) == 0 {
            return false;
        }
        let at = self.next_at.load(Ordering::Relaxed);
        if now < at {
            return false;
        }
        let next = (at + self.interval_ns).max(now);
        if self
            .next_at
            .compare_exchange(at, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }
}

// The engine's eligible set is one bit per path of a u32.
const _: () = assert!(MAX_PATHS <= 32);

/// Whether `seat`'s path is in the engine's eligible set.
pub(super) fn usable(route: &Route<'_>, eligible: u32, seat: u8) -> bool {
    route
        .path_seat
        .iter()
        .enumerate()
        .any(|(p, &s)| s == seat && eligible & (1 << p) != 0)
}

impl Module {
    /// The group timer's announcements (see the module docs). DISPATCH_LEVEL, outside the
    /// control lock. Serialised: against nothing (a late timer run loses the claims).
    pub fn announce_group(route: &Route<'_>, now: u64) {
        let eligible = route.selector.eligible_mask();
        // MAX_PATHS is 16.
        #[allow(clippy::cast_possible_truncation)]
        let first = (0..MAX_PATHS as u8)
            .find(|&s| route.member_at(s).is_some() && usable(route, eligible, s));
        for (seat, m) in route.seats.iter().enumerate() {
            let (Some(m), Ok(me)) = (m, u8::try_from(seat)) else {
                continue;
            };
            let Some(r) = m.rewrite.as_ref() else {
                continue;
            };
            let carrier = if usable(route, eligible, me) {
                Some(me)
            } else {
                first
            };
            let Some(carrier) = carrier else {
                continue;
            };
            r.announce.note(me, carrier, now);
            if r.announce.due(now)
                && let Some(c) = route.member_at(carrier)
            {
                let sent = c.announce_for(m);
                if sent == 0 {
                    // No address known yet (the member has sent nothing): a round of nothing.
                    continue;
                }
                // Group ids are reported in 16 bits.
                #[allow(clippy::cast_possible_truncation)]
                diag::emit(
                    c.handle,
                    Event::Announced {
                        group: route.group as u16,
                        owner: me,
                        carrier,
                        sent,
                    },
                );
            }
        }
    }

    /// Sends one announcement per address of `owner` at this module's MAC, down this stack;
    /// how many went.
    fn announce_for(&self, owner: &Module) -> u8 {
        let (Some(mine), Some(theirs)) = (self.rewrite.as_ref(), owner.rewrite.as_ref()) else {
            return 0;
        };
        let mut sent = 0;
        let mac = self.mac6();
        for addr in theirs.addresses.each() {
            if !self.gate.try_enter(1) {
                self.counters.announcements_skipped.inc();
                continue;
            }
            let mut bytes = [0u8; PROBE_FRAME_MAX];
            let n = announcement(addr, mac, &mut bytes);
            let nbl = mine
                .frames
                .iter()
                .flatten()
                .find_map(|f| f.take(&bytes[..n]));
            let Some(nbl) = nbl else {
                self.finish_leave(self.gate.leave(1));
                self.counters.announcements_skipped.inc();
                continue;
            };
            self.counters.announcements_sent.inc();
            sent += 1;
            self.handle.send(
                NblChain::from(nbl),
                0,
                SendFlags::from_bits(NDIS_SEND_FLAGS_DISPATCH_LEVEL),
            );
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carrier_change_starts_count_rounds_interval_apart() {
        let a = Announcing::new(3, 100);
        a.note(0, 0, 5);
        assert!(!a.due(5), "no change, no series");
        a.note(0, 1, 1_000);
        assert!(a.due(1_000));
        assert!(!a.due(1_000), "one claim per round");
        assert!(!a.due(1_000 + 99_999_999));
        assert!(a.due(1_000 + 100_000_000));
        assert!(
            a.due(1_000 + 230_000_000),
            "late: sent, next one interval on"
        );
        assert!(!a.due(1_000 + 330_000_000), "three rounds only");
        a.note(0, 1, 2_000_000_000);
        assert!(!a.due(2_000_000_000), "the same carrier: nothing new");
        a.note(0, 0, 3_000_000_000);
        assert!(a.due(3_000_000_000), "failback starts a series");
        let none = Announcing::new(0, 100);
        none.note(0, 1, 0);
        assert!(!none.due(0), "AnnounceCount 0");
    }
}
