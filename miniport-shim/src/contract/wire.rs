//! Little-endian field access and the envelope every mpshim buffer starts with.
//!
//! Envelope: a 16-byte tag (the payload type's GUID in Windows memory order), then an
//! NDIS_OBJECT_HEADER-style `Type u8 | Revision u8 | Size u16`. The tag comes first so a foreign
//! buffer is recognised by its first bytes, before any of its fields are trusted.
#![forbid(unsafe_code)]

use super::{DecodeError, Guid, OBJECT_TYPE_DEFAULT};

/// Bytes of the tag.
pub const TAG_LEN: usize = 16;
/// Bytes of tag plus header: the smallest buffer whose envelope can be checked.
pub const ENVELOPE_LEN: usize = TAG_LEN + 4;

/// What the envelope of a decoded buffer said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The writer's layout revision (1 or newer).
    pub revision: u8,
    /// The size the writer declared; at least the revision-1 size.
    pub size: u16,
}

/// Writes the envelope for a payload of `size` bytes at revision `revision`.
pub fn put_envelope(b: &mut [u8], tag: Guid, revision: u8, size: usize) {
    b[..TAG_LEN].copy_from_slice(&tag.to_bytes());
    b[TAG_LEN] = OBJECT_TYPE_DEFAULT;
    b[TAG_LEN + 1] = revision;
    let size = u16::try_from(size).expect("payload layouts are far below 64 KiB");
    put_u16(b, TAG_LEN + 2, size);
}

/// Checks the envelope of `b` against `tag` and the revision-1 layout size `v1_len`.
///
/// A revision-1 writer declares exactly `v1_len`; a newer writer declares at least that and is
/// read by its revision-1 prefix. Bytes past the declared size are ignored.
///
/// # Errors
/// The first envelope check that fails, as a [`DecodeError`].
pub fn check_envelope(b: &[u8], tag: Guid, v1_len: usize) -> Result<Envelope, DecodeError> {
    let tag = tag.to_bytes();
    let present = b.len().min(TAG_LEN);
    if b[..present] != tag[..present] {
        return Err(DecodeError::ForeignTag);
    }
    if b.len() < ENVELOPE_LEN {
        return Err(DecodeError::Truncated {
            len: b.len(),
            needed: ENVELOPE_LEN,
        });
    }
    let object_type = b[TAG_LEN];
    if object_type != OBJECT_TYPE_DEFAULT {
        return Err(DecodeError::BadObjectType(object_type));
    }
    let revision = b[TAG_LEN + 1];
    if revision == 0 {
        return Err(DecodeError::BadRevision(revision));
    }
    let size = u16_at(b, TAG_LEN + 2);
    let declared = usize::from(size);
    let fits = if revision == 1 {
        declared == v1_len
    } else {
        declared >= v1_len
    };
    if !fits {
        return Err(DecodeError::BadSize { revision, size });
    }
    if b.len() < declared {
        return Err(DecodeError::Truncated {
            len: b.len(),
            needed: declared,
        });
    }
    Ok(Envelope { revision, size })
}

/// Reads a little-endian `u16` at `at`.
pub fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// Reads a little-endian `u32` at `at`.
pub fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a little-endian `u64` at `at`.
pub fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Writes a little-endian `u16` at `at`.
pub fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

/// Writes a little-endian `u32` at `at`.
pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Writes a little-endian `u64` at `at`.
pub fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
