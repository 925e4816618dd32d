//! Why a buffer was refused, and the NTSTATUS values the driver answers with.

/// The NTSTATUS values of the control device's answers.
pub mod status {
    /// The request was carried out.
    pub const SUCCESS: i32 = 0;
    /// `STATUS_BUFFER_OVERFLOW` (a warning): the output buffer holds only the list's head, whose
    /// length field says how many bytes the whole answer needs.
    pub const BUFFER_OVERFLOW: i32 = 0x8000_0005_u32.cast_signed();
    /// `STATUS_INVALID_PARAMETER`: a field is out of range or a reserved field is not zero.
    pub const INVALID_PARAMETER: i32 = 0xC000_000D_u32.cast_signed();
    /// `STATUS_INVALID_DEVICE_REQUEST`: not a code of this device.
    pub const INVALID_DEVICE_REQUEST: i32 = 0xC000_0010_u32.cast_signed();
    /// `STATUS_ACCESS_DENIED`: a state-changing code on a handle without write access.
    pub const ACCESS_DENIED: i32 = 0xC000_0022_u32.cast_signed();
    /// `STATUS_BUFFER_TOO_SMALL`: the input is shorter than its layout, or the output cannot hold
    /// even the answer's fixed part.
    pub const BUFFER_TOO_SMALL: i32 = 0xC000_0023_u32.cast_signed();
    /// `STATUS_REVISION_MISMATCH`: a layout version this driver does not know.
    pub const REVISION_MISMATCH: i32 = 0xC000_0059_u32.cast_signed();
    /// `STATUS_INFO_LENGTH_MISMATCH`: the declared length is not the layout's.
    pub const INFO_LENGTH_MISMATCH: i32 = 0xC000_0004_u32.cast_signed();
    /// `STATUS_NOT_FOUND`: no filter module or path with that IfIndex, no group with that
    /// `GroupId`.
    pub const NOT_FOUND: i32 = 0xC000_0225_u32.cast_signed();
    /// `STATUS_DEVICE_BUSY`: the group is still completing sends of several earlier
    /// configurations; nothing was changed, try again once they are back.
    pub const DEVICE_BUSY: i32 = 0x8000_0011_u32.cast_signed();
}

/// Why a message could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the layout needs.
    Truncated {
        /// Bytes present.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// A layout version this crate does not know.
    UnsupportedVersion(u16),
    /// The header names another IOCTL.
    WrongKind {
        /// The kind of the IOCTL the message came with.
        expected: u16,
        /// The kind in the header.
        found: u16,
    },
    /// The declared length is below the header, beyond the buffer, or not the layout's.
    BadLength {
        /// The header's length field.
        declared: u32,
        /// Bytes present.
        present: usize,
    },
    /// The IfIndex is 0 (NET_IFINDEX_UNSPECIFIED).
    ZeroIfIndex,
    /// A field holds a value outside its range.
    BadValue {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// A reserved field is not zero.
    ReservedNotZero,
}

impl DecodeError {
    /// The NTSTATUS the driver completes a request with when its input fails so.
    pub const fn status(self) -> i32 {
        match self {
            DecodeError::Truncated { .. } => status::BUFFER_TOO_SMALL,
            DecodeError::UnsupportedVersion(_) => status::REVISION_MISMATCH,
            DecodeError::BadLength { .. } => status::INFO_LENGTH_MISMATCH,
            DecodeError::WrongKind { .. }
            | DecodeError::ZeroIfIndex
            | DecodeError::BadValue { .. }
            | DecodeError::ReservedNotZero => status::INVALID_PARAMETER,
        }
    }
}

/// The output buffer is too small for the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeError {
    /// Bytes the whole answer needs.
    pub needed: usize,
}
