//! `mpctl`: what an administrator runs against mpfilter's control device.
//!
//! - [`transport`] — how IOCTL bytes reach the driver: `DeviceIoControl` on `\\.\MpFilter` on
//!   Windows, a Unix socket to a simulator here (the same bytes, framed).
//! - [`client`] — the IOCTLs as calls: list the groups (growing the buffer when the driver asks),
//!   a module's counters, fail / reinstate a path, each refusal a typed [`client::Error`].
//! - [`render`] — `mpctl show` (in the manner of `multipath -ll`) and `mpctl stats --json`.
//!
//! Not offered: setting a group's policy — the driver has no runtime policy change (see
//! `filter/src/driver/control.rs`).

pub mod client;
pub mod render;
pub mod transport;
