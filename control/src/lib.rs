//! `mpctl-proto` — the control device's contract, shared by the driver (mpfilter) and mpctl.
//!
//! * [`code`]: the IOCTL codes (`CTL_CODE`, METHOD_BUFFERED; the state-changing ones require
//!   FILE_WRITE_ACCESS) and the device's names and SDDL.
//! * [`request`]: what a caller sends (list, counters, fail / reinstate, set policy and
//!   parameters, set a path's weight / priority / quota, reset counters), decoded with every
//!   field validated ([`Request::decode`]).
//! * [`response`]: what the driver answers — the group and path list, a module's counters.
//! * [`DecodeError`]: why a buffer was refused, and the NTSTATUS the driver answers with.
//!
//! Every message starts with the same 8-byte [`Header`]: `version u16 | kind u16 | length u32`,
//! little-endian. Every field is written and read explicitly as little-endian bytes at a fixed
//! offset (no transmute, no `repr(C)` punning), so the layout is the one in the tables of
//! [`request`] and [`response`] whatever the compiler does. `no_std`, no allocation, no `unsafe`.
#![no_std]
#![forbid(unsafe_code)]

pub mod code;
mod error;
mod header;
pub mod request;
pub mod response;
mod wire;

#[cfg(test)]
mod tests;

pub use code::Ioctl;
pub use error::{DecodeError, EncodeError, status};
pub use header::{HEADER_LEN, Header, VERSION};
pub use request::{AdminAction, Request, ResetTarget, Setting, Settings};
pub use response::{
    GROUP_RECORD_LEN, GroupList, GroupRecord, LIST_HEAD_LEN, MODULE_COUNTER_NAMES, MODULE_COUNTERS,
    ModuleCounters, PATH_RECORD_LEN, PathRecord, PathState, Reason,
};
