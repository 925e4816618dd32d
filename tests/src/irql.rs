//! The simulated interrupt request level of a virtual processor (the emulator's thread, or in
//! threads mode each thread's own).

use std::fmt;

/// The IRQLs an NDIS filter runs at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Irql {
    /// PASSIVE_LEVEL (0).
    #[default]
    Passive,
    /// DISPATCH_LEVEL (2).
    Dispatch,
}

impl Irql {
    /// Whether this is DISPATCH_LEVEL.
    pub fn is_dispatch(self) -> bool {
        self == Irql::Dispatch
    }
}

impl fmt::Display for Irql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Irql::Passive => "PASSIVE_LEVEL",
            Irql::Dispatch => "DISPATCH_LEVEL",
        })
    }
}
