//! The watchdog: a filter that stops giving anything back (sends not completed, receives not
//! returned, OIDs not answered) must fail the run by name, not make it spin until the event
//! budget runs out.

use crate::rules::{Rule, Subject};
use crate::world::{OrigState, World};

/// What the emulated protocols and miniports are waiting for, per adapter: (sends not completed,
/// receives not returned, an OID not answered).
fn waiting(w: &World) -> Option<(usize, u64, u64, bool)> {
    w.adapters.iter().enumerate().find_map(|(a, ad)| {
        let oid = w
            .orig_oids
            .values()
            .any(|o| o.adapter == a && matches!(o.state, OrigState::InFilter | OrigState::Pending));
        (ad.proto.outstanding > 0 || ad.mp.rx_outstanding > 0 || oid).then_some((
            a,
            ad.proto.outstanding,
            ad.mp.rx_outstanding,
            oid,
        ))
    })
}

/// Something came back to the emulated protocol or miniport.
pub(crate) fn progress(w: &mut World) {
    w.last_progress = w.now();
}

/// Checks the watchdog before each event: false (and `liveness.no-progress` recorded) when
/// something has been waited for longer than the progress timeout with nothing coming back.
pub(super) fn progressing(w: &mut World) -> bool {
    let Some((a, sends, receives, oid)) = waiting(w) else {
        // Nothing is owed: the clock starts when something is.
        progress(w);
        return true;
    };
    let quiet = w.now().saturating_sub(w.last_progress);
    if quiet <= w.cfg.progress_timeout {
        return true;
    }
    let h = w.module_handle(a);
    w.violate(
        Rule::LivenessNoProgress,
        Subject::Handle(h),
        "-",
        format!(
            "nothing came back for {quiet} ns while adapter {a} waits for {sends} send completion(s), {receives} return(s){}",
            if oid { " and an OID answer" } else { "" }
        ),
    );
    false
}
