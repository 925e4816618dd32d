use super::*;
use std::collections::BTreeSet;

fn scenarios_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn examples() -> Vec<(String, Scenario)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(scenarios_dir()).expect("scenarios/") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let s =
                Scenario::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path.display().to_string(), s));
        }
    }
    out
}

#[test]
fn every_example_is_valid_and_every_event_kind_is_used() {
    let examples = examples();
    assert!(examples.len() >= 6, "at least six example scenarios");
    let used: BTreeSet<&str> = examples
        .iter()
        .flat_map(|(_, s)| s.events.iter().map(|e| e.kind.name()))
        .collect();
    for kind in [
        "link-down",
        "link-up",
        "blackhole",
        "restore",
        "rate",
        "error-completions",
        "stall",
        "flap",
        "pause",
        "detach",
        "attach",
        "admin-fail",
        "admin-reinstate",
    ] {
        assert!(used.contains(kind), "no example uses kind = {kind}");
    }
}

const BASE: &str = r#"
name = "t"
duration_ms = 1000
policy = "speed-share"
[[path]]
name = "a"
rate_mbps = 1000
latency_us = 10
[[path]]
name = "b"
rate_mbps = 1000
latency_us = 10
[traffic]
flows = 4
frame_bytes = 1514
window_nbls = 8
"#;

fn refused(extra: &str) -> String {
    let text = format!("{BASE}{extra}");
    Scenario::from_toml(&text).expect_err(extra).to_string()
}

fn refused_top(replace: (&str, &str)) -> String {
    let text = BASE.replace(replace.0, replace.1);
    Scenario::from_toml(&text).expect_err(replace.1).to_string()
}

#[test]
fn the_base_is_valid_with_defaults() {
    let s = Scenario::from_toml(BASE).unwrap();
    assert_eq!(
        (s.seed, s.traffic.targets, s.traffic.offered_mbps),
        (1, 1, 0)
    );
    assert!(s.events.is_empty());
}

#[test]
fn unknown_keys_are_named() {
    let e = refused_top(("name = \"t\"", "name = \"t\"\ncolour = \"red\""));
    assert!(e.contains("colour"), "{e}");
    let e = refused("colour = \"red\"\n");
    assert!(e.contains("colour"), "{e}");
    let e = refused("[[event]]\nat_ms = 1\npath = \"a\"\nkind = \"link-down\"\nspeed = 3\n");
    assert!(e.contains("speed"), "{e}");
    let e = refused("[[event]]\nat_ms = 1\npath = \"a\"\nkind = \"melt\"\n");
    assert!(e.contains("melt") && e.contains("link-down"), "{e}");
}

#[test]
fn bad_values_name_the_key_and_what_is_accepted() {
    assert_eq!(
        refused_top(("policy = \"speed-share\"", "policy = \"fastest\"")),
        format!(
            "policy = \"fastest\": accepted {}",
            mpfilter::config::keys::POLICY_FORMS
        )
    );
    assert_eq!(
        refused_top(("duration_ms = 1000", "duration_ms = 0")),
        "duration_ms = 0: accepted 1..=600000"
    );
    assert_eq!(
        refused_top(("name = \"b\"", "name = \"a\"")),
        "path[1].name = \"a\": accepted a non-empty name no other path has"
    );
    assert_eq!(
        refused_top(("frame_bytes = 1514", "frame_bytes = 20")),
        "traffic.frame_bytes = 20: accepted 60..=9018"
    );
    let fb = refused_top((
        "policy = \"speed-share\"",
        "policy = \"speed-share\"\nfailback = \"deferred:0\"",
    ));
    assert_eq!(
        fb,
        format!(
            "failback = \"deferred:0\": accepted {}",
            mpfilter::config::keys::FAILBACK_FORMS
        )
    );
    assert_eq!(
        refused("[[event]]\nat_ms = 1\npath = \"c\"\nkind = \"link-down\"\n"),
        "event[0].path = \"c\": accepted one of a, b"
    );
    assert_eq!(
        refused("[[event]]\nat_ms = 1\npath = \"a\"\nkind = \"rate\"\n"),
        "event[0].rate_mbps = (missing): accepted required with kind = rate"
    );
    assert_eq!(
        refused("[[event]]\nat_ms = 1\npath = \"a\"\nkind = \"link-down\"\nperiod_ms = 5\n"),
        "event[0].period_ms = 5: accepted not with kind = link-down"
    );
    assert_eq!(
        refused("[[event]]\nat_ms = 5\npath = \"a\"\nkind = \"stall\"\nuntil_ms = 5\n"),
        "event[0].until_ms = 5: accepted 6..=1000"
    );
    assert_eq!(
        refused("[[event]]\nat_ms = 1000\npath = \"a\"\nkind = \"link-down\"\n"),
        "event[0].at_ms = 1000: accepted 0..=999"
    );
    assert!(
        refused("[[event]]\nat_ms = 5\npath = \"a\"\nkind = \"detach\"\nfor_ms = 5\n")
            .contains("only with kind = pause")
    );
}
