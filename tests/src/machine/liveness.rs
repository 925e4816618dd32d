//! The watchdog: a filter that stops giving NBLs back (sends not completed, receives not returned)
//! must fail the run by name, not make it spin until the event budget runs out or leave it idle
//! with NBLs owed.
//!
//! Progress is kept per adapter and per direction, so traffic still flowing one way does not hide
//! a stall the other way. An OID that is never answered is not the watchdog's: the protocol issues
//! one at a time, so nothing spins, and `oid.never-completed` names it at detach.

use crate::rules::{Rule, Subject};
use crate::world::{ModState, World};

/// What an emulated protocol or miniport can wait for from the filter.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// The protocol, for send completions.
    Sends = 0,
    /// The miniport, for returns of what it indicated.
    Returns = 1,
    /// The protocol, for the synthetic receives it is owed (frames to its own MAC the miniport
    /// keeps indicating): a filter that returns them all instead of indicating them up would
    /// otherwise make the generator indicate for ever.
    Receives = 2,
}

const WAITS: [Wait; 3] = [Wait::Sends, Wait::Returns, Wait::Receives];
/// What a run that went idle can still owe: receives are not, since an idle generator has
/// stopped indicating (it spins only while the protocol is owed frames).
const OWED_AT_IDLE: [Wait; 2] = [Wait::Sends, Wait::Returns];

/// How many of `wait` adapter `a` is owed.
fn owed(w: &World, a: usize, wait: Wait) -> u64 {
    let ad = &w.adapters[a];
    match wait {
        Wait::Sends => ad.proto.outstanding,
        Wait::Returns => ad.mp.rx_outstanding,
        // Only while its module runs: one that pauses returns what it is given, as it must.
        Wait::Receives if ad.module.state == ModState::Running => ad.rx_unseen,
        Wait::Receives => 0,
    }
}

/// Something of `wait` came back to adapter `a`'s protocol or miniport.
pub(crate) fn progress(w: &mut World, a: usize, wait: Wait) {
    w.adapters[a].progress[wait as usize] = w.now();
}

fn stalled(w: &mut World, a: usize, wait: Wait, n: u64, why: &str) {
    let h = w.module_handle(a);
    w.violate(
        Rule::LivenessNoProgress,
        Subject::Handle(h),
        "-",
        format!("adapter {a} waits for {n} of {wait:?} from the filter: {why}"),
    );
}

/// Checks the watchdog before each event: false (and `liveness.no-progress` recorded) when an
/// adapter has waited for something longer than the progress timeout with nothing of it coming
/// back.
pub(super) fn progressing(w: &mut World) -> bool {
    for a in 0..w.adapters.len() {
        for wait in WAITS {
            let n = owed(w, a, wait);
            if n == 0 {
                // Nothing owed: the clock starts when something is.
                progress(w, a, wait);
                continue;
            }
            let quiet = w
                .now()
                .saturating_sub(w.adapters[a].progress[wait as usize]);
            if quiet > w.cfg.progress_timeout {
                stalled(w, a, wait, n, &format!("nothing came back for {quiet} ns"));
                return false;
            }
        }
    }
    true
}

/// The event queue ran dry: if anything is still owed, nothing can ever bring it back.
pub(super) fn idle(w: &mut World) {
    for a in 0..w.adapters.len() {
        for wait in OWED_AT_IDLE {
            let n = owed(w, a, wait);
            if n > 0 {
                stalled(
                    w,
                    a,
                    wait,
                    n,
                    "the run went idle, nothing left to bring it back",
                );
                return;
            }
        }
    }
}

/// Whether any adapter waits for something from the filter.
pub(super) fn anything_owed(w: &World) -> bool {
    (0..w.adapters.len()).any(|a| OWED_AT_IDLE.iter().any(|&wait| owed(w, a, wait) > 0))
}
