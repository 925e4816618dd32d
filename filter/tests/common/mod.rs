//! Shared by the pause-gate tests (`module_gate.rs` on real threads, `module_loom.rs` under loom).

use mpfilter::module::sync::AtomicWord;
use mpfilter::module::{ModuleEvent, PauseGate};

/// A gate driven from Detached to Running the way NDIS drives a module: attach, then restart.
pub fn running_gate<W: AtomicWord>() -> PauseGate<W> {
    let gate = PauseGate::new();
    for e in [
        ModuleEvent::Attach,
        ModuleEvent::AttachSucceeded,
        ModuleEvent::Restart,
        ModuleEvent::RestartSucceeded,
    ] {
        gate.transition(e).unwrap();
    }
    gate
}
