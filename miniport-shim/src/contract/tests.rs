use super::wire::{ENVELOPE_LEN, TAG_LEN};
use super::*;
use proptest::prelude::*;

fn event() -> PathEvent {
    PathEvent {
        kind: PathEventKind::Failed,
        reason: Reason::TxTimeout,
        sequence: 9,
        path: PathIdentity {
            net_luid: 0x0006_0000_0100_0002,
            if_index: 17,
        },
        at_ns: 5_000_000_000,
        since_ns: 4_400_000_000,
        evidence: Evidence {
            pending_sends: 12,
            errors_in_window: 3,
            completions_in_window: 40,
            ms_since_last_completion: 2_100,
            missed_heartbeats: 1,
        },
    }
}

fn snapshot() -> HealthSnapshot {
    HealthSnapshot {
        state: HealthState::Recovering,
        conditions: Conditions::NONE,
        last_reason: Some(Reason::LinkLost),
        sequence: 4,
        path: event().path,
        now_ns: 77,
        state_since_ns: 70,
        evidence: event().evidence,
        failures_total: 2,
        recoveries_total: 1,
    }
}

/// A buffer of `payload` re-declared as revision `revision`, grown by `extra` bytes of newer
/// fields (filled with 0xEE).
fn newer(payload: &[u8], revision: u8, extra: usize) -> ([u8; 256], usize) {
    let mut b = [0u8; 256];
    let len = payload.len() + extra;
    b[..payload.len()].copy_from_slice(payload);
    b[payload.len()..len].fill(0xEE);
    b[TAG_LEN + 1] = revision;
    b[TAG_LEN + 2..TAG_LEN + 4].copy_from_slice(&u16::try_from(len).unwrap().to_le_bytes());
    (b, len)
}

#[test]
fn path_event_round_trips_every_kind_and_admitted_reason() {
    let reasons = [
        Reason::LinkLost,
        Reason::TxTimeout,
        Reason::ErrorRate,
        Reason::HeartbeatLost,
        Reason::Admin,
        Reason::Recovered,
    ];
    let mut checked = 0;
    for kind in [PathEventKind::Failed, PathEventKind::Recovered] {
        for reason in reasons.into_iter().filter(|r| kind.admits(*r)) {
            let e = PathEvent {
                kind,
                reason,
                ..event()
            };
            assert_eq!(PathEvent::decode(&e.encode()), Ok(e));
            checked += 1;
        }
    }
    assert_eq!(checked, 5 + 2);
}

#[test]
fn path_event_layout_is_the_documented_one() {
    let b = event().encode();
    assert_eq!(&b[..16], &PATH_EVENT_TAG.to_bytes());
    assert_eq!(&b[..4], &[0xff, 0xaa, 0xfc, 0x19], "Data1 little-endian");
    assert_eq!(&b[16..20], &[0x80, 1, 80, 0]);
    assert_eq!(&b[20..24], &[1, 0, 2, 0], "kind Failed, reason TxTimeout");
    assert_eq!(&b[24..28], &9u32.to_le_bytes());
    assert_eq!(&b[28..32], &17u32.to_le_bytes());
    assert_eq!(&b[32..40], &0x0006_0000_0100_0002u64.to_le_bytes());
    assert_eq!(&b[56..60], &12u32.to_le_bytes());
    assert_eq!(&b[68..72], &2_100u32.to_le_bytes());
    assert_eq!(&b[76..80], &[0; 4]);
}

#[test]
fn every_truncation_of_every_payload_is_reported_as_truncated() {
    let path = event().encode();
    let health = snapshot().encode();
    let settings = Settings::default().encode();
    for len in 0..path.len() {
        assert!(
            matches!(PathEvent::decode(&path[..len]), Err(DecodeError::Truncated { len: l, .. }) if l == len),
            "path event cut at {len}"
        );
    }
    for len in 0..health.len() {
        assert!(
            matches!(
                HealthSnapshot::decode(&health[..len]),
                Err(DecodeError::Truncated { .. })
            ),
            "snapshot cut at {len}"
        );
    }
    for len in 0..settings.len() {
        assert!(
            matches!(
                Settings::decode(&settings[..len]),
                Err(DecodeError::Truncated { .. })
            ),
            "settings cut at {len}"
        );
    }
}

#[test]
fn truncation_reports_what_is_needed() {
    let b = event().encode();
    assert_eq!(
        PathEvent::decode(&b[..10]),
        Err(DecodeError::Truncated {
            len: 10,
            needed: ENVELOPE_LEN
        })
    );
    assert_eq!(
        PathEvent::decode(&b[..79]),
        Err(DecodeError::Truncated {
            len: 79,
            needed: 80
        })
    );
}

#[test]
fn a_foreign_tag_is_never_read_as_ours() {
    // Another driver's media-specific indication: same status code, its own bytes.
    let mut b = event().encode();
    b[15] ^= 1;
    assert_eq!(PathEvent::decode(&b), Err(DecodeError::ForeignTag));
    // The other payload types' tags are foreign too.
    assert_eq!(
        PathEvent::decode(&snapshot().encode()),
        Err(DecodeError::ForeignTag)
    );
    assert_eq!(
        HealthSnapshot::decode(&Settings::default().encode()),
        Err(DecodeError::ForeignTag)
    );
    assert_eq!(
        Settings::decode(&event().encode()),
        Err(DecodeError::ForeignTag)
    );
    // A short foreign buffer is foreign, not truncated.
    assert_eq!(PathEvent::decode(&[0x55; 3]), Err(DecodeError::ForeignTag));
}

#[test]
fn classify_passes_foreign_and_other_codes_through() {
    let ours = event().encode();
    assert_eq!(classify_status(STATUS_CODE, &ours), Some(Ok(event())));
    assert_eq!(classify_status(0x4001_0017, &ours), None, "link state");
    assert_eq!(classify_status(STATUS_CODE, &[]), None);
    assert_eq!(classify_status(STATUS_CODE, &ours[..8]), None);
    assert_eq!(classify_status(STATUS_CODE, &[0u8; 80]), None);
    assert_eq!(
        classify_status(STATUS_CODE, &ours[..40]),
        Some(Err(DecodeError::Truncated {
            len: 40,
            needed: 80
        }))
    );
}

#[test]
fn newer_revisions_are_read_by_their_known_prefix() {
    let (b, len) = newer(&event().encode(), 2, 24);
    assert_eq!(PathEvent::decode(&b[..len]), Ok(event()));
    // Cut inside the newer fields: the declared size is not there.
    assert_eq!(
        PathEvent::decode(&b[..len - 1]),
        Err(DecodeError::Truncated {
            len: len - 1,
            needed: len
        })
    );
    let (b, len) = newer(&snapshot().encode(), 7, 8);
    assert_eq!(HealthSnapshot::decode(&b[..len]), Ok(snapshot()));
    let (b, len) = newer(&Settings::default().encode(), 3, 4);
    assert_eq!(Settings::decode(&b[..len]), Ok(Settings::default()));
    // A newer revision with no extra fields is fine too.
    let (b, len) = newer(&event().encode(), 2, 0);
    assert_eq!(PathEvent::decode(&b[..len]), Ok(event()));
}

#[test]
fn sizes_that_do_not_fit_the_revision_are_rejected() {
    // Newer but smaller than revision 1: it dropped fields we need.
    let mut b = event().encode();
    b[17] = 2;
    b[18] = 72;
    assert_eq!(
        PathEvent::decode(&b),
        Err(DecodeError::BadSize {
            revision: 2,
            size: 72
        })
    );
    // Revision 1 declaring anything but its own size.
    let (b, len) = newer(&event().encode(), 1, 8);
    assert_eq!(
        PathEvent::decode(&b[..len]),
        Err(DecodeError::BadSize {
            revision: 1,
            size: 88
        })
    );
    let mut b = event().encode();
    b[17] = 0;
    assert_eq!(PathEvent::decode(&b), Err(DecodeError::BadRevision(0)));
    let mut b = event().encode();
    b[16] = 0x98;
    assert_eq!(PathEvent::decode(&b), Err(DecodeError::BadObjectType(0x98)));
}

#[test]
fn trailing_bytes_past_the_declared_size_are_ignored() {
    let mut b = [0xAB_u8; 96];
    b[..80].copy_from_slice(&event().encode());
    assert_eq!(PathEvent::decode(&b), Ok(event()));
}

#[test]
fn unknown_and_inconsistent_codes_are_typed_errors() {
    let mut b = event().encode();
    b[20] = 3;
    assert_eq!(PathEvent::decode(&b), Err(DecodeError::UnknownKind(3)));
    let mut b = event().encode();
    b[22] = 0;
    assert_eq!(PathEvent::decode(&b), Err(DecodeError::UnknownReason(0)));
    let mut b = event().encode();
    b[22] = 6;
    assert_eq!(
        PathEvent::decode(&b),
        Err(DecodeError::KindReasonMismatch {
            kind: PathEventKind::Failed,
            reason: Reason::Recovered
        })
    );
    let mut b = event().encode();
    b[20] = 2;
    assert_eq!(
        PathEvent::decode(&b),
        Err(DecodeError::KindReasonMismatch {
            kind: PathEventKind::Recovered,
            reason: Reason::TxTimeout
        })
    );
    let mut b = snapshot().encode();
    b[20] = 9;
    assert_eq!(
        HealthSnapshot::decode(&b),
        Err(DecodeError::UnknownState(9))
    );
    let mut b = snapshot().encode();
    b[24] = 42;
    assert_eq!(
        HealthSnapshot::decode(&b),
        Err(DecodeError::UnknownReason(42))
    );
}

#[test]
#[should_panic(expected = "cannot have reason")]
fn encoding_an_inconsistent_event_is_a_caller_bug() {
    let _ = PathEvent {
        kind: PathEventKind::Failed,
        reason: Reason::Recovered,
        ..event()
    }
    .encode();
}

#[test]
fn snapshot_round_trips_with_and_without_a_last_reason() {
    assert_eq!(HealthSnapshot::decode(&snapshot().encode()), Ok(snapshot()));
    let fresh = HealthSnapshot {
        state: HealthState::Healthy,
        last_reason: None,
        conditions: Conditions::LINK_DOWN.with(Conditions(0x8000)),
        ..snapshot()
    };
    assert_eq!(HealthSnapshot::decode(&fresh.encode()), Ok(fresh));
}

#[test]
fn default_settings_are_valid_and_each_bound_is_enforced() {
    assert_eq!(Settings::default().validate(), Ok(()));
    let d = Settings::default();
    let cases = [
        (
            Settings {
                tx_timeout_ms: 9,
                ..d
            },
            SettingField::TxTimeout,
            9,
        ),
        (
            Settings {
                error_window_ms: 144,
                ..d
            },
            SettingField::ErrorWindow,
            144,
        ),
        (
            Settings {
                error_rate_permille: 0,
                ..d
            },
            SettingField::ErrorRate,
            0,
        ),
        (
            Settings {
                error_rate_permille: 1_001,
                ..d
            },
            SettingField::ErrorRate,
            1_001,
        ),
        (
            Settings {
                error_min_samples: 0,
                ..d
            },
            SettingField::ErrorMinSamples,
            0,
        ),
        (
            Settings {
                heartbeat_misses: 1_001,
                ..d
            },
            SettingField::HeartbeatMisses,
            1_001,
        ),
        (
            Settings {
                debounce_ms: 60_001,
                ..d
            },
            SettingField::Debounce,
            60_001,
        ),
        (
            Settings {
                hysteresis_ms: u32::MAX,
                ..d
            },
            SettingField::Hysteresis,
            u32::MAX,
        ),
    ];
    for (s, field, value) in cases {
        let (min, max) = Settings::range(field);
        assert_eq!(
            s.validate(),
            Err(SettingsError::OutOfRange {
                field,
                value,
                min,
                max
            })
        );
    }
    assert_eq!(
        Settings {
            error_window_ms: 1_000,
            ..d
        }
        .validate(),
        Err(SettingsError::WindowNotBucketMultiple(1_000))
    );
}

fn any_reason() -> impl Strategy<Value = Reason> {
    (1u16..=6).prop_map(|c| Reason::from_code(c).unwrap())
}

fn any_event() -> impl Strategy<Value = PathEvent> {
    (
        any::<bool>(),
        any_reason(),
        any::<u32>(),
        any::<(u64, u32)>(),
        any::<(u64, u64)>(),
        any::<(u32, u32, u32, u32, u32)>(),
    )
        .prop_map(
            |(failed, reason, sequence, (net_luid, if_index), (at_ns, since_ns), e)| {
                // Prefer the kind `failed` asks for when the reason admits it.
                let preferred = if failed {
                    PathEventKind::Failed
                } else {
                    PathEventKind::Recovered
                };
                let kind = if preferred.admits(reason) {
                    preferred
                } else if PathEventKind::Failed.admits(reason) {
                    PathEventKind::Failed
                } else {
                    PathEventKind::Recovered
                };
                PathEvent {
                    kind,
                    reason,
                    sequence,
                    path: PathIdentity { net_luid, if_index },
                    at_ns,
                    since_ns,
                    evidence: Evidence {
                        pending_sends: e.0,
                        errors_in_window: e.1,
                        completions_in_window: e.2,
                        ms_since_last_completion: e.3,
                        missed_heartbeats: e.4,
                    },
                }
            },
        )
}

proptest! {
    #[test]
    fn any_event_round_trips(e in any_event()) {
        prop_assert_eq!(PathEvent::decode(&e.encode()), Ok(e));
    }

    #[test]
    fn any_settings_round_trip(v in any::<[u32; 7]>()) {
        let s = Settings {
            tx_timeout_ms: v[0],
            error_window_ms: v[1],
            error_rate_permille: v[2],
            error_min_samples: v[3],
            heartbeat_misses: v[4],
            debounce_ms: v[5],
            hysteresis_ms: v[6],
        };
        prop_assert_eq!(Settings::decode(&s.encode()), Ok(s));
    }

    #[test]
    fn any_snapshot_round_trips(
        state in 1u16..=4,
        conditions in any::<u16>(),
        reason in proptest::option::of(any_reason()),
        words in any::<[u32; 8]>(),
        times in any::<(u64, u64, u64)>(),
    ) {
        let s = HealthSnapshot {
            state: HealthState::from_code(state).unwrap(),
            conditions: Conditions(conditions),
            last_reason: reason,
            sequence: words[0],
            path: PathIdentity { net_luid: times.0, if_index: words[1] },
            now_ns: times.1,
            state_since_ns: times.2,
            evidence: Evidence {
                pending_sends: words[2],
                errors_in_window: words[3],
                completions_in_window: words[4],
                ms_since_last_completion: words[5],
                missed_heartbeats: words[6],
            },
            failures_total: words[7],
            recoveries_total: words[0] ^ words[7],
        };
        prop_assert_eq!(HealthSnapshot::decode(&s.encode()), Ok(s));
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = PathEvent::decode(&b);
        let _ = HealthSnapshot::decode(&b);
        let _ = Settings::decode(&b);
    }

    #[test]
    fn a_decoded_event_re_encodes_to_its_known_prefix(e in any_event(), extra in 0usize..64, rev in 2u8..=255) {
        let (b, len) = newer(&e.encode(), rev, extra);
        let d = PathEvent::decode(&b[..len]).unwrap();
        prop_assert_eq!(d, e);
        prop_assert_eq!(&d.encode()[20..], &b[20..80]);
    }
}
