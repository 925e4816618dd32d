//! The send path: NBLs from the protocols above, passed down while Running, and cancels of them.
//!
//! IRQL and serialisation (shared reference, ndis-lwf-facts §1–2): NDIS calls both entry points
//! at IRQL <= DISPATCH_LEVEL and does not serialise data-path calls: sends of one module run
//! concurrently on many CPUs, with each other, with completions and receives, and with
//! FilterPause/FilterRestart.

use super::{Module, count};
use crate::ndis::consts::NDIS_STATUS_PAUSED;
use crate::ndis::types::NDIS_PORT_NUMBER;
use crate::ndis::{CancelId, NblChain, SendFlags};

impl Module {
    /// FilterSendNetBufferLists: passes the chain down while Running; otherwise completes every
    /// NBL at once with `NDIS_STATUS_PAUSED` (DISPATCH carried over from the send flags).
    ///
    /// IRQL: <= DISPATCH_LEVEL; the send flags carry DISPATCH when the caller knows it is at
    /// DISPATCH_LEVEL. Serialised: against nothing; the pause gate admits or rejects the whole
    /// chain in one CAS.
    pub fn send(&self, chain: NblChain, port: NDIS_PORT_NUMBER, flags: SendFlags) {
        let n = count(&chain);
        if self.gate.try_enter(n) {
            // The NBLs may not be touched once sent: measure first.
            self.counters.send_bytes_forwarded.add(chain.data_length());
            self.counters.send_nbls_forwarded.add(n);
            self.handle.send(chain, port, flags);
        } else {
            chain.set_status_all(NDIS_STATUS_PAUSED);
            self.counters.send_nbls_rejected_paused.add(n);
            self.handle.send_complete(chain, flags.to_complete_flags());
        }
    }

    /// FilterCancelSendNetBufferLists: the filter queues nothing, so the cancel goes down to
    /// wherever the NBLs are.
    ///
    /// IRQL: <= DISPATCH_LEVEL. Serialised: against nothing; may race the completion of the NBLs
    /// it names.
    pub fn cancel_send(&self, id: CancelId) {
        self.counters.send_cancels_forwarded.inc();
        self.handle.cancel_send(id);
    }
}
