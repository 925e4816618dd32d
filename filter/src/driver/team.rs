//! Path groups: which attached modules team, the engine group of each, and its publication to
//! the data path.
//!
//! # Shape
//! - The control plane — members, their settings and states, the engine's `PathGroup` — lives in
//!   one driver-wide [`SpinLock`] (never taken on the send path; a completion takes it only when
//!   the engine asks for a health evaluation).
//! - The data path sees a group through its [`Published`] [`Snapshot`]: the engine's `Selector`
//!   and the member modules by seat. It reads it without a lock; a membership change (attach,
//!   detach: PASSIVE_LEVEL, one writer at a time) builds a new engine group and snapshot under
//!   the control lock, then — the lock released — replaces the old snapshot, which is freed once
//!   no reader can still see it.
//! - Each group has a periodic NDIS timer driving the engine's tick (hold-downs, deferred
//!   failback, send-error windows, speed-share publication).
//!
//! # Lifetimes
//! A member's module pointer is in a snapshot only between the member's FilterAttach (join) and
//! its FilterDetach (leave, which replaces the snapshot — waiting out its readers — before the
//! module is freed). The data path therefore may use every module of the snapshot it reads for
//! as long as it reads it. A member's state changes (pause, restart, link) are engine events: the
//! snapshot stays, the engine's eligible set changes, and a member that is not Running refuses
//! clones at its pause gate.

mod admin;
mod configure;

pub(crate) use configure::Refusal;

use super::publish::Published;
use crate::config::{AllDown, GroupSettings, MemberSettings, ModuleConfig};
use crate::diag::{self, Event};
use crate::engine::config::MAX_CPUS;
use crate::engine::types::MAX_PATHS;
use crate::engine::{CounterTotals, PathEvent, PathGroup, PathId, PathInfo, Selector, Transition};
use crate::module::route::{ControlPlane, NONE, Route, path_at};
use crate::module::{Module, ModuleStats, ProbeVerdict};
use crate::ndis::types::NDIS_HANDLE;
use crate::ndis::{SendCompleteFlags, SpinLock, Timer, clock, cpu};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::num::NonZeroU32;
use core::pin::Pin;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

/// Most path groups at once.
pub(crate) const MAX_GROUPS: usize = 16;

/// The engine tick period.
const TICK_MS: u32 = 10;

/// Pool tag of the group timers ('MPtk').
const TIMER_TAG: u32 = u32::from_le_bytes(*b"MPtk");

/// A member's state change the control plane turns into an engine event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemberChange {
    /// FilterRestart succeeded.
    Restarted,
    /// FilterPause began: the path leaves service before the pause is acknowledged.
    Paused,
    /// NetEventFilterPreDetach: the member is about to be detached.
    PreDetach,
    /// The miniport's mpshim reported the path failed (`true`) or recovered, with the report's
    /// sequence number (reports not newer than the last one are stale and ignored).
    Shim {
        /// Failed or recovered.
        failed: bool,
        /// The report's sequence number.
        sequence: u32,
    },
    /// An administrator failed (`true`) or reinstated the member's path.
    Admin {
        /// Fail or reinstate.
        fail: bool,
    },
    /// The filter's own probe of the member's path: an interval without an answer, or the
    /// first answer after misses.
    Probe(ProbeVerdict),
    /// NDIS_STATUS_LINK_STATE.
    Link {
        /// Media connected (None: unknown, no change).
        connected: Option<bool>,
        /// Transmit link speed, bits/s (0 or all ones: unknown).
        xmit_bps: u64,
    },
}

/// A path group as the control plane sees it now: what mpsim and the control device report.
#[derive(Clone, Debug)]
pub struct GroupSnapshot {
    /// `GroupId`.
    pub group: u32,
    /// The balancing policy's name.
    pub policy: &'static str,
    /// How many times the group was rebuilt (members attached or detached).
    pub generation: u32,
    /// The engine's eligible set (bit per path).
    pub eligible_mask: u32,
    /// The members, by seat.
    pub members: Vec<MemberSnapshot>,
}

/// One member of a [`GroupSnapshot`].
#[derive(Clone, Debug)]
pub struct MemberSnapshot {
    /// The member's seat (stable from attach to detach).
    pub seat: u8,
    /// The member module's interface index.
    pub if_index: u32,
    /// Whether the member is Running.
    pub running: bool,
    /// The media state last reported.
    pub connected: bool,
    /// The transmit link speed last reported, bits/s.
    pub xmit_bps: u64,
    /// The engine's row of its path: state with last transition (reason, time), counters
    /// (sent, completed, failed, in flight), share, weight, measured speed.
    pub path: Option<PathInfo>,
    /// The member module's counters: rerouted out and in, re-sent, parked, dropped by reason.
    pub module: ModuleStats,
}

/// One published generation of a group.
pub(crate) struct Snapshot {
    group: u32,
    generation: u32,
    selector: Selector,
    seats: [Option<NonNull<Module>>; MAX_PATHS],
    path_seat: [u8; MAX_PATHS],
    all_down: AllDown,
    /// The engines of earlier generations over the same paths, by generation, for completions of
    /// the sends they counted.
    earlier: Vec<(u32, Selector)>,
}

// SAFETY: the module pointers are only turned into shared references to `Sync` modules, for as
// long as the snapshot is published (see the module docs); the rest is plain data and a `Selector`,
// which is `Send + Sync`.
unsafe impl Send for Snapshot {}
// SAFETY: as above.
unsafe impl Sync for Snapshot {}

/// A member of a group, as the control plane keeps it.
// Each flag is an independent condition of the member the engine hears about as events.
#[allow(clippy::struct_excessive_bools)]
struct Member {
    module: NonNull<Module>,
    settings: MemberSettings,
    connected: bool,
    xmit_bps: u64,
    running: bool,
    ever_ran: bool,
    /// The sequence number of the last mpshim report taken.
    shim_sequence: u32,
    /// An administrator failed the path (and has not reinstated it).
    admin_failed: bool,
    /// Probe intervals missed in a row (replayed into a rebuilt engine).
    probe_misses: u8,
    /// The module's counters at its last reset (wire order; zero before any).
    stats_base: [u64; mpctl_proto::MODULE_COUNTERS],
}

/// A group's control-plane state.
struct Group {
    id: u32,
    settings: GroupSettings,
    members: [Option<Member>; MAX_PATHS],
    engine: Option<PathGroup>,
    generation: u32,
    seat_path: [u8; MAX_PATHS],
    timer: Option<Timer>,
    /// IfIndexes of the members an administrator failed: the failure outlives a detach and
    /// re-attach of the member (0 = free entry; NET_IFINDEX 0 is never a real interface).
    admin_down: [u32; MAX_PATHS],
    /// Engines replaced by a runtime change (same paths), by generation, while sends they
    /// counted may still complete; their counters are part of what the group shows.
    earlier: Vec<(u32, Selector)>,
    /// Per path: the counters of earlier engines with nothing left in flight, folded in when
    /// they were dropped from `earlier`.
    carried: [CounterTotals; MAX_PATHS],
    /// Per path: what a counter reset zeroed (subtracted from what is shown).
    reset: [configure::PathBase; MAX_PATHS],
}

impl Group {
    fn member(&self, seat: u8) -> Option<&Member> {
        self.members.get(usize::from(seat))?.as_ref()
    }

    fn path_of(&self, seat: u8) -> Option<PathId> {
        path_at(&self.seat_path, seat)
    }
}

/// Everything behind the control lock.
pub(crate) struct Control {
    groups: [Option<Group>; MAX_GROUPS],
}

// SAFETY: the module pointers in members are only used as shared references to `Sync` modules
// while they are members (join to leave); everything else is owned data.
unsafe impl Send for Control {}

/// Serialises the writers of the published snapshots — FilterAttach and FilterDetach, at
/// PASSIVE_LEVEL. A writer waits for the readers of the snapshot it replaces, which it must not do
/// holding a spin lock (at DISPATCH_LEVEL it could wait for a reader it interrupted), so the
/// control lock cannot be what serialises them. Waiting here is at PASSIVE_LEVEL too.
struct WriterGate(AtomicBool);

impl WriterGate {
    fn enter(&self) -> WriterTurn<'_> {
        while self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        WriterTurn(self)
    }
}

/// A writer's turn; ends on drop.
struct WriterTurn<'a>(&'a WriterGate);

impl Drop for WriterTurn<'_> {
    fn drop(&mut self) {
        self.0.0.store(false, Ordering::Release);
    }
}

/// The context of one group's tick timer: the team and the group's index.
struct TickContext {
    team: *const Groups,
    index: usize,
}

/// The path groups of one driver, once DriverEntry has allocated them. Kept out of the driver
/// state itself: the published snapshots' reader counters are cache-line aligned, more than the
/// driver-object extension guarantees.
pub(crate) struct Team {
    groups: Option<Box<Groups>>,
}

/// The path groups: their published snapshots, the control plane, the tick timers' contexts.
struct Groups {
    published: [Published<Snapshot>; MAX_GROUPS],
    /// Serialises the snapshots' writers (attach and detach).
    writer: WriterGate,
    control: Pin<Box<SpinLock<Control>>>,
    ticks: [TickContext; MAX_GROUPS],
}

// SAFETY: the published snapshots and the spin lock are `Sync`; the tick contexts are written
// only by `Team::init` (before any module attaches) and read by timer callbacks.
unsafe impl Sync for Groups {}
// SAFETY: as above; the groups move only as their box, before any module attaches.
unsafe impl Send for Groups {}

impl Team {
    /// No groups yet (`init` allocates them).
    pub(crate) const fn new() -> Self {
        Self { groups: None }
    }

    /// Allocates the groups; called by DriverEntry before any module can attach.
    pub(crate) fn init(&mut self) {
        let mut groups = Box::new(Groups {
            published: core::array::from_fn(|_| Published::new()),
            writer: WriterGate(AtomicBool::new(false)),
            control: SpinLock::new(Control {
                groups: core::array::from_fn(|_| None),
            }),
            ticks: core::array::from_fn(|index| TickContext {
                team: core::ptr::null(),
                index,
            }),
        });
        let me: *const Groups = &raw const *groups;
        for t in &mut groups.ticks {
            t.team = me;
        }
        self.groups = Some(groups);
    }

    /// See [`Groups::with_route`]; `f(None)` before `init`.
    pub(crate) fn with_route<R>(
        &self,
        module: &Module,
        f: impl FnOnce(Option<&Route<'_>>) -> R,
    ) -> R {
        match &self.groups {
            Some(g) => g.with_route(module, f),
            None => f(None),
        }
    }

    /// See [`Groups::join`].
    pub(crate) fn join(&self, module: &Module, driver_handle: NDIS_HANDLE) {
        if let Some(g) = &self.groups {
            g.join(module, driver_handle);
        }
    }

    /// See [`Groups::leave`].
    pub(crate) fn leave(&self, module: &Module) {
        if let Some(g) = &self.groups {
            g.leave(module);
        }
    }

    /// See [`Groups::snapshot`].
    pub(crate) fn snapshot(&self, module: &Module) -> Option<GroupSnapshot> {
        self.groups.as_ref()?.snapshot(module)
    }

    /// See [`Groups::member_changed`].
    pub(crate) fn member_changed(&self, module: &Module, change: MemberChange) {
        if let Some(g) = &self.groups {
            g.member_changed(module, change);
        }
    }

    /// Frees the groups; called by unload after every module has detached (no group, no timer
    /// is left).
    pub(crate) fn teardown(&mut self) {
        self.groups = None;
    }
}

impl Groups {
    /// The member position of a module: (group index, seat).
    fn position(module: &Module) -> Option<(usize, u8)> {
        module.team_position()
    }

    /// Runs `f` with the route of `module`'s group, or `None` when the module is in no group (or
    /// its group has no engine).
    fn with_route<R>(&self, module: &Module, f: impl FnOnce(Option<&Route<'_>>) -> R) -> R {
        match Self::position(module) {
            Some((gi, _)) => self.with_group_route(gi, f),
            None => f(None),
        }
    }

    /// Runs `f` with the route of group `gi` (`None` when it has no published snapshot).
    fn with_group_route<R>(&self, gi: usize, f: impl FnOnce(Option<&Route<'_>>) -> R) -> R {
        let Some(published) = self.published.get(gi) else {
            return f(None);
        };
        published.read(|snap| match snap {
            None => f(None),
            Some(s) => {
                let route = Route {
                    group: s.group,
                    generation: s.generation,
                    selector: &s.selector,
                    seats: s.seats.map(|m| {
                        // SAFETY: a module in a published snapshot stays attached until the
                        // snapshot is replaced, and `replace` waits for this read to end.
                        m.map(|p| unsafe { p.as_ref() })
                    }),
                    path_seat: s.path_seat,
                    all_down: s.all_down,
                    earlier: &s.earlier,
                    control: self,
                };
                f(Some(&route))
            }
        })
    }

    /// FilterAttach succeeded for `module`: it joins its group (formed now if it is the first),
    /// and the group is rebuilt and published. `driver_handle` owns the group's timer.
    fn join(&self, module: &Module, driver_handle: NDIS_HANDLE) {
        let ModuleConfig::Teamed {
            group_id,
            member,
            group,
        } = module.config()
        else {
            return;
        };
        let _writer = self.writer.enter();
        let mut c = self.control.lock();
        let existing = c
            .groups
            .iter()
            .position(|g| g.as_ref().is_some_and(|g| g.id == group_id));
        let gi = if let Some(gi) = existing {
            gi
        } else {
            let Some(gi) = c.groups.iter().position(Option::is_none) else {
                module.team_refused();
                return;
            };
            c.groups[gi] = Some(Group {
                id: group_id,
                settings: group,
                members: core::array::from_fn(|_| None),
                engine: None,
                generation: 0,
                seat_path: [NONE; MAX_PATHS],
                timer: None,
                admin_down: [0; MAX_PATHS],
                earlier: Vec::new(),
                carried: [CounterTotals::default(); MAX_PATHS],
                reset: [configure::PathBase::default(); MAX_PATHS],
            });
            gi
        };
        let Some(g) = c.groups[gi].as_mut() else {
            return;
        };
        if let Some(key) = g.settings.first_difference(&group) {
            // The group keeps its first member's values.
            module.team_settings_ignored(group_id, key);
        }
        let Some(seat) = g.members.iter().position(Option::is_none) else {
            module.team_refused();
            return;
        };
        let info = module.info();
        g.members[seat] = Some(Member {
            module: NonNull::from(module),
            settings: member,
            connected: info.connected,
            xmit_bps: info.xmit_link_speed,
            running: false,
            ever_ran: false,
            shim_sequence: 0,
            admin_failed: g.admin_down.contains(&info.if_index),
            probe_misses: 0,
            stats_base: [0; mpctl_proto::MODULE_COUNTERS],
        });
        // Seats and group indices are < 16.
        #[allow(clippy::cast_possible_truncation)]
        module.set_team_position(gi as u8, seat as u8);
        if g.timer.is_none() {
            // SAFETY: the driver handle outlives every group (unload drops the timers first via
            // `teardown`, and every group's last member drops its timer at leave); the context is
            // part of this team, which lives in the driver state until unload.
            g.timer = unsafe {
                Timer::allocate(
                    driver_handle,
                    TIMER_TAG,
                    tick_callback,
                    core::ptr::from_ref(&self.ticks[gi])
                        .cast_mut()
                        .cast::<c_void>(),
                )
            }
            .ok();
            if let Some(t) = &g.timer
                && let Some(period) = NonZeroU32::new(TICK_MS)
            {
                t.set_periodic(u64::from(TICK_MS) * 1_000_000, period);
            }
        }
        let next = Self::rebuild(&mut c, gi);
        drop(c);
        drop(self.published[gi].replace(next));
        self.size_packet_filters(gi, None, Some(module));
    }

    /// Tells every member of group `gi` (but `leaving`) how many members it has, which decides
    /// whether its packet filter below is widened for receive takeover (`joining` is still in its
    /// FilterAttach). Outside the control lock: a filter set may complete, and a status be
    /// indicated, inline.
    fn size_packet_filters(&self, gi: usize, leaving: Option<&Module>, joining: Option<&Module>) {
        self.with_group_route(gi, |route| {
            let Some(route) = route else {
                return;
            };
            let members = || {
                route
                    .seats
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|m| leaving.is_none_or(|l| !core::ptr::eq(*m, l)))
            };
            let size = members().count();
            for m in members() {
                let attaching = joining.is_some_and(|j| core::ptr::eq(m, j));
                m.set_team_size(size, attaching);
            }
        });
    }

    /// FilterDetach of `module`: it leaves its group (dissolved when it was the last) before it is
    /// freed.
    fn leave(&self, module: &Module) {
        let Some((gi, seat)) = Self::position(module) else {
            return;
        };
        let _writer = self.writer.enter();
        let mut c = self.control.lock();
        let mut timer = None;
        if let Some(g) = c.groups[gi].as_mut() {
            g.members[usize::from(seat)] = None;
            if g.members.iter().all(Option::is_none) {
                timer = g.timer.take();
            }
        }
        let next = Self::rebuild(&mut c, gi);
        if c.groups[gi]
            .as_ref()
            .is_some_and(|g| g.members.iter().all(Option::is_none))
        {
            c.groups[gi] = None;
        }
        drop(c);
        drop(self.published[gi].replace(next));
        self.size_packet_filters(gi, Some(module), None);
        // A periodic timer is cancelled at PASSIVE_LEVEL, outside the lock; NDIS flushes its
        // queued callbacks before the cancel returns.
        drop(timer);
        module.set_team_position(NONE, NONE);
    }

    /// A member's state changed: feeds the engine and reports the transition.
    fn member_changed(&self, module: &Module, change: MemberChange) {
        let Some((gi, seat)) = Self::position(module) else {
            return;
        };
        let mut c = self.control.lock();
        let Some(g) = c.groups[gi].as_mut() else {
            return;
        };
        let Some(m) = g.members[usize::from(seat)].as_mut() else {
            return;
        };
        let mut speed = None;
        let event = match change {
            MemberChange::Restarted => {
                m.running = true;
                let first = !m.ever_ran;
                m.ever_ran = true;
                // A member that never ran was never taken out of service.
                (!first).then_some(PathEvent::MemberRestarted)
            }
            MemberChange::Paused => {
                m.running = false;
                Some(PathEvent::MemberPaused)
            }
            MemberChange::PreDetach => Some(PathEvent::MemberDetached),
            MemberChange::Shim { failed, sequence } => {
                if sequence <= m.shim_sequence {
                    module.shim_event_stale();
                    None
                } else {
                    m.shim_sequence = sequence;
                    Some(if failed {
                        PathEvent::ShimPathFailed
                    } else {
                        PathEvent::ShimPathRecovered
                    })
                }
            }
            MemberChange::Probe(verdict) => Some(match verdict {
                ProbeVerdict::Missed => {
                    m.probe_misses = m.probe_misses.saturating_add(1);
                    PathEvent::ProbeLost
                }
                ProbeVerdict::Recovered => {
                    m.probe_misses = 0;
                    PathEvent::ProbeAnswered
                }
            }),
            MemberChange::Admin { fail } => {
                m.admin_failed = fail;
                Some(if fail {
                    PathEvent::AdminFail
                } else {
                    PathEvent::AdminReinstate
                })
            }
            MemberChange::Link {
                connected,
                xmit_bps,
            } => {
                // 0 and NDIS_LINK_SPEED_UNKNOWN (all ones) say nothing.
                if xmit_bps != 0 && xmit_bps != u64::MAX && xmit_bps != m.xmit_bps {
                    m.xmit_bps = xmit_bps;
                    speed = Some(xmit_bps);
                }
                match connected {
                    Some(true) if !m.connected => {
                        m.connected = true;
                        Some(PathEvent::LinkUp)
                    }
                    Some(false) if m.connected => {
                        m.connected = false;
                        Some(PathEvent::LinkDown)
                    }
                    _ => None,
                }
            }
        };
        if let MemberChange::Admin { fail } = change {
            // SAFETY: a member's module is attached while it is a member.
            let if_index = unsafe { m.module.as_ref() }.info().if_index;
            remember_admin(&mut g.admin_down, if_index, fail);
        }
        if let Some(bps) = speed
            && let Some(path) = g.path_of(seat)
            && let Some(engine) = g.engine.as_mut()
        {
            engine.set_link_speed(path, bps, clock::now_ns());
        }
        let Some(event) = event else {
            return;
        };
        let Some(path) = g.path_of(seat) else {
            return;
        };
        let id = g.id;
        let now = clock::now_ns();
        let Some(engine) = g.engine.as_mut() else {
            return;
        };
        if let Some(t) = engine.event(path, event, now) {
            report(g_members(g), id, &t);
        }
    }

    /// The group of `module` as it is now.
    fn snapshot(&self, module: &Module) -> Option<GroupSnapshot> {
        let (gi, _) = Self::position(module)?;
        let c = self.control.lock();
        Some(group_snapshot(c.groups.get(gi)?.as_ref()?))
    }

    /// The timer's work: the engine tick of group `index`, then the members' parked NBLs (which
    /// a path coming back may take, or whose time may be up). DISPATCH_LEVEL.
    fn tick(&self, index: usize) {
        {
            // SAFETY: timer callbacks run at DISPATCH_LEVEL.
            let mut c = unsafe { self.control.lock_at_dispatch() };
            tick_group(&mut c, index);
        }
        // Outside the lock: draining sends, and a send may complete inline.
        self.with_group_route(index, |route| {
            if let Some(route) = route {
                Module::drain_group(route, SendCompleteFlags::dispatch(true));
                self.probe_group(route);
                Module::announce_group(route, clock::now_ns());
            }
        });
    }

    /// The members' probes: each sends when due and reports its verdict on the last one.
    /// DISPATCH_LEVEL, outside the control lock (a probe send may complete inline).
    fn probe_group(&self, route: &Route<'_>) {
        let now = clock::now_ns();
        for m in route.seats.iter().flatten() {
            if let Some(verdict) = m.probe_tick(now) {
                self.member_changed(m, MemberChange::Probe(verdict));
            }
        }
    }

    /// Builds group `gi`'s engine from its current members; returns the snapshot for the caller
    /// to publish once it has released the lock (publishing waits for readers of the old one).
    fn rebuild(c: &mut Control, gi: usize) -> Option<Box<Snapshot>> {
        let g = c.groups[gi].as_mut()?;
        let mut paths = Vec::new();
        let mut seat_path = [NONE; MAX_PATHS];
        let mut seats = [None; MAX_PATHS];
        for (seat, m) in g.members.iter().enumerate() {
            if let Some(m) = m {
                // At most 16 paths.
                #[allow(clippy::cast_possible_truncation)]
                {
                    seat_path[seat] = paths.len() as u8;
                }
                seats[seat] = Some(m.module);
                paths.push(m.settings.path_config(m.xmit_bps));
            }
        }
        g.seat_path = seat_path;
        g.generation = g.generation.wrapping_add(1);
        // The paths are numbered afresh: what earlier engines counted no longer has a path.
        g.earlier.clear();
        g.carried = [CounterTotals::default(); MAX_PATHS];
        g.reset = [configure::PathBase::default(); MAX_PATHS];
        if paths.is_empty() {
            g.engine = None;
            return None;
        }
        let mut cfg = g.settings.engine_config(paths);
        cfg.cpus = cpu::max_count().clamp(1, MAX_CPUS);
        let now = clock::now_ns();
        let Ok(mut engine) = PathGroup::new_at(cfg, now) else {
            // Settings were range-checked at attach; an engine that still refuses them leaves the
            // group's members passing traffic through.
            g.engine = None;
            return None;
        };
        for (seat, m) in g.members.iter().enumerate() {
            let (Some(m), Some(p)) = (m, PathId::new(usize::from(seat_path[seat]))) else {
                continue;
            };
            if m.ever_ran && !m.running {
                engine.event(p, PathEvent::MemberPaused, now);
            }
            if !m.connected {
                engine.event(p, PathEvent::LinkDown, now);
            }
            if m.admin_failed {
                engine.event(p, PathEvent::AdminFail, now);
            }
            for _ in 0..m.probe_misses {
                engine.event(p, PathEvent::ProbeLost, now);
            }
        }
        let snapshot = Snapshot {
            group: g.id,
            generation: g.generation,
            selector: engine.selector(),
            seats,
            path_seat: path_seats(&seat_path),
            all_down: g.settings.all_down,
            earlier: Vec::new(),
        };
        g.engine = Some(engine);
        Some(Box::new(snapshot))
    }
}

impl ControlPlane for Groups {
    fn evaluate_health(&self, group: u32) {
        let mut c = self.control.lock();
        if let Some(gi) = c
            .groups
            .iter()
            .position(|g| g.as_ref().is_some_and(|g| g.id == group))
        {
            tick_group(&mut c, gi);
        }
    }
}

/// A group as it is now; called under the control lock, which keeps its members attached.
fn group_snapshot(g: &Group) -> GroupSnapshot {
    let members = (0..MAX_PATHS)
        .filter_map(|seat| {
            // Seats are < 16.
            #[allow(clippy::cast_possible_truncation)]
            let seat = seat as u8;
            let m = g.member(seat)?;
            // SAFETY: a member's module is attached while it is a member.
            let module = unsafe { m.module.as_ref() };
            Some(MemberSnapshot {
                seat,
                if_index: module.info().if_index,
                running: m.running,
                connected: m.connected,
                xmit_bps: m.xmit_bps,
                path: g.path_of(seat).and_then(|p| configure::path_info(g, p)),
                module: configure::module_stats(m, module),
            })
        })
        .collect();
    GroupSnapshot {
        group: g.id,
        policy: g.engine.as_ref().map_or("none", PathGroup::policy_name),
        generation: g.generation,
        eligible_mask: g.engine.as_ref().map_or(0, PathGroup::eligible_mask),
        members,
    }
}

/// The engine tick of group `gi`, reporting its transitions.
fn tick_group(c: &mut Control, gi: usize) {
    let Some(g) = c.groups.get_mut(gi).and_then(Option::as_mut) else {
        return;
    };
    let id = g.id;
    let Some(engine) = g.engine.as_mut() else {
        return;
    };
    let transitions = engine.tick(clock::now_ns());
    for t in transitions.iter() {
        report(g_members(g), id, t);
    }
}

/// The members of a group by seat, with their engine path in this generation.
fn g_members(g: &Group) -> impl Iterator<Item = (PathId, &Member)> + '_ {
    (0..MAX_PATHS).filter_map(move |seat| {
        // Seats are < 16.
        #[allow(clippy::cast_possible_truncation)]
        let seat = seat as u8;
        Some((g.path_of(seat)?, g.member(seat)?))
    })
}

/// Emits the diagnostic event of a transition, from the member whose path changed.
fn report<'a>(mut members: impl Iterator<Item = (PathId, &'a Member)>, group: u32, t: &Transition) {
    let Some((_, m)) = members.find(|(p, _)| *p == t.path) else {
        return;
    };
    // SAFETY: a member's module is attached while it is a member.
    let module = unsafe { m.module.as_ref() };
    // Paths are < 16; group ids are reported in 16 bits.
    #[allow(clippy::cast_possible_truncation)]
    diag::emit(
        module.handle(),
        Event::PathTransition {
            group: group as u16,
            path: t.path.index() as u8,
            from: t.from,
            to: t.to,
            reason: t.reason,
        },
    );
}

/// Records (or forgets) that an administrator failed the member with `if_index`.
fn remember_admin(list: &mut [u32; MAX_PATHS], if_index: u32, failed: bool) {
    if failed {
        if !list.contains(&if_index)
            && let Some(free) = list.iter_mut().find(|e| **e == 0)
        {
            *free = if_index;
        }
    } else {
        for e in list.iter_mut().filter(|e| **e == if_index) {
            *e = 0;
        }
    }
}

/// Engine path → seat, from seat → engine path.
fn path_seats(seat_path: &[u8; MAX_PATHS]) -> [u8; MAX_PATHS] {
    let mut out = [NONE; MAX_PATHS];
    for (seat, &p) in seat_path.iter().enumerate() {
        if let Some(slot) = out.get_mut(usize::from(p)) {
            // Seats are < 16.
            #[allow(clippy::cast_possible_truncation)]
            {
                *slot = seat as u8;
            }
        }
    }
    out
}

/// The group timer's callback (DISPATCH_LEVEL).
unsafe extern "system" fn tick_callback(
    _system1: *mut c_void,
    context: *mut c_void,
    _system2: *mut c_void,
    _system3: *mut c_void,
) {
    // SAFETY: the context is a `TickContext` of a live team (the timer is dropped before the team
    // goes, see `join`).
    let Some(t) = (unsafe { context.cast::<TickContext>().as_ref() }) else {
        return;
    };
    // SAFETY: `Team::init` pointed every tick context at its groups, which outlive their timers.
    if let Some(team) = unsafe { t.team.as_ref() } {
        team.tick(t.index);
    }
}
