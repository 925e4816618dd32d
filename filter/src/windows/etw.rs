//! The `.sys` diagnostics backend: every [`Event`] as one ETW TraceLogging event of the provider
//! `mpfilter`, through the `tracelogging` crate (kernel mode: `EtwRegister`, `EtwSetInformation`,
//! `EtwWriteTransfer`, `EtwUnregister` from ntoskrnl.exe).
//!
//! The events, their levels, keywords and fields come from [`crate::diag::trace`]'s catalogue, the
//! same list the emulator decodes against. `write_event!` builds the metadata at compile time and
//! the data descriptors on the stack: writing allocates nothing and never blocks, at any IRQL a
//! filter callback runs at. An event nobody listens to costs one enabled check.

use crate::diag::trace::conv;
use crate::diag::{Emitter, Event, Sink};

// `tracelogging`'s `Guid::new` (user mode, never called by the driver) references rpcrt4's
// UuidCreate. The linker resolves every reference of the code it reads before it discards the
// unreferenced functions, so the name needs a definition; being unreferenced in the end, it is not
// imported (pecheck refuses any rpcrt4.dll import, and build.rs's empty rpcrt4.lib, which stands
// in for the library the crate names, defines nothing).
#[link(name = "rpcrt4.dll", kind = "raw-dylib", modifiers = "+verbatim")]
#[allow(
    dead_code,
    reason = "only resolves a reference of dead code in tracelogging"
)]
unsafe extern "system" {
    fn UuidCreate(Uuid: *mut core::ffi::c_void) -> i32;
}

tracelogging::define_provider!(
    MPFILTER,
    "mpfilter",
    // diag::trace::PROVIDER_GUID_TEXT (the emulator checks the GUID EtwRegister gets against it).
    id("e0f5ccb2-ad34-5b0a-f894-1f985a0a3677")
);

/// Registers the provider. Called once by DriverEntry at PASSIVE_LEVEL, before any module exists;
/// a failed registration leaves tracing off (every write is then a no-op), never the driver.
pub(crate) fn register() {
    // SAFETY: the provider is a static of this image, so it never moves; DriverEntry and unload
    // run alone, so register and unregister never overlap; and `unregister` runs on every path
    // that leaves the image loaded-but-unused (unload, DriverEntry failure), so no enable
    // callback into an unloaded image remains.
    let _ = unsafe { MPFILTER.register() };
}

/// Unregisters the provider (a no-op if it is not registered). Called by unload after every
/// module has detached, and by DriverEntry's failure path.
pub(crate) fn unregister() {
    let _ = MPFILTER.unregister();
}

/// Writes each event to ETW.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EtwSink;

macro_rules! writer {
    // The names as `tt`, not `literal`: a `literal` fragment reaches write_event! wrapped in an
    // invisible group, and it takes only a bare string literal.
    ($($variant:ident $name:tt $level:ident $keyword:ident {
        $($field:ident $fname:tt $ty:ident $conv:ident,)*
    })*) => {
        /// One `write_event!` per catalogue event.
        fn write(handle: usize, event: &Event) {
            match *event {
                $(Event::$variant { $($field,)* } => {
                    let _ = tracelogging::write_event!(
                        MPFILTER,
                        $name,
                        level($level),
                        keyword(crate::diag::trace::keyword::$keyword),
                        pointer("handle", &handle),
                        $($ty($fname, &conv::$conv($field)),)*
                    );
                })*
            }
        }
    };
}

crate::diag::trace::catalogue!(writer);

impl Sink for EtwSink {
    fn record(&self, emitter: Emitter, event: &Event) {
        write(emitter.as_raw().addr(), event);
    }
}
