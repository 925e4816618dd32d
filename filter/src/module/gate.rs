//! The pause gate: the module state and the number of NBLs the filter has forwarded and not yet
//! got back, in one atomic word.
//!
//! Keeping both in one word makes every decision a single compare-and-swap on one location, so the
//! gate is linearizable without locks and without relying on `SeqCst` store/load pairs:
//! - a send or receive is admitted ([`PauseGate::try_enter`]) only by a CAS that sees Running and
//!   adds its NBLs to the count in the same step — once FilterPause has moved the word to Pausing,
//!   no CAS can admit anything any more;
//! - FilterPause ([`PauseGate::transition`] with `Pause`) moves Running to Pausing, or straight to
//!   Paused when the count is zero (FilterPause then returns SUCCESS);
//! - each completion or return ([`PauseGate::leave`]) subtracts its NBLs; the one CAS that takes
//!   the count to zero while Pausing also moves the word to Paused and reports
//!   `pause_completed`, so exactly one caller calls `NdisFPauseComplete`, and only after the last
//!   NBL is back.
//!
//! Acquire/release on every CAS orders each completer's last touch of its NBLs before the pause
//! completion that follows it.

use super::state::{IllegalTransition, ModuleEvent, ModuleState};
use super::sync::AtomicWord;
use core::sync::atomic::{AtomicU64, Ordering};

const STATE_SHIFT: u32 = 56;
const COUNT_MASK: u64 = (1 << STATE_SHIFT) - 1;

const fn pack(state: ModuleState, count: u64) -> u64 {
    ((state.as_u8() as u64) << STATE_SHIFT) | (count & COUNT_MASK)
}

#[allow(clippy::cast_possible_truncation)]
const fn unpack(word: u64) -> (ModuleState, u64) {
    // The word is only ever written by `pack`, so the state byte is always valid.
    let state = match ModuleState::from_u8((word >> STATE_SHIFT) as u8) {
        Some(s) => s,
        None => ModuleState::Detached,
    };
    (state, word & COUNT_MASK)
}

/// What a [`PauseGate::leave`] did.
#[must_use]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leave {
    /// This call took the count to zero while Pausing: the caller must call
    /// `NdisFPauseComplete` (once the NBLs it is handing back are gone).
    pub pause_completed: bool,
    /// More NBLs came back than were out (an accounting bug below); the count was clamped at 0.
    pub underflow: bool,
}

/// The module state and the count of forwarded NBLs that have not come back yet.
pub struct PauseGate<W: AtomicWord = AtomicU64> {
    word: W,
}

impl<W: AtomicWord> Default for PauseGate<W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W: AtomicWord> PauseGate<W> {
    /// A gate for a module that does not exist yet: Detached, nothing outstanding.
    pub fn new() -> Self {
        Self {
            word: W::new(pack(ModuleState::Detached, 0)),
        }
    }

    /// The current state.
    pub fn state(&self) -> ModuleState {
        unpack(self.word.load(Ordering::Acquire)).0
    }

    /// NBLs forwarded (sent down or indicated up) and not yet completed or returned.
    pub fn outstanding(&self) -> u64 {
        unpack(self.word.load(Ordering::Acquire)).1
    }

    /// Applies `f` to the (state, count) pair with a CAS loop; `f` returns the new pair and a
    /// result, or an error that aborts without writing.
    fn update<T, E>(
        &self,
        mut f: impl FnMut(ModuleState, u64) -> Result<((ModuleState, u64), T), E>,
    ) -> Result<T, E> {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let (state, count) = unpack(current);
            let ((new_state, new_count), out) = f(state, count)?;
            match self.word.compare_exchange_weak(
                current,
                pack(new_state, new_count),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(out),
                Err(actual) => current = actual,
            }
        }
    }

    /// Applies a lifecycle event and returns the new state.
    ///
    /// `Pause` leads to Pausing, or directly to Paused when nothing is outstanding (the pause is
    /// then complete at once). `PauseComplete` is only legal with nothing outstanding (normally
    /// [`leave`](Self::leave) performs it).
    ///
    /// # Errors
    /// The event is not legal in the current state; nothing changes.
    pub fn transition(&self, event: ModuleEvent) -> Result<ModuleState, IllegalTransition> {
        self.update(|state, count| {
            let mut next = state.on(event)?;
            if event == ModuleEvent::PauseComplete && count != 0 {
                return Err(IllegalTransition { from: state, event });
            }
            if next == ModuleState::Pausing && count == 0 {
                next = ModuleState::Paused;
            }
            Ok(((next, count), next))
        })
    }

    /// Admits `n` NBLs for forwarding iff the module is Running, counting them as outstanding.
    /// Returns false (nothing counted) in every other state.
    pub fn try_enter(&self, n: u64) -> bool {
        self.update(|state, count| match count.checked_add(n) {
            Some(total) if state.data_flows() && total <= COUNT_MASK => Ok(((state, total), ())),
            _ => Err(()),
        })
        .is_ok()
    }

    /// Counts `n` forwarded NBLs as back. See [`Leave`].
    pub fn leave(&self, n: u64) -> Leave {
        let result: Result<Leave, core::convert::Infallible> = self.update(|state, count| {
            let underflow = n > count;
            let left = count.saturating_sub(n);
            if state == ModuleState::Pausing && left == 0 {
                let done = Leave {
                    pause_completed: true,
                    underflow,
                };
                Ok(((ModuleState::Paused, 0), done))
            } else {
                let done = Leave {
                    pause_completed: false,
                    underflow,
                };
                Ok(((state, left), done))
            }
        });
        match result {
            Ok(leave) => leave,
            Err(never) => match never {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ModuleEvent as E;
    use ModuleState as S;

    fn running() -> PauseGate {
        let g = PauseGate::new();
        for e in [
            E::Attach,
            E::AttachSucceeded,
            E::Restart,
            E::RestartSucceeded,
        ] {
            g.transition(e).unwrap();
        }
        assert_eq!(g.state(), S::Running);
        g
    }

    #[test]
    fn admits_only_while_running() {
        let g: PauseGate = PauseGate::new();
        assert!(!g.try_enter(1));
        g.transition(E::Attach).unwrap();
        assert!(!g.try_enter(1));
        g.transition(E::AttachSucceeded).unwrap();
        assert!(!g.try_enter(1));
        g.transition(E::Restart).unwrap();
        assert!(!g.try_enter(1));
        g.transition(E::RestartSucceeded).unwrap();
        assert!(g.try_enter(3));
        assert_eq!(g.outstanding(), 3);
        assert_eq!(g.transition(E::Pause), Ok(S::Pausing));
        assert!(!g.try_enter(1), "nothing is admitted while pausing");
        assert_eq!(g.outstanding(), 3, "a rejected enter counts nothing");
    }

    #[test]
    fn pause_with_nothing_outstanding_completes_at_once() {
        let g = running();
        assert_eq!(g.transition(E::Pause), Ok(S::Paused));
        assert_eq!(g.leave(0), Leave::default());
        assert!(!g.try_enter(1));
    }

    #[test]
    fn the_last_leave_completes_the_pause_exactly_once() {
        let g = running();
        assert!(g.try_enter(2));
        assert!(g.try_enter(1));
        assert_eq!(g.transition(E::Pause), Ok(S::Pausing));
        assert!(!g.leave(1).pause_completed);
        assert_eq!(g.state(), S::Pausing);
        assert!(g.leave(2).pause_completed);
        assert_eq!(g.state(), S::Paused);
        assert_eq!(g.outstanding(), 0);
        // A stray late leave neither completes again nor goes negative.
        let stray = g.leave(1);
        assert!(!stray.pause_completed && stray.underflow);
        assert_eq!(g.outstanding(), 0);
    }

    #[test]
    fn completions_while_running_do_not_complete_anything() {
        let g = running();
        assert!(g.try_enter(5));
        assert_eq!(g.leave(5), Leave::default());
        assert_eq!(g.state(), S::Running);
    }

    #[test]
    fn restart_after_pause_admits_again_and_detach_ends() {
        let g = running();
        assert!(g.try_enter(1));
        g.transition(E::Pause).unwrap();
        assert!(g.leave(1).pause_completed);
        assert_eq!(g.transition(E::Restart), Ok(S::Restarting));
        assert_eq!(g.transition(E::RestartSucceeded), Ok(S::Running));
        assert!(g.try_enter(1));
        assert_eq!(g.leave(1), Leave::default());
        assert_eq!(g.transition(E::Pause), Ok(S::Paused));
        assert_eq!(g.transition(E::Detach), Ok(S::Detached));
    }

    #[test]
    fn illegal_events_change_nothing() {
        let g = running();
        assert!(g.try_enter(1));
        assert!(g.transition(E::Detach).is_err());
        assert!(g.transition(E::Restart).is_err());
        g.transition(E::Pause).unwrap();
        assert_eq!(
            g.transition(E::PauseComplete),
            Err(IllegalTransition {
                from: S::Pausing,
                event: E::PauseComplete
            }),
            "a pause cannot be declared complete with NBLs out"
        );
        assert_eq!(g.state(), S::Pausing);
        assert_eq!(g.outstanding(), 1);
    }

    #[test]
    fn the_count_never_overflows_into_the_state() {
        let g = running();
        assert!(g.try_enter(COUNT_MASK));
        assert!(!g.try_enter(1));
        assert_eq!(g.state(), S::Running);
        assert_eq!(g.leave(COUNT_MASK), Leave::default());
    }
}
