//! The monitor fed arbitrary event sequences (clock steps forwards and backwards included):
//! the auditor's rules — strict alternation, debounce, hysteresis, nothing missed — must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpshim::Monitor;
use mpshim::contract::{PathIdentity, Settings};
use mpshim::monitor::audit::Auditor;

fn settings(b: &[u8; 8]) -> Settings {
    Settings {
        tx_timeout_ms: 10 + u32::from(b[0]) * 4,
        error_window_ms: 16 * (10 + u32::from(b[1] % 64)),
        error_rate_permille: 1 + u32::from(b[2]) * 4 % 1_000,
        error_min_samples: 1 + u32::from(b[3] % 32),
        heartbeat_misses: u32::from(b[4] % 6),
        debounce_ms: u32::from(b[5]) * 3,
        hysteresis_ms: u32::from(b[6]) * 3,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, calls)) = data.split_first_chunk::<8>() else {
        return;
    };
    let start = settings(head);
    let mut monitor = Monitor::new(PathIdentity::default(), start, 0).unwrap();
    let mut audit = Auditor::new(start, 0);
    let mut now: u64 = 0;
    for call in calls.chunks_exact(3) {
        let (op, arg, step) = (call[0], call[1], call[2]);
        // Steps of -16..=239 ms.
        now = now.saturating_add_signed((i64::from(step) - 16) * 1_000_000);
        let mut tick = None;
        match op % 9 {
            0 => monitor.on_send(u32::from(arg % 16), now),
            1 => monitor.on_complete(u32::from(arg % 16), u32::from(arg >> 4), now),
            2 => monitor.on_link(arg & 1 == 0, now),
            3 => monitor.on_admin(arg & 1 == 0, now),
            4 => monitor.on_heartbeat_sent(now),
            5 => monitor.on_heartbeat_answered(now),
            6 => {
                let mut b = *head;
                b[usize::from(arg % 7)] = arg;
                let s = settings(&b);
                monitor.set_settings(s, now).unwrap();
                audit.set_settings(s);
            }
            _ => tick = Some(monitor.tick(now)),
        }
        if let Err(v) = audit.record(now, monitor.conditions(), tick.as_ref().map(Option::as_ref)) {
            panic!("{v:?}");
        }
    }
});
