//! The path group: the hot-path API (`select`, `on_send`, `on_complete`, `cancel`) on a shared,
//! lock-free core, and the control plane (`event`, `tick`, admin setters, statistics) on the owner.
//!
//! Concurrency model. [`PathGroup`] owns the control plane and is mutated through `&mut self` by
//! one caller at a time (the driver's control path: a timer DPC, status indications, OIDs,
//! serialised by the driver). The data path uses [`Selector`] handles (cheap clones of an `Arc` to
//! the shared core) or `&PathGroup`, from any number of CPUs at once. Everything the two share is
//! atomics: the control plane publishes the eligible set as one `AtomicU32` (Release; selection
//! loads it with Acquire), per-path weights and quotas as single atomic stores, and speed shares on
//! a two-slot board. Selection never waits.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::config::{ConfigError, GroupConfig, MAX_QUOTA_BYTES, MAX_WEIGHT, PolicyConfig};
use super::counters::{self, CpuShard};
use super::flowlet::FlowTable;
use super::health::Health;
use super::mask::bit;
use super::policy::{AnyPolicy, Choice, HotCtx, Policy, TickCtx};
use super::sync::{AtomicU32, Ordering};
use super::table::{PathInfo, PathShared};
use super::types::{
    Attention, Completion, CompletionStatus, PathEvent, PathId, PathState, Reason, Selection,
    SendRequest, TargetKey, Transition, Transitions,
};

/// The shared, lock-free core.
struct Shared {
    eligible: AtomicU32,
    paths: alloc::boxed::Box<[PathShared]>,
    shards: alloc::boxed::Box<[CpuShard]>,
    flows: Option<FlowTable>,
    policy: AnyPolicy,
    error_threshold: u64,
}

impl Shared {
    #[inline]
    fn shard(&self, cpu: u32) -> &CpuShard {
        // No division in the common case (cpu index below the shard count).
        let cpu = cpu as usize;
        match self.shards.get(cpu) {
            Some(s) => s,
            None => &self.shards[cpu % self.shards.len()],
        }
    }

    #[inline]
    fn ctx(&self, mask: u32, cpu: u32) -> HotCtx<'_> {
        HotCtx {
            mask,
            cpu,
            shard: self.shard(cpu),
            paths: &self.paths,
        }
    }

    #[inline]
    fn select(&self, req: &SendRequest, now_ns: u64, avoid: u32) -> Selection {
        let eligible = self.eligible.load(Ordering::Acquire);
        if eligible == 0 {
            return Selection::NoPath;
        }
        // Avoiding is a preference: with nothing else eligible the avoided paths stay usable.
        let mask = match eligible & !avoid {
            0 => eligible,
            m => m,
        };
        let ctx = self.ctx(mask, req.cpu);
        let Some(flows) = &self.flows else {
            return to_selection(self.policy.select(&ctx, req, now_ns));
        };
        let slot = flows.slot(req.flow.l34);
        if let Some(p) = flows.live_path(slot.value, now_ns, mask) {
            flows.refresh(slot, now_ns);
            return if self.policy.admit(&ctx, p, req) {
                path(p)
            } else {
                Selection::Defer
            };
        }
        match self.policy.place(&ctx, req, now_ns) {
            Choice::Path(p) => match flows.place(slot, p, now_ns) {
                Ok(()) => path(p),
                Err(current) => match flows.live_path(current, now_ns, mask) {
                    // Another CPU placed this flow at the same moment: follow it.
                    Some(q) if q != p => {
                        self.policy.release(&ctx, p, req);
                        if self.policy.admit(&ctx, q, req) {
                            path(q)
                        } else {
                            Selection::Defer
                        }
                    }
                    _ => path(p),
                },
            },
            other => to_selection(other),
        }
    }

    #[inline]
    fn on_send(&self, p: PathId, req: &SendRequest, now_ns: u64) {
        let i = p.index();
        if i >= self.paths.len() {
            return;
        }
        let shard = self.shard(req.cpu);
        shard.count_send(i, req.len);
        let ctx = HotCtx {
            mask: 0,
            cpu: req.cpu,
            shard,
            paths: &self.paths,
        };
        self.policy.on_send(&ctx, i, req, now_ns);
    }

    #[inline]
    fn on_complete(&self, c: &Completion, now_ns: u64) -> Attention {
        let i = c.path.index();
        let Some(ps) = self.paths.get(i) else {
            return Attention::None;
        };
        let shard = self.shard(c.cpu);
        let ok = c.status == CompletionStatus::Ok;
        shard.count_complete(i, c.len, ok);
        let ctx = HotCtx {
            mask: 0,
            cpu: c.cpu,
            shard,
            paths: &self.paths,
        };
        self.policy.on_complete(&ctx, c, now_ns);
        if let CompletionStatus::Error(e) = c.status
            && e.counts_as_path_fault()
            && self.error_threshold > 0
        {
            let total = ps.hot.errors.fetch_add(1, Ordering::AcqRel) + 1;
            if total.wrapping_sub(ps.error_base.load(Ordering::Acquire)) >= self.error_threshold {
                return Attention::EvaluateHealth;
            }
        }
        Attention::None
    }

    #[inline]
    fn cancel(&self, p: PathId, req: &SendRequest) {
        let ctx = self.ctx(0, req.cpu);
        if p.index() < self.paths.len() {
            self.policy.release(&ctx, p.index(), req);
        }
    }
}

#[inline]
fn path(p: usize) -> Selection {
    Selection::Path(PathId::from_index(p))
}

#[inline]
fn to_selection(c: Choice) -> Selection {
    match c {
        Choice::Path(p) => path(p),
        Choice::Defer => Selection::Defer,
        Choice::NoPath => Selection::NoPath,
    }
}

/// A cheap, cloneable hot-path handle on a [`PathGroup`] (`Send + Sync`).
#[derive(Clone)]
pub struct Selector {
    shared: Arc<Shared>,
}

impl Selector {
    /// See [`PathGroup::select`].
    #[inline]
    pub fn select(&self, req: &SendRequest, now_ns: u64) -> Selection {
        self.shared.select(req, now_ns, 0)
    }

    /// See [`PathGroup::select_avoiding`].
    #[inline]
    pub fn select_avoiding(&self, req: &SendRequest, now_ns: u64, avoid: u32) -> Selection {
        self.shared.select(req, now_ns, avoid)
    }

    /// See [`PathGroup::on_send`].
    #[inline]
    pub fn on_send(&self, path: PathId, req: &SendRequest, now_ns: u64) {
        self.shared.on_send(path, req, now_ns);
    }

    /// See [`PathGroup::on_complete`].
    #[inline]
    pub fn on_complete(&self, c: &Completion, now_ns: u64) -> Attention {
        self.shared.on_complete(c, now_ns)
    }

    /// See [`PathGroup::cancel`].
    #[inline]
    pub fn cancel(&self, path: PathId, req: &SendRequest) {
        self.shared.cancel(path, req);
    }

    /// The published eligible set (bit per path).
    pub fn eligible_mask(&self) -> u32 {
        self.shared.eligible.load(Ordering::Acquire)
    }

    /// The send / completion counters of `path` summed over CPUs (zero for an unknown path).
    pub fn totals(&self, path: PathId) -> counters::CounterTotals {
        counters::totals(&self.shared.shards, path.index())
    }
}

/// A group of up to 16 paths: path table, state machine, policy and flowlet table.
pub struct PathGroup {
    shared: Arc<Shared>,
    cfg: GroupConfig,
    health: Vec<Health>,
    last_mask: u32,
}

impl PathGroup {
    /// Validates `cfg` and builds the group (the only place the engine allocates). All paths start
    /// healthy in their role state at time 0; report link-down paths with [`Self::event`].
    ///
    /// # Errors
    /// Any out-of-range configuration value.
    pub fn new(cfg: GroupConfig) -> Result<Self, ConfigError> {
        Self::new_at(cfg, 0)
    }

    /// Like [`Self::new`], with the construction time.
    ///
    /// # Errors
    /// Any out-of-range configuration value.
    pub fn new_at(cfg: GroupConfig, now_ns: u64) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let n = cfg.paths.len();
        let health: Vec<Health> = cfg
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| Health::new(PathId::from_index(i), p.role, now_ns))
            .collect();
        let paths = cfg
            .paths
            .iter()
            .zip(&health)
            .map(|(p, h)| PathShared::new(h.state, p.weight, p.quota_bytes))
            .collect();
        let shards = (0..cfg.cpus).map(|_| CpuShard::new(n)).collect();
        let flows = (cfg.flowlet.gap_ns > 0)
            .then(|| FlowTable::new(cfg.flowlet.table_entries as usize, cfg.flowlet.gap_ns));
        let policy = AnyPolicy::build(&cfg);
        let shared = Shared {
            eligible: AtomicU32::new(0),
            paths,
            shards,
            flows,
            policy,
            error_threshold: u64::from(cfg.errors.threshold),
        };
        let mut g = Self {
            shared: Arc::new(shared),
            cfg,
            health,
            last_mask: 0,
        };
        g.publish(now_ns);
        Ok(g)
    }

    /// A new group over the same paths with configuration `cfg` (another policy, other
    /// parameters, weights, priorities, quotas), for a runtime change. What the paths have lived
    /// through carries over: each path's state, its pending timers (hold-down, deferred
    /// failback, down delay), its last transition and transition count, its send-error count
    /// and window. What is the policy's own starts afresh (shares, speed estimates, flowlet
    /// placements, per-CPU scheduler state), and so do the counters: NBLs sent through `self`
    /// stay counted in `self`, whose [`Selector`] the caller keeps until they have completed
    /// (see [`Selector::totals`]), so neither engine ever sees a completion of a send it did not
    /// count.
    ///
    /// # Errors
    /// Any out-of-range value of `cfg`, or another number of paths; `self` is unchanged.
    pub fn reconfigured(&self, cfg: GroupConfig, now_ns: u64) -> Result<PathGroup, ConfigError> {
        if cfg.paths.len() != self.health.len() {
            return Err(ConfigError::UnknownPath {
                index: cfg.paths.len(),
            });
        }
        let mut next = Self::new_at(cfg, now_ns)?;
        next.health.clone_from(&self.health);
        for (new, old) in next.shared.paths.iter().zip(self.shared.paths.iter()) {
            // `next` is not shared yet: no CPU reads these before the caller publishes it.
            new.hot
                .errors
                .store(old.hot.errors.load(Ordering::Acquire), Ordering::Relaxed);
            new.error_base
                .store(old.error_base.load(Ordering::Acquire), Ordering::Relaxed);
        }
        next.publish(now_ns);
        Ok(next)
    }

    /// A hot-path handle for other CPUs / threads.
    pub fn selector(&self) -> Selector {
        Selector {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Chooses the path for one NBL. Never returns a path outside the eligible set: the Active
    /// paths; if none, the Standby paths; if none, the Marginal paths (when
    /// `marginal_last_resort`). Lock-free, allocation-free. With the quota policy a returned path
    /// holds an outstanding reservation: follow with [`Self::on_send`] and later
    /// [`Self::on_complete`], or with [`Self::cancel`] if the NBL is not sent.
    #[inline]
    pub fn select(&self, req: &SendRequest, now_ns: u64) -> Selection {
        self.shared.select(req, now_ns, 0)
    }

    /// Like [`Self::select`], but prefers the eligible paths outside `avoid` (bit per path): a
    /// re-send of an NBL a path just failed goes elsewhere when anywhere else is eligible. A flow
    /// pinned to an avoided path is placed again. When every eligible path is avoided it
    /// behaves as `select`.
    #[inline]
    pub fn select_avoiding(&self, req: &SendRequest, now_ns: u64, avoid: u32) -> Selection {
        self.shared.select(req, now_ns, avoid)
    }

    /// Records that the NBL was handed to `path`.
    #[inline]
    pub fn on_send(&self, path: PathId, req: &SendRequest, now_ns: u64) {
        self.shared.on_send(path, req, now_ns);
    }

    /// Records a completion. Returns [`Attention::EvaluateHealth`] when the path crossed its
    /// send-error threshold: the control plane should call [`Self::tick`] soon.
    #[inline]
    pub fn on_complete(&self, c: &Completion, now_ns: u64) -> Attention {
        self.shared.on_complete(c, now_ns)
    }

    /// Returns the reservation of a selected NBL that will not be sent.
    #[inline]
    pub fn cancel(&self, path: PathId, req: &SendRequest) {
        self.shared.cancel(path, req);
    }

    /// Feeds a state-machine event for `path`; returns the resulting transition, if any (when one
    /// event causes several steps, e.g. Failed → Recovering → Active with a zero hold-down, the
    /// returned transition spans them). Unknown paths are ignored.
    pub fn event(&mut self, path: PathId, ev: PathEvent, now_ns: u64) -> Option<Transition> {
        let i = path.index();
        if i >= self.health.len() {
            return None;
        }
        let reason = self.health[i].apply(ev, now_ns, &self.cfg);
        if ev == PathEvent::LinkUp
            || ev == PathEvent::ProbeAnswered
            || ev == PathEvent::AdminReinstate
            || ev == PathEvent::ShimPathRecovered
        {
            self.rebase_errors(i, now_ns);
        }
        let others = self.others_usable(i);
        let t = self.health[i].settle(now_ns, &self.cfg, reason, others);
        if t.is_some() {
            self.publish(now_ns);
        }
        t
    }

    /// Periodic control-plane work: send-error windows, down-delay and hold-down timers, marginal
    /// stability, speed-share recomputation (published without blocking selection). Call it every
    /// few milliseconds and when `on_complete` asks for attention.
    pub fn tick(&mut self, now_ns: u64) -> Transitions {
        let mut out = Transitions::default();
        for i in 0..self.health.len() {
            let mut hint = Reason::Initial;
            if self.cfg.errors.threshold > 0 {
                if self.health[i].forgive_errors(now_ns, self.cfg.errors.recovery_ns) {
                    hint = Reason::ErrorsForgiven;
                    self.rebase_errors(i, now_ns);
                }
                self.check_errors(i, now_ns);
            }
            let others = self.others_usable(i);
            if let Some(t) = self.health[i].settle(now_ns, &self.cfg, hint, others) {
                out.push(t);
            }
        }
        if !out.is_empty() {
            self.publish(now_ns);
        }
        self.shared.policy.tick(&self.tick_ctx(), now_ns);
        out
    }

    fn tick_ctx(&self) -> TickCtx<'_> {
        TickCtx {
            mask: self.last_mask,
            shards: &self.shared.shards,
            paths: &self.shared.paths,
        }
    }

    fn rebase_errors(&mut self, i: usize, now_ns: u64) {
        let ps = &self.shared.paths[i];
        ps.error_base
            .store(ps.hot.errors.load(Ordering::Acquire), Ordering::Release);
        self.health[i].error_window_start = now_ns;
    }

    fn check_errors(&mut self, i: usize, now_ns: u64) {
        let ps = &self.shared.paths[i];
        let total = ps.hot.errors.load(Ordering::Acquire);
        let base = ps.error_base.load(Ordering::Acquire);
        if total.wrapping_sub(base) >= u64::from(self.cfg.errors.threshold) {
            self.health[i].trip_errors(now_ns);
            self.rebase_errors(i, now_ns);
        } else if now_ns.saturating_sub(self.health[i].error_window_start)
            >= self.cfg.errors.window_ns
        {
            self.rebase_errors(i, now_ns);
        }
    }

    fn others_usable(&self, i: usize) -> bool {
        self.health.iter().enumerate().any(|(j, h)| {
            j != i
                && match h.state {
                    PathState::Active | PathState::Standby => true,
                    PathState::Marginal => self.cfg.marginal_last_resort,
                    _ => false,
                }
        })
    }

    /// Recomputes and publishes the eligible set and the per-path states.
    fn publish(&mut self, now_ns: u64) {
        let mut active = 0u32;
        let mut standby = 0u32;
        let mut marginal = 0u32;
        for (i, h) in self.health.iter().enumerate() {
            self.shared.paths[i]
                .state
                .store(h.state as u8, Ordering::Release);
            match h.state {
                PathState::Active => active |= bit(i),
                PathState::Standby => standby |= bit(i),
                PathState::Marginal => marginal |= bit(i),
                _ => {}
            }
        }
        let mask = if active != 0 {
            active
        } else if standby != 0 {
            standby
        } else if self.cfg.marginal_last_resort {
            marginal
        } else {
            0
        };
        self.shared.eligible.store(mask, Ordering::Release);
        let old = self.last_mask;
        self.last_mask = mask;
        for p in super::mask::Bits(old & !mask) {
            self.shared.policy.on_fail(p, now_ns);
        }
        for p in super::mask::Bits(mask & !old) {
            self.shared.policy.on_reinstate(p, now_ns);
        }
    }

    /// The published eligible set (bit per path).
    pub fn eligible_mask(&self) -> u32 {
        self.shared.eligible.load(Ordering::Acquire)
    }

    /// Number of paths.
    pub fn len(&self) -> usize {
        self.health.len()
    }

    /// Always false (a group has at least one path); for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.health.is_empty()
    }

    /// The configuration.
    pub fn config(&self) -> &GroupConfig {
        &self.cfg
    }

    /// Current state of `path`.
    pub fn state(&self, path: PathId) -> Option<PathState> {
        self.health.get(path.index()).map(|h| h.state)
    }

    /// One row of the path table.
    pub fn path_info(&self, path: PathId) -> Option<PathInfo> {
        let i = path.index();
        let h = self.health.get(i)?;
        let pc = self.cfg.paths.get(i)?;
        let ps = &self.shared.paths[i];
        Some(PathInfo {
            id: path,
            state: h.state,
            priority: pc.priority,
            role: pc.role,
            weight: ps.weight.load(Ordering::Relaxed),
            quota_bytes: ps.quota.load(Ordering::Relaxed),
            link_speed_bps: pc.link_speed_bps,
            counters: counters::totals(&self.shared.shards, i),
            policy: self.shared.policy.status(&self.tick_ctx(), i),
            send_errors: ps.hot.errors.load(Ordering::Relaxed),
            last_transition: h.last,
            transitions: h.transitions,
        })
    }

    /// Sets a path's admin weight (published atomically; selection never waits).
    ///
    /// # Errors
    /// Unknown path or weight outside 1..=[`MAX_WEIGHT`].
    pub fn set_weight(&mut self, path: PathId, weight: u32) -> Result<(), ConfigError> {
        let i = path.index();
        let pc = self
            .cfg
            .paths
            .get_mut(i)
            .ok_or(ConfigError::UnknownPath { index: i })?;
        if weight == 0 || weight > MAX_WEIGHT {
            return Err(ConfigError::Weight { path, weight });
        }
        pc.weight = weight;
        self.shared.paths[i].weight.store(weight, Ordering::Release);
        Ok(())
    }

    /// A path's link now runs at `bps` bits per second (a LINK_STATE indication): recorded as its
    /// link speed and passed to the policy (speed-share caps its speed estimate at the link's).
    /// Unknown paths and a speed of 0 are ignored.
    pub fn set_link_speed(&mut self, path: PathId, bps: u64, now_ns: u64) {
        let i = path.index();
        let Some(pc) = self.cfg.paths.get_mut(i) else {
            return;
        };
        if bps == 0 {
            return;
        }
        pc.link_speed_bps = bps;
        self.shared.policy.on_link_speed(i, bps, now_ns);
    }

    /// Sets a path's data quota (published atomically).
    ///
    /// # Errors
    /// Unknown path or quota outside 1..=[`MAX_QUOTA_BYTES`].
    pub fn set_quota(&mut self, path: PathId, quota_bytes: u32) -> Result<(), ConfigError> {
        let i = path.index();
        let pc = self
            .cfg
            .paths
            .get_mut(i)
            .ok_or(ConfigError::UnknownPath { index: i })?;
        if quota_bytes == 0 || quota_bytes > MAX_QUOTA_BYTES {
            return Err(ConfigError::Quota { path, quota_bytes });
        }
        pc.quota_bytes = quota_bytes;
        self.shared.paths[i]
            .quota
            .store(quota_bytes, Ordering::Release);
        Ok(())
    }

    /// NBLs outstanding for (target, path) under the policy's outstanding cap (`None` for a
    /// policy without one; with the quota policy, `Some(0)` when no cap is configured).
    pub fn outstanding(&self, target: TargetKey, path: PathId) -> Option<u32> {
        self.shared.policy.outstanding(target, path.index())
    }

    /// The policy kind configured.
    pub fn policy(&self) -> PolicyConfig {
        self.cfg.policy
    }

    /// The policy's stable lower-case name (`"speed-share"`, `"round-robin"`, …).
    pub fn policy_name(&self) -> &'static str {
        self.shared.policy.name()
    }
}
