//! The pass-through data path. No allocation and no lock: one CAS on the pause gate per call,
//! relaxed counter increments, and a walk of the chain to count it and its bytes.

use super::Module;
use crate::ndis::consts::NDIS_STATUS_PAUSED;
use crate::ndis::types::NDIS_PORT_NUMBER;
use crate::ndis::{CancelId, NblChain, ReceiveFlags, ReturnFlags, SendCompleteFlags, SendFlags};

fn count(chain: &NblChain) -> u64 {
    chain.len() as u64
}

impl Module {
    /// FilterSendNetBufferLists: passes the chain down while Running; otherwise completes every
    /// NBL at once with `NDIS_STATUS_PAUSED` (DISPATCH carried over from the send flags).
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

    /// FilterSendNetBufferListsComplete: every NBL here is one the filter passed down (it
    /// originates none), so the chain goes up to the originators as it is, status untouched.
    pub fn send_complete(&self, chain: NblChain, flags: SendCompleteFlags) {
        let n = count(&chain);
        self.counters.send_nbls_completed.add(n);
        self.handle.send_complete(chain, flags);
        // Only after the NBLs are gone may the pause complete.
        self.finish_leave(self.gate.leave(n));
    }

    /// FilterCancelSendNetBufferLists: the filter queues nothing, so the cancel goes down to
    /// wherever the NBLs are.
    pub fn cancel_send(&self, id: CancelId) {
        self.counters.send_cancels_forwarded.inc();
        self.handle.cancel_send(id);
    }

    /// FilterReceiveNetBufferLists: indicates the chain up while Running. Otherwise the NBLs are
    /// returned at once, or — with RESOURCES, where they must not be returned — left to the
    /// indicator by returning from the callback.
    pub fn receive(&self, chain: NblChain, port: NDIS_PORT_NUMBER, flags: ReceiveFlags) {
        let n = count(&chain);
        if self.gate.try_enter(n) {
            self.counters
                .receive_bytes_indicated
                .add(chain.data_length());
            self.counters.receive_nbls_indicated.add(n);
            if let Some(back) = self.handle.indicate_receive(chain, port, flags) {
                // RESOURCES: the NBLs are back with us as the indication returns; they are the
                // indicator's again when this callback returns.
                back.leave_with_indicator();
                self.finish_leave(self.gate.leave(n));
            }
        } else {
            self.counters.receive_nbls_rejected_paused.add(n);
            if flags.has_resources() {
                chain.leave_with_indicator();
            } else {
                self.handle.return_nbls(chain, flags.to_return_flags());
            }
        }
    }

    /// FilterReturnNetBufferLists: the receivers above are done with NBLs the filter indicated;
    /// they go back down.
    pub fn return_nbls(&self, chain: NblChain, flags: ReturnFlags) {
        let n = count(&chain);
        self.counters.receive_nbls_returned.add(n);
        self.handle.return_nbls(chain, flags);
        self.finish_leave(self.gate.leave(n));
    }
}
