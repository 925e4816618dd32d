//! The FilterModuleContext: the heap home of one [`Module`], from FilterAttach to FilterDetach,
//! together with the driver state the module is registered in (FilterDetach gets only the module
//! context, and must deregister the module).
//!
//! Allocation goes through the fallible global allocator rather than `Box::new`, which aborts on
//! exhaustion: the kernel pool can run out and FilterAttach must then fail cleanly.

use super::state::DriverState;
use crate::module::Module;
use crate::ndis::types::NDIS_HANDLE;
use alloc::alloc::{Layout, alloc};
use alloc::boxed::Box;
use core::ops::Deref;
use core::ptr::NonNull;

/// What a FilterModuleContext points to.
pub(crate) struct ModuleContext {
    module: Module,
    driver: NonNull<DriverState>,
}

// SAFETY: the module is `Sync`, and the driver state pointer is only ever turned into a shared
// reference to the `Sync` driver state.
unsafe impl Sync for ModuleContext {}

impl ModuleContext {
    /// The driver state the module was attached under.
    pub(crate) fn driver(&self) -> &DriverState {
        // SAFETY: the driver state was live at FilterAttach (NDIS passed it as the
        // FilterDriverContext) and outlives every module: unload's NdisFDeregisterFilterDriver
        // returns only after every module is detached, and the extension holding the state is
        // freed with the driver object after that.
        unsafe { self.driver.as_ref() }
    }

    /// The module.
    pub(crate) fn module(&self) -> &Module {
        &self.module
    }
}

impl Deref for ModuleContext {
    type Target = Module;
    fn deref(&self) -> &Module {
        &self.module
    }
}

/// The context behind a FilterModuleContext pointer, or `None` for NULL.
///
/// # Safety
/// `ctx` must be NULL or a context made by [`allocate`] and not yet passed to [`free`], for the
/// whole lifetime `'a`.
pub(crate) unsafe fn context_ref<'a>(ctx: NDIS_HANDLE) -> Option<&'a ModuleContext> {
    // SAFETY: by the caller's contract the pointer is NULL or a live, initialised context, which
    // is only ever accessed through shared references (the module's mutable state is atomic).
    unsafe { ctx.cast::<ModuleContext>().as_ref() }
}

/// Moves `module` to the heap with the driver state it attaches under; `None` when the allocator
/// is exhausted.
pub(crate) fn allocate(module: Module, driver: NonNull<DriverState>) -> Option<NDIS_HANDLE> {
    let layout = Layout::new::<ModuleContext>();
    // SAFETY: `ModuleContext` is not zero-sized, so the layout is valid for `alloc`.
    let raw = unsafe { alloc(layout) };
    // `alloc` honours the layout's alignment, which is `ModuleContext`'s.
    #[allow(clippy::cast_ptr_alignment)]
    let p = raw.cast::<ModuleContext>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is a fresh, suitably aligned allocation for one `ModuleContext`.
    unsafe { p.write(ModuleContext { module, driver }) };
    Some(p.cast())
}

/// Frees a context made by [`allocate`].
///
/// # Safety
/// `ctx` comes from `allocate`, is freed once, and nothing uses it any more.
pub(crate) unsafe fn free(ctx: NDIS_HANDLE) {
    // SAFETY: allocated by the global allocator with `Layout::new::<ModuleContext>()` and
    // initialised, which is what `Box::from_raw` requires; dropped exactly once (caller contract).
    drop(unsafe { Box::from_raw(ctx.cast::<ModuleContext>()) });
}
