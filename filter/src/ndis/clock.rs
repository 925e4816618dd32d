//! The monotonic clock: `KeQueryInterruptTimePrecise` in nanoseconds.

use super::kernel_imports as imports;

/// The 100 ns unit of interrupt time.
const NS_PER_TICK: u64 = 100;

/// Interrupt time (100 ns units) as nanoseconds, saturating.
pub const fn ticks_to_ns(ticks: u64) -> u64 {
    ticks.saturating_mul(NS_PER_TICK)
}

/// Nanoseconds of interrupt time since boot: monotonic, unaffected by changes of the system time,
/// precise to about 1 µs (it reads the performance counter). Callable at any IRQL.
pub fn now_ns() -> u64 {
    let mut qpc = 0u64;
    // SAFETY: the out slot is a local written during the call only; the function has no other
    // precondition and runs at any IRQL.
    let ticks = unsafe { imports::KeQueryInterruptTimePrecise(&raw mut qpc) };
    ticks_to_ns(ticks)
}

#[cfg(test)]
mod tests {
    use super::super::mock_kernel::KernelSession;
    use super::{now_ns, ticks_to_ns};

    #[test]
    fn interrupt_time_becomes_nanoseconds() {
        assert_eq!(ticks_to_ns(0), 0);
        assert_eq!(ticks_to_ns(3), 300);
        assert_eq!(ticks_to_ns(u64::MAX), u64::MAX);
        let session = KernelSession::new();
        session.set_interrupt_time(12_345);
        assert_eq!(now_ns(), 1_234_500);
        session.set_interrupt_time(12_346);
        assert_eq!(now_ns(), 1_234_600);
    }
}
