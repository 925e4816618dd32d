//! The diagnostic event catalogue: what the filter reports about itself, in one stable form.
//!
//! - [`event`] — [`Event`], one variant per kind of diagnostic, each with a stable numeric id
//!   ([`EventId`]) and documented fields, plus the small code enums its fields use.
//! - [`codec`] — the fixed-size binary record ([`Record`], [`RECORD_LEN`] bytes) a backend
//!   carries, with [`Event::encode`] and [`Event::decode`] (bad bytes give a [`DecodeError`]).
//! - [`sink`] — where events go: the [`Sink`] trait and the build's backend. The host build hands
//!   each record to the NDIS emulator (which keeps it per run, with its virtual time); the
//!   Windows build writes each event as an ETW TraceLogging event (`crate::windows::etw`).
//! - [`trace`] — the TraceLogging form of the catalogue: provider name and GUID, and per event
//!   its name, level, keyword and typed fields, with the decoder the emulator's PE loader uses.
//!
//! `docs/diagnostics.md` is the catalogue for readers: id, name, fields, when each event is
//! emitted, and the backends.
//!
//! Like the engine, this module is `no_std`, has no `unsafe` and never allocates: emitting is one
//! backend call (the emulator's encodes into a stack buffer), so any callback may emit.
#![forbid(unsafe_code)]

pub mod codec;
pub mod event;
pub mod sink;
pub mod trace;

pub use codec::{DecodeError, FORMAT_VERSION, RECORD_LEN, Record};
pub use event::{ConfigKey, Event, EventId, LifecycleEvent, RequestRejectReason, StatusDropReason};
pub use sink::{Emitter, NullSink, Sink, emit, start, stop};
