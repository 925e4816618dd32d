//! What an administrator changes in a running group through the control device: the policy and
//! group-scope parameters, a path's weight / priority / quota, and the counters shown.
//!
//! # A runtime change
//! Names and values are the registry's, checked by the registry's own reader
//! ([`GroupSettings::with`], [`MemberSettings::with`]); the first refusal changes nothing. The
//! change then builds the group's next engine with `PathGroup::reconfigured` under the control
//! lock — the paths keep their states, timers and history — and publishes it as a new
//! generation, like a membership change, waiting out the readers of the one it replaces.
//!
//! In flight: every send is counted in the engine of the generation it was made in, and its
//! completion goes back there ([`crate::module::route::Route::selector_of`]). So the replaced
//! engine stays in the snapshot's `earlier` list until its sends have completed; its counters
//! remain part of what the group shows (and are folded into `carried` once it has nothing left
//! out); the new policy balances its own sends from zero. At most [`MAX_EARLIER`] replaced
//! engines may still be owed completions: a change beyond that is refused as busy.
//!
//! Nothing here is persisted: the registry values stay what a restart of the driver (or a
//! re-attach of the group's members) starts from.
//!
//! # Counter reset
//! Per-CPU engine counters are written only by their CPU, so a reset does not write them: it
//! records what they were (a base, subtracted from what is shown). The base of `sent` leaves out
//! what is in flight at the reset, so that sent − completed − failed still gives the NBLs in
//! flight: gauges are not reset, and no shown figure can go below zero. A module's counters
//! have a base too, the gauges (`MODULE_GAUGES`) excepted.

use super::{Control, Group, Groups, Member, Snapshot, Team, path_seats};
use crate::config::{GroupSettings, MemberSettings, PolicyName, RawValue, SetError};
use crate::diag::{self, Event};
use crate::driver::counters;
use crate::engine::types::MAX_PATHS;
use crate::engine::{CounterTotals, PathId, PathInfo};
use crate::module::{Module, ModuleStats};
use crate::ndis::clock;
use alloc::boxed::Box;
use alloc::vec::Vec;
use mpctl_proto::Settings;
use mpctl_proto::response::is_gauge;

/// Most replaced engines a group keeps for completions of their sends.
pub(crate) const MAX_EARLIER: usize = 4;

/// What a reset of a path's counters zeroed.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PathBase {
    counters: CounterTotals,
    send_errors: u64,
}

/// Why a runtime change was refused; nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No group with that `GroupId`, no member with that IfIndex.
    NotFound,
    /// A name that is not a runtime key of that scope, or a value outside its range.
    Invalid,
    /// [`MAX_EARLIER`] replaced engines are still owed completions.
    Busy,
}

impl From<SetError> for Refusal {
    fn from(_: SetError) -> Self {
        Refusal::Invalid
    }
}

/// A change to one member's settings, beside the group's.
#[derive(Clone, Copy)]
struct MemberChange {
    seat: usize,
    settings: MemberSettings,
}

impl Team {
    /// Sets the group-scope keys `settings` of group `group_id` (PASSIVE_LEVEL).
    ///
    /// # Errors
    /// [`Refusal`]; nothing changed then.
    pub(crate) fn set_group(&self, group_id: u32, settings: &Settings) -> Result<(), Refusal> {
        let g = self.groups.as_ref().ok_or(Refusal::NotFound)?;
        let _writer = g.writer.enter();
        let mut c = g.control.lock();
        let gi = group_index(&c, group_id).ok_or(Refusal::NotFound)?;
        let mut next = c.groups[gi].as_ref().ok_or(Refusal::NotFound)?.settings;
        for s in settings.iter() {
            let units = utf16(s.value());
            next = next.with(s.name(), RawValue::Text(units.as_slice()))?;
        }
        let snapshot = Groups::reconfigure(&mut c, gi, next, None)?;
        drop(c);
        drop(g.published[gi].replace(snapshot));
        Ok(())
    }

    /// Sets the member-scope keys `settings` of the member whose IfIndex is `if_index`
    /// (PASSIVE_LEVEL).
    ///
    /// # Errors
    /// [`Refusal`]; nothing changed then.
    pub(crate) fn set_path(&self, if_index: u32, settings: &Settings) -> Result<(), Refusal> {
        let g = self.groups.as_ref().ok_or(Refusal::NotFound)?;
        let _writer = g.writer.enter();
        let mut c = g.control.lock();
        let (gi, seat) = member_position(&c, if_index).ok_or(Refusal::NotFound)?;
        let group = c.groups[gi].as_ref().ok_or(Refusal::NotFound)?;
        let mut next = group.members[seat]
            .as_ref()
            .ok_or(Refusal::NotFound)?
            .settings;
        for s in settings.iter() {
            let units = utf16(s.value());
            next = next.with(s.name(), RawValue::Text(units.as_slice()))?;
        }
        let change = MemberChange {
            seat,
            settings: next,
        };
        let settings = group.settings;
        let snapshot = Groups::reconfigure(&mut c, gi, settings, Some(change))?;
        drop(c);
        drop(g.published[gi].replace(snapshot));
        Ok(())
    }

    /// Zeroes the path counters of group `group_id` as shown (in flight excepted).
    ///
    /// # Errors
    /// [`Refusal::NotFound`].
    pub(crate) fn reset_group(&self, group_id: u32) -> Result<(), Refusal> {
        let g = self.groups.as_ref().ok_or(Refusal::NotFound)?;
        let mut c = g.control.lock();
        let gi = group_index(&c, group_id).ok_or(Refusal::NotFound)?;
        let group = c.groups[gi].as_mut().ok_or(Refusal::NotFound)?;
        for p in 0..MAX_PATHS {
            let Some(path) = PathId::new(p) else {
                continue;
            };
            let Some(raw) = raw_path_info(group, path) else {
                continue;
            };
            let t = raw.counters;
            group.reset[p] = PathBase {
                counters: CounterTotals {
                    sent_nbls: t
                        .sent_nbls
                        .min(t.completed_nbls.wrapping_add(t.failed_nbls)),
                    sent_bytes: t
                        .sent_bytes
                        .min(t.completed_bytes.wrapping_add(t.failed_bytes)),
                    ..t
                },
                send_errors: raw.send_errors,
            };
        }
        Ok(())
    }

    /// Zeroes the counters of the member module whose IfIndex is `if_index` as shown (gauges
    /// excepted).
    ///
    /// # Errors
    /// [`Refusal::NotFound`].
    pub(crate) fn reset_module(&self, if_index: u32) -> Result<(), Refusal> {
        let g = self.groups.as_ref().ok_or(Refusal::NotFound)?;
        let mut c = g.control.lock();
        let (gi, seat) = member_position(&c, if_index).ok_or(Refusal::NotFound)?;
        let m = c.groups[gi]
            .as_mut()
            .and_then(|g| g.members[seat].as_mut())
            .ok_or(Refusal::NotFound)?;
        // SAFETY: a member's module is attached while it is a member (the lock is held).
        let module = unsafe { m.module.as_ref() };
        m.stats_base = counters::values(&module.stats());
        Ok(())
    }
}

impl Groups {
    /// Group `gi` with `settings` (and one member's new settings): its next engine generation,
    /// built from the current one, for the caller to publish once it has released the lock.
    fn reconfigure(
        c: &mut Control,
        gi: usize,
        settings: GroupSettings,
        member: Option<MemberChange>,
    ) -> Result<Option<Box<Snapshot>>, Refusal> {
        let g = c.groups[gi].as_mut().ok_or(Refusal::NotFound)?;
        if g.engine.is_none() {
            // No engine (the last build refused its settings): a plain rebuild with the new ones.
            apply(g, settings, member);
            return Ok(Groups::rebuild(c, gi));
        }
        retire_drained(g);
        if g.earlier.len() >= MAX_EARLIER {
            return Err(Refusal::Busy);
        }
        let Some(current) = g.engine.as_ref() else {
            return Err(Refusal::NotFound);
        };
        let paths = g
            .members
            .iter()
            .enumerate()
            .filter_map(|(seat, m)| {
                let m = m.as_ref()?;
                let s = match member {
                    Some(change) if change.seat == seat => change.settings,
                    _ => m.settings,
                };
                Some(s.path_config(m.xmit_bps))
            })
            .collect();
        let mut cfg = settings.engine_config(paths);
        cfg.cpus = current.config().cpus;
        let next = current
            .reconfigured(cfg, clock::now_ns())
            .map_err(|_| Refusal::Invalid)?;
        apply(g, settings, member);
        if let Some(previous) = g.engine.replace(next) {
            g.earlier.push((g.generation, previous.selector()));
        }
        g.generation = g.generation.wrapping_add(1);
        let Some(engine) = g.engine.as_ref() else {
            return Ok(None);
        };
        let snapshot = Snapshot {
            group: g.id,
            generation: g.generation,
            selector: engine.selector(),
            seats: core::array::from_fn(|seat| g.members[seat].as_ref().map(|m| m.module)),
            path_seat: path_seats(&g.seat_path),
            all_down: g.settings.all_down,
            earlier: g.earlier.clone(),
        };
        report_change(g);
        Ok(Some(Box::new(snapshot)))
    }
}

fn apply(g: &mut Group, settings: GroupSettings, member: Option<MemberChange>) {
    g.settings = settings;
    if let Some(change) = member
        && let Some(m) = g.members[change.seat].as_mut()
    {
        m.settings = change.settings;
    }
}

/// Drops the replaced engines with nothing left in flight, folding their counters into
/// `carried`. Their sends were all made through snapshots that have been replaced (and waited
/// out), so their `sent` no longer grows; a total read as all completed is all completed.
fn retire_drained(g: &mut Group) {
    let carried = &mut g.carried;
    g.earlier.retain(|(_, selector)| {
        let busy = (0..MAX_PATHS)
            .filter_map(PathId::new)
            .any(|p| selector.totals(p).inflight_nbls() > 0);
        if !busy {
            for (p, c) in carried.iter_mut().enumerate() {
                if let Some(path) = PathId::new(p) {
                    *c = add(*c, selector.totals(path));
                }
            }
        }
        busy
    });
}

/// The policy-changed event, from the group's first member.
fn report_change(g: &Group) {
    let Some(m) = g.members.iter().flatten().next() else {
        return;
    };
    // SAFETY: a member's module is attached while it is a member (the caller holds the lock).
    let module = unsafe { m.module.as_ref() };
    // Nine policies; group ids are reported in 16 bits.
    #[allow(clippy::cast_possible_truncation)]
    let policy = PolicyName::ALL
        .iter()
        .position(|p| *p == g.settings.policy)
        .unwrap_or(0) as u8;
    #[allow(clippy::cast_possible_truncation)]
    diag::emit(
        module.handle(),
        Event::PolicyChanged {
            group: g.id as u16,
            policy,
            generation: g.generation,
        },
    );
}

/// A path's row with the counters of every engine that carried it, before any reset.
fn raw_path_info(g: &Group, path: PathId) -> Option<PathInfo> {
    let mut info = g.engine.as_ref()?.path_info(path)?;
    let mut t = add(info.counters, g.carried[path.index()]);
    for (_, s) in &g.earlier {
        t = add(t, s.totals(path));
    }
    info.counters = t;
    Some(info)
}

/// A path's row as shown: every engine's counters, less what the last reset zeroed.
pub(super) fn path_info(g: &Group, path: PathId) -> Option<PathInfo> {
    let mut info = raw_path_info(g, path)?;
    let base = g.reset[path.index()];
    let (t, b) = (info.counters, base.counters);
    info.counters = CounterTotals {
        sent_nbls: t.sent_nbls.saturating_sub(b.sent_nbls),
        sent_bytes: t.sent_bytes.saturating_sub(b.sent_bytes),
        completed_nbls: t.completed_nbls.saturating_sub(b.completed_nbls),
        completed_bytes: t.completed_bytes.saturating_sub(b.completed_bytes),
        failed_nbls: t.failed_nbls.saturating_sub(b.failed_nbls),
        failed_bytes: t.failed_bytes.saturating_sub(b.failed_bytes),
    };
    info.send_errors = info.send_errors.saturating_sub(base.send_errors);
    Some(info)
}

/// A member module's counters as shown: less what its last reset zeroed, gauges as they are.
pub(super) fn module_stats(m: &Member, module: &Module) -> ModuleStats {
    let mut v = counters::values(&module.stats());
    for (i, (x, b)) in v.iter_mut().zip(m.stats_base).enumerate() {
        if !is_gauge(i) {
            *x = x.saturating_sub(b);
        }
    }
    counters::from_values(&v)
}

fn add(a: CounterTotals, b: CounterTotals) -> CounterTotals {
    CounterTotals {
        sent_nbls: a.sent_nbls.wrapping_add(b.sent_nbls),
        sent_bytes: a.sent_bytes.wrapping_add(b.sent_bytes),
        completed_nbls: a.completed_nbls.wrapping_add(b.completed_nbls),
        completed_bytes: a.completed_bytes.wrapping_add(b.completed_bytes),
        failed_nbls: a.failed_nbls.wrapping_add(b.failed_nbls),
        failed_bytes: a.failed_bytes.wrapping_add(b.failed_bytes),
    }
}

fn group_index(c: &Control, group_id: u32) -> Option<usize> {
    c.groups
        .iter()
        .position(|g| g.as_ref().is_some_and(|g| g.id == group_id))
}

/// (group index, seat) of the member whose IfIndex is `if_index`.
pub(super) fn member_position(c: &Control, if_index: u32) -> Option<(usize, usize)> {
    c.groups.iter().enumerate().find_map(|(gi, g)| {
        let seat = g.as_ref()?.members.iter().position(|m| {
            m.as_ref().is_some_and(|m| {
                // SAFETY: a member's module is attached while it is a member (the caller holds
                // the control lock).
                unsafe { m.module.as_ref() }.info().if_index == if_index
            })
        })?;
        Some((gi, seat))
    })
}

/// A setting's value as the UTF-16 text a registry REG_SZ value would be.
fn utf16(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}
