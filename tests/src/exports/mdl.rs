//! The ntoskrnl MDL routines a filter uses to describe part of someone else's buffer without
//! writing it: `IoAllocateMdl` (an MDL with room for a range's page array, allocated ahead),
//! `IoBuildPartialMdl` (that MDL made to describe a sub-range of a source MDL), `IoFreeMdl`, and
//! `MmUnmapLockedPages` (what wdm.h's `MmPrepareMdlForReuse` calls for a partial MDL that was
//! mapped).
//!
//! The emulator keeps no page frames: an MDL's bytes are its `MappedSystemVa` range. A partial
//! MDL of a mapped source is mapped at the same offset, as Windows' `IoBuildPartialMdl` does
//! (it copies MDL_MAPPED_TO_SYSTEM_VA and offsets MappedSystemVa). Misuse — a range outside the
//! source, a target too small for the range's pages, a target that is no live `IoAllocateMdl`
//! MDL — is a bug check on Windows; here it is reported as `handle.invalid` (an object that is
//! not what the call takes) and the call does nothing.
#![allow(non_snake_case)]

use crate::abi::Abi;
use crate::rules::{Rule, Subject};
use crate::world;
use core::ffi::c_void;
use mpfilter::ndis::consts::{MDL_MAPPED_TO_SYSTEM_VA, MDL_PARTIAL, MDL_PARTIAL_HAS_BEEN_MAPPED};
use mpfilter::ndis::types::MDL;
use std::alloc::Layout;

/// The tag `IoAllocateMdl` MDLs are kept under in the driver's memory table (leaks at unload;
/// `NdisFreeMdl`/`NdisFreeMemory` refuse them).
pub const IO_MDL_TAG: u32 = u32::from_le_bytes(*b"eIoM");

const PAGE: usize = 0x1000;
const MDL_SOURCE_IS_NONPAGED_POOL: i16 = 0x0004;

/// Pages a range of `len` bytes at `va` touches (ADDRESS_AND_SIZE_TO_SPAN_PAGES).
fn span_pages(va: usize, len: usize) -> usize {
    ((va & (PAGE - 1)) + len).div_ceil(PAGE)
}

/// The size of an MDL with a page array for `pages` pages.
fn mdl_size(pages: usize) -> usize {
    size_of::<MDL>() + pages * size_of::<u64>()
}

/// `IoAllocateMdl`: an MDL sized for `len` bytes at `va`, describing that range (not yet built:
/// unmapped, no pages). Secondary buffers and IRPs are not supported (NULL returned).
///
/// # Safety
/// None beyond the C contract: `va` is only recorded.
pub unsafe fn io_allocate_mdl(
    _abi: Abi,
    va: *mut c_void,
    len: u32,
    secondary: u8,
    _charge_quota: u8,
    irp: *mut c_void,
) -> *mut MDL {
    if len == 0 || secondary != 0 || !irp.is_null() {
        return std::ptr::null_mut();
    }
    let at = va as usize;
    let size = mdl_size(span_pages(at, len as usize));
    let Ok(layout) = Layout::from_size_align(size, 16) else {
        return std::ptr::null_mut();
    };
    world::with(|w| {
        // SAFETY: non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        // The layout is 16-aligned, more than an MDL needs.
        #[allow(clippy::cast_ptr_alignment)]
        let p = raw.cast::<MDL>();
        if p.is_null() {
            return std::ptr::null_mut();
        }
        let mdl = MDL {
            Next: std::ptr::null_mut(),
            Size: i16::try_from(size).unwrap_or(i16::MAX),
            MdlFlags: 0,
            Process: std::ptr::null_mut(),
            MappedSystemVa: std::ptr::null_mut(),
            StartVa: (at & !(PAGE - 1)) as *mut c_void,
            ByteCount: len,
            ByteOffset: u32::try_from(at & (PAGE - 1)).unwrap_or(0),
        };
        // SAFETY: a fresh allocation of at least size_of::<MDL>() bytes, 16-aligned.
        unsafe { p.write(mdl) };
        w.memory.insert(p as usize, (layout, IO_MDL_TAG));
        p
    })
    .unwrap_or(std::ptr::null_mut())
}

/// `IoFreeMdl`.
///
/// # Safety
/// None beyond the C contract: anything but a live `IoAllocateMdl` MDL is reported.
pub unsafe fn io_free_mdl(_abi: Abi, mdl: *mut MDL) {
    const CALL: &str = "IoFreeMdl";
    world::with(|w| match w.memory.get(&(mdl as usize)) {
        Some(&(layout, IO_MDL_TAG)) => {
            w.memory.remove(&(mdl as usize));
            // SAFETY: allocated by io_allocate_mdl with this layout, removed from the table once.
            unsafe { std::alloc::dealloc(mdl.cast(), layout) };
        }
        _ => w.violate(
            Rule::MemoryFreeInvalid,
            Subject::Memory(mdl as usize),
            CALL,
            "not a live MDL from IoAllocateMdl",
        ),
    });
}

/// `IoBuildPartialMdl`: `target` describes `len` bytes (0 = to the end of the source) at `va`
/// within `source`'s range.
///
/// # Safety
/// `source` is a live MDL (the driver's or one NDIS gave it); `target` is checked.
pub unsafe fn io_build_partial_mdl(
    _abi: Abi,
    source: *mut MDL,
    target: *mut MDL,
    va: *mut c_void,
    len: u32,
) {
    const CALL: &str = "IoBuildPartialMdl";
    world::with(|w| {
        let bad = |w: &mut world::World, why: String| {
            w.violate(
                Rule::HandleInvalid,
                Subject::Memory(target as usize),
                CALL,
                why,
            );
        };
        if !matches!(w.memory.get(&(target as usize)), Some(&(_, IO_MDL_TAG))) || source.is_null() {
            bad(w, "the target is not a live MDL from IoAllocateMdl".into());
            return;
        }
        // SAFETY: per the contract the source is live.
        let s = unsafe { &*source };
        // SAFETY: a live IoAllocateMdl MDL (checked above).
        let t = unsafe { &mut *target };
        if t.MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED != 0 {
            bad(
                w,
                "the target's last partial mapping was not released (MmPrepareMdlForReuse)".into(),
            );
            return;
        }
        let base = s.StartVa as usize + s.ByteOffset as usize;
        let at = va as usize;
        let count = s.ByteCount as usize;
        let offset = at.wrapping_sub(base);
        if at < base || offset >= count {
            bad(
                w,
                format!("{at:#x} is outside the source's {count} bytes at {base:#x}"),
            );
            return;
        }
        let len = if len == 0 {
            count - offset
        } else {
            len as usize
        };
        if len > count - offset {
            bad(
                w,
                format!("{len} bytes from offset {offset} pass the source's {count}"),
            );
            return;
        }
        if usize::try_from(t.Size).unwrap_or(0) < mdl_size(span_pages(at, len)) {
            bad(
                w,
                format!("the target is too small for {len} bytes at {at:#x}"),
            );
            return;
        }
        t.StartVa = (at & !(PAGE - 1)) as *mut c_void;
        t.ByteOffset = u32::try_from(at & (PAGE - 1)).unwrap_or(0);
        t.ByteCount = u32::try_from(len).unwrap_or(0);
        t.MdlFlags =
            MDL_PARTIAL | (s.MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL));
        t.MappedSystemVa = if s.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA != 0 {
            // The source's mapping at the same offset (it covers `count` bytes).
            s.MappedSystemVa.cast::<u8>().wrapping_add(offset).cast()
        } else {
            std::ptr::null_mut()
        };
    });
}

/// `MmUnmapLockedPages` of a partial MDL's own mapping (what `MmPrepareMdlForReuse` calls). The
/// emulator's partial MDLs share their source's mapping, so there is never one of their own:
/// any call is reported.
///
/// # Safety
/// None beyond the C contract: the arguments are only compared.
pub unsafe fn mm_unmap_locked_pages(_abi: Abi, base: *mut c_void, mdl: *mut MDL) {
    world::with(|w| {
        w.violate(
            Rule::HandleInvalid,
            Subject::Memory(mdl as usize),
            "MmUnmapLockedPages",
            format!("{base:p} is no mapping MmMapLockedPages made for this MDL"),
        );
    });
}

crate::exports! {
    "ntoskrnl.exe" => {
        fn IoAllocateMdl(va: *mut c_void, len: u32, secondary: u8, charge_quota: u8, irp: *mut c_void) -> *mut MDL => io_allocate_mdl;
        fn IoFreeMdl(mdl: *mut MDL) => io_free_mdl;
        fn IoBuildPartialMdl(source: *mut MDL, target: *mut MDL, va: *mut c_void, len: u32) => io_build_partial_mdl;
        fn MmUnmapLockedPages(base: *mut c_void, mdl: *mut MDL) => mm_unmap_locked_pages;
    }
}
