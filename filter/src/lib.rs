//! `mpfilter` — an NDIS 6 lightweight filter (LWF) that gives a host multipath failover and load
//! balancing across its network adapters.
//!
//! Layout:
//! - [`ndis`] — the hand-written NDIS 6.30 FFI and the only code that touches raw NDIS pointers:
//!   `#[repr(C)]` layouts, extern declarations, safe wrappers (NBL chains, handles, OID requests) and
//!   the `extern "system"` trampolines NDIS calls.
//! - [`module`] — the filter module logic (state machine, pass-through data path, OIDs, status), safe Rust.
//! - [`diag`] — the diagnostic event catalogue, its binary record and its backends. `no_std`, no
//!   `unsafe`.
//! - [`engine`] — the path engine: path states, failover policy and balancers. `no_std`, no `unsafe`.
//! - `windows` — the thin Windows-only layer: `DriverEntry`, allocator, panic handler.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
// The host build (Linux, tests, the emulator) runs the same code with std as its runtime: std
// supplies the allocator and panic handler there. Nothing in this crate uses std directly.
#[cfg(not(windows))]
extern crate std;

pub mod diag;
pub mod engine;
pub mod module;
#[allow(unsafe_code)]
pub mod ndis;
#[cfg(windows)]
#[allow(unsafe_code)]
mod windows;
