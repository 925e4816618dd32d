//! NBL memory as ndis.sys lays it out: an NBL with 29 info slots (0x180 bytes, larger than the
//! 24-slot declaration a 6.30 filter compiles against), its NET_BUFFER and MDL, and the frame
//! buffer, in one allocation; plus the header snapshots used to prove nobody touched an NBL it
//! did not own.
//!
//! This is the emulator's FFI edge for NBL memory: every raw access to an NBL, NET_BUFFER, MDL or
//! context goes through a function here.

use core::ffi::c_void;
use core::mem::{offset_of, size_of};
use core::ptr;
use mpfilter::ndis::types::{
    MDL, NDIS_HANDLE, NET_BUFFER, NET_BUFFER_LIST, NET_BUFFER_LIST_CONTEXT,
};
use std::alloc::Layout;

/// Info slots ndis.sys itself allocates per NBL on x64 (27 public + 2 wrapper slots).
pub const NDIS_INFO_SLOTS: usize = 29;
/// Size of the header part of an emulator NBL (0x90 + 29 * 8, rounded to 16).
pub const NBL_ALLOC_SIZE: usize = 0x180;
/// Bytes of backfill in front of every frame the emulator builds.
pub const FRAME_BACKFILL: usize = 64;
/// Capacity of an emulator frame buffer.
pub const FRAME_CAPACITY: usize = 2048;

/// One NET_BUFFER with the MDLs a clone needed of its own, or (in an NBL the emulated protocol
/// builds with several frames) one of its frames after the first, with its MDL and bytes.
pub struct NbPart {
    /// The NET_BUFFER (boxed so its address is stable).
    pub nb: Box<NbCell>,
    /// MDLs this part owns (empty when the clone shares the original's MDLs).
    #[allow(dead_code, reason = "storage the NET_BUFFER's MdlChain points into")]
    pub mdls: Vec<MdlCell>,
    /// The frame's bytes (a protocol frame's part only; its MDL points into them).
    pub data: Vec<u8>,
}

impl NbPart {
    /// A part to fill: the spare one on top of `spare` (its NET_BUFFER zeroed, its MDLs
    /// dropped, their storage kept), else a new one.
    pub fn take(spare: &mut Vec<NbPart>) -> NbPart {
        match spare.pop() {
            Some(mut p) => {
                p.nb.0 = zeroed_nb();
                p.mdls.clear();
                p
            }
            None => NbPart {
                nb: Box::new(NbCell(zeroed_nb())),
                mdls: Vec::new(),
                data: Vec::new(),
            },
        }
    }
}

/// A NET_BUFFER at a stable, 16-aligned address.
#[repr(C, align(16))]
pub struct NbCell(pub NET_BUFFER);

/// An MDL at a stable address.
#[repr(C, align(16))]
pub struct MdlCell(pub MDL);

/// An NBL allocation: the NBL as ndis.sys sizes it, then its first NET_BUFFER and MDL. The NBL's
/// address is the block's address.
#[repr(C, align(16))]
pub struct NblBlock {
    /// The declared part (24 info slots).
    pub nbl: NET_BUFFER_LIST,
    /// Info slots 24..29 that ndis.sys has and a 6.30 declaration does not.
    pub extra_info: [*mut c_void; NDIS_INFO_SLOTS - 24],
    pad: u64,
    /// The embedded NET_BUFFER (used by pools that allocate one).
    pub nb: NET_BUFFER,
    /// The embedded MDL describing `data`.
    pub mdl: MDL,
    /// Frame buffer of emulator-built NBLs (FRAME_CAPACITY bytes from `Box<[u8]>`, or null).
    /// Held as a raw pointer so that moving the block never re-asserts uniqueness over memory the
    /// MDL (and so the driver) points into.
    pub data: *mut u8,
    /// NET_BUFFERs of a clone.
    pub parts: Vec<NbPart>,
    /// NET_BUFFERs of the block's earlier clones, for its next clone to reuse (their boxes and
    /// MDL vectors) instead of allocating its own.
    pub spare_parts: Vec<NbPart>,
    /// The preallocated context area of the pool, if any.
    pub prealloc_ctx: *mut NET_BUFFER_LIST_CONTEXT,
}

const _: () = assert!(offset_of!(NblBlock, nb) == NBL_ALLOC_SIZE);
const _: () = assert!(size_of::<NET_BUFFER_LIST>() == 0x150);

fn zeroed_nbl() -> NET_BUFFER_LIST {
    // SAFETY: NET_BUFFER_LIST is plain data (raw pointers and integers); all-zero is valid.
    unsafe { core::mem::zeroed() }
}
/// An all-zero NET_BUFFER.
pub fn zeroed_nb() -> NET_BUFFER {
    // SAFETY: NET_BUFFER is plain data; all-zero is valid.
    unsafe { core::mem::zeroed() }
}
fn zeroed_mdl() -> MDL {
    // SAFETY: MDL is plain data; all-zero is valid.
    unsafe { core::mem::zeroed() }
}

/// Layout of a context area of `size` data bytes.
pub fn ctx_layout(size: usize) -> Layout {
    Layout::from_size_align(size_of::<NET_BUFFER_LIST_CONTEXT>() + size.max(1), 16)
        .unwrap_or(Layout::new::<NET_BUFFER_LIST_CONTEXT>())
}

/// Allocates a context area of `size` bytes with `offset` already in use from the top.
pub fn alloc_ctx(
    size: u16,
    offset: u16,
    next: *mut NET_BUFFER_LIST_CONTEXT,
) -> *mut NET_BUFFER_LIST_CONTEXT {
    let layout = ctx_layout(usize::from(size));
    // SAFETY: the layout has a non-zero size.
    // The layout is 16-aligned (ctx_layout), as NET_BUFFER_LIST_CONTEXT requires.
    #[allow(clippy::cast_ptr_alignment)]
    let p = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<NET_BUFFER_LIST_CONTEXT>();
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: p is a fresh allocation large and aligned enough for the header.
    unsafe {
        p.write(NET_BUFFER_LIST_CONTEXT {
            Next: next,
            Size: size,
            Offset: offset,
            Padding0: 0,
            ContextData: [],
        });
    }
    p
}

/// Makes a context area from [`alloc_ctx`] that nothing uses any more as good as a new one of its
/// size: zeroed, with `offset` already in use from the top, linked to `next`.
///
/// # Safety
/// `p` came from `alloc_ctx`, is not freed, and nothing else references it.
pub unsafe fn renew_ctx(
    p: *mut NET_BUFFER_LIST_CONTEXT,
    offset: u16,
    next: *mut NET_BUFFER_LIST_CONTEXT,
) {
    // SAFETY: a live area (contract); its Size gives its layout.
    let size = unsafe { (*p).Size };
    let bytes = ctx_layout(usize::from(size)).size();
    // SAFETY: the whole allocation (ctx_layout of its Size) is this area's, unreferenced.
    unsafe { p.cast::<u8>().write_bytes(0, bytes) };
    // SAFETY: as above; the header is in bounds and aligned (alloc_ctx).
    unsafe {
        p.write(NET_BUFFER_LIST_CONTEXT {
            Next: next,
            Size: size,
            Offset: offset,
            Padding0: 0,
            ContextData: [],
        });
    }
}

/// Frees a context area from [`alloc_ctx`].
///
/// # Safety
/// `p` came from `alloc_ctx` and is not used afterwards.
pub unsafe fn free_ctx(p: *mut NET_BUFFER_LIST_CONTEXT) {
    // SAFETY: the caller guarantees p is a live context area; its Size gives the layout.
    let size = unsafe { (*p).Size };
    // SAFETY: allocated by alloc_ctx with exactly this layout.
    unsafe { std::alloc::dealloc(p.cast(), ctx_layout(usize::from(size))) };
}

impl NblBlock {
    /// A fresh block for `pool`, with a frame buffer if `with_frame`, one NET_BUFFER if `with_nb`
    /// and a preallocated context area of `ctx_size` bytes.
    pub fn create(
        pool: NDIS_HANDLE,
        with_frame: bool,
        with_nb: bool,
        ctx_size: u16,
    ) -> *mut NblBlock {
        let mut b = Box::new(NblBlock {
            nbl: zeroed_nbl(),
            extra_info: [ptr::null_mut(); NDIS_INFO_SLOTS - 24],
            pad: 0,
            nb: zeroed_nb(),
            mdl: zeroed_mdl(),
            data: if with_frame {
                Box::into_raw(vec![0u8; FRAME_CAPACITY].into_boxed_slice()).cast::<u8>()
            } else {
                ptr::null_mut()
            },
            parts: Vec::new(),
            spare_parts: Vec::new(),
            prealloc_ctx: if ctx_size > 0 {
                alloc_ctx(ctx_size, ctx_size, ptr::null_mut())
            } else {
                ptr::null_mut()
            },
        });
        b.nbl.NdisPoolHandle = pool;
        if !b.data.is_null() {
            let va = b.data;
            b.mdl.MappedSystemVa = va.cast();
            b.mdl.StartVa = ((va as usize) & !0xFFF) as *mut c_void;
            b.mdl.ByteOffset = u32::try_from((va as usize) & 0xFFF).unwrap_or(0);
            b.mdl.ByteCount = u32::try_from(FRAME_CAPACITY).unwrap_or(0);
            b.mdl.Size = i16::try_from(size_of::<MDL>()).unwrap_or(0);
            // MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL
            b.mdl.MdlFlags = 0x1 | 0x4;
        }
        let raw = Box::into_raw(b);
        // SAFETY: raw is the live block just leaked; wire its self-references.
        let blk = unsafe { &mut *raw };
        blk.nbl.Context = blk.prealloc_ctx;
        if with_nb {
            blk.nbl.FirstNetBuffer = &raw mut blk.nb;
            blk.nb.NdisPoolHandle = pool;
        }
        raw
    }

    /// Frees a block from [`NblBlock::create`] (and its preallocated context).
    ///
    /// # Safety
    /// `b` came from `create`, is not used afterwards and nothing else frees it.
    pub unsafe fn destroy(b: *mut NblBlock) {
        // SAFETY: the caller hands over the unique owner of the block.
        let blk = unsafe { Box::from_raw(b) };
        if !blk.data.is_null() {
            let slice = ptr::slice_from_raw_parts_mut(blk.data, FRAME_CAPACITY);
            // SAFETY: allocated in `create` as a Box<[u8]> of FRAME_CAPACITY bytes; freed once.
            drop(unsafe { Box::from_raw(slice) });
        }
        if !blk.prealloc_ctx.is_null() {
            // SAFETY: the prealloc context was allocated by alloc_ctx for this block only.
            unsafe { free_ctx(blk.prealloc_ctx) };
        }
    }
}

/// Borrows the block behind an NBL the emulator allocated.
///
/// # Safety
/// `nbl` is a live NBL of an emulator pool, and no other reference to the block is alive.
pub unsafe fn block<'a>(nbl: usize) -> &'a mut NblBlock {
    // SAFETY: per the contract, nbl is the address of a live NblBlock.
    unsafe { &mut *(nbl as *mut NblBlock) }
}

/// Resets a block for reuse from its pool's free list; `with_nb` re-attaches the embedded
/// NET_BUFFER.
///
/// # Safety
/// As for [`block`].
pub unsafe fn reset(nbl: usize, with_nb: bool) {
    // SAFETY: forwarded contract.
    let b = unsafe { block(nbl) };
    let pool = b.nbl.NdisPoolHandle;
    b.nbl = zeroed_nbl();
    b.extra_info = [ptr::null_mut(); NDIS_INFO_SLOTS - 24];
    b.nbl.NdisPoolHandle = pool;
    b.spare_parts.append(&mut b.parts);
    if !b.prealloc_ctx.is_null() {
        // SAFETY: the prealloc context belongs to this block.
        let ctx = unsafe { &mut *b.prealloc_ctx };
        ctx.Offset = ctx.Size;
        ctx.Next = ptr::null_mut();
    }
    b.nbl.Context = b.prealloc_ctx;
    if with_nb {
        let nb_pool = b.nb.NdisPoolHandle;
        b.nb = zeroed_nb();
        b.nb.NdisPoolHandle = nb_pool;
        b.nbl.FirstNetBuffer = &raw mut b.nb;
    }
}

/// The `Next` link of a live NBL.
///
/// # Safety
/// `nbl` is a live NBL (emulator-allocated).
pub unsafe fn next(nbl: usize) -> usize {
    // SAFETY: per the contract the NBL is live and readable.
    unsafe { (*(nbl as *const NET_BUFFER_LIST)).Next as usize }
}

/// Sets the `Next` link.
///
/// # Safety
/// As for [`next`].
pub unsafe fn set_next(nbl: usize, next: usize) {
    // SAFETY: per the contract the NBL is live and writable.
    unsafe { (*(nbl as *mut NET_BUFFER_LIST)).Next = next as *mut NET_BUFFER_LIST };
}

/// Borrows a live NBL's declared header.
///
/// # Safety
/// As for [`next`]; the reference must not outlive a call into the filter.
pub unsafe fn nbl_mut<'a>(nbl: usize) -> &'a mut NET_BUFFER_LIST {
    // SAFETY: per the contract the NBL is live.
    unsafe { &mut *(nbl as *mut NET_BUFFER_LIST) }
}

/// Bytes of the header a snapshot covers: the declared fields plus all 29 info slots.
pub const SNAP_LEN: usize = 0x90 + NDIS_INFO_SLOTS * 8;

/// What a snapshot leaves out.
#[derive(Clone, Copy)]
pub enum SnapMask {
    /// Only `Next` (the chain) may change: the NBL is with someone else.
    WhileAway,
    /// The owner's own changes are allowed: Next, Status, Scratch, NdisReserved, MiniportReserved.
    Handback,
}

/// A copy of an NBL header and its first NET_BUFFER's data description.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Snap {
    hdr: [u8; SNAP_LEN],
    nb: [usize; 6],
    /// Digest of the same fields of every later NET_BUFFER (0 with one NET_BUFFER).
    later_nbs: u64,
    ctx_offset: u32,
    /// Digest of the frame data of every NET_BUFFER (handback snapshots only; 0 otherwise).
    data: u64,
}

impl Snap {
    /// Records `value` in info slot `slot`: a change the snapshot's owner expects (a miniport's
    /// completion write-back).
    pub fn set_info(&mut self, slot: usize, value: usize) {
        let off = 0x90 + slot * 8;
        self.hdr[off..off + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// An all-zero snapshot (placeholder before the first real one).
    pub const EMPTY: Snap = Snap {
        hdr: [0; SNAP_LEN],
        nb: [0; 6],
        later_nbs: 0,
        ctx_offset: 0,
        data: 0,
    };
}

fn blank(hdr: &mut [u8; SNAP_LEN], from: usize, len: usize) {
    hdr[from..from + len].fill(0);
}

/// Takes a snapshot of a live emulator NBL.
///
/// # Safety
/// `nbl` is a live emulator NBL (so `SNAP_LEN` bytes are readable); its FirstNetBuffer and
/// Context, if not null, point at live structures.
pub unsafe fn snapshot(nbl: usize, mask: SnapMask) -> Snap {
    let mut s = Snap::EMPTY;
    // SAFETY: emulator NBLs are NBL_ALLOC_SIZE >= SNAP_LEN bytes.
    unsafe { ptr::copy_nonoverlapping(nbl as *const u8, s.hdr.as_mut_ptr(), SNAP_LEN) };
    blank(&mut s.hdr, offset_of!(NET_BUFFER_LIST, Next), 8);
    if let SnapMask::Handback = mask {
        // SAFETY: per the contract.
        s.data = unsafe { data_digest(nbl) };
        blank(&mut s.hdr, offset_of!(NET_BUFFER_LIST, Status), 4);
        blank(&mut s.hdr, offset_of!(NET_BUFFER_LIST, Scratch), 8);
        blank(&mut s.hdr, offset_of!(NET_BUFFER_LIST, NdisReserved), 16);
        blank(
            &mut s.hdr,
            offset_of!(NET_BUFFER_LIST, MiniportReserved),
            16,
        );
    }
    // SAFETY: per the contract.
    let n = unsafe { nbl_mut(nbl) };
    if !n.FirstNetBuffer.is_null() {
        // SAFETY: FirstNetBuffer of a live NBL points at a live NET_BUFFER (contract).
        let nb = unsafe { &*n.FirstNetBuffer };
        s.nb = nb_fields(nb);
        let mut later = nb.Next.cast_const();
        let mut hops = 0;
        while !later.is_null() && hops < 256 {
            hops += 1;
            // SAFETY: the NET_BUFFERs of a live NBL are live (contract).
            let nb = unsafe { &*later };
            let words: Vec<u8> = nb_fields(nb).iter().flat_map(|f| f.to_le_bytes()).collect();
            s.later_nbs = digest_bytes(s.later_nbs ^ hops, &words);
            later = nb.Next.cast_const();
        }
    }
    if !n.Context.is_null() {
        // SAFETY: Context of a live NBL points at a live context area (contract).
        s.ctx_offset = u32::from(unsafe { (*n.Context).Offset });
    }
    s
}

/// The NET_BUFFER fields a snapshot keeps, in the order of [`NB`].
fn nb_fields(nb: &NET_BUFFER) -> [usize; 6] {
    // SAFETY: reading the union as the pointer-sized variant; both are plain integers.
    let len = unsafe { nb.DataLength.DataLength } as usize;
    [
        nb.Next as usize,
        nb.CurrentMdl as usize,
        nb.CurrentMdlOffset as usize,
        len,
        nb.MdlChain as usize,
        nb.DataOffset as usize,
    ]
}

/// Named byte ranges of the NBL header, for diff reports.
const FIELDS: &[(&str, usize, usize)] = &[
    ("Next", 0x00, 8),
    ("FirstNetBuffer", 0x08, 8),
    ("Context", 0x10, 8),
    ("ParentNetBufferList", 0x18, 8),
    ("NdisPoolHandle", 0x20, 8),
    ("NdisReserved", 0x30, 16),
    ("ProtocolReserved", 0x40, 32),
    ("MiniportReserved", 0x60, 16),
    ("Scratch", 0x70, 8),
    ("SourceHandle", 0x78, 8),
    ("NblFlags", 0x80, 4),
    ("ChildRefCount", 0x84, 4),
    ("Flags", 0x88, 4),
    ("Status", 0x8C, 4),
];

/// NET_BUFFER fields a snapshot keeps.
const NB: [&str; 6] = [
    "Next",
    "CurrentMdl",
    "CurrentMdlOffset",
    "DataLength",
    "MdlChain",
    "DataOffset",
];

/// Which part of two snapshots differs, if any.
pub fn diff(a: &Snap, b: &Snap) -> Option<String> {
    if a == b {
        return None;
    }
    for (name, off, len) in FIELDS {
        if a.hdr[*off..off + len] != b.hdr[*off..off + len] {
            return Some(format!("NET_BUFFER_LIST.{name} changed"));
        }
    }
    for slot in 0..NDIS_INFO_SLOTS {
        let off = 0x90 + slot * 8;
        if a.hdr[off..off + 8] != b.hdr[off..off + 8] {
            return Some(format!("NetBufferListInfo[{slot}] changed"));
        }
    }
    for (i, name) in NB.iter().enumerate() {
        if a.nb[i] != b.nb[i] {
            return Some(format!("NET_BUFFER.{name} changed"));
        }
    }
    if a.later_nbs != b.later_nbs {
        return Some("a later NET_BUFFER changed".to_string());
    }
    if a.ctx_offset != b.ctx_offset {
        return Some("context Offset changed".to_string());
    }
    if a.data != b.data {
        return Some(DATA_CHANGED.to_string());
    }
    Some("header bytes changed".to_string())
}

/// What [`diff`] says when only the frame data differs (`nbl.data-written`).
pub const DATA_CHANGED: &str = "the frame data changed";

/// A digest of the data of every NET_BUFFER of a live NBL, read through its MDLs.
///
/// # Safety
/// As for [`snapshot`]; every NET_BUFFER's MDLs describe readable memory.
pub unsafe fn data_digest(nbl: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    // SAFETY: per the contract.
    let mut nb = unsafe { nbl_mut(nbl) }.FirstNetBuffer.cast_const();
    let mut buf = Vec::new();
    let mut hops = 0;
    while !nb.is_null() && hops < 256 {
        hops += 1;
        // SAFETY: a NET_BUFFER of a live NBL (contract); the slice is read before anything else
        // runs.
        if let Some((data, total)) = unsafe { contiguous_nb(nb, 1 << 20) } {
            h = digest_bytes(h ^ total as u64, data);
        } else {
            // SAFETY: as above.
            let length = unsafe { (*nb).DataLength };
            // SAFETY: the union's ULONG view, as NDIS reads it.
            let total = unsafe { length.DataLength } as usize;
            buf.resize(total.min(1 << 20), 0);
            // SAFETY: as above.
            let (_, n) = unsafe { read_nb(nb, &mut buf) };
            h = digest_bytes(h ^ total as u64, &buf[..n]);
        }
        // SAFETY: as above.
        nb = unsafe { (*nb).Next }.cast_const();
    }
    h
}

/// Folds `bytes` into `h`, eight bytes at a time over four independent lanes (so the processor
/// overlaps them). Each step is a bijection of its lane for a given word (xor, a multiply by an
/// odd constant, a rotation), and so is each step of the final fold for a given lane, so a change
/// confined to one word always changes the result; what it is for — a check that nobody wrote a
/// frame — needs nothing stronger, and a byte-at-a-time hash made it half of an mpsim run's time.
fn digest_bytes(h: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x0100_0000_01b3;
    let step = |lane: u64, word: u64| (lane ^ word).wrapping_mul(K).rotate_left(29);
    let word = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
    let mut lanes = [h, h ^ 1, h ^ 2, h ^ 3];
    let mut blocks = bytes.chunks_exact(32);
    for b in &mut blocks {
        for (lane, w) in lanes.iter_mut().zip(b.chunks_exact(8)) {
            *lane = step(*lane, word(w));
        }
    }
    let mut tail = [0u8; 32];
    let rest = blocks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    for (lane, w) in lanes.iter_mut().zip(tail.chunks_exact(8)) {
        *lane = step(*lane, word(w));
    }
    lanes.iter().fold(0, |acc, &lane| step(acc, lane))
}

/// Where the context stack of a live NBL stands: (top area, its Offset).
///
/// # Safety
/// As for [`snapshot`].
pub unsafe fn context_mark(nbl: usize) -> (usize, u16) {
    // SAFETY: per the contract.
    let n = unsafe { nbl_mut(nbl) };
    if n.Context.is_null() {
        (0, 0)
    } else {
        // SAFETY: Context points at a live area (contract).
        (n.Context as usize, unsafe { (*n.Context).Offset })
    }
}

/// Writes an Ethernet frame into the block's own buffer and points its NET_BUFFER at it.
///
/// # Safety
/// `nbl` is a live emulator block created `with_frame` and `with_nb`.
pub unsafe fn write_frame(nbl: usize, frame: impl FnOnce(&mut [u8]) -> usize) {
    // SAFETY: forwarded contract.
    let b = unsafe { block(nbl) };
    if b.data.is_null() {
        return;
    }
    // SAFETY: `data` is the block's FRAME_CAPACITY-byte buffer; the slice is derived from the raw
    // pointer the MDL also holds, and nothing else accesses the buffer during `frame`.
    let start = unsafe { b.data.add(FRAME_BACKFILL) };
    // SAFETY: as above: FRAME_CAPACITY - FRAME_BACKFILL bytes from `start` are the buffer's tail.
    let buf = unsafe { std::slice::from_raw_parts_mut(start, FRAME_CAPACITY - FRAME_BACKFILL) };
    let len = frame(buf);
    b.nb.MdlChain = &raw mut b.mdl;
    b.nb.CurrentMdl = &raw mut b.mdl;
    b.nb.DataOffset = u32::try_from(FRAME_BACKFILL).unwrap_or(0);
    b.nb.CurrentMdlOffset = b.nb.DataOffset;
    b.nb.DataLength.stDataLength = len;
    b.nbl.FirstNetBuffer = &raw mut b.nb;
}

/// Appends a NET_BUFFER to an NBL the emulated protocol builds: `frame` writes its bytes (as for
/// [`write_frame`]) into a buffer of its own, which one MDL describes; the new NET_BUFFER follows
/// the NBL's last one.
///
/// # Safety
/// `nbl` is a live emulator block created `with_frame` and `with_nb`, its first frame written,
/// and no other reference to it is alive.
pub unsafe fn append_frame(nbl: usize, frame: impl FnOnce(&mut [u8]) -> usize) {
    // SAFETY: forwarded contract.
    let b = unsafe { block(nbl) };
    let mut part = NbPart::take(&mut b.spare_parts);
    part.data.resize(FRAME_CAPACITY, 0);
    let len = frame(&mut part.data[FRAME_BACKFILL..]);
    let va = part.data.as_mut_ptr();
    let mut m = zeroed_mdl();
    m.MappedSystemVa = va.cast();
    m.StartVa = ((va as usize) & !0xFFF) as *mut c_void;
    m.ByteOffset = u32::try_from((va as usize) & 0xFFF).unwrap_or(0);
    m.ByteCount = u32::try_from(FRAME_CAPACITY).unwrap_or(0);
    m.Size = i16::try_from(size_of::<MDL>()).unwrap_or(0);
    // MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL, as the first frame's.
    m.MdlFlags = 0x1 | 0x4;
    part.mdls.push(MdlCell(m));
    let mdl = &raw mut part.mdls[0].0;
    let nb = &mut part.nb.0;
    nb.MdlChain = mdl;
    nb.CurrentMdl = mdl;
    nb.DataOffset = u32::try_from(FRAME_BACKFILL).unwrap_or(0);
    nb.CurrentMdlOffset = nb.DataOffset;
    nb.DataLength.stDataLength = len;
    nb.NdisPoolHandle = b.nb.NdisPoolHandle;
    let new = &raw mut part.nb.0;
    let last = match b.parts.last_mut() {
        Some(p) => &raw mut p.nb.0,
        None => &raw mut b.nb,
    };
    // SAFETY: `last` is the block's own NET_BUFFER or one of its parts', live with the block.
    unsafe { (*last).Next = new };
    b.parts.push(part);
}

/// Copies up to `out.len()` bytes of a NET_BUFFER's data (following its MDL chain) into `out`;
/// returns the NET_BUFFER's DataLength and the number of bytes copied.
///
/// # Safety
/// `nb` is null or a live NET_BUFFER whose MDLs describe readable memory.
pub unsafe fn read_nb(nb: *const NET_BUFFER, out: &mut [u8]) -> (usize, usize) {
    if nb.is_null() {
        return (0, 0);
    }
    // SAFETY: per the contract nb is live.
    let nb = unsafe { &*nb };
    // SAFETY: the union's ULONG view is what NDIS reads.
    let total = unsafe { nb.DataLength.DataLength } as usize;
    let mut mdl = nb.CurrentMdl.cast_const();
    let mut skip = nb.CurrentMdlOffset as usize;
    let mut copied = 0;
    let want = total.min(out.len());
    let mut hops = 0;
    while copied < want && !mdl.is_null() && hops < 64 {
        hops += 1;
        // SAFETY: MDLs in a live NET_BUFFER's chain are live (contract).
        let m = unsafe { &*mdl };
        let count = m.ByteCount as usize;
        if skip < count && !m.MappedSystemVa.is_null() {
            let n = (count - skip).min(want - copied);
            // SAFETY: skip < count: inside the MDL's mapped buffer.
            let src = unsafe { m.MappedSystemVa.cast::<u8>().add(skip) };
            // SAFETY: copied + n <= out.len().
            let dst = unsafe { out.as_mut_ptr().add(copied) };
            // SAFETY: the MDL describes `count` readable bytes at MappedSystemVa; dst has room.
            unsafe { ptr::copy_nonoverlapping(src, dst, n) };
            copied += n;
            skip = 0;
        } else {
            skip -= count.min(skip);
        }
        mdl = m.Next;
    }
    (total, copied)
}

/// The data of `nb` (at most `cap` bytes, as [`read_nb`] would copy into a buffer of `cap`) as a
/// slice of its MDL's own buffer when one MDL holds all of it — the common case, read without a
/// copy — with the NET_BUFFER's DataLength; `None` when the data spans MDLs or is not mapped.
///
/// # Safety
/// `nb` is null or a live NET_BUFFER whose MDLs describe readable memory that stays allocated
/// and unwritten for `'a`.
pub unsafe fn contiguous_nb<'a>(nb: *const NET_BUFFER, cap: usize) -> Option<(&'a [u8], usize)> {
    if nb.is_null() {
        return None;
    }
    // SAFETY: per the contract nb is live.
    let nb = unsafe { &*nb };
    // SAFETY: the union's ULONG view is what NDIS reads.
    let total = unsafe { nb.DataLength.DataLength } as usize;
    let mdl = nb.CurrentMdl.cast_const();
    if mdl.is_null() {
        return None;
    }
    // SAFETY: the current MDL of a live NET_BUFFER is live (contract).
    let m = unsafe { &*mdl };
    let skip = nb.CurrentMdlOffset as usize;
    if m.MappedSystemVa.is_null() || skip.checked_add(total)? > m.ByteCount as usize {
        return None;
    }
    // SAFETY: skip <= ByteCount: inside (or at the end of) the MDL's mapped buffer.
    let start = unsafe { m.MappedSystemVa.cast::<u8>().add(skip) };
    // SAFETY: skip + total <= ByteCount: the MDL's mapped buffer, readable for 'a (contract).
    let data = unsafe { core::slice::from_raw_parts(start, total.min(cap)) };
    Some((data, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_digest_changes_with_any_one_byte() {
        for len in [0usize, 1, 7, 8, 31, 32, 33, 64, 1514] {
            let frame: Vec<u8> = (0..len)
                .map(|i| i.to_le_bytes()[0].wrapping_mul(7))
                .collect();
            let d = digest_bytes(5, &frame);
            for at in 0..len {
                let mut changed = frame.clone();
                changed[at] ^= 0x40;
                assert_ne!(digest_bytes(5, &changed), d, "len {len}, byte {at}");
            }
        }
    }

    #[test]
    #[allow(clippy::multiple_unsafe_ops_per_block)]
    fn block_is_laid_out_like_ndis_sys() {
        let b = NblBlock::create(ptr::null_mut(), true, true, 32);
        let a = b as usize;
        // SAFETY: every operation below works on the fresh block `b`, alive until destroyed at the
        // end, and nothing else references it.
        unsafe {
            let n = nbl_mut(a);
            assert_eq!(n.FirstNetBuffer as usize, a + NBL_ALLOC_SIZE);
            assert!(!n.Context.is_null());
            assert_eq!((*n.Context).Offset, 32);
            write_frame(a, |buf| {
                buf[..4].copy_from_slice(&[1, 2, 3, 4]);
                60
            });
            let mut out = [0u8; 8];
            let (total, copied) = read_nb(nbl_mut(a).FirstNetBuffer, &mut out);
            assert_eq!((total, copied), (60, 8));
            assert_eq!(&out[..4], &[1, 2, 3, 4]);
            let s1 = snapshot(a, SnapMask::WhileAway);
            nbl_mut(a).Next = 0x1000 as *mut _;
            assert!(diff(&s1, &snapshot(a, SnapMask::WhileAway)).is_none());
            nbl_mut(a).SourceHandle = 0x2000 as *mut _;
            assert_eq!(
                diff(&s1, &snapshot(a, SnapMask::WhileAway)).as_deref(),
                Some("NET_BUFFER_LIST.SourceHandle changed")
            );
            let s2 = snapshot(a, SnapMask::Handback);
            nbl_mut(a).Status = 5;
            nbl_mut(a).Scratch = 0x10 as *mut _;
            assert!(diff(&s2, &snapshot(a, SnapMask::Handback)).is_none());
            (*a.cast_ptr()).extra_info[4] = 0x30 as *mut _;
            assert_eq!(
                diff(&s2, &snapshot(a, SnapMask::Handback)).as_deref(),
                Some("NetBufferListInfo[28] changed")
            );
            NblBlock::destroy(b);
        }
    }

    trait CastPtr {
        fn cast_ptr(self) -> *mut NblBlock;
    }
    impl CastPtr for usize {
        fn cast_ptr(self) -> *mut NblBlock {
            self as *mut NblBlock
        }
    }
}
