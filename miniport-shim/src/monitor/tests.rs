use super::audit::Auditor;
use super::*;
use crate::contract::{HealthSnapshot, PathEvent};
use proptest::prelude::*;

extern crate std;
use std::format;
use std::vec::Vec;

const MS: u64 = 1_000_000;
const PATH: PathIdentity = PathIdentity {
    net_luid: 0x0006_0000_0100_0002,
    if_index: 12,
};

fn settings() -> Settings {
    Settings {
        tx_timeout_ms: 100,
        error_window_ms: 1_600,
        error_rate_permille: 250,
        error_min_samples: 8,
        heartbeat_misses: 3,
        debounce_ms: 50,
        hysteresis_ms: 300,
    }
}

fn monitor() -> Monitor {
    Monitor::new(PATH, settings(), 0).unwrap()
}

/// Ticks every `period` ms from `from` ms to `to` ms inclusive; the events with their tick time.
fn ticks(m: &mut Monitor, from: u64, to: u64, period: u64) -> Vec<(u64, PathEvent)> {
    (from..=to)
        .step_by(usize::try_from(period).unwrap())
        .filter_map(|t| m.tick(t * MS).map(|e| (t, e)))
        .collect()
}

#[test]
fn invalid_settings_are_refused_and_the_old_ones_kept() {
    let bad = Settings {
        tx_timeout_ms: 0,
        ..settings()
    };
    assert!(Monitor::new(PATH, bad, 0).is_err());
    let mut m = monitor();
    assert!(m.set_settings(bad, 1).is_err());
    assert_eq!(m.settings(), settings());
}

#[test]
fn a_stall_is_reported_within_timeout_plus_debounce_plus_a_tick() {
    let mut m = monitor();
    m.on_send(4, 0);
    let ev = ticks(&mut m, 10, 1_000, 10);
    assert_eq!(ev.len(), 1);
    let (at, e) = ev[0];
    // The stall holds from 100 ms; seen at the 100 ms tick; debounce 50 ms.
    assert!((150..=160).contains(&at), "failed at {at} ms");
    assert_eq!(
        (e.kind, e.reason),
        (PathEventKind::Failed, Reason::TxTimeout)
    );
    assert_eq!(e.since_ns, 100 * MS);
    assert_eq!(e.evidence.pending_sends, 4);
    assert_eq!(e.evidence.ms_since_last_completion, u32::MAX);
    assert_eq!(e.sequence, 1);
    assert_eq!(e.path, PATH);
}

#[test]
fn completions_keep_resetting_the_tx_clock() {
    let mut m = monitor();
    m.on_send(1_000, 0);
    for t in (10..2_000).step_by(10) {
        m.on_complete(1, 0, t * MS);
        assert_eq!(m.tick(t * MS), None, "at {t} ms");
    }
    // The hardware goes idle, then is handed a send after a long quiet spell: the clock
    // starts at that send, not at the last completion long ago.
    let left = m.snapshot(2_000 * MS).evidence.pending_sends;
    m.on_complete(left, 0, 2_000 * MS);
    m.on_send(1, 10_000 * MS);
    assert_eq!(m.tick(10_050 * MS), None);
    assert!(!m.conditions().contains(Conditions::TX_STALL));
}

#[test]
fn an_error_burst_fails_the_path_then_it_recovers_as_the_window_slides() {
    let mut m = monitor();
    for t in 0..10 {
        m.on_send(1, t * MS);
        m.on_complete(1, 1, t * MS);
    }
    let ev = ticks(&mut m, 10, 2_400, 10);
    assert_eq!(ev.len(), 2);
    let (at, failed) = ev[0];
    assert_eq!(
        (failed.kind, failed.reason),
        (PathEventKind::Failed, Reason::ErrorRate)
    );
    assert_eq!(
        at, 60,
        "held since the 10th error at 9 ms, seen by the 10 ms tick, + 50 ms"
    );
    assert_eq!(failed.evidence.errors_in_window, 10);
    assert_eq!(failed.evidence.completions_in_window, 10);
    let (at, recovered) = ev[1];
    assert_eq!(
        (recovered.kind, recovered.reason),
        (PathEventKind::Recovered, Reason::Recovered)
    );
    // The burst's bucket (0..100 ms) leaves the 1600 ms window at 1600 ms; then 300 ms hysteresis.
    assert_eq!(recovered.since_ns, 1_600 * MS);
    assert_eq!(at, 1_900);
    assert_eq!(recovered.sequence, 2);
}

#[test]
fn errors_below_the_sample_floor_or_the_rate_do_not_fail() {
    let mut m = monitor();
    // 7 errors out of 7: below the 8-sample floor.
    m.on_complete(7, 7, 0);
    assert!(ticks(&mut m, 0, 500, 10).is_empty());
    // 2 errors out of 10 (20 %) under a 25 % threshold.
    let mut m = monitor();
    m.on_complete(10, 2, 0);
    assert!(ticks(&mut m, 0, 500, 10).is_empty());
    // Exactly at the threshold it holds.
    let mut m = monitor();
    m.on_complete(8, 2, 0);
    assert!(m.conditions().contains(Conditions::ERROR_RATE));
}

#[test]
fn a_link_flap_shorter_than_the_debounce_emits_nothing() {
    let mut m = monitor();
    for k in 0..20u64 {
        let base = k * 100;
        m.on_link(false, base * MS);
        assert_eq!(m.tick((base + 20) * MS), None);
        m.on_link(true, (base + 40) * MS);
        assert_eq!(m.tick((base + 60) * MS), None);
    }
    assert_eq!(m.snapshot(2_000 * MS).failures_total, 0);
}

#[test]
fn a_link_loss_fails_after_the_debounce_and_recovers_after_the_hysteresis() {
    let mut m = monitor();
    m.on_link(false, 1_000 * MS);
    assert_eq!(m.tick(1_049 * MS), None);
    let e = m.tick(1_050 * MS).unwrap();
    assert_eq!(
        (e.kind, e.reason, e.since_ns),
        (PathEventKind::Failed, Reason::LinkLost, 1_000 * MS)
    );
    assert_eq!(m.tick(1_060 * MS), None, "exactly once");
    m.on_link(true, 2_000 * MS);
    assert_eq!(m.state(), HealthState::Recovering);
    assert_eq!(m.tick(2_050 * MS), None);
    // A relapse inside the hysteresis restarts it.
    m.on_link(false, 2_100 * MS);
    m.on_link(true, 2_200 * MS);
    assert_eq!(m.tick(2_450 * MS), None);
    let r = m.tick(2_500 * MS).unwrap();
    assert_eq!((r.kind, r.since_ns), (PathEventKind::Recovered, 2_200 * MS));
    assert_eq!(m.tick(5_000 * MS), None);
}

#[test]
fn heartbeat_misses_fail_the_path_only_at_the_limit() {
    let mut m = monitor();
    m.on_heartbeat_sent(0);
    m.on_heartbeat_sent(100 * MS);
    m.on_heartbeat_sent(200 * MS);
    assert_eq!(m.tick(250 * MS), None, "two misses of three");
    m.on_heartbeat_sent(300 * MS);
    assert_eq!(m.tick(349 * MS), None);
    let e = m.tick(350 * MS).unwrap();
    assert_eq!(
        (e.reason, e.evidence.missed_heartbeats),
        (Reason::HeartbeatLost, 3)
    );
    m.on_heartbeat_answered(400 * MS);
    assert_eq!(
        m.tick(700 * MS).map(|e| e.kind),
        Some(PathEventKind::Recovered)
    );
}

#[test]
fn disabled_heartbeat_never_fails() {
    let mut m = Monitor::new(
        PATH,
        Settings {
            heartbeat_misses: 0,
            ..settings()
        },
        0,
    )
    .unwrap();
    for t in 0..100 {
        m.on_heartbeat_sent(t * 10 * MS);
    }
    assert_eq!(m.tick(2_000 * MS), None);
}

#[test]
fn the_most_decisive_condition_names_the_failure() {
    let mut m = monitor();
    m.on_send(1, 0);
    m.on_link(false, 0);
    m.on_admin(true, 0);
    assert_eq!(m.tick(200 * MS).unwrap().reason, Reason::Admin);
}

#[test]
fn time_never_runs_backwards() {
    let mut m = monitor();
    m.on_link(false, 1_000 * MS);
    // A stale clock read from another CPU.
    assert_eq!(m.tick(10 * MS), None);
    assert_eq!(m.now_ns(), 1_000 * MS);
    assert!(m.tick(1_050 * MS).is_some());
}

#[test]
fn the_snapshot_tells_where_the_decision_stands() {
    let mut m = monitor();
    assert_eq!(m.snapshot(0).state, HealthState::Healthy);
    m.on_link(false, 10 * MS);
    let s = m.snapshot(20 * MS);
    assert_eq!(
        (s.state, s.conditions, s.state_since_ns),
        (HealthState::Failing, Conditions::LINK_DOWN, 10 * MS)
    );
    m.tick(60 * MS).unwrap();
    let s: HealthSnapshot = m.snapshot(70 * MS);
    assert_eq!(
        (s.state, s.last_reason, s.sequence, s.failures_total),
        (HealthState::Failed, Some(Reason::LinkLost), 1, 1)
    );
    m.on_link(true, 80 * MS);
    assert_eq!(m.snapshot(90 * MS).state, HealthState::Recovering);
}

#[test]
fn a_new_window_length_starts_an_empty_window() {
    let mut m = monitor();
    m.on_complete(10, 10, 0);
    assert!(m.conditions().contains(Conditions::ERROR_RATE));
    m.set_settings(
        Settings {
            error_window_ms: 3_200,
            ..settings()
        },
        1,
    )
    .unwrap();
    assert!(!m.conditions().contains(Conditions::ERROR_RATE));
}

#[derive(Clone, Debug)]
enum Call {
    Send(u32),
    Complete(u32, u32),
    Link(bool),
    Admin(bool),
    HeartbeatSent,
    HeartbeatAnswered,
    Tick,
    Settings(Settings),
}

fn any_settings() -> impl Strategy<Value = Settings> {
    (
        10u32..300,
        10u32..=40,
        1u32..=1_000,
        1u32..20,
        0u32..5,
        0u32..400,
        0u32..400,
    )
        .prop_map(
            |(tx, window16, rate, samples, hb, debounce, hysteresis)| Settings {
                tx_timeout_ms: tx,
                error_window_ms: window16 * 16,
                error_rate_permille: rate,
                error_min_samples: samples,
                heartbeat_misses: hb,
                debounce_ms: debounce,
                hysteresis_ms: hysteresis,
            },
        )
}

fn any_call() -> impl Strategy<Value = Call> {
    prop_oneof![
        3 => (0u32..8).prop_map(Call::Send),
        3 => (0u32..8, 0u32..8).prop_map(|(n, e)| Call::Complete(n, e)),
        1 => any::<bool>().prop_map(Call::Link),
        1 => any::<bool>().prop_map(Call::Admin),
        1 => Just(Call::HeartbeatSent),
        1 => Just(Call::HeartbeatAnswered),
        6 => Just(Call::Tick),
        1 => any_settings().prop_map(Call::Settings),
    ]
}

/// Runs `calls` (each after a time step, some steps backwards) against a monitor and the auditor.
fn run(start: Settings, calls: &[(i64, Call)]) -> Result<u32, TestCaseError> {
    let mut m = Monitor::new(PATH, start, 0).unwrap();
    let mut audit = Auditor::new(start, 0);
    let mut now: u64 = 0;
    let mut last: Option<PathEvent> = None;
    for (step, call) in calls {
        now = now.saturating_add_signed(*step * 1_000_000);
        let mut tick = None;
        match call {
            Call::Send(n) => m.on_send(*n, now),
            Call::Complete(n, e) => m.on_complete(*n, *e, now),
            Call::Link(up) => m.on_link(*up, now),
            Call::Admin(down) => m.on_admin(*down, now),
            Call::HeartbeatSent => m.on_heartbeat_sent(now),
            Call::HeartbeatAnswered => m.on_heartbeat_answered(now),
            Call::Tick => tick = Some(m.tick(now)),
            Call::Settings(s) => {
                m.set_settings(*s, now).unwrap();
                audit.set_settings(*s);
            }
        }
        let event = tick.flatten();
        audit
            .record(now, m.conditions(), tick.as_ref().map(Option::as_ref))
            .map_err(|v| TestCaseError::fail(format!("{v:?} after {call:?}")))?;
        if let Some(e) = event {
            // Never two of a kind in a row; sequence numbers count up by one.
            prop_assert_ne!(last.map(|l| l.kind), Some(e.kind));
            prop_assert_eq!(e.sequence, last.map_or(1, |l| l.sequence + 1));
            prop_assert!(e.since_ns <= e.at_ns);
            last = Some(e);
        }
    }
    Ok(audit.events())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn transitions_alternate_and_respect_debounce_and_hysteresis(
        start in any_settings(),
        calls in proptest::collection::vec((-20i64..200, any_call()), 1..300),
    ) {
        run(start, &calls)?;
    }
}

#[test]
fn the_property_run_does_see_transitions() {
    // Guard against a vacuous property: a fixed flapping sequence must produce events.
    let mut calls: Vec<(i64, Call)> = Vec::new();
    for _ in 0..5 {
        calls.push((10, Call::Link(false)));
        for _ in 0..10 {
            calls.push((50, Call::Tick));
        }
        calls.push((10, Call::Link(true)));
        for _ in 0..10 {
            calls.push((50, Call::Tick));
        }
    }
    assert_eq!(run(settings(), &calls).unwrap(), 10);
}

#[test]
fn the_auditor_catches_an_early_failure() {
    let mut a = Auditor::new(settings(), 0);
    a.record(10 * MS, Conditions::LINK_DOWN, None).unwrap();
    let early = PathEvent {
        kind: PathEventKind::Failed,
        reason: Reason::LinkLost,
        sequence: 1,
        path: PATH,
        at_ns: 20 * MS,
        since_ns: 10 * MS,
        evidence: Evidence::default(),
    };
    assert_eq!(
        a.record(20 * MS, Conditions::LINK_DOWN, Some(Some(&early))),
        Err(super::audit::Violation::FailedTooEarly { at_ns: 20 * MS })
    );
    let mut a = Auditor::new(settings(), 0);
    a.record(10 * MS, Conditions::LINK_DOWN, None).unwrap();
    assert_eq!(
        a.record(60 * MS, Conditions::LINK_DOWN, Some(None)),
        Err(super::audit::Violation::Missed { at_ns: 60 * MS })
    );
}
