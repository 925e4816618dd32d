//! The clock and processor numbers from ntoskrnl.exe: `KeQueryInterruptTimePrecise` (virtual
//! time), `KeGetCurrentProcessorNumberEx` (the virtual processor running now) and
//! `KeQueryMaximumProcessorCountEx` (`EmuConfig::cpus`).
#![allow(non_snake_case)]

use crate::abi::Abi;
use crate::kernel_sync::{GROUP_SIZE, processors_in};
use crate::world;
use mpfilter::ndis::types::PROCESSOR_NUMBER;

/// How long the machine has been up when the emulator's virtual clock starts, in nanoseconds:
/// on Windows the interrupt time counts from boot, and a filter attaches seconds after it at the
/// earliest. A filter that takes 0 for "long ago" (a time never set) then sees a time 9 s back,
/// not one that is still in its future.
pub const UPTIME_AT_START: u64 = 9_000_000_000;

/// `KeQueryInterruptTimePrecise`: virtual time since boot ([`UPTIME_AT_START`] plus the
/// emulator's virtual time) in 100 ns units (monotonic: the virtual clock
/// never goes back). The "performance counter" written to `qpc` is virtual nanoseconds.
///
/// # Safety
/// `qpc` is null or writable.
pub unsafe fn interrupt_time(_abi: Abi, qpc: *mut u64) -> u64 {
    let now = world::with(|w| w.now()).unwrap_or(0) + UPTIME_AT_START;
    if !qpc.is_null() {
        // SAFETY: non-null and writable (contract).
        unsafe { qpc.write(now) };
    }
    now / 100
}

/// `KeGetCurrentProcessorNumberEx`: the system-wide index of the current virtual processor.
///
/// # Safety
/// `number` is null or writable.
pub unsafe fn current_processor(_abi: Abi, number: *mut PROCESSOR_NUMBER) -> u32 {
    let cpu = world::with(|w| w.kernel.cpu).unwrap_or(0);
    if !number.is_null() {
        let n = PROCESSOR_NUMBER {
            Group: u16::try_from(cpu / GROUP_SIZE).unwrap_or(u16::MAX),
            Number: u8::try_from(cpu % GROUP_SIZE).unwrap_or(0),
            Reserved: 0,
        };
        // SAFETY: non-null and writable (contract).
        unsafe { number.write(n) };
    }
    cpu
}

/// `KeQueryMaximumProcessorCountEx`.
///
/// # Safety
/// None.
pub unsafe fn max_processors(_abi: Abi, group: u16) -> u32 {
    world::with(|w| processors_in(group, w.cfg.cpus)).unwrap_or(1)
}

crate::exports! {
    "ntoskrnl.exe" => {
        fn KeQueryInterruptTimePrecise(qpc: *mut u64) -> u64 => interrupt_time;
        fn KeGetCurrentProcessorNumberEx(number: *mut PROCESSOR_NUMBER) -> u32 => current_processor;
        fn KeQueryMaximumProcessorCountEx(group: u16) -> u32 => max_processors;
    }
}
