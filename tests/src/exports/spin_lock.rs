//! NDIS spin locks: `NdisAllocateSpinLock`, `NdisFreeSpinLock`, `NdisAcquireSpinLock`,
//! `NdisReleaseSpinLock`, `NdisDprAcquireSpinLock`, `NdisDprReleaseSpinLock`.
//!
//! On one thread, checked, never spun on: acquiring a held lock can only be a deadlock. In threads
//! mode (`crate::threads`) a lock another processor holds is spun on, outside the world's lock,
//! until that processor releases it: the locks really exclude. Acquiring one the same processor
//! holds is a deadlock either way. Acquire raises the acquiring processor's simulated IRQL to
//! DISPATCH_LEVEL (so a PASSIVE-only call under a lock is caught as such) and release restores it.
#![allow(non_snake_case)]

use crate::abi::Abi;
use crate::irql::Irql;
use crate::kernel_sync::Held;
use crate::rules::{Rule, Subject};
use crate::world::{self, World};
use mpfilter::ndis::types::NDIS_SPIN_LOCK;

/// Whether `lock` is allocated; records `spinlock.invalid` if not.
fn allocated(w: &mut World, call: &'static str, lock: usize) -> bool {
    if w.kernel.locks.contains_key(&lock) {
        return true;
    }
    w.violate(
        Rule::SpinLockInvalid,
        Subject::Memory(lock),
        call,
        "not a spin lock NdisAllocateSpinLock initialised (or it was freed)",
    );
    false
}

/// `NdisAllocateSpinLock`.
///
/// # Safety
/// `lock` is null or writable.
pub unsafe fn allocate(_abi: Abi, lock: *mut NDIS_SPIN_LOCK) {
    const CALL: &str = "NdisAllocateSpinLock";
    let ok = world::with(|w| {
        let l = lock as usize;
        if lock.is_null() || matches!(w.kernel.locks.get(&l), Some(Some(_))) {
            w.violate(
                Rule::SpinLockInvalid,
                Subject::Memory(l),
                CALL,
                "NULL, or a lock that is held",
            );
            return false;
        }
        w.kernel.locks.insert(l, None);
        true
    });
    if ok == Some(true) {
        // SAFETY: non-null and writable (contract).
        unsafe { lock.write(NDIS_SPIN_LOCK::default()) };
    }
}

/// `NdisFreeSpinLock`.
///
/// # Safety
/// None beyond the C contract: the address is looked up, never dereferenced.
pub unsafe fn free(_abi: Abi, lock: *mut NDIS_SPIN_LOCK) {
    const CALL: &str = "NdisFreeSpinLock";
    world::with(|w| {
        let l = lock as usize;
        if !allocated(w, CALL, l) {
            return;
        }
        if let Some(Some(_)) = w.kernel.locks.get(&l) {
            w.violate(
                Rule::SpinLockInvalid,
                Subject::Memory(l),
                CALL,
                "freeing a lock that is held",
            );
            return;
        }
        w.kernel.locks.remove(&l);
    });
}

/// What acquire and release both require: an initialised lock, and DISPATCH_LEVEL for the Dpr
/// variants.
fn usable(w: &mut World, call: &'static str, l: usize, dpr: bool) -> bool {
    if !allocated(w, call, l) {
        return false;
    }
    if dpr && !w.irql.is_dispatch() {
        w.violate(
            Rule::SpinLockDprBelowDispatch,
            Subject::Memory(l),
            call,
            format!("called at {}", w.irql),
        );
        return false;
    }
    true
}

/// What an acquire did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Acquire {
    /// Taken, or refused with a violation recorded.
    Settled,
    /// Held by another processor (threads mode): spin and try again.
    Contended,
}

fn acquire(w: &mut World, call: &'static str, l: usize, dpr: bool) -> Acquire {
    if !usable(w, call, l, dpr) {
        return Acquire::Settled;
    }
    if let Some(Some(h)) = w.kernel.locks.get(&l) {
        let cpu = h.cpu;
        if w.census.threads() && cpu != w.kernel.cpu {
            return Acquire::Contended;
        }
        w.violate(
            Rule::SpinLockRecursiveAcquire,
            Subject::Memory(l),
            call,
            format!(
                "the lock is already held (taken on CPU {cpu}): this processor would spin for ever"
            ),
        );
        return Acquire::Settled;
    }
    let held = Held {
        cpu: w.kernel.cpu,
        dpr,
        old_irql: w.irql,
        depth: w.frames.len(),
    };
    w.kernel.locks.insert(l, Some(held));
    w.irql = Irql::Dispatch;
    Acquire::Settled
}

/// Acquires `l`, spinning (without the world's lock) while another processor holds it.
fn acquire_spinning(call: &'static str, l: usize, dpr: bool) {
    while world::with(|w| acquire(w, call, l, dpr)) == Some(Acquire::Contended) {
        std::hint::spin_loop();
        std::thread::yield_now();
    }
}

fn release(w: &mut World, call: &'static str, l: usize, dpr: bool) {
    if !usable(w, call, l, dpr) {
        return;
    }
    let held = w.kernel.locks.get(&l).copied().flatten();
    match held {
        Some(h) if h.cpu != w.kernel.cpu => w.violate(
            Rule::SpinLockReleaseNotHeld,
            Subject::Memory(l),
            call,
            format!(
                "the lock is held by CPU {}, not this processor ({})",
                h.cpu, w.kernel.cpu
            ),
        ),
        Some(h) if h.dpr == dpr => {
            w.kernel.locks.insert(l, None);
            w.irql = h.old_irql;
        }
        Some(_) => w.violate(
            Rule::SpinLockReleaseNotHeld,
            Subject::Memory(l),
            call,
            if dpr {
                "NdisDprReleaseSpinLock of a lock taken with NdisAcquireSpinLock"
            } else {
                "NdisReleaseSpinLock of a lock taken with NdisDprAcquireSpinLock"
            },
        ),
        None => w.violate(
            Rule::SpinLockReleaseNotHeld,
            Subject::Memory(l),
            call,
            "the lock is not held",
        ),
    }
}

/// `NdisAcquireSpinLock`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn acquire_lock(_abi: Abi, lock: *mut NDIS_SPIN_LOCK) {
    acquire_spinning("NdisAcquireSpinLock", lock as usize, false);
}

/// `NdisReleaseSpinLock`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn release_lock(_abi: Abi, lock: *mut NDIS_SPIN_LOCK) {
    world::with(|w| release(w, "NdisReleaseSpinLock", lock as usize, false));
}

/// `NdisDprAcquireSpinLock`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn dpr_acquire_lock(_abi: Abi, lock: *mut NDIS_SPIN_LOCK) {
    acquire_spinning("NdisDprAcquireSpinLock", lock as usize, true);
}

/// `NdisDprReleaseSpinLock`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn dpr_release_lock(_abi: Abi, lock: *mut NDIS_SPIN_LOCK) {
    world::with(|w| release(w, "NdisDprReleaseSpinLock", lock as usize, true));
}

/// Locks still held by a callback at stack depth `depth` of this processor that is returning to
/// NDIS: each is a `spinlock.held-on-return` violation; the simulated IRQL the callback returns at is the
/// caller's business (the emulator restores its own).
pub(crate) fn check_released_on_return(w: &mut World, depth: usize) {
    let mut held: Vec<usize> = w
        .kernel
        .locks
        .iter()
        .filter(|(_, h)| h.is_some_and(|h| h.depth >= depth && h.cpu == w.kernel.cpu))
        .map(|(&l, _)| l)
        .collect();
    held.sort_unstable();
    if let Some(&l) = held.first() {
        w.violate(
            Rule::SpinLockHeldOnReturn,
            Subject::Memory(l),
            "-",
            format!(
                "{} spin lock(s) still held when the callback returned",
                held.len()
            ),
        );
    }
}

crate::exports! {
    "ndis.sys" => {
        fn NdisAllocateSpinLock(lock: *mut NDIS_SPIN_LOCK) => allocate;
        fn NdisFreeSpinLock(lock: *mut NDIS_SPIN_LOCK) => free;
        fn NdisAcquireSpinLock(lock: *mut NDIS_SPIN_LOCK) => acquire_lock;
        fn NdisReleaseSpinLock(lock: *mut NDIS_SPIN_LOCK) => release_lock;
        fn NdisDprAcquireSpinLock(lock: *mut NDIS_SPIN_LOCK) => dpr_acquire_lock;
        fn NdisDprReleaseSpinLock(lock: *mut NDIS_SPIN_LOCK) => dpr_release_lock;
    }
}
