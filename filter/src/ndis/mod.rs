//! The hand-written NDIS 6.30 FFI: the only module of the filter that handles raw NDIS pointers.
//!
//! - [`types`] — `#[repr(C)]` x64 layouts with offset tests.
//! - [`consts`] — status codes, flags, object header types, revisions, OIDs.
//! - [`ffi`] — the imported functions, declared once for Windows and the Linux emulator.

pub mod consts;
pub mod ffi;
pub mod types;
