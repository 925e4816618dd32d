//! The receive path: NBLs indicated by the miniport below, passed up while Running, and their
//! return by the protocols above.
//!
//! IRQL and serialisation (shared reference, ndis-lwf-facts §1–2): NDIS calls both entry points
//! at IRQL <= DISPATCH_LEVEL and does not serialise data-path calls: receives and returns of one
//! module run concurrently on many CPUs, with each other, with the send path, and with
//! FilterPause/FilterRestart.

use super::{Module, count};
use crate::ndis::types::NDIS_PORT_NUMBER;
use crate::ndis::{NblChain, ReceiveFlags, ReturnFlags};

impl Module {
    /// FilterReceiveNetBufferLists: indicates the chain up while Running. Otherwise the NBLs are
    /// returned at once, or — with RESOURCES, where they must not be returned — left to the
    /// indicator by returning from the callback.
    ///
    /// IRQL: <= DISPATCH_LEVEL; the receive flags carry DISPATCH when the caller knows it is at
    /// DISPATCH_LEVEL. Serialised: against nothing; the pause gate admits or rejects the whole
    /// chain in one CAS.
    pub fn receive(&self, chain: NblChain, port: NDIS_PORT_NUMBER, flags: ReceiveFlags) {
        self.note_probe_answers(&chain);
        if let Some(back) = self.indicate_up(chain, port, flags) {
            // RESOURCES: the indicator's again when this callback returns.
            back.leave_with_indicator();
        }
    }

    /// Indicates `chain` up this stack through the pause gate (see [`Module::receive`]). With
    /// RESOURCES the NBLs come back, for the caller to leave with the indicator; otherwise they
    /// are above, or returned below.
    pub(super) fn indicate_up(
        &self,
        chain: NblChain,
        port: NDIS_PORT_NUMBER,
        flags: ReceiveFlags,
    ) -> Option<NblChain> {
        let n = count(&chain);
        if self.gate.try_enter(n) {
            self.counters
                .receive_bytes_indicated
                .add(chain.data_length());
            self.counters.receive_nbls_indicated.add(n);
            let back = self.handle.indicate_receive(chain, port, flags);
            if back.is_some() {
                // RESOURCES: the NBLs are back with us as the indication returns.
                self.finish_leave(self.gate.leave(n));
            }
            back
        } else {
            self.counters.receive_nbls_rejected_paused.add(n);
            if flags.has_resources() {
                Some(chain)
            } else {
                self.handle.return_nbls(chain, flags.to_return_flags());
                None
            }
        }
    }

    /// FilterReturnNetBufferLists: the receivers above are done with NBLs the filter indicated;
    /// they go back down. The last return of a Pausing module completes the pause.
    ///
    /// IRQL: <= DISPATCH_LEVEL; the return flags carry DISPATCH when the caller knows it is at
    /// DISPATCH_LEVEL. Serialised: against nothing; the pause gate counts the NBLs back in one CAS.
    pub fn return_nbls(&self, chain: NblChain, flags: ReturnFlags) {
        let n = count(&chain);
        self.counters.receive_nbls_returned.add(n);
        self.handle.return_nbls(chain, flags);
        self.finish_leave(self.gate.leave(n));
    }
}
