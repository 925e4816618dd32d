//! Rewrite mode (`MacMode = rewrite`), the send side: a frame that member B sends for another
//! member A carries B's source MAC, so the switch never sees A's MAC on B's port; peers learn
//! where A's addresses are from announcements instead (`module/announce.rs`).
//!
//! - **The header** is B's own: a [`HeaderSlots`] slot per NET_BUFFER of the clone B sends
//!   (`ndis/nbl/header.rs`), holding a copy of the frame's first bytes, edited there; the rest of
//!   the frame stays on the protocol's MDLs, which nobody writes (the emulator's
//!   `nbl.data-written`). The slot is given back when the clone completes, before it is freed.
//!   Slots are claimed lock-free and allocated at attach (256 per member: more than a protocol's
//!   usual send window), so the send path allocates nothing beyond NDIS's clone. No slot free →
//!   the frame goes as it is, with A's MAC (counted: `send_rewrite_skipped`), never held back.
//! - **What is edited**: the Ethernet source; in an ARP packet from A, its sender hardware
//!   address (else A's own ARP replies would point peers back at A's port); in a neighbour
//!   solicitation or advertisement, its source/target link-layer address option, with the
//!   ICMPv6 checksum recomputed (the whole message lies in the copy: 32 bytes with one option).
//!   Frames with an 802.1Q tag in the data are edited past the tag.
//! - **A's addresses** are learnt from what A's own stack sends (module `AddressBook`): the IPv4
//!   source, IPv6 source and ARP sender address of its frames, unicast only, four at most; a
//!   few loads per NBL once known.

use super::Module;
use crate::diag::{self, Event};
use crate::ndis::{HeaderSlots, Nbl, OwnFrame, cpu};
use crate::probe::{ProbeTarget, edit_header, source_address};
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};

/// Header slots per member.
pub(crate) const HEADER_SLOTS: usize = 256;
/// Addresses remembered per member.
pub(crate) const ADDRESSES: usize = 4;

/// One remembered address: empty, being written, or ready (IPv4 or IPv6).
struct Entry {
    state: AtomicU8,
    words: [AtomicU32; 4],
}

const EMPTY: u8 = 0;
const WRITING: u8 = 1;
const READY_V4: u8 = 2;
const READY_V6: u8 = 3;

/// The addresses a member's stack sends from (see the module docs). Written on the send path
/// by whichever processor first sees a new address (one claim per entry), read by the group
/// timer; entries are never removed while the module lives. Two processors meeting the same
/// new address at once may both store it: it is then announced twice.
pub(crate) struct AddressBook {
    entries: [Entry; ADDRESSES],
}

fn words_of(addr: &ProbeTarget) -> (u8, [u32; 4]) {
    match addr {
        ProbeTarget::V4(ip) => (READY_V4, [u32::from_be_bytes(*ip), 0, 0, 0]),
        ProbeTarget::V6(ip) => {
            let mut w = [0u32; 4];
            for (i, c) in ip.chunks_exact(4).enumerate() {
                w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
            }
            (READY_V6, w)
        }
    }
}

impl AddressBook {
    pub(crate) const fn new() -> Self {
        AddressBook {
            entries: [const {
                Entry {
                    state: AtomicU8::new(EMPTY),
                    words: [const { AtomicU32::new(0) }; 4],
                }
            }; ADDRESSES],
        }
    }

    fn read(e: &Entry) -> Option<ProbeTarget> {
        let state = e.state.load(Ordering::Acquire);
        let w = |i: usize| e.words[i].load(Ordering::Relaxed).to_be_bytes();
        match state {
            READY_V4 => Some(ProbeTarget::V4(w(0))),
            READY_V6 => {
                let mut ip = [0u8; 16];
                for i in 0..4 {
                    ip[i * 4..i * 4 + 4].copy_from_slice(&w(i));
                }
                Some(ProbeTarget::V6(ip))
            }
            _ => None,
        }
    }

    /// Remembers `addr` if it is new and an entry is free. Any IRQL, any CPU.
    pub(crate) fn learn(&self, addr: ProbeTarget) {
        let (ready, words) = words_of(&addr);
        for e in &self.entries {
            if Self::read(e) == Some(addr) {
                return;
            }
        }
        for e in &self.entries {
            if e.state
                .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                for (slot, w) in e.words.iter().zip(words) {
                    slot.store(w, Ordering::Relaxed);
                }
                e.state.store(ready, Ordering::Release);
                return;
            }
        }
    }

    /// The addresses remembered so far, in order.
    pub(crate) fn each(&self) -> impl Iterator<Item = ProbeTarget> + '_ {
        self.entries.iter().filter_map(Self::read)
    }
}

/// A member's rewrite-mode state.
pub(crate) struct Rewrite {
    pub(super) slots: HeaderSlots,
    pub(super) addresses: AddressBook,
    /// The frames announcements go out in (any member's addresses, at this member's MAC).
    pub(super) frames: [Option<OwnFrame>; ADDRESSES],
    pub(super) announce: super::announce::Announcing,
    /// The last carried NBL went out without a header slot (the next success clears it): the
    /// `RewriteSkipped` event is emitted once per run.
    skipping: AtomicBool,
}

impl Rewrite {
    /// At attach (PASSIVE_LEVEL): `None` without resources for the slots.
    pub(crate) fn new(
        handle: crate::ndis::FilterHandle,
        count: u8,
        interval_ms: u32,
    ) -> Option<Rewrite> {
        Some(Rewrite {
            slots: HeaderSlots::new(handle, HEADER_SLOTS)?,
            addresses: AddressBook::new(),
            frames: core::array::from_fn(|_| OwnFrame::new(handle)),
            announce: super::announce::Announcing::new(count, interval_ms),
            skipping: AtomicBool::new(false),
        })
    }
}

impl Module {
    /// The module's MAC as six bytes (zeros when the medium has another length).
    pub(super) fn mac6(&self) -> [u8; 6] {
        self.info.mac_address().try_into().unwrap_or([0; 6])
    }

    /// Rewrite mode: remembers the source address of a frame this module's stack sends (its
    /// first bytes `headers`). IRQL <= DISPATCH_LEVEL.
    pub(super) fn learn_address(&self, headers: &[u8]) {
        if let Some(r) = self.rewrite.as_ref()
            && let Some(addr) = source_address(headers)
        {
            r.addresses.learn(addr);
        }
    }

    /// Rewrite mode: gives a clone this module is about to send for another member this
    /// module's MAC, through header slots. IRQL <= DISPATCH_LEVEL.
    pub(super) fn rewrite_child(&self, child: &Nbl) {
        let Some(r) = self.rewrite.as_ref() else {
            return;
        };
        let mac = self.mac6();
        let hint = cpu::current_index() as usize;
        if r.slots.rewrite(child, hint, |h| edit_header(h, mac)) {
            self.counters.send_headers_rewritten.inc();
            if r.skipping.load(Ordering::Relaxed) {
                r.skipping.store(false, Ordering::Relaxed);
            }
        } else {
            self.counters.send_rewrite_skipped.inc();
            if !r.skipping.swap(true, Ordering::Relaxed) {
                // Group ids are reported in 16 bits.
                #[allow(clippy::cast_possible_truncation)]
                diag::emit(
                    self.handle,
                    Event::RewriteSkipped {
                        group: self.info.path_group as u16,
                        carrier: self.seat(),
                        skipped: self.counters.send_rewrite_skipped.get(),
                    },
                );
            }
        }
    }

    /// Rewrite mode: whether this module's stack was seen sending from `addr`.
    pub(super) fn owns_address(&self, addr: ProbeTarget) -> bool {
        self.rewrite
            .as_ref()
            .is_some_and(|r| r.addresses.each().any(|a| a == addr))
    }

    /// Rewrite mode: a clone of a frame another member received for this member's address gets
    /// this member's MAC as its destination, through a header slot; false when none is free.
    pub(super) fn readdress(&self, clone: &Nbl) -> bool {
        let Some(r) = self.rewrite.as_ref() else {
            return false;
        };
        let mac = self.mac6();
        let hint = cpu::current_index() as usize;
        r.slots.rewrite(clone, hint, |h| {
            if let Some(dst) = h.get_mut(0..6) {
                dst.copy_from_slice(&mac);
            }
        })
    }

    /// A completed clone: its NET_BUFFERs get their own MDLs back and the slots are free again.
    /// Before the clone is freed. IRQL <= DISPATCH_LEVEL.
    pub(super) fn restore_child(&self, child: &Nbl) {
        if let Some(r) = self.rewrite.as_ref() {
            r.slots.restore(child);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_learnt_once_up_to_the_book_size_and_only_unicast() {
        let book = AddressBook::new();
        for last in [1u8, 1, 2, 3, 4, 5] {
            book.learn(ProbeTarget::V4([10, 0, 0, last]));
        }
        let got: alloc::vec::Vec<_> = book.each().collect();
        assert_eq!(got.len(), ADDRESSES);
        assert_eq!(got[0], ProbeTarget::V4([10, 0, 0, 1]));
        assert_eq!(got[3], ProbeTarget::V4([10, 0, 0, 4]));
        let mut f = [0u8; 40];
        f[12..14].copy_from_slice(&[8, 0]);
        f[26..30].copy_from_slice(&[224, 0, 0, 1]);
        assert_eq!(source_address(&f), None, "multicast");
        f[26..30].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(source_address(&f), None, "unspecified");
    }
}
