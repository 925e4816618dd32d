//! The ntoskrnl.exe functions a loaded `mpfilter.sys` imports besides NDIS: the pool, the bug
//! check, `DbgPrint`, and the CRT routines compiler-generated code calls. Win64 only: the
//! host-linked filter uses std's allocator and panic handler instead.

use super::bugcheck::{self, BAD_POOL_CALLER, BugCheck};
use crate::abi::{Abi, Export};
use std::alloc::Layout;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_int, c_void};

crate::exports! {
    #[win64_only] "ntoskrnl.exe" => {
        fn ExAllocatePool2(flags: u64, size: usize, tag: u32) -> *mut c_void => pool_allocate;
        fn ExFreePoolWithTag(block: *mut c_void, tag: u32) => pool_free;
        fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> ! => bug_check;
        fn DbgPrint(format: *const c_char, arg: *const c_char) -> u32 => debug_print;
        fn memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void => mem_copy;
        fn memmove(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void => mem_move;
        fn memset(dst: *mut c_void, c: c_int, n: usize) -> *mut c_void => mem_set;
        fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int => mem_compare;
        fn strlen(s: *const c_char) -> usize => str_len;
    }
}

/// `__chkstk`, which has its own convention (size in RAX, probes the pages below RSP, changes no
/// register but R10, R11 and flags), so it is assembly and not an [`exports!`](crate::exports) entry.
pub static ASM_EXPORTS: &[Export] = &[Export {
    dll: "ntoskrnl.exe",
    name: "__chkstk",
    win64: ndis_emu_win64_chkstk as *const (),
}];

unsafe extern "C" {
    /// Not callable from Rust: only its address is handed to the image.
    fn ndis_emu_win64_chkstk();
}

// Touches every page from the caller's RSP down to RSP - RAX, highest first, so that a guard page
// is met in order. R10 walks the pages, R11 holds the lowest address.
std::arch::global_asm!(
    ".globl ndis_emu_win64_chkstk",
    ".hidden ndis_emu_win64_chkstk",
    ".p2align 4",
    "ndis_emu_win64_chkstk:",
    "lea r10, [rsp + 8]",
    "mov r11, r10",
    "sub r11, rax",
    "jb 3f",
    "2:",
    "sub r10, 0x1000",
    "cmp r10, r11",
    "jb 4f",
    "test byte ptr [r10], 0",
    "jmp 2b",
    "4:",
    "test byte ptr [r11], 0",
    "3:",
    "ret",
);

/// `POOL_FLAG_UNINITIALIZED`.
const POOL_FLAG_UNINITIALIZED: u64 = 0x2;
/// What uninitialized pool holds here, so that code relying on zeroed memory it did not ask for
/// shows up.
const UNINITIALIZED_FILL: u8 = 0xA5;
const POOL_ALIGNMENT: usize = 16;

/// One outstanding pool block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolBlock {
    /// Its address.
    pub address: usize,
    /// Bytes requested.
    pub size: usize,
    /// The pool tag.
    pub tag: u32,
}

#[derive(Default)]
struct Pool {
    blocks: BTreeMap<usize, PoolBlock>,
    allocations: u64,
}

impl Drop for Pool {
    fn drop(&mut self) {
        for block in self.blocks.values() {
            // SAFETY: allocated by `pool_allocate` with this layout and not yet freed.
            unsafe { std::alloc::dealloc(block.address as *mut u8, layout(block.size)) };
        }
    }
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
    static DEBUG_OUTPUT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size.max(1), POOL_ALIGNMENT).expect("pool layout")
}

/// The pool blocks this thread's driver has allocated and not freed (a leak report after unload).
pub fn outstanding_pool() -> Vec<PoolBlock> {
    POOL.with(|p| p.borrow().blocks.values().copied().collect())
}

/// How many blocks this thread's driver has allocated in all (freed or not).
pub fn pool_allocations() -> u64 {
    POOL.with(|p| p.borrow().allocations)
}

/// The lines the driver printed with `DbgPrint` on this thread, oldest first.
pub fn debug_output() -> Vec<String> {
    DEBUG_OUTPUT.with(|d| d.borrow().clone())
}

// SAFETY (for callers): any arguments; returns NULL when the size cannot be allocated.
unsafe fn pool_allocate(_abi: Abi, flags: u64, size: usize, tag: u32) -> *mut c_void {
    if isize::try_from(size).is_err() {
        return std::ptr::null_mut();
    }
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { std::alloc::alloc(layout(size)) };
    if p.is_null() {
        return std::ptr::null_mut();
    }
    let fill = if flags & POOL_FLAG_UNINITIALIZED != 0 {
        UNINITIALIZED_FILL
    } else {
        0
    };
    // SAFETY: `p` is a fresh allocation of at least `size` bytes.
    unsafe { p.write_bytes(fill, size) };
    let block = PoolBlock {
        address: p as usize,
        size,
        tag,
    };
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.allocations += 1;
        pool.blocks.insert(block.address, block);
    });
    p.cast()
}

// SAFETY (for callers): any arguments; a block not from ExAllocatePool2 (or freed twice, or
// with another tag) bug-checks like the kernel, without touching memory.
unsafe fn pool_free(_abi: Abi, block: *mut c_void, tag: u32) {
    let address = block as usize;
    let found = POOL.with(|p| {
        let mut pool = p.borrow_mut();
        match pool.blocks.get(&address) {
            Some(b) if b.tag == tag => pool.blocks.remove(&address),
            _ => None,
        }
    });
    match found {
        // SAFETY: allocated by `pool_allocate` with this layout; removed from the table, so freed once.
        Some(b) => unsafe { std::alloc::dealloc(block.cast(), layout(b.size)) },
        None => bugcheck::stop(BugCheck {
            code: BAD_POOL_CALLER,
            parameters: [address, tag as usize, 0, 0],
        }),
    }
}

// SAFETY (for callers): any arguments; never returns.
unsafe fn bug_check(_abi: Abi, code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> ! {
    bugcheck::stop(BugCheck {
        code,
        parameters: [p1, p2, p3, p4],
    })
}

// SAFETY (for callers): `format` NUL-terminated; if it is exactly "%s", `arg` NUL-terminated too.
// Only the "%s" form is formatted (the one the driver uses); other formats are kept verbatim.
unsafe fn debug_print(_abi: Abi, format: *const c_char, arg: *const c_char) -> u32 {
    if format.is_null() {
        return 0;
    }
    // SAFETY: the caller passes a NUL-terminated format.
    let format = unsafe { CStr::from_ptr(format) };
    let text = if format.to_bytes() == b"%s" && !arg.is_null() {
        // SAFETY: "%s" promises a NUL-terminated string argument.
        unsafe { CStr::from_ptr(arg) }
            .to_string_lossy()
            .into_owned()
    } else {
        format.to_string_lossy().into_owned()
    };
    eprint!("{text}");
    DEBUG_OUTPUT.with(|d| d.borrow_mut().push(text.trim_end_matches('\n').to_owned()));
    0
}

// SAFETY (for callers): C `memcpy` contract.
unsafe fn mem_copy(_abi: Abi, dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the caller guarantees valid, non-overlapping ranges of `n` bytes.
    unsafe { std::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), n) };
    dst
}

// SAFETY (for callers): C `memmove` contract.
unsafe fn mem_move(_abi: Abi, dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the caller guarantees valid ranges of `n` bytes (they may overlap).
    unsafe { std::ptr::copy(src.cast::<u8>(), dst.cast::<u8>(), n) };
    dst
}

// SAFETY (for callers): C `memset` contract.
unsafe fn mem_set(_abi: Abi, dst: *mut c_void, c: c_int, n: usize) -> *mut c_void {
    // C converts the fill value to unsigned char: truncation is the contract.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let byte = c as u8;
    // SAFETY: the caller guarantees `n` writable bytes at `dst`.
    unsafe { dst.cast::<u8>().write_bytes(byte, n) };
    dst
}

// SAFETY (for callers): C `memcmp` contract.
unsafe fn mem_compare(_abi: Abi, a: *const c_void, b: *const c_void, n: usize) -> c_int {
    if n == 0 {
        return 0;
    }
    // SAFETY: the caller guarantees `n` readable bytes at `a`.
    let a = unsafe { std::slice::from_raw_parts(a.cast::<u8>(), n) };
    // SAFETY: and at `b`.
    let b = unsafe { std::slice::from_raw_parts(b.cast::<u8>(), n) };
    a.iter()
        .zip(b)
        .find(|(x, y)| x != y)
        .map_or(0, |(x, y)| c_int::from(*x) - c_int::from(*y))
}

// SAFETY (for callers): C `strlen` contract.
unsafe fn str_len(_abi: Abi, s: *const c_char) -> usize {
    // SAFETY: the caller passes a NUL-terminated string.
    unsafe { CStr::from_ptr(s) }.count_bytes()
}
