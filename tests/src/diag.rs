//! The emulator's diagnostics backend: every record the host-linked filter emits through
//! `MpDiagRecordHost` ([`crate::exports::diag`]), and every ETW TraceLogging event a loaded `.sys`
//! writes ([`crate::exports::etw`]), decoded and stamped with the virtual time and the adapter
//! whose module emitted it. A record that does not decode, or that comes with a handle
//! that is neither the driver's nor one of its modules', is kept as a [`DiagReject`] instead.

use crate::sched::Nanos;
use mpfilter::diag::{DecodeError, Event};

/// One diagnostic event as the emulator received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiagRecord {
    /// Virtual time of the call.
    pub at: Nanos,
    /// The adapter whose module emitted it; `None` for the driver handle.
    pub adapter: Option<usize>,
    /// The event.
    pub event: Event,
}

/// Why a record was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagRejectReason {
    /// The handle is not the driver's or a module's of this emulator.
    UnknownHandle(usize),
    /// NULL record pointer with a non-zero length.
    NullRecord,
    /// The bytes did not decode.
    Decode(DecodeError),
    /// A TraceLogging event from the loaded `.sys` (`EtwWriteTransfer`) did not decode.
    Trace(crate::pe::tracelogging::TraceError),
    /// A TraceLogging event whose descriptors could not be read, or whose provider is not
    /// mpfilter's.
    Etw(&'static str),
}

/// A refused record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiagReject {
    /// Virtual time of the call.
    pub at: Nanos,
    /// Why.
    pub reason: DiagRejectReason,
}

/// Everything recorded in one run.
#[derive(Debug, Default)]
pub(crate) struct DiagLog {
    pub records: Vec<DiagRecord>,
    pub rejects: Vec<DiagReject>,
}
