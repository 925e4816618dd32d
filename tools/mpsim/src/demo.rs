//! The built-in demo: three paths, 10G / 10G / 1G, under speed-share; one 10G link fails at 2 s
//! and returns at 4 s, in a 6 s run — the issue's story at full length. At 21 Gbit/s of 1514-byte
//! frames that is about 8 million NBLs, each one a full trip through the real filter and the
//! strict emulator: about half a minute here (docs/performance.md).

/// The demo scenario.
pub const SCENARIO: &str = r#"
name = "demo: 10G/10G/1G, nic1 fails at 2 s and returns at 4 s"
seed = 1
duration_ms = 6000
policy = "speed-share"
flowlet_gap_us = 500
failback = "deferred:1000"
up_delay_ms = 500

[[path]]
name = "nic0"
rate_mbps = 10000
latency_us = 20

[[path]]
name = "nic1"
rate_mbps = 10000
latency_us = 20

[[path]]
name = "nic2"
rate_mbps = 1000
latency_us = 50

[traffic]
flows = 64
frame_bytes = 1514
offered_mbps = 0
window_nbls = 64

[[event]]
at_ms = 2000
path = "nic1"
kind = "link-down"

[[event]]
at_ms = 4000
path = "nic1"
kind = "link-up"
"#;
