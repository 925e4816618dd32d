//! The emulator's record of the driver's timer objects and NDIS spin locks, and its virtual
//! processors: one [`KernelSync`] in the world.
//!
//! Timers fire on the virtual clock (`machine::timer`); spin locks are checked, never spun on
//! (the emulator runs one thread, so a contended lock could only be a deadlock).

use crate::abi::Abi;
use crate::irql::Irql;
use crate::sched::Nanos;
use crate::table::Map;
use crate::world::Token;

/// Processors per group, as Windows fills groups.
pub(crate) const GROUP_SIZE: u32 = 64;

/// `ALL_PROCESSOR_GROUPS`.
pub(crate) const ALL_PROCESSOR_GROUPS: u16 = 0xFFFF;

/// A timer object the driver allocated.
pub(crate) struct TimerObj {
    /// The storage whose address is the handle (unique while the timer lives).
    pub _token: Token,
    /// The driver or module handle it was allocated for.
    pub owner: usize,
    /// The adapter whose module owns it (None: the driver).
    pub adapter: Option<usize>,
    /// The ABI of the caller, which is the ABI of its callback.
    pub abi: Abi,
    /// Address of the `NDIS_TIMER_FUNCTION` (exposed provenance).
    pub callback: usize,
    /// The characteristics' FunctionContext.
    pub context: usize,
    /// The pending setting, if the timer is set.
    pub set: Option<TimerSetting>,
    /// Settings so far: each has its own generation, so a queued firing of an earlier setting is
    /// recognised as stale.
    pub generations: u64,
}

/// How a set timer fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerSetting {
    /// The generation its queued firing carries.
    pub generation: u64,
    /// Period in virtual ns; 0 = one-shot.
    pub period: Nanos,
    /// NdisSetTimerObject's FunctionContext (0 = the characteristics' one).
    pub context: usize,
}

/// Who holds a spin lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Held {
    /// The virtual processor.
    pub cpu: u32,
    /// Taken with NdisDprAcquireSpinLock.
    pub dpr: bool,
    /// The IRQL to restore on release (NdisAcquireSpinLock's OldIrql).
    pub old_irql: Irql,
    /// Callback frames on the stack when it was taken: a callback at this depth or below that
    /// returns while the lock is held returns holding it.
    pub depth: usize,
}

/// Everything the emulator knows about timers, spin locks and processors.
#[derive(Default)]
pub(crate) struct KernelSync {
    /// Live timer objects by handle.
    pub timers: Map<usize, TimerObj>,
    /// Queued `Event::Timer` entries (live or stale): when they are all the queue holds, the
    /// run is idle (a periodic timer would otherwise keep it busy for ever).
    pub queued_firings: usize,
    /// Allocated (and not freed) spin locks by address, with their holder.
    pub locks: Map<usize, Option<Held>>,
    /// The virtual processor running now.
    pub cpu: u32,
    /// Timer callbacks run so far.
    pub fired: u64,
}

/// Virtual nanoseconds until a timer set with `due` (NDIS 100 ns units: negative = relative,
/// otherwise an absolute time, here on the virtual clock) fires, at `now`.
pub(crate) fn delay_of(due: i64, now: Nanos) -> Nanos {
    if due < 0 {
        due.unsigned_abs().saturating_mul(100)
    } else {
        due.unsigned_abs().saturating_mul(100).saturating_sub(now)
    }
}

/// `KeQueryMaximumProcessorCountEx(group)` for `cpus` processors filling groups of 64.
pub(crate) fn processors_in(group: u16, cpus: u32) -> u32 {
    if group == ALL_PROCESSOR_GROUPS {
        return cpus;
    }
    cpus.saturating_sub(u32::from(group) * GROUP_SIZE)
        .min(GROUP_SIZE)
}

#[cfg(test)]
mod tests {
    use super::{delay_of, processors_in};

    #[test]
    fn due_times_relative_and_absolute() {
        assert_eq!(delay_of(-10, 5_000), 1_000);
        assert_eq!(delay_of(0, 5_000), 0);
        assert_eq!(delay_of(60, 5_000), 1_000);
        assert_eq!(
            delay_of(40, 5_000),
            0,
            "an absolute time in the past fires at once"
        );
    }

    #[test]
    fn groups_fill_sixty_four_at_a_time() {
        assert_eq!(processors_in(0xFFFF, 80), 80);
        assert_eq!(processors_in(0, 80), 64);
        assert_eq!(processors_in(1, 80), 16);
        assert_eq!(processors_in(2, 80), 0);
        assert_eq!(processors_in(0, 1), 1);
    }
}
