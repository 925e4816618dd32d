//! The health snapshot, answer to a query of the private OID.
#![forbid(unsafe_code)]

use super::wire::{
    self, ENVELOPE_LEN, put_envelope, put_u16, put_u32, put_u64, u16_at, u32_at, u64_at,
};
use super::{Conditions, DecodeError, Evidence, HEALTH_TAG, PathIdentity, REVISION, Reason};

/// Encoded size of a revision-1 health snapshot.
pub const HEALTH_LEN_V1: usize = 88;

const STATE: usize = ENVELOPE_LEN;
const CONDITIONS: usize = 22;
const LAST_REASON: usize = 24;
const RESERVED: usize = 26;
const SEQUENCE: usize = 28;
const NET_LUID: usize = 32;
const NOW_NS: usize = 40;
const STATE_SINCE_NS: usize = 48;
const EVIDENCE: usize = 56;
const IF_INDEX: usize = 76;
const FAILURES: usize = 80;
const RECOVERIES: usize = 84;

/// Where the monitor's decision stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HealthState {
    /// No condition holds; the path is reported up.
    Healthy,
    /// A condition holds but not yet for the debounce time; the path is still reported up.
    Failing,
    /// Failed was reported and a condition still holds.
    Failed,
    /// Failed was reported, every condition cleared, the hysteresis time is running.
    Recovering,
}

impl HealthState {
    /// Wire code.
    pub const fn code(self) -> u16 {
        match self {
            Self::Healthy => 1,
            Self::Failing => 2,
            Self::Failed => 3,
            Self::Recovering => 4,
        }
    }

    /// The state with wire code `code`, if any.
    pub const fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            1 => Self::Healthy,
            2 => Self::Failing,
            3 => Self::Failed,
            4 => Self::Recovering,
            _ => return None,
        })
    }

    /// Whether the last report for the path was Failed.
    pub const fn reported_failed(self) -> bool {
        matches!(self, Self::Failed | Self::Recovering)
    }
}

/// The monitor's state as the OID query reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HealthSnapshot {
    /// Where the decision stands.
    pub state: HealthState,
    /// The conditions holding at `now_ns`. Bits this revision does not define are kept as read.
    pub conditions: Conditions,
    /// Reason of the last emitted event, if any.
    pub last_reason: Option<Reason>,
    /// Sequence number of the last emitted event (0: none yet).
    pub sequence: u32,
    /// The adapter.
    pub path: PathIdentity,
    /// When the snapshot was taken (the miniport's monotonic clock, ns).
    pub now_ns: u64,
    /// Since when `state` holds.
    pub state_since_ns: u64,
    /// Current counters.
    pub evidence: Evidence,
    /// Failed events emitted since the monitor started.
    pub failures_total: u32,
    /// Recovered events emitted since the monitor started.
    pub recoveries_total: u32,
}

impl HealthSnapshot {
    /// Encodes the revision-1 wire form.
    pub fn encode(&self) -> [u8; HEALTH_LEN_V1] {
        let mut b = [0u8; HEALTH_LEN_V1];
        put_envelope(&mut b, HEALTH_TAG, REVISION, HEALTH_LEN_V1);
        put_u16(&mut b, STATE, self.state.code());
        put_u16(&mut b, CONDITIONS, self.conditions.0);
        put_u16(
            &mut b,
            LAST_REASON,
            self.last_reason.map_or(0, Reason::code),
        );
        put_u16(&mut b, RESERVED, 0);
        put_u32(&mut b, SEQUENCE, self.sequence);
        put_u64(&mut b, NET_LUID, self.path.net_luid);
        put_u64(&mut b, NOW_NS, self.now_ns);
        put_u64(&mut b, STATE_SINCE_NS, self.state_since_ns);
        self.evidence.put(&mut b, EVIDENCE);
        put_u32(&mut b, IF_INDEX, self.path.if_index);
        put_u32(&mut b, FAILURES, self.failures_total);
        put_u32(&mut b, RECOVERIES, self.recoveries_total);
        b
    }

    /// Decodes and validates a query answer; a newer revision is read by its revision-1 prefix.
    ///
    /// # Errors
    /// A truncated, foreign or malformed buffer, as a [`DecodeError`].
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        wire::check_envelope(b, HEALTH_TAG, HEALTH_LEN_V1)?;
        let state_code = u16_at(b, STATE);
        let state =
            HealthState::from_code(state_code).ok_or(DecodeError::UnknownState(state_code))?;
        let reason_code = u16_at(b, LAST_REASON);
        let last_reason = match reason_code {
            0 => None,
            c => Some(Reason::from_code(c).ok_or(DecodeError::UnknownReason(c))?),
        };
        Ok(Self {
            state,
            conditions: Conditions(u16_at(b, CONDITIONS)),
            last_reason,
            sequence: u32_at(b, SEQUENCE),
            path: PathIdentity {
                net_luid: u64_at(b, NET_LUID),
                if_index: u32_at(b, IF_INDEX),
            },
            now_ns: u64_at(b, NOW_NS),
            state_since_ns: u64_at(b, STATE_SINCE_NS),
            evidence: Evidence::read(b, EVIDENCE),
            failures_total: u32_at(b, FAILURES),
            recoveries_total: u32_at(b, RECOVERIES),
        })
    }
}
