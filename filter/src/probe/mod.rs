//! The filter's own path probe: an ARP request (IPv4) or a neighbour solicitation (IPv6) for the
//! configured target, sent down each member's stack, and the check that a received frame is the
//! answer to it.
//!
//! Most miniports will never link mpshim, and a dead path that keeps its link up (a failed switch
//! port, a cut fibre behind a media converter) raises no indication at all. The probe finds it the
//! way Linux bonding's ARP monitor with `arp_validate` does: a path is alive while the target
//! answers *our* request, *on that path*.
//!
//! - [`ProbeTarget`] — the target address, parsed from the `ProbeTarget` key.
//! - [`request`] — the request frame for one member (its MAC as the source).
//! - [`check_reply`] — whether a received frame answers that member's request.
//!
//! Safe, `no_std`, no allocation: the frame is built into a caller's buffer and replies are read
//! within the slice given.
#![forbid(unsafe_code)]

mod addressing;
mod frame;
mod reply;
mod target;

pub use addressing::{destination_address, edit_header, is_address_query, source_address};
pub use frame::{PROBE_FRAME_MAX, announcement, icmpv6_checksum, link_local_of, request};
pub use reply::{Reply, check_reply};
pub use target::{ProbeTarget, TargetError};

/// Ethernet II type of ARP.
const ETHERTYPE_ARP: u16 = 0x0806;
/// Ethernet II type of IPv6.
const ETHERTYPE_IPV6: u16 = 0x86DD;
/// IPv6 next header of ICMPv6.
const NEXT_HEADER_ICMPV6: u8 = 58;
/// ICMPv6 neighbour solicitation.
const ICMPV6_NS: u8 = 135;
/// ICMPv6 neighbour advertisement.
const ICMPV6_NA: u8 = 136;
/// The hop limit neighbour discovery requires (RFC 4861 §7.1).
const ND_HOP_LIMIT: u8 = 255;
/// Length of an Ethernet II header.
const ETH_LEN: usize = 14;
/// Length of an IPv6 header.
const IPV6_LEN: usize = 40;

#[cfg(test)]
mod tests;
