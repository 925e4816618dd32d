//! The functions the emulator exports: ndis.sys and the two ntoskrnl driver-object-extension
//! routines, each implemented once and exported for both ABIs by [`exports!`](macro@crate::exports).
//!
//! Every implementation checks its rules inside the world, records a violation and returns early
//! (neutralising the call) when one is broken; none of them panics.

mod checks;
mod config;
mod datapath;
pub mod diag;
mod driver;
pub mod etw;
pub mod io;
pub mod mdl;
mod nbl;
pub mod ndis;
pub mod ntos;
mod oid;
// Timer objects, spin locks, the clock and processor numbers.
pub mod kernel_time;
pub mod spin_lock;
pub mod timer;
