//! [`NblQueue`]: a chain of owned NBLs that may wait on one processor and leave from another — the
//! storage of a queue behind a spin lock (NBLs the filter parks). Linked through the NBLs' own
//! `Next` fields: queueing allocates nothing.

use super::{NblChain, OwnedNbl};

/// An owned, `Send` chain of NBLs (see the module docs).
#[derive(Debug, Default)]
pub struct NblQueue(NblChain);

// SAFETY: the NBLs are owned by the filter while queued (nobody else links or reads them), so
// moving their ownership to another processor — what a spin lock around the queue does — is
// moving plain ownership.
unsafe impl Send for NblQueue {}

impl NblQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        Self(NblChain::new())
    }

    /// How many NBLs wait.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends `nbl`.
    pub fn push_back(&mut self, nbl: OwnedNbl) {
        self.0.push_back(nbl);
    }

    /// Puts `nbl` back at the head (it was taken and could not leave yet).
    pub fn push_front(&mut self, nbl: OwnedNbl) {
        let rest = core::mem::take(&mut self.0);
        self.0.push_back(nbl);
        self.0.append(rest);
    }

    /// Takes the oldest NBL.
    pub fn pop_front(&mut self) -> Option<OwnedNbl> {
        self.0.pop_front()
    }

    /// Takes every NBL for which `pred` holds, keeping the order of both parts.
    pub fn take_matching(&mut self, pred: impl FnMut(&super::Nbl) -> bool) -> NblChain {
        let (taken, kept) = core::mem::take(&mut self.0).split_by(pred);
        self.0 = kept;
        taken
    }

    /// Takes every NBL (read by the unit tests).
    #[cfg(test)]
    pub fn take_all(&mut self) -> NblChain {
        core::mem::take(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndis::testkit::FakeNbls;

    fn addrs(chain: &NblChain) -> std::vec::Vec<usize> {
        chain.iter().map(|n| n.as_raw().addr()).collect()
    }

    #[test]
    fn a_queue_keeps_order_and_puts_a_returned_nbl_back_first() {
        let f = FakeNbls::simple(3);
        // SAFETY: a chain of three live fake NBLs.
        let mut chain = unsafe { NblChain::from_raw(f.link(0..3)) };
        let order = addrs(&chain);
        let mut q = NblQueue::new();
        while let Some(n) = chain.pop_front() {
            q.push_back(n);
        }
        assert_eq!(q.len(), 3);
        let first = q.pop_front().unwrap();
        assert_eq!(first.as_raw().addr(), order[0]);
        q.push_front(first);
        let all = q.take_all();
        assert_eq!(addrs(&all), order);
        assert!(q.is_empty());
        all.leave_with_indicator();
    }

    #[test]
    fn take_matching_splits_in_order() {
        let f = FakeNbls::simple(4);
        // SAFETY: a chain of four live fake NBLs.
        let mut chain = unsafe { NblChain::from_raw(f.link(0..4)) };
        let order = addrs(&chain);
        let mut q = NblQueue::new();
        while let Some(n) = chain.pop_front() {
            q.push_back(n);
        }
        let odd =
            q.take_matching(|n| order[1] == n.as_raw().addr() || order[3] == n.as_raw().addr());
        assert_eq!(addrs(&odd), [order[1], order[3]]);
        let rest = q.take_all();
        assert_eq!(addrs(&rest), [order[0], order[2]]);
        odd.leave_with_indicator();
        rest.leave_with_indicator();
    }
}
