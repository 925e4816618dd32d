//! The per-path state machine (control plane only: owned by the [`super::PathGroup`], mutated
//! through `&mut`).
//!
//! A path collects *fault conditions* (link down, shim-reported failure, lost probes, paused,
//! detached, admin-failed, send-error trip). A usable path (Active, Standby, Marginal) with any
//! condition becomes Failed — for link down only once the down-delay has passed. A Failed path whose
//! conditions have all cleared becomes Recovering. A Recovering path returns to service once it has
//! been healthy for the hold-down (`up_delay`, or `max(up_delay, delay)` with deferred failback;
//! with manual failback it also needs an `AdminReinstate`, unless no other path is usable); if it
//! failed too often within the flap window it returns as Marginal, and a Marginal path returns to
//! its role state after staying healthy for `flap.stable_ns`. Every transition carries a [`Reason`].

use super::config::{Failback, GroupConfig};
use super::types::{PathEvent, PathId, PathState, Reason, Role, Transition};

const LINK: u16 = 1 << 0;
const SHIM: u16 = 1 << 1;
const PROBE: u16 = 1 << 2;
const PAUSED: u16 = 1 << 3;
const DETACHED: u16 = 1 << 4;
const ADMIN: u16 = 1 << 5;
const ERRORS: u16 = 1 << 6;
/// Conditions that count as faults for flap damping (administrative ones do not).
const FAULTS: u16 = LINK | SHIM | PROBE | ERRORS;

const FLAP_SLOTS: usize = 8;

/// State-machine record of one path.
#[derive(Clone, Debug)]
pub struct Health {
    id: PathId,
    role: Role,
    /// Current state.
    pub state: PathState,
    cond: u16,
    link_down_at: u64,
    recovering_since: u64,
    marginal_since: u64,
    approved: bool,
    probe_misses: u8,
    failures: [u64; FLAP_SLOTS],
    failure_count: usize,
    errors_tripped_at: u64,
    /// Start of the current send-error window.
    pub error_window_start: u64,
    /// The latest transition.
    pub last: Transition,
    /// Number of transitions.
    pub transitions: u64,
}

impl Health {
    /// A healthy path in its role state.
    pub fn new(id: PathId, role: Role, now_ns: u64) -> Self {
        let state = role_state(role);
        Self {
            id,
            role,
            state,
            cond: 0,
            link_down_at: 0,
            recovering_since: 0,
            marginal_since: 0,
            approved: false,
            probe_misses: 0,
            failures: [0; FLAP_SLOTS],
            failure_count: 0,
            errors_tripped_at: 0,
            error_window_start: now_ns,
            last: Transition {
                path: id,
                from: state,
                to: state,
                reason: Reason::Initial,
                at_ns: now_ns,
            },
            transitions: 0,
        }
    }

    /// Applies an event's effect on the fault conditions; returns the reason to use if it causes a
    /// transition.
    pub fn apply(&mut self, ev: PathEvent, now_ns: u64, cfg: &GroupConfig) -> Reason {
        match ev {
            PathEvent::LinkDown => {
                if self.cond & LINK == 0 {
                    self.cond |= LINK;
                    self.link_down_at = now_ns;
                }
                Reason::LinkDown
            }
            PathEvent::LinkUp => {
                self.cond &= !(LINK | ERRORS);
                Reason::LinkUp
            }
            PathEvent::ShimPathFailed => {
                self.cond |= SHIM;
                Reason::ShimPathFailed
            }
            PathEvent::ShimPathRecovered => {
                self.cond &= !(SHIM | ERRORS);
                Reason::ShimPathRecovered
            }
            PathEvent::ProbeLost => {
                self.probe_misses = self.probe_misses.saturating_add(1);
                if self.probe_misses >= cfg.probe_miss_max {
                    self.cond |= PROBE;
                }
                Reason::ProbeLost
            }
            PathEvent::ProbeAnswered => {
                self.probe_misses = 0;
                self.cond &= !(PROBE | ERRORS);
                Reason::ProbeAnswered
            }
            PathEvent::MemberPaused => {
                self.cond |= PAUSED;
                Reason::MemberPaused
            }
            PathEvent::MemberRestarted => {
                self.cond &= !PAUSED;
                Reason::MemberRestarted
            }
            PathEvent::MemberDetached => {
                self.cond |= DETACHED;
                Reason::MemberDetached
            }
            PathEvent::MemberAttached => {
                self.cond &= !DETACHED;
                Reason::MemberAttached
            }
            PathEvent::AdminFail => {
                self.cond |= ADMIN;
                self.approved = false;
                Reason::AdminFail
            }
            PathEvent::AdminReinstate => {
                self.cond &= !(ADMIN | ERRORS);
                self.approved = true;
                self.failure_count = 0;
                if self.state == PathState::Marginal {
                    // Operator override: a marginal path is trusted again at once.
                    self.marginal_since = 0;
                }
                Reason::AdminReinstate
            }
        }
    }

    /// Trips the send-error condition.
    pub fn trip_errors(&mut self, now_ns: u64) {
        self.cond |= ERRORS;
        self.errors_tripped_at = now_ns;
    }

    /// Clears an error trip older than `recovery_ns`; returns whether it did.
    pub fn forgive_errors(&mut self, now_ns: u64, recovery_ns: u64) -> bool {
        if self.cond & ERRORS != 0 && now_ns.saturating_sub(self.errors_tripped_at) >= recovery_ns {
            self.cond &= !ERRORS;
            true
        } else {
            false
        }
    }

    /// Whether no fault condition is set.
    pub fn healthy(&self) -> bool {
        self.cond == 0
    }

    /// The reason naming the most significant fault condition.
    fn fault_reason(&self) -> Reason {
        let c = self.cond;
        if c & ADMIN != 0 {
            Reason::AdminFail
        } else if c & DETACHED != 0 {
            Reason::MemberDetached
        } else if c & PAUSED != 0 {
            Reason::MemberPaused
        } else if c & SHIM != 0 {
            Reason::ShimPathFailed
        } else if c & PROBE != 0 {
            Reason::ProbeLost
        } else if c & ERRORS != 0 {
            Reason::SendErrors
        } else {
            Reason::LinkDown
        }
    }

    fn failures_in_window(&self, now_ns: u64, window_ns: u64) -> usize {
        self.failures[..self.failure_count.min(FLAP_SLOTS)]
            .iter()
            .filter(|&&t| now_ns.saturating_sub(t) < window_ns)
            .count()
    }

    fn record_failure(&mut self, now_ns: u64) {
        // Keep the newest FLAP_SLOTS failure times.
        if self.failure_count < FLAP_SLOTS {
            self.failures[self.failure_count] = now_ns;
            self.failure_count += 1;
        } else {
            self.failures.copy_within(1.., 0);
            self.failures[FLAP_SLOTS - 1] = now_ns;
        }
    }

    /// One step of the state machine at `now`. `hint` is the reason of the event being processed
    /// (used for transitions caused by a condition clearing); `others_usable` tells whether any
    /// other path can carry traffic (manual failback releases a path when none can).
    pub fn step(
        &mut self,
        now_ns: u64,
        cfg: &GroupConfig,
        hint: Reason,
        others_usable: bool,
    ) -> Option<Transition> {
        let (to, reason) = match self.state {
            PathState::Active | PathState::Standby | PathState::Marginal => {
                let pending_link_only = self.cond == LINK
                    && now_ns.saturating_sub(self.link_down_at) < cfg.down_delay_ns;
                if self.cond != 0 && !pending_link_only {
                    if self.cond & FAULTS != 0 && self.cond & (ADMIN | PAUSED | DETACHED) == 0 {
                        self.record_failure(now_ns);
                    }
                    (PathState::Failed, self.fault_reason())
                } else if self.state == PathState::Marginal
                    && self.cond == 0
                    && (self.marginal_since == 0
                        || now_ns.saturating_sub(self.marginal_since) >= cfg.flap.stable_ns)
                {
                    self.failure_count = 0;
                    let reason = if self.marginal_since == 0 {
                        Reason::AdminReinstate
                    } else {
                        Reason::MarginalStable
                    };
                    (role_state(self.role), reason)
                } else {
                    return None;
                }
            }
            PathState::Failed => {
                if self.cond != 0 {
                    return None;
                }
                self.recovering_since = now_ns;
                let reason = if matches!(hint, Reason::Initial) {
                    Reason::ErrorsForgiven
                } else {
                    hint
                };
                (PathState::Recovering, reason)
            }
            PathState::Recovering => {
                if self.cond != 0 {
                    // A fault while recovering is a flap too: without it a path that keeps
                    // failing within its hold-down would never count as flapping.
                    if self.cond & FAULTS != 0 && self.cond & (ADMIN | PAUSED | DETACHED) == 0 {
                        self.record_failure(now_ns);
                    }
                    (PathState::Failed, self.fault_reason())
                } else if now_ns.saturating_sub(self.recovering_since) < cfg.hold_down_ns() {
                    return None;
                } else {
                    let reason = match cfg.failback {
                        Failback::Manual if self.approved => Reason::AdminReinstate,
                        Failback::Manual if !others_usable => Reason::NoOtherPath,
                        Failback::Manual => return None,
                        _ => Reason::HoldDownElapsed,
                    };
                    self.approved = false;
                    let flapping = cfg.flap.max_failures > 0
                        && self.failures_in_window(now_ns, cfg.flap.window_ns)
                            >= usize::from(cfg.flap.max_failures);
                    if flapping {
                        self.marginal_since = now_ns.max(1);
                        (PathState::Marginal, Reason::FlapDamped)
                    } else {
                        (role_state(self.role), reason)
                    }
                }
            }
        };
        let t = Transition {
            path: self.id,
            from: self.state,
            to,
            reason,
            at_ns: now_ns,
        };
        self.state = to;
        self.last = t;
        self.transitions += 1;
        Some(t)
    }

    /// Runs [`Self::step`] until the state settles (at most four steps); returns the overall
    /// transition (first `from`, last `to` and reason) if the state changed.
    pub fn settle(
        &mut self,
        now_ns: u64,
        cfg: &GroupConfig,
        hint: Reason,
        others_usable: bool,
    ) -> Option<Transition> {
        let mut overall: Option<Transition> = None;
        for _ in 0..4 {
            match self.step(now_ns, cfg, hint, others_usable) {
                Some(t) => {
                    overall = Some(match overall {
                        // A zero hold-down: keep the event's reason rather than the timer's.
                        Some(o) if t.reason == Reason::HoldDownElapsed => {
                            Transition { to: t.to, ..o }
                        }
                        Some(o) => Transition { from: o.from, ..t },
                        None => t,
                    });
                }
                None => break,
            }
        }
        overall
    }
}

/// The healthy state for a role.
pub const fn role_state(role: Role) -> PathState {
    match role {
        Role::Active => PathState::Active,
        Role::Standby => PathState::Standby,
    }
}
