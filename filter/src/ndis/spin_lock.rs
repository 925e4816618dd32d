//! [`SpinLock<T>`]: a value behind an NDIS spin lock, for the control plane (never the send path).
//!
//! [`SpinLock::lock`] (`NdisAcquireSpinLock`) raises to DISPATCH_LEVEL and the guard restores the
//! old IRQL; [`SpinLock::lock_at_dispatch`] (`NdisDprAcquireSpinLock`) is the cheaper form for
//! a caller known to run at DISPATCH_LEVEL already (a timer callback, a send or receive path whose
//! flags carry the DISPATCH_LEVEL bit). The guard releases with the matching function on drop, so
//! an acquire and its release always pair, and it cannot leave the processor that took it.
//!
//! While the guard lives the caller runs at DISPATCH_LEVEL: no PASSIVE-only NDIS call, no
//! blocking, and no second acquire of the same lock (that would spin forever).

use super::kernel_imports as imports;
use super::types::NDIS_SPIN_LOCK;
use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::marker::{PhantomData, PhantomPinned};
use core::ops::{Deref, DerefMut};
use core::pin::Pin;

/// A `T` only reachable through an NDIS spin lock. Pinned: NDIS may track the lock by address.
pub struct SpinLock<T> {
    raw: UnsafeCell<NDIS_SPIN_LOCK>,
    value: UnsafeCell<T>,
    _pinned: PhantomPinned,
}

// SAFETY: the value moves with the lock only when `T` may move between threads.
unsafe impl<T: Send> Send for SpinLock<T> {}
// SAFETY: the value is reached only through a guard, and the spin lock lets one guard exist at a
// time across all processors; `T: Send` because the guard hands `&mut T` to whichever processor
// holds it.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// Allocates the lock around `value` (`NdisAllocateSpinLock`, any IRQL <= DISPATCH_LEVEL).
    pub fn new(value: T) -> Pin<Box<Self>> {
        let lock = Box::pin(Self {
            raw: UnsafeCell::new(NDIS_SPIN_LOCK::default()),
            value: UnsafeCell::new(value),
            _pinned: PhantomPinned,
        });
        // SAFETY: the lock is pinned in the heap and nobody else sees it yet.
        unsafe { imports::NdisAllocateSpinLock(lock.raw.get()) };
        lock
    }

    /// Acquires the lock from any IRQL <= DISPATCH_LEVEL; the guard releases it and restores the
    /// IRQL.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        // SAFETY: the lock was allocated in `new` and is pinned; NDIS serialises the acquirers.
        unsafe { imports::NdisAcquireSpinLock(self.raw.get()) };
        SpinLockGuard {
            lock: self,
            at_dispatch: false,
            _not_send: PhantomData,
        }
    }

    /// Acquires the lock when the caller already runs at DISPATCH_LEVEL (`NdisDprAcquireSpinLock`).
    ///
    /// # Safety
    /// The caller runs at DISPATCH_LEVEL and stays there until the guard drops (else it could be
    /// preempted holding the lock, and another thread on this processor would spin forever).
    pub unsafe fn lock_at_dispatch(&self) -> SpinLockGuard<'_, T> {
        // SAFETY: as in `lock`; the caller is at DISPATCH_LEVEL (contract).
        unsafe { imports::NdisDprAcquireSpinLock(self.raw.get()) };
        SpinLockGuard {
            lock: self,
            at_dispatch: true,
            _not_send: PhantomData,
        }
    }

    /// `lock_at_dispatch` if `at_dispatch` says the caller runs at DISPATCH_LEVEL (for example
    /// from the DISPATCH_LEVEL bit of send flags), otherwise `lock`.
    ///
    /// # Safety
    /// `at_dispatch` is true only when the caller runs at DISPATCH_LEVEL.
    pub unsafe fn lock_with(&self, at_dispatch: bool) -> SpinLockGuard<'_, T> {
        if at_dispatch {
            // SAFETY: forwarded contract.
            unsafe { self.lock_at_dispatch() }
        } else {
            self.lock()
        }
    }

    /// The value, without locking: a unique borrow proves nobody else holds the lock.
    pub fn value_mut(self: Pin<&mut Self>) -> &mut T {
        // SAFETY: only the value is exposed, never the pinned lock.
        let this = unsafe { self.get_unchecked_mut() };
        this.value.get_mut()
    }
}

impl<T> Drop for SpinLock<T> {
    fn drop(&mut self) {
        // SAFETY: allocated in `new`; `&mut self` proves no guard holds it; freed once.
        unsafe { imports::NdisFreeSpinLock(self.raw.get()) };
    }
}

/// Holds a [`SpinLock`] at DISPATCH_LEVEL; releases it on drop with the function matching the
/// acquire. Not `Send`: a spin lock is released on the processor that acquired it.
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    at_dispatch: bool,
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and is borrowed uniquely.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        let raw = self.lock.raw.get();
        if self.at_dispatch {
            // SAFETY: acquired with NdisDprAcquireSpinLock by this guard, released once.
            unsafe { imports::NdisDprReleaseSpinLock(raw) };
        } else {
            // SAFETY: acquired with NdisAcquireSpinLock by this guard, released once.
            unsafe { imports::NdisReleaseSpinLock(raw) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::mock_kernel::{KernelSession, MockIrql};
    use super::SpinLock;

    #[test]
    fn lock_raises_to_dispatch_and_the_guard_restores() {
        let session = KernelSession::new();
        let lock = SpinLock::new(5u32);
        assert_eq!(session.irql(), MockIrql::Passive);
        {
            let mut g = lock.lock();
            assert_eq!(session.irql(), MockIrql::Dispatch);
            *g += 1;
        }
        assert_eq!(session.irql(), MockIrql::Passive);
        assert_eq!(*lock.lock(), 6);
        drop(lock);
        assert_eq!(
            session.take_calls(),
            [
                "spin-alloc",
                "acquire",
                "release",
                "acquire",
                "release",
                "spin-free"
            ]
        );
    }

    #[test]
    fn dispatch_callers_use_the_dpr_pair() {
        let session = KernelSession::new();
        let mut lock = SpinLock::new([0u8; 4]);
        session.set_irql(MockIrql::Dispatch);
        {
            // SAFETY: the mock runs "at DISPATCH_LEVEL" now.
            let mut g = unsafe { lock.lock_with(true) };
            g[0] = 9;
        }
        session.set_irql(MockIrql::Passive);
        {
            // SAFETY: false is always allowed.
            let mut g = unsafe { lock.lock_with(false) };
            g[1] = 8;
        }
        assert_eq!(*lock.as_mut().value_mut(), [9, 8, 0, 0]);
        assert_eq!(
            session.take_calls(),
            [
                "spin-alloc",
                "dpr-acquire",
                "dpr-release",
                "acquire",
                "release"
            ]
        );
    }

    #[test]
    fn the_lock_is_shared_between_threads() {
        let _session = KernelSession::new();
        let lock = SpinLock::new(0u64);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let _other = KernelSession::new();
                    for _ in 0..10 {
                        *lock.lock() += 1;
                    }
                });
            }
        });
        assert_eq!(*lock.lock(), 20);
    }
}
