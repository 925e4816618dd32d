//! The lending protocol of an [`OwnFrame`](super::OwnFrame): one flag says whether its NBL is
//! home or out, generic over the atomic so that the loom model (`filter/tests/frame_loom.rs`) runs
//! this very code on loom's atomics.
//!
//! Lending is an acquire compare-exchange from home to out, so exactly one caller wins while the
//! frame is home and sees everything the last borrower did before giving it back; giving back is
//! a release store. The winner alone writes the frame's buffer, and the drivers below read it only
//! while it is out.

use core::sync::atomic::{AtomicBool, Ordering};

/// The atomic the flag lives in.
pub trait LendWord: Sync {
    /// `compare_exchange`.
    ///
    /// # Errors
    /// The current value when it was not `current`.
    fn compare_exchange(
        &self,
        current: bool,
        new: bool,
        success: Ordering,
        failure: Ordering,
    ) -> Result<bool, bool>;
    /// `store`.
    fn store(&self, value: bool, order: Ordering);
    /// `load`.
    fn load(&self, order: Ordering) -> bool;
}

impl LendWord for AtomicBool {
    fn compare_exchange(
        &self,
        current: bool,
        new: bool,
        success: Ordering,
        failure: Ordering,
    ) -> Result<bool, bool> {
        AtomicBool::compare_exchange(self, current, new, success, failure)
    }
    fn store(&self, value: bool, order: Ordering) {
        AtomicBool::store(self, value, order);
    }
    fn load(&self, order: Ordering) -> bool {
        AtomicBool::load(self, order)
    }
}

/// Takes the frame out: `true` for exactly one caller while it is home.
pub fn lend<W: LendWord + ?Sized>(out: &W) -> bool {
    out.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

/// Brings the frame home: the borrower's accesses happen before the next [`lend`] succeeds.
pub fn give_back<W: LendWord + ?Sized>(out: &W) {
    out.store(false, Ordering::Release);
}

/// Whether the frame is out.
pub fn is_out<W: LendWord + ?Sized>(out: &W) -> bool {
    out.load(Ordering::Acquire)
}
