//! The send completion path: NBLs the filter passed down, back from the miniport.
//!
//! IRQL and serialisation (shared reference, ndis-lwf-facts §1–2): NDIS calls it at IRQL <=
//! DISPATCH_LEVEL, on any CPU, concurrently with sends, receives and other completions; it may
//! batch the NBLs of several sends into one completion and reorder them.

use super::{Module, count};
use crate::ndis::{NblChain, SendCompleteFlags};

impl Module {
    /// FilterSendNetBufferListsComplete: every NBL here is one the filter passed down — up to
    /// the originators as it is, status untouched — or the module's own probe frame, kept.
    /// The last completion of a Pausing module completes the pause.
    ///
    /// IRQL: <= DISPATCH_LEVEL; the completion flags carry DISPATCH when the caller knows it is at
    /// DISPATCH_LEVEL. Serialised: against nothing; the pause gate counts the NBLs back in one CAS.
    pub fn send_complete(&self, chain: NblChain, flags: SendCompleteFlags) {
        let (chain, probes) = self.take_own_completions(chain);
        let n = count(&chain);
        self.counters.send_nbls_completed.add(n);
        self.handle.send_complete(chain, flags);
        // Only after the NBLs are gone may the pause complete.
        self.finish_leave(self.gate.leave(n + probes));
    }
}
