//! The simulated interrupt request level of the emulator's thread.

use std::fmt;

/// The IRQLs an NDIS filter runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Irql {
    /// PASSIVE_LEVEL (0).
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
