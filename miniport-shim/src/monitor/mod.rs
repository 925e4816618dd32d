//! The health monitor: pure decision logic a miniport feeds with its own events and clock.
//!
//! The miniport reports what it sees ([`Monitor::on_send`], [`Monitor::on_complete`],
//! [`Monitor::on_link`], [`Monitor::on_heartbeat_sent`], [`Monitor::on_heartbeat_answered`],
//! [`Monitor::on_admin`]) and calls [`Monitor::tick`] from a periodic timer; only `tick` decides,
//! and it returns the [`PathEvent`] to indicate when the path fails or recovers.
//!
//! Every call re-evaluates the failure conditions at its `now`: a condition "held since" the
//! first call that saw it, and "cleared since" the first call that saw none. Failed is emitted at
//! the first tick at which some condition has held for the debounce time; Recovered at the first
//! tick at which all have been clear for the hysteresis time. The two strictly alternate,
//! starting with Failed.
//!
//! Time is the caller's monotonic clock in nanoseconds (e.g. `KeQueryInterruptTimePrecise` × 100);
//! a `now` earlier than one already seen is taken as that one, so a clock read on another CPU
//! cannot move the monitor backwards.
//!
//! Concurrency: the monitor is plain data behind `&mut self`. A miniport keeps one per adapter and
//! calls it under that adapter's spin lock (the one its send and completion paths already hold, or
//! a dedicated one); every call is O(1) (the window sum visits 16 buckets), allocates nothing and
//! never blocks, so it is fit for DISPATCH_LEVEL.
#![forbid(unsafe_code)]

pub mod audit;
mod window;

pub use window::ErrorWindow;

use crate::contract::{
    Conditions, Evidence, HealthSnapshot, HealthState, PathEvent, PathEventKind, PathIdentity,
    Reason, Settings, SettingsError,
};

const NS_PER_MS: u64 = 1_000_000;

fn ms_to_ns(ms: u32) -> u64 {
    u64::from(ms) * NS_PER_MS
}

/// Per-adapter path health monitor. See the module docs.
// Each flag is an independent input the miniport reports; folding them into a set would hide that.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Debug)]
pub struct Monitor {
    settings: Settings,
    path: PathIdentity,
    now_ns: u64,
    pending: u32,
    /// Last completion, or the send that made the hardware busy again: the TX clock's origin.
    progress_ns: u64,
    last_completion_ns: Option<u64>,
    window: ErrorWindow,
    link_up: bool,
    admin_down: bool,
    heartbeat_outstanding: bool,
    heartbeat_misses: u32,
    conditions: Conditions,
    /// First observation of the current run of "some condition holds".
    held_since_ns: Option<u64>,
    /// First observation of the current run of "no condition holds".
    clear_since_ns: Option<u64>,
    failed: bool,
    state_since_ns: u64,
    sequence: u32,
    last_reason: Option<Reason>,
    failures_total: u32,
    recoveries_total: u32,
}

impl Monitor {
    /// A monitor for `path`, starting healthy with the link up at time `now_ns`.
    ///
    /// # Errors
    /// Invalid `settings`.
    pub fn new(path: PathIdentity, settings: Settings, now_ns: u64) -> Result<Self, SettingsError> {
        settings.validate()?;
        Ok(Self {
            settings,
            path,
            now_ns,
            pending: 0,
            progress_ns: now_ns,
            last_completion_ns: None,
            window: ErrorWindow::new(settings.error_window_ms),
            link_up: true,
            admin_down: false,
            heartbeat_outstanding: false,
            heartbeat_misses: 0,
            conditions: Conditions::NONE,
            held_since_ns: None,
            clear_since_ns: Some(now_ns),
            failed: false,
            state_since_ns: now_ns,
            sequence: 0,
            last_reason: None,
            failures_total: 0,
            recoveries_total: 0,
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// Replaces the settings. A new window length starts an empty window; the other state stays.
    ///
    /// # Errors
    /// Invalid `settings`; the old ones stay in force.
    pub fn set_settings(&mut self, settings: Settings, now_ns: u64) -> Result<(), SettingsError> {
        settings.validate()?;
        if settings.error_window_ms != self.settings.error_window_ms {
            self.window = ErrorWindow::new(settings.error_window_ms);
        }
        self.settings = settings;
        self.observe(now_ns);
        Ok(())
    }

    /// `n` sends were handed to the hardware.
    pub fn on_send(&mut self, n: u32, now_ns: u64) {
        let now = self.advance(now_ns);
        if self.pending == 0 && n > 0 {
            self.progress_ns = now;
        }
        self.pending = self.pending.saturating_add(n);
        self.observe(now);
    }

    /// `n` sends completed, `errors` of them with a failure status (clamped to `n`).
    pub fn on_complete(&mut self, n: u32, errors: u32, now_ns: u64) {
        let now = self.advance(now_ns);
        self.pending = self.pending.saturating_sub(n);
        self.window.record(now, n, errors.min(n));
        if n > 0 {
            self.progress_ns = now;
            self.last_completion_ns = Some(now);
        }
        self.observe(now);
    }

    /// The link went up or down.
    pub fn on_link(&mut self, up: bool, now_ns: u64) {
        self.link_up = up;
        self.observe(now_ns);
    }

    /// An administrator holds the path down (`true`) or releases it.
    pub fn on_admin(&mut self, down: bool, now_ns: u64) {
        self.admin_down = down;
        self.observe(now_ns);
    }

    /// The miniport sent a heartbeat probe. A probe still unanswered when the next is sent
    /// counts as a miss.
    pub fn on_heartbeat_sent(&mut self, now_ns: u64) {
        if self.heartbeat_outstanding {
            self.heartbeat_misses = self.heartbeat_misses.saturating_add(1);
        }
        self.heartbeat_outstanding = true;
        self.observe(now_ns);
    }

    /// The peer answered the outstanding probe: the miss run ends.
    pub fn on_heartbeat_answered(&mut self, now_ns: u64) {
        self.heartbeat_outstanding = false;
        self.heartbeat_misses = 0;
        self.observe(now_ns);
    }

    /// The periodic decision. Returns the event to indicate, if the path failed or recovered.
    pub fn tick(&mut self, now_ns: u64) -> Option<PathEvent> {
        let now = self.observe(now_ns);
        if self.failed {
            let since = self.clear_since_ns?;
            if now - since < ms_to_ns(self.settings.hysteresis_ms) {
                return None;
            }
            self.failed = false;
            self.recoveries_total = self.recoveries_total.saturating_add(1);
            Some(self.emit(PathEventKind::Recovered, Reason::Recovered, since, now))
        } else {
            let since = self.held_since_ns?;
            if now - since < ms_to_ns(self.settings.debounce_ms) {
                return None;
            }
            let reason = self.conditions.primary_reason()?;
            self.failed = true;
            self.failures_total = self.failures_total.saturating_add(1);
            Some(self.emit(PathEventKind::Failed, reason, since, now))
        }
    }

    /// The conditions as of the last call.
    pub fn conditions(&self) -> Conditions {
        self.conditions
    }

    /// The latest time the monitor has seen.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Where the decision stands as of the last call.
    pub fn state(&self) -> HealthState {
        match (self.failed, self.conditions.is_empty()) {
            (false, true) => HealthState::Healthy,
            (false, false) => HealthState::Failing,
            (true, false) => HealthState::Failed,
            (true, true) => HealthState::Recovering,
        }
    }

    /// The health snapshot at `now_ns`, as the OID query returns it.
    pub fn snapshot(&mut self, now_ns: u64) -> HealthSnapshot {
        let now = self.observe(now_ns);
        HealthSnapshot {
            state: self.state(),
            conditions: self.conditions,
            last_reason: self.last_reason,
            sequence: self.sequence,
            path: self.path,
            now_ns: now,
            state_since_ns: self.state_since(),
            evidence: self.evidence(now),
            failures_total: self.failures_total,
            recoveries_total: self.recoveries_total,
        }
    }

    fn state_since(&self) -> u64 {
        let run = if self.conditions.is_empty() {
            self.clear_since_ns
        } else {
            self.held_since_ns
        };
        // The state changes either with the run of conditions or with an emission.
        run.unwrap_or(self.state_since_ns).max(self.state_since_ns)
    }

    fn emit(&mut self, kind: PathEventKind, reason: Reason, since: u64, now: u64) -> PathEvent {
        self.sequence = self.sequence.wrapping_add(1).max(1);
        self.last_reason = Some(reason);
        self.state_since_ns = now;
        PathEvent {
            kind,
            reason,
            sequence: self.sequence,
            path: self.path,
            at_ns: now,
            since_ns: since,
            evidence: self.evidence(now),
        }
    }

    fn evidence(&self, now: u64) -> Evidence {
        let (completions, errors) = self.window.totals(now);
        let ms_since_last_completion = self.last_completion_ns.map_or(u32::MAX, |t| {
            u32::try_from((now - t) / NS_PER_MS).unwrap_or(u32::MAX)
        });
        Evidence {
            pending_sends: self.pending,
            errors_in_window: errors,
            completions_in_window: completions,
            ms_since_last_completion,
            missed_heartbeats: self.heartbeat_misses,
        }
    }

    fn advance(&mut self, now_ns: u64) -> u64 {
        self.now_ns = self.now_ns.max(now_ns);
        self.now_ns
    }

    fn evaluate(&self, now: u64) -> Conditions {
        let s = &self.settings;
        let mut c = Conditions::NONE;
        if !self.link_up {
            c = c.with(Conditions::LINK_DOWN);
        }
        if self.admin_down {
            c = c.with(Conditions::ADMIN_DOWN);
        }
        if self.pending > 0 && now - self.progress_ns >= ms_to_ns(s.tx_timeout_ms) {
            c = c.with(Conditions::TX_STALL);
        }
        let (completions, errors) = self.window.totals(now);
        if completions >= s.error_min_samples
            && u64::from(errors) * 1_000
                >= u64::from(s.error_rate_permille) * u64::from(completions)
        {
            c = c.with(Conditions::ERROR_RATE);
        }
        if s.heartbeat_misses > 0 && self.heartbeat_misses >= s.heartbeat_misses {
            c = c.with(Conditions::HEARTBEAT_LOST);
        }
        c
    }

    fn observe(&mut self, now_ns: u64) -> u64 {
        let now = self.advance(now_ns);
        self.conditions = self.evaluate(now);
        if self.conditions.is_empty() {
            self.held_since_ns = None;
            self.clear_since_ns.get_or_insert(now);
        } else {
            self.clear_since_ns = None;
            self.held_since_ns.get_or_insert(now);
        }
        now
    }
}

#[cfg(test)]
mod tests;
