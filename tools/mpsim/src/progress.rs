//! Progress of a run on stderr: a line per tenth of the run when stderr is not a terminal, an
//! updating line when it is.

use std::io::{IsTerminal, Write};

/// Progress of one run.
pub struct Progress {
    label: String,
    tty: bool,
    shown: u32,
}

impl Progress {
    /// Progress of the run named `label`.
    pub fn new(label: &str) -> Self {
        Progress {
            label: label.to_owned(),
            tty: std::io::stderr().is_terminal(),
            shown: 0,
        }
    }

    /// `done` of the run (0 to 1) is done.
    pub fn set(&mut self, done: f64) {
        // Clamped to 0..=100 first.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let pct = (done * 100.0).clamp(0.0, 100.0) as u32;
        let mut err = std::io::stderr();
        if self.tty {
            let bar = "#".repeat((pct / 4) as usize);
            let _ = write!(err, "\r{} [{bar:<25}] {pct:>3}%", self.label);
            let _ = err.flush();
        } else if pct >= self.shown + 10 {
            self.shown = pct - pct % 10;
            let _ = writeln!(err, "{}: {pct}%", self.label);
        }
    }

    /// The run ended.
    pub fn finish(&mut self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}
