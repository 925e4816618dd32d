//! What the control device asks of the path groups, by IfIndex: every group as it is now, one
//! member's counters, an administrator's fail or reinstate.
//!
//! A member is found under the control lock, which keeps it a member (and so attached) while the
//! lock is held. Failing a path also takes the writer gate first: `member_changed` takes the lock
//! itself, and the gate keeps the member from leaving (detach enters the gate) between the lookup
//! and the change.

use super::{Groups, MemberChange, Team, configure, group_snapshot};
use crate::driver::GroupSnapshot;
use crate::module::{Module, ModuleStats};
use alloc::vec::Vec;
use core::ptr::NonNull;

impl Team {
    /// Every group as it is now, in table order. PASSIVE_LEVEL (allocates).
    pub(crate) fn snapshots(&self) -> Vec<GroupSnapshot> {
        let Some(g) = &self.groups else {
            return Vec::new();
        };
        let c = g.control.lock();
        c.groups.iter().flatten().map(group_snapshot).collect()
    }

    /// The counters of the member module whose IfIndex is `if_index`; `None` when no group has
    /// such a member.
    /// Shown less what its last reset zeroed (gauges as they are).
    pub(crate) fn member_stats(&self, if_index: u32) -> Option<ModuleStats> {
        let g = self.groups.as_ref()?;
        let c = g.control.lock();
        let (gi, seat) = configure::member_position(&c, if_index)?;
        let m = c.groups[gi].as_ref()?.members[seat].as_ref()?;
        // SAFETY: a member's module is attached while it is a member, which the lock held
        // across this use guarantees.
        Some(configure::module_stats(m, unsafe { m.module.as_ref() }))
    }

    /// An administrator fails (`fail`) or reinstates the path of the member whose IfIndex is
    /// `if_index`; false (nothing changed) when no group has such a member. PASSIVE_LEVEL.
    pub(crate) fn admin_by_if_index(&self, if_index: u32, fail: bool) -> bool {
        let Some(g) = &self.groups else {
            return false;
        };
        let _writer = g.writer.enter();
        let Some(module) = Groups::find(&g.control.lock(), if_index) else {
            return false;
        };
        // SAFETY: members leave only in `leave`, which enters the writer gate held here, so the
        // module is still a member, and attached.
        g.member_changed(unsafe { module.as_ref() }, MemberChange::Admin { fail });
        true
    }
}

impl Groups {
    /// The member module whose IfIndex is `if_index`, in any group.
    fn find(c: &super::Control, if_index: u32) -> Option<NonNull<Module>> {
        c.groups
            .iter()
            .flatten()
            .flat_map(|g| g.members.iter().flatten())
            .map(|m| m.module)
            // SAFETY: a member's module is attached while it is a member (the caller holds the
            // control lock).
            .find(|m| unsafe { m.as_ref() }.info().if_index == if_index)
    }
}
