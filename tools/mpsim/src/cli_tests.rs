//! `mpsim run` and `mpsim compare` end to end: the command line, parsed as the binary parses it,
//! runs small scenarios through the emulator with the host-linked filter (in this process: a test
//! binary cannot also build the `mpsim` binary, whose panic strategy differs), and the JSON report
//! is checked against what the scenario did to the team.

use super::{Cli, execute};
use clap::Parser;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// Two 1 Gb/s paths for 20 ms; `b`'s link is down from 5 ms to 12 ms and comes back at once.
const LINK_DOWN: &str = r#"
name = "two-links"
seed = 3
duration_ms = 20
policy = "round-robin"
failback = "immediate"
up_delay_ms = 0
[[path]]
name = "a"
rate_mbps = 1000
latency_us = 10
[[path]]
name = "b"
rate_mbps = 1000
latency_us = 10
[traffic]
flows = 16
frame_bytes = 1000
window_nbls = 16
[[event]]
at_ms = 5
path = "b"
kind = "link-down"
[[event]]
at_ms = 12
path = "b"
kind = "link-up"
"#;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("mpsim-test-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the command line; its exit code, and the error text of a refused one.
fn mpsim(args: &[&std::ffi::OsStr]) -> (ExitCode, String) {
    let cli = Cli::try_parse_from(std::iter::once("mpsim".as_ref()).chain(args.iter().copied()))
        .expect("a well-formed command line");
    let mut err = Vec::new();
    let code = execute(cli, &mut err);
    (code, String::from_utf8(err).unwrap())
}

fn json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the JSON report")).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

#[test]
fn a_link_down_moves_the_traffic_off_the_path_and_nothing_is_lost() {
    let dir = Dir::new("run");
    let scenario = dir.file("s.toml", LINK_DOWN);
    let out_json = dir.0.join("r.json");
    let out_svg = dir.0.join("r.svg");
    let out = mpsim(&[
        "run".as_ref(),
        scenario.as_ref(),
        "--json".as_ref(),
        out_json.as_ref(),
        "--svg".as_ref(),
        out_svg.as_ref(),
    ]);
    assert_eq!(out.0, ExitCode::SUCCESS, "{}", out.1);
    let r = json(&out_json);
    assert_eq!(r["scenario"], "two-links");
    let plot = std::fs::read_to_string(&out_svg).expect("the plot");
    assert!(plot.contains("b link-down") && plot.contains("b → failed"));
    assert_eq!(r["policy"], "round-robin");
    assert_eq!(r["group_policy"], "round-robin");
    let sent = r["nbls_sent"].as_u64().unwrap();
    assert!(sent > 1_000, "{sent}");
    assert_eq!(r["nbls_completed"].as_u64(), Some(sent));
    assert_eq!(r["delivered"].as_u64(), Some(sent));
    assert_eq!(r["nbls_lost"].as_u64(), Some(0));
    assert_eq!(r["nbls_duplicated"].as_u64(), Some(0));
    assert_eq!(r["rule_violations"].as_array().map(Vec::len), Some(0));
    // Path b was down 7 of the 20 ms: capacity 2 Gb/s for 13 ms, 1 Gb/s for 7.
    assert!((f(&r["capacity_mbps"]) - 1_650.0).abs() < 1e-6);
    assert!(f(&r["goodput_mbps"]) > 0.0);
    let paths = r["paths"].as_array().unwrap();
    let shares: f64 = paths.iter().map(|p| f(&p["share"])).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    assert!(paths.iter().all(|p| p["bytes"].as_u64() > Some(0)));
    let reasons: Vec<&str> = paths[1]["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.first(), Some(&"LinkDown"), "{reasons:?}");
    assert!(reasons.contains(&"LinkUp"), "{reasons:?}");
    assert_eq!(paths[1]["final_state"], "active");
    let fo = &r["failovers"][0];
    assert_eq!(fo["path"], "b");
    assert_eq!(fo["kind"], "link-down");
    assert!((f(&fo["injected_ms"]) - 5.0).abs() < 1e-9);
    let detected = f(&fo["detected_ms"]);
    assert!((5.0..6.0).contains(&detected), "{detected}");
    assert!(f(&fo["first_reroute_ms"]) >= 5.0);
    // While b was failed (a margin after 5 ms for frames already on its wire), its wire was idle.
    let bin = f(&r["throughput"]["bin_ms"]);
    let b = r["throughput"]["mbps"][1].as_array().unwrap();
    for (i, v) in b.iter().enumerate() {
        let t = i as f64 * bin;
        if (6.0..12.0).contains(&t) {
            assert!(f(v) == 0.0, "b carried {v} Mbit/s at {t} ms while down");
        }
    }
    assert!(b.iter().map(f).sum::<f64>() > 0.0);
    assert!(
        r["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"].as_str().unwrap().starts_with("PathTransition")),
    );
}

#[test]
fn in_rewrite_mode_the_rerouted_frames_bear_the_carriers_mac_and_nothing_is_lost() {
    let dir = Dir::new("rewrite");
    let scenario = dir.file(
        "s.toml",
        &LINK_DOWN.replace(
            "up_delay_ms = 0\n",
            "up_delay_ms = 0\nmac_mode = \"rewrite\"\n",
        ),
    );
    let out_json = dir.0.join("r.json");
    let out = mpsim(&[
        "run".as_ref(),
        scenario.as_ref(),
        "--json".as_ref(),
        out_json.as_ref(),
    ]);
    assert_eq!(out.0, ExitCode::SUCCESS, "{}", out.1);
    let r = json(&out_json);
    let sent = r["nbls_sent"].as_u64().unwrap();
    assert!(sent > 1_000, "{sent}");
    // A rerouted frame with its own adapter's MAC fails the emulator's wire check in rewrite
    // mode (a bad frame is not delivered): every frame arriving proves the rewrite.
    assert_eq!(r["delivered"].as_u64(), Some(sent));
    assert_eq!(r["nbls_lost"].as_u64(), Some(0));
    assert_eq!(r["rule_violations"].as_array().map(Vec::len), Some(0));
}

#[test]
fn compare_runs_every_policy_asked_with_the_same_seed() {
    let dir = Dir::new("compare");
    let scenario = dir.file("s.toml", LINK_DOWN);
    let out_json = dir.0.join("c.json");
    let out = mpsim(&[
        "compare".as_ref(),
        scenario.as_ref(),
        "--policies".as_ref(),
        "failover,speed-share".as_ref(),
        "--json".as_ref(),
        out_json.as_ref(),
    ]);
    assert_eq!(out.0, ExitCode::SUCCESS, "{}", out.1);
    let c = json(&out_json);
    assert_eq!(c["scenario"], "two-links");
    let results = c["results"].as_array().unwrap();
    let policies: Vec<&str> = results
        .iter()
        .map(|r| r["policy"].as_str().unwrap())
        .collect();
    assert_eq!(policies, ["failover", "speed-share"]);
    // The engine's own names of the policies the filter's groups ran.
    let engine: Vec<&str> = results
        .iter()
        .map(|r| r["group_policy"].as_str().unwrap())
        .collect();
    assert_eq!(engine, ["failover-only", "speed-share"]);
    for r in results {
        assert_eq!(r["seed"], 3);
        assert_eq!(r["nbls_lost"].as_u64(), Some(0));
    }
    // Failover keeps path a while it is healthy: b carries nothing.
    assert_eq!(results[0]["paths"][1]["bytes"].as_u64(), Some(0));
    assert!(results[1]["paths"][1]["bytes"].as_u64() > Some(0));
}

#[test]
fn run_refuses_a_bad_scenario_and_a_bad_override_naming_the_key() {
    let dir = Dir::new("bad");
    let unknown = dir.file(
        "u.toml",
        &LINK_DOWN.replace("seed = 3", "seed = 3\nspeed = 9"),
    );
    let out = mpsim(&["run".as_ref(), unknown.as_ref()]);
    assert_eq!(out.0, ExitCode::from(2));
    assert!(out.1.contains("unknown field `speed`"), "{}", out.1);
    let range = dir.file("r.toml", &LINK_DOWN.replace("at_ms = 12", "at_ms = 20"));
    let out = mpsim(&["run".as_ref(), range.as_ref()]);
    assert_eq!(out.0, ExitCode::from(2));
    let err = &out.1;
    assert!(
        err.contains("event[1].at_ms = 20: accepted 0..=19"),
        "{err}"
    );
    let good = dir.file("g.toml", LINK_DOWN);
    let out = mpsim(&[
        "run".as_ref(),
        good.as_ref(),
        "--policy".as_ref(),
        "fastest".as_ref(),
    ]);
    assert_eq!(out.0, ExitCode::from(2));
    let err = &out.1;
    assert!(err.contains("policy = \"fastest\""), "{err}");
}

/// The cross-built driver: `MPFILTER_SYS`, else the workspace's (or `CARGO_TARGET_DIR`'s) release
/// build of it.
fn sys_image() -> PathBuf {
    std::env::var_os("MPFILTER_SYS").map_or_else(
        || {
            let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| workspace.join("target"), PathBuf::from);
            workspace
                .join(target)
                .join("x86_64-pc-windows-msvc/release/mpfilter.sys")
        },
        PathBuf::from,
    )
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p mpsim -- --ignored"]
fn sys_the_loaded_driver_runs_the_link_down_scenario_as_the_host_build_does() {
    let dir = Dir::new("sys");
    let scenario = dir.file("s.toml", LINK_DOWN);
    let sys = sys_image();
    assert!(sys.exists(), "{} (bash tools/build-sys.sh)", sys.display());
    let (host_json, sys_json) = (dir.0.join("h.json"), dir.0.join("s.json"));
    let out = mpsim(&[
        "run".as_ref(),
        scenario.as_ref(),
        "--json".as_ref(),
        host_json.as_ref(),
    ]);
    assert_eq!(out.0, ExitCode::SUCCESS, "{}", out.1);
    let out = mpsim(&[
        "run".as_ref(),
        scenario.as_ref(),
        "--json".as_ref(),
        sys_json.as_ref(),
        "--sys".as_ref(),
        sys.as_ref(),
    ]);
    assert_eq!(out.0, ExitCode::SUCCESS, "{}", out.1);
    let (h, s) = (json(&host_json), json(&sys_json));
    assert_eq!(s["build"], "sys");
    let sent = s["nbls_sent"].as_u64().unwrap();
    assert!(sent > 1_000);
    assert_eq!(s["delivered"].as_u64(), Some(sent));
    assert_eq!(s["nbls_lost"].as_u64(), Some(0));
    assert_eq!(s["rule_violations"].as_array().map(Vec::len), Some(0));
    assert_eq!(s["leaks"].as_array().map(Vec::len), Some(0));
    // The same filter code and the same seed: the wires carried the same bytes.
    for k in 0..2 {
        assert_eq!(s["paths"][k]["bytes"], h["paths"][k]["bytes"], "path {k}");
        assert_eq!(
            s["paths"][k]["transitions"], h["paths"][k]["transitions"],
            "path {k}"
        );
    }
    // And reported the same diagnostic events (the .sys's through ETW TraceLogging).
    assert!(!h["events"].as_array().unwrap().is_empty());
    assert_eq!(s["events"], h["events"]);
    assert_eq!(s["failovers"], h["failovers"]);
    // While b was down its wire was idle on the .sys too.
    let bin = f(&s["throughput"]["bin_ms"]);
    for (i, v) in s["throughput"]["mbps"][1]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let t = i as f64 * bin;
        if (6.0..12.0).contains(&t) {
            assert!(f(v) == 0.0, "b carried {v} Mbit/s at {t} ms while down");
        }
    }
}

/// `LINK_DOWN` with an administrator instead of the link: path `b` failed at 5 ms and reinstated
/// at 12 ms, through the control device's AdminPath IOCTL.
fn admin_scenario() -> String {
    LINK_DOWN
        .replace("kind = \"link-down\"", "kind = \"admin-fail\"")
        .replace("kind = \"link-up\"", "kind = \"admin-reinstate\"")
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p mpsim -- --ignored"]
fn sys_admin_events_reach_the_loaded_drivers_control_device() {
    let dir = Dir::new("sys-admin");
    let scenario = dir.file("s.toml", &admin_scenario());
    let sys = sys_image();
    assert!(sys.exists(), "{} (bash tools/build-sys.sh)", sys.display());
    let (host_json, sys_json) = (dir.0.join("h.json"), dir.0.join("s.json"));
    let out = mpsim(&[
        "run".as_ref(),
        scenario.as_ref(),
        "--json".as_ref(),
        host_json.as_ref(),
    ]);
    assert_eq!(out.0, ExitCode::SUCCESS, "{}", out.1);
    let out = mpsim(&[
        "run".as_ref(),
        scenario.as_ref(),
        "--json".as_ref(),
        sys_json.as_ref(),
        "--sys".as_ref(),
        sys.as_ref(),
    ]);
    assert_eq!(out.0, ExitCode::SUCCESS, "{}", out.1);
    let (h, s) = (json(&host_json), json(&sys_json));
    assert_eq!(s["leaks"].as_array().map(Vec::len), Some(0));
    for k in 0..2 {
        assert_eq!(s["paths"][k]["bytes"], h["paths"][k]["bytes"], "path {k}");
    }
    let bin = f(&s["throughput"]["bin_ms"]);
    for (i, v) in s["throughput"]["mbps"][1]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let t = i as f64 * bin;
        // What b's miniport had queued when it failed (about a millisecond at 1 Gb/s) still
        // leaves its wire; nothing new goes its way until the reinstatement.
        if (7.0..12.0).contains(&t) {
            assert!(f(v) == 0.0, "b carried {v} Mbit/s at {t} ms while failed");
        }
    }
}

/// `mpsim run --control`: an mpctl client connected before the run starts is served at the
/// first progress slice, against the real handlers: it lists the team and fails path `b`.
#[test]
fn a_control_socket_serves_mpctl_during_the_run() {
    use mpctl::transport::socket::SocketTransport;
    let dir = Dir::new("control");
    let sock = dir.0.join("ctl.sock");
    let server = crate::run::control::ControlServer::bind(&sock).expect("a socket");
    let s = crate::scenario::Scenario::from_toml(LINK_DOWN).expect("a scenario");
    let mut client = SocketTransport::connect(&sock).expect("the listener queues the client");
    let run = std::thread::spawn(move || {
        crate::run::run_serving(&s, None, Some(server), &mut |_| {}).expect("a run")
    });
    let groups = mpctl::client::list(&mut client).expect("a list");
    let shown = mpctl::render::show(&groups);
    assert!(
        shown.starts_with("group 1 policy=round-robin paths=2 eligible=0b11"),
        "{shown}"
    );
    let b = groups.paths[1].if_index;
    mpctl::client::admin(&mut client, b, mpctl_proto::AdminAction::Fail).expect("failed");
    let after = mpctl::client::list(&mut client).expect("a list");
    assert_eq!(after.paths[1].state, mpctl_proto::PathState::Failed);
    drop(client);
    let m = run.join().expect("the run");
    assert!(m.violations.is_empty(), "{:?}", m.violations);
}

/// Two paths under failover: everything on `a` until a change of policy.
const FAILOVER: &str = r#"
name = "failover-then-round-robin"
seed = 4
duration_ms = 20
policy = "failover"
failback = "immediate"
up_delay_ms = 0
[[path]]
name = "a"
rate_mbps = 1000
latency_us = 10
[[path]]
name = "b"
rate_mbps = 1000
latency_us = 10
[traffic]
flows = 16
frame_bytes = 1000
window_nbls = 16
"#;

/// `mpctl set-policy` over `mpsim run --control`: the group starts under failover (path `b`
/// idle); mpctl switches it to per-packet round-robin during the run, and from then on `b`
/// carries traffic too — and nothing before.
#[test]
fn mpctl_changes_the_policy_during_the_run() {
    use mpctl::transport::socket::SocketTransport;
    let dir = Dir::new("set-policy");
    let sock = dir.0.join("ctl.sock");
    let server = crate::run::control::ControlServer::bind(&sock).expect("a socket");
    let s = crate::scenario::Scenario::from_toml(FAILOVER).expect("a scenario");
    let mut client = SocketTransport::connect(&sock).expect("the listener queues the client");
    let run = std::thread::spawn(move || {
        crate::run::run_serving(&s, None, Some(server), &mut |_| {}).expect("a run")
    });
    let groups = mpctl::client::list(&mut client).expect("a list");
    let shown = mpctl::render::show(&groups);
    assert!(shown.starts_with("group 1 policy=failover-only"), "{shown}");
    let refused = mpctl::client::settings(&[("Policy", "fastest".to_owned())])
        .and_then(|p| mpctl::client::set_group(&mut client, 1, p));
    assert!(refused.is_err());
    let change = mpctl::client::settings(&[
        ("Policy", "round-robin".to_owned()),
        ("FlowletGapUs", "0".to_owned()),
    ])
    .expect("settings");
    mpctl::client::set_group(&mut client, 1, change).expect("changed");
    let after = mpctl::client::list(&mut client).expect("a list");
    assert_eq!(after.groups[0].policy_name(), "round-robin");
    drop(client);
    let m = run.join().expect("the run");
    assert!(m.violations.is_empty(), "{:?}", m.violations);
    let changed_at = m
        .events
        .iter()
        .find_map(|(t, _, e)| {
            matches!(e, mpfilter::diag::Event::PolicyChanged { .. }).then_some(*t)
        })
        .expect("a policy-changed event");
    let on_b: Vec<_> = m.arrivals.iter().filter(|a| a.wire == 1).collect();
    assert!(
        on_b.len() > 100,
        "b carries traffic after the change: {}",
        on_b.len()
    );
    assert!(
        on_b.iter().all(|a| a.at >= changed_at),
        "nothing on b before the change"
    );
    let on_a = m.arrivals.iter().filter(|a| a.wire == 0).count();
    assert!(
        on_b.len().abs_diff(on_a) * 10 <= on_a + on_b.len(),
        "{on_a} vs {}",
        on_b.len()
    );
}

/// Path `b`'s miniport links mpshim (default monitor settings: a 2 s TX timeout, 0.5 s debounce);
/// its transmitter stalls at 0.5 s until 3.8 s. The shim finds the stall and the filter moves the
/// traffic off `b`; nothing is lost.
const SHIM_STALL: &str = r#"
name = "shim-stall"
seed = 5
duration_ms = 4000
policy = "round-robin"
failback = "immediate"
up_delay_ms = 0
[[path]]
name = "a"
rate_mbps = 10
latency_us = 10
[[path]]
name = "b"
rate_mbps = 10
latency_us = 10
shim = true
[traffic]
flows = 8
frame_bytes = 1000
window_nbls = 64
[[event]]
at_ms = 500
path = "b"
kind = "stall"
until_ms = 3800
"#;

#[test]
fn a_path_whose_miniport_links_the_shim_is_failed_by_the_shims_report() {
    let dir = Dir::new("shim");
    let scenario = dir.file("s.toml", SHIM_STALL);
    let out_json = dir.0.join("r.json");
    let out = mpsim(&[
        "run".as_ref(),
        scenario.as_ref(),
        "--json".as_ref(),
        out_json.as_ref(),
    ]);
    assert_eq!(out.0, ExitCode::SUCCESS, "{}", out.1);
    let r = json(&out_json);
    assert_eq!(r["nbls_lost"].as_u64(), Some(0));
    assert_eq!(r["nbls_duplicated"].as_u64(), Some(0));
    let transitions = r["paths"][1]["transitions"].as_array().unwrap();
    let failed_at = transitions
        .iter()
        .find(|t| t["reason"] == "ShimPathFailed")
        .map_or_else(
            || panic!("no shim report in {transitions:?}"),
            |t| f(&t["at_ms"]),
        );
    // TX timeout 2 s + debounce 0.5 s after the stall began, within the monitor's tick.
    assert!((3_000.0..3_010.0).contains(&failed_at), "{failed_at}");
}

/// scenarios/blackhole.toml, shorter and lighter.
const PROBED_BLACKHOLE: &str = r#"
name = "probed-blackhole"
duration_ms = 1400
policy = "round-robin"
failback = "immediate"
up_delay_ms = 0
[[path]]
name = "a"
rate_mbps = 1000
latency_us = 30
[[path]]
name = "b"
rate_mbps = 1000
latency_us = 30
probe = true
[traffic]
flows = 8
frame_bytes = 1514
offered_mbps = 200
window_nbls = 16
[[event]]
at_ms = 300
path = "b"
kind = "blackhole"
until_ms = 800
"#;

#[test]
fn a_probed_path_is_failed_by_its_probe_within_its_budget() {
    let dir = Dir::new("probe");
    let scenario = dir.file("s.toml", PROBED_BLACKHOLE);
    let out_json = dir.0.join("r.json");
    let out = mpsim(&[
        "run".as_ref(),
        scenario.as_ref(),
        "--json".as_ref(),
        out_json.as_ref(),
    ]);
    assert_eq!(out.0, ExitCode::SUCCESS, "{}", out.1);
    let r = json(&out_json);
    assert_eq!(r["nbls_lost"].as_u64(), Some(0));
    let failover = r["failovers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "b")
        .unwrap_or_else(|| panic!("no failover of b in {}", r["failovers"]));
    let detected = f(&failover["detected_ms"]) - f(&failover["injected_ms"]);
    // Two missed 100 ms intervals after the one the hole opened in.
    assert!((100.0..=300.0).contains(&detected), "{detected}");
    let transitions = r["paths"][1]["transitions"].as_array().unwrap();
    assert!(
        transitions.iter().any(|t| t["reason"] == "ProbeLost"),
        "{transitions:?}"
    );
    // The hole closes at 800 ms: the probe's answers bring b back.
    assert_eq!(r["paths"][1]["final_state"], "active", "{}", r["paths"][1]);
    // Only what went into the hole before the probe found it is undelivered: at most the
    // detection time's share of b's traffic (half of 200 Mbit/s of 1514-byte frames).
    let undelivered = r["undelivered"].as_f64().unwrap();
    let bound = detected / 1_000.0 * 100e6 / (1514.0 * 8.0) * 1.2;
    assert!(
        undelivered > 0.0 && undelivered <= bound,
        "{undelivered} > {bound}"
    );
}

#[test]
fn probing_the_sending_path_in_preserve_mode_is_refused_with_the_reason() {
    let dir = Dir::new("probe0");
    let scenario = dir.file(
        "s.toml",
        &PROBED_BLACKHOLE.replace(
            "latency_us = 30\n[[path]]",
            "latency_us = 30\nprobe = true\n[[path]]",
        ),
    );
    let out = mpsim(&["run".as_ref(), scenario.as_ref()]);
    assert_ne!(out.0, ExitCode::SUCCESS);
    assert!(out.1.contains("path[0].probe"), "{}", out.1);
    assert!(out.1.contains("mac_mode"), "{}", out.1);
}
