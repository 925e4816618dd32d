//! `KeBugCheckEx` under the emulator: the machine stops, the test does not.
//!
//! A bug check never returns, and nothing may unwind through the driver's win64 frames (they
//! have Windows unwind tables only, and the driver is built with panic = "abort"); jumping out with
//! `longjmp` would skip the emulator's own frames and their destructors. So the calling thread
//! does what a bug-checked CPU does: it records the stop code and halts — it parks forever. The
//! test runs the driver on a thread of its own through [`run_guarded`], which wakes up with the
//! [`BugCheck`] instead of the result. The frozen thread, its emulator and the mapped image are
//! deliberately leaked until the test process exits (nothing of them runs again).

use std::cell::RefCell;
use std::fmt;
use std::sync::mpsc;

/// The bug check code mpfilter's panic handler raises ("MPFP"; parameters: pool tag, line, file
/// pointer, column).
pub const BUGCHECK_RUST_PANIC: u32 = u32::from_be_bytes(*b"MPFP");
/// `BAD_POOL_CALLER`, raised by the emulated pool on a bad free.
pub const BAD_POOL_CALLER: u32 = 0xC2;

/// A recorded `KeBugCheckEx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BugCheck {
    /// The stop code.
    pub code: u32,
    /// The four parameters.
    pub parameters: [usize; 4],
}

impl fmt::Display for BugCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [p1, p2, p3, p4] = self.parameters;
        write!(
            f,
            "bug check {:#010x} ({p1:#x}, {p2:#x}, {p3:#x}, {p4:#x})",
            self.code
        )?;
        match self.code {
            BUGCHECK_RUST_PANIC => write!(f, ": Rust panic in the driver, line {p2}"),
            BAD_POOL_CALLER => write!(f, ": BAD_POOL_CALLER"),
            _ => Ok(()),
        }
    }
}

enum Event {
    Finished,
    Stopped(BugCheck),
}

thread_local! {
    static WATCHER: RefCell<Option<mpsc::Sender<Event>>> = const { RefCell::new(None) };
}

/// Runs `body` on a new thread that may execute a loaded driver. Returns its value, or the
/// [`BugCheck`] if the driver (or the emulated kernel on its behalf) bug-checked. A panic of
/// `body` (e.g. a failed assertion) propagates to the caller.
///
/// # Errors
/// The bug check that stopped the run.
pub fn run_guarded<T, F>(body: F) -> Result<T, BugCheck>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("emulated-cpu".into())
        .spawn(move || {
            WATCHER.with(|w| *w.borrow_mut() = Some(tx.clone()));
            let value = body();
            let _ = tx.send(Event::Finished);
            value
        })
        .expect("spawning the emulated CPU thread");
    match rx.recv() {
        Ok(Event::Stopped(bug_check)) => Err(bug_check),
        // Finished, or the thread panicked (the sender went away): join says which.
        Ok(Event::Finished) | Err(mpsc::RecvError) => match handle.join() {
            Ok(value) => Ok(value),
            Err(panic) => std::panic::resume_unwind(panic),
        },
    }
}

/// Stops the emulated machine: records `bug_check` for [`run_guarded`] and parks this thread
/// forever. Without a watcher (driver code run outside `run_guarded`) there is no way to stop
/// without unwinding through win64 frames, so the process aborts after saying why.
pub fn stop(bug_check: BugCheck) -> ! {
    eprintln!("*** {bug_check}: the emulated machine stopped");
    let sent = WATCHER.with(|w| {
        w.borrow()
            .as_ref()
            .is_some_and(|tx| tx.send(Event::Stopped(bug_check)).is_ok())
    });
    if !sent {
        eprintln!("*** no run_guarded watcher on this thread: aborting the process");
        std::process::abort();
    }
    loop {
        std::thread::park();
    }
}
