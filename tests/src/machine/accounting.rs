//! The emulator's own counts of what is out, decremented only through an explicit check: a count
//! that would go below zero means something came back more often than it went out, and that is
//! named by rule in every build profile (never left to a debug-only overflow panic, never
//! silently clamped).

use crate::rules::{Rule, Subject};
use crate::world::World;

/// A count of things handed to the filter and not yet back.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Counter {
    /// NBLs the protocol sent and has not had completed.
    ProtoSends,
    /// Non-RESOURCES NBLs the miniport indicated and has not had returned.
    MpReceives,
    /// NBLs the miniport indicated that neither reached the protocol nor came back.
    MpInflight,
    /// The same for the frames the fabric brought.
    FabricInflight,
}

impl Counter {
    fn rule(self) -> Rule {
        match self {
            Counter::ProtoSends => Rule::SendCompleteTwice,
            Counter::MpReceives | Counter::MpInflight | Counter::FabricInflight => {
                Rule::RecvReturnTwice
            }
        }
    }
}

/// Takes one off adapter `a`'s `c`; false (and a violation) if it was already zero.
pub(crate) fn take_one(w: &mut World, a: usize, c: Counter) -> bool {
    let ad = &mut w.adapters[a];
    let slot: &mut u64 = match c {
        Counter::ProtoSends => &mut ad.proto.outstanding,
        Counter::MpReceives => &mut ad.mp.rx_outstanding,
        Counter::MpInflight => &mut ad.mp.rx_inflight,
        Counter::FabricInflight => &mut ad.mp.fabric_inflight,
    };
    if let Some(v) = slot.checked_sub(1) {
        *slot = v;
        return true;
    }
    let h = w.module_handle(a);
    w.violate(
        c.rule(),
        Subject::Handle(h),
        "-",
        format!("{c:?} of adapter {a} would go below zero: more came back than went out"),
    );
    false
}
