//! Where records go.
//!
//! A [`Sink`] takes events; [`emit`] hands one to the build's backend, which encodes it as it
//! needs (a record for the emulator; typed fields for ETW later):
//! - host build (Linux: tests, the emulator, the simulator): [`EmulatorSink`], which passes each
//!   event as a [`Record`] to the emulator's `MpDiagRecordHost` with the emitting handle, so every
//!   emulator instance records the events of its own driver, stamped with its virtual time;
//! - Windows (the `.sys`): `crate::windows::etw::EtwSink`, which writes each event as one ETW
//!   TraceLogging event of the provider `mpfilter` ([`super::trace`]), with the emitting handle as
//!   its first field. The provider is registered by [`start`] (DriverEntry) and unregistered by
//!   [`stop`] (unload, and DriverEntry's failure path); the record codec is not used there.

#[cfg(not(windows))]
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
    /// Takes one event.
    fn record(&self, emitter: Emitter, event: &Event);
}

/// Drops every record.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl Sink for NullSink {
    fn record(&self, _emitter: Emitter, _event: &Event) {}
}

/// Hands records to the NDIS emulator (host build only).
#[cfg(not(windows))]
#[derive(Clone, Copy, Debug, Default)]
pub struct EmulatorSink;

#[cfg(not(windows))]
impl Sink for EmulatorSink {
    fn record(&self, emitter: Emitter, event: &Event) {
        let record: Record = event.encode();
        crate::ndis::diag_host::record(emitter.as_raw(), record.as_bytes());
    }
}

#[cfg(not(windows))]
const BACKEND: EmulatorSink = EmulatorSink;
#[cfg(windows)]
const BACKEND: crate::windows::etw::EtwSink = crate::windows::etw::EtwSink;

/// Hands `event` to the build's backend.
pub fn emit(emitter: impl Into<Emitter>, event: Event) {
    BACKEND.record(emitter.into(), &event);
}

/// Opens the build's backend: registers the ETW provider on Windows (DriverEntry, PASSIVE_LEVEL,
/// before any module can attach); nothing to open on the host.
pub fn start() {
    #[cfg(windows)]
    crate::windows::etw::register();
}

/// Closes the build's backend: unregisters the ETW provider on Windows (unload, after every module
/// has detached, and DriverEntry's failure path); a provider never registered is left alone.
pub fn stop() {
    #[cfg(windows)]
    crate::windows::etw::unregister();
}
