//! The 64-bit atomic word the lock-free structures built on one are generic over — the pause
//! gate (`module::gate`) and the header slots' bitmap (`ndis::nbl::claim`) — so that their loom
//! models (`filter/tests/module_loom.rs`, `slots_loom.rs`, run with `--cfg loom`) drive the very
//! same code on loom's atomics while the driver uses `core::sync::atomic::AtomicU64`. A
//! `#[cfg(loom)] use loom::sync::atomic` switch inside this crate is not possible: loom is a
//! dev-dependency, and the library build an integration test links against never sees
//! dev-dependencies.

use core::sync::atomic::{AtomicU64, Ordering};

/// The operations those structures need from a 64-bit atomic.
pub trait AtomicWord: Send + Sync {
    /// A new atomic holding `value`.
    fn new(value: u64) -> Self;
    /// `load`.
    fn load(&self, order: Ordering) -> u64;
    /// `compare_exchange_weak`.
    ///
    /// # Errors
    /// The current value, when it is not `current` (or spuriously, for weak exchanges).
    fn compare_exchange_weak(
        &self,
        current: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64>;
    /// `fetch_or`.
    fn fetch_or(&self, value: u64, order: Ordering) -> u64;
}

impl AtomicWord for AtomicU64 {
    fn new(value: u64) -> Self {
        AtomicU64::new(value)
    }
    fn load(&self, order: Ordering) -> u64 {
        AtomicU64::load(self, order)
    }
    fn compare_exchange_weak(
        &self,
        current: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64> {
        AtomicU64::compare_exchange_weak(self, current, new, success, failure)
    }
    fn fetch_or(&self, value: u64, order: Ordering) -> u64 {
        AtomicU64::fetch_or(self, value, order)
    }
}
