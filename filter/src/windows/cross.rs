//! Runtime of the Linux cross build of `mpfilter.sys` (no WDK): pool allocator, bug-checking panic
//! handler, and the few CRT symbols the prebuilt `core`/`alloc` refer to, all imported from
//! ntoskrnl.exe through `raw-dylib`.

use crate::ndis::consts::MPFILTER_POOL_TAG;
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_char, c_int, c_void};
use core::panic::PanicInfo;

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn ExAllocatePool2(Flags: u64, NumberOfBytes: usize, Tag: u32) -> *mut c_void;
    fn ExFreePoolWithTag(P: *mut c_void, Tag: u32);
    fn KeBugCheckEx(
        BugCheckCode: u32,
        BugCheckParameter1: usize,
        BugCheckParameter2: usize,
        BugCheckParameter3: usize,
        BugCheckParameter4: usize,
    ) -> !;
    // Declared with one fixed argument: on x64 a variadic call passes integer/pointer arguments
    // exactly as a fixed-argument call does, and "%s" needs one.
    fn DbgPrint(Format: *const c_char, Line: *const c_char) -> u32;
}

// The compiler and `core` call these by name; a kernel driver gets them from ntoskrnl.exe, which
// exports the CRT memory routines (and `__chkstk` for frames larger than a page).
#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
#[allow(
    dead_code,
    reason = "called by compiler-generated code and core/alloc, not by name"
)]
unsafe extern "C" {
    fn memcpy(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
    fn memmove(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
    fn memset(dest: *mut c_void, c: c_int, count: usize) -> *mut c_void;
    fn memcmp(a: *const c_void, b: *const c_void, count: usize) -> c_int;
    fn strlen(s: *const c_char) -> usize;
    fn __chkstk();
}

/// `POOL_FLAG_NON_PAGED`: callable at any IRQL up to DISPATCH_LEVEL, like the data path.
const POOL_FLAG_NON_PAGED: u64 = 0x40;
/// `POOL_FLAG_UNINITIALIZED`: ExAllocatePool2 zeroes unless told not to; `alloc` need not.
const POOL_FLAG_UNINITIALIZED: u64 = 0x2;
/// `MEMORY_ALLOCATION_ALIGNMENT` on x64: every pool block is aligned to it.
const POOL_ALIGNMENT: usize = 16;

/// Bug check code of a Rust panic in mpfilter ("MPFP"); parameters: pool tag, line, file (pointer
/// to UTF-8, not terminated), column.
const BUGCHECK_RUST_PANIC: u32 = u32::from_be_bytes(*b"MPFP");

/// An absolute address in the image, so that it always carries a base relocation directory, as
/// link.exe's /DRIVER images do. Without one (rust-lld omits `.reloc` when all code is
/// RIP-relative) the image is still relocatable, but nothing would exercise relocation.
#[used]
static RELOCATION_ANCHOR: &u32 = &BUGCHECK_RUST_PANIC;

/// The global allocator: nonpaged pool with the driver's tag.
///
/// Blocks needing more than the pool's 16-byte alignment are over-allocated; the pool's own
/// address is kept in the word just below the aligned block (there are at least 16 bytes there).
struct PoolAllocator;

impl PoolAllocator {
    #[allow(
        clippy::cast_ptr_alignment,
        reason = "the word below a block aligned to more than 16 is 8-aligned"
    )]
    fn allocate(layout: Layout, flags: u64) -> *mut u8 {
        if layout.align() <= POOL_ALIGNMENT {
            // SAFETY: any size and flag combination is valid; failure returns NULL, as
            // GlobalAlloc requires.
            return unsafe { ExAllocatePool2(flags, layout.size(), MPFILTER_POOL_TAG) }.cast();
        }
        let Some(total) = layout.size().checked_add(layout.align()) else {
            return core::ptr::null_mut();
        };
        // SAFETY: as above.
        let raw = unsafe { ExAllocatePool2(flags, total, MPFILTER_POOL_TAG) }.cast::<u8>();
        if raw.is_null() {
            return raw;
        }
        // `raw` is 16-aligned and `align` > 16 is a power of two, so the aligned block starts
        // between 16 and `align` bytes into the allocation and still has `size` bytes after it.
        let offset = layout.align() - (raw as usize & (layout.align() - 1));
        // SAFETY: offset <= align, within the `size + align` bytes allocated.
        let aligned = unsafe { raw.add(offset) };
        // SAFETY: offset >= 16, so the word below `aligned` is inside the allocation.
        let slot = unsafe { aligned.cast::<*mut u8>().sub(1) };
        // SAFETY: `slot` is in the allocation and 8-aligned (`aligned` is at least 32-aligned).
        unsafe { slot.write(raw) };
        aligned
    }
}

// SAFETY: blocks come from the pool with the size and alignment asked for, and `dealloc` frees
// exactly the pool block behind each one (see `allocate`).
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::allocate(layout, POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::allocate(layout, POOL_FLAG_NON_PAGED)
    }

    #[allow(
        clippy::cast_ptr_alignment,
        reason = "the word below a block aligned to more than 16 is 8-aligned"
    )]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let block = if layout.align() <= POOL_ALIGNMENT {
            ptr
        } else {
            // SAFETY: `allocate` put the block 16 or more bytes into its pool block.
            let slot = unsafe { ptr.cast::<*mut u8>().sub(1) };
            // SAFETY: `allocate` stored the pool block's address there, 8-aligned.
            unsafe { slot.read() }
        };
        // SAFETY: `block` came from ExAllocatePool2 with this tag and is freed once.
        unsafe { ExFreePoolWithTag(block.cast(), MPFILTER_POOL_TAG) };
    }
}

#[global_allocator]
static GLOBAL_ALLOCATOR: PoolAllocator = PoolAllocator;

/// A panic is a driver bug: stop the machine with a bug check that says where (panic = "abort",
/// so nothing unwinds).
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let (file, line, column) = info.location().map_or((0, 0, 0), |l| {
        (
            l.file().as_ptr() as usize,
            l.line() as usize,
            l.column() as usize,
        )
    });
    // SAFETY: KeBugCheckEx takes any parameter values and does not return.
    unsafe {
        KeBugCheckEx(
            BUGCHECK_RUST_PANIC,
            MPFILTER_POOL_TAG as usize,
            line,
            file,
            column,
        )
    }
}

// `_fltused`: the MSVC toolchain marks objects that use floating point with a reference to it,
// normally defined by the CRT this driver does not link.
// `__CxxFrameHandler3`: the C++ exception personality that the prebuilt `alloc` names in its unwind
// tables. Nothing in this driver unwinds (panic = "abort"), so a handler that declines every frame
// (returns `ExceptionContinueSearch` = 1) is enough.
// Both are defined in assembly so that they stay out of the driver's export table (a Rust
// `#[no_mangle]` item would be exported from the image).
core::arch::global_asm!(
    ".section .rdata,\"dr\"",
    ".globl _fltused",
    ".p2align 2",
    "_fltused:",
    ".long 0",
    ".text",
    ".globl __CxxFrameHandler3",
    ".p2align 4",
    "__CxxFrameHandler3:",
    "mov eax, 1",
    "ret",
);

/// Prints a NUL-terminated line through `DbgPrint`.
pub(super) fn debug_print(line: &[u8]) {
    debug_assert_eq!(line.last(), Some(&0));
    // SAFETY: "%s" consumes exactly one argument, a NUL-terminated string, which `line` is.
    unsafe {
        DbgPrint(c"%s".as_ptr(), line.as_ptr().cast());
    }
}
