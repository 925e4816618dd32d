//! The flow key and the target key of a frame about to be sent: what the path engine balances on.
//!
//! [`classify`] reads the front of the frame — Ethernet, up to two 802.1Q / 802.1ad tags (or the
//! tag the NBL carries out of band), IPv4 or IPv6 with a bounded walk of extension headers, and
//! TCP / UDP / SCTP ports — and hashes:
//! - `l2`: destination and source MAC and VLAN;
//! - `l34`: addresses, protocol and ports (addresses and protocol only for a fragment, so all
//!   fragments of a datagram take one path); `l2` for frames that are not IP;
//! - the target: the destination IP address (the destination MAC for frames that are not IP).
//!
//! It never reads past the slice it is given (the caller passes at most the first NET_BUFFER's
//! DataLength). A frame that ends early or lies about its headers is hashed on what could be read
//! and the reason is returned, so the caller can count it: never a panic, never a dropped NBL.
//!
//! Safe, `no_std`, no allocation; one pass over at most the headers.
#![forbid(unsafe_code)]

mod hash;
mod parse;

pub use parse::{Classified, L3, Malformed, classify};

#[cfg(test)]
mod tests;
