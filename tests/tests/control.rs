//! The control device end to end: the real dispatch routines of mpfilter, reached through the
//! emulator's IRPs exactly as mpctl's DeviceIoControl calls reach them, on the host build and on
//! the loaded `mpfilter.sys`. Every refusal changes nothing; every request completes once (the
//! emulator's `irp.*` rules), and unload deletes the device (`leak.device`).

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use mpctl_proto::response::MODULE_ANSWER_LEN;
use mpctl_proto::response::{MODULE_GAUGES, PathRecord};
use mpctl_proto::{
    AdminAction, GroupList, GroupRecord, Ioctl, LIST_HEAD_LEN, ModuleCounters, PathState, Reason,
    Request, ResetTarget, Setting, Settings, status,
};
use mpfilter::diag::{Event, RequestRejectReason};
use ndis_emu::config::RegValue;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, TrafficConfig};

const MS: u64 = 1_000_000;

fn member(index: u8) -> AdapterConfig {
    AdapterConfig::numbered(index)
        .with_param("GroupId", RegValue::Dword(7))
        .with_param("Policy", RegValue::Sz("round-robin".into()))
        .with_param("Failback", RegValue::Sz("immediate".into()))
        .with_param("UpDelayMs", RegValue::Dword(0))
        .with_param("DownDelayMs", RegValue::Dword(0))
}

fn traffic(n: u64) -> TrafficConfig {
    TrafficConfig {
        tx_nbls: n,
        rx_nbls: 0,
        max_chain: 4,
        send_interval: 5_000,
        flows: 16,
        ..TrafficConfig::default()
    }
}

fn encoded(r: &Request) -> Vec<u8> {
    let mut b = vec![0; r.len()];
    r.encode(&mut b).expect("room");
    b
}

/// ListGroups through the device, with a buffer grown once if the driver asks for more.
fn list(emu: &mut Emulator, first_len: usize) -> Vec<u8> {
    let req = encoded(&Request::ListGroups);
    let o = emu
        .device_ioctl(Ioctl::ListGroups.code(), &req, first_len, false)
        .expect("a control device");
    if o.status == status::BUFFER_OVERFLOW {
        assert_eq!(o.information, LIST_HEAD_LEN);
        let needed = GroupList::needed(&o.output).expect("a head");
        let again = emu
            .device_ioctl(Ioctl::ListGroups.code(), &req, needed, false)
            .expect("a control device");
        assert_eq!((again.status, again.information), (status::SUCCESS, needed));
        return again.output;
    }
    assert_eq!(o.status, status::SUCCESS);
    o.output
}

fn admin(emu: &mut Emulator, if_index: u32, action: AdminAction, write: bool) -> i32 {
    let req = encoded(&Request::AdminPath { if_index, action });
    emu.device_ioctl(Ioctl::AdminPath.code(), &req, 0, write)
        .expect("a control device")
        .status
}

fn stats(emu: &mut Emulator, if_index: u32) -> Result<ModuleCounters, i32> {
    let req = encoded(&Request::ModuleStats { if_index });
    let o = emu
        .device_ioctl(Ioctl::ModuleStats.code(), &req, MODULE_ANSWER_LEN, false)
        .expect("a control device");
    if o.status == status::SUCCESS {
        assert_eq!(o.information, MODULE_ANSWER_LEN);
        Ok(ModuleCounters::decode(&o.output).expect("a valid answer"))
    } else {
        assert_eq!(o.information, 0);
        Err(o.status)
    }
}

/// Every bad input is refused with its status and leaves path `if1` as it was.
fn every_bad_input_changes_nothing(emu: &mut Emulator, if1: u32, transitions_before: u64) {
    // Every bad input is refused and changes nothing.
    let fail = encoded(&Request::AdminPath {
        if_index: if1,
        action: AdminAction::Fail,
    });
    assert_eq!(
        admin(emu, if1, AdminAction::Fail, false),
        status::ACCESS_DENIED,
        "a read-only handle cannot fail a path"
    );
    let code = Ioctl::AdminPath.code();
    let refused = |emu: &mut Emulator, input: &[u8], code: u32| {
        emu.device_ioctl(code, input, 0, true)
            .expect("a control device")
            .status
    };
    assert_eq!(refused(emu, &fail[..10], code), status::BUFFER_TOO_SMALL);
    let mut v9 = fail.clone();
    v9[0] = 9;
    assert_eq!(refused(emu, &v9, code), status::REVISION_MISMATCH);
    let mut long = fail.clone();
    long.push(0);
    assert_eq!(refused(emu, &long, code), status::INFO_LENGTH_MISMATCH);
    let mut bad_action = fail.clone();
    bad_action[12] = 3;
    assert_eq!(refused(emu, &bad_action, code), status::INVALID_PARAMETER);
    assert_eq!(
        refused(emu, &fail, Ioctl::ModuleStats.code()),
        status::INVALID_PARAMETER,
        "a buffer sent with another IOCTL's code"
    );
    assert_eq!(
        refused(emu, &fail, 0x0017_E00C),
        status::INVALID_DEVICE_REQUEST
    );
    assert_eq!(admin(emu, 999, AdminAction::Fail, true), status::NOT_FOUND);
    assert_eq!(stats(emu, 999), Err(status::NOT_FOUND));
    let short_out = emu
        .device_ioctl(
            Ioctl::ModuleStats.code(),
            &encoded(&Request::ModuleStats { if_index: if1 }),
            MODULE_ANSWER_LEN - 1,
            false,
        )
        .expect("a control device");
    assert_eq!(
        (short_out.status, short_out.information),
        (status::BUFFER_TOO_SMALL, 0)
    );
    let tiny = emu
        .device_ioctl(
            Ioctl::ListGroups.code(),
            &encoded(&Request::ListGroups),
            15,
            false,
        )
        .expect("a control device");
    assert_eq!(
        (tiny.status, tiny.information),
        (status::BUFFER_TOO_SMALL, 0)
    );
    let unchanged = list(emu, 4096);
    let p1 = GroupList::decode(&unchanged)
        .expect("a valid list")
        .paths_of(7)
        .nth(1)
        .expect("path 1");
    assert_eq!(
        (p1.state, p1.transitions),
        (PathState::Active, transitions_before)
    );
}

/// Fail path `if1` (it leaves service, and no NBL goes its way), then reinstate it.
fn fail_and_reinstate(emu: &mut Emulator, if1: u32) {
    // Fail path 1: it leaves service, for the administrator's reason.
    assert_eq!(admin(emu, if1, AdminAction::Fail, true), status::SUCCESS);
    let after = list(emu, 4096);
    let l = GroupList::decode(&after).expect("a valid list");
    let p1 = l.paths_of(7).nth(1).expect("path 1");
    assert_eq!(
        (p1.state, p1.reason),
        (PathState::Failed, Reason::AdminFail)
    );
    assert_eq!(l.groups().next().expect("group 7").eligible_mask, 0b01);
    let sent_when_failed = p1.sent_nbls;
    let failed_transitions = p1.transitions;
    emu.run_for(3 * MS);
    let during = list(emu, 4096);
    let p1 = GroupList::decode(&during)
        .expect("a valid list")
        .paths_of(7)
        .nth(1)
        .expect("path 1");
    assert_eq!(
        p1.sent_nbls, sent_when_failed,
        "nothing sent on a failed path"
    );

    // Reinstate it: back in service.
    assert_eq!(
        admin(emu, if1, AdminAction::Reinstate, true),
        status::SUCCESS
    );
    let back = list(emu, 4096);
    let p1 = GroupList::decode(&back)
        .expect("a valid list")
        .paths_of(7)
        .nth(1)
        .expect("path 1");
    // Reinstated, it recovers, and with no up-delay its hold-down is over at once.
    assert_eq!(p1.state, PathState::Active, "{p1:?}");
    assert!(
        matches!(
            (p1.from, p1.reason),
            (PathState::Failed, Reason::AdminReinstate)
                | (PathState::Recovering, Reason::HoldDownElapsed)
        ),
        "{p1:?}"
    );
    assert!(p1.transitions > failed_transitions, "{p1:?}");
}

/// The whole conversation on one image: open, list, read counters, fail and reinstate a path,
/// every bad input, close; then detach, unload, no violation and no leak.
fn conversation(image: &DriverImage) {
    let mut emu = Emulator::new(EmuConfig {
        seed: 5,
        cpus: 2,
        ..EmuConfig::default()
    });
    emu.add_adapter(member(0), traffic(3_000));
    emu.add_adapter(
        member(1),
        TrafficConfig {
            tx_nbls: 0,
            rx_nbls: 0,
            ..TrafficConfig::default()
        },
    );
    let img = common::boot(&mut emu, image);
    assert_eq!(emu.device_create(0), Some(status::SUCCESS));
    assert_eq!(
        emu.device_create(12),
        Some(status::ACCESS_DENIED),
        "no open of a name below the device"
    );
    emu.run_for(2 * MS);

    // The group and its two paths, through a buffer too small at first.
    let bytes = list(&mut emu, 64);
    let groups = GroupList::decode(&bytes).expect("a valid list");
    let g: Vec<_> = groups.groups().collect();
    assert_eq!(g.len(), 1);
    assert_eq!((g[0].group, g[0].members), (7, 2));
    assert_eq!(g[0].policy_name(), "round-robin");
    assert_eq!(g[0].eligible_mask, 0b11);
    let paths: Vec<_> = groups.paths_of(7).collect();
    assert_eq!(paths.len(), 2);
    assert!(paths.iter().all(|p| p.has_path && p.running && p.connected));
    assert!(paths.iter().all(|p| p.state == PathState::Active));
    let if1 = paths[1].if_index;
    assert_ne!(paths[0].if_index, if1);
    assert!(
        paths[1].sent_nbls > 0,
        "round-robin used member 1: {:?}",
        paths[1]
    );

    // A module's counters agree with its path's.
    let s0 = stats(&mut emu, paths[0].if_index).expect("member 0");
    assert_eq!(s0.if_index, paths[0].if_index);
    assert!(s0.get("send_nbls_rerouted").expect("a counter") > 0);

    every_bad_input_changes_nothing(&mut emu, if1, paths[1].transitions);
    fail_and_reinstate(&mut emu, if1);

    // Every refusal was reported (the .sys's through its ETW events).
    let rejected: Vec<_> = emu
        .diag_events()
        .into_iter()
        .filter_map(|r| match r.event {
            Event::IoctlRejected { status, reason, .. } => Some((status, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(rejected.len(), 12, "{rejected:?}");
    assert!(rejected.contains(&(status::ACCESS_DENIED, RequestRejectReason::AccessDenied)));
    assert!(rejected.contains(&(
        status::INVALID_DEVICE_REQUEST,
        RequestRejectReason::Unsupported
    )));

    assert_eq!(emu.device_close(), Some((status::SUCCESS, status::SUCCESS)));
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    common::finish(emu, img);
}

/// A set-group or set-path request of `pairs`.
fn settings(pairs: &[(&str, &str)]) -> Settings {
    let items: Vec<Setting> = pairs
        .iter()
        .map(|(n, v)| Setting::new(n, v).expect("a well-formed setting"))
        .collect();
    Settings::new(&items).expect("1..=8 settings")
}

fn ioctl(emu: &mut Emulator, r: &Request, write: bool) -> i32 {
    let o = emu
        .device_ioctl(r.ioctl().code(), &encoded(r), 0, write)
        .expect("a control device");
    assert_eq!(o.information, 0);
    o.status
}

fn group7(emu: &mut Emulator) -> (GroupRecord, Vec<PathRecord>) {
    let bytes = list(emu, 4096);
    let l = GroupList::decode(&bytes).expect("a valid list");
    let g = l.groups().find(|g| g.group == 7).expect("group 7");
    (g, l.paths_of(7).collect())
}

/// Policy, parameters and counters changed at runtime on one image: failover keeps every NBL on
/// path 0; refused changes change nothing; round-robin then spreads over both paths in the same
/// run, with the paths' states and history kept and the NBLs in flight at the change accounted
/// for; resets zero what is shown, in flight excepted, never below zero.
fn runtime_change(image: &DriverImage) {
    let mut emu = Emulator::new(EmuConfig {
        seed: 9,
        cpus: 2,
        ..EmuConfig::default()
    });
    for a in 0..2 {
        let traffic = if a == 0 {
            traffic(6_000)
        } else {
            TrafficConfig {
                tx_nbls: 0,
                rx_nbls: 0,
                ..TrafficConfig::default()
            }
        };
        emu.add_adapter(
            member(a).with_param("Policy", RegValue::Sz("failover".into())),
            traffic,
        );
    }
    let img = common::boot(&mut emu, image);
    assert_eq!(emu.device_create(0), Some(status::SUCCESS));
    emu.run_for(3 * MS);
    // The change must find NBLs out below (their completions belong to the old engine).
    assert!(emu.run_until(|v| v.below(0) > 0), "{:?}", emu.violations());
    let if0 = change_policy(&mut emu);
    resets(&mut emu, if0);

    // Everything completes: every NBL counted before the change came back to its engine.
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let (_, end) = group7(&mut emu);
    for p in &end {
        assert_eq!(p.inflight_nbls(), 0, "{p:?}");
        assert!(p.sent_nbls >= p.completed_nbls + p.failed_nbls, "{p:?}");
    }
    let s0 = stats(&mut emu, if0).expect("member 0");
    assert!(s0.get("send_nbls_forwarded").expect("a counter") > 0);

    assert_eq!(emu.device_close(), Some((status::SUCCESS, status::SUCCESS)));
    common::finish(emu, img);
}

/// Every refused set-group / set-path request of group 7 (member `if1`).
fn refused_changes(emu: &mut Emulator, to_rr: &Request, if1: u32) {
    assert_eq!(ioctl(emu, to_rr, false), status::ACCESS_DENIED);
    for pairs in [
        &[("Policy", "round-robin"), ("FlowletGapUs", "1000001")][..],
        &[("Policy", "fastest")],
        &[("GroupId", "8")],
        &[("Weight", "2")],
        &[("Failback", "deferred:0")],
    ] {
        let r = Request::SetGroup {
            group: 7,
            settings: settings(pairs),
        };
        assert_eq!(ioctl(emu, &r, true), status::INVALID_PARAMETER, "{pairs:?}");
    }
    let elsewhere = Request::SetGroup {
        group: 8,
        settings: settings(&[("Policy", "hash")]),
    };
    assert_eq!(ioctl(emu, &elsewhere, true), status::NOT_FOUND);
    for pairs in [
        &[("Weight", "0")][..],
        &[("Role", "standby")],
        &[("Policy", "hash")],
        &[("QuotaBytes", "16777217")],
    ] {
        let r = Request::SetPath {
            if_index: if1,
            settings: settings(pairs),
        };
        assert_eq!(ioctl(emu, &r, true), status::INVALID_PARAMETER, "{pairs:?}");
    }
}

/// Failover → round-robin in the same run; returns member 0's IfIndex.
fn change_policy(emu: &mut Emulator) -> u32 {
    let (g, paths) = group7(emu);
    assert_eq!(g.policy_name(), "failover-only");
    assert!(paths[0].sent_nbls > 0);
    assert_eq!(paths[1].sent_nbls, 0, "failover: the preferred path only");
    let (if0, if1) = (paths[0].if_index, paths[1].if_index);

    // Refusals: nothing changes.
    let to_rr = Request::SetGroup {
        group: 7,
        settings: settings(&[("Policy", "round-robin"), ("FlowletGapUs", "0")]),
    };
    refused_changes(emu, &to_rr, if1);
    let (same, same_paths) = group7(emu);
    assert_eq!(
        (same.policy_name(), same.generation),
        ("failover-only", g.generation),
        "a refused change changes nothing"
    );
    assert_eq!(same_paths, paths, "no time passed, nothing changed");

    // Failover → round-robin, per packet, in the same run.
    assert!(
        paths[0].inflight_nbls() > 0,
        "NBLs out at the change: {:?}",
        paths[0]
    );
    assert_eq!(ioctl(emu, &to_rr, true), status::SUCCESS);
    let (rr, rr_paths) = group7(emu);
    assert_eq!(rr.policy_name(), "round-robin");
    assert_eq!(rr.generation, g.generation + 1);
    assert_eq!(rr.eligible_mask, g.eligible_mask);
    for (a, b) in paths.iter().zip(&rr_paths) {
        assert_eq!(
            (
                b.state,
                b.from,
                b.reason,
                b.last_transition_ns,
                b.transitions
            ),
            (
                a.state,
                a.from,
                a.reason,
                a.last_transition_ns,
                a.transitions
            ),
            "states and history carry over"
        );
        assert_eq!(
            (b.sent_nbls, b.completed_nbls),
            (a.sent_nbls, a.completed_nbls),
            "counters carry over"
        );
    }
    let changed: Vec<_> = emu
        .diag_events()
        .into_iter()
        .filter_map(|r| match r.event {
            Event::PolicyChanged {
                group,
                policy,
                generation,
            } => Some((group, policy, generation)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changed,
        [(7, 1, rr.generation)],
        "one event, policy 1 = round-robin"
    );

    emu.run_for(3 * MS);
    let (_, spread) = group7(emu);
    let new0 = spread[0].sent_nbls - paths[0].sent_nbls;
    let new1 = spread[1].sent_nbls;
    assert!(new1 > 0, "round-robin uses path 1 now");
    assert!(
        new0.abs_diff(new1) * 10 <= new0 + new1,
        "spread evenly: {new0} vs {new1}"
    );

    // A path's weight and priority, in range.
    let weight = Request::SetPath {
        if_index: if1,
        settings: settings(&[("Weight", "3"), ("Priority", "2")]),
    };
    assert_eq!(ioctl(emu, &weight, true), status::SUCCESS);
    assert_eq!(group7(emu).0.generation, rr.generation + 1);
    if0
}

/// Group and module counter resets: in flight kept, nothing below zero.
fn resets(emu: &mut Emulator, if0: u32) {
    let before = group7(emu).1;
    let reset = Request::ResetCounters(ResetTarget::Group(7));
    assert_eq!(ioctl(emu, &reset, false), status::ACCESS_DENIED);
    assert_eq!(
        ioctl(emu, &Request::ResetCounters(ResetTarget::Group(8)), true),
        status::NOT_FOUND
    );
    assert_eq!(ioctl(emu, &reset, true), status::SUCCESS);
    let (_, zeroed) = group7(emu);
    for (a, b) in before.iter().zip(&zeroed) {
        assert_eq!((b.completed_nbls, b.failed_nbls, b.send_errors), (0, 0, 0));
        assert_eq!(b.sent_nbls, a.inflight_nbls(), "in flight is not reset");
    }
    let module_reset = Request::ResetCounters(ResetTarget::Module(if0));
    assert_eq!(ioctl(emu, &module_reset, true), status::SUCCESS);
    let s0 = stats(emu, if0).expect("member 0");
    for (name, v) in mpctl_proto::MODULE_COUNTER_NAMES.iter().zip(s0.values) {
        if !MODULE_GAUGES.contains(name) {
            assert_eq!(v, 0, "{name}");
        }
    }
    assert_eq!(
        ioctl(emu, &Request::ResetCounters(ResetTarget::Module(999)), true),
        status::NOT_FOUND
    );
}

/// Changes while earlier generations still have sends out: each replaced engine is kept for its
/// completions, four at most; a fifth change is refused as busy (nothing changed), and once they
/// have drained changes are taken again. Every NBL is accounted for at the end.
fn changes_while_sends_are_out(image: &DriverImage) {
    let mut emu = Emulator::new(EmuConfig {
        seed: 3,
        cpus: 2,
        ..EmuConfig::default()
    });
    for a in 0..2 {
        let traffic = if a == 0 {
            // At most 64 out: a new send only when one completes, so every generation sends,
            // and its sends wait behind the 64 before them (several ms at 10 Mb/s).
            TrafficConfig {
                window: 64,
                ..traffic(300)
            }
        } else {
            TrafficConfig {
                tx_nbls: 0,
                rx_nbls: 0,
                ..TrafficConfig::default()
            }
        };
        // 10 Mb/s: a frame takes about a millisecond on the wire, so sends stay out for a while.
        let mut m = member(a);
        m.link_speed_bps = 10_000_000;
        emu.add_adapter(m, traffic);
    }
    let img = common::boot(&mut emu, image);
    assert_eq!(emu.device_create(0), Some(status::SUCCESS));
    emu.run_for(MS);
    let policies = ["failover", "round-robin"];
    let mut generation = group7(&mut emu).0.generation;
    let mut busy_at = None;
    for i in 0..6 {
        assert!(group7(&mut emu).1.iter().any(|p| p.inflight_nbls() > 0));
        let r = Request::SetGroup {
            group: 7,
            settings: settings(&[("Policy", policies[i % 2])]),
        };
        match ioctl(&mut emu, &r, true) {
            status::SUCCESS => generation += 1,
            status::DEVICE_BUSY => {
                busy_at = Some(i);
                break;
            }
            other => panic!("change {i}: {other:#x}"),
        }
        assert_eq!(group7(&mut emu).0.generation, generation);
        // Long enough for the new generation to send, too short for its sends to complete.
        emu.run_for(250_000);
    }
    assert_eq!(
        busy_at,
        Some(4),
        "four replaced engines owed completions, then busy"
    );
    let (g, _) = group7(&mut emu);
    assert_eq!(g.generation, generation, "a refused change changes nothing");
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let r = Request::SetGroup {
        group: 7,
        settings: settings(&[("Policy", "hash")]),
    };
    assert_eq!(
        ioctl(&mut emu, &r, true),
        status::SUCCESS,
        "drained: taken again"
    );
    assert!(emu.run_until_idle(), "{:?}", emu.violations());
    let (g, end) = group7(&mut emu);
    assert_eq!(g.policy_name(), "address-hash");
    let sent: u64 = end.iter().map(|p| p.sent_nbls).sum();
    for p in &end {
        assert_eq!(p.inflight_nbls(), 0, "{p:?}");
    }
    let s0 = stats(&mut emu, end[0].if_index).expect("member 0");
    assert_eq!(
        sent,
        s0.get("send_nbls_completed").expect("a counter"),
        "every NBL counted once, in whichever generation sent it"
    );
    assert_eq!(emu.device_close(), Some((status::SUCCESS, status::SUCCESS)));
    common::finish(emu, img);
}

#[test]
fn changes_while_sends_are_out_on_the_host_build() {
    changes_while_sends_are_out(&DriverImage::Host);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test control -- --ignored"]
fn changes_while_sends_are_out_on_the_sys() {
    common::on_sys(|image| changes_while_sends_are_out(&image));
}

#[test]
fn policy_parameters_and_counters_change_at_runtime_on_the_host_build() {
    runtime_change(&DriverImage::Host);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test control -- --ignored"]
fn policy_parameters_and_counters_change_at_runtime_on_the_sys() {
    common::on_sys(|image| runtime_change(&image));
}

#[test]
fn the_control_device_lists_fails_and_reinstates_on_the_host_build() {
    conversation(&DriverImage::Host);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test control -- --ignored"]
fn the_control_device_lists_fails_and_reinstates_on_the_sys() {
    common::on_sys(|image| conversation(&image));
}
