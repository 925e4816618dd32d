//! What a run cost this process: wall time and peak memory, printed after the summary (not part
//! of the JSON report, whose figures depend only on the scenario and the seed).

use std::time::Instant;

/// Measures from its creation.
pub struct Cost {
    started: Instant,
}

impl Cost {
    /// Starts measuring.
    pub fn start() -> Self {
        Cost {
            started: Instant::now(),
        }
    }

    /// One line: wall time so far and the process's peak resident memory, where the system says.
    pub fn line(&self) -> String {
        let wall = self.started.elapsed().as_secs_f64();
        match peak_rss_kib() {
            Some(kib) => format!("  run: {wall:.1} s wall, peak memory {} MB\n", kib / 1024),
            None => format!("  run: {wall:.1} s wall\n"),
        }
    }
}

/// The peak resident set size (`VmHWM` of /proc/self/status) in KiB; `None` off Linux.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_vm_hwm;

    #[test]
    fn the_peak_is_read_from_vm_hwm_in_kib() {
        let status = "Name:\tmpsim\nVmPeak:\t  900 kB\nVmHWM:\t  2137292 kB\nVmRSS:\t 10 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(2_137_292));
        assert_eq!(parse_vm_hwm("Name:\tmpsim\n"), None);
    }
}
