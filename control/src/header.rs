//! The header every request and response starts with.

use crate::code::Ioctl;
use crate::error::DecodeError;
use crate::wire::{put_u16, put_u32, u16_at, u32_at};

/// Bytes of the header.
pub const HEADER_LEN: usize = 8;
/// The layout version this crate reads and writes.
pub const VERSION: u16 = 1;

/// `version u16 | kind u16 | length u32`: the layout version, which IOCTL the message belongs to
/// ([`Ioctl::kind`]), and the message's whole length in bytes, header included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Layout version ([`VERSION`]).
    pub version: u16,
    /// The IOCTL.
    pub ioctl: Ioctl,
    /// The message's length, header included.
    pub length: u32,
}

impl Header {
    /// A version-[`VERSION`] header.
    pub const fn new(ioctl: Ioctl, length: u32) -> Header {
        Header {
            version: VERSION,
            ioctl,
            length,
        }
    }

    /// Writes the header into `b[..HEADER_LEN]` (the caller checked the room).
    pub(crate) fn put(self, b: &mut [u8]) {
        put_u16(b, 0, self.version);
        put_u16(b, 2, self.ioctl.kind());
        put_u32(b, 4, self.length);
    }

    /// Reads and checks the header of `b`, a message expected for `ioctl`: the version is ours,
    /// the kind is `ioctl`'s, and the declared length is no more than the bytes present.
    ///
    /// # Errors
    /// The first check that fails.
    pub fn decode(b: &[u8], ioctl: Ioctl) -> Result<Header, DecodeError> {
        if b.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                len: b.len(),
                needed: HEADER_LEN,
            });
        }
        let version = u16_at(b, 0);
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let kind = u16_at(b, 2);
        if kind != ioctl.kind() {
            return Err(DecodeError::WrongKind {
                expected: ioctl.kind(),
                found: kind,
            });
        }
        let length = u32_at(b, 4);
        if usize::try_from(length).map_or(true, |l| l < HEADER_LEN || l > b.len()) {
            return Err(DecodeError::BadLength {
                declared: length,
                present: b.len(),
            });
        }
        Ok(Header {
            version,
            ioctl,
            length,
        })
    }
}
