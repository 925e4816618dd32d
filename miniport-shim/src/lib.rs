//! `mpshim` — what a miniport links in to tell mpfilter that its path failed or recovered.
//!
//! * [`contract`]: the wire contract shared with the filter — the status code and its tagged
//!   [`contract::PathEvent`] payload, the private OID with its health snapshot and settings.
//! * [`monitor`]: the health monitor — TX watchdog, completion error rate over a sliding window,
//!   link state, heartbeat misses, administrative down, with debounce and hysteresis — pure logic
//!   fed with the miniport's events and clock.
//! * [`oid`]: the private OID handler over safe slices.
//! * [`indication`]: the NDIS structures the edge fills, declared locally.
//! * [`edge`]: the thin unsafe edge — raising the indication, unpacking an NDIS_OID_REQUEST.
//!
//! `no_std`, no allocation. Everything but [`edge`] forbids `unsafe`. See `docs/miniport-shim.md`.
#![no_std]
#![deny(unsafe_code)]

pub mod contract;
#[allow(unsafe_code)]
pub mod edge;
pub mod indication;
pub mod monitor;
pub mod oid;

pub use contract::{PathEvent, PathEventKind, Reason};
pub use monitor::Monitor;
