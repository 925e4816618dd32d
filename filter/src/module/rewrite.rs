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
use crate::probe::{ProbeTarget, icmpv6_checksum};
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};

/// Header slots per member.
pub(crate) const HEADER_SLOTS: usize = 256;
/// Addresses remembered per member.
pub(crate) const ADDRESSES: usize = 4;

const ETH_LEN: usize = 14;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV6: u16 = 0x86DD;

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

/// The unicast source address of a frame a stack sends: IPv4 or IPv6 source, or ARP sender.
pub fn source_address(frame: &[u8]) -> Option<ProbeTarget> {
    let (ethertype, at) = ethertype(frame)?;
    let addr = match ethertype {
        ETHERTYPE_IPV4 => ProbeTarget::V4(frame.get(at + 12..at + 16)?.try_into().ok()?),
        ETHERTYPE_ARP => ProbeTarget::V4(frame.get(at + 14..at + 18)?.try_into().ok()?),
        ETHERTYPE_IPV6 => ProbeTarget::V6(frame.get(at + 8..at + 24)?.try_into().ok()?),
        _ => return None,
    };
    let unicast = match addr {
        ProbeTarget::V4(ip) => ip != [0; 4] && ip[0] < 224,
        ProbeTarget::V6(ip) => ip != [0; 16] && ip[0] != 0xFF,
    };
    unicast.then_some(addr)
}

/// The address a received frame is for: IPv4 or IPv6 destination, an ARP packet's target, or a
/// neighbour solicitation's target (its destination is a solicited-node group).
pub fn destination_address(frame: &[u8]) -> Option<ProbeTarget> {
    let (ethertype, at) = ethertype(frame)?;
    Some(match ethertype {
        ETHERTYPE_IPV4 => ProbeTarget::V4(frame.get(at + 16..at + 20)?.try_into().ok()?),
        ETHERTYPE_ARP => ProbeTarget::V4(frame.get(at + 24..at + 28)?.try_into().ok()?),
        ETHERTYPE_IPV6 if is_solicitation(frame, at) => {
            ProbeTarget::V6(frame.get(at + 48..at + 64)?.try_into().ok()?)
        }
        ETHERTYPE_IPV6 => ProbeTarget::V6(frame.get(at + 24..at + 40)?.try_into().ok()?),
        _ => return None,
    })
}

fn is_solicitation(frame: &[u8], at: usize) -> bool {
    frame.get(at + 6) == Some(&58) && frame.get(at + 40) == Some(&135)
}

/// Whether a received frame asks for an address's owner: an ARP request that is not an
/// announcement, or a neighbour solicitation.
pub fn is_address_query(frame: &[u8]) -> bool {
    match ethertype(frame) {
        Some((ETHERTYPE_ARP, at)) => {
            frame.get(at + 6..at + 8) == Some(&[0, 1])
                && frame.get(at + 14..at + 18) != frame.get(at + 24..at + 28)
        }
        Some((ETHERTYPE_IPV6, at)) => is_solicitation(frame, at),
        _ => false,
    }
}

/// The frame's ethertype and where its payload starts (past one 802.1Q tag).
fn ethertype(frame: &[u8]) -> Option<(u16, usize)> {
    let t = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    if t == ETHERTYPE_VLAN {
        let inner = u16::from_be_bytes(frame.get(16..18)?.try_into().ok()?);
        return Some((inner, ETH_LEN + 4));
    }
    Some((t, ETH_LEN))
}

/// Rewrites, in `h` (a copy of a frame's first bytes), the source MAC to `mac`, and where the
/// frame names the old source MAC as its own link-layer address (ARP sender; NS/NA option),
/// that too.
pub fn edit_header(h: &mut [u8], mac: [u8; 6]) {
    let Some(old) = h.get(6..12).and_then(|s| <[u8; 6]>::try_from(s).ok()) else {
        return;
    };
    h[6..12].copy_from_slice(&mac);
    match ethertype(h) {
        Some((ETHERTYPE_ARP, at)) => {
            if let Some(sha) = h.get_mut(at + 8..at + 14)
                && *sha == old
            {
                sha.copy_from_slice(&mac);
            }
        }
        Some((ETHERTYPE_IPV6, at)) => edit_nd(h, at, old, mac),
        _ => {}
    }
}

/// A neighbour solicitation or advertisement whose link-layer address option names `old`: the
/// option gets `mac` and the ICMPv6 checksum is computed again.
fn edit_nd(h: &mut [u8], at: usize, old: [u8; 6], mac: [u8; 6]) {
    let Some(ip6) = h.get(at..at + 40) else {
        return;
    };
    let plen = usize::from(u16::from_be_bytes([ip6[4], ip6[5]]));
    if ip6[6] != 58 || !(24..=h.len() - (at + 40)).contains(&plen) {
        return;
    }
    let (Ok(src), Ok(dst)) = (
        <[u8; 16]>::try_from(&ip6[8..24]),
        <[u8; 16]>::try_from(&ip6[24..40]),
    ) else {
        return;
    };
    let msg = &mut h[at + 40..at + 40 + plen];
    if msg[0] != 135 && msg[0] != 136 {
        return;
    }
    let mut changed = false;
    let mut o = 24;
    while o + 8 <= msg.len() {
        let (kind, len) = (msg[o], usize::from(msg[o + 1]) * 8);
        if len == 0 {
            return;
        }
        if (kind == 1 || kind == 2) && len == 8 && msg[o + 2..o + 8] == old {
            msg[o + 2..o + 8].copy_from_slice(&mac);
            changed = true;
        }
        o += len;
    }
    if changed {
        let sum = icmpv6_checksum(&src, &dst, msg);
        msg[2..4].copy_from_slice(&sum.to_be_bytes());
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

    const A: [u8; 6] = [2, 0, 0, 0, 0, 0xA];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 0xB];

    #[test]
    fn the_source_mac_and_an_arp_sender_naming_it_are_rewritten() {
        let mut f = [0u8; 42];
        f[0..6].copy_from_slice(&[0xFF; 6]);
        f[6..12].copy_from_slice(&A);
        f[12..14].copy_from_slice(&[8, 6]);
        f[22..28].copy_from_slice(&A);
        f[28..32].copy_from_slice(&[10, 0, 0, 1]);
        edit_header(&mut f, B);
        assert_eq!((f[6..12] == B, f[22..28] == B), (true, true));
        assert_eq!(source_address(&f), Some(ProbeTarget::V4([10, 0, 0, 1])));
        // An ARP sender that is not the frame's source is left.
        f[6..12].copy_from_slice(&A);
        f[22..28].copy_from_slice(&[2, 1, 1, 1, 1, 1]);
        edit_header(&mut f, B);
        assert_eq!(f[22..28], [2, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn a_solicitations_link_layer_option_is_rewritten_with_a_valid_checksum() {
        let target = ProbeTarget::V6([0xFD, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        let mut out = [0u8; crate::probe::PROBE_FRAME_MAX];
        let n = crate::probe::request(target, A, &mut out);
        let frame = &mut out[..n];
        edit_header(frame, B);
        assert_eq!(frame[6..12], B);
        let msg = &frame[54..86];
        assert_eq!(msg[26..32], B, "the SLLA option");
        let src: [u8; 16] = frame[22..38].try_into().unwrap();
        let dst: [u8; 16] = frame[38..54].try_into().unwrap();
        assert_eq!(
            icmpv6_checksum(&src, &dst, msg).to_be_bytes(),
            [msg[2], msg[3]]
        );
    }

    #[test]
    fn questions_for_an_address_are_recognised_and_name_it() {
        let v6 = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut out = [0u8; crate::probe::PROBE_FRAME_MAX];
        let n = crate::probe::request(ProbeTarget::V6(v6), A, &mut out);
        assert!(is_address_query(&out[..n]));
        assert_eq!(destination_address(&out[..n]), Some(ProbeTarget::V6(v6)));
        let n = crate::probe::request(ProbeTarget::V4([10, 0, 0, 1]), A, &mut out);
        assert!(is_address_query(&out[..n]));
        assert_eq!(
            destination_address(&out[..n]),
            Some(ProbeTarget::V4([10, 0, 0, 1]))
        );
        // Announcements ask nothing.
        let n = crate::probe::announcement(ProbeTarget::V4([10, 0, 0, 1]), A, &mut out);
        assert!(!is_address_query(&out[..n]));
        let n = crate::probe::announcement(ProbeTarget::V6(v6), A, &mut out);
        assert!(!is_address_query(&out[..n]));
        assert_eq!(destination_address(&out[..n]).map(|_| ()), Some(()));
    }

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
