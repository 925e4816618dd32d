//! The FilterModuleContext: the heap home of one [`Module`], from FilterAttach to FilterDetach.
//!
//! Allocation goes through the fallible global allocator rather than `Box::new`, which aborts on
//! exhaustion: the kernel pool can run out and FilterAttach must then fail cleanly.

use crate::module::Module;
use crate::ndis::types::NDIS_HANDLE;
use alloc::alloc::{Layout, alloc};
use alloc::boxed::Box;

/// The module behind a FilterModuleContext, or `None` for NULL.
///
/// # Safety
/// `ctx` must be NULL or a context made by [`allocate`] and not yet passed to [`free`], for the
/// whole lifetime `'a`.
pub(crate) unsafe fn module_ref<'a>(ctx: NDIS_HANDLE) -> Option<&'a Module> {
    // SAFETY: by the caller's contract the pointer is NULL or a live, initialised `Module`, which
    // is only ever accessed through shared references (its mutable state is atomic).
    unsafe { ctx.cast::<Module>().as_ref() }
}

/// Moves `module` to the heap; `None` when the allocator is exhausted.
pub(crate) fn allocate(module: Module) -> Option<NDIS_HANDLE> {
    let layout = Layout::new::<Module>();
    // SAFETY: `Module` is not zero-sized, so the layout is valid for `alloc`.
    let raw = unsafe { alloc(layout) };
    // `alloc` honours the layout's alignment, which is `Module`'s.
    #[allow(clippy::cast_ptr_alignment)]
    let p = raw.cast::<Module>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is a fresh, suitably aligned allocation for one `Module`.
    unsafe { p.write(module) };
    Some(p.cast())
}

/// Frees a context made by [`allocate`].
///
/// # Safety
/// `ctx` comes from `allocate`, is freed once, and nothing uses it any more.
pub(crate) unsafe fn free(ctx: NDIS_HANDLE) {
    // SAFETY: allocated by the global allocator with `Layout::new::<Module>()` and initialised,
    // which is what `Box::from_raw` requires; dropped exactly once (caller contract).
    drop(unsafe { Box::from_raw(ctx.cast::<Module>()) });
}
