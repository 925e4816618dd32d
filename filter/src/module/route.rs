//! What a teamed module's data path sees of its path group: one published generation of the
//! group — the engine's hot-path handle and the member modules, by stable seat and by engine path.
//!
//! The driver builds a [`Route`] for the duration of one data-path call from the group's current
//! published snapshot, and guarantees that every module in it stays attached until the call
//! returns (a member leaves a snapshot, and the snapshot is retired, before the member is freed).

use super::Module;
use crate::config::AllDown;
use crate::engine::types::MAX_PATHS;
use crate::engine::{PathId, Selector};

/// A seat or path index that is not there.
pub const NONE: u8 = u8::MAX;

/// Re-sends one NBL may get after completions with a path failure status, before it is completed
/// with that status.
pub const MAX_RESENDS: u8 = 3;

/// What the data path may ask of the control plane.
pub trait ControlPlane: Sync {
    /// A path crossed its send-error threshold: evaluate the group's health now. Rare (once per
    /// threshold crossing); may take the control-plane lock.
    fn evaluate_health(&self, group: u32);
}

/// One generation of a path group, as the data path uses it.
pub struct Route<'a> {
    /// The group's id (`GroupId`).
    pub group: u32,
    /// Which rebuild of the group this is; send contexts remember it, so that a completion only
    /// reports to the engine generation its send was counted in.
    pub generation: u32,
    /// The engine's hot path.
    pub selector: &'a Selector,
    /// The members by seat (a member keeps its seat from attach to detach).
    pub seats: [Option<&'a Module>; MAX_PATHS],
    /// Engine path index → seat.
    pub path_seat: [u8; MAX_PATHS],
    /// What happens while no path is usable.
    pub all_down: AllDown,
    /// Engines of earlier generations over the same paths (a runtime policy or parameter
    /// change), by generation: a send counted in one completes there.
    pub earlier: &'a [(u32, Selector)],
    /// The control plane behind the group.
    pub control: &'a dyn ControlPlane,
}

impl<'a> Route<'a> {
    /// The member on engine path `path`.
    pub fn member_on(&self, path: PathId) -> Option<(u8, &'a Module)> {
        let seat = *self.path_seat.get(path.index())?;
        let module = (*self.seats.get(usize::from(seat))?)?;
        Some((seat, module))
    }

    /// The engine that counted a send made in `generation`: this generation's, or an earlier
    /// one over the same paths; `None` when the paths have been renumbered since.
    pub fn selector_of(&self, generation: u32) -> Option<&'a Selector> {
        if generation == self.generation {
            return Some(self.selector);
        }
        self.earlier
            .iter()
            .find(|(g, _)| *g == generation)
            .map(|(_, s)| s)
    }

    /// The member in `seat`.
    pub fn member_at(&self, seat: u8) -> Option<&'a Module> {
        *self.seats.get(usize::from(seat))?
    }
}

/// The engine path of `seat` in a seat → path table ([`NONE`], like any index past the engine's
/// paths, is no path).
pub fn path_at(seat_path: &[u8; MAX_PATHS], seat: u8) -> Option<PathId> {
    PathId::new(usize::from(*seat_path.get(usize::from(seat))?))
}
