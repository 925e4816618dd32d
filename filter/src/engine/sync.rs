//! Atomics shim.
//!
//! The engine uses `core::sync::atomic` in the driver and on the host. When its sources are compiled
//! into a loom test crate (`RUSTFLAGS="--cfg loom"`, see `filter/tests/engine_loom.rs`), the same
//! code uses loom's model-checked atomics instead. The library itself never depends on loom: under
//! `--cfg loom` without `cfg(test)` it still uses the core atomics.

#[cfg(all(loom, test))]
pub use loom::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicU64, Ordering};

#[cfg(not(all(loom, test)))]
pub use core::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicU64, Ordering};

/// Adds `v` to a counter that only one CPU writes (a per-CPU shard): a relaxed load and store, no
/// locked read-modify-write. Readers on other CPUs may see the old or the new value.
#[inline]
pub fn local_add(a: &AtomicU64, v: u64) {
    a.store(a.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
}

/// Builds a boxed slice of `n` zeroed `AtomicU64`.
pub fn zeroed_u64(n: usize) -> alloc::boxed::Box<[AtomicU64]> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

/// Builds a boxed slice of `n` zeroed `AtomicI64`.
pub fn zeroed_i64(n: usize) -> alloc::boxed::Box<[AtomicI64]> {
    (0..n).map(|_| AtomicI64::new(0)).collect()
}

/// Builds a boxed slice of `n` zeroed `AtomicU32`.
pub fn zeroed_u32(n: usize) -> alloc::boxed::Box<[AtomicU32]> {
    (0..n).map(|_| AtomicU32::new(0)).collect()
}
