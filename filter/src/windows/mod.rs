//! The thin Windows-only layer: the kernel runtime a `no_std` driver needs around the portable code.
//!
//! Two variants, chosen by the `wdk` feature, with the same shape:
//! - [`wdk`](self) — the Windows host build through the WDK (`cargo make`): `wdk-alloc`'s pool
//!   allocator, `wdk-panic`'s panic handler, `DbgPrint` through `wdk-sys`.
//! - `cross` — the Linux cross build of `mpfilter.sys` (`--no-default-features`, linked by rust-lld
//!   against `raw-dylib` imports): a small pool allocator on ExAllocatePool2/ExFreePoolWithTag, a
//!   panic handler that bug-checks, and the few symbols the prebuilt `core`/`alloc` expect from a CRT.
//!
//! - `etw` — the diagnostics backend: each `diag::Event` as an ETW TraceLogging event.
//!
//! `DriverEntry` itself is portable and lives in `crate::driver::entry`.

// The diagnostics backend (ETW TraceLogging).
pub(crate) mod etw;

// A test binary on Windows links std, which brings its own allocator and panic handler.
#[cfg(all(not(feature = "wdk"), not(test)))]
mod cross;
#[cfg(all(feature = "wdk", not(test)))]
mod wdk;

#[cfg(all(not(feature = "wdk"), not(test)))]
use cross as runtime;
#[cfg(all(feature = "wdk", not(test)))]
use wdk as runtime;

/// Tests have no kernel debugger: trace lines go nowhere.
#[cfg(test)]
mod runtime {
    pub(super) fn debug_print(_line: &[u8]) {}
}

/// Longest trace line; longer messages are cut (the kernel debugger limits a line to 512 bytes).
const TRACE_LINE_MAX: usize = 256;

/// A fixed buffer that formats one NUL-terminated trace line without allocating (tracing must work
/// when the pool does not).
struct TraceLine {
    buf: [u8; TRACE_LINE_MAX],
    len: usize,
}

impl core::fmt::Write for TraceLine {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // Keep one byte for the terminating NUL; cut silently rather than fail the whole line.
        let room = TRACE_LINE_MAX - 1 - self.len;
        let take = s.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// Formats `args` and sends the line to the kernel debugger (`DbgPrint`).
#[allow(dead_code)]
pub(crate) fn trace_line(args: core::fmt::Arguments<'_>) {
    let mut line = TraceLine {
        buf: [0; TRACE_LINE_MAX],
        len: 0,
    };
    let _ = core::fmt::Write::write_fmt(&mut line, args);
    let _ = core::fmt::Write::write_str(&mut line, "\n");
    line.buf[line.len] = 0;
    runtime::debug_print(&line.buf[..=line.len]);
}

/// `trace!("fmt", args..)`: one line to the kernel debugger, prefixed with the driver name.
#[allow(unused_macros)]
macro_rules! trace {
    ($($arg:tt)*) => {
        $crate::windows::trace_line(format_args!("mpfilter: {}", format_args!($($arg)*)))
    };
}
#[allow(unused_imports)]
pub(crate) use trace;
