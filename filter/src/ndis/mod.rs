//! The hand-written NDIS 6.30 FFI: the only module of the filter that handles raw NDIS pointers.
//!
//! - [`types`] — `#[repr(C)]` x64 layouts with offset tests.
//! - [`consts`] — status codes, flags, object header types, revisions, OIDs.
//! - [`ffi`] — the imported functions, declared once for Windows and the Linux emulator.
//! - [`config`] — a module's configuration (open, read values, close on drop).
//! - [`nbl`], [`flags`], [`handle`], [`oid`], [`params`] — safe wrappers: owning NBL chains and
//!   accessors, typed flags, the module handle with one safe method per NDIS call the filter makes,
//!   OID requests and the borrowed callback arguments.
//! - [`irp`] — the IRP layouts and [`irp::Irp`], one control-device request completed once.
//! - [`pool`] — [`NblPool`], the NBL pool a module's clones come from.
//! - `diag_host` (host build only) — the call into the emulator's diagnostics recorder behind
//!   the diagnostics' emulator backend.
//!
//! A leaf: nothing here knows the filter module or the driver. The callbacks NDIS calls live in
//! the `driver` module of the crate, which turns raw arguments into these wrappers.
//!
//! # Tests and Miri
//! Every unit test under `ndis::` runs under Miri
//! (`cargo +nightly miri test -p mpfilter --lib -- ndis::`): the NBL chain and accessor tests work
//! on heap-allocated fake NBLs. In `cfg(test)` builds the NDIS imports are replaced by the
//! recording doubles of `mock` (the real imports exist only when the emulator, `ndis-emu`, is
//! linked, so no unit test of this crate can call them); `mock` and `testkit` serve the driver's
//! callback tests too.

pub mod atomic_word;
pub mod config;
pub mod consts;
#[cfg(not(windows))]
pub(crate) mod diag_host;
pub mod ffi;
pub mod flags;
pub mod handle;
pub mod irp;
pub mod nbl;
pub mod offload;
pub mod offload_types;
pub mod oid;
pub mod own_query;
pub mod params;
pub mod pool;
pub mod restart_types;
pub mod types;

#[cfg(test)]
pub(crate) mod mock;
#[cfg(test)]
pub(crate) mod testkit;

// The one place where the import target is chosen: unit tests of this crate get recording doubles
// with the same signatures; every other build calls the real imports.
#[cfg(not(test))]
pub(crate) use ffi as imports;
#[cfg(test)]
pub(crate) use mock as imports;

// The control device's imports (device registration, IRP completion and access checks): the
// same choice, with their own doubles so the data path's recorded call sequences stay as they are.
#[cfg(not(test))]
pub(crate) use ffi as io_imports;
#[cfg(test)]
pub(crate) use mock_io as io_imports;
#[cfg(test)]
pub(crate) mod mock_io;

pub use flags::{ReceiveFlags, ReturnFlags, SendCompleteFlags, SendFlags};
pub use handle::FilterHandle;
pub use nbl::{CancelId, HeaderSlots, Nbl, NblChain, NetBuffer, OwnFrame, OwnedNbl, SendMeta};
pub use offload::OffloadLimits;
pub use oid::{ClonedOidRequest, OID_SCRATCH_LEN, OidForward, OidRequest, OidScratch, RequestId};
pub use own_query::{OwnQuery, QueryStart};
pub use params::{
    AttachParameters, DevicePnpEvent, GeneralAttributes, LinkState, NetPnpEvent, RestartParameters,
    StatusIndication,
};
pub use pool::NblPool;

// Timer objects, spin locks, the clock and processor numbers.
pub mod clock;
pub mod cpu;
#[cfg(test)]
pub(crate) mod mock_kernel;
pub mod spin_lock;
pub mod sync_types;
pub mod timer;
#[cfg(not(test))]
pub(crate) use ffi as kernel_imports;
#[cfg(test)]
pub(crate) use mock_kernel as kernel_imports;
pub use spin_lock::{SpinLock, SpinLockGuard};
pub use timer::Timer;
