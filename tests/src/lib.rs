//! `ndis-emu`: a strict, deterministic NDIS 6 emulator for Linux that hosts the mpfilter LWF.
//!
//! - [`emulator::Emulator`] — adapters (miniport + protocol) around one filter driver, driven
//!   through its lifecycle on a virtual clock with a seeded RNG ([`sched`], [`rng`]).
//! - [`exports`](mod@exports) — every ndis.sys function the filter imports, plus the ntoskrnl driver-object
//!   extension routines, for the host ABI and for Win64 PE images ([`abi`]).
//! - the control device: `Emulator::device_ioctl` and friends send IRPs to the driver's dispatch
//!   routines (`exports::io`).
//! - [`rules`] — the rules enforced (stable names), violations and leaks.
//! - [`scenario`] — library scenarios and their printable reports, shared by tests and `mpsim`.
//! - [`ledger`] — where every frame the protocols sent went (delivery, loss, duplicates,
//!   reordering); [`wire`] — faults of a miniport and its wire at a virtual time.
//! - [`fault_filter`] — a deliberately breakable LWF proving each rule is caught.
#![allow(unsafe_code)]

pub mod abi;
pub mod callbacks;
pub mod config;
mod control;
pub mod diag;
pub mod emulator;
pub mod exports;
pub mod fabric;
pub mod fault_filter;
pub mod frames;
pub mod image;
pub mod irql;
pub mod ledger;
mod machine;
mod nblmem;
pub mod pe;
pub mod rng;
pub mod rules;
pub mod scenario;
pub mod sched;
pub mod stats;
mod table;
pub mod threads;
pub mod wire;
mod world;
// Timers, spin locks and virtual processors.
pub mod fault_timers;
mod kernel_sync;

pub use callbacks::EntryPoint;
pub use config::{AdapterConfig, EmuConfig, Randomization, TrafficConfig};
pub use diag::{DiagRecord, DiagReject, DiagRejectReason};
pub use emulator::{Emulator, LoadError, View};
pub use exports::io::IrpOutcome;
pub use image::{DriverImage, LoadedImage};
pub use ledger::{DeliveryReport, FrameKey, OriginReport};
pub use rules::{Leak, Rule, Subject, Violation};
pub use scenario::{PassthroughConfig, ScenarioReport, SmokeConfig};
pub use threads::ThreadsReport;
pub use world::ModState;
