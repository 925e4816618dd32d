//! NBL pools, NBLs, clones, contexts and NET_BUFFER data-start functions.

use super::checks;
use crate::abi::Abi;
use crate::nblmem::{self, MdlCell, NbPart, NblBlock};
use crate::rules::{Rule, Subject};
use crate::world::{self, Came, HandleKind, NState, Origin, World};
use core::ffi::c_void;
use core::ptr;
use mpfilter::ndis::consts::{
    NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS, NDIS_OBJECT_TYPE_DEFAULT, NDIS_STATUS_FAILURE,
    NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS,
};
use mpfilter::ndis::types::{
    BOOLEAN, MDL, NDIS_HANDLE, NDIS_STATUS, NET_BUFFER, NET_BUFFER_LIST,
    NET_BUFFER_LIST_POOL_PARAMETERS,
};

/// A filter pool handle (not an emulator-internal pool), or `handle.invalid`.
fn filter_pool(w: &mut World, call: &'static str, pool: usize) -> bool {
    match w.pools.get(&pool) {
        Some(p) if p.owner != 0 => true,
        _ => {
            w.violate(
                Rule::HandleInvalid,
                Subject::Handle(pool),
                call,
                "not a live NBL pool handle of the driver",
            );
            false
        }
    }
}

/// `NdisAllocateNetBufferListPool`.
///
/// # Safety
/// `params` is null or readable.
pub unsafe fn alloc_pool(
    _abi: Abi,
    h: NDIS_HANDLE,
    params: *mut NET_BUFFER_LIST_POOL_PARAMETERS,
) -> NDIS_HANDLE {
    const CALL: &str = "NdisAllocateNetBufferListPool";
    if params.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: non-null parameters are readable per the contract (plain data, Copy).
    let p = unsafe { *params };
    world::with(|w| {
        if !checks::driver_or_module(w, CALL, h as usize) {
            return ptr::null_mut();
        }
        if p.Header.Type != NDIS_OBJECT_TYPE_DEFAULT
            || p.Header.Revision < 1
            || p.Header.Size < 0x10
        {
            return ptr::null_mut();
        }
        w.new_pool(h as usize, false, p.fAllocateNetBuffer != 0, p.ContextSize) as NDIS_HANDLE
    })
    .unwrap_or(ptr::null_mut())
}

/// `NdisFreeNetBufferListPool`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn free_pool(_abi: Abi, pool: NDIS_HANDLE) {
    const CALL: &str = "NdisFreeNetBufferListPool";
    world::with(|w| {
        let h = pool as usize;
        if !filter_pool(w, CALL, h) {
            return;
        }
        let live = w.pools[&h].live;
        if live > 0 {
            w.violate(
                Rule::PoolFreeOutstanding,
                Subject::Handle(h),
                CALL,
                format!("{live} NBLs of the pool are not freed"),
            );
            return;
        }
        let Some(p) = w.pools.remove(&h) else { return };
        w.handles.remove(&h);
        for b in p.all {
            w.nbls.remove(&b);
            // SAFETY: every block of the pool is free (live == 0) and the pool is gone, so
            // nothing references it any more.
            unsafe { NblBlock::destroy(b as *mut NblBlock) };
        }
    });
}

/// Pushes `size` bytes of context (with `backfill` spare) onto an NBL.
fn push_context(w: &mut World, nbl: usize, size: u16, backfill: u16) {
    // SAFETY: nbl is a live emulator NBL (checked by callers).
    let n = unsafe { nblmem::nbl_mut(nbl) };
    if !n.Context.is_null() {
        // SAFETY: Context of a live NBL is a live area.
        let ctx = unsafe { &mut *n.Context };
        if ctx.Offset >= size {
            ctx.Offset -= size;
            return;
        }
    }
    let total = size.saturating_add(backfill);
    n.Context = w.ctx_area_alloc(total, total - size, n.Context);
}

fn alloc_common(
    w: &mut World,
    call: &'static str,
    pool: usize,
    ctx: u16,
    backfill: u16,
) -> Option<usize> {
    if !filter_pool(w, call, pool) {
        return None;
    }
    let nbl = w.pool_alloc(pool, Origin::Pool)?;
    if ctx > 0 || backfill > 0 {
        push_context(w, nbl, ctx, backfill);
    }
    // SAFETY: nbl is live.
    let mark = unsafe { nblmem::context_mark(nbl) };
    let t = w.nbls.get_mut(&nbl)?;
    t.state = NState::Filter {
        module: None,
        came: Came::Own,
    };
    t.ctx_mark = mark;
    t.source = 0;
    t.probe = false;
    Some(nbl)
}

/// `NdisAllocateNetBufferList`: an NBL without NET_BUFFERs.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn alloc_nbl(
    _abi: Abi,
    pool: NDIS_HANDLE,
    ctx: u16,
    backfill: u16,
) -> *mut NET_BUFFER_LIST {
    world::with(|w| {
        let nbl = alloc_common(w, "NdisAllocateNetBufferList", pool as usize, ctx, backfill)?;
        // SAFETY: nbl is live.
        unsafe { nblmem::nbl_mut(nbl) }.FirstNetBuffer = ptr::null_mut();
        Some(nbl as *mut NET_BUFFER_LIST)
    })
    .flatten()
    .unwrap_or(ptr::null_mut())
}

/// Points a NET_BUFFER's CurrentMdl/CurrentMdlOffset at DataOffset within its chain.
///
/// # Safety
/// `nb` is live and its MDL chain readable.
unsafe fn locate(nb: &mut NET_BUFFER) {
    let mut off = nb.DataOffset as usize;
    let mut m = nb.MdlChain;
    let mut hops = 0;
    while !m.is_null() && hops < 64 {
        hops += 1;
        // SAFETY: MDLs of a live chain are readable.
        let mm = unsafe { &*m };
        let count = mm.ByteCount as usize;
        if off < count || mm.Next.is_null() {
            break;
        }
        off -= count;
        m = mm.Next;
    }
    nb.CurrentMdl = m;
    nb.CurrentMdlOffset = u32::try_from(off).unwrap_or(0);
}

/// `NdisAllocateNetBufferAndNetBufferList`.
///
/// # Safety
/// `mdl` is null or a live MDL chain the caller keeps while the NBL lives.
pub unsafe fn alloc_nb_and_nbl(
    _abi: Abi,
    pool: NDIS_HANDLE,
    ctx: u16,
    backfill: u16,
    mdl: *mut MDL,
    offset: u32,
    len: usize,
) -> *mut NET_BUFFER_LIST {
    const CALL: &str = "NdisAllocateNetBufferAndNetBufferList";
    world::with(|w| {
        if w.pools.get(&(pool as usize)).is_some_and(|p| !p.with_nb) {
            return None;
        }
        let nbl = alloc_common(w, CALL, pool as usize, ctx, backfill)?;
        // SAFETY: nbl is a live block of a pool that allocates NET_BUFFERs.
        let b = unsafe { nblmem::block(nbl) };
        b.nb.MdlChain = mdl;
        b.nb.DataOffset = offset;
        b.nb.DataLength.stDataLength = len;
        // SAFETY: the caller's MDL chain is live (contract).
        unsafe { locate(&mut b.nb) };
        b.nbl.FirstNetBuffer = &raw mut b.nb;
        Some(nbl as *mut NET_BUFFER_LIST)
    })
    .flatten()
    .unwrap_or(ptr::null_mut())
}

/// `NdisFreeNetBufferList`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn free_nbl(_abi: Abi, nbl: *mut NET_BUFFER_LIST) {
    const CALL: &str = "NdisFreeNetBufferList";
    let n = nbl as usize;
    world::with(|w| {
        if !checks::live_nbl(w, CALL, n) {
            return;
        }
        let t = &w.nbls[&n];
        match (t.origin, t.state) {
            (Origin::Clone { .. }, _) => {
                w.violate(
                    Rule::CloneFreeNotClone,
                    Subject::Nbl(n),
                    CALL,
                    "a clone must be freed with NdisFreeCloneNetBufferList",
                );
                return;
            }
            (
                Origin::Pool,
                NState::Filter {
                    came: Came::Own, ..
                },
            ) => {}
            (_, s) => {
                w.violate(
                    Rule::NblFreeInvalid,
                    Subject::Nbl(n),
                    CALL,
                    format!("not a pool NBL the filter holds ({s:?})"),
                );
                return;
            }
        }
        let mark = t.ctx_mark;
        // SAFETY: n is live.
        if unsafe { nblmem::context_mark(n) } != mark {
            w.leak(
                Rule::LeakContext,
                Subject::Nbl(n),
                "NdisFreeNetBufferList",
                "freed with contexts still pushed",
            );
        }
        w.pool_release(n);
    });
}

/// Builds the NET_BUFFERs of a clone over the original's data into `parts` (empty), taking
/// their storage from `spare` where it can.
///
/// # Safety
/// `orig` is a live emulator NBL whose NET_BUFFERs and MDLs are live.
unsafe fn clone_parts(orig: usize, flags: u32, parts: &mut Vec<NbPart>, spare: &mut Vec<NbPart>) {
    // SAFETY: orig is live (contract).
    let mut nb = unsafe { nblmem::nbl_mut(orig) }.FirstNetBuffer;
    let mut hops = 0;
    while !nb.is_null() && hops < 256 {
        hops += 1;
        // SAFETY: NET_BUFFERs of a live NBL are live.
        let o = unsafe { &*nb };
        let mut part = NbPart::take(spare);
        let c = &mut part.nb;
        c.0.DataOffset = o.DataOffset;
        c.0.DataLength = o.DataLength;
        if flags & NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS != 0 {
            c.0.MdlChain = o.MdlChain;
        } else {
            let mdls = &mut part.mdls;
            let mut m = o.MdlChain;
            let mut mh = 0;
            while !m.is_null() && mh < 64 {
                mh += 1;
                // SAFETY: MDLs of a live chain are readable; MDL is plain data.
                let copy = unsafe { ptr::read(m) };
                let mut cell = MdlCell(copy);
                cell.0.Next = ptr::null_mut();
                mdls.push(cell);
                // SAFETY: as above.
                m = unsafe { (*m).Next };
            }
            for i in 1..mdls.len() {
                let next = &raw mut mdls[i].0;
                mdls[i - 1].0.Next = next;
            }
            c.0.MdlChain = mdls.first_mut().map_or(ptr::null_mut(), |m| &raw mut m.0);
        }
        // SAFETY: the new chain is live (our copies or the original's MDLs).
        unsafe { locate(&mut part.nb.0) };
        parts.push(part);
        nb = o.Next;
    }
    for i in 1..parts.len() {
        let next = &raw mut parts[i].nb.0;
        parts[i - 1].nb.0.Next = next;
    }
}

/// Builds the clone of an NBL with one NET_BUFFER and at most one MDL of its own in the clone's
/// block (its embedded NET_BUFFER and MDL, next to the NBL the clone call writes anyway); false
/// (nothing written) for any other shape, which [`clone_parts`] builds.
///
/// # Safety
/// `orig` is a live emulator NBL whose NET_BUFFERs and MDLs are live; `b` is another, just
/// allocated block whose pool has neither NET_BUFFERs nor frames (its `nb` and `mdl` unused).
unsafe fn clone_in_block(orig: usize, flags: u32, b: &mut NblBlock) -> bool {
    // SAFETY: orig is live (contract).
    let nb = unsafe { nblmem::nbl_mut(orig) }.FirstNetBuffer;
    if nb.is_null() {
        return false;
    }
    // SAFETY: NET_BUFFERs of a live NBL are live.
    let o = unsafe { &*nb };
    let own_mdl = flags & NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS == 0;
    let more_mdls = own_mdl
        && !o.MdlChain.is_null()
        // SAFETY: MDLs of a live chain are readable.
        && !unsafe { (*o.MdlChain).Next }.is_null();
    if !o.Next.is_null() || more_mdls {
        return false;
    }
    b.nb = nblmem::zeroed_nb();
    b.nb.DataOffset = o.DataOffset;
    b.nb.DataLength = o.DataLength;
    b.nb.MdlChain = if own_mdl && !o.MdlChain.is_null() {
        // SAFETY: as above; MDL is plain data.
        b.mdl = unsafe { ptr::read(o.MdlChain) };
        b.mdl.Next = ptr::null_mut();
        &raw mut b.mdl
    } else {
        o.MdlChain
    };
    // SAFETY: the new chain is live (the block's copy or the original's MDLs).
    unsafe { locate(&mut b.nb) };
    b.nbl.FirstNetBuffer = &raw mut b.nb;
    true
}

/// `NdisAllocateCloneNetBufferList`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn alloc_clone(
    _abi: Abi,
    orig: *mut NET_BUFFER_LIST,
    nbl_pool: NDIS_HANDLE,
    _nb_pool: NDIS_HANDLE,
    flags: u32,
) -> *mut NET_BUFFER_LIST {
    const CALL: &str = "NdisAllocateCloneNetBufferList";
    let o = orig as usize;
    world::with(|w| {
        reserved_clone_flags(w, CALL, o, flags);
        if !checks::live_nbl(w, CALL, o) {
            return None;
        }
        let pool = if nbl_pool.is_null() {
            w.clone_pool
        } else {
            if !filter_pool(w, CALL, nbl_pool as usize) {
                return None;
            }
            nbl_pool as usize
        };
        // A block of a pool without NET_BUFFERs or frames has its embedded NET_BUFFER and MDL
        // free for a clone's own.
        let bare = w
            .pools
            .get(&pool)
            .is_some_and(|p| !p.with_nb && !p.with_frame);
        let c = w.pool_alloc(pool, Origin::Clone { parent: o, flags })?;
        // SAFETY: c is a live block just allocated (so not `o`'s), its parts empty (reset).
        let b = unsafe { nblmem::block(c) };
        // SAFETY: o is a live emulator NBL with live NET_BUFFERs and MDLs; b's pool is bare.
        if !(bare && unsafe { clone_in_block(o, flags, b) }) {
            // SAFETY: as above.
            unsafe { clone_parts(o, flags, &mut b.parts, &mut b.spare_parts) };
            b.nbl.FirstNetBuffer = b
                .parts
                .first_mut()
                .map_or(ptr::null_mut(), |p| &raw mut p.nb.0);
        }
        // SAFETY: c is live.
        let mark = unsafe { nblmem::context_mark(c) };
        let t = w.nbls.get_mut(&c)?;
        t.state = NState::Filter {
            module: None,
            came: Came::Own,
        };
        t.ctx_mark = mark;
        t.source = 0;
        t.probe = false;
        *w.children.entry(o).or_insert(0) += 1;
        Some(c as *mut NET_BUFFER_LIST)
    })
    .flatten()
    .unwrap_or(ptr::null_mut())
}

/// `clone.flags-reserved`: `flags` of a clone call on `nbl` hold nothing but
/// NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS.
fn reserved_clone_flags(w: &mut World, call: &'static str, nbl: usize, flags: u32) {
    let unknown = flags & !mpfilter::ndis::consts::NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS;
    if unknown != 0 {
        w.violate(
            Rule::CloneFlagsReserved,
            Subject::Nbl(nbl),
            call,
            format!("clone flags {flags:#x}: {unknown:#x} is not the caller's to pass"),
        );
    }
}

/// `NdisFreeCloneNetBufferList`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn free_clone(_abi: Abi, nbl: *mut NET_BUFFER_LIST, flags: u32) {
    const CALL: &str = "NdisFreeCloneNetBufferList";
    let n = nbl as usize;
    world::with(|w| {
        reserved_clone_flags(w, CALL, n, flags);
        if !checks::live_nbl(w, CALL, n) {
            return;
        }
        let t = &w.nbls[&n];
        let Origin::Clone { parent, flags: f } = t.origin else {
            w.violate(
                Rule::CloneFreeNotClone,
                Subject::Nbl(n),
                CALL,
                "not a clone from NdisAllocateCloneNetBufferList",
            );
            return;
        };
        if !matches!(
            t.state,
            NState::Filter {
                came: Came::Own,
                ..
            }
        ) {
            let s = t.state;
            w.violate(
                Rule::CloneFreeNotClone,
                Subject::Nbl(n),
                CALL,
                format!("the clone is not held by the filter ({s:?})"),
            );
            return;
        }
        if flags != f {
            w.violate(
                Rule::CloneFreeFlagsMismatch,
                Subject::Nbl(n),
                CALL,
                format!("allocated with flags {f:#x}, freed with {flags:#x}"),
            );
            return;
        }
        if let Some(c) = w.children.get_mut(&parent) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                w.children.remove(&parent);
            }
        }
        w.pool_release(n);
    });
}

/// `NdisAllocateNetBufferListContext`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn alloc_context(
    _abi: Abi,
    nbl: *mut NET_BUFFER_LIST,
    size: u16,
    backfill: u16,
    _tag: u32,
) -> NDIS_STATUS {
    world::with(|w| {
        if !checks::live_nbl(w, "NdisAllocateNetBufferListContext", nbl as usize) {
            return NDIS_STATUS_FAILURE;
        }
        push_context(w, nbl as usize, size, backfill);
        NDIS_STATUS_SUCCESS
    })
    .unwrap_or(NDIS_STATUS_RESOURCES)
}

/// `NdisFreeNetBufferListContext`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn free_context(_abi: Abi, nbl: *mut NET_BUFFER_LIST, size: u16) {
    const CALL: &str = "NdisFreeNetBufferListContext";
    let n = nbl as usize;
    world::with(|w| {
        if !checks::live_nbl(w, CALL, n) {
            return;
        }
        // SAFETY: n is a live emulator block; the borrow ends with the read.
        let prealloc = unsafe { nblmem::block(n) }.prealloc_ctx;
        // SAFETY: n is live.
        let l = unsafe { nblmem::nbl_mut(n) };
        if l.Context.is_null() {
            w.violate(
                Rule::ContextFreeInvalid,
                Subject::Nbl(n),
                CALL,
                "the NBL has no context",
            );
            return;
        }
        // SAFETY: Context of a live NBL is a live area.
        let ctx = unsafe { &mut *l.Context };
        let used = ctx.Size - ctx.Offset.min(ctx.Size);
        if size > used {
            w.violate(
                Rule::ContextFreeInvalid,
                Subject::Nbl(n),
                CALL,
                format!("freeing {size} bytes, {used} allocated in the top context"),
            );
            return;
        }
        ctx.Offset += size;
        // An emptied area goes, unless it is the block's preallocated one (the stack's bottom):
        // every other area was pushed by `push_context`.
        if ctx.Offset == ctx.Size && l.Context != prealloc {
            let top = l.Context;
            l.Context = ctx.Next;
            w.ctx_area_release(top);
        }
    });
}

/// `src`'s out-of-band information array copied to `dst` (both checked live for `call`).
fn copy_info(call: &'static str, dst: *mut NET_BUFFER_LIST, src: *mut NET_BUFFER_LIST) {
    world::with(|w| {
        if !checks::live_nbl(w, call, dst as usize) || !checks::live_nbl(w, call, src as usize) {
            return;
        }
        // SAFETY: both are live emulator NBLs.
        let info = unsafe { nblmem::nbl_mut(src as usize) }.NetBufferListInfo;
        // SAFETY: as above.
        unsafe { nblmem::nbl_mut(dst as usize) }.NetBufferListInfo = info;
    });
}

/// `NdisCopySendNetBufferListInfo` (VOID in the DDI: a dead NBL is a violation, not a status).
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn copy_send_info(_abi: Abi, dst: *mut NET_BUFFER_LIST, src: *mut NET_BUFFER_LIST) {
    const CALL: &str = "NdisCopySendNetBufferListInfo";
    copy_info(CALL, dst, src);
}

/// `NdisCopyReceiveNetBufferListInfo`: the whole out-of-band array, as for the send side (the DDI's
/// list of receive items is a subset; nothing here reads the others on a receive).
///
/// # Safety
/// As for [`copy_send_info`].
pub unsafe fn copy_receive_info(_abi: Abi, dst: *mut NET_BUFFER_LIST, src: *mut NET_BUFFER_LIST) {
    const CALL: &str = "NdisCopyReceiveNetBufferListInfo";
    copy_info(CALL, dst, src);
}

/// `NdisRetreatNetBufferDataStart`: uses unused data space, else prepends an MDL the emulator
/// allocates.
///
/// # Safety
/// `nb` is null or a live NET_BUFFER.
pub unsafe fn retreat(
    _abi: Abi,
    nb: *mut NET_BUFFER,
    delta: u32,
    backfill: u32,
    _alloc: *mut c_void,
) -> NDIS_STATUS {
    if nb.is_null() {
        return NDIS_STATUS_FAILURE;
    }
    // SAFETY: per the contract nb is live.
    let b = unsafe { &mut *nb };
    // SAFETY: the ULONG view of the union.
    let len = unsafe { b.DataLength.DataLength };
    if b.DataOffset >= delta {
        b.DataOffset -= delta;
        b.DataLength.stDataLength = (len + delta) as usize;
        // SAFETY: nb's chain is live.
        unsafe { locate(b) };
        return NDIS_STATUS_SUCCESS;
    }
    let extra = (delta - b.DataOffset + backfill) as usize;
    let r = world::with(|w| {
        // SAFETY: MDL is plain data; all-zero is valid.
        let mut mdl: MDL = unsafe { core::mem::zeroed() };
        let mut buf = vec![0u8; extra.max(1)];
        let va = buf.as_mut_ptr();
        mdl.MappedSystemVa = va.cast();
        mdl.StartVa = ((va as usize) & !0xFFF) as *mut c_void;
        mdl.ByteOffset = u32::try_from((va as usize) & 0xFFF).unwrap_or(0);
        mdl.ByteCount = u32::try_from(extra).unwrap_or(0);
        mdl.Next = b.MdlChain;
        let cell = world::Heap::new((MdlCell(mdl), buf));
        // SAFETY: the live cell; the MDL pointer derives from its raw pointer.
        let m = unsafe { &raw mut (*cell.ptr()).0.0 };
        w.retreat_mdls.insert(m as usize, cell);
        m
    });
    let Some(m) = r else {
        return NDIS_STATUS_RESOURCES;
    };
    b.MdlChain = m;
    b.DataOffset = backfill;
    b.DataLength.stDataLength = (len + delta) as usize;
    // SAFETY: the new chain is live.
    unsafe { locate(b) };
    NDIS_STATUS_SUCCESS
}

/// `NdisAdvanceNetBufferDataStart`: frees MDLs the emulator prepended once they are skipped.
///
/// # Safety
/// `nb` is null or a live NET_BUFFER.
pub unsafe fn advance(
    _abi: Abi,
    nb: *mut NET_BUFFER,
    delta: u32,
    free_mdl: BOOLEAN,
    _free: *mut c_void,
) {
    if nb.is_null() {
        return;
    }
    // SAFETY: per the contract nb is live.
    let b = unsafe { &mut *nb };
    // SAFETY: the ULONG view of the union.
    let len = unsafe { b.DataLength.DataLength };
    b.DataOffset += delta;
    b.DataLength.stDataLength = len.saturating_sub(delta) as usize;
    if free_mdl != 0 {
        world::with(|w| {
            while !b.MdlChain.is_null() && w.retreat_mdls.contains_key(&(b.MdlChain as usize)) {
                // SAFETY: an MDL the emulator allocated (still in its table).
                let count = unsafe { (*b.MdlChain).ByteCount };
                if b.DataOffset < count {
                    break;
                }
                b.DataOffset -= count;
                // SAFETY: as above.
                let next = unsafe { (*b.MdlChain).Next };
                w.retreat_mdls.remove(&(b.MdlChain as usize));
                b.MdlChain = next;
            }
        });
    }
    // SAFETY: nb's chain is live.
    unsafe { locate(b) };
}

/// `NdisGetDataBuffer`.
///
/// # Safety
/// `nb` is null or live; `storage` null or writable for `bytes`.
pub unsafe fn get_data_buffer(
    _abi: Abi,
    nb: *mut NET_BUFFER,
    bytes: u32,
    storage: *mut c_void,
    _am: u32,
    _ao: u32,
) -> *mut c_void {
    if nb.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: per the contract nb is live.
    let b = unsafe { &*nb };
    // SAFETY: the ULONG view of the union.
    if bytes == 0 || bytes > unsafe { b.DataLength.DataLength } || b.CurrentMdl.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: CurrentMdl of a live NET_BUFFER is live.
    let m = unsafe { &*b.CurrentMdl };
    if m.ByteCount.saturating_sub(b.CurrentMdlOffset) >= bytes && !m.MappedSystemVa.is_null() {
        // SAFETY: within the MDL's mapped buffer.
        return unsafe {
            m.MappedSystemVa
                .cast::<u8>()
                .add(b.CurrentMdlOffset as usize)
        }
        .cast();
    }
    if storage.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: storage is writable for `bytes` bytes per the contract.
    let out = unsafe { std::slice::from_raw_parts_mut(storage.cast::<u8>(), bytes as usize) };
    // SAFETY: nb is live.
    let (_, got) = unsafe { nblmem::read_nb(nb, out) };
    if got == bytes as usize {
        storage
    } else {
        ptr::null_mut()
    }
}

/// `NdisGetPoolFromNetBufferList`.
///
/// # Safety
/// None beyond the C contract.
pub unsafe fn get_pool(_abi: Abi, nbl: *mut NET_BUFFER_LIST) -> NDIS_HANDLE {
    world::with(|w| {
        if !checks::live_nbl(w, "NdisGetPoolFromNetBufferList", nbl as usize) {
            return ptr::null_mut();
        }
        // SAFETY: nbl is live.
        unsafe { nblmem::nbl_mut(nbl as usize) }.NdisPoolHandle
    })
    .unwrap_or(ptr::null_mut())
}

/// Whether `h` is a pool handle (for tests).
#[allow(dead_code)]
pub(crate) fn is_pool(w: &World, h: usize) -> bool {
    w.handles.get(&h) == Some(&HandleKind::Pool)
}
