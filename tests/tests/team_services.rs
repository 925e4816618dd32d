//! Services NDIS gives a protocol that a team must keep giving when it moves the protocol's NBLs
//! to another adapter: the NBL context backfill the drivers below each member asked for in their
//! restart attributes, the send loopback a protocol asks for with
//! `NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK`, and the limits of each stack (MTU, LSO): a protocol
//! builds its NBLs for its own adapter, and a member with smaller limits must never get one it
//! cannot take. Each scenario runs on the host build and on the loaded `mpfilter.sys`
//! with the same checks, and ends with detach and unload with no rule violation and no leak.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use common::idle;

use ndis_emu::config::RegValue;
use ndis_emu::ledger::OriginReport;
use ndis_emu::wire::Fault;
use ndis_emu::{AdapterConfig, DriverImage, EmuConfig, TrafficConfig};

/// A round-robin team member (GroupId 1) whose drivers below want `backfill` bytes of context.
fn member(index: u8, backfill: u16) -> AdapterConfig {
    AdapterConfig::numbered(index)
        .with_param("GroupId", RegValue::Dword(1))
        .with_param("Policy", RegValue::Sz("round-robin".into()))
        .with_context_backfill(backfill)
}

/// An adapter with no configuration: the filter passes its traffic through.
fn plain(index: u8, backfill: u16) -> AdapterConfig {
    AdapterConfig::numbered(index).with_context_backfill(backfill)
}

fn load(n: u64) -> TrafficConfig {
    TrafficConfig {
        tx_nbls: n,
        rx_nbls: 0,
        max_chain: 8,
        frame_len: (60, 1514),
        window: 256,
        send_interval: 1_000,
        flows: 64,
        ..TrafficConfig::default()
    }
}

/// What a run measured.
struct Outcome {
    origin: OriginReport,
    /// Frames per wire.
    wires: Vec<u64>,
    /// Per adapter: NBLs its miniport took short of the context backfill its drivers wanted.
    backfill_short: Vec<u64>,
    /// Per adapter: NBLs its miniport took (and checked).
    taken: Vec<u64>,
    /// Per adapter: the protocol's loopback receipts (own frames once, duplicates, foreign).
    loopback: Vec<(u64, u64, u64)>,
    /// Per adapter: the frames its protocol sent asking for loopback that its own receive
    /// filter accepts (what its loopback receipts should come to).
    loopback_expected: Vec<u64>,
    /// Per adapter: sends that reached its miniport still asking NDIS for loopback.
    flagged_below: Vec<u64>,
    /// Per adapter: the largest frame its miniport took, and how many large sends.
    largest: Vec<u64>,
    large_sends: Vec<u64>,
    /// Per adapter: what its protocol was presented (MTU, IPv4 LSO limit).
    views: Vec<(u32, u32)>,
    /// Per adapter, the largest IPv4 LSO limit an offload indication showed its protocol.
    lso_widest: Vec<u64>,
    /// Per adapter: the IPv6 LSO limit its protocol was presented last.
    lso6_views: Vec<u32>,
}

/// Runs adapter 0's traffic over `adapters` on `image`, then detaches every module and unloads:
/// no violation, no leak, no damaged frame.
fn run_on(adapters: &[AdapterConfig], traffic: &TrafficConfig, image: DriverImage) -> Outcome {
    run_faulted(adapters, traffic, image, &[])
}

/// As [`run_on`], with the traffic on adapter `sender` instead of 0 (the report is its).
fn run_from(
    sender: usize,
    adapters: &[AdapterConfig],
    traffic: &TrafficConfig,
    image: DriverImage,
) -> Outcome {
    run_full(sender, adapters, traffic, image, &[])
}

/// As [`run_on`], with `faults` (adapter, time after the start of traffic, fault).
fn run_faulted(
    adapters: &[AdapterConfig],
    traffic: &TrafficConfig,
    image: DriverImage,
    faults: &[(usize, u64, Fault)],
) -> Outcome {
    run_full(0, adapters, traffic, image, faults)
}

fn run_full(
    sender: usize,
    adapters: &[AdapterConfig],
    traffic: &TrafficConfig,
    image: DriverImage,
    faults: &[(usize, u64, Fault)],
) -> Outcome {
    let cfg = EmuConfig {
        seed: 7,
        cpus: 4,
        ..EmuConfig::default()
    };
    let with_traffic = adapters
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                a.clone(),
                if i == sender { traffic.clone() } else { idle() },
            )
        })
        .collect();
    common::run_to_end(cfg, with_traffic, image, faults, |emu| {
        let d = emu.delivery();
        let stats: Vec<_> = (0..emu.adapter_count()).map(|a| emu.stats(a)).collect();
        let each = |f: fn(&ndis_emu::stats::AdapterStats) -> u64| stats.iter().map(f).collect();
        Outcome {
            origin: d.origins[sender].clone(),
            wires: d.per_wire.clone(),
            backfill_short: each(|s| s.tx_context_backfill_short),
            taken: each(|s| s.tx_context_backfill_checked),
            loopback: stats
                .iter()
                .map(|s| {
                    (
                        s.rx_loopback,
                        s.rx_loopback_duplicates,
                        s.rx_loopback_foreign,
                    )
                })
                .collect(),
            loopback_expected: each(|s| s.tx_loopback_expected),
            flagged_below: each(|s| s.tx_loopback_flagged),
            largest: each(|s| s.tx_largest_frame),
            large_sends: each(|s| s.tx_large_sends),
            lso_widest: each(|s| s.status_lso_widest),
            views: (0..emu.adapter_count())
                .map(|a| emu.protocol_view(a))
                .collect(),
            lso6_views: (0..emu.adapter_count())
                .map(|a| emu.protocol_lso6_view(a))
                .collect(),
        }
    })
}

/// As [`run_on`], on the loaded `mpfilter.sys` on its own emulated CPU thread: a bug check fails
/// the test, and the driver's pool must be empty after unload.
fn run_sys(adapters: Vec<AdapterConfig>, traffic: TrafficConfig) -> Outcome {
    common::on_sys(move |image| run_on(&adapters, &traffic, image))
}

fn assert_all_delivered(o: &OriginReport, n: u64) {
    assert_eq!((o.sent, o.completed_ok, o.delivered), (n, n, n), "{o:?}");
    assert_eq!((o.lost, o.duplicates, o.silently_lost), (0, 0, 0), "{o:?}");
}

const N: u64 = 2_000;

fn backfill_team() -> Vec<AdapterConfig> {
    vec![member(0, 64), member(1, 96)]
}

/// Both members' drivers below want context backfill (64 and 96 bytes): every NBL either
/// miniport takes — adapter 0's own and the clones sent down adapter 1 — has it.
fn check_backfill(o: &Outcome) {
    assert_all_delivered(&o.origin, N);
    assert!(o.wires.iter().all(|&w| w > N / 4), "spread: {:?}", o.wires);
    assert!(o.taken.iter().all(|&t| t > 0), "{:?}", o.taken);
    assert_eq!(o.backfill_short, vec![0, 0], "taken {:?}", o.taken);
    // The protocol did not ask for loopback: the team takes none over.
    assert_eq!(o.loopback, vec![(0, 0, 0), (0, 0, 0)]);
}

#[test]
fn every_nbl_a_member_sends_carries_the_context_backfill_its_stack_asked_for() {
    check_backfill(&run_on(&backfill_team(), &load(N), DriverImage::Host));
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_every_nbl_a_member_sends_carries_the_context_backfill_its_stack_asked_for() {
    check_backfill(&run_sys(backfill_team(), load(N)));
}

/// The control: without the team the filter pushes no context, and the protocol's NBLs reach a
/// miniport whose drivers want backfill without it — the check sees what it is there to see.
#[test]
fn a_pass_through_stack_leaves_the_backfill_to_the_protocol_and_the_check_sees_it() {
    let o = run_on(&[plain(0, 64), plain(1, 64)], &load(N), DriverImage::Host);
    assert_all_delivered(&o.origin, N);
    assert_eq!(o.backfill_short[0], o.taken[0], "taken {:?}", o.taken);
    assert!(o.taken[0] > 0);
}

/// `NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST`.
const DIRECTED_BROADCAST: u32 = 0x09;
/// `NDIS_PACKET_TYPE_DIRECTED`.
const DIRECTED: u32 = 0x01;

/// Adapter 0's protocol broadcasts with NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK after setting
/// `packet_filter`.
fn loopback_load(packet_filter: u32) -> TrafficConfig {
    TrafficConfig {
        broadcast: true,
        check_for_loopback: true,
        packet_filter: Some(packet_filter),
        ..load(N)
    }
}

fn team() -> Vec<AdapterConfig> {
    vec![member(0, 0), member(1, 0)]
}

/// The team spreads adapter 0's broadcasts over both wires, and its protocol still gets every
/// one back exactly once as a loopback — whichever member carried it — while no send reaches a
/// miniport asking NDIS for loopback (which would loop adapter 0's frames back to adapter 1's
/// protocol) and adapter 1's protocol gets nothing.
fn check_loopback(o: &Outcome) {
    assert_all_delivered(&o.origin, N);
    assert!(o.wires.iter().all(|&w| w > N / 4), "spread: {:?}", o.wires);
    assert_eq!(o.loopback, vec![(N, 0, 0), (0, 0, 0)]);
    assert_eq!(o.flagged_below, vec![0, 0]);
}

#[test]
fn a_team_loops_back_every_accepted_send_to_its_protocol_whichever_path_carried_it() {
    check_loopback(&run_on(
        &team(),
        &loopback_load(DIRECTED_BROADCAST),
        DriverImage::Host,
    ));
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_a_team_loops_back_every_accepted_send_to_its_protocol_whichever_path_carried_it() {
    check_loopback(&run_sys(team(), loopback_load(DIRECTED_BROADCAST)));
}

/// A packet filter that does not take broadcasts: nothing comes back, from the team or NDIS.
#[test]
fn a_team_loops_back_nothing_the_protocols_packet_filter_rejects() {
    let o = run_on(&team(), &loopback_load(DIRECTED), DriverImage::Host);
    assert_all_delivered(&o.origin, N);
    assert_eq!(o.loopback, vec![(0, 0, 0), (0, 0, 0)]);
    assert_eq!(o.flagged_below, vec![0, 0]);
}

/// Broadcasts the protocol's filter accepts, sent without asking for loopback: nothing comes
/// back.
#[test]
fn a_team_loops_back_nothing_the_protocol_did_not_ask_for() {
    let traffic = TrafficConfig {
        check_for_loopback: false,
        ..loopback_load(DIRECTED_BROADCAST)
    };
    let o = run_on(&team(), &traffic, DriverImage::Host);
    assert_all_delivered(&o.origin, N);
    assert_eq!(o.loopback, vec![(0, 0, 0), (0, 0, 0)]);
    assert_eq!(o.loopback_expected, vec![0, 0]);
}

/// The reference: without a team the filter passes the flag down and NDIS loops every accepted
/// send back itself — the same receipts the team gives.
#[test]
fn without_a_team_ndis_loops_back_the_same_sends_itself() {
    let o = run_on(
        &[plain(0, 0), plain(1, 0)],
        &loopback_load(DIRECTED_BROADCAST),
        DriverImage::Host,
    );
    assert_all_delivered(&o.origin, N);
    assert_eq!(o.loopback, vec![(N, 0, 0), (0, 0, 0)]);
    assert_eq!(o.flagged_below, vec![N, 0]);
}

/// A 2-member team whose member 1 has the smaller limits: MTU 1500 and LSO up to 1000 bytes,
/// against member 0's 1900 and 1900 (frames are small here: the emulator's buffers hold 2 KiB).
fn unequal() -> Vec<AdapterConfig> {
    vec![
        member(0, 0).with_limits(1900, 1900),
        member(1, 0).with_limits(1500, 1000),
    ]
}

/// Frames up to adapter 0's MTU (1914 bytes with the header), `lso_mss` != 0: all large sends.
fn big_frames(lso_mss: u32) -> TrafficConfig {
    TrafficConfig {
        frame_len: (100, 1914),
        lso_mss,
        ..load(N)
    }
}

/// What fits member 1 may go either way; what does not goes to member 0 — nothing beyond member
/// 1's limits reaches its miniport (the emulator's `send.beyond-adapter-limits` would fail the
/// run), and nothing is lost.
fn check_limits(o: &Outcome, lso: bool) {
    assert_all_delivered(&o.origin, N);
    // Flowlets keep a flow where a large frame moved it, so member 1 gets the small frames of
    // flows between moves: fewer than half, but some.
    assert!(o.wires.iter().all(|&w| w > 0), "spread: {:?}", o.wires);
    let (big_on_0, cap_1) = if lso { (1_014, 1_014) } else { (1_514, 1_514) };
    assert!(o.largest[0] > big_on_0, "largest {:?}", o.largest);
    assert!(o.largest[1] <= cap_1, "largest {:?}", o.largest);
    let large = if lso { o.wires.clone() } else { vec![0, 0] };
    assert_eq!(o.large_sends, large);
}

#[test]
fn frames_above_a_members_mtu_never_go_to_that_member() {
    check_limits(
        &run_on(&unequal(), &big_frames(0), DriverImage::Host),
        false,
    );
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_frames_above_a_members_mtu_never_go_to_that_member() {
    check_limits(&run_sys(unequal(), big_frames(0)), false);
}

/// Large sends built for adapter 0's own limits: its protocol keeps what it was bound with (the
/// narrowing the team presents when member 1 joins reaches it too late for these NBLs).
fn stale_large_sends() -> TrafficConfig {
    TrafficConfig {
        keeps_bind_limits: true,
        ..big_frames(536)
    }
}

#[test]
fn large_sends_above_a_members_lso_limit_never_go_to_that_member() {
    check_limits(
        &run_on(&unequal(), &stale_large_sends(), DriverImage::Host),
        true,
    );
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_large_sends_above_a_members_lso_limit_never_go_to_that_member() {
    check_limits(&run_sys(unequal(), stale_large_sends()), true);
}

/// Frames of 1400 to 1514 bytes before an in-frame 802.1Q tag (VLAN 7) that the protocol
/// writes after their MACs.
fn tagged_frames() -> TrafficConfig {
    TrafficConfig {
        frame_len: (1_400, 1_514),
        in_frame_tag: Some(7),
        ..load(N)
    }
}

/// A stack that tags in software puts the 802.1Q tag in the frame: a tagged frame of 1518 bytes
/// carries 1500 bytes after its tag, which fits an MTU of 1500. The team sends each such frame
/// on either member, as it would untagged; none fails for its length.
fn check_tagged(o: &Outcome) {
    assert_all_delivered(&o.origin, N);
    assert!(o.wires.iter().all(|&w| w > N / 4), "spread: {:?}", o.wires);
    assert!(
        o.largest.iter().all(|&l| l > 1_514 && l <= 1_518),
        "largest {:?}",
        o.largest
    );
}

#[test]
fn frames_with_an_in_frame_vlan_tag_fit_the_mtu_after_their_tag() {
    check_tagged(&run_on(&team(), &tagged_frames(), DriverImage::Host));
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_frames_with_an_in_frame_vlan_tag_fit_the_mtu_after_their_tag() {
    check_tagged(&run_sys(team(), tagged_frames()));
}

/// `NDIS_STATUS_FAILURE`.
const FAILURE: i32 = 0xC000_0001_u32.cast_signed();

/// Equal members whose MTU (1500) is below the large sends the protocol makes (LSO 1900), kept
/// in service whatever their send errors (`SendErrorThreshold` 0).
fn lso_team() -> Vec<AdapterConfig> {
    (0..2)
        .map(|i| {
            member(i, 0)
                .with_limits(1500, 1900)
                .with_param("SendErrorThreshold", RegValue::Dword(0))
        })
        .collect()
}

/// Each miniport fails a run of sends (member 1's are clones of adapter 0's NBLs, member 0's
/// its own NBLs sent as they are) and overwrites each large send's request with its completion
/// write-back, as miniports do whatever the status. The team sends them again as the large
/// sends they were — never as frames beyond the MTU (`send.beyond-adapter-limits`) — and the
/// protocol gets the write-back of the send that finished (the hand-back check).
fn check_large_sends_sent_again(o: &Outcome) {
    assert_all_delivered(&o.origin, N);
    assert!(
        o.largest.iter().all(|&l| l > 1_514),
        "largest {:?}",
        o.largest
    );
    // Every NBL the miniports took was a large send: each of the N once, and the 80 failed
    // ones once more.
    assert_eq!(
        o.large_sends.iter().sum::<u64>(),
        N + 2 * 40,
        "{:?}",
        o.large_sends
    );
}

fn failing_runs() -> [(usize, u64, Fault); 2] {
    let fail = Fault::ErrorCompletions {
        status: FAILURE,
        count: 40,
    };
    [(1, 200_000, fail), (0, 600_000, fail)]
}

#[test]
fn a_large_send_a_path_failed_goes_out_again_as_a_large_send() {
    let o = run_faulted(
        &lso_team(),
        &big_frames(536),
        DriverImage::Host,
        &failing_runs(),
    );
    check_large_sends_sent_again(&o);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_a_large_send_a_path_failed_goes_out_again_as_a_large_send() {
    let o = common::on_sys(move |image| {
        run_faulted(&lso_team(), &big_frames(536), image, &failing_runs())
    });
    check_large_sends_sent_again(&o);
}

/// `NDIS_STATUS_INVALID_LENGTH`.
const INVALID_LENGTH: i32 = 0xC001_0014_u32.cast_signed();

/// Member 0 (the large one) loses its link mid-transfer: what member 1 can carry moves there;
/// what it cannot has no capable path and completes with NDIS_STATUS_INVALID_LENGTH — never
/// sent beyond member 1's limits, never lost silently.
fn check_no_capable_path(o: &Outcome) {
    let r = &o.origin;
    let failed = r.completed_with(INVALID_LENGTH);
    assert!(failed > 0, "{r:?}");
    assert_eq!(r.completed_ok + failed, N, "{r:?}");
    // Every NBL completed OK arrived; the undelivered ones are exactly those completed with the
    // error (the protocol knows of each).
    assert_eq!(r.delivered, r.completed_ok, "{r:?}");
    assert_eq!(
        (r.lost, r.duplicates, r.silently_lost),
        (failed, 0, 0),
        "{r:?}"
    );
    assert!(o.largest[1] <= 1_514, "largest {:?}", o.largest);
}

const LINK_DOWN_AT: u64 = 300_000;

#[test]
fn with_the_large_member_down_what_no_member_can_carry_fails_with_invalid_length() {
    let faults = [(0, LINK_DOWN_AT, Fault::LinkDown)];
    let o = run_faulted(&unequal(), &big_frames(0), DriverImage::Host, &faults);
    check_no_capable_path(&o);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_with_the_large_member_down_what_no_member_can_carry_fails_with_invalid_length() {
    let o = common::on_sys(move |image| {
        let faults = [(0, LINK_DOWN_AT, Fault::LinkDown)];
        run_faulted(&unequal(), &big_frames(0), image, &faults)
    });
    check_no_capable_path(&o);
}

/// The small member (1500/1000) attaches first, the large one (1900/1900) second: the large
/// member presents its protocol what every member can carry — MTU 1500 at restart, LSO 1000 at
/// bind — so its protocol builds nothing a member cannot take: large sends spread over both
/// paths, none fails, and neither miniport gets anything beyond its limits.
fn check_presented(o: &Outcome) {
    assert_eq!(
        o.views[1],
        (1500, 1000),
        "what the large member's protocol saw"
    );
    assert_eq!(
        o.views[0],
        (1500, 1000),
        "the small member presents its own"
    );
    assert_all_delivered(&o.origin, N);
    assert!(o.wires.iter().all(|&w| w > N / 4), "spread: {:?}", o.wires);
    assert!(
        o.largest.iter().all(|&l| l <= 1_014),
        "largest {:?}",
        o.largest
    );
    assert_eq!(o.large_sends, o.wires);
}

fn small_first() -> Vec<AdapterConfig> {
    vec![
        member(0, 0).with_limits(1500, 1000),
        member(1, 0).with_limits(1900, 1900),
    ]
}

#[test]
fn a_member_presents_its_protocol_the_limits_every_member_can_carry() {
    check_presented(&run_from(
        1,
        &small_first(),
        &big_frames(536),
        DriverImage::Host,
    ));
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_a_member_presents_its_protocol_the_limits_every_member_can_carry() {
    let o = common::on_sys(move |image| run_from(1, &small_first(), &big_frames(536), image));
    check_presented(&o);
}

/// The large member's miniport reports a new offload configuration (LSO up to 1800) mid-run: the
/// filter passes it up narrowed to the group's 1000 (a narrowing of what the miniport raised, as
/// the emulator checks), so its protocol keeps building what every member can carry.
fn check_current_config_narrowed(o: &Outcome) {
    assert_eq!(
        o.views[1],
        (1500, 1000),
        "what the large member's protocol saw last"
    );
    // Narrowed on its way up, not corrected afterwards: the protocol never saw the 1800.
    assert_eq!(
        o.lso_widest[1], 1000,
        "the widest limit the protocol was shown"
    );
    assert_all_delivered(&o.origin, N);
    assert!(
        o.largest.iter().all(|&l| l <= 1_014),
        "largest {:?}",
        o.largest
    );
}

const OFFLOAD_CHANGE_AT: u64 = 200_000;

#[test]
fn a_members_new_offload_configuration_goes_up_narrowed_to_the_group() {
    let faults = [(1, OFFLOAD_CHANGE_AT, Fault::OffloadChange(1800))];
    let o = run_full(
        1,
        &small_first(),
        &big_frames(536),
        DriverImage::Host,
        &faults,
    );
    check_current_config_narrowed(&o);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_a_members_new_offload_configuration_goes_up_narrowed_to_the_group() {
    let o = common::on_sys(move |image| {
        let faults = [(1, OFFLOAD_CHANGE_AT, Fault::OffloadChange(1800))];
        run_full(1, &small_first(), &big_frames(536), image, &faults)
    });
    check_current_config_narrowed(&o);
}

/// The large member binds first (its protocol is shown LSO 1900), the small one joins later: the
/// team tells the large member's protocol the group's LSO limit (1000) with a current-config
/// indication of its own. Its MTU stays 1900 until its next restart (a restart would take the
/// path out of service); the per-NBL check keeps its larger frames on its own path meanwhile.
fn check_joined_later(o: &Outcome) {
    assert_eq!(
        o.views[0],
        (1900, 1000),
        "what the first member's protocol saw last"
    );
    assert_all_delivered(&o.origin, N);
    assert!(o.largest[1] <= 1_514, "largest {:?}", o.largest);
    assert_eq!(o.large_sends, o.wires);
}

#[test]
fn a_smaller_member_joining_later_narrows_what_the_bound_members_present() {
    check_joined_later(&run_on(&unequal(), &big_frames(536), DriverImage::Host));
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_a_smaller_member_joining_later_narrows_what_the_bound_members_present() {
    check_joined_later(&run_sys(unequal(), big_frames(536)));
}

/// Member 1's miniport is an NDIS 6.0 one: its offload configuration is a revision-1
/// `NDIS_OFFLOAD`, which holds the LSOv2 limits too. The team reads them: large sends go to both
/// members (a member whose limits it could not read would get none).
fn check_revision_1_member(o: &Outcome) {
    assert_all_delivered(&o.origin, N);
    assert!(
        o.large_sends.iter().all(|&l| l > N / 4),
        "{:?}",
        o.large_sends
    );
    assert!(
        o.largest.iter().all(|&l| l > 1_514),
        "largest {:?}",
        o.largest
    );
}

fn revision_1_team() -> Vec<AdapterConfig> {
    let mut team = lso_team();
    team[1] = team[1].clone().with_offload_revision_1();
    team
}

#[test]
fn a_member_whose_miniport_reports_a_revision_1_offload_configuration_takes_large_sends() {
    check_revision_1_member(&run_on(
        &revision_1_team(),
        &big_frames(536),
        DriverImage::Host,
    ));
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_a_member_whose_miniport_reports_a_revision_1_offload_configuration_takes_large_sends() {
    check_revision_1_member(&run_sys(revision_1_team(), big_frames(536)));
}

/// The large member binds alone, its miniport reports a current configuration of `len` bytes
/// (a later revision's longer `NDIS_OFFLOAD`), then the small member joins: what the large
/// member's protocol is shown — the bytes of the filter's own narrowed indication, and its LSO
/// limit.
fn config_kept_then_narrowed(len: usize, image: &DriverImage) -> (u64, u32) {
    let mut emu = ndis_emu::Emulator::new(EmuConfig {
        seed: 3,
        ..EmuConfig::default()
    });
    emu.add_adapter(
        member(0, 0)
            .with_limits(1900, 1900)
            .with_offload_indication_len(len),
        idle(),
    );
    emu.add_adapter(member(1, 0).with_limits(1500, 1000), idle());
    let img = image.load().expect("image");
    emu.load(img.entry).expect("mpfilter loads");
    assert!(emu.start(0), "{:?}", emu.violations());
    emu.run_for(1_000_000);
    emu.schedule_fault(0, emu.now(), Fault::OffloadChange(1900));
    emu.run_for(1_000_000);
    assert_eq!(
        emu.stats(0).status_offload_len,
        len as u64,
        "passed up whole"
    );
    assert!(emu.start(1), "{:?}", emu.violations());
    emu.run_for(20_000_000);
    let seen = (emu.stats(0).status_offload_len, emu.protocol_view(0).1);
    common::finish(emu, img);
    seen
}

/// `MAX_OFFLOAD_COPY`: the longest configuration a member keeps to narrow again later.
const MAX_OFFLOAD_COPY: usize = 512;

/// A configuration of exactly the longest a member keeps is kept whole: the narrowing the
/// large member presents when the small one joins carries all its bytes (the emulator checks
/// they are the raised ones but for the LSO limits). One byte longer is not kept: the narrowing
/// is made from the attach-time configuration instead — the limit shown is the same.
fn check_config_kept(image: &DriverImage) {
    assert_eq!(
        config_kept_then_narrowed(MAX_OFFLOAD_COPY, image),
        (MAX_OFFLOAD_COPY as u64, 1000)
    );
    let attach_len = size_of::<mpfilter::ndis::types::NDIS_OFFLOAD>() as u64;
    assert_eq!(
        config_kept_then_narrowed(MAX_OFFLOAD_COPY + 1, image),
        (attach_len, 1000)
    );
}

#[test]
fn the_longest_configuration_a_member_keeps_is_narrowed_whole_when_a_smaller_member_joins() {
    check_config_kept(&DriverImage::Host);
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_the_longest_configuration_a_member_keeps_is_narrowed_whole_when_a_smaller_member_joins() {
    common::on_sys(|image| check_config_kept(&image));
}

/// `NDIS_PACKET_TYPE_*` bits a protocol's packet filter is made of.
mod packet_type {
    pub const DIRECTED: u32 = 0x01;
    pub const MULTICAST: u32 = 0x02;
    pub const ALL_MULTICAST: u32 = 0x04;
    pub const BROADCAST: u32 = 0x08;
    pub const PROMISCUOUS: u32 = 0x20;
    pub const ALL_LOCAL: u32 = 0x80;
}

/// Multicast addresses adapter 0's frames go to: the first two are in the lists the protocol
/// sets, the third never is.
const GROUP_A: [u8; 6] = [0x01, 0x00, 0x5E, 0x00, 0x00, 0x0A];
const GROUP_B: [u8; 6] = [0x01, 0x00, 0x5E, 0x00, 0x00, 0x0B];
const GROUP_C: [u8; 6] = [0x01, 0x00, 0x5E, 0x00, 0x00, 0x0C];

/// A multicast address none of adapter 0's frames goes to (list filler).
fn unused_group(i: usize) -> [u8; 6] {
    [0x01, 0x00, 0x5E, 0x00, 0x01, u8::try_from(i).unwrap()]
}

/// Adapter 0's frames spread over every kind of destination a packet filter tells apart:
/// broadcast, two multicast groups the protocol may join and one it never does, its own MAC,
/// and another station's.
fn mixed_destinations() -> Vec<[u8; 6]> {
    vec![
        [0xFF; 6],
        GROUP_A,
        GROUP_B,
        GROUP_C,
        AdapterConfig::numbered(0).mac,
        ndis_emu::frames::peer_mac(0),
    ]
}

/// Loopback traffic to [`mixed_destinations`] with `packet_filter` and, when given, a
/// multicast list.
fn mixed_load(packet_filter: u32, multicast_list: Option<Vec<[u8; 6]>>) -> TrafficConfig {
    TrafficConfig {
        destinations: mixed_destinations(),
        multicast_list,
        ..loopback_load(packet_filter)
    }
}

/// A run of `traffic` on a team and one without (NDIS loops back itself): per run, adapter
/// 0's protocol's loopback receipts (own frames once, duplicates, foreign) and the receipts its
/// receive filter calls for.
fn loopback_team_and_ndis(traffic: &TrafficConfig) -> [((u64, u64, u64), u64); 2] {
    let team = run_on(&team(), traffic, DriverImage::Host);
    let ndis = run_on(&[plain(0, 0), plain(1, 0)], traffic, DriverImage::Host);
    for o in [&team, &ndis] {
        assert_all_delivered(&o.origin, N);
        assert_eq!(
            o.loopback[1],
            (0, 0, 0),
            "adapter 1's protocol sent nothing"
        );
    }
    assert_eq!(
        team.flagged_below,
        vec![0, 0],
        "the team asks NDIS for no loopback"
    );
    [team, ndis].map(|o| (o.loopback[0], o.loopback_expected[0]))
}

/// Every packet filter bit, over broadcast, joined and unjoined multicast groups, the
/// protocol's own MAC and a stranger's: the team loops back exactly the frames the protocol's
/// receive filter accepts, each once — as NDIS does without a team — and each filter takes
/// some of the frames and leaves others, so that every branch of the filter is told apart.
#[test]
fn a_team_loops_back_what_ndis_would_for_every_kind_of_packet_filter() {
    use packet_type::{ALL_LOCAL, ALL_MULTICAST, BROADCAST, DIRECTED, MULTICAST, PROMISCUOUS};
    let joined = Some(vec![GROUP_A, GROUP_B]);
    let cases = [
        ("directed", DIRECTED, None),
        ("broadcast", BROADCAST, None),
        ("multicast list", MULTICAST, joined.clone()),
        ("all multicast", ALL_MULTICAST, None),
        (
            "all but promiscuous",
            DIRECTED | BROADCAST | MULTICAST,
            joined.clone(),
        ),
        (
            "a list without the multicast bit",
            DIRECTED | BROADCAST,
            joined,
        ),
        ("promiscuous", PROMISCUOUS, None),
        ("all local", ALL_LOCAL, None),
    ];
    for (name, bits, list) in cases {
        let everything = bits & (PROMISCUOUS | ALL_LOCAL) != 0;
        for (run, (receipts, expected)) in ["team", "ndis"]
            .into_iter()
            .zip(loopback_team_and_ndis(&mixed_load(bits, list.clone())))
        {
            assert_eq!(receipts, (expected, 0, 0), "{name} ({bits:#x}) on {run}");
            if everything {
                assert_eq!(expected, N, "{name}");
            } else {
                assert!(expected > 0 && expected < N, "{name}: {expected} of {N}");
            }
        }
    }
}

/// A list of exactly the filter's capacity is kept whole (group C, outside it, is not looped
/// back); a longer one makes the team loop back every multicast frame rather than miss one (the
/// module docs' choice), where NDIS loops back only the listed groups.
#[test]
fn a_multicast_list_at_and_beyond_the_filters_capacity() {
    use mpfilter::module::MAX_MULTICAST;
    use packet_type::MULTICAST;
    // Group A last, so that a list cut short loses it.
    let list_of = |n: usize| {
        let mut l: Vec<_> = (0..n - 1).map(unused_group).collect();
        l.push(GROUP_A);
        l
    };
    let [(team, expected), (ndis, ndis_expected)] =
        loopback_team_and_ndis(&mixed_load(MULTICAST, Some(list_of(MAX_MULTICAST))));
    assert_eq!(team, (expected, 0, 0), "a full list, on the team");
    assert_eq!(ndis, (ndis_expected, 0, 0), "a full list, NDIS");
    assert!(expected > 0);
    let [(team, expected), (ndis, ndis_expected)] =
        loopback_team_and_ndis(&mixed_load(MULTICAST, Some(list_of(MAX_MULTICAST + 1))));
    assert_eq!(ndis, (ndis_expected, 0, 0), "a long list, NDIS");
    assert!(expected > 0);
    assert!(
        team.0 > expected && team.0 < N && (team.1, team.2) == (0, 0),
        "a long list: the team loops back groups B and C too: {team:?}, {expected} expected"
    );
}

/// Two members alike but for member 1's IPv6 LSO limit (1000 against 1900).
fn unequal_v6() -> Vec<AdapterConfig> {
    vec![
        member(0, 0).with_limits(1900, 1900),
        member(1, 0).with_limits(1900, 1900).with_lso_v6(1000),
    ]
}

/// IPv6 large sends up to adapter 0's own limits, built for what it was bound with.
fn stale_ipv6_large_sends() -> TrafficConfig {
    TrafficConfig {
        ipv6: true,
        frame_len: (ndis_emu::frames::MIN_FLOW6_FRAME, 1914),
        ..stale_large_sends()
    }
}

/// An IPv6 large send is held to the IPv6 limit: member 1 takes those up to 1000 bytes, member
/// 0 the larger ones (the emulator's `send.beyond-adapter-limits` checks each against its
/// version's limit).
#[test]
fn ipv6_large_sends_above_a_members_ipv6_limit_never_go_to_that_member() {
    check_limits(
        &run_on(&unequal_v6(), &stale_ipv6_large_sends(), DriverImage::Host),
        true,
    );
}

#[test]
#[ignore = "needs mpfilter.sys: bash tools/build-sys.sh && cargo test -p ndis-emu --test team_services -- --ignored"]
fn sys_ipv6_large_sends_above_a_members_ipv6_limit_never_go_to_that_member() {
    check_limits(&run_sys(unequal_v6(), stale_ipv6_large_sends()), true);
}

/// Member 1, whose IPv6 limit alone is smaller, joins after member 0 bound: member 0's protocol
/// is told the group's IPv6 limit, and its IPv4 limit stays its own.
#[test]
fn a_member_smaller_only_for_ipv6_narrows_the_ipv6_limit_alone() {
    let traffic = TrafficConfig {
        ipv6: true,
        frame_len: (ndis_emu::frames::MIN_FLOW6_FRAME, 1914),
        ..big_frames(536)
    };
    let o = run_on(&unequal_v6(), &traffic, DriverImage::Host);
    assert_all_delivered(&o.origin, N);
    assert_eq!(o.lso6_views[0], 1000, "{:?}", o.lso6_views);
    assert_eq!(o.views[0], (1900, 1900));
    assert!(o.largest[1] <= 1_014, "largest {:?}", o.largest);
}

/// Member 1, whose IPv4 limit alone is smaller (1000 against 1900), joins after member 0 bound:
/// member 0's protocol is told the group's IPv4 limit, and its IPv6 limit stays its own.
#[test]
fn a_member_smaller_only_for_ipv4_narrows_the_ipv4_limit_alone() {
    let members = vec![
        member(0, 0).with_limits(1900, 1900),
        member(1, 0).with_limits(1900, 1000).with_lso_v6(1900),
    ];
    let o = run_on(&members, &big_frames(536), DriverImage::Host);
    assert_all_delivered(&o.origin, N);
    assert_eq!(o.views[0], (1900, 1000), "{:?}", o.views);
    assert_eq!(o.lso6_views[0], 1900, "{:?}", o.lso6_views);
    assert!(o.largest[1] <= 1_014, "largest {:?}", o.largest);
}

/// … while its IPv4 large sends are held to the IPv4 limit alone: member 1 carries them whole.
#[test]
fn ipv4_large_sends_are_held_to_the_ipv4_limit_alone() {
    let o = run_on(&unequal_v6(), &stale_large_sends(), DriverImage::Host);
    assert_all_delivered(&o.origin, N);
    assert!(o.largest[1] > 1_014, "largest {:?}", o.largest);
    assert_eq!(o.large_sends, o.wires);
}
