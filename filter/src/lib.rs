//! `mpfilter` — an NDIS 6 lightweight filter (LWF) that gives a host multipath failover and load
//! balancing across its network adapters.
//!
//! Layout (dependencies run `driver` → `module` → {`engine`, `ndis`}, never back):
//! - [`driver`] — what NDIS and the I/O manager call: `DriverEntry` / unload, the filter
//!   characteristics, and the `extern "system"` callbacks that turn raw arguments into safe
//!   wrappers and call the module logic.
//! - [`module`] — the filter module logic (state machine, pass-through data path, OIDs, status), safe Rust.
//! - [`config`] — the module's registry keys (one table), read and checked into typed settings.
//!   Safe, `no_std`.
//! - [`diag`] — the diagnostic event catalogue, its binary record and its backends. `no_std`, no
//!   `unsafe`.
//! - [`engine`] — the path engine: path states, failover policy and balancers. `no_std`, no `unsafe`.
//! - [`flow`] — the flow and target keys of a frame (Ethernet, VLAN, IPv4/IPv6, ports), read
//!   within the bytes given. Safe, `no_std`.
//! - [`probe`] — the filter's own path probe: ARP / neighbour solicitation frames and the check
//!   of their answers. Safe, `no_std`.
//! - [`ndis`] — a leaf: the hand-written NDIS 6.30 FFI (`#[repr(C)]` layouts, constants, extern
//!   declarations) and the safe wrappers over it (NBL chains, handles, OID requests, parameters).
//! - `windows` — the thin Windows-only layer: allocator, panic handler, tracing.
//!
//! `unsafe` is allowed only in `driver`, `ndis` and `windows`, every block with a `// SAFETY:`
//! comment; the rest of the crate denies it and the engine forbids it.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
// The host build (Linux, tests, the emulator) runs the same code with std as its runtime: std
// supplies the allocator and panic handler there. Nothing in this crate uses std directly.
#[cfg(not(windows))]
extern crate std;

pub mod config;
pub mod diag;
#[allow(unsafe_code)]
pub mod driver;
pub mod engine;
pub mod flow;
pub mod module;
#[allow(unsafe_code)]
pub mod ndis;
pub mod probe;
#[cfg(windows)]
#[allow(unsafe_code)]
mod windows;
