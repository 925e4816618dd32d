use super::*;
use crate::config::keys::{KEYS, Scope};
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Owned {
    Int(u32),
    Text(Vec<u16>),
}

#[derive(Default)]
struct Map(Vec<(&'static str, Owned)>);

impl Map {
    fn with(mut self, key: &'static str, value: Owned) -> Self {
        self.0.retain(|(k, _)| *k != key);
        self.0.push((key, value));
        self
    }
    fn int(self, key: &'static str, v: u32) -> Self {
        self.with(key, Owned::Int(v))
    }
    fn text(self, key: &'static str, s: &str) -> Self {
        self.with(key, Owned::Text(s.encode_utf16().collect()))
    }
}

impl ParamSource for Map {
    fn read(&self, key: &'static str) -> Option<RawValue<'_>> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| match v {
                Owned::Int(i) => RawValue::Integer(*i),
                Owned::Text(t) => RawValue::Text(t),
            })
    }
}

fn teamed() -> Map {
    Map::default().int(keys::GROUP_ID, 7)
}

fn group(cfg: ModuleConfig) -> GroupSettings {
    match cfg {
        ModuleConfig::Teamed { group, .. } => group,
        ModuleConfig::NotTeamed => panic!("not teamed"),
    }
}

fn member(cfg: ModuleConfig) -> MemberSettings {
    match cfg {
        ModuleConfig::Teamed { member, .. } => member,
        ModuleConfig::NotTeamed => panic!("not teamed"),
    }
}

#[test]
fn no_group_id_or_zero_means_pass_through_whatever_else_is_set() {
    assert_eq!(
        ModuleConfig::read(&Map::default()),
        Ok(ModuleConfig::NotTeamed)
    );
    let zero = Map::default()
        .int(keys::GROUP_ID, 0)
        .text(keys::POLICY, "bogus");
    assert_eq!(ModuleConfig::read(&zero), Ok(ModuleConfig::NotTeamed));
}

#[test]
fn a_group_id_alone_gives_the_table_defaults() {
    let cfg = ModuleConfig::read(&teamed()).unwrap();
    assert_eq!(
        cfg,
        ModuleConfig::Teamed {
            group_id: 7,
            member: MemberSettings {
                priority: 0,
                role: Role::Active,
                weight: 1,
                quota_bytes: 65_536,
                probe_target: None,
                probe_interval_ms: 100,
            },
            group: GroupSettings {
                policy: PolicyName::SpeedShare,
                flowlet_gap_us: 500,
                failback: Failback::Deferred {
                    delay_ns: 5_000 * MS
                },
                up_delay_ms: 500,
                down_delay_ms: 0,
                all_down: AllDown::Fail,
                max_outstanding_per_target: 64,
                send_error_threshold: 8,
                probe_missed: 2,
                mac_mode: MacMode::Preserve,
                announce_count: 1,
                announce_interval_ms: 100,
            },
        }
    );
}

#[test]
fn every_integer_key_takes_its_bounds_and_digits_and_refuses_one_past() {
    for spec in KEYS {
        let Accepts::Integer { min, max } = spec.accepts else {
            continue;
        };
        if spec.name == keys::GROUP_ID {
            continue;
        }
        for ok in [min, max] {
            assert!(
                ModuleConfig::read(&teamed().int(spec.name, ok)).is_ok(),
                "{} = {ok}",
                spec.name
            );
            let digits = ok.to_string();
            assert!(
                ModuleConfig::read(&teamed().text(spec.name, &digits)).is_ok(),
                "{} = \"{ok}\"",
                spec.name
            );
        }
        let mut bad = vec![max.wrapping_add(1), u32::MAX];
        if min > 0 {
            bad.push(min - 1);
        }
        for v in bad.into_iter().filter(|v| !(min..=max).contains(v)) {
            let err = ModuleConfig::read(&teamed().int(spec.name, v)).unwrap_err();
            assert_eq!((err.key, err.value), (spec.name, Shown::Integer(v)));
        }
        let err = ModuleConfig::read(&teamed().text(spec.name, "12a")).unwrap_err();
        assert_eq!(err.key, spec.name);
    }
}

#[test]
fn text_keys_take_every_form_in_any_case_and_refuse_integers() {
    for p in PolicyName::ALL {
        let upper = p.name().to_ascii_uppercase();
        let cfg = ModuleConfig::read(&teamed().text(keys::POLICY, &upper)).unwrap();
        assert_eq!(group(cfg).policy, p);
        assert!(keys::POLICY_FORMS.contains(p.name()));
    }
    let fb =
        |s: &str| ModuleConfig::read(&teamed().text(keys::FAILBACK, s)).map(|c| group(c).failback);
    assert_eq!(fb("Immediate"), Ok(Failback::Immediate));
    assert_eq!(fb(" manual "), Ok(Failback::Manual));
    assert_eq!(
        fb("deferred:3600000"),
        Ok(Failback::Deferred {
            delay_ns: 3_600_000 * MS
        })
    );
    for bad in ["deferred:0", "deferred:3600001", "deferred", "later", ""] {
        assert_eq!(fb(bad).unwrap_err().key, keys::FAILBACK, "{bad}");
    }
    let ad =
        |s: &str| ModuleConfig::read(&teamed().text(keys::ALL_DOWN, s)).map(|c| group(c).all_down);
    assert_eq!(ad("FAIL"), Ok(AllDown::Fail));
    assert_eq!(ad("queue:200"), Ok(AllDown::Queue { ms: 200 }));
    assert!(ad("queue:60001").is_err());
    let probe = |s: &str| {
        ModuleConfig::read(&teamed().text(keys::PROBE_TARGET, s)).map(|c| member(c).probe_target)
    };
    assert_eq!(probe(""), Ok(None));
    assert_eq!(
        probe(" 10.1.0.1 "),
        Ok(Some(ProbeTarget::V4([10, 1, 0, 1])))
    );
    let full = "FD01:0000:0000:0000:0000:0000:0000:ABCD";
    let mut v6 = [0u8; 16];
    v6[0] = 0xFD;
    v6[1] = 1;
    v6[14] = 0xAB;
    v6[15] = 0xCD;
    assert_eq!(probe(full), Ok(Some(ProbeTarget::V6(v6))));
    for bad in ["10.1.0", "gateway", "224.0.0.1", "::", "10.1.0.1/24"] {
        assert_eq!(probe(bad).unwrap_err().key, keys::PROBE_TARGET, "{bad}");
    }
    let role = |s: &str| ModuleConfig::read(&teamed().text(keys::ROLE, s)).map(|c| member(c).role);
    assert_eq!(role("Standby"), Ok(Role::Standby));
    assert!(role("backup").is_err());
    for spec in KEYS
        .iter()
        .filter(|k| matches!(k.accepts, Accepts::Text { .. }))
    {
        let err = ModuleConfig::read(&teamed().int(spec.name, 1)).unwrap_err();
        assert_eq!(err.key, spec.name);
    }
}

#[test]
fn errors_name_the_key_the_value_and_what_is_accepted() {
    let err = ModuleConfig::read(&teamed().int(keys::QUOTA_BYTES, 0)).unwrap_err();
    assert_eq!(err.to_string(), "QuotaBytes = 0: accepted 1..=16777216");
    let err = ModuleConfig::read(&teamed().text(keys::FAILBACK, "deferred:0")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failback = \"deferred:0\": accepted immediate | manual | deferred:<1..=3600000 ms>"
    );
    let long = "é".repeat(MAX_TEXT + 8);
    let err = ModuleConfig::read(&teamed().text(keys::POLICY, &long)).unwrap_err();
    assert_eq!(err.to_string().matches('?').count(), MAX_TEXT);
    assert!(err.to_string().contains('…'));
}

#[test]
fn the_first_differing_group_key_is_named() {
    let a = group(ModuleConfig::read(&teamed()).unwrap());
    assert_eq!(a.first_difference(&a), None);
    let b = group(
        ModuleConfig::read(
            &teamed()
                .int(keys::UP_DELAY_MS, 1)
                .text(keys::ALL_DOWN, "queue:5"),
        )
        .unwrap(),
    );
    assert_eq!(a.first_difference(&b), Some(keys::UP_DELAY_MS));
    // Member keys are not group keys.
    let c = group(ModuleConfig::read(&teamed().int(keys::WEIGHT, 9)).unwrap());
    assert_eq!(a.first_difference(&c), None);
    let d = group(ModuleConfig::read(&teamed().int(keys::PROBE_MISSED, 5)).unwrap());
    assert_eq!(a.first_difference(&d), Some(keys::PROBE_MISSED));
    let rewrite = group(ModuleConfig::read(&teamed().text(keys::MAC_MODE, "Rewrite")).unwrap());
    assert_eq!(rewrite.mac_mode, MacMode::Rewrite);
    assert_eq!(a.first_difference(&rewrite), Some(keys::MAC_MODE));
    let silent = group(ModuleConfig::read(&teamed().int(keys::ANNOUNCE_COUNT, 0)).unwrap());
    assert_eq!(a.first_difference(&silent), Some(keys::ANNOUNCE_COUNT));
    assert!(KEYS.iter().filter(|k| k.scope == Scope::Group).count() == 12);
}

#[test]
fn a_mac_mode_outside_its_names_is_a_config_error() {
    let err = ModuleConfig::read(&teamed().text(keys::MAC_MODE, "swap")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "MacMode = \"swap\": accepted preserve | rewrite"
    );
    let err = ModuleConfig::read(&teamed().int(keys::ANNOUNCE_INTERVAL_MS, 5)).unwrap_err();
    assert_eq!(err.key, keys::ANNOUNCE_INTERVAL_MS);
}

#[test]
fn every_policy_maps_to_a_valid_engine_group() {
    for p in PolicyName::ALL {
        let cfg = ModuleConfig::read(
            &teamed()
                .text(keys::POLICY, p.name())
                .int(keys::FLOWLET_GAP_US, 0),
        )
        .unwrap();
        let (m, g) = (member(cfg), group(cfg));
        let engine = g.engine_config(vec![
            m.path_config(10_000_000_000),
            m.path_config(1_000_000_000),
        ]);
        assert_eq!(engine.validate(), Ok(()), "{}", p.name());
        assert_eq!(engine.flowlet.gap_ns, 0);
        assert_eq!(engine.up_delay_ns, 500 * MS);
    }
}

proptest! {
    /// Whatever a registry holds, reading never panics, and a refusal names a key the filter reads.
    #[test]
    fn any_values_are_read_or_refused_by_name(
        values in proptest::collection::vec(
            (0..KEYS.len(), prop_oneof![
                any::<u32>().prop_map(Owned::Int),
                proptest::collection::vec(any::<u16>(), 0..40).prop_map(Owned::Text),
                "[a-zA-Z:0-9 -]{0,20}".prop_map(|s| Owned::Text(s.encode_utf16().collect())),
            ]),
            0..12,
        )
    ) {
        let mut map = teamed();
        for (k, v) in values {
            map = map.with(KEYS[k].name, v);
        }
        match ModuleConfig::read(&map) {
            Ok(_) => {}
            Err(e) => prop_assert!(KEYS.iter().any(|k| k.name == e.key)),
        }
    }
}

fn text(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

#[test]
fn a_runtime_change_is_checked_as_the_registry_value_is() {
    let g = group(ModuleConfig::read(&teamed()).unwrap());
    let rr = g
        .with("policy", RawValue::Text(&text("Round-Robin")))
        .unwrap();
    assert_eq!(rr.policy, PolicyName::RoundRobin);
    assert_eq!(rr.flowlet_gap_us, g.flowlet_gap_us, "the rest unchanged");
    let gap = g
        .with(keys::FLOWLET_GAP_US, RawValue::Text(&text("250")))
        .unwrap();
    assert_eq!(gap.flowlet_gap_us, 250);
    let fb = g
        .with(keys::FAILBACK, RawValue::Text(&text("deferred:100")))
        .unwrap();
    assert_eq!(fb.failback, Failback::Deferred { delay_ns: 100 * MS });
    // The same ranges as the registry: one past each end of FlowletGapUs, a bad form, a
    // member key and GroupId.
    for (key, value) in [
        (keys::FLOWLET_GAP_US, "1000001"),
        (keys::POLICY, "fastest"),
        (keys::ALL_DOWN, "queue:60001"),
        (keys::SEND_ERROR_THRESHOLD, "-1"),
    ] {
        let e = g.with(key, RawValue::Text(&text(value))).unwrap_err();
        let SetError::Invalid(e) = e else {
            panic!("{key}: {e:?}")
        };
        assert_eq!(e.key, key);
        assert_eq!(Some(e.accepts), keys::spec(key).map(|k| k.accepts));
    }
    for key in [keys::GROUP_ID, keys::WEIGHT, "Nonsense"] {
        assert_eq!(
            g.with(key, RawValue::Integer(1)),
            Err(SetError::UnknownKey),
            "{key}"
        );
    }
    let m = member(ModuleConfig::read(&teamed()).unwrap());
    assert_eq!(
        m.with(keys::WEIGHT, RawValue::Integer(7)).unwrap().weight,
        7
    );
    assert_eq!(
        m.with("priority", RawValue::Integer(3)).unwrap().priority,
        3
    );
    assert!(matches!(
        m.with(keys::QUOTA_BYTES, RawValue::Integer(0)),
        Err(SetError::Invalid(_))
    ));
    assert_eq!(
        m.with(keys::ROLE, RawValue::Text(&text("standby"))),
        Err(SetError::UnknownKey)
    );
    assert_eq!(
        m.with(keys::PRIORITY, RawValue::Integer(256))
            .map(|m| m.priority)
            .ok(),
        None
    );
}
