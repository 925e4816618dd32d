//! The wire contract between a miniport that links mpshim and the mpfilter filter above it.
//!
//! Both sides depend on this module alone: it is `no_std`, allocation-free and safe. It defines
//!
//! * the status indication: code [`STATUS_CODE`] (NDIS_STATUS_MEDIA_SPECIFIC_INDICATION_EX), whose
//!   status buffer is a tagged [`PathEvent`];
//! * the private OID [`OID_MPSHIM_HEALTH`]: a query returns a [`HealthSnapshot`], a set carries
//!   [`Settings`];
//! * the typed errors every decoder returns ([`DecodeError`], [`SettingsError`]).
//!
//! Every buffer starts with a 16-byte tag (a GUID per payload type) and an NDIS_OBJECT_HEADER-style
//! type/revision/size, so an indication of the same, shared status code raised by another driver is
//! recognised as foreign ([`DecodeError::ForeignTag`]) and never misread. See
//! `docs/miniport-shim.md` for the byte tables.
#![forbid(unsafe_code)]

mod health;
mod path_event;
mod settings;
pub mod wire;

pub use health::{HEALTH_LEN_V1, HealthSnapshot, HealthState};
pub use path_event::{PATH_EVENT_LEN_V1, PathEvent, PathEventKind};
pub use settings::{SETTINGS_LEN_V1, SettingField, Settings, SettingsError, WINDOW_BUCKETS};

/// NDIS_STATUS_MEDIA_SPECIFIC_INDICATION_EX: the status code Microsoft documents for a miniport's
/// custom status indication. The path event rides on it, identified by [`PATH_EVENT_TAG`].
pub const STATUS_CODE: i32 = 0x4001_0019;

/// The private OID: query returns a [`HealthSnapshot`], set applies [`Settings`]. The most
/// significant byte 0xFF marks an implementation-specific (vendor) OID; the rest is ours
/// (0xA7 for mpfilter, then the OID number).
pub const OID_MPSHIM_HEALTH: u32 = 0xFFA7_0001;

/// NDIS_OBJECT_TYPE_DEFAULT, the header type of every mpshim payload.
pub const OBJECT_TYPE_DEFAULT: u8 = 0x80;

/// The revision of every layout this crate writes.
pub const REVISION: u8 = 1;

/// A GUID, kept as its fields so it reads like its registry form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guid {
    /// First group.
    pub data1: u32,
    /// Second group.
    pub data2: u16,
    /// Third group.
    pub data3: u16,
    /// Last two groups.
    pub data4: [u8; 8],
}

impl Guid {
    /// The GUID in Windows memory order (the first three fields little-endian).
    pub const fn to_bytes(self) -> [u8; 16] {
        let a = self.data1.to_le_bytes();
        let b = self.data2.to_le_bytes();
        let c = self.data3.to_le_bytes();
        let d = self.data4;
        [
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5],
            d[6], d[7],
        ]
    }
}

/// Tag of a [`PathEvent`] buffer: {19fcaaff-9e1b-4361-860a-1c44de30025e}.
pub const PATH_EVENT_TAG: Guid = Guid {
    data1: 0x19fc_aaff,
    data2: 0x9e1b,
    data3: 0x4361,
    data4: [0x86, 0x0a, 0x1c, 0x44, 0xde, 0x30, 0x02, 0x5e],
};

/// Tag of a [`HealthSnapshot`] buffer: {1e5161ea-50cd-49cb-8684-de21ab67eb43}.
pub const HEALTH_TAG: Guid = Guid {
    data1: 0x1e51_61ea,
    data2: 0x50cd,
    data3: 0x49cb,
    data4: [0x86, 0x84, 0xde, 0x21, 0xab, 0x67, 0xeb, 0x43],
};

/// Tag of a [`Settings`] buffer: {1ff80241-fb08-40a6-a832-991b76007b4d}.
pub const SETTINGS_TAG: Guid = Guid {
    data1: 0x1ff8_0241,
    data2: 0xfb08,
    data3: 0x40a6,
    data4: [0xa8, 0x32, 0x99, 0x1b, 0x76, 0x00, 0x7b, 0x4d],
};

/// Why a buffer was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ends before the envelope or before the size it declares.
    Truncated {
        /// Bytes present.
        len: usize,
        /// Bytes the envelope or the declared size requires.
        needed: usize,
    },
    /// The leading bytes are not this payload type's tag: someone else's buffer.
    ForeignTag,
    /// The header's object type is not NDIS_OBJECT_TYPE_DEFAULT.
    BadObjectType(u8),
    /// Revision 0 does not exist.
    BadRevision(u8),
    /// The declared size does not fit the revision: revision 1 must declare exactly its layout
    /// size, a newer revision at least that.
    BadSize {
        /// The declared revision.
        revision: u8,
        /// The declared size.
        size: u16,
    },
    /// The event kind is not Failed or Recovered.
    UnknownKind(u16),
    /// The reason code is not one this contract defines.
    UnknownReason(u16),
    /// The health state code is not one this contract defines.
    UnknownState(u16),
    /// A Failed event with the Recovered reason, or a Recovered event with a failure reason.
    KindReasonMismatch {
        /// The kind found.
        kind: PathEventKind,
        /// The reason found.
        reason: Reason,
    },
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated { len, needed } => {
                write!(f, "buffer truncated: {len} bytes, {needed} needed")
            }
            Self::ForeignTag => f.write_str("buffer carries another driver's tag"),
            Self::BadObjectType(t) => write!(f, "object type {t:#04x} is not 0x80"),
            Self::BadRevision(r) => write!(f, "revision {r} does not exist"),
            Self::BadSize { revision, size } => {
                write!(f, "size {size} does not fit revision {revision}")
            }
            Self::UnknownKind(k) => write!(f, "unknown event kind {k}"),
            Self::UnknownReason(r) => write!(f, "unknown reason {r}"),
            Self::UnknownState(s) => write!(f, "unknown health state {s}"),
            Self::KindReasonMismatch { kind, reason } => {
                write!(f, "event kind {kind:?} cannot have reason {reason:?}")
            }
        }
    }
}

/// Why the path failed, or that it recovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The physical link went down.
    LinkLost,
    /// Sends were pending with no completion for the TX timeout.
    TxTimeout,
    /// Completion errors crossed the rate threshold over the sliding window.
    ErrorRate,
    /// Too many heartbeat probes went unanswered in a row.
    HeartbeatLost,
    /// An administrator took the path down (or, on a Recovered event, brought it back).
    Admin,
    /// Every failure condition cleared and stayed clear for the hysteresis time.
    Recovered,
}

impl Reason {
    /// Wire code.
    pub const fn code(self) -> u16 {
        match self {
            Self::LinkLost => 1,
            Self::TxTimeout => 2,
            Self::ErrorRate => 3,
            Self::HeartbeatLost => 4,
            Self::Admin => 5,
            Self::Recovered => 6,
        }
    }

    /// The reason with wire code `code`, if any.
    pub const fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            1 => Self::LinkLost,
            2 => Self::TxTimeout,
            3 => Self::ErrorRate,
            4 => Self::HeartbeatLost,
            5 => Self::Admin,
            6 => Self::Recovered,
            _ => return None,
        })
    }
}

/// The failure conditions that hold right now, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Conditions(pub u16);

impl Conditions {
    /// No condition holds.
    pub const NONE: Self = Self(0);
    /// The link is down.
    pub const LINK_DOWN: Self = Self(1);
    /// Sends are pending and nothing completed for the TX timeout.
    pub const TX_STALL: Self = Self(2);
    /// The completion error rate over the window is at or above the threshold.
    pub const ERROR_RATE: Self = Self(4);
    /// Heartbeat misses reached the limit.
    pub const HEARTBEAT_LOST: Self = Self(8);
    /// An administrator holds the path down.
    pub const ADMIN_DOWN: Self = Self(16);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// `self` with the bits of `other` set too.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The reason a failure with these conditions is reported under: the most decisive one
    /// (an administrator's word, then the link, then the data path's own evidence).
    pub const fn primary_reason(self) -> Option<Reason> {
        if self.contains(Self::ADMIN_DOWN) {
            Some(Reason::Admin)
        } else if self.contains(Self::LINK_DOWN) {
            Some(Reason::LinkLost)
        } else if self.contains(Self::TX_STALL) {
            Some(Reason::TxTimeout)
        } else if self.contains(Self::HEARTBEAT_LOST) {
            Some(Reason::HeartbeatLost)
        } else if self.contains(Self::ERROR_RATE) {
            Some(Reason::ErrorRate)
        } else {
            None
        }
    }
}

/// Which path a report is about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PathIdentity {
    /// The adapter's NET_LUID (as its 64-bit value).
    pub net_luid: u64,
    /// The adapter's NET_IFINDEX.
    pub if_index: u32,
}

/// The numbers behind a decision, carried for the filter's logs and for operators.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Evidence {
    /// Sends handed to the hardware and not yet completed.
    pub pending_sends: u32,
    /// Completions with an error inside the sliding window.
    pub errors_in_window: u32,
    /// Completions inside the sliding window.
    pub completions_in_window: u32,
    /// Milliseconds since the last completion (`u32::MAX` if there was none).
    pub ms_since_last_completion: u32,
    /// Heartbeat probes unanswered in a row.
    pub missed_heartbeats: u32,
}

impl Evidence {
    fn put(&self, b: &mut [u8], at: usize) {
        wire::put_u32(b, at, self.pending_sends);
        wire::put_u32(b, at + 4, self.errors_in_window);
        wire::put_u32(b, at + 8, self.completions_in_window);
        wire::put_u32(b, at + 12, self.ms_since_last_completion);
        wire::put_u32(b, at + 16, self.missed_heartbeats);
    }

    fn read(b: &[u8], at: usize) -> Self {
        Self {
            pending_sends: wire::u32_at(b, at),
            errors_in_window: wire::u32_at(b, at + 4),
            completions_in_window: wire::u32_at(b, at + 8),
            ms_since_last_completion: wire::u32_at(b, at + 12),
            missed_heartbeats: wire::u32_at(b, at + 16),
        }
    }
}

/// Classifies a status indication the filter received.
///
/// `None`: not ours (another status code, or another driver's media-specific indication) — pass
/// it on untouched. `Some(Ok)`: our path event. `Some(Err)`: tagged as ours but malformed — count
/// it and drop it.
pub fn classify_status(status_code: i32, buffer: &[u8]) -> Option<Result<PathEvent, DecodeError>> {
    // Our writer never sends less than the whole tag, so a shorter buffer (even an empty one) is
    // another driver's and must reach the protocols above untouched.
    if status_code != STATUS_CODE || buffer.len() < wire::TAG_LEN {
        return None;
    }
    match PathEvent::decode(buffer) {
        Err(DecodeError::ForeignTag) => None,
        other => Some(other),
    }
}

#[cfg(test)]
mod tests;
