//! Runtime of the WDK build (`cargo make` on Windows): the windows-drivers-rs crates supply it.

// Links wdk-panic's `#[panic_handler]`.
extern crate wdk_panic;

/// Kernel pool allocator from wdk-alloc.
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;

/// Prints a NUL-terminated line through `DbgPrint`.
pub(super) fn debug_print(line: &[u8]) {
    debug_assert_eq!(line.last(), Some(&0));
    // SAFETY: "%s" consumes exactly one argument, a NUL-terminated string, which `line` is (the
    // caller terminates it); DbgPrint is callable at any IRQL for such a format.
    unsafe {
        wdk_sys::ntddk::DbgPrint(c"%s".as_ptr(), line.as_ptr().cast::<core::ffi::c_char>());
    }
}
