//! Unit and property tests of the contract: codes, round trips, and every refusal.
#![allow(clippy::cast_possible_truncation)]
extern crate std;

use crate::code::{FILE_DEVICE_PHYSICAL_NETCARD, FILE_READ_ACCESS, FILE_WRITE_ACCESS, ctl_code};
use crate::request::{LIST_GROUPS_LEN, MODULE_REQUEST_LEN};
use crate::response::{MODULE_ANSWER_LEN, list_len};
use crate::*;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

#[test]
fn codes_are_ctl_codes_with_the_documented_fields() {
    // CTL_CODE(FILE_DEVICE_PHYSICAL_NETCARD, 0x800, METHOD_BUFFERED, FILE_WRITE_ACCESS) under
    // mingw-w64's wdm.h is 0x17A000.
    assert_eq!(
        ctl_code(FILE_DEVICE_PHYSICAL_NETCARD, 0x800, 0, FILE_WRITE_ACCESS),
        0x0017_A000
    );
    for i in Ioctl::ALL {
        let c = i.code();
        assert_eq!(c >> 16, FILE_DEVICE_PHYSICAL_NETCARD, "{i:?}");
        assert_eq!(c & 3, 0, "{i:?}: METHOD_BUFFERED");
        assert!((c >> 2) & 0xFFF >= 0x800, "{i:?}: vendor function range");
        let access = (c >> 14) & 3;
        assert_eq!(access == FILE_WRITE_ACCESS, i.changes_state(), "{i:?}");
        assert!(access == FILE_READ_ACCESS || access == FILE_WRITE_ACCESS);
        assert_eq!(Ioctl::from_code(c), Some(i));
        assert_eq!(Ioctl::from_kind(i.kind()), Some(i));
    }
    assert_eq!(
        Ioctl::from_code(Ioctl::AdminPath.code() & !(3 << 14)),
        None,
        "access is part of the code"
    );
    assert!(Ioctl::AdminPath.changes_state());
    assert!(!Ioctl::ListGroups.changes_state() && !Ioctl::ModuleStats.changes_state());
}

fn encoded(r: &Request) -> Vec<u8> {
    let mut b = vec![0xEE; r.len()];
    assert_eq!(r.encode(&mut b), Ok(r.len()));
    b
}

#[test]
fn request_bytes_are_the_documented_layout() {
    let b = encoded(&Request::AdminPath {
        if_index: 0x0102_0304,
        action: AdminAction::Reinstate,
    });
    assert_eq!(
        b,
        [1, 0, 0x02, 0x08, 16, 0, 0, 0, 4, 3, 2, 1, 2, 0, 0, 0],
        "version 1, kind 0x802, length 16, IfIndex, action 2"
    );
    assert_eq!(
        encoded(&Request::ListGroups),
        [1, 0, 0x00, 0x08, 8, 0, 0, 0]
    );
    assert_eq!(
        Request::AdminPath {
            if_index: 1,
            action: AdminAction::Fail
        }
        .encode(&mut [0; 15]),
        Err(EncodeError { needed: 16 })
    );
}

#[test]
fn every_bad_request_is_refused_with_its_status() {
    let code = Ioctl::AdminPath.code();
    let good = encoded(&Request::AdminPath {
        if_index: 7,
        action: AdminAction::Fail,
    });
    assert!(Request::decode(code, &good).is_ok());
    let with = |at: usize, v: u8| {
        let mut b = good.clone();
        b[at] = v;
        Request::decode(code, &b)
    };
    let cases: Vec<(Result<Request, DecodeError>, i32)> = vec![
        (Request::decode(code, &good[..7]), status::BUFFER_TOO_SMALL),
        (Request::decode(code, &good[..12]), status::BUFFER_TOO_SMALL),
        (
            Request::decode(code, &[good.as_slice(), &[0]].concat()),
            status::INFO_LENGTH_MISMATCH,
        ),
        (with(0, 2), status::REVISION_MISMATCH),
        (with(2, 0x01), status::INVALID_PARAMETER),
        (with(4, 17), status::INFO_LENGTH_MISMATCH),
        (with(4, 8), status::INFO_LENGTH_MISMATCH),
        (with(4, 7), status::INFO_LENGTH_MISMATCH),
        (with(12, 3), status::INVALID_PARAMETER),
        (with(12, 0), status::INVALID_PARAMETER),
        (with(15, 1), status::INVALID_PARAMETER),
        (
            Request::decode(0x0017_0000 | (0x8FF << 2), &good),
            status::INVALID_PARAMETER,
        ),
        (
            Request::decode(Ioctl::ModuleStats.code(), &good),
            status::INVALID_PARAMETER,
        ),
    ];
    for (i, (r, st)) in cases.into_iter().enumerate() {
        let e = r.expect_err(&std::format!("case {i}"));
        assert_eq!(e.status(), st, "case {i}: {e:?}");
    }
    let mut zero = good.clone();
    zero[8..12].fill(0);
    assert_eq!(Request::decode(code, &zero), Err(DecodeError::ZeroIfIndex));
    let mut stats = encoded(&Request::ModuleStats { if_index: 3 });
    stats[13] = 1;
    assert_eq!(
        Request::decode(Ioctl::ModuleStats.code(), &stats),
        Err(DecodeError::ReservedNotZero)
    );
    assert_eq!(LIST_GROUPS_LEN, 8);
    assert_eq!(MODULE_REQUEST_LEN, 16);
}

fn path(group: u32, if_index: u32, seat: u8) -> PathRecord {
    PathRecord {
        group,
        if_index,
        seat,
        running: true,
        connected: seat.is_multiple_of(2),
        has_path: true,
        state: PathState::Failed,
        from: PathState::Active,
        reason: Reason::LinkDown,
        share_ppm: Some(500_000),
        weight: None,
        xmit_bps: 10_000_000_000,
        speed_bps: Some(9_000_000_000),
        last_transition_ns: 123,
        transitions: 2,
        send_errors: 0,
        sent_nbls: 10,
        sent_bytes: 15_000,
        completed_nbls: 7,
        completed_bytes: 10_500,
        failed_nbls: 1,
        failed_bytes: 1_500,
    }
}

fn group(id: u32, members: u32) -> GroupRecord {
    GroupRecord {
        group: id,
        generation: 3,
        eligible_mask: 0b01,
        members,
        policy: GroupRecord::policy_field("round-robin"),
    }
}

#[test]
fn a_group_list_round_trips_and_reports_its_size_when_cut() {
    let groups = [group(1, 2), group(9, 1)];
    let paths = [path(1, 11, 0), path(1, 12, 1), path(9, 21, 0)];
    let needed = list_len(2, 3);
    assert_eq!(needed, 16 + 80 + 336);
    let mut b = vec![0; needed];
    assert_eq!(GroupList::encode(&mut b, &groups, &paths), Ok(needed));
    let list = GroupList::decode(&b).unwrap();
    assert_eq!(list.groups().collect::<Vec<_>>(), groups);
    assert_eq!(list.paths().collect::<Vec<_>>(), paths);
    assert_eq!(list.paths_of(9).count(), 1);
    assert_eq!(list.groups().next().unwrap().policy_name(), "round-robin");
    assert_eq!(paths[0].inflight_nbls(), 2);

    let mut small = vec![0; 100];
    assert_eq!(
        GroupList::encode(&mut small, &groups, &paths),
        Err(EncodeError { needed })
    );
    assert_eq!(GroupList::needed(&small[..LIST_HEAD_LEN]), Ok(needed));
    assert!(
        GroupList::decode(&small).is_err(),
        "a head alone is not an answer"
    );
    let mut tiny = vec![0xAB; 15];
    assert!(GroupList::encode(&mut tiny, &groups, &paths).is_err());
    assert!(
        tiny.iter().all(|&b| b == 0xAB),
        "nothing written without room for the head"
    );
}

#[test]
fn a_group_list_with_inconsistent_fields_is_refused() {
    let groups = [group(1, 2)];
    let paths = [path(1, 11, 0), path(1, 12, 1)];
    let mut b = vec![0; list_len(1, 2)];
    GroupList::encode(&mut b, &groups, &paths).unwrap();
    let p0 = LIST_HEAD_LEN + GROUP_RECORD_LEN;
    for (at, v) in [
        (12, 1u8),            // group members 2, one path record
        (16 + 12, 3),         // member count disagrees with the paths
        (p0 + 8, 16),         // seat
        (p0 + 9, 8),          // flags
        (p0 + 10, 5),         // state
        (p0 + 11, 19),        // reason
        (p0 + 12, 9),         // from
        (p0 + 13, 1),         // reserved
        (16 + 16 + 11, 0x80), // policy not ASCII
    ] {
        let mut bad = b.clone();
        bad[at] = v;
        assert!(GroupList::decode(&bad).is_err(), "byte {at} = {v}");
    }
    let mut no_if = b.clone();
    no_if[p0 + 4..p0 + 8].fill(0);
    assert_eq!(
        GroupList::decode(&no_if).unwrap_err(),
        DecodeError::ZeroIfIndex
    );
}

#[test]
fn module_counters_round_trip_by_name() {
    let mut values = [0; MODULE_COUNTERS];
    for (i, v) in values.iter_mut().enumerate() {
        *v = (i as u64 + 1) * 1_000;
    }
    let m = ModuleCounters {
        if_index: 5,
        values,
    };
    let mut b = vec![0; MODULE_ANSWER_LEN];
    assert_eq!(m.encode(&mut b), Ok(MODULE_ANSWER_LEN));
    assert_eq!(ModuleCounters::decode(&b), Ok(m));
    assert_eq!(m.get("send_nbls_forwarded"), Some(1_000));
    assert_eq!(m.get("no_such_counter"), None);
    assert_eq!(
        m.encode(&mut b[..MODULE_ANSWER_LEN - 1]),
        Err(EncodeError {
            needed: MODULE_ANSWER_LEN
        })
    );
    let mut bad = b.clone();
    bad[12] = 41;
    assert_eq!(
        ModuleCounters::decode(&bad).unwrap_err().status(),
        status::INVALID_PARAMETER
    );
    assert_eq!(
        ModuleCounters::decode(&b[..100]).unwrap_err().status(),
        status::INFO_LENGTH_MISMATCH
    );
}

fn any_state() -> impl Strategy<Value = PathState> {
    (0u8..5).prop_map(|v| {
        [
            PathState::Active,
            PathState::Standby,
            PathState::Failed,
            PathState::Recovering,
            PathState::Marginal,
        ][usize::from(v)]
    })
}

prop_compose! {
    fn any_path()(group in 1u32..4, if_index in 1u32.., seat in 0u8..16, flags in 0u8..8,
        state in any_state(), from in any_state(), reason in 0usize..19,
        share in proptest::option::of(0u32..=1_000_000), weight in proptest::option::of(0u32..u32::MAX),
        nums in proptest::array::uniform11(any::<u64>()), speed in proptest::option::of(0u64..u64::MAX)) -> PathRecord {
        PathRecord {
            group, if_index, seat,
            running: flags & 1 != 0, connected: flags & 2 != 0, has_path: flags & 4 != 0,
            state, from, reason: Reason::ALL[reason], share_ppm: share, weight,
            xmit_bps: nums[0], speed_bps: speed, last_transition_ns: nums[1], transitions: nums[2],
            send_errors: nums[3], sent_nbls: nums[4], sent_bytes: nums[5], completed_nbls: nums[6],
            completed_bytes: nums[7], failed_nbls: nums[8], failed_bytes: nums[9],
        }
    }
}

proptest! {
    #[test]
    fn requests_round_trip(if_index in 1u32.., fail: bool, which in 0u8..3) {
        let r = match which {
            0 => Request::ListGroups,
            1 => Request::ModuleStats { if_index },
            _ => Request::AdminPath { if_index, action: if fail { AdminAction::Fail } else { AdminAction::Reinstate } },
        };
        let b = encoded(&r);
        prop_assert_eq!(Request::decode(r.ioctl().code(), &b), Ok(r));
    }

    #[test]
    fn group_lists_round_trip(paths in proptest::collection::vec(any_path(), 0..20), generation in any::<u32>(), mask in any::<u32>()) {
        // One group record per distinct group id, in first-seen order, paths sorted to match.
        let mut ids: Vec<u32> = Vec::new();
        for p in &paths { if !ids.contains(&p.group) { ids.push(p.group); } }
        let mut sorted = Vec::new();
        let mut groups = Vec::new();
        for id in &ids {
            let mine: Vec<PathRecord> = paths.iter().filter(|p| p.group == *id).copied().take(16).collect();
            groups.push(GroupRecord { group: *id, generation, eligible_mask: mask, members: mine.len() as u32, policy: GroupRecord::policy_field("weighted") });
            sorted.extend(mine);
        }
        let mut b = vec![0; list_len(groups.len(), sorted.len())];
        GroupList::encode(&mut b, &groups, &sorted).unwrap();
        let list = GroupList::decode(&b).unwrap();
        prop_assert_eq!(list.groups().collect::<Vec<_>>(), groups);
        prop_assert_eq!(list.paths().collect::<Vec<_>>(), sorted);
    }

    #[test]
    fn module_counters_round_trip(if_index in 1u32.., seed in any::<u64>()) {
        let mut values = [0; MODULE_COUNTERS];
        for (i, v) in values.iter_mut().enumerate() { *v = seed.rotate_left(i as u32) ^ i as u64; }
        let m = ModuleCounters { if_index, values };
        let mut b = vec![0; MODULE_ANSWER_LEN];
        m.encode(&mut b).unwrap();
        prop_assert_eq!(ModuleCounters::decode(&b), Ok(m));
    }

    #[test]
    fn no_input_panics_a_decoder(code_pick in 0usize..4, bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let code = Ioctl::ALL.get(code_pick).map_or(0x0017_0000, |i| i.code());
        let _ = Request::decode(code, &bytes);
        let _ = GroupList::decode(&bytes);
        let _ = GroupList::needed(&bytes);
        let _ = ModuleCounters::decode(&bytes);
    }
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let items: Vec<Setting> = pairs
        .iter()
        .map(|(n, v)| Setting::new(n, v).unwrap())
        .collect();
    Settings::new(&items).unwrap()
}

#[test]
fn settings_requests_carry_registry_names_and_text_values() {
    let r = Request::SetGroup {
        group: 7,
        settings: settings(&[("Policy", "round-robin"), ("FlowletGapUs", "250")]),
    };
    let b = encoded(&r);
    assert_eq!(b.len(), 16 + 2 * 56);
    assert_eq!(
        &b[..16],
        [1, 0, 0x03, 0x08, 128, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0]
    );
    assert_eq!(&b[16..22], b"Policy");
    assert!(b[22..40].iter().all(|&x| x == 0), "name zero-padded");
    assert_eq!(&b[40..51], b"round-robin");
    assert_eq!(Request::decode(Ioctl::SetGroup.code(), &b), Ok(r));
    let Ok(Request::SetGroup { settings: s, .. }) = Request::decode(Ioctl::SetGroup.code(), &b)
    else {
        panic!()
    };
    let pairs: Vec<(&str, &str)> = s.iter().map(|s| (s.name(), s.value())).collect();
    assert_eq!(pairs, [("Policy", "round-robin"), ("FlowletGapUs", "250")]);

    let p = Request::SetPath {
        if_index: 12,
        settings: settings(&[("Weight", "3")]),
    };
    assert_eq!(Request::decode(Ioctl::SetPath.code(), &encoded(&p)), Ok(p));
    for (r, bytes) in [
        (ResetTarget::Group(5), [1, 0, 0, 0, 5, 0, 0, 0]),
        (ResetTarget::Module(9), [2, 0, 0, 0, 9, 0, 0, 0]),
    ] {
        let b = encoded(&Request::ResetCounters(r));
        assert_eq!(&b[8..], bytes);
        assert_eq!(
            Request::decode(Ioctl::ResetCounters.code(), &b),
            Ok(Request::ResetCounters(r))
        );
    }
    assert!(Setting::new("", "1").is_none());
    assert!(Setting::new("Weight", "").is_none());
    assert!(Setting::new("Weight", "a b").is_none(), "no blanks");
    assert!(Setting::new("Weight", &"9".repeat(33)).is_none());
    assert!(Setting::new(&"W".repeat(25), "1").is_none());
    assert!(Setting::new("Wéight", "1").is_none());
    assert!(Settings::new(&[]).is_none());
    assert!(Settings::new(&[Setting::new("Weight", "1").unwrap(); 9]).is_none());
}

#[test]
fn every_bad_settings_or_reset_request_is_refused_with_its_status() {
    let code = Ioctl::SetGroup.code();
    let good = encoded(&Request::SetGroup {
        group: 7,
        settings: settings(&[("Policy", "hash")]),
    });
    let with = |at: usize, v: u8| {
        let mut b = good.clone();
        b[at] = v;
        Request::decode(code, &b)
    };
    let cases: Vec<(Result<Request, DecodeError>, i32)> = vec![
        (with(8, 0), status::INVALID_PARAMETER),
        (with(12, 0), status::INVALID_PARAMETER),
        (with(12, 9), status::INVALID_PARAMETER),
        (with(12, 2), status::INFO_LENGTH_MISMATCH),
        (with(16, 0), status::INVALID_PARAMETER),
        (with(16, b' '), status::INVALID_PARAMETER),
        (with(30, b'x'), status::INVALID_PARAMETER),
        (with(40, 0), status::INVALID_PARAMETER),
        (with(44, 0x80), status::INVALID_PARAMETER),
        (with(71, b'x'), status::INVALID_PARAMETER),
        (with(4, 16), status::INFO_LENGTH_MISMATCH),
        (
            Request::decode(code, &good[..71]),
            status::INFO_LENGTH_MISMATCH,
        ),
        (Request::decode(code, &good[..15]), status::BUFFER_TOO_SMALL),
        (
            Request::decode(Ioctl::SetPath.code(), &good),
            status::INVALID_PARAMETER,
        ),
    ];
    for (i, (r, st)) in cases.into_iter().enumerate() {
        let e = r.expect_err(&std::format!("case {i}"));
        assert_eq!(e.status(), st, "case {i}: {e:?}");
    }
    let reset = encoded(&Request::ResetCounters(ResetTarget::Module(3)));
    let rc = Ioctl::ResetCounters.code();
    for (at, v) in [(8, 0), (8, 3), (12, 0)] {
        let mut b = reset.clone();
        b[at] = v;
        assert_eq!(
            Request::decode(rc, &b).map_err(DecodeError::status),
            Err(status::INVALID_PARAMETER),
            "byte {at} = {v}"
        );
    }
    assert!(Ioctl::SetGroup.changes_state() && Ioctl::SetPath.changes_state());
    assert!(Ioctl::ResetCounters.changes_state());
}

proptest! {
    #[test]
    fn any_settings_request_round_trips(
        target in 1u32..,
        pairs in proptest::collection::vec(("[A-Za-z]{1,24}", "[!-~]{1,32}"), 1..=8),
        path_scope in any::<bool>(),
    ) {
        let items: Vec<Setting> = pairs.iter().map(|(n, v)| Setting::new(n, v).unwrap()).collect();
        let settings = Settings::new(&items).unwrap();
        let r = if path_scope {
            Request::SetPath { if_index: target, settings }
        } else {
            Request::SetGroup { group: target, settings }
        };
        let b = encoded(&r);
        prop_assert_eq!(Request::decode(r.ioctl().code(), &b), Ok(r));
    }
}
