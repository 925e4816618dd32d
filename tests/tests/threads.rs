//! Many CPUs at once (issue 14, item 2): a 4-member path group whose filter is entered from 4
//! real threads at the same time — the protocols' sends (FilterSendNetBufferLists), the
//! miniports' completions (FilterSendNetBufferListsComplete), their receives
//! (FilterReceiveNetBufferLists) and the protocols' returns (FilterReturnNetBufferLists), with
//! timers, status and PnP — for every policy, while the control thread fails and reinstates a
//! path through the control device, changes the group's policy (SetGroup), and detaches and
//! re-attaches a member. Afterwards, as after the fault storm: no rule violation, no leak, every
//! NBL completed exactly once to its originator, none lost, none delivered twice, and the
//! filter's counters agree with what the emulator saw cross its edges.
//!
//! The emulator's threads mode (`Emulator::on_threads`) shares one world between the threads and
//! never holds its lock while the driver runs; NDIS spin locks really exclude. CI runs every
//! policy briefly; `threads_long` is the by-hand run (`cargo test -p ndis-emu --release --test
//! threads -- --ignored threads_long --nocapture`), its figures in docs/reliability.md;
//! `reattach_under_load` reproduces a race of the filter's FilterRestart (ignored until fixed).
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use mpctl_proto::{AdminAction, Request, Setting, Settings, status};
use mpfilter::config::PolicyName;
use ndis_emu::config::RegValue;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, Emulator, ThreadsReport, TrafficConfig};

const MS: u64 = 1_000_000;
const MEMBERS: u8 = 4;
const GROUP: u32 = 5;
/// Threads besides the control thread, which runs events too whenever it waits.
const WORKERS: u32 = 3;
/// The member the control thread detaches and re-attaches.
const DETACHED: usize = 3;
/// Detach and re-attach cycles of `reattach_under_load`.
const CYCLES: u32 = 30;
/// The member the administrator fails and reinstates.
const FAILED: usize = 1;

fn member(i: u8, policy: PolicyName) -> AdapterConfig {
    let mut a = AdapterConfig::numbered(i)
        .with_param("GroupId", RegValue::Dword(GROUP))
        .with_param("Policy", RegValue::Sz(policy.name().into()))
        .with_param("Failback", RegValue::Sz("immediate".into()))
        .with_param("UpDelayMs", RegValue::Dword(0))
        .with_param("DownDelayMs", RegValue::Dword(0))
        .with_param("Weight", RegValue::Dword(u32::from(i) + 1));
    a.link_speed_bps = [1, 2, 5, 10][usize::from(i)] * 1_000_000_000;
    a
}

fn if_index(a: usize) -> u32 {
    AdapterConfig::numbered(u8::try_from(a).expect("a member")).filter_if_index()
}

fn ioctl(emu: &mut Emulator, r: &Request) -> i32 {
    let mut b = vec![0; r.len()];
    r.encode(&mut b).expect("room");
    emu.device_ioctl(r.ioctl().code(), &b, 0, true)
        .expect("mpfilter's control device")
        .status
}

fn admin(emu: &mut Emulator, a: usize, action: AdminAction) {
    let r = Request::AdminPath {
        if_index: if_index(a),
        action,
    };
    assert_eq!(ioctl(emu, &r), status::SUCCESS, "{action:?} member {a}");
}

fn set_policy(emu: &mut Emulator, policy: PolicyName) {
    let settings = Settings::new(&[Setting::new("Policy", policy.name()).expect("a setting")])
        .expect("one setting");
    let r = Request::SetGroup {
        group: GROUP,
        settings,
    };
    assert_eq!(
        ioctl(emu, &r),
        status::SUCCESS,
        "SetGroup {}",
        policy.name()
    );
}

/// What one run did.
struct Run {
    threads: ThreadsReport,
    delivery: ndis_emu::DeliveryReport,
    sent: u64,
}

/// When the detached member comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reattach {
    /// Once the first traffic has run out; then a second round of traffic on every member.
    WhenQuiet,
    /// While the others' traffic flows (see `reattach_under_load`).
    UnderLoad,
}

/// The control plane, on the control thread while the workers carry the traffic: admin fail,
/// a policy change, reinstate, detach and re-attach, each after a slice of the run; then the
/// traffic runs out.
fn control_plane(
    emu: &mut Emulator,
    policy: PolicyName,
    (per_member, slice): (u64, u64),
    reattach: Reattach,
) {
    let next = PolicyName::ALL[(PolicyName::ALL
        .iter()
        .position(|&p| p == policy)
        .expect("a policy")
        + 1)
        % PolicyName::ALL.len()];
    emu.run_for(slice);
    admin(emu, FAILED, AdminAction::Fail);
    emu.run_for(slice);
    set_policy(emu, next);
    emu.run_for(slice);
    admin(emu, FAILED, AdminAction::Reinstate);
    emu.run_for(slice);
    emu.stop(DETACHED);
    assert_eq!(
        emu.module_state(DETACHED),
        ndis_emu::ModState::Detached,
        "{:?}",
        emu.violations()
    );
    emu.run_for(slice);
    if reattach == Reattach::WhenQuiet {
        // The others' traffic runs out (the detached member's waits for it to come back).
        let quiet = emu.run_until(|v| {
            (0..usize::from(MEMBERS)).all(|a| {
                let st = v.stats(a);
                st.tx_completed == st.tx_sent
                    && v.below(a) == 0
                    && (a == DETACHED
                        || (st.tx_sent == per_member && st.rx_received == per_member / 4))
            })
        });
        assert!(quiet, "{:?}", emu.violations());
    }
    assert!(emu.reattach(DETACHED), "{:?}", emu.violations());
    if reattach == Reattach::UnderLoad {
        // More cycles under load: each re-attach is a chance for the race.
        for _ in 0..CYCLES {
            emu.run_for(slice / 8);
            emu.stop(DETACHED);
            emu.run_for(slice / 8);
            assert!(emu.reattach(DETACHED), "{:?}", emu.violations());
        }
    }
    if reattach == Reattach::WhenQuiet {
        for a in 0..usize::from(MEMBERS) {
            emu.add_traffic(a, per_member / 2, per_member / 8);
        }
    }
    emu.run_for(slice);
    set_policy(emu, policy);
    emu.run_for(slice);
    admin(emu, FAILED, AdminAction::Fail);
    emu.run_for(slice);
    admin(emu, FAILED, AdminAction::Reinstate);
    run_out(emu);
}

/// Runs until every member's traffic is done.
fn run_out(emu: &mut Emulator) {
    let finished = emu.run_until_idle();
    if !finished {
        dump(emu);
    }
    assert!(finished, "{:?}", emu.violations());
}

/// What each member was doing when a run did not finish.
fn dump(emu: &Emulator) {
    for a in 0..usize::from(MEMBERS) {
        let st = emu.stats(a);
        // SAFETY: the host-linked filter's module of adapter `a` (or none); the run halted, so
        // the counters no longer move.
        let fs = unsafe {
            mpfilter::driver::module_stats(emu.module_context(a) as *mut core::ffi::c_void)
        };
        eprintln!(
            "member {a}: {:?} held {:?} sent {} completed {} rx {}/{}\n  {fs:?}",
            emu.module_state(a),
            emu.held_by_filter(a),
            st.tx_sent,
            st.tx_completed,
            st.rx_received,
            st.rx_indicated,
        );
    }
}

/// One run of `policy`: `per_member` NBLs sent by each member's protocol and a quarter of that
/// received by each, on `WORKERS + 1` threads.
fn run(policy: PolicyName, seed: u64, per_member: u64, workers: u32, reattach: Reattach) -> Run {
    let mut emu = Emulator::new(EmuConfig {
        seed,
        cpus: WORKERS + 1,
        // Real threads stretch virtual time unevenly (a thread descheduled inside the driver
        // while the others run events): generous watchdogs, still finite.
        progress_timeout: 500 * MS,
        lifecycle_timeout: 2_000 * MS,
        ..EmuConfig::default()
    });
    for i in 0..MEMBERS {
        let traffic = TrafficConfig {
            tx_nbls: per_member,
            rx_nbls: per_member / 4,
            max_chain: 8,
            frame_len: (64, 1514),
            send_interval: 4_000,
            window: 256,
            flows: 32,
            ..TrafficConfig::default()
        };
        emu.add_adapter(member(i, policy), traffic);
    }
    let img = common::boot(&mut emu, &DriverImage::Host);
    // The traffic takes roughly per_member x 4 us of virtual time: the changes land within it.
    let slice = (per_member * 4_000 / 10).max(MS / 2);
    let threads = if workers == 0 {
        control_plane(&mut emu, policy, (per_member, slice), reattach);
        ThreadsReport::default()
    } else {
        let plan = (per_member, slice);
        emu.on_threads(workers, |emu| control_plane(emu, policy, plan, reattach))
            .1
    };
    assert!(!emu.halted(), "{:?}", emu.violations());
    let delivery = emu.delivery();
    let sent = (0..usize::from(MEMBERS))
        .map(|a| emu.stats(a).tx_sent)
        .sum();
    let first = per_member * u64::from(MEMBERS);
    let expected = match reattach {
        Reattach::WhenQuiet => first + first / 2,
        Reattach::UnderLoad => first,
    };
    assert_eq!(sent, expected, "{}: every round sent", policy.name());
    for a in 0..usize::from(MEMBERS) {
        counters_agree(&emu, a, policy);
    }
    common::finish(emu, img);
    Run {
        threads,
        delivery,
        sent,
    }
}

/// The filter's own counters of member `a` against what the emulator saw cross the module's
/// edges: the protocol above, the miniport below. A member attached all along is compared
/// exactly; the re-attached one's module counts from its re-attach only.
fn counters_agree(emu: &Emulator, a: usize, policy: PolicyName) {
    let st = emu.stats(a);
    // SAFETY: the host-linked filter's module of adapter `a`, attached; the threads have
    // stopped, so nothing else runs in the filter.
    let fs =
        unsafe { mpfilter::driver::module_stats(emu.module_context(a) as *mut core::ffi::c_void) }
            .expect("a module");
    let p = policy.name();
    let whole = [
        fs.protocol_errors,
        fs.send_nbls_parked_now,
        fs.send_nbls_failed_no_path,
        fs.send_nbls_retried,
    ];
    assert_eq!(whole, [0; 4], "{p} member {a}: {fs:?}");
    // Every frame on the member's wire came down its module: its protocol's own NBLs passed
    // on, and the other members' NBLs sent here as children.
    let own = [
        (
            fs.send_nbls_forwarded + fs.send_children_completed,
            st.wire_tx_frames,
        ),
        (fs.send_children_completed, st.wire_tx_rerouted),
        (fs.send_nbls_completed, st.tx_completed),
        (fs.receive_nbls_indicated, st.rx_received),
        (fs.receive_nbls_returned, st.rx_returned_by_protocol),
    ];
    for (k, (filter, emulator)) in own.into_iter().enumerate() {
        if a == DETACHED {
            assert!(
                filter <= emulator,
                "{p} member {a}, pair {k}: {fs:?} {st:?}"
            );
        } else {
            assert_eq!(filter, emulator, "{p} member {a}, pair {k}: {fs:?} {st:?}");
        }
    }
    if a != DETACHED {
        // Each NBL from its protocol went down its own stack or, as a child, another's.
        assert_eq!(
            fs.send_nbls_forwarded + fs.send_nbls_rerouted,
            st.tx_sent,
            "{p} member {a}: {fs:?}"
        );
    }
}

/// What every run must show: every NBL completed exactly once to its originator, none lost.
fn assert_accounted(policy: PolicyName, r: &Run) {
    let p = policy.name();
    let t = &r.delivery.total;
    assert_eq!(t.sent, r.sent, "{p}: {t:?}");
    assert_eq!(t.outstanding, 0, "{p}: every NBL completed: {t:?}");
    assert_eq!(t.completed_ok + t.completed_errors(), t.sent, "{p}: {t:?}");
    assert_eq!(t.duplicates, 0, "{p}: {t:?}");
    assert_eq!(t.silently_lost, 0, "{p}: no blackhole, nothing lost: {t:?}");
    assert_eq!(t.delivered, t.completed_ok, "{p}: {t:?}");
}

#[test]
fn every_policy_on_four_threads() {
    let mut overlapping = 0;
    for (k, policy) in PolicyName::ALL.into_iter().enumerate() {
        let r = run(
            policy,
            0x7A_0000 + k as u64,
            2_000,
            WORKERS,
            Reattach::WhenQuiet,
        );
        assert_accounted(policy, &r);
        println!("{}: {:?}", policy.name(), r.threads);
        overlapping += r.threads.overlapping;
    }
    // Which calls overlap is up to the OS scheduler; that some do, over nine runs of thousands
    // of calls on four threads, is what makes this test more than the one-thread one.
    assert!(
        overlapping > 0,
        "the driver was entered from two threads at once"
    );
}

/// The same runs on one thread (the emulator's interleaved virtual processors): the scenario
/// itself is sound, so what fails only on threads is a race.
#[test]
fn every_policy_on_one_thread() {
    for (k, policy) in PolicyName::ALL.into_iter().enumerate() {
        let r = run(policy, 0x7A_0000 + k as u64, 2_000, 0, Reattach::WhenQuiet);
        assert_accounted(policy, &r);
    }
}

/// The detached member re-attached while the others' traffic flows: FilterRestart readmits it
/// to the group before it returns, so another processor's send can be rerouted onto it while
/// NDIS still has it Restarting (`state.send-not-running`); see docs/reliability.md.
#[test]
#[ignore = "finds the FilterRestart readmission race (docs/reliability.md): cargo test -p ndis-emu --test threads -- --ignored reattach_under_load"]
fn reattach_under_load() {
    for (k, policy) in PolicyName::ALL.into_iter().enumerate() {
        let r = run(
            policy,
            0x7B_0000 + k as u64,
            2_000,
            WORKERS,
            Reattach::UnderLoad,
        );
        assert_accounted(policy, &r);
    }
}

/// The long run, by hand: 250,000 NBLs per member in the first round and 125,000 in the second,
/// every policy, on four threads.
#[test]
#[ignore = "by hand (~1.5 min in release): cargo test -p ndis-emu --release --test threads -- --ignored threads_long --nocapture"]
fn threads_long() {
    for (k, policy) in PolicyName::ALL.into_iter().enumerate() {
        let started = std::time::Instant::now();
        let r = run(
            policy,
            0x7C_0000 + k as u64,
            250_000,
            WORKERS,
            Reattach::WhenQuiet,
        );
        assert_accounted(policy, &r);
        let t = &r.delivery.total;
        println!(
            "{}: {} NBLs sent, {} completed ok, {} with errors, {} delivered, {:.1} s wall; {:?}",
            policy.name(),
            t.sent,
            t.completed_ok,
            t.completed_errors(),
            t.delivered,
            started.elapsed().as_secs_f64(),
            r.threads
        );
    }
}
