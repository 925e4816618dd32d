//! The filter module state machine of NDIS ("Filter Module States and Operations").
//!
//! ```text
//!  Detached --Attach--> Attaching --AttachSucceeded--> Paused --Restart--> Restarting
//!     ^                     |                          ^  |  ^                 |
//!     +----AttachFailed-----+                          |  |  +-RestartFailed---+
//!     +-------------------Detach-----------------------|--+                    |
//!                                                      |        RestartSucceeded
//!                                         PauseComplete|                       v
//!                                                   Pausing <--Pause------ Running
//! ```
//! Pause and Detach cannot fail. NDIS never restarts, attaches or detaches a module while it is
//! Pausing, nor pauses it while it is Restarting; the table rejects those as illegal.

use core::fmt;

/// The state of one filter module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ModuleState {
    /// No module (before FilterAttach, after FilterDetach).
    Detached = 0,
    /// FilterAttach is running.
    Attaching = 1,
    /// Attached, no data flows; OIDs and status indications may.
    Paused = 2,
    /// FilterRestart is running.
    Restarting = 3,
    /// Data flows.
    Running = 4,
    /// FilterPause returned PENDING; waiting for forwarded NBLs to come back.
    Pausing = 5,
}

/// What happened to a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModuleEvent {
    /// FilterAttach started.
    Attach,
    /// FilterAttach is about to return SUCCESS.
    AttachSucceeded,
    /// FilterAttach is about to return a failure.
    AttachFailed,
    /// FilterRestart started.
    Restart,
    /// FilterRestart succeeded.
    RestartSucceeded,
    /// FilterRestart failed.
    RestartFailed,
    /// FilterPause started.
    Pause,
    /// The last forwarded NBL came back (or none was out): the pause is complete.
    PauseComplete,
    /// FilterDetach.
    Detach,
}

/// An event that is not legal in the state it arrived in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IllegalTransition {
    /// The state the module was in.
    pub from: ModuleState,
    /// The event.
    pub event: ModuleEvent,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is illegal in state {:?}", self.event, self.from)
    }
}

impl ModuleState {
    /// Every state, in declaration order.
    pub const ALL: [ModuleState; 6] = [
        ModuleState::Detached,
        ModuleState::Attaching,
        ModuleState::Paused,
        ModuleState::Restarting,
        ModuleState::Running,
        ModuleState::Pausing,
    ];

    /// The state `event` leads to from `self`.
    ///
    /// # Errors
    /// The event is not legal in this state.
    #[allow(clippy::match_same_arms)] // one arm per documented edge reads best
    pub const fn on(self, event: ModuleEvent) -> Result<ModuleState, IllegalTransition> {
        use ModuleEvent as E;
        use ModuleState as S;
        match (self, event) {
            (S::Detached, E::Attach) => Ok(S::Attaching),
            (S::Attaching, E::AttachSucceeded) => Ok(S::Paused),
            (S::Attaching, E::AttachFailed) => Ok(S::Detached),
            (S::Paused, E::Detach) => Ok(S::Detached),
            (S::Paused, E::Restart) => Ok(S::Restarting),
            (S::Restarting, E::RestartSucceeded) => Ok(S::Running),
            (S::Restarting, E::RestartFailed) => Ok(S::Paused),
            (S::Pausing, E::PauseComplete) => Ok(S::Paused),
            (S::Running, E::Pause) => Ok(S::Pausing),
            (from, event) => Err(IllegalTransition { from, event }),
        }
    }

    /// Whether the filter may send and indicate receives (only in Running).
    pub const fn data_flows(self) -> bool {
        matches!(self, ModuleState::Running)
    }

    /// The state encoded by [`ModuleState::as_u8`]; `None` for any other value.
    pub const fn from_u8(v: u8) -> Option<ModuleState> {
        match v {
            0 => Some(ModuleState::Detached),
            1 => Some(ModuleState::Attaching),
            2 => Some(ModuleState::Paused),
            3 => Some(ModuleState::Restarting),
            4 => Some(ModuleState::Running),
            5 => Some(ModuleState::Pausing),
            _ => None,
        }
    }

    /// A compact encoding, for atomics.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::{ModuleEvent as E, ModuleState as S, *};

    const EVENTS: [ModuleEvent; 9] = [
        E::Attach,
        E::AttachSucceeded,
        E::AttachFailed,
        E::Restart,
        E::RestartSucceeded,
        E::RestartFailed,
        E::Pause,
        E::PauseComplete,
        E::Detach,
    ];

    #[test]
    fn exactly_the_documented_transitions_are_legal() {
        let legal = [
            (S::Detached, E::Attach, S::Attaching),
            (S::Attaching, E::AttachSucceeded, S::Paused),
            (S::Attaching, E::AttachFailed, S::Detached),
            (S::Paused, E::Restart, S::Restarting),
            (S::Restarting, E::RestartSucceeded, S::Running),
            (S::Restarting, E::RestartFailed, S::Paused),
            (S::Running, E::Pause, S::Pausing),
            (S::Pausing, E::PauseComplete, S::Paused),
            (S::Paused, E::Detach, S::Detached),
        ];
        for from in S::ALL {
            for event in EVENTS {
                let expected = legal
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                match expected {
                    Some(to) => assert_eq!(from.on(event), Ok(to), "{from:?} {event:?}"),
                    None => assert_eq!(
                        from.on(event),
                        Err(IllegalTransition { from, event }),
                        "{from:?} {event:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn ndis_forbidden_overlaps_are_illegal() {
        // No restart/attach/detach while Pausing, no pause while Restarting, no detach while
        // Running.
        assert!(S::Pausing.on(E::Restart).is_err());
        assert!(S::Pausing.on(E::Detach).is_err());
        assert!(S::Pausing.on(E::Attach).is_err());
        assert!(S::Restarting.on(E::Pause).is_err());
        assert!(S::Running.on(E::Detach).is_err());
        assert!(S::Running.on(E::Restart).is_err());
    }

    #[test]
    fn only_running_lets_data_flow_and_encoding_round_trips() {
        for s in S::ALL {
            assert_eq!(s.data_flows(), s == S::Running);
            assert_eq!(S::from_u8(s.as_u8()), Some(s));
        }
        assert_eq!(S::from_u8(6), None);
        assert_eq!(S::from_u8(0xFF), None);
    }
}
