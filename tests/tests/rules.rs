//! One negative test per rule: the fault filter misbehaves in exactly one way and the emulator
//! must name the rule (as the first violation, which halts the run, or as a leak at detach or
//! unload). `docs/ndis-rules.md` lists these tests next to the rules.

use ndis_emu::fault_filter::{Fault, image};
use ndis_emu::scenario::{self, ScenarioReport, SmokeConfig};
use ndis_emu::{EmuConfig, Emulator, Rule, Subject};

fn run(fault: Fault) -> ScenarioReport {
    scenario::smoke(&SmokeConfig::default(), image(fault))
}

/// The first violation is `rule`, with a subject and the callback it happened in.
fn assert_violation(fault: Fault, rule: &str, callback: Option<&str>) {
    let r = run(fault);
    assert_eq!(r.first_rule(), Some(rule), "{fault:?}:\n{r}");
    assert!(!r.finished, "a violation halts the run");
    let v = &r.violations[0];
    if let Some(cb) = callback {
        assert!(
            v.callback.starts_with(cb),
            "{fault:?}: violation in {}, expected {cb}\n{r}",
            v.callback
        );
    }
    if let Subject::Nbl(a) | Subject::Handle(a) | Subject::Request(a) | Subject::Memory(a) =
        v.subject
    {
        assert_ne!(a, usize::MAX);
    }
}

/// No violation, and the leak report names `rule`.
fn assert_leak(fault: Fault, rule: &str) {
    let r = run(fault);
    assert!(r.violations.is_empty(), "{fault:?}:\n{r}");
    assert!(
        r.leaks.iter().any(|l| l.rule.name() == rule),
        "{fault:?}: no {rule} leak\n{r}"
    );
}

macro_rules! violation_tests {
    ($($name:ident: $fault:ident => $rule:literal in $cb:expr;)*) => {
        $(
            #[test]
            fn $name() {
                assert_violation(Fault::$fault, $rule, $cb);
            }
        )*
        const VIOLATION_CASES: &[(Fault, &str)] = &[$((Fault::$fault, $rule)),*];
    };
}

macro_rules! leak_tests {
    ($($name:ident: $fault:ident => $rule:literal;)*) => {
        $(
            #[test]
            fn $name() {
                assert_leak(Fault::$fault, $rule);
            }
        )*
        const LEAK_CASES: &[(Fault, &str)] = &[$((Fault::$fault, $rule)),*];
    };
}

violation_tests! {
    rule_driver_characteristics: BadCharacteristics => "driver.characteristics" in Some("DriverEntry");
    rule_device_attributes: DevicePnpHandler => "device.attributes" in Some("DriverEntry");
    rule_driver_characteristics_unique_name: BadUniqueName => "driver.characteristics" in Some("DriverEntry");
    rule_handle_invalid: BogusHandle => "handle.invalid" in Some("FilterSendNetBufferLists");
    rule_attach_no_set_attributes: SkipSetAttributes => "attach.no-set-attributes" in None;
    rule_config_bad_object: ConfigInstanceFlag => "config.bad-object" in Some("FilterAttach");
    rule_attach_set_attributes_outside_attach: SetAttributesOutsideAttach => "attach.set-attributes-outside-attach" in Some("FilterRestart");
    rule_state_send_not_running: SendWhileNotRunning => "state.send-not-running" in Some("FilterSendNetBufferLists");
    rule_state_indicate_not_running: IndicateWhileNotRunning => "state.indicate-not-running" in Some("FilterReceiveNetBufferLists");
    rule_send_paused_status: CompletePausedWithSuccess => "send.paused-status" in Some("FilterSendNetBufferLists");
    rule_send_paused_while_running: CompletePausedWhileRunning => "send.paused-while-running" in Some("FilterSendNetBufferLists");
    rule_pause_failed: PauseFails => "pause.failed" in None;
    rule_pause_outstanding_nbls: PauseSuccessWithOutstanding => "pause.outstanding-nbls" in None;
    rule_pause_complete_not_pending: PauseCompleteWhenNotPending => "pause.complete-not-pending" in Some("FilterRestart");
    rule_pause_never_completed: PauseNeverCompletes => "pause.never-completed" in None;
    rule_restart_complete_not_pending: RestartCompleteWhenNotPending => "restart.complete-not-pending" in None;
    rule_restart_never_completed: RestartNeverCompletes => "restart.never-completed" in None;
    rule_irql_dispatch_flag_mismatch: DispatchFlagMismatch => "irql.dispatch-flag-mismatch" in Some("FilterSendNetBufferLists");
    rule_irql_passive_only: PassiveOnlyAtDispatch => "irql.passive-only" in Some("FilterSendNetBufferListsComplete");
    rule_send_complete_twice: CompleteTwice => "send.complete-twice" in Some("FilterSendNetBufferListsComplete");
    rule_send_complete_wrong_module: CompleteOnWrongModule => "send.complete-wrong-module" in Some("FilterSendNetBufferListsComplete");
    rule_send_complete_own_nbl: CompleteOwnNbl => "send.complete-own-nbl" in Some("FilterSendNetBufferLists");
    rule_send_complete_not_owned: CompleteWhileBelow => "send.complete-not-owned" in Some("FilterSendNetBufferLists");
    rule_send_not_owned: SendTwice => "send.not-owned" in Some("FilterSendNetBufferLists");
    rule_send_touched_while_pending: TouchWhileBelow => "send.touched-while-pending" in None;
    rule_nbl_unknown: SendUnknownNbl => "nbl.unknown" in Some("FilterSendNetBufferLists");
    rule_nbl_source_handle_modified: ChangeSourceHandle => "nbl.source-handle-modified" in Some("FilterSendNetBufferLists");
    rule_nbl_source_handle_not_filter: OwnNblWithoutSourceHandle => "nbl.source-handle-not-filter" in Some("FilterSendNetBufferLists");
    rule_nbl_modified_on_handback: ModifyBeforeHandback => "nbl.modified-on-handback" in Some("FilterSendNetBufferListsComplete");
    rule_nbl_data_written: WriteDataBeforeHandback => "nbl.data-written" in Some("FilterSendNetBufferListsComplete");
    rule_nbl_context_not_restored: LeaveContextPushed => "nbl.context-not-restored" in Some("FilterSendNetBufferListsComplete");
    rule_recv_count_mismatch: WrongNblCount => "recv.count-mismatch" in Some("FilterReceiveNetBufferLists");
    rule_recv_return_resources: ReturnResourcesNbl => "recv.return-resources" in Some("FilterReceiveNetBufferLists");
    rule_recv_resources_chain_not_restored: BreakResourcesChain => "recv.resources-chain-not-restored" in None;
    rule_recv_resources_indicated_without_flag: IndicateResourcesWithoutFlag => "recv.resources-indicated-without-flag" in Some("FilterReceiveNetBufferLists");
    rule_recv_return_twice: ReturnTwice => "recv.return-twice" in Some("FilterReturnNetBufferLists");
    rule_recv_return_wrong_module: ReturnOnWrongModule => "recv.return-wrong-module" in Some("FilterReturnNetBufferLists");
    rule_recv_return_not_owned: ReturnWhileIndicated => "recv.return-not-owned" in Some("FilterReceiveNetBufferLists");
    rule_recv_indicate_not_owned: IndicateTwice => "recv.indicate-not-owned" in Some("FilterReceiveNetBufferLists");
    rule_recv_touched_while_indicated: TouchWhileIndicated => "recv.touched-while-indicated" in None;
    rule_oid_original_forwarded: ForwardOriginalOid => "oid.original-forwarded" in Some("FilterOidRequest");
    rule_oid_complete_twice: CompleteOidTwice => "oid.complete-twice" in Some("FilterOidRequestComplete");
    rule_oid_complete_not_pending: CompleteSyncOid => "oid.complete-not-pending" in None;
    rule_oid_complete_own_request: CompleteCloneUpward => "oid.complete-own-request" in Some("FilterOidRequestComplete");
    rule_oid_complete_wrong_module: CompleteOidOnWrongModule => "oid.complete-wrong-module" in Some("FilterOidRequestComplete");
    rule_oid_clone_free_invalid: FreeOidCloneWhileBelow => "oid.clone-free-invalid" in Some("FilterOidRequest");
    rule_oid_bad_state: OidInAttach => "oid.bad-state" in Some("FilterAttach");
    rule_status_bad_state: StatusInAttach => "status.bad-state" in Some("FilterAttach");
    rule_status_source_handle: StatusWithWrongSource => "status.source-handle" in Some("FilterRestart");
    rule_clone_free_flags_mismatch: CloneFreeFlagsMismatch => "clone.free-flags-mismatch" in Some("FilterSendNetBufferLists");
    rule_clone_parent_completed_with_children: CompleteParentWithLiveClone => "clone.parent-completed-with-children" in Some("FilterSendNetBufferLists");
    rule_clone_parent_passed_on: SendParentWithLiveClone => "clone.parent-passed-on" in Some("FilterSendNetBufferLists");
    rule_send_beyond_adapter_limits: SendLargeSendUnsupported => "send.beyond-adapter-limits" in Some("FilterSendNetBufferLists");
    rule_clone_free_not_clone: FreeCloneWithFreeNbl => "clone.free-not-clone" in Some("FilterSendNetBufferLists");
    rule_nbl_free_invalid: FreeNblWhileBelow => "nbl.free-invalid" in Some("FilterSendNetBufferLists");
    rule_clone_flags_reserved: CloneWithReservedFlag => "clone.flags-reserved" in Some("FilterSendNetBufferLists");
    rule_pool_free_with_outstanding: FreePoolWithOutstanding => "pool.free-with-outstanding" in Some("FilterDetach");
    rule_context_free_invalid: FreeContextNotAllocated => "context.free-invalid" in Some("FilterSendNetBufferLists");
    rule_memory_free_invalid: FreeMemoryTwice => "memory.free-invalid" in Some("FilterRestart");
    rule_forward_status_altered: AlterStatus => "forward.status-altered" in Some("FilterStatus");
    rule_forward_pnp_altered: AlterPnpPort => "forward.pnp-altered" in Some("FilterNetPnPEvent");
    rule_forward_pnp_altered_answer: ReplacePnpAnswer => "forward.pnp-altered" in None;
    rule_forward_port_altered: AlterSendPort => "forward.port-altered" in Some("FilterSendNetBufferLists");
    rule_forward_port_altered_receive: AlterReceivePort => "forward.port-altered" in Some("FilterReceiveNetBufferLists");
    rule_oid_answer_altered: AlterOidAnswer => "oid.answer-altered" in None;
    rule_nbl_chain_cycle: LoopChain => "nbl.chain-cycle" in Some("FilterSendNetBufferLists");
    rule_nbl_chain_cycle_net_buffers: LoopNetBuffers => "nbl.chain-cycle" in None;
    rule_liveness_no_progress: SwallowSends => "liveness.no-progress" in None;
    rule_liveness_no_progress_receives: SwallowReceives => "liveness.no-progress" in None;
    rule_timer_characteristics: TimerBadCharacteristics => "timer.characteristics" in Some("FilterAttach");
    rule_timer_free_while_set: FreeTimerWhileSet => "timer.free-while-set" in Some("FilterRestart");
    rule_timer_cancel_periodic_at_dispatch: CancelPeriodicAtDispatch => "timer.cancel-periodic-at-dispatch" in Some("NetTimerCallback");
    rule_timer_set_at_detach: LeaveTimerSet => "timer.set-at-detach" in None;
    rule_spinlock_invalid: AcquireUnallocatedLock => "spinlock.invalid" in Some("FilterRestart");
    rule_spinlock_release_not_held: ReleaseUnheldLock => "spinlock.release-not-held" in Some("FilterRestart");
    rule_spinlock_recursive_acquire: AcquireLockTwice => "spinlock.recursive-acquire" in Some("FilterRestart");
    rule_spinlock_dpr_below_dispatch: DprAcquireAtPassive => "spinlock.dpr-below-dispatch" in Some("FilterRestart");
    rule_spinlock_held_on_return: ReturnHoldingLock => "spinlock.held-on-return" in Some("FilterRestart");
    rule_etw_invalid: EtwUnregisterTwice => "etw.invalid" in None;
}

leak_tests! {
    rule_oid_never_completed: NeverCompleteOid => "oid.never-completed";
    rule_leak_pool: LeakPool => "leak.pool";
    rule_leak_nbl: LeakNbl => "leak.nbl";
    rule_leak_oid_clone: LeakOidClone => "leak.oid-clone";
    rule_leak_context: LeakContext => "leak.context";
    rule_leak_memory: LeakMemory => "leak.memory";
    rule_leak_device: LeakDevice => "leak.device";
    rule_leak_config: LeaveConfigOpen => "leak.config";
    rule_leak_registration: SkipDeregister => "leak.registration";
    rule_forward_status_dropped: DropStatus => "forward.status-dropped";
    rule_forward_pnp_dropped: DropNetPnp => "forward.pnp-dropped";
    rule_forward_pnp_dropped_device: DropDevicePnp => "forward.pnp-dropped";
    rule_forward_cancel_dropped: DropSendCancel => "forward.cancel-dropped";
    rule_forward_cancel_dropped_oid: DropOidCancel => "forward.cancel-dropped";
    rule_leak_timer: LeakTimer => "leak.timer";
    rule_leak_etw_provider: LeakEtwProvider => "leak.etw-provider";
}

/// An NBL that arrives while the module is Paused and is never completed is reported at detach.
/// (Held while Pausing, the pause gate would catch it first as `pause.outstanding-nbls`.)
#[test]
fn rule_leak_held_nbl() {
    let mut emu = Emulator::new(EmuConfig::default());
    let a = emu.add_adapter(
        ndis_emu::AdapterConfig::numbered(0),
        ndis_emu::TrafficConfig {
            tx_nbls: 50,
            rx_nbls: 50,
            ..Default::default()
        },
    );
    let img = image(Fault::HoldNblWhilePaused).load().expect("host image");
    emu.load(img.entry).expect("loads");
    assert!(emu.start(a));
    assert!(emu.run_until_idle());
    assert!(emu.pause(a), "{:?}", emu.violations());
    emu.probe_send(a);
    emu.stop(a);
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    let leaks = emu.leaks();
    assert!(
        leaks.iter().any(|l| l.rule == Rule::LeakHeldNbl),
        "{leaks:?}"
    );
}

/// A counter decremented twice (the fault filter counts each send completion twice, clamped at
/// zero as a saturating counter would be): in a debug build plain arithmetic would panic, in a
/// release build it would wrap or clamp silently. The emulator names it by rule in both, because
/// FilterPause comes while sends are still below and the early pause completion breaks the gate.
#[test]
fn rule_pause_outstanding_after_double_decrement() {
    let cfg = SmokeConfig {
        random: ndis_emu::Randomization {
            pause_with_sends_below_percent: 100,
            max_return_delay: 0,
            ..SmokeConfig::default().random
        },
        ..SmokeConfig::default()
    };
    let r = scenario::smoke(&cfg, image(Fault::DoubleDecrement));
    assert_eq!(r.first_rule(), Some("pause.outstanding-nbls"), "\n{r}");
    let clean = scenario::smoke(&cfg, image(Fault::None));
    assert!(
        clean.is_clean(),
        "the same run with a correct filter\n{clean}"
    );
    assert!(
        clean
            .adapters
            .iter()
            .any(|a| a.module.pauses_pending_sends_below > 0),
        "{clean}"
    );
}

/// The control device's cases: the fault filter's dispatch routine gets one IOCTL whose code
/// demands write access, on a read-only handle, with a 4-byte output buffer.
const DEVICE_CASES: &[(Fault, &str)] = &[
    (Fault::IrpNeverCompleted, "irp.not-completed"),
    (Fault::IrpCompletedTwice, "irp.completed-twice"),
    (Fault::IrpInformationOverrun, "irp.information-overrun"),
    (Fault::IrpIgnoresAccess, "irp.write-access"),
];

#[test]
fn every_irp_rule_is_caught_at_the_control_device() {
    for &(fault, rule) in DEVICE_CASES {
        let mut emu = Emulator::new(EmuConfig::default());
        emu.add_adapter(
            ndis_emu::AdapterConfig::numbered(0),
            ndis_emu::TrafficConfig::default(),
        );
        let img = image(fault).load().expect("fault filter");
        emu.load(img.entry).expect("loads");
        // CTL_CODE(FILE_DEVICE_PHYSICAL_NETCARD, 0x802, METHOD_BUFFERED, FILE_WRITE_ACCESS).
        let o = emu.device_ioctl(0x0017_A008, &[1, 2, 3], 4, false);
        assert!(o.is_some(), "{fault:?}: the device answers");
        let v = emu.violations();
        assert_eq!(
            v.first().map(|v| v.rule.name()),
            Some(rule),
            "{fault:?}: {v:?}"
        );
        assert!(matches!(v[0].subject, Subject::Request(_)), "{v:?}");
    }
    // The same request to a correct routine (mpfilter's) breaks no rule: tests/tests/control.rs.
}

/// A scenario on the fabric (`ndis_emu::fabric`) whose rules only apply there.
#[derive(Clone, Copy, Debug)]
enum FabricCase {
    /// Adapter 0 sends 50 flow frames to a peer that never talks (so the switch floods them to
    /// adapter 1, whose protocol is idle).
    Flooded,
    /// One idle adapter whose protocol issues 60 OIDs (reads of its packet filter among them).
    Oids,
    /// One adapter sending 10 flow frames.
    Sends,
    /// Two adapters configured for rewrite mode (`MacMode`), adapter 0 sending 20 flow frames.
    RewriteSends,
}

/// Runs `case` under the fault filter with `fault`; the violations.
fn fabric_run(fault: Fault, case: FabricCase) -> Vec<ndis_emu::Violation> {
    use ndis_emu::fabric::FabricConfig;
    use ndis_emu::{AdapterConfig, TrafficConfig};
    let mut fabric = FabricConfig::with_peers(1);
    fabric.peers[0].echoes = false;
    fabric.peers[0].answers_neighbors = false;
    let mut emu = Emulator::new(EmuConfig {
        fabric: Some(fabric),
        ..EmuConfig::default()
    });
    let idle = TrafficConfig {
        tx_nbls: 0,
        rx_nbls: 0,
        ..TrafficConfig::default()
    };
    let sending = |n| TrafficConfig {
        tx_nbls: n,
        flows: 4,
        ..idle.clone()
    };
    let traffic = match case {
        FabricCase::Flooded => vec![sending(50), idle.clone()],
        FabricCase::Oids => vec![idle.clone()],
        FabricCase::Sends => vec![sending(10)],
        FabricCase::RewriteSends => vec![sending(20), idle.clone()],
    };
    let n = traffic.len();
    for (i, t) in traffic.into_iter().enumerate() {
        let mut a = AdapterConfig::numbered(u8::try_from(i).unwrap());
        if let FabricCase::RewriteSends = case {
            a = a.with_param("MacMode", ndis_emu::config::RegValue::Sz("rewrite".into()));
        }
        emu.add_adapter(a, t);
    }
    let img = image(fault).load().expect("fault filter");
    emu.load(img.entry).expect("loads");
    for a in 0..n {
        assert!(emu.start(a), "{fault:?}: {:?}", emu.violations());
    }
    if let FabricCase::Oids = case {
        emu.issue_oids(0, 60);
    }
    let idle_reached = emu.run_until_idle();
    let v = emu.violations();
    if v.is_empty() {
        assert!(idle_reached, "{fault:?} {case:?}: the run went idle");
        for a in 0..n {
            emu.stop(a);
        }
        emu.unload();
        assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    }
    drop(emu);
    drop(img);
    v
}

macro_rules! fabric_tests {
    ($($name:ident: $fault:ident in $case:ident => $rule:literal;)*) => {
        $(
            #[test]
            fn $name() {
                let v = fabric_run(Fault::$fault, FabricCase::$case);
                assert_eq!(v.first().map(|v| v.rule.name()), Some($rule), "{v:?}");
                // The same scenario with a correct filter breaks nothing.
                let v = fabric_run(Fault::None, FabricCase::$case);
                assert!(v.is_empty(), "{v:?}");
            }
        )*
        const FABRIC_CASES: &[(Fault, &str)] = &[$((Fault::$fault, $rule)),*];
    };
}

fabric_tests! {
    rule_recv_outside_protocol_filter: WidenPacketFilter in Flooded => "recv.outside-protocol-filter";
    rule_oid_packet_filter_altered: WidenPacketFilter in Oids => "oid.packet-filter-altered";
    rule_wire_source_mac: MulticastSourceMac in Sends => "wire.source-mac";
    rule_wire_source_mac_rewrite: RerouteClones in RewriteSends => "wire.source-mac";
}

#[test]
fn every_rule_has_a_negative_test() {
    let mut covered: Vec<&str> = VIOLATION_CASES
        .iter()
        .chain(LEAK_CASES)
        .chain(DEVICE_CASES)
        .chain(FABRIC_CASES)
        .map(|c| c.1)
        .collect();
    covered.push("leak.held-nbl");
    covered.push("liveness.callback-spins");
    for r in Rule::ALL {
        assert!(
            covered.contains(&r.name()),
            "no negative test for {}",
            r.name()
        );
    }
    for name in &covered {
        assert!(
            Rule::from_name(name).is_some(),
            "test names unknown rule {name}"
        );
    }
}

fn rules_doc() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/ndis-rules.md"
    ))
    .expect("docs/ndis-rules.md")
}

/// The cells of the rule's row in the docs table.
fn doc_row(doc: &str, rule: Rule) -> Vec<String> {
    let lead = format!("| `{}` |", rule.name());
    let line = doc
        .lines()
        .find(|l| l.starts_with(&lead))
        .unwrap_or_else(|| panic!("{} missing from docs/ndis-rules.md", rule.name()));
    line.trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn every_rule_is_documented() {
    let doc = rules_doc();
    for r in Rule::ALL {
        let row = doc_row(&doc, *r);
        assert_eq!(
            row.len(),
            5,
            "{}: rule, meaning, source, enforced in, test",
            r.name()
        );
        assert_eq!(row[1], r.meaning(), "{}: the table's meaning", r.name());
        assert_eq!(row[2], r.source(), "{}: the table's source", r.name());
    }
}

/// The "Enforced in" column cites `file::function` of the emulator (`tests/src/`): every cited
/// function exists in that file, and one of the cited files names the rule.
#[test]
fn every_enforcement_site_exists() {
    let doc = rules_doc();
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
    for r in Rule::ALL {
        let row = doc_row(&doc, *r);
        let sites: Vec<&str> = row[3].split(", ").map(|c| c.trim_matches('`')).collect();
        assert!(!sites.is_empty(), "{}: no enforcement site", r.name());
        let variant = format!("Rule::{r:?}");
        let mut named = false;
        for site in sites {
            let (file, func) = site
                .split_once("::")
                .unwrap_or_else(|| panic!("{}: `{site}` is not file::function", r.name()));
            let text = std::fs::read_to_string(format!("{src}{file}"))
                .unwrap_or_else(|e| panic!("{}: {file}: {e}", r.name()));
            assert!(
                text.contains(&format!("fn {func}(")) || text.contains(&format!("fn {func}<")),
                "{}: no fn {func} in tests/src/{file}",
                r.name()
            );
            named |= text.contains(&variant);
        }
        assert!(named, "{}: no cited file mentions {variant}", r.name());
    }
}

/// `liveness.callback-spins`: the run of a driver whose FilterRestart never returns ends, naming
/// the rule, instead of hanging. The end is a panic out of the driver's callback, which aborts the
/// process, so the run happens in a child process: this test binary again, told by an environment
/// variable to run the spinning driver.
#[test]
fn rule_liveness_callback_spins() {
    const CHILD: &str = "MPFILTER_SPIN_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let _ = run(Fault::SpinInCallback);
        unreachable!("the spinning callback ends the run");
    }
    let out = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "rule_liveness_callback_spins",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("the child runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("liveness.callback-spins in FilterRestart"),
        "{stderr}"
    );
}
