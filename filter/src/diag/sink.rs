//! Where records go.
//!
//! A [`Sink`] takes encoded records; [`emit`] encodes an event and hands it to the build's
//! backend:
//! - host build (Linux: tests, the emulator, the simulator): [`EmulatorSink`], which passes each
//!   record to the emulator's `MpDiagRecordHost` with the emitting handle, so every emulator
//!   instance records the events of its own driver, stamped with its virtual time;
//! - cross-built `.sys`: [`NullSink`] for now (ETW TraceLogging is the next backend). The `.sys`
//!   imports nothing for diagnostics.

use super::codec::Record;
use super::event::Event;
use crate::ndis::FilterHandle;
use crate::ndis::types::NDIS_HANDLE;

/// Who emits an event: the NDIS handle of the filter driver or of one of its modules. Only passed
/// to the backend, never dereferenced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Emitter(NDIS_HANDLE);

impl Emitter {
    /// The filter driver itself, by its NdisFilterDriverHandle (events before or beside any
    /// module).
    pub const fn driver(handle: NDIS_HANDLE) -> Self {
        Self(handle)
    }

    /// The raw handle.
    pub const fn as_raw(self) -> NDIS_HANDLE {
        self.0
    }
}

impl From<FilterHandle> for Emitter {
    fn from(module: FilterHandle) -> Self {
        Self(module.as_raw())
    }
}

/// A diagnostics backend. Called from any callback at any IRQL up to DISPATCH_LEVEL: an
/// implementation must not block or allocate.
pub trait Sink {
    /// Takes one record.
    fn record(&self, emitter: Emitter, record: &Record);
}

/// Drops every record.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl Sink for NullSink {
    fn record(&self, _emitter: Emitter, _record: &Record) {}
}

/// Hands records to the NDIS emulator (host build only).
#[cfg(not(windows))]
#[derive(Clone, Copy, Debug, Default)]
pub struct EmulatorSink;

#[cfg(not(windows))]
impl Sink for EmulatorSink {
    fn record(&self, emitter: Emitter, record: &Record) {
        crate::ndis::diag_host::record(emitter.as_raw(), record.as_bytes());
    }
}

#[cfg(not(windows))]
const BACKEND: EmulatorSink = EmulatorSink;
#[cfg(windows)]
const BACKEND: NullSink = NullSink;

/// Encodes `event` and hands it to the build's backend.
pub fn emit(emitter: impl Into<Emitter>, event: Event) {
    BACKEND.record(emitter.into(), &event.encode());
}
