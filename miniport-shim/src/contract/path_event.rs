//! The path-failed / path-recovered report, the status buffer of the indication.
#![forbid(unsafe_code)]

use super::wire::{
    self, ENVELOPE_LEN, put_envelope, put_u16, put_u32, put_u64, u16_at, u32_at, u64_at,
};
use super::{DecodeError, Evidence, PATH_EVENT_TAG, PathIdentity, REVISION, Reason};

/// Encoded size of a revision-1 path event.
pub const PATH_EVENT_LEN_V1: usize = 80;

// Field offsets of revision 1 (after the 20-byte envelope).
const KIND: usize = ENVELOPE_LEN;
const REASON: usize = 22;
const SEQUENCE: usize = 24;
const IF_INDEX: usize = 28;
const NET_LUID: usize = 32;
const AT_NS: usize = 40;
const SINCE_NS: usize = 48;
const EVIDENCE: usize = 56;
const RESERVED: usize = 76;

/// Failed or recovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathEventKind {
    /// The path stopped carrying traffic; reroute away from it.
    Failed,
    /// The path works again; it may carry traffic.
    Recovered,
}

impl PathEventKind {
    /// Wire code.
    pub const fn code(self) -> u16 {
        match self {
            Self::Failed => 1,
            Self::Recovered => 2,
        }
    }

    /// The kind with wire code `code`, if any.
    pub const fn from_code(code: u16) -> Option<Self> {
        match code {
            1 => Some(Self::Failed),
            2 => Some(Self::Recovered),
            _ => None,
        }
    }

    /// Whether `reason` may accompany this kind: a failure never has the Recovered reason, a
    /// recovery has Recovered or (an administrator's) Admin.
    pub const fn admits(self, reason: Reason) -> bool {
        match self {
            Self::Failed => !matches!(reason, Reason::Recovered),
            Self::Recovered => matches!(reason, Reason::Recovered | Reason::Admin),
        }
    }
}

/// A path-failed or path-recovered report from the miniport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PathEvent {
    /// Failed or recovered.
    pub kind: PathEventKind,
    /// Why.
    pub reason: Reason,
    /// Per-adapter sequence number, starting at 1; lets the filter drop stale or replayed reports.
    pub sequence: u32,
    /// The adapter the report is about.
    pub path: PathIdentity,
    /// When the transition was decided (the miniport's monotonic clock, ns).
    pub at_ns: u64,
    /// Since when the deciding condition held (failure) or all conditions were clear (recovery).
    pub since_ns: u64,
    /// The numbers behind the decision.
    pub evidence: Evidence,
}

impl PathEvent {
    /// Encodes the revision-1 wire form.
    ///
    /// # Panics
    /// If `kind` does not admit `reason` ([`PathEventKind::admits`]); such an event would be
    /// rejected by every decoder, so building one is a bug in the caller.
    pub fn encode(&self) -> [u8; PATH_EVENT_LEN_V1] {
        assert!(
            self.kind.admits(self.reason),
            "a {:?} event cannot have reason {:?}",
            self.kind,
            self.reason
        );
        let mut b = [0u8; PATH_EVENT_LEN_V1];
        put_envelope(&mut b, PATH_EVENT_TAG, REVISION, PATH_EVENT_LEN_V1);
        put_u16(&mut b, KIND, self.kind.code());
        put_u16(&mut b, REASON, self.reason.code());
        put_u32(&mut b, SEQUENCE, self.sequence);
        put_u32(&mut b, IF_INDEX, self.path.if_index);
        put_u64(&mut b, NET_LUID, self.path.net_luid);
        put_u64(&mut b, AT_NS, self.at_ns);
        put_u64(&mut b, SINCE_NS, self.since_ns);
        self.evidence.put(&mut b, EVIDENCE);
        put_u32(&mut b, RESERVED, 0);
        b
    }

    /// Decodes and validates a status buffer. A newer revision is read by its revision-1 prefix;
    /// the reserved field is ignored.
    ///
    /// # Errors
    /// A truncated, foreign, malformed or inconsistent buffer, as a [`DecodeError`].
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        wire::check_envelope(b, PATH_EVENT_TAG, PATH_EVENT_LEN_V1)?;
        let kind_code = u16_at(b, KIND);
        let kind =
            PathEventKind::from_code(kind_code).ok_or(DecodeError::UnknownKind(kind_code))?;
        let reason_code = u16_at(b, REASON);
        let reason =
            Reason::from_code(reason_code).ok_or(DecodeError::UnknownReason(reason_code))?;
        if !kind.admits(reason) {
            return Err(DecodeError::KindReasonMismatch { kind, reason });
        }
        Ok(Self {
            kind,
            reason,
            sequence: u32_at(b, SEQUENCE),
            path: PathIdentity {
                net_luid: u64_at(b, NET_LUID),
                if_index: u32_at(b, IF_INDEX),
            },
            at_ns: u64_at(b, AT_NS),
            since_ns: u64_at(b, SINCE_NS),
            evidence: Evidence::read(b, EVIDENCE),
        })
    }
}
