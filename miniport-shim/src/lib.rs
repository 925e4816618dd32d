//! `mpshim` — the companion a miniport links in to tell mpfilter that a path failed or recovered.
//!
//! The miniport raises a private NDIS status indication, [`NDIS_STATUS_MPFILTER_PATH`], whose status
//! buffer is a [`PathEvent`] encoded by [`PathEvent::encode`]. The filter decodes it with
//! [`PathEvent::decode`], which validates everything: a miniport built against another version of
//! this crate, or a corrupt buffer, yields a [`DecodeError`] — never a crash.
//!
//! The payload is versioned: a fixed header (magic, version, length) followed by version-specific
//! fields. A decoder accepts any version it knows and rejects newer ones, so a newer shim under an
//! older filter is ignored (and counted) rather than misread.
#![no_std]
#![forbid(unsafe_code)]

/// Private NDIS status code of the path indication: customer bit (0x2000_0000) set, informational
/// severity (0x4000_0000), facility 0x0A7 chosen for mpfilter, code 1.
pub const NDIS_STATUS_MPFILTER_PATH: i32 = 0x60A7_0001;

/// `b"MPSH"` read as a little-endian `u32`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"MPSH");

/// The payload version this crate writes.
pub const VERSION: u16 = 1;

/// Encoded size of a version-1 payload.
pub const ENCODED_LEN_V1: usize = 32;

/// What happened to the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathEventKind {
    /// The path stopped carrying traffic.
    Failed,
    /// The path works again.
    Recovered,
}

/// Why the miniport says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathReason {
    /// Physical link lost or regained.
    Link,
    /// The miniport's own health probe failed or answered.
    Probe,
    /// Transmit errors crossed the miniport's threshold.
    TxErrors,
    /// The far end (switch, peer) reported the path down or up.
    Remote,
    /// An administrator asked for it.
    Admin,
}

/// A path-fail or path-recovered report from the miniport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathEvent {
    /// Failed or recovered.
    pub kind: PathEventKind,
    /// Why.
    pub reason: PathReason,
    /// The miniport's NET_LUID, so the filter can match the report to a path even if it arrives on
    /// another module.
    pub net_luid: u64,
    /// Miniport-defined detail (error count, probe sequence…), carried for tracing.
    pub detail: u32,
    /// Monotonic sequence number per miniport; lets the filter drop stale, reordered reports.
    pub sequence: u32,
}

/// Why a status buffer was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the header or than the length it declares.
    Truncated {
        /// Bytes present.
        len: usize,
    },
    /// Not an mpshim payload.
    BadMagic(u32),
    /// A version this decoder does not know.
    UnsupportedVersion(u16),
    /// The header's length disagrees with the version's layout.
    BadLength(u16),
    /// An enumeration field holds an unknown value.
    BadField {
        /// Field name.
        field: &'static str,
        /// The value found.
        value: u16,
    },
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated { len } => write!(f, "path event truncated: {len} bytes"),
            Self::BadMagic(m) => write!(f, "path event has bad magic {m:#010x}"),
            Self::UnsupportedVersion(v) => write!(f, "path event version {v} is not supported"),
            Self::BadLength(l) => write!(
                f,
                "path event declares length {l}, expected {ENCODED_LEN_V1}"
            ),
            Self::BadField { field, value } => {
                write!(f, "path event field {field} has unknown value {value}")
            }
        }
    }
}

impl PathEventKind {
    const fn code(self) -> u16 {
        match self {
            Self::Failed => 1,
            Self::Recovered => 2,
        }
    }
    const fn from_code(v: u16) -> Option<Self> {
        match v {
            1 => Some(Self::Failed),
            2 => Some(Self::Recovered),
            _ => None,
        }
    }
}

impl PathReason {
    const fn code(self) -> u16 {
        match self {
            Self::Link => 1,
            Self::Probe => 2,
            Self::TxErrors => 3,
            Self::Remote => 4,
            Self::Admin => 5,
        }
    }
    const fn from_code(v: u16) -> Option<Self> {
        match v {
            1 => Some(Self::Link),
            2 => Some(Self::Probe),
            3 => Some(Self::TxErrors),
            4 => Some(Self::Remote),
            5 => Some(Self::Admin),
            _ => None,
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

impl PathEvent {
    /// Encodes the version-1 wire form (little-endian):
    /// magic u32 | version u16 | length u16 | kind u16 | reason u16 | sequence u32 | net_luid u64 |
    /// detail u32 | reserved u32.
    pub fn encode(&self) -> [u8; ENCODED_LEN_V1] {
        let mut b = [0u8; ENCODED_LEN_V1];
        b[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        b[4..6].copy_from_slice(&VERSION.to_le_bytes());
        #[allow(clippy::cast_possible_truncation)]
        b[6..8].copy_from_slice(&(ENCODED_LEN_V1 as u16).to_le_bytes());
        b[8..10].copy_from_slice(&self.kind.code().to_le_bytes());
        b[10..12].copy_from_slice(&self.reason.code().to_le_bytes());
        b[12..16].copy_from_slice(&self.sequence.to_le_bytes());
        b[16..24].copy_from_slice(&self.net_luid.to_le_bytes());
        b[24..28].copy_from_slice(&self.detail.to_le_bytes());
        b
    }

    /// Decodes and validates a status buffer.
    ///
    /// # Errors
    /// Any malformed, truncated, foreign or newer-version buffer, as a [`DecodeError`].
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() < 8 {
            return Err(DecodeError::Truncated { len: b.len() });
        }
        let magic = u32_at(b, 0);
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic));
        }
        let version = u16_at(b, 4);
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let length = u16_at(b, 6);
        if usize::from(length) != ENCODED_LEN_V1 {
            return Err(DecodeError::BadLength(length));
        }
        if b.len() < ENCODED_LEN_V1 {
            return Err(DecodeError::Truncated { len: b.len() });
        }
        let kind_code = u16_at(b, 8);
        let kind = PathEventKind::from_code(kind_code).ok_or(DecodeError::BadField {
            field: "kind",
            value: kind_code,
        })?;
        let reason_code = u16_at(b, 10);
        let reason = PathReason::from_code(reason_code).ok_or(DecodeError::BadField {
            field: "reason",
            value: reason_code,
        })?;
        Ok(Self {
            kind,
            reason,
            sequence: u32_at(b, 12),
            net_luid: u64_at(b, 16),
            detail: u32_at(b, 24),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PathEvent {
        PathEvent {
            kind: PathEventKind::Failed,
            reason: PathReason::TxErrors,
            net_luid: 0x0006_0000_0100_0002,
            detail: 17,
            sequence: 9,
        }
    }

    #[test]
    fn round_trips() {
        let e = sample();
        assert_eq!(PathEvent::decode(&e.encode()), Ok(e));
        let r = PathEvent {
            kind: PathEventKind::Recovered,
            reason: PathReason::Admin,
            ..e
        };
        assert_eq!(PathEvent::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn rejects_every_truncation() {
        let b = sample().encode();
        for len in 0..ENCODED_LEN_V1 {
            assert!(
                matches!(
                    PathEvent::decode(&b[..len]),
                    Err(DecodeError::Truncated { .. })
                ),
                "length {len} accepted"
            );
        }
    }

    #[test]
    fn rejects_foreign_newer_and_corrupt() {
        let mut b = sample().encode();
        b[0] ^= 0xFF;
        assert!(matches!(
            PathEvent::decode(&b),
            Err(DecodeError::BadMagic(_))
        ));
        let mut b = sample().encode();
        b[4] = 2;
        assert_eq!(
            PathEvent::decode(&b),
            Err(DecodeError::UnsupportedVersion(2))
        );
        let mut b = sample().encode();
        b[6] = 40;
        assert_eq!(PathEvent::decode(&b), Err(DecodeError::BadLength(40)));
        let mut b = sample().encode();
        b[8] = 7;
        assert_eq!(
            PathEvent::decode(&b),
            Err(DecodeError::BadField {
                field: "kind",
                value: 7
            })
        );
        let mut b = sample().encode();
        b[10] = 0;
        assert_eq!(
            PathEvent::decode(&b),
            Err(DecodeError::BadField {
                field: "reason",
                value: 0
            })
        );
    }

    #[test]
    fn status_code_is_a_customer_informational_status() {
        #[allow(clippy::cast_sign_loss)]
        let code = NDIS_STATUS_MPFILTER_PATH as u32;
        assert_eq!(code >> 30, 1, "informational severity");
        assert_ne!(code & 0x2000_0000, 0, "customer bit");
    }
}
