//! The fixed-size binary record of an [`Event`].
//!
//! ```text
//! byte  0      format version (FORMAT_VERSION)
//! byte  1      event id (EventId)
//! bytes 2..30  payload: the event's fields, little-endian, packed in declaration order;
//!              unused bytes are zero
//! bytes 30..32 CRC-16/CCITT-FALSE of bytes 0..30, little-endian
//! ```
//! The payload layout of each event is in `docs/diagnostics.md`. Decoding checks everything it
//! can — length, version, checksum, id, every enumerated field and the zero padding — so a
//! backend that garbles a record gets a [`DecodeError`], never a wrong event.

use super::event::{
    ConfigKey, Event, EventId, LifecycleEvent, RequestRejectReason, StatusDropReason,
    path_state_code, path_state_from_code, reason_code, reason_from_code,
};
use crate::engine::MAX_PATHS;
use crate::module::ModuleState;
use core::fmt;

/// Bytes in one record.
pub const RECORD_LEN: usize = 32;
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;

const PAYLOAD_START: usize = 2;
const PAYLOAD_END: usize = RECORD_LEN - 2;

/// One encoded event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record([u8; RECORD_LEN]);

impl Record {
    /// The bytes a backend carries.
    pub const fn as_bytes(&self) -> &[u8; RECORD_LEN] {
        &self.0
    }
}

/// Why bytes are not a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Not [`RECORD_LEN`] bytes.
    Length {
        /// Bytes given.
        len: usize,
    },
    /// A format version this code does not read.
    Version {
        /// The version byte.
        version: u8,
    },
    /// The checksum does not match the bytes: the record was damaged.
    Checksum {
        /// The checksum in the record.
        stored: u16,
        /// The checksum of the bytes.
        computed: u16,
    },
    /// No event has this id.
    UnknownEvent {
        /// The id byte.
        id: u8,
    },
    /// A field holds a value outside its codes.
    InvalidField {
        /// The event.
        event: EventId,
        /// The field's name.
        field: &'static str,
        /// The value found.
        value: u8,
    },
    /// A payload byte past the event's fields is not zero.
    Padding {
        /// The event.
        event: EventId,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::Length { len } => {
                write!(f, "a record is {RECORD_LEN} bytes, got {len}")
            }
            DecodeError::Version { version } => {
                write!(f, "format version {version}, expected {FORMAT_VERSION}")
            }
            DecodeError::Checksum { stored, computed } => write!(
                f,
                "checksum {stored:#06x} does not match the bytes ({computed:#06x})"
            ),
            DecodeError::UnknownEvent { id } => write!(f, "no event has id {id:#04x}"),
            DecodeError::InvalidField {
                event,
                field,
                value,
            } => write!(
                f,
                "{}: field {field} has invalid value {value}",
                event.name()
            ),
            DecodeError::Padding { event } => {
                write!(f, "{}: non-zero bytes after the fields", event.name())
            }
        }
    }
}

/// CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF): detects every damage of up to 16
/// consecutive bits, so any single corrupted byte.
fn crc16(bytes: &[u8]) -> u16 {
    const TABLE: [u16; 256] = {
        let mut table = [0u16; 256];
        let mut i = 0;
        while i < 256 {
            #[allow(clippy::cast_possible_truncation)] // i < 256
            let mut crc = (i as u16) << 8;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 0x8000 == 0 {
                    crc << 1
                } else {
                    (crc << 1) ^ 0x1021
                };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    bytes.iter().fold(0xFFFF, |crc, &b| {
        (crc << 8) ^ TABLE[usize::from((crc >> 8) as u8 ^ b)]
    })
}

/// Appends fields to a payload.
struct Writer {
    bytes: [u8; RECORD_LEN],
    at: usize,
}

impl Writer {
    fn put(&mut self, field: &[u8]) -> &mut Self {
        self.bytes[self.at..self.at + field.len()].copy_from_slice(field);
        self.at += field.len();
        self
    }
    fn u8(&mut self, v: u8) -> &mut Self {
        self.put(&[v])
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    fn i32(&mut self, v: i32) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
}

/// Reads fields of a payload in order; [`Reader::finish`] checks the rest is zero.
struct Reader<'a> {
    event: EventId,
    payload: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (field, rest) = self.payload.split_at(N);
        self.payload = rest;
        let mut out = [0; N];
        out.copy_from_slice(field);
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    /// A byte that must be one of a field's codes.
    fn code<T>(
        &mut self,
        field: &'static str,
        from: impl Fn(u8) -> Option<T>,
    ) -> Result<T, DecodeError> {
        let value = self.u8();
        from(value).ok_or(DecodeError::InvalidField {
            event: self.event,
            field,
            value,
        })
    }
    fn flag(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        self.code(field, |v| match v {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        })
    }
    fn path(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.code(field, |v| (usize::from(v) < MAX_PATHS).then_some(v))
    }
    fn finish(self, event: Event) -> Result<Event, DecodeError> {
        if self.payload.iter().any(|&b| b != 0) {
            return Err(DecodeError::Padding { event: self.event });
        }
        Ok(event)
    }
}

impl Event {
    /// The event as a record.
    pub fn encode(&self) -> Record {
        let mut w = Writer {
            bytes: [0; RECORD_LEN],
            at: PAYLOAD_START,
        };
        w.bytes[0] = FORMAT_VERSION;
        w.bytes[1] = self.id().as_u8();
        match *self {
            Event::ModuleAttached {
                if_index,
                miniport_if_index,
            } => w.u32(if_index).u32(miniport_if_index),
            Event::ModuleAttachFailed { if_index }
            | Event::ModuleDetached { if_index }
            | Event::ModulePauseCompleted { if_index }
            | Event::ModuleRestarted { if_index } => w.u32(if_index),
            Event::ModulePaused { if_index, pended } => w.u32(if_index).u8(u8::from(pended)),
            Event::LifecycleRejected {
                if_index,
                state,
                event,
            } => w.u32(if_index).u8(state.as_u8()).u8(event.code()),
            Event::PathTransition {
                group,
                path,
                from,
                to,
                reason,
            } => w
                .u16(group)
                .u8(path)
                .u8(path_state_code(from))
                .u8(path_state_code(to))
                .u8(reason_code(reason)),
            Event::Reroute {
                group,
                from_path,
                to_path,
                nbls,
            } => w.u16(group).u8(from_path).u8(to_path).u32(nbls),
            Event::PolicyChanged {
                group,
                policy,
                generation,
            } => w.u16(group).u8(policy).u32(generation),
            Event::Announced {
                group,
                owner,
                carrier,
                sent,
            } => w.u16(group).u8(owner).u8(carrier).u8(sent),
            Event::RewriteSkipped {
                group,
                carrier,
                skipped,
            } => w.u16(group).u8(carrier).u64(skipped),
            Event::ConfigRejected {
                key,
                value,
                min,
                max,
            } => w.u8(key.code()).u64(value).u64(min).u64(max),
            Event::GroupSettingIgnored { group, key } => w.u16(group).u8(key.code()),
            Event::StatusDropped { status, reason } => w.i32(status).u8(reason.code()),
            Event::OidRejected {
                oid: number,
                status,
                reason,
            }
            | Event::IoctlRejected {
                code: number,
                status,
                reason,
            } => w.u32(number).i32(status).u8(reason.code()),
        };
        debug_assert!(w.at <= PAYLOAD_END, "payload overflow");
        let crc = crc16(&w.bytes[..PAYLOAD_END]);
        w.bytes[PAYLOAD_END..].copy_from_slice(&crc.to_le_bytes());
        Record(w.bytes)
    }

    /// The event a record holds.
    ///
    /// # Errors
    /// The bytes are not a record this code wrote: see [`DecodeError`].
    pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
        let Ok(bytes) = <&[u8; RECORD_LEN]>::try_from(bytes) else {
            return Err(DecodeError::Length { len: bytes.len() });
        };
        if bytes[0] != FORMAT_VERSION {
            return Err(DecodeError::Version { version: bytes[0] });
        }
        let stored = u16::from_le_bytes([bytes[PAYLOAD_END], bytes[PAYLOAD_END + 1]]);
        let computed = crc16(&bytes[..PAYLOAD_END]);
        if stored != computed {
            return Err(DecodeError::Checksum { stored, computed });
        }
        let event = EventId::from_u8(bytes[1]).ok_or(DecodeError::UnknownEvent { id: bytes[1] })?;
        let mut r = Reader {
            event,
            payload: &bytes[PAYLOAD_START..PAYLOAD_END],
        };
        let decoded = match event {
            EventId::ModuleAttached => Event::ModuleAttached {
                if_index: r.u32(),
                miniport_if_index: r.u32(),
            },
            EventId::ModuleAttachFailed => Event::ModuleAttachFailed { if_index: r.u32() },
            EventId::ModuleDetached => Event::ModuleDetached { if_index: r.u32() },
            EventId::ModulePaused => Event::ModulePaused {
                if_index: r.u32(),
                pended: r.flag("pended")?,
            },
            EventId::ModulePauseCompleted => Event::ModulePauseCompleted { if_index: r.u32() },
            EventId::ModuleRestarted => Event::ModuleRestarted { if_index: r.u32() },
            EventId::LifecycleRejected => Event::LifecycleRejected {
                if_index: r.u32(),
                state: r.code("state", ModuleState::from_u8)?,
                event: r.code("event", LifecycleEvent::from_code)?,
            },
            EventId::PathTransition => Event::PathTransition {
                group: r.u16(),
                path: r.path("path")?,
                from: r.code("from", path_state_from_code)?,
                to: r.code("to", path_state_from_code)?,
                reason: r.code("reason", reason_from_code)?,
            },
            EventId::Reroute => Event::Reroute {
                group: r.u16(),
                from_path: r.path("from_path")?,
                to_path: r.path("to_path")?,
                nbls: r.u32(),
            },
            EventId::PolicyChanged => Event::PolicyChanged {
                group: r.u16(),
                policy: r.code("policy", |v| {
                    (usize::from(v) < crate::config::PolicyName::ALL.len()).then_some(v)
                })?,
                generation: r.u32(),
            },
            EventId::Announced => Event::Announced {
                group: r.u16(),
                owner: r.path("owner")?,
                carrier: r.path("carrier")?,
                sent: r.u8(),
            },
            EventId::RewriteSkipped => Event::RewriteSkipped {
                group: r.u16(),
                carrier: r.path("carrier")?,
                skipped: r.u64(),
            },
            EventId::ConfigRejected => Event::ConfigRejected {
                key: r.code("key", ConfigKey::from_code)?,
                value: r.u64(),
                min: r.u64(),
                max: r.u64(),
            },
            EventId::GroupSettingIgnored => Event::GroupSettingIgnored {
                group: r.u16(),
                key: r.code("key", ConfigKey::from_code)?,
            },
            EventId::StatusDropped => Event::StatusDropped {
                status: r.i32(),
                reason: r.code("reason", StatusDropReason::from_code)?,
            },
            EventId::OidRejected => Event::OidRejected {
                oid: r.u32(),
                status: r.i32(),
                reason: r.code("reason", RequestRejectReason::from_code)?,
            },
            EventId::IoctlRejected => Event::IoctlRejected {
                code: r.u32(),
                status: r.i32(),
                reason: r.code("reason", RequestRejectReason::from_code)?,
            },
        };
        r.finish(decoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{PathState, Reason};
    use std::vec::Vec;

    /// One event of every id, with every field away from zero.
    fn samples() -> Vec<Event> {
        let v = [
            Event::ModuleAttached {
                if_index: 7,
                miniport_if_index: 0xFFFF_FFFE,
            },
            Event::ModuleAttachFailed { if_index: 8 },
            Event::ModuleDetached { if_index: 9 },
            Event::ModulePaused {
                if_index: 10,
                pended: true,
            },
            Event::ModulePaused {
                if_index: 10,
                pended: false,
            },
            Event::ModulePauseCompleted { if_index: 11 },
            Event::ModuleRestarted { if_index: 12 },
            Event::LifecycleRejected {
                if_index: 13,
                state: ModuleState::Pausing,
                event: LifecycleEvent::Detach,
            },
            Event::PathTransition {
                group: 0xBEEF,
                path: 15,
                from: PathState::Marginal,
                to: PathState::Failed,
                reason: Reason::NoOtherPath,
            },
            Event::Reroute {
                group: 2,
                from_path: 1,
                to_path: 3,
                nbls: u32::MAX,
            },
            Event::ConfigRejected {
                key: ConfigKey::PathIndex,
                value: u64::MAX,
                min: 1,
                max: 0x0123_4567_89AB_CDEF,
            },
            Event::StatusDropped {
                status: i32::MIN,
                reason: StatusDropReason::InvalidValue,
            },
            Event::OidRejected {
                oid: 0x0001_0114,
                status: -0x3FFF_FF45,
                reason: RequestRejectReason::CloneFailed,
            },
            Event::IoctlRejected {
                code: 0x0017_0004,
                status: -1,
                reason: RequestRejectReason::BadState,
            },
            Event::GroupSettingIgnored {
                group: 0xFFFF,
                key: ConfigKey::RegAllDown,
            },
            Event::PolicyChanged {
                group: 3,
                policy: 8,
                generation: 0xFFFF_FFFF,
            },
            Event::Announced {
                group: 1,
                owner: 0,
                carrier: 15,
                sent: 4,
            },
            Event::RewriteSkipped {
                group: 0xFFFF,
                carrier: 3,
                skipped: u64::MAX,
            },
        ];
        for id in EventId::ALL {
            assert!(v.iter().any(|e| e.id() == id), "no sample of {id:?}");
        }
        v.to_vec()
    }

    #[test]
    fn every_event_round_trips() {
        for e in samples() {
            let record = e.encode();
            assert_eq!(record.as_bytes()[0], FORMAT_VERSION);
            assert_eq!(record.as_bytes()[1], e.id().as_u8());
            assert_eq!(Event::decode(record.as_bytes()), Ok(e));
        }
    }

    #[test]
    fn the_checksum_is_crc16_ccitt_false() {
        // The standard check value of the algorithm.
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }

    #[test]
    fn every_single_byte_corruption_is_rejected() {
        for e in samples() {
            let good = *e.encode().as_bytes();
            for i in 0..RECORD_LEN {
                for flip in [0x01, 0x80, 0xFF] {
                    let mut bad = good;
                    bad[i] ^= flip;
                    let err = Event::decode(&bad).expect_err("damage must be caught");
                    if i == 0 {
                        assert!(matches!(err, DecodeError::Version { .. }), "{err}");
                    } else {
                        assert!(matches!(err, DecodeError::Checksum { .. }), "{err}");
                    }
                }
            }
        }
    }

    /// A record with a valid checksum over chosen bytes, to reach the checks behind it.
    fn sealed(mut bytes: [u8; RECORD_LEN]) -> [u8; RECORD_LEN] {
        let crc = crc16(&bytes[..PAYLOAD_END]);
        bytes[PAYLOAD_END..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    #[test]
    fn well_sealed_but_invalid_records_give_typed_errors() {
        assert_eq!(Event::decode(&[]), Err(DecodeError::Length { len: 0 }));
        assert_eq!(
            Event::decode(&[0; RECORD_LEN + 1]),
            Err(DecodeError::Length {
                len: RECORD_LEN + 1
            })
        );
        let mut b = [0; RECORD_LEN];
        b[0] = FORMAT_VERSION + 1;
        assert_eq!(
            Event::decode(&sealed(b)),
            Err(DecodeError::Version { version: 2 })
        );
        b[0] = FORMAT_VERSION;
        b[1] = 0x7F;
        assert_eq!(
            Event::decode(&sealed(b)),
            Err(DecodeError::UnknownEvent { id: 0x7F })
        );

        let paused = *Event::ModulePaused {
            if_index: 1,
            pended: true,
        }
        .encode()
        .as_bytes();
        let mut b = paused;
        b[PAYLOAD_START + 4] = 2;
        assert_eq!(
            Event::decode(&sealed(b)),
            Err(DecodeError::InvalidField {
                event: EventId::ModulePaused,
                field: "pended",
                value: 2
            })
        );
        let mut b = paused;
        b[PAYLOAD_END - 1] = 1;
        assert_eq!(
            Event::decode(&sealed(b)),
            Err(DecodeError::Padding {
                event: EventId::ModulePaused
            })
        );

        let transition = *samples()[8].encode().as_bytes();
        for (offset, field, value) in [
            (2, "path", 16),
            (3, "from", 5),
            (4, "to", 0xFF),
            (5, "reason", 19),
        ] {
            let mut b = transition;
            b[PAYLOAD_START + offset] = value;
            assert_eq!(
                Event::decode(&sealed(b)),
                Err(DecodeError::InvalidField {
                    event: EventId::PathTransition,
                    field,
                    value
                })
            );
        }
        let mut b = *samples()[7].encode().as_bytes();
        b[PAYLOAD_START + 4] = 6;
        assert!(matches!(
            Event::decode(&sealed(b)),
            Err(DecodeError::InvalidField { field: "state", .. })
        ));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        use std::string::ToString;
        let text = DecodeError::InvalidField {
            event: EventId::Reroute,
            field: "to_path",
            value: 99,
        }
        .to_string();
        assert_eq!(text, "reroute: field to_path has invalid value 99");
        assert!(
            DecodeError::Checksum {
                stored: 1,
                computed: 2
            }
            .to_string()
            .contains("0x0001")
        );
    }
}
