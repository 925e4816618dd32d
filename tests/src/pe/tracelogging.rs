//! Reads the TraceLogging events a loaded `mpfilter.sys` writes (`EtwWriteTransfer`) back into the
//! catalogue's [`Event`]s. Safe code over byte slices: `exports::etw` copies the descriptors' bytes
//! out of the driver first.
//!
//! The format (TraceLogging's, as `TraceLoggingProvider.h` and the `tracelogging` crate define it):
//! - provider metadata (data descriptor type 2; the traits `EtwSetInformation` class 2 gets):
//!   `u16` total size, the provider name (UTF-8, NUL-terminated), then traits (each `u16` size,
//!   `u8` type, data);
//! - event metadata (descriptor type 1): `u16` total size, a tag (1 to 4 bytes, each but the last
//!   with bit 7 set), the event name (UTF-8, NUL-terminated), then per field: its name
//!   (NUL-terminated), an in-type byte (bits 0-4 the type, bits 5-6 the array flags, bit 7 "an
//!   out-type byte follows"), the out-type byte if flagged (bit 7 "a field tag follows"), the
//!   field tag if flagged, and a `u16` element count for a constant-count array;
//! - the payload: the user-data descriptors (type 0) concatenated, the fields packed in order.
//!
//! The reader takes exactly what the catalogue ([`mpfilter::diag::trace`]) declares: the provider
//! `mpfilter`, an event name of the catalogue with its level, keyword and TraceLogging channel,
//! and its fields with their names and types in order, `handle` first. Anything else is a
//! [`TraceError`], never a panic.

use mpfilter::diag::trace::{
    self, CHANNEL_TRACELOGGING, EventSpec, FieldSpec, PROVIDER_NAME, PayloadError,
};
use mpfilter::diag::{Event, EventId};

/// `EVENT_DESCRIPTOR`'s fields as the driver passed them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Id (0 for TraceLogging events).
    pub id: u16,
    /// Version.
    pub version: u8,
    /// Channel (11 for TraceLogging).
    pub channel: u8,
    /// Level.
    pub level: u8,
    /// Opcode.
    pub opcode: u8,
    /// Task.
    pub task: u16,
    /// Keyword.
    pub keyword: u64,
}

/// Why an event does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceError {
    /// The provider metadata is missing, malformed or not `mpfilter`'s.
    Provider(&'static str),
    /// The event metadata is missing or malformed.
    Metadata(&'static str),
    /// No catalogue event has this name.
    UnknownEvent,
    /// The metadata does not declare the catalogue event's fields (names, types, order).
    Fields(EventId),
    /// The descriptor's channel, level, keyword or opcode is not the catalogue event's.
    Descriptor(EventId),
    /// The field bytes do not make the event.
    Payload(EventId, PayloadError),
}

/// The event `mpfilter.sys` wrote, with the handle of the driver or module that wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TracedEvent {
    /// The `handle` field.
    pub handle: u64,
    /// The event.
    pub event: Event,
}

/// Bytes read front to back.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        let (b, rest) = self.0.split_first_chunk::<2>()?;
        self.0 = rest;
        Some(u16::from_le_bytes(*b))
    }
    /// A NUL-terminated string, without its NUL.
    fn cstr(&mut self) -> Option<&'a [u8]> {
        let end = self.0.iter().position(|&b| b == 0)?;
        let (s, rest) = self.0.split_at(end);
        self.0 = &rest[1..];
        Some(s)
    }
    /// A tag: 1 to 4 bytes, each but the last with bit 7 set.
    fn tag(&mut self) -> Option<u32> {
        let mut tag = 0u32;
        for i in 0..4 {
            let b = self.u8()?;
            tag |= u32::from(b & 0x7F) << (21 - 7 * i);
            if b & 0x80 == 0 {
                return Some(tag);
            }
        }
        None
    }
}

/// The body of a size-prefixed metadata block: the `u16` size must be the block's length.
fn sized(block: &[u8]) -> Option<&[u8]> {
    let mut c = Cursor(block);
    let size = c.u16()?;
    (usize::from(size) == block.len()).then_some(c.0)
}

/// The provider name in provider metadata (its traits are read for their shape, not used).
///
/// # Errors
/// The block is not well-formed provider metadata.
pub fn provider_name(meta: &[u8]) -> Result<&[u8], TraceError> {
    let body = sized(meta).ok_or(TraceError::Provider("size field is not the block size"))?;
    let mut c = Cursor(body);
    let name = c
        .cstr()
        .ok_or(TraceError::Provider("name not NUL-terminated"))?;
    while !c.0.is_empty() {
        let size = c.u16().ok_or(TraceError::Provider("truncated trait"))?;
        let size = usize::from(size);
        if size < 3 || size - 2 > c.0.len() {
            return Err(TraceError::Provider("trait size out of range"));
        }
        c.0 = &c.0[size - 2..];
    }
    Ok(name)
}

/// One field declaration of event metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldMeta<'a> {
    /// Its name.
    pub name: &'a [u8],
    /// The in-type, without flags.
    pub in_type: u8,
    /// The array flags (bits 5-6 of the in-type byte): 0 for a scalar.
    pub array: u8,
    /// The out-type, 0 if none is given.
    pub out_type: u8,
    /// The field tag, 0 if none is given.
    pub tag: u32,
}

/// Event metadata: name and fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMeta<'a> {
    /// The event tag.
    pub tag: u32,
    /// The event name.
    pub name: &'a [u8],
    /// Its fields in order.
    pub fields: Vec<FieldMeta<'a>>,
}

const IN_TYPE_MASK: u8 = 0x1F;
const ARRAY_MASK: u8 = 0x60;
const CONSTANT_COUNT: u8 = 0x20;
const CUSTOM: u8 = 0x60;
const CHAIN: u8 = 0x80;
/// A struct's out-type byte is its field count, not a format.
const IN_TYPE_STRUCT: u8 = 24;

/// Parses event metadata.
///
/// # Errors
/// The block is not well-formed event metadata.
pub fn event_meta(meta: &[u8]) -> Result<EventMeta<'_>, TraceError> {
    let bad = TraceError::Metadata;
    let body = sized(meta).ok_or(bad("size field is not the block size"))?;
    let mut c = Cursor(body);
    let tag = c.tag().ok_or(bad("event tag longer than 4 bytes"))?;
    let name = c.cstr().ok_or(bad("event name not NUL-terminated"))?;
    let mut fields = Vec::new();
    while !c.0.is_empty() {
        let field = c.cstr().ok_or(bad("field name not NUL-terminated"))?;
        let in_byte = c.u8().ok_or(bad("field without in-type"))?;
        let (mut out_type, mut field_tag) = (0, 0);
        if in_byte & CHAIN != 0 {
            let out_byte = c.u8().ok_or(bad("out-type flagged but missing"))?;
            out_type = out_byte & !CHAIN;
            if out_byte & CHAIN != 0 {
                field_tag = c.tag().ok_or(bad("field tag longer than 4 bytes"))?;
            }
        }
        let array = in_byte & ARRAY_MASK;
        if array == CONSTANT_COUNT {
            c.u16().ok_or(bad("constant count missing"))?;
        } else if array == CUSTOM {
            let size = c.u16().ok_or(bad("custom schema size missing"))?;
            if usize::from(size) > c.0.len() {
                return Err(bad("custom schema longer than the metadata"));
            }
            c.0 = &c.0[usize::from(size)..];
        }
        fields.push(FieldMeta {
            name: field,
            in_type: in_byte & IN_TYPE_MASK,
            array,
            out_type,
            tag: field_tag,
        });
    }
    Ok(EventMeta { tag, name, fields })
}

/// Whether a declared field is exactly the catalogue's field.
fn same_field(meta: &FieldMeta<'_>, spec: &FieldSpec) -> bool {
    meta.name == spec.name.as_bytes()
        && meta.in_type == spec.in_type
        && meta.in_type != IN_TYPE_STRUCT
        && meta.array == 0
        && meta.out_type == spec.out_type
        && meta.tag == 0
}

/// The catalogue event the metadata declares, if it declares one exactly.
///
/// # Errors
/// An unknown event name, or fields that are not the catalogue event's.
pub fn match_catalogue(meta: &EventMeta<'_>) -> Result<&'static EventSpec, TraceError> {
    let spec = trace::spec_by_name(meta.name).ok_or(TraceError::UnknownEvent)?;
    let same = meta.tag == 0
        && meta.fields.len() == spec.fields.len()
        && meta
            .fields
            .iter()
            .zip(spec.fields)
            .all(|(m, s)| same_field(m, s));
    if same {
        Ok(spec)
    } else {
        Err(TraceError::Fields(spec.id))
    }
}

/// Decodes one written event: the provider metadata must name `mpfilter`, the event metadata
/// must declare a catalogue event exactly, the descriptor must carry that event's level, keyword
/// and the TraceLogging channel, and the payload must be its fields.
///
/// # Errors
/// See [`TraceError`].
pub fn decode(
    descriptor: &Descriptor,
    provider_meta: &[u8],
    event_meta_bytes: &[u8],
    payload: &[u8],
) -> Result<TracedEvent, TraceError> {
    if provider_name(provider_meta)? != PROVIDER_NAME.as_bytes() {
        return Err(TraceError::Provider("not the mpfilter provider"));
    }
    let meta = event_meta(event_meta_bytes)?;
    let spec = match_catalogue(&meta)?;
    let d = descriptor;
    if d.channel != CHANNEL_TRACELOGGING
        || d.level != spec.level
        || d.keyword != spec.keyword
        || (d.id, d.version, d.opcode, d.task) != (0, 0, 0, 0)
    {
        return Err(TraceError::Descriptor(spec.id));
    }
    let Some((handle, fields)) = payload.split_first_chunk::<8>() else {
        return Err(TraceError::Payload(
            spec.id,
            PayloadError::Short { len: payload.len() },
        ));
    };
    let event =
        trace::decode_payload(spec.id, fields).map_err(|e| TraceError::Payload(spec.id, e))?;
    Ok(TracedEvent {
        handle: u64::from_le_bytes(*handle),
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpfilter::diag::trace::{keyword, level};
    use mpfilter::engine::{PathState, Reason};

    /// Size-prefixes a metadata body.
    fn block(body: &[u8]) -> Vec<u8> {
        let mut v = u16::try_from(body.len() + 2)
            .unwrap()
            .to_le_bytes()
            .to_vec();
        v.extend_from_slice(body);
        v
    }

    fn provider() -> Vec<u8> {
        // Name, then one trait (size 3+16: type 1, a provider group GUID) to skip.
        let mut body = b"mpfilter\0".to_vec();
        body.extend(19u16.to_le_bytes());
        body.push(1);
        body.extend([0xAB; 16]);
        block(&body)
    }

    /// PathTransition's metadata, written out by hand from the format.
    fn path_transition_meta() -> Vec<u8> {
        let mut body = vec![0]; // tag 0, one byte
        body.extend(b"PathTransition\0");
        body.extend(b"handle\0");
        body.push(21); // HexInt64
        body.extend(b"group\0");
        body.push(6); // UInt16
        for name in ["path", "from", "to", "reason"] {
            body.extend(name.as_bytes());
            body.push(0);
            body.push(4); // UInt8
        }
        block(&body)
    }

    fn path_transition_descriptor() -> Descriptor {
        Descriptor {
            id: 0,
            version: 0,
            channel: 11,
            level: level::Warning,
            opcode: 0,
            task: 0,
            keyword: keyword::PATHS,
        }
    }

    fn path_transition_payload() -> Vec<u8> {
        let mut p = 0x1234_5678_9ABC_DEF0u64.to_le_bytes().to_vec();
        p.extend(7u16.to_le_bytes());
        p.extend([2, 0, 4, 16]); // path 2, Active -> Marginal, FlapDamped
        p
    }

    #[test]
    fn a_hand_made_path_transition_decodes() {
        let got = decode(
            &path_transition_descriptor(),
            &provider(),
            &path_transition_meta(),
            &path_transition_payload(),
        );
        assert_eq!(
            got,
            Ok(TracedEvent {
                handle: 0x1234_5678_9ABC_DEF0,
                event: Event::PathTransition {
                    group: 7,
                    path: 2,
                    from: PathState::Active,
                    to: PathState::Marginal,
                    reason: Reason::FlapDamped,
                },
            })
        );
    }

    #[test]
    fn out_types_and_multi_byte_tags_are_read() {
        // ModulePaused: `pended` is bool8 (UInt8 with out-type Boolean). A 2-byte event tag
        // is read but refused by the catalogue match, which wants tag 0.
        let mut body = vec![0];
        body.extend(b"ModulePaused\0handle\0");
        body.push(21);
        body.extend(b"if_index\0");
        body.push(8);
        body.extend(b"pended\0");
        body.extend([4 | 0x80, 3]);
        let meta = block(&body);
        let parsed = event_meta(&meta).unwrap();
        assert_eq!(parsed.fields[2].out_type, 3);
        let spec = match_catalogue(&parsed).unwrap();
        assert_eq!(spec.id, EventId::ModulePaused);
        let mut p = 5u64.to_le_bytes().to_vec();
        p.extend(9u32.to_le_bytes());
        p.push(1);
        let d = Descriptor {
            level: level::Informational,
            keyword: keyword::LIFECYCLE,
            ..path_transition_descriptor()
        };
        assert_eq!(
            decode(&d, &provider(), &meta, &p).map(|t| t.event),
            Ok(Event::ModulePaused {
                if_index: 9,
                pended: true
            })
        );

        let mut tagged = vec![0x81, 0x05];
        tagged.extend(&body[1..]);
        let tagged = block(&tagged);
        let parsed = event_meta(&tagged).unwrap();
        assert_eq!(parsed.tag, (1 << 21) | (5 << 14));
        assert_eq!(parsed.name, b"ModulePaused");
        assert_eq!(
            match_catalogue(&parsed),
            Err(TraceError::Fields(EventId::ModulePaused))
        );
    }

    #[test]
    fn malformed_metadata_is_refused_without_panicking() {
        let meta = path_transition_meta();
        // Every truncation: the size no longer matches.
        for n in 0..meta.len() {
            assert!(event_meta(&meta[..n]).is_err(), "{n}");
        }
        // A consistent size but the last field's in-type cut off.
        let body = &meta[2..meta.len() - 1];
        assert_eq!(
            event_meta(&block(body)),
            Err(TraceError::Metadata("field without in-type"))
        );
        // Name without NUL.
        assert!(event_meta(&block(b"\0PathTransition")).is_err());
        // A tag of five chained bytes.
        assert!(event_meta(&block(&[0x80, 0x80, 0x80, 0x80, 0x01, b'X', 0])).is_err());
        // Out-type flagged, then the block ends.
        assert!(event_meta(&block(b"\0E\0f\0\x84")).is_err());
        // A custom-type schema longer than the block.
        assert!(event_meta(&block(b"\0E\0f\0\x64\xFF\x00")).is_err());
        // Every single-byte corruption decodes or is refused, never panics.
        for i in 0..meta.len() {
            for v in [0x00, 0x7F, 0x80, 0xFF] {
                let mut m = meta.clone();
                m[i] = v;
                let _ = decode(
                    &path_transition_descriptor(),
                    &provider(),
                    &m,
                    &path_transition_payload(),
                );
            }
        }
    }

    #[test]
    fn what_is_not_the_catalogue_event_is_refused() {
        let d = path_transition_descriptor();
        let meta = path_transition_meta();
        let p = path_transition_payload();
        // Another provider.
        let other = block(b"Contoso\0");
        assert_eq!(
            decode(&d, &other, &meta, &p),
            Err(TraceError::Provider("not the mpfilter provider"))
        );
        assert!(provider_name(&block(b"mpfilter\0\x02\x00")).is_err());
        // Unknown event name.
        let mut body = vec![0];
        body.extend(b"PathTransitions\0handle\0\x15");
        assert_eq!(
            decode(&d, &provider(), &block(&body), &p),
            Err(TraceError::UnknownEvent)
        );
        // A field of another type (group as UInt32).
        let mut wrong = meta.clone();
        let at = wrong.windows(6).position(|w| w == b"group\0").unwrap() + 6;
        wrong[at] = 8;
        assert_eq!(
            decode(&d, &provider(), &wrong, &p),
            Err(TraceError::Fields(EventId::PathTransition))
        );
        // Level, keyword or channel not the catalogue's.
        for bad in [
            Descriptor { level: 4, ..d },
            Descriptor { keyword: 1, ..d },
            Descriptor { channel: 0, ..d },
            Descriptor { opcode: 1, ..d },
        ] {
            assert_eq!(
                decode(&bad, &provider(), &meta, &p),
                Err(TraceError::Descriptor(EventId::PathTransition))
            );
        }
        // Payload: too short for the handle, a byte too many, an unknown reason code.
        assert!(matches!(
            decode(&d, &provider(), &meta, &p[..7]),
            Err(TraceError::Payload(_, PayloadError::Short { len: 7 }))
        ));
        let mut long = p.clone();
        long.push(0);
        assert!(matches!(
            decode(&d, &provider(), &meta, &long),
            Err(TraceError::Payload(_, PayloadError::Trailing { extra: 1 }))
        ));
        let mut bad_reason = p;
        *bad_reason.last_mut().unwrap() = 200;
        assert!(matches!(
            decode(&d, &provider(), &meta, &bad_reason),
            Err(TraceError::Payload(
                _,
                PayloadError::InvalidField {
                    field: "reason",
                    ..
                }
            ))
        ));
    }
}
