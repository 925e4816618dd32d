//! Progress of a run on stderr: an indicatif bar on a terminal, a plain line per tenth of the run
//! otherwise.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};

/// Steps of the bar.
const STEPS: u64 = 100;

/// Progress of one run.
pub struct Progress {
    label: String,
    bar: Option<ProgressBar>,
    shown: u64,
}

impl Progress {
    /// Progress of the run named `label`.
    pub fn new(label: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(STEPS);
            if let Ok(style) =
                ProgressStyle::with_template("{msg} [{bar:30}] {percent:>3}% {elapsed}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_owned());
            bar
        });
        Progress {
            label: label.to_owned(),
            bar,
            shown: 0,
        }
    }

    /// `done` of the run (0 to 1) is done.
    pub fn set(&mut self, done: f64) {
        // Clamped to 0..=100 first.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let pct = (done * 100.0).clamp(0.0, 100.0) as u64;
        match &self.bar {
            Some(bar) => bar.set_position(pct),
            None if pct >= self.shown + 10 => {
                self.shown = pct - pct % 10;
                let _ = writeln!(std::io::stderr(), "{}: {pct}%", self.label);
            }
            None => {}
        }
    }

    /// The run ended.
    pub fn finish(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
