//! `#[repr(C)]` x64 layouts and constants of NDIS timer objects, NDIS spin locks and processor
//! numbers (re-exported by [`super::types`] and [`super::consts`]).
//!
//! Sources: ndis.h and wdm.h field order as published by Microsoft (`nf-ndis-ndisallocatetimerobject`,
//! `ns-ndis-_ndis_timer_characteristics`, `nf-wdm-kegetcurrentprocessornumberex`), checked against
//! mingw-w64's `ddk/ndis.h` / `winnt.h` where those have them (`tools/hdrcheck`).
#![allow(non_snake_case, non_camel_case_types, clippy::doc_markdown)]

use super::types::NDIS_OBJECT_HEADER;
use core::ffi::c_void;

/// `NDIS_TIMER_FUNCTION`: the callback of a timer object, run at DISPATCH_LEVEL.
///
/// `FunctionContext` is the context given to `NdisSetTimerObject`, or the one of the
/// characteristics when that was NULL; the three `SystemSpecific` arguments are NDIS's.
pub type NDIS_TIMER_FUNCTION = unsafe extern "system" fn(
    SystemSpecific1: *mut c_void,
    FunctionContext: *mut c_void,
    SystemSpecific2: *mut c_void,
    SystemSpecific3: *mut c_void,
);

/// `NDIS_TIMER_CHARACTERISTICS`: what `NdisAllocateTimerObject` needs to create a timer.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_TIMER_CHARACTERISTICS {
    /// Type `NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS`, revision 1, size
    /// `NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1` (0x00).
    pub Header: NDIS_OBJECT_HEADER,
    /// Pool tag of the timer object NDIS allocates (0x04).
    pub AllocationTag: u32,
    /// The callback (0x08).
    pub TimerFunction: Option<NDIS_TIMER_FUNCTION>,
    /// Default context passed to the callback (0x10).
    pub FunctionContext: *mut c_void,
}

/// `KSPIN_LOCK`: a pointer-sized kernel spin lock.
pub type KSPIN_LOCK = usize;
/// `KIRQL`.
pub type KIRQL = u8;

/// `NDIS_SPIN_LOCK`: a kernel spin lock plus the IRQL `NdisAcquireSpinLock` raised from.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_SPIN_LOCK {
    /// The lock (0x00).
    pub SpinLock: KSPIN_LOCK,
    /// Written by `NdisAcquireSpinLock`, read by `NdisReleaseSpinLock` (0x08).
    pub OldIrql: KIRQL,
}

/// `PROCESSOR_NUMBER`: a processor as group plus group-relative number.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PROCESSOR_NUMBER {
    /// The processor group (0x00).
    pub Group: u16,
    /// The number within the group (0x02).
    pub Number: u8,
    /// Reserved, zero (0x03).
    pub Reserved: u8,
}

/// `NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS`.
pub const NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS: u8 = 0x97;
/// `NDIS_TIMER_CHARACTERISTICS_REVISION_1`.
pub const NDIS_TIMER_CHARACTERISTICS_REVISION_1: u8 = 1;
/// `NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1`: through `FunctionContext`.
pub const NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1: u16 = 24;
/// `ALL_PROCESSOR_GROUPS`: `KeQueryMaximumProcessorCountEx` counts every group.
pub const ALL_PROCESSOR_GROUPS: u16 = 0xFFFF;

#[cfg(test)]
mod layout_tests {
    //! [GCC] offsetof from the documented field order with natural x64 alignment.
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn timer_characteristics() {
        type T = NDIS_TIMER_CHARACTERISTICS;
        assert_eq!(size_of::<T>(), 24);
        assert_eq!(offset_of!(T, Header), 0);
        assert_eq!(offset_of!(T, AllocationTag), 4);
        assert_eq!(offset_of!(T, TimerFunction), 8);
        assert_eq!(offset_of!(T, FunctionContext), 16);
        assert_eq!(
            usize::from(NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1),
            offset_of!(T, FunctionContext) + size_of::<*mut c_void>()
        );
        assert_eq!(size_of::<Option<NDIS_TIMER_FUNCTION>>(), 8);
    }

    #[test]
    fn spin_lock_and_processor_number() {
        assert_eq!(size_of::<NDIS_SPIN_LOCK>(), 16);
        assert_eq!(align_of::<NDIS_SPIN_LOCK>(), 8);
        assert_eq!(offset_of!(NDIS_SPIN_LOCK, OldIrql), 8);
        assert_eq!(size_of::<PROCESSOR_NUMBER>(), 4);
        assert_eq!(offset_of!(PROCESSOR_NUMBER, Number), 2);
        assert_eq!(offset_of!(PROCESSOR_NUMBER, Reserved), 3);
    }
}
