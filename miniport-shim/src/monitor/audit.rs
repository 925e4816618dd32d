//! An independent check of the monitor's emission rules, fed after every monitor call.
//!
//! Tests and fuzzers use it; a miniport may run it in a checked build. It keeps its own record of
//! when the reported conditions started and stopped holding and judges every tick against it:
//!
//! * Failed and Recovered strictly alternate, starting with Failed;
//! * Failed only after a condition held for at least the debounce time, Recovered only after
//!   all were clear for at least the hysteresis time;
//! * and at a tick where one of those became due, the event must come (exactly once).
#![forbid(unsafe_code)]

use crate::contract::{Conditions, PathEvent, PathEventKind, Settings};

/// A broken rule, with the tick time at which it was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Failed after Failed, or Recovered after Recovered (or first).
    NotAlternating {
        /// Tick time.
        at_ns: u64,
    },
    /// Failed before a condition held for the debounce time.
    FailedTooEarly {
        /// Tick time.
        at_ns: u64,
    },
    /// Recovered before the conditions were clear for the hysteresis time.
    RecoveredTooEarly {
        /// Tick time.
        at_ns: u64,
    },
    /// A transition was due at this tick and was not emitted.
    Missed {
        /// Tick time.
        at_ns: u64,
    },
    /// An event was emitted outside a tick, or its kind and reason disagree.
    Malformed {
        /// Tick time.
        at_ns: u64,
    },
}

/// The auditor; see the module docs.
#[derive(Clone, Debug)]
pub struct Auditor {
    debounce_ns: u64,
    hysteresis_ns: u64,
    now_ns: u64,
    held_since: Option<u64>,
    clear_since: Option<u64>,
    failed: bool,
    events: u32,
}

impl Auditor {
    /// An auditor for a monitor created at `start_ns` with `settings`.
    pub fn new(settings: Settings, start_ns: u64) -> Self {
        let mut a = Self {
            debounce_ns: 0,
            hysteresis_ns: 0,
            now_ns: start_ns,
            held_since: None,
            clear_since: Some(start_ns),
            failed: false,
            events: 0,
        };
        a.set_settings(settings);
        a
    }

    /// The monitor's settings changed.
    pub fn set_settings(&mut self, settings: Settings) {
        self.debounce_ns = u64::from(settings.debounce_ms) * 1_000_000;
        self.hysteresis_ns = u64::from(settings.hysteresis_ms) * 1_000_000;
    }

    /// Events seen so far.
    pub fn events(&self) -> u32 {
        self.events
    }

    /// Records a monitor call made at `now_ns`, after which the monitor reported `conditions`.
    /// `tick` is the event a tick returned, `None` for a call that was not a tick.
    ///
    /// # Errors
    /// The first rule the call broke.
    pub fn record(
        &mut self,
        now_ns: u64,
        conditions: Conditions,
        tick: Option<Option<&PathEvent>>,
    ) -> Result<(), Violation> {
        let at_ns = self.now_ns.max(now_ns);
        self.now_ns = at_ns;
        if conditions.is_empty() {
            self.held_since = None;
            self.clear_since.get_or_insert(at_ns);
        } else {
            self.clear_since = None;
            self.held_since.get_or_insert(at_ns);
        }
        let Some(event) = tick else {
            return Ok(());
        };
        let due = if self.failed {
            self.clear_since
                .is_some_and(|t| at_ns - t >= self.hysteresis_ns)
        } else {
            self.held_since
                .is_some_and(|t| at_ns - t >= self.debounce_ns)
        };
        match event {
            None if due => Err(Violation::Missed { at_ns }),
            None => Ok(()),
            Some(e) => {
                self.events += 1;
                if !e.kind.admits(e.reason) || e.at_ns != at_ns {
                    return Err(Violation::Malformed { at_ns });
                }
                let expected = if self.failed {
                    PathEventKind::Recovered
                } else {
                    PathEventKind::Failed
                };
                if e.kind != expected {
                    return Err(Violation::NotAlternating { at_ns });
                }
                if !due {
                    return Err(if self.failed {
                        Violation::RecoveredTooEarly { at_ns }
                    } else {
                        Violation::FailedTooEarly { at_ns }
                    });
                }
                self.failed = !self.failed;
                Ok(())
            }
        }
    }
}
