//! The ETW TraceLogging form of the catalogue: the provider, and for every [`Event`] its
//! TraceLogging event — name, level, keyword and typed fields.
//!
//! One list ([`catalogue!`]) drives both ends, so they cannot drift apart:
//! - the `.sys` writer (`crate::windows::etw`, `tracelogging::write_event!` per event);
//! - the reader here: [`EVENTS`] (what a decoder checks the metadata against) and
//!   [`decode_payload`] (the event back from the field bytes), which the emulator's PE loader
//!   uses on what the loaded `.sys` hands to `EtwWriteTransfer`.
//!
//! Every event starts with the field `handle` (a pointer: the NDIS handle of the driver or module
//! that emitted it), then the event's own fields in declaration order, under their catalogue
//! names. Enumerated fields carry their stable codes (`docs/diagnostics.md`) as `u8`.

use super::event::{
    ConfigKey, Event, EventId, LifecycleEvent, RequestRejectReason, StatusDropReason,
    path_state_code, path_state_from_code, reason_code, reason_from_code,
};
use crate::engine::{PathState, Reason};
use crate::module::ModuleState;

/// The provider's name (its TraceLogging provider traits carry it).
pub const PROVIDER_NAME: &str = "mpfilter";

/// The provider GUID: the ETW name hash of [`PROVIDER_NAME`] (what `tracelog -guid *mpfilter`
/// and `Guid::from_name("mpfilter")` compute), fixed here so that it never depends on a tool.
pub const PROVIDER_GUID_TEXT: &str = "e0f5ccb2-ad34-5b0a-f894-1f985a0a3677";

/// [`PROVIDER_GUID_TEXT`] as a Windows `GUID` lays it out in memory (Data1..Data3
/// little-endian, then Data4).
pub const PROVIDER_GUID_BYTES: [u8; 16] = [
    0xb2, 0xcc, 0xf5, 0xe0, 0x34, 0xad, 0x0a, 0x5b, 0xf8, 0x94, 0x1f, 0x98, 0x5a, 0x0a, 0x36, 0x77,
];

/// The ETW channel of TraceLogging events.
pub const CHANNEL_TRACELOGGING: u8 = 11;

/// Event levels (the ETW values; a session enabled at level L gets every event at L or below).
#[allow(non_upper_case_globals)]
pub mod level {
    /// Something failed.
    pub const Error: u8 = 2;
    /// Something degraded or was refused.
    pub const Warning: u8 = 3;
    /// Normal operation worth a line.
    pub const Informational: u8 = 4;
}

/// Event keywords: one bit per area, so a session can take one area only.
pub mod keyword {
    /// Module lifecycle: attach, detach, pause, restart.
    pub const LIFECYCLE: u64 = 0x1;
    /// Paths: transitions and reroutes.
    pub const PATHS: u64 = 0x2;
    /// Configuration refused or overridden.
    pub const CONFIG: u64 = 0x4;
    /// Requests and indications from outside that the filter refused or dropped.
    pub const REQUESTS: u64 = 0x8;
}

/// TraceLogging field types this catalogue uses: (in-type, out-type, bytes). The names are the
/// `tracelogging::write_event!` field macros.
#[allow(non_upper_case_globals)]
pub mod field_type {
    /// `pointer`: in-type HexInt64 (a pointer-sized hex integer on x64).
    pub const pointer: (u8, u8, usize) = (21, 0, 8);
    /// `u8`: in-type UInt8.
    pub const u8: (u8, u8, usize) = (4, 0, 1);
    /// `u16`: in-type UInt16.
    pub const u16: (u8, u8, usize) = (6, 0, 2);
    /// `u32`: in-type UInt32.
    pub const u32: (u8, u8, usize) = (8, 0, 4);
    /// `u64`: in-type UInt64.
    pub const u64: (u8, u8, usize) = (10, 0, 8);
    /// `u32_hex`: in-type HexInt32.
    pub const u32_hex: (u8, u8, usize) = (20, 0, 4);
    /// `bool8`: in-type UInt8, out-type Boolean.
    pub const bool8: (u8, u8, usize) = (4, 3, 1);
    /// `win_ntstatus`: in-type HexInt32, out-type NTSTATUS.
    pub const win_ntstatus: (u8, u8, usize) = (20, 14, 4);
}

/// A field enum carried as its stable `u8` code.
pub trait TraceCode: Copy + Sized {
    /// The stable code.
    fn trace_code(self) -> u8;
    /// The value of a code; `None` for a code no value uses.
    fn from_trace_code(code: u8) -> Option<Self>;
}

macro_rules! trace_code {
    ($($ty:ty => $to:expr, $from:expr;)*) => {
        $(impl TraceCode for $ty {
            fn trace_code(self) -> u8 {
                $to(self)
            }
            fn from_trace_code(code: u8) -> Option<Self> {
                $from(code)
            }
        })*
    };
}

trace_code! {
    ModuleState => ModuleState::as_u8, ModuleState::from_u8;
    LifecycleEvent => LifecycleEvent::code, LifecycleEvent::from_code;
    PathState => path_state_code, path_state_from_code;
    Reason => reason_code, reason_from_code;
    ConfigKey => ConfigKey::code, ConfigKey::from_code;
    StatusDropReason => StatusDropReason::code, StatusDropReason::from_code;
    RequestRejectReason => RequestRejectReason::code, RequestRejectReason::from_code;
}

/// How a field's value becomes its TraceLogging value (the writer's `conv::$conv`).
pub mod conv {
    use super::TraceCode;

    /// The value as it is.
    pub fn plain<T>(v: T) -> T {
        v
    }

    /// A field enum's stable code.
    pub fn code<T: TraceCode>(v: T) -> u8 {
        v.trace_code()
    }
}

/// The whole catalogue, for a macro `$then` that takes it: per event its variant, TraceLogging
/// name, level, keyword, and per field its name, TraceLogging name, field type and conversion.
macro_rules! catalogue {
    ($then:ident) => {
        $then! {
            ModuleAttached "ModuleAttached" Informational LIFECYCLE {
                if_index "if_index" u32 plain,
                miniport_if_index "miniport_if_index" u32 plain,
            }
            ModuleAttachFailed "ModuleAttachFailed" Error LIFECYCLE {
                if_index "if_index" u32 plain,
            }
            ModuleDetached "ModuleDetached" Informational LIFECYCLE {
                if_index "if_index" u32 plain,
            }
            ModulePaused "ModulePaused" Informational LIFECYCLE {
                if_index "if_index" u32 plain,
                pended "pended" bool8 plain,
            }
            ModulePauseCompleted "ModulePauseCompleted" Informational LIFECYCLE {
                if_index "if_index" u32 plain,
            }
            ModuleRestarted "ModuleRestarted" Informational LIFECYCLE {
                if_index "if_index" u32 plain,
            }
            LifecycleRejected "LifecycleRejected" Error LIFECYCLE {
                if_index "if_index" u32 plain,
                state "state" u8 code,
                event "event" u8 code,
            }
            PathTransition "PathTransition" Warning PATHS {
                group "group" u16 plain,
                path "path" u8 plain,
                from "from" u8 code,
                to "to" u8 code,
                reason "reason" u8 code,
            }
            Reroute "Reroute" Informational PATHS {
                group "group" u16 plain,
                from_path "from_path" u8 plain,
                to_path "to_path" u8 plain,
                nbls "nbls" u32 plain,
            }
            Announced "Announced" Informational PATHS {
                group "group" u16 plain,
                owner "owner" u8 plain,
                carrier "carrier" u8 plain,
                sent "sent" u8 plain,
            }
            RewriteSkipped "RewriteSkipped" Warning PATHS {
                group "group" u16 plain,
                carrier "carrier" u8 plain,
                skipped "skipped" u64 plain,
            }
            PolicyChanged "PolicyChanged" Informational CONFIG {
                group "group" u16 plain,
                policy "policy" u8 plain,
                generation "generation" u32 plain,
            }
            ConfigRejected "ConfigRejected" Error CONFIG {
                key "key" u8 code,
                value "value" u64 plain,
                min "min" u64 plain,
                max "max" u64 plain,
            }
            GroupSettingIgnored "GroupSettingIgnored" Warning CONFIG {
                group "group" u16 plain,
                key "key" u8 code,
            }
            StatusDropped "StatusDropped" Warning REQUESTS {
                status "status" win_ntstatus plain,
                reason "reason" u8 code,
            }
            OidRejected "OidRejected" Warning REQUESTS {
                oid "oid" u32_hex plain,
                status "status" win_ntstatus plain,
                reason "reason" u8 code,
            }
            IoctlRejected "IoctlRejected" Warning REQUESTS {
                code "code" u32_hex plain,
                status "status" win_ntstatus plain,
                reason "reason" u8 code,
            }
        }
    };
}
// For the Windows writer (`crate::windows::etw`).
#[cfg(windows)]
pub(crate) use catalogue;

/// One field of a TraceLogging event as its metadata declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field name.
    pub name: &'static str,
    /// The in-type (without flag bits).
    pub in_type: u8,
    /// The out-type (0 = default, no out-type byte).
    pub out_type: u8,
    /// Bytes of the value.
    pub size: usize,
}

/// One TraceLogging event of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// The catalogue event.
    pub id: EventId,
    /// The TraceLogging event name.
    pub name: &'static str,
    /// Its level.
    pub level: u8,
    /// Its keyword.
    pub keyword: u64,
    /// Its fields, `handle` first.
    pub fields: &'static [FieldSpec],
}

/// The field every event starts with: the emitting driver or module handle.
pub const HANDLE_FIELD: FieldSpec = FieldSpec {
    name: "handle",
    in_type: field_type::pointer.0,
    out_type: field_type::pointer.1,
    size: field_type::pointer.2,
};

/// Why a payload does not make an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// The bytes end before the fields do.
    Short {
        /// Bytes given.
        len: usize,
    },
    /// Bytes are left after the last field.
    Trailing {
        /// Bytes left.
        extra: usize,
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
}

/// Reads fields in order, by their TraceLogging type.
struct Fields<'a> {
    event: EventId,
    bytes: &'a [u8],
    len: usize,
}

#[allow(clippy::wrong_self_convention)]
impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], PayloadError> {
        let Some((field, rest)) = self.bytes.split_first_chunk::<N>() else {
            return Err(PayloadError::Short { len: self.len });
        };
        self.bytes = rest;
        Ok(*field)
    }
    fn u8(&mut self, _: &'static str) -> Result<u8, PayloadError> {
        Ok(self.take::<1>()?[0])
    }
    fn u16(&mut self, _: &'static str) -> Result<u16, PayloadError> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self, _: &'static str) -> Result<u32, PayloadError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u32_hex(&mut self, name: &'static str) -> Result<u32, PayloadError> {
        self.u32(name)
    }
    fn u64(&mut self, _: &'static str) -> Result<u64, PayloadError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn win_ntstatus(&mut self, _: &'static str) -> Result<i32, PayloadError> {
        Ok(i32::from_le_bytes(self.take()?))
    }
    fn bool8(&mut self, field: &'static str) -> Result<bool, PayloadError> {
        match self.take::<1>()?[0] {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(self.invalid(field, value)),
        }
    }
    fn invalid(&self, field: &'static str, value: u8) -> PayloadError {
        PayloadError::InvalidField {
            event: self.event,
            field,
            value,
        }
    }
    // The same shape as `code`, for the generated reader.
    #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
    fn plain<T>(&self, v: T, _: &'static str) -> Result<T, PayloadError> {
        Ok(v)
    }
    fn code<T: TraceCode>(&self, v: u8, field: &'static str) -> Result<T, PayloadError> {
        T::from_trace_code(v).ok_or(self.invalid(field, v))
    }
}

macro_rules! reader {
    ($($variant:ident $name:literal $level:ident $keyword:ident {
        $($field:ident $fname:literal $ty:ident $conv:ident,)*
    })*) => {
        /// Every event of the catalogue, in catalogue order.
        pub const EVENTS: &[EventSpec] = &[$(EventSpec {
            id: EventId::$variant,
            name: $name,
            level: level::$level,
            keyword: keyword::$keyword,
            fields: &[
                HANDLE_FIELD,
                $(FieldSpec {
                    name: $fname,
                    in_type: field_type::$ty.0,
                    out_type: field_type::$ty.1,
                    size: field_type::$ty.2,
                },)*
            ],
        },)*];

        /// The event whose fields after `handle` are `bytes` (little-endian, packed, in metadata
        /// order). Enumerated fields must hold one of their codes; no byte may be left over.
        ///
        /// # Errors
        /// See [`PayloadError`].
        pub fn decode_payload(id: EventId, bytes: &[u8]) -> Result<Event, PayloadError> {
            let mut r = Fields { event: id, bytes, len: bytes.len() };
            let event = match id {
                $(EventId::$variant => {
                    $(let raw = r.$ty($fname)?;
                    let $field = r.$conv(raw, $fname)?;)*
                    Event::$variant { $($field,)* }
                })*
            };
            if !r.bytes.is_empty() {
                return Err(PayloadError::Trailing { extra: r.bytes.len() });
            }
            Ok(event)
        }
    };
}

catalogue!(reader);

/// The TraceLogging event of a catalogue event.
pub fn spec(id: EventId) -> &'static EventSpec {
    EVENTS
        .iter()
        .find(|s| s.id == id)
        .expect("every event is in the catalogue (a test checks)")
}

/// The catalogue event with this TraceLogging name.
pub fn spec_by_name(name: &[u8]) -> Option<&'static EventSpec> {
    EVENTS.iter().find(|s| s.name.as_bytes() == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn every_event_once_with_distinct_names_and_fields() {
        assert_eq!(EVENTS.len(), EventId::ALL.len());
        for id in EventId::ALL {
            let s = spec(id);
            assert_eq!(EVENTS.iter().filter(|e| e.id == id).count(), 1);
            assert_eq!(spec_by_name(s.name.as_bytes()).map(|e| e.id), Some(id));
            assert_eq!(s.fields[0], HANDLE_FIELD);
            for (i, f) in s.fields.iter().enumerate() {
                assert!(s.fields[i + 1..].iter().all(|g| g.name != f.name));
            }
            assert!(s.keyword.is_power_of_two());
            assert!((level::Error..=level::Informational).contains(&s.level));
        }
        assert!(spec_by_name(b"path-transition").is_none());
    }

    #[test]
    fn guid_text_and_bytes_agree() {
        let hex: Vec<u8> = PROVIDER_GUID_TEXT
            .split('-')
            .flat_map(|group| {
                (0..group.len())
                    .step_by(2)
                    .map(move |i| u8::from_str_radix(&group[i..i + 2], 16).unwrap())
            })
            .collect();
        let mut bytes = hex.clone();
        bytes[0..4].reverse();
        bytes[4..6].reverse();
        bytes[6..8].reverse();
        assert_eq!(bytes, PROVIDER_GUID_BYTES);
        // A name-based GUID (version 5).
        assert_eq!(hex[6] >> 4, 5);
    }

    /// The payload bytes of an event, packed as the writer's fields are.
    fn payload(e: &Event) -> Vec<u8> {
        let mut v = Vec::new();
        match *e {
            Event::PathTransition {
                group,
                path,
                from,
                to,
                reason,
            } => {
                v.extend(group.to_le_bytes());
                v.extend([path, conv::code(from), conv::code(to), conv::code(reason)]);
            }
            Event::ModulePaused { if_index, pended } => {
                v.extend(if_index.to_le_bytes());
                v.push(u8::from(pended));
            }
            Event::OidRejected {
                oid,
                status,
                reason,
            } => {
                v.extend(oid.to_le_bytes());
                v.extend(status.to_le_bytes());
                v.push(conv::code(reason));
            }
            Event::ConfigRejected {
                key,
                value,
                min,
                max,
            } => {
                v.push(conv::code(key));
                for x in [value, min, max] {
                    v.extend(x.to_le_bytes());
                }
            }
            _ => unreachable!("not a sample"),
        }
        v
    }

    fn samples() -> [Event; 4] {
        [
            Event::PathTransition {
                group: 0xBEEF,
                path: 3,
                from: PathState::Active,
                to: PathState::Failed,
                reason: Reason::LinkDown,
            },
            Event::ModulePaused {
                if_index: 77,
                pended: true,
            },
            Event::OidRejected {
                oid: 0x0001_0114,
                status: -0x3FFF_FF66,
                reason: RequestRejectReason::CloneFailed,
            },
            Event::ConfigRejected {
                key: ConfigKey::RegPolicy,
                value: u64::MAX,
                min: 1,
                max: 9,
            },
        ]
    }

    #[test]
    fn payloads_decode_to_their_events_and_sizes_match_the_specs() {
        for e in samples() {
            let bytes = payload(&e);
            assert_eq!(decode_payload(e.id(), &bytes), Ok(e));
            let size: usize = spec(e.id()).fields[1..].iter().map(|f| f.size).sum();
            assert_eq!(size, bytes.len(), "{e:?}");
        }
    }

    #[test]
    fn short_long_and_out_of_range_payloads_are_refused() {
        for e in samples() {
            let mut bytes = payload(&e);
            assert_eq!(
                decode_payload(e.id(), &bytes[..bytes.len() - 1]),
                Err(PayloadError::Short {
                    len: bytes.len() - 1
                })
            );
            bytes.push(0);
            assert_eq!(
                decode_payload(e.id(), &bytes),
                Err(PayloadError::Trailing { extra: 1 })
            );
        }
        let mut t = payload(&samples()[0]);
        t[5] = 19; // no Reason has code 19
        assert_eq!(
            decode_payload(EventId::PathTransition, &t),
            Err(PayloadError::InvalidField {
                event: EventId::PathTransition,
                field: "reason",
                value: 19
            })
        );
        let mut p = payload(&samples()[1]);
        p[4] = 2;
        assert!(matches!(
            decode_payload(EventId::ModulePaused, &p),
            Err(PayloadError::InvalidField {
                field: "pended",
                ..
            })
        ));
    }
}
