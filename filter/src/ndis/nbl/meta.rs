//! [`SendMeta`]: the filter's data about one NBL it has out (sent down a stack, parked, retried),
//! carried on the NBL itself in a context area (`NdisAllocateNetBufferListContext`), so the send
//! path keeps no table and allocates nothing of its own per NBL.
//!
//! The context stack is shared by every driver the NBL passes: a driver pushes its area before it
//! passes the NBL on and pops it when the NBL comes back, so while the filter owns an NBL it
//! pushed meta on, the top of the stack is the filter's. `NET_BUFFER_LIST_CONTEXT_DATA_START` is
//! `Context->ContextData + Context->Offset`, and the used bytes of the top area are
//! `Size - Offset`.
//!
//! Soundness: every access checks that the top area has at least [`SEND_META_SIZE`] used bytes,
//! so the filter never reads or writes outside an area NDIS allocated, whatever the stack holds;
//! reads and writes are unaligned (NDIS aligns context areas only to `sizeof(void*)`), and
//! `SendMeta` is plain integers, valid for any bytes. What the types cannot check is *whose* area
//! is on top: [`Nbl::meta`], [`Nbl::set_meta`] and [`Nbl::pop_meta`] are meant for NBLs the
//! filter pushed meta on and has not popped since, and popping another driver's area breaks that
//! driver's context stack as surely as completing an NBL twice breaks NDIS (the emulator reports
//! a context stack that does not come back as it went out).

use super::Nbl;
use crate::ndis::consts::{MPFILTER_POOL_TAG, NDIS_STATUS_SUCCESS};
use crate::ndis::imports;
use crate::ndis::types::NET_BUFFER_LIST_CONTEXT;
use core::mem::offset_of;

/// The filter's per-NBL data while it has the NBL out. 48 bytes, all integers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SendMeta {
    /// When the NBL was sent, in the engine's clock (ns).
    pub sent_ns: u64,
    /// The target key the NBL was classified by.
    pub target: u64,
    /// Bytes of data the NBL carries.
    pub len: u32,
    /// The path group's generation the path was chosen in.
    pub generation: u32,
    /// The path (member index) the NBL went to.
    pub path: u8,
    /// How often the NBL was re-sent after a failure.
    pub retries: u8,
    /// What kind of send this was (the send path's own code).
    pub kind: u8,
    /// Unused; zero.
    pub reserved: [u8; 5],
    /// The NBL's large-send request (`TcpLargeSendNetBufferListInfo`) when it was placed: the
    /// miniport overwrites it with its completion write-back, and a re-send restores it.
    pub lso_request: u64,
    /// Unused; zero (the context size stays a multiple of 16).
    pub spare: u64,
}

/// The context bytes [`Nbl::push_meta`] pushes: `size_of::<SendMeta>()`, a multiple of
/// `MEMORY_ALLOCATION_ALIGNMENT` (16) as `NdisAllocateNetBufferListContext` requires.
pub const SEND_META_SIZE: u16 = 48;

const _: () = assert!(size_of::<SendMeta>() == SEND_META_SIZE as usize);
const _: () = assert!(SEND_META_SIZE.is_multiple_of(16));

impl Nbl {
    /// `NET_BUFFER_LIST_CONTEXT_DATA_START` when the top context area has at least
    /// [`SEND_META_SIZE`] used bytes; `None` otherwise (no context, or a smaller one).
    fn meta_ptr(&self) -> Option<*mut SendMeta> {
        // SAFETY: a plain field read of a live NBL the caller owns.
        let top = unsafe { (*self.as_raw()).Context };
        if top.is_null() {
            return None;
        }
        // SAFETY: a non-NULL `Context` of a live NBL is a live area NDIS maintains.
        let area = unsafe { &*top };
        let (size, offset) = (area.Size, area.Offset);
        if size.checked_sub(offset)? < SEND_META_SIZE {
            return None;
        }
        let start = offset_of!(NET_BUFFER_LIST_CONTEXT, ContextData) + usize::from(offset);
        // SAFETY: the area holds `Size` data bytes after its header and
        // `Offset + SEND_META_SIZE <= Size`, so the meta's bytes at `start` are inside the
        // allocation.
        Some(unsafe { top.cast::<u8>().add(start) }.cast())
    }

    /// Pushes a [`SEND_META_SIZE`]-byte context holding `meta`; `false` (nothing changed) when
    /// NDIS has no memory. Callable at IRQL <= DISPATCH_LEVEL, on an NBL the filter owns.
    pub fn push_meta(&self, meta: SendMeta) -> bool {
        self.push_meta_with_backfill(meta, 0)
    }

    /// [`Nbl::push_meta`], asking NDIS to leave `backfill` bytes of context free in front of the
    /// meta when it has to allocate a new area, so the drivers below (whose restart attributes
    /// asked for that much `ContextBackFillSize`) find their context without allocating.
    /// `backfill` is rounded up to a multiple of `MEMORY_ALLOCATION_ALIGNMENT` (16).
    pub fn push_meta_with_backfill(&self, meta: SendMeta, backfill: u16) -> bool {
        let backfill = backfill.min(u16::MAX - 15).next_multiple_of(16);
        // SAFETY: a live NBL the filter owns; NDIS uses the unused space of the top area or
        // pushes a new one of SEND_META_SIZE + backfill bytes.
        let status = unsafe {
            imports::NdisAllocateNetBufferListContext(
                self.as_raw(),
                SEND_META_SIZE,
                backfill,
                MPFILTER_POOL_TAG,
            )
        };
        if status != NDIS_STATUS_SUCCESS {
            return false;
        }
        self.set_meta(meta);
        true
    }

    /// Reads the meta at the top of the context stack. Only meaningful on an NBL the filter
    /// pushed meta on (see the module docs); the default value when the top area is too small
    /// to hold one.
    pub fn meta(&self) -> SendMeta {
        self.meta_ptr().map_or_else(SendMeta::default, |p| {
            // SAFETY: SEND_META_SIZE in-bounds bytes of a context area of an NBL the caller owns
            // (no one else touches it meanwhile); unaligned, any bytes are a valid `SendMeta`.
            unsafe { p.read_unaligned() }
        })
    }

    /// Overwrites the meta at the top of the context stack (as [`Nbl::meta`]: nothing happens
    /// when the top area is too small to hold one).
    pub fn set_meta(&self, meta: SendMeta) {
        if let Some(p) = self.meta_ptr() {
            // SAFETY: as in `meta`; the write stays inside the area.
            unsafe { p.write_unaligned(meta) };
        }
    }

    /// Reads the meta and frees its context (`NdisFreeNetBufferListContext`): the NBL's context
    /// stack is as it was before [`Nbl::push_meta`]. Without a meta-sized top area it frees
    /// nothing and gives the default value.
    pub fn pop_meta(&self) -> SendMeta {
        let Some(p) = self.meta_ptr() else {
            return SendMeta::default();
        };
        // SAFETY: as in `meta`.
        let meta = unsafe { p.read_unaligned() };
        // SAFETY: the top area has at least SEND_META_SIZE used bytes (checked above), which
        // `push_meta` allocated; NDIS gives them back and pops the area if it is then unused.
        unsafe { imports::NdisFreeNetBufferListContext(self.as_raw(), SEND_META_SIZE) };
        meta
    }
}

#[cfg(test)]
mod tests {
    //! Run under Miri with the rest of `ndis::`: the context double allocates real heap areas
    //! and the session fails on one that is never freed.
    use super::*;
    use crate::ndis::NblChain;
    use crate::ndis::consts::NDIS_STATUS_RESOURCES;
    use crate::ndis::mock::{Call, Config, Session};
    use crate::ndis::testkit::FakeNbls;
    use core::ptr;

    fn sample(n: u8) -> SendMeta {
        SendMeta {
            sent_ns: 1_000_000_007 * u64::from(n),
            target: 0xDEAD_BEEF_0000_0000 | u64::from(n),
            len: 1514 + u32::from(n),
            generation: 40 + u32::from(n),
            path: n,
            retries: n / 2,
            kind: 3,
            reserved: [0; 5],
            lso_request: 0x4000_0218 | u64::from(n),
            spare: 0,
        }
    }

    /// Runs `f` on NBL 0 of `f`, owned through a one-NBL chain.
    fn with_nbl<R>(fakes: &FakeNbls, f: impl FnOnce(&Nbl) -> R) -> R {
        // SAFETY: a one-NBL chain of a live fake NBL.
        let chain = unsafe { NblChain::from_raw(fakes.link(0..1)) };
        let r = f(chain.first().unwrap());
        let _ = chain.into_raw();
        r
    }

    fn context(fakes: &FakeNbls) -> *mut NET_BUFFER_LIST_CONTEXT {
        // SAFETY: a plain read of a live fake NBL.
        unsafe { (*fakes.ptr(0)).Context }
    }

    #[test]
    fn push_read_overwrite_and_pop_restore_an_empty_stack() {
        let s = Session::new(Config::default());
        let f = FakeNbls::simple(1);
        with_nbl(&f, |nbl| {
            assert!(nbl.push_meta(sample(1)));
            assert!(!context(&f).is_null());
            assert_eq!(nbl.meta(), sample(1));
            nbl.set_meta(sample(2));
            assert_eq!(nbl.meta(), sample(2));
            assert_eq!(nbl.pop_meta(), sample(2));
        });
        assert!(context(&f).is_null(), "the stack is as before the push");
        assert_eq!(s.live_context_areas(), 0);
        let nbl = f.addr(0);
        assert_eq!(
            s.take_nbl_calls(),
            [
                Call::AllocContext {
                    nbl,
                    size: SEND_META_SIZE,
                    backfill: 0,
                    tag: u32::from_le_bytes(*b"mpfl"),
                    status: 0,
                },
                Call::FreeContext {
                    nbl,
                    size: SEND_META_SIZE
                },
            ]
        );
    }

    #[test]
    fn another_drivers_context_below_is_kept_whether_or_not_its_backfill_is_used() {
        let s = Session::new(Config::default());
        for backfill in [0u16, 32, 48, 56] {
            let f = FakeNbls::simple(1);
            // The protocol above pushed 16 bytes of its own, with `backfill` spare bytes before.
            // SAFETY: a live fake NBL.
            let status =
                unsafe { imports::NdisAllocateNetBufferListContext(f.ptr(0), 16, backfill, 7) };
            assert_eq!(status, NDIS_STATUS_SUCCESS);
            let theirs = context(&f);
            let start = offset_of!(NET_BUFFER_LIST_CONTEXT, ContextData) + usize::from(backfill);
            // SAFETY: the protocol's 16 bytes at its data start, inside its area.
            let their_data = unsafe { theirs.cast::<u8>().add(start) };
            // SAFETY: as above.
            unsafe { ptr::write_bytes(their_data, 0xAB, 16) };
            with_nbl(&f, |nbl| {
                assert!(nbl.push_meta(sample(3)));
                let reused = context(&f) == theirs;
                assert_eq!(reused, backfill >= SEND_META_SIZE, "backfill {backfill}");
                assert_eq!(nbl.meta(), sample(3));
                assert_eq!(nbl.pop_meta(), sample(3));
            });
            assert_eq!(context(&f), theirs, "backfill {backfill}");
            // SAFETY: a plain read of the protocol's live area.
            assert_eq!(unsafe { (*theirs).Offset }, backfill);
            // SAFETY: the protocol's 16 bytes.
            let kept = unsafe { core::slice::from_raw_parts(their_data, 16) };
            assert!(kept.iter().all(|&b| b == 0xAB), "their data is untouched");
            // SAFETY: the protocol pops its own context.
            unsafe { imports::NdisFreeNetBufferListContext(f.ptr(0), 16) };
            assert!(context(&f).is_null());
        }
        assert_eq!(s.live_context_areas(), 0);
    }

    #[test]
    fn nested_metas_pop_in_reverse_order() {
        let _s = Session::new(Config::default());
        let f = FakeNbls::simple(1);
        with_nbl(&f, |nbl| {
            assert!(nbl.push_meta(sample(4)));
            assert!(nbl.push_meta(sample(5)));
            assert_eq!(nbl.meta(), sample(5));
            assert_eq!(nbl.pop_meta(), sample(5));
            assert_eq!(nbl.meta(), sample(4));
            assert_eq!(nbl.pop_meta(), sample(4));
        });
        assert!(context(&f).is_null());
    }

    #[test]
    fn no_memory_is_false_and_changes_nothing() {
        let s = Session::new(Config {
            context_alloc_fails: true,
            ..Config::default()
        });
        let f = FakeNbls::simple(1);
        with_nbl(&f, |nbl| assert!(!nbl.push_meta(sample(6))));
        assert!(context(&f).is_null());
        let calls = s.take_nbl_calls();
        assert!(
            matches!(
                calls.as_slice(),
                [Call::AllocContext {
                    status: NDIS_STATUS_RESOURCES,
                    ..
                }]
            ),
            "{calls:?}"
        );
    }

    #[test]
    fn without_a_meta_sized_top_area_nothing_is_read_written_or_freed() {
        let s = Session::new(Config::default());
        let f = FakeNbls::simple(1);
        with_nbl(&f, |nbl| {
            assert_eq!(nbl.meta(), SendMeta::default());
            nbl.set_meta(sample(7));
            assert_eq!(nbl.pop_meta(), SendMeta::default());
        });
        assert!(s.take_nbl_calls().is_empty(), "no context: no NDIS call");
        // A 16-byte context of another driver is too small to be read as meta.
        // SAFETY: a live fake NBL.
        unsafe { imports::NdisAllocateNetBufferListContext(f.ptr(0), 16, 0, 7) };
        with_nbl(&f, |nbl| {
            nbl.set_meta(sample(8));
            assert_eq!(nbl.meta(), SendMeta::default());
            assert_eq!(nbl.pop_meta(), SendMeta::default());
        });
        assert!(!context(&f).is_null(), "their area is not freed");
        // SAFETY: the other driver pops its own context.
        unsafe { imports::NdisFreeNetBufferListContext(f.ptr(0), 16) };
        assert_eq!(s.live_context_areas(), 0);
    }
}
