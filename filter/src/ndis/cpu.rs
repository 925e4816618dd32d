//! Processor numbers for per-CPU state: the current processor's system-wide index and the
//! maximum processor count, both group-aware.
//!
//! An index is stable only while the caller stays at DISPATCH_LEVEL (at PASSIVE_LEVEL the thread
//! may move to another processor right after the call).

use super::consts::ALL_PROCESSOR_GROUPS;
use super::kernel_imports as imports;
use super::types::PROCESSOR_NUMBER;
use core::ptr;

/// The current processor's system-wide index, 0 ..= [`max_count`] - 1, across all groups
/// (`KeGetCurrentProcessorNumberEx`). Callable at any IRQL.
pub fn current_index() -> u32 {
    // SAFETY: a NULL ProcNumber is allowed (the argument is optional).
    unsafe { imports::KeGetCurrentProcessorNumberEx(ptr::null_mut()) }
}

/// The current processor as its system-wide index plus group and group-relative number.
pub fn current() -> (u32, PROCESSOR_NUMBER) {
    let mut number = PROCESSOR_NUMBER::default();
    // SAFETY: the out slot is a local written during the call only.
    let index = unsafe { imports::KeGetCurrentProcessorNumberEx(&raw mut number) };
    (index, number)
}

/// The most processors the system can have, in all groups (`KeQueryMaximumProcessorCountEx`
/// with `ALL_PROCESSOR_GROUPS`): constant while the system runs, so per-CPU arrays sized by it
/// cover every index [`current_index`] returns, hot-added processors included.
pub fn max_count() -> u32 {
    // SAFETY: no precondition; any IRQL.
    unsafe { imports::KeQueryMaximumProcessorCountEx(ALL_PROCESSOR_GROUPS) }
}

#[cfg(test)]
mod tests {
    use super::super::mock_kernel::KernelSession;
    use super::{current, current_index, max_count};

    #[test]
    fn index_and_count_come_from_the_kernel() {
        let session = KernelSession::new();
        session.set_processors(70, 80);
        assert_eq!(current_index(), 70, "the system-wide index");
        let (index, number) = current();
        assert_eq!(index, 70);
        assert_eq!((number.Group, number.Number, number.Reserved), (1, 6, 0));
        assert_eq!(max_count(), 80);
        assert_eq!(session.groups_asked(), [0xFFFF]);
    }
}
