//! Requests: what a caller puts in the input buffer.
//!
//! | IOCTL | bytes | layout after the header |
//! |---|---|---|
//! | ListGroups | 8 | — |
//! | ModuleStats | 16 | `if_index u32 \| reserved u32 (0)` |
//! | AdminPath | 16 | `if_index u32 \| action u32 (1 fail, 2 reinstate)` |
//!
//! A request's declared length and its buffer's length are both exactly its layout's.

use crate::code::Ioctl;
use crate::error::{DecodeError, EncodeError};
use crate::header::{HEADER_LEN, Header};
use crate::wire::{put_u32, u32_at};

/// Bytes of a request with no body.
pub const LIST_GROUPS_LEN: usize = HEADER_LEN;
/// Bytes of a request naming one module.
pub const MODULE_REQUEST_LEN: usize = HEADER_LEN + 8;

/// What an administrator does to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdminAction {
    /// Take the path out of service until reinstated.
    Fail,
    /// Return it to service (also the approval a path waits for under manual failback).
    Reinstate,
}

impl AdminAction {
    const fn wire(self) -> u32 {
        match self {
            AdminAction::Fail => 1,
            AdminAction::Reinstate => 2,
        }
    }

    fn from_wire(v: u32) -> Result<AdminAction, DecodeError> {
        match v {
            1 => Ok(AdminAction::Fail),
            2 => Ok(AdminAction::Reinstate),
            _ => Err(DecodeError::BadValue {
                field: "action",
                value: u64::from(v),
            }),
        }
    }
}

/// A decoded, validated request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Request {
    /// List every group and its paths.
    ListGroups,
    /// The counters of the module with this IfIndex.
    ModuleStats {
        /// The module's IfIndex (not 0).
        if_index: u32,
    },
    /// Fail or reinstate the path of the module with this IfIndex.
    AdminPath {
        /// The module's IfIndex (not 0).
        if_index: u32,
        /// What to do.
        action: AdminAction,
    },
}

impl Request {
    /// The IOCTL the request is sent with.
    pub const fn ioctl(self) -> Ioctl {
        match self {
            Request::ListGroups => Ioctl::ListGroups,
            Request::ModuleStats { .. } => Ioctl::ModuleStats,
            Request::AdminPath { .. } => Ioctl::AdminPath,
        }
    }

    /// Bytes of its encoding.
    pub const fn len(self) -> usize {
        match self {
            Request::ListGroups => LIST_GROUPS_LEN,
            Request::ModuleStats { .. } | Request::AdminPath { .. } => MODULE_REQUEST_LEN,
        }
    }

    /// Never: every request has at least a header (for clippy's `len_without_is_empty`).
    pub const fn is_empty(self) -> bool {
        false
    }

    /// Writes the request into `out`; returns the bytes written.
    ///
    /// # Errors
    /// [`EncodeError`] when `out` is shorter than [`Request::len`]; nothing is written then.
    pub fn encode(self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let len = self.len();
        if out.len() < len {
            return Err(EncodeError { needed: len });
        }
        // Request layouts are 8 or 16 bytes.
        #[allow(clippy::cast_possible_truncation)]
        Header::new(self.ioctl(), len as u32).put(out);
        match self {
            Request::ListGroups => {}
            Request::ModuleStats { if_index } => {
                put_u32(out, HEADER_LEN, if_index);
                put_u32(out, HEADER_LEN + 4, 0);
            }
            Request::AdminPath { if_index, action } => {
                put_u32(out, HEADER_LEN, if_index);
                put_u32(out, HEADER_LEN + 4, action.wire());
            }
        }
        Ok(len)
    }

    /// Decodes the input buffer of an IOCTL whose code is `code`.
    ///
    /// # Errors
    /// [`DecodeError`] for an unknown code (as `WrongKind`), a short buffer, another version, a
    /// header of another IOCTL, a length that is not the layout's, IfIndex 0, an unknown action
    /// or a reserved field that is not zero.
    pub fn decode(code: u32, b: &[u8]) -> Result<Request, DecodeError> {
        let Some(ioctl) = Ioctl::from_code(code) else {
            return Err(DecodeError::WrongKind {
                expected: 0,
                found: if b.len() >= 4 {
                    u16::from_le_bytes([b[2], b[3]])
                } else {
                    0
                },
            });
        };
        let layout = match ioctl {
            Ioctl::ListGroups => LIST_GROUPS_LEN,
            Ioctl::ModuleStats | Ioctl::AdminPath => MODULE_REQUEST_LEN,
        };
        if b.len() < layout {
            return Err(DecodeError::Truncated {
                len: b.len(),
                needed: layout,
            });
        }
        let header = Header::decode(b, ioctl)?;
        if header.length as usize != layout || b.len() != layout {
            return Err(DecodeError::BadLength {
                declared: header.length,
                present: b.len(),
            });
        }
        match ioctl {
            Ioctl::ListGroups => Ok(Request::ListGroups),
            Ioctl::ModuleStats => {
                let if_index = if_index_at(b)?;
                if u32_at(b, HEADER_LEN + 4) != 0 {
                    return Err(DecodeError::ReservedNotZero);
                }
                Ok(Request::ModuleStats { if_index })
            }
            Ioctl::AdminPath => {
                let if_index = if_index_at(b)?;
                let action = AdminAction::from_wire(u32_at(b, HEADER_LEN + 4))?;
                Ok(Request::AdminPath { if_index, action })
            }
        }
    }
}

fn if_index_at(b: &[u8]) -> Result<u32, DecodeError> {
    match u32_at(b, HEADER_LEN) {
        0 => Err(DecodeError::ZeroIfIndex),
        i => Ok(i),
    }
}
