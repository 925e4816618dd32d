//! loom's 64-bit atomic behind the driver's `AtomicWord` (`mpfilter::ndis::atomic_word`), for
//! the models of what is generic over it (the pause gate, the header slots' bitmap).

use loom::sync::atomic::{AtomicU64, Ordering};
use mpfilter::ndis::atomic_word::AtomicWord;

/// loom's atomic behind the driver's trait.
pub struct LoomWord(AtomicU64);

impl AtomicWord for LoomWord {
    fn new(value: u64) -> Self {
        LoomWord(AtomicU64::new(value))
    }
    fn load(&self, order: Ordering) -> u64 {
        self.0.load(order)
    }
    fn compare_exchange_weak(
        &self,
        current: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64> {
        self.0.compare_exchange_weak(current, new, success, failure)
    }
    fn fetch_or(&self, value: u64, order: Ordering) -> u64 {
        self.0.fetch_or(value, order)
    }
}
