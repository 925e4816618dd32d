//! `mpctl`: what an administrator runs against mpfilter's control device.
//!
//! - [`transport`] — how IOCTL bytes reach the driver: `DeviceIoControl` on `\\.\MpFilter` on
//!   Windows, a Unix socket to a simulator here (the same bytes, framed).
//! - [`client`] — the IOCTLs as calls: list the groups (growing the buffer when the driver asks),
//!   a module's counters, fail / reinstate a path, set a group's policy and parameters or a
//!   path's weight / priority / quota, reset counters; each refusal a typed [`client::Error`].
//! - [`render`] — `mpctl show` (in the manner of `multipath -ll`) and `mpctl stats --json`.
//! - [`install`] — `mpctl install` / `uninstall`: the filter's network component through
//!   INetCfg, as `netcfg -l … -i` / `netcfg -u` do (Windows only).

pub mod client;
pub mod install;
pub mod render;
pub mod transport;
