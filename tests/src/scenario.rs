//! Library scenarios: the same run and the same report against any [`DriverImage`], used by the
//! integration tests and by `mpsim`.

use crate::config::{AdapterConfig, EmuConfig, Randomization, TrafficConfig};
use crate::emulator::Emulator;
use crate::image::{DriverImage, FilterStats};
use crate::rules::{Leak, Violation};
use crate::sched::Nanos;
use crate::stats::{AdapterStats, LifecycleStats};
use std::fmt;

/// The pass-through scenario: traffic both ways on every adapter, a pause/restart cycle and an
/// OID storm in the middle, detach and unload at the end.
#[derive(Clone, Debug)]
pub struct PassthroughConfig {
    /// The seed.
    pub seed: u64,
    /// Number of adapters (one stack each).
    pub adapters: usize,
    /// NBLs sent by each protocol, and delivered to each protocol.
    pub nbls_each_way: u64,
    /// OIDs each protocol issues in the storm.
    pub oid_storm: u32,
    /// Pause and restart every stack halfway through.
    pub pause_cycle: bool,
    /// Randomisation switches.
    pub random: Randomization,
    /// Chain lengths, frame sizes, windows and rates (the NBL counts are set from `nbls_each_way`).
    pub traffic: TrafficConfig,
}

impl Default for PassthroughConfig {
    fn default() -> Self {
        PassthroughConfig {
            seed: 1,
            adapters: 2,
            nbls_each_way: 10_000,
            oid_storm: 200,
            pause_cycle: true,
            random: Randomization::default(),
            traffic: TrafficConfig::default(),
        }
    }
}

/// One adapter's figures.
#[derive(Clone, Debug)]
pub struct AdapterReport {
    /// Adapter name.
    pub name: String,
    /// What flowed.
    pub stats: AdapterStats,
    /// The module's lifecycle.
    pub module: LifecycleStats,
    /// The filter's own counters for the module, read just before detach (images that expose
    /// them).
    pub filter: Option<FilterStats>,
}

/// What a scenario run did and found.
#[derive(Clone, Debug)]
pub struct ScenarioReport {
    /// Scenario name.
    pub scenario: &'static str,
    /// The driver image.
    pub image: String,
    /// The seed.
    pub seed: u64,
    /// Virtual time at the end.
    pub virtual_ns: Nanos,
    /// Per-adapter figures.
    pub adapters: Vec<AdapterReport>,
    /// Rule violations (a run halts at the first).
    pub violations: Vec<Violation>,
    /// Leaks found at detach and unload.
    pub leaks: Vec<Leak>,
    /// Why the driver did not load, if it did not.
    pub load_error: Option<String>,
    /// Whether every phase ran to its end (false after a halt or a hang).
    pub finished: bool,
    /// The filter's diagnostic events, in order (the host build's records, or the loaded `.sys`'s
    /// ETW TraceLogging events).
    pub diag: Vec<crate::diag::DiagRecord>,
    /// Diagnostic records the emulator refused (a filter bug: bad bytes or a foreign handle).
    pub diag_rejects: Vec<crate::diag::DiagReject>,
}

impl ScenarioReport {
    /// No load error, no violation, no leak, no refused diagnostic record, and the run finished.
    pub fn is_clean(&self) -> bool {
        self.load_error.is_none()
            && self.violations.is_empty()
            && self.leaks.is_empty()
            && self.diag_rejects.is_empty()
            && self.finished
    }

    /// The first violation's rule name, if any.
    pub fn first_rule(&self) -> Option<&'static str> {
        self.violations.first().map(|v| v.rule.name())
    }
}

/// A report row: label and how to read it from an adapter's figures.
type Row = (&'static str, fn(&AdapterReport) -> String);

/// The rows of the per-adapter table.
const ADAPTER_ROWS: &[Row] = &[
    ("tx NBLs sent by protocol", |a| a.stats.tx_sent.to_string()),
    ("tx bytes sent by protocol", |a| {
        a.stats.tx_sent_bytes.to_string()
    }),
    ("tx NBLs completed to protocol", |a| {
        a.stats.tx_completed.to_string()
    }),
    ("tx completed with SUCCESS", |a| {
        a.stats.tx_completed_ok.to_string()
    }),
    ("tx cancels / NBLs aborted", |a| {
        format!("{} / {}", a.stats.tx_cancels, a.stats.tx_completed_aborted)
    }),
    ("tx frames on the wire", |a| {
        a.stats.wire_tx_frames.to_string()
    }),
    ("tx bad frames on the wire", |a| {
        a.stats.wire_tx_bad.to_string()
    }),
    ("pause probes sent / PAUSED", |a| {
        format!("{} / {}", a.stats.probes_sent, a.stats.probes_paused)
    }),
    ("chains sent / completed", |a| {
        format!("{} / {}", a.stats.chains_sent, a.stats.chains_completed)
    }),
    ("chains indicated / returned", |a| {
        format!("{} / {}", a.stats.chains_indicated, a.stats.chains_returned)
    }),
    ("chains on ports other than 0", |a| {
        a.stats.chains_on_other_ports.to_string()
    }),
    ("rx NBLs indicated by miniport", |a| {
        a.stats.rx_indicated.to_string()
    }),
    ("rx of those with RESOURCES", |a| {
        a.stats.rx_indicated_resources.to_string()
    }),
    ("rx NBLs received by protocol", |a| {
        a.stats.rx_received.to_string()
    }),
    ("rx bytes received by protocol", |a| {
        a.stats.rx_received_bytes.to_string()
    }),
    ("rx bad frames at protocol", |a| a.stats.rx_bad.to_string()),
    ("rx NBLs returned to miniport", |a| {
        a.stats.rx_reclaimed.to_string()
    }),
    ("OIDs issued", |a| a.stats.oids_issued.to_string()),
    ("OIDs completed sync", |a| {
        a.stats.oids_completed_sync.to_string()
    }),
    ("OIDs completed pending", |a| {
        a.stats.oids_completed_pending.to_string()
    }),
    ("OIDs failed (expected ones too)", |a| {
        a.stats.oids_failed.to_string()
    }),
    ("OIDs cancelled", |a| a.stats.oid_cancels.to_string()),
    ("OIDs with a wrong answer", |a| {
        a.stats.oids_bad_answer.to_string()
    }),
    ("miniport OIDs sync / pending", |a| {
        format!("{} / {}", a.stats.mp_oids_sync, a.stats.mp_oids_pending)
    }),
    ("status indications to protocol", |a| {
        a.stats.status_indications.to_string()
    }),
    ("pauses / pended", |a| {
        format!("{} / {}", a.module.pauses, a.module.pauses_pending)
    }),
    ("pauses pended with sends below", |a| {
        a.module.pauses_pending_sends_below.to_string()
    }),
    ("PnP events to miniport", |a| a.stats.pnp_events.to_string()),
    ("restarts / pended", |a| {
        format!("{} / {}", a.module.restarts, a.module.restarts_pending)
    }),
    ("attaches / detaches", |a| {
        format!("{} / {}", a.module.attaches, a.module.detaches)
    }),
];

/// A row of the filter's own counters.
type FRow = (&'static str, fn(&FilterStats) -> u64);

/// Nanoseconds shown as milliseconds with three decimals, in integer arithmetic.
struct Millis(Nanos);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:03} ms",
            self.0 / 1_000_000,
            self.0 % 1_000_000 / 1_000
        )
    }
}

impl ScenarioReport {
    fn fmt_filter_rows(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.adapters.iter().any(|a| a.filter.is_some()) {
            return Ok(());
        }
        {
            let frows: &[FRow] = &[
                ("filter: sends forwarded", |s| s.send_nbls_forwarded),
                ("filter: sends completed up", |s| s.send_nbls_completed),
                ("filter: sends rejected (paused)", |s| {
                    s.send_nbls_rejected_paused
                }),
                ("filter: receives indicated", |s| s.receive_nbls_indicated),
                ("filter: receives returned", |s| s.receive_nbls_returned),
                ("filter: receives dropped (paused)", |s| {
                    s.receive_nbls_rejected_paused
                }),
                ("filter: OIDs forwarded", |s| s.oids_forwarded),
                ("filter: OIDs completed pending", |s| {
                    s.oids_completed_pending
                }),
                ("filter: status indications", |s| s.status_indications),
                ("filter: pauses / pended", |s| {
                    s.pauses * 1000 + s.pauses_pended
                }),
                ("filter: protocol errors", |s| s.protocol_errors),
            ];
            for (label, get) in frows {
                write!(f, "{label:<34}")?;
                for a in &self.adapters {
                    let cell = match &a.filter {
                        Some(s) if label.contains(" / ") => {
                            let v = get(s);
                            format!("{} / {}", v / 1000, v % 1000)
                        }
                        Some(s) => get(s).to_string(),
                        None => "-".to_string(),
                    };
                    write!(f, " {cell:>18}")?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scenario {} | image {} | seed {} | virtual time {} | {}",
            self.scenario,
            self.image,
            self.seed,
            Millis(self.virtual_ns),
            if self.is_clean() {
                "CLEAN"
            } else {
                "NOT CLEAN"
            }
        )?;
        if let Some(e) = &self.load_error {
            writeln!(f, "load error: {e}")?;
        }
        let rows = ADAPTER_ROWS;
        write!(f, "{:<34}", "")?;
        for a in &self.adapters {
            write!(f, " {:>18}", a.name)?;
        }
        writeln!(f)?;
        for (label, get) in rows {
            write!(f, "{label:<34}")?;
            for a in &self.adapters {
                write!(f, " {:>18}", get(a))?;
            }
            writeln!(f)?;
        }
        self.fmt_filter_rows(f)?;
        writeln!(f, "violations: {}", self.violations.len())?;
        for v in &self.violations {
            writeln!(f, "  {v}")?;
        }
        writeln!(f, "leaks: {}", self.leaks.len())?;
        for l in &self.leaks {
            writeln!(f, "  {l}")?;
        }
        // Only when there are any, so that reports of clean runs read as before.
        for r in &self.diag_rejects {
            writeln!(
                f,
                "diagnostic record refused at {} ns: {:?}",
                r.at, r.reason
            )?;
        }
        Ok(())
    }
}

fn report(
    emu: &Emulator,
    scenario: &'static str,
    image: &DriverImage,
    seed: u64,
    finished: bool,
    load_error: Option<String>,
) -> ScenarioReport {
    let adapters = (0..emu.adapter_count())
        .map(|a| AdapterReport {
            name: format!("adapter {a}"),
            stats: emu.stats(a),
            module: emu.lifecycle_stats(a),
            filter: None,
        })
        .collect();
    ScenarioReport {
        scenario,
        image: image.name(),
        seed,
        virtual_ns: emu.now(),
        adapters,
        violations: emu.violations(),
        leaks: emu.leaks(),
        load_error,
        finished: finished && !emu.halted(),
        diag: emu.diag_events(),
        diag_rejects: emu.diag_rejects(),
    }
}

/// The filter's own counters for an attached module, if the image exposes them.
fn module_filter_stats(emu: &Emulator, image: &DriverImage, a: usize) -> Option<FilterStats> {
    if emu.module_state(a) == crate::world::ModState::Detached {
        return None;
    }
    let ctx = emu.module_context(a);
    if ctx == 0 {
        return None;
    }
    // SAFETY: ctx is the context of a module that is still attached; the emulator (and so the
    // driver) runs on this thread only.
    unsafe { image.filter_stats(ctx) }
}

/// Loads `image` into a fresh emulator with `adapters` adapters; `Err` carries the report of a
/// failed load.
fn boot(
    cfg: EmuConfig,
    adapters: usize,
    traffic: &TrafficConfig,
    image: &DriverImage,
    scenario: &'static str,
) -> (
    Emulator,
    Result<Option<Box<dyn std::any::Any>>, ScenarioReport>,
) {
    let seed = cfg.seed;
    let mut emu = Emulator::new(cfg);
    for i in 0..adapters {
        emu.add_adapter(
            AdapterConfig::numbered(u8::try_from(i).unwrap_or(u8::MAX)),
            traffic.clone(),
        );
    }
    let loaded = match image.load() {
        Ok(l) => l,
        Err(e) => {
            let r = report(&emu, scenario, image, seed, false, Some(e));
            return (emu, Err(r));
        }
    };
    if let Err(e) = emu.load(loaded.entry) {
        let r = report(&emu, scenario, image, seed, false, Some(e.to_string()));
        return (emu, Err(r));
    }
    (emu, Ok(loaded.keep_alive))
}

/// Runs the pass-through scenario against `image`.
pub fn passthrough(cfg: &PassthroughConfig, image: DriverImage) -> ScenarioReport {
    const NAME: &str = "passthrough";
    let half = cfg.nbls_each_way / 2;
    let mut traffic = cfg.traffic.clone();
    traffic.tx_nbls = half;
    traffic.rx_nbls = half;
    let ecfg = EmuConfig {
        seed: cfg.seed,
        random: cfg.random.clone(),
        ..EmuConfig::default()
    };
    let (mut emu, booted) = boot(ecfg, cfg.adapters, &traffic, &image, NAME);
    let _keep = match booted {
        Ok(k) => k,
        Err(r) => return r,
    };
    let n = cfg.adapters;
    let rest = cfg.nbls_each_way - half;
    let mut filter_stats = vec![None; n];
    let mut finished = (|| {
        for a in 0..n {
            if !emu.start(a) {
                return false;
            }
        }
        // A quarter of the traffic, then the OID storm starts and the rest of the traffic is
        // queued, so that the pause/restart cycle lands in the middle of both.
        let quarter = half / 2;
        if !emu.run_until(|v| {
            (0..n).all(|a| v.stats(a).tx_sent >= quarter && v.stats(a).rx_received >= quarter)
        }) {
            return false;
        }
        for a in 0..n {
            emu.issue_oids(a, cfg.oid_storm);
            emu.add_traffic(a, rest, rest);
        }
        if !emu.run_until(|v| {
            (0..n).all(|a| v.stats(a).tx_sent >= half && v.stats(a).rx_received >= half)
        }) {
            return false;
        }
        if cfg.pause_cycle {
            for a in 0..n {
                if !emu.pause(a) {
                    return false;
                }
            }
            for a in 0..n {
                if !emu.restart(a) {
                    return false;
                }
            }
        }
        emu.run_until_idle()
    })();
    // Detach and unload even after a hang (not after a violation): the leak report says what
    // the driver still held.
    if emu.halted() {
        finished = false;
    } else {
        for (a, slot) in filter_stats.iter_mut().enumerate() {
            *slot = module_filter_stats(&emu, &image, a);
            emu.stop(a);
        }
        emu.unload();
    }
    let mut r = report(&emu, NAME, &image, cfg.seed, finished, None);
    for (ar, fs) in r.adapters.iter_mut().zip(filter_stats) {
        ar.filter = fs;
    }
    r
}

/// A short lifecycle-only run (attach, traffic, pause/restart, detach, unload) used by the rule
/// tests: small, so that each broken behaviour shows up quickly.
#[derive(Clone, Debug)]
pub struct SmokeConfig {
    /// The seed.
    pub seed: u64,
    /// Adapters.
    pub adapters: usize,
    /// NBLs each way per adapter.
    pub nbls_each_way: u64,
    /// OIDs per adapter.
    pub oids: u32,
    /// Randomisation.
    pub random: Randomization,
}

impl Default for SmokeConfig {
    fn default() -> Self {
        SmokeConfig {
            seed: 7,
            adapters: 2,
            nbls_each_way: 300,
            oids: 20,
            // Some send and OID cancels, so that the cancel path is in every rule run.
            random: Randomization {
                send_cancel_percent: 10,
                oid_cancel_percent: 30,
                ..Randomization::default()
            },
        }
    }
}

/// Runs a small pass-through with a pause/restart and OIDs, then detach and unload.
pub fn smoke(cfg: &SmokeConfig, image: DriverImage) -> ScenarioReport {
    let p = PassthroughConfig {
        seed: cfg.seed,
        adapters: cfg.adapters,
        nbls_each_way: cfg.nbls_each_way,
        oid_storm: cfg.oids,
        pause_cycle: true,
        random: cfg.random.clone(),
        traffic: TrafficConfig {
            max_chain: 8,
            window: 64,
            ..TrafficConfig::default()
        },
    };
    let mut r = passthrough(&p, image);
    r.scenario = "smoke";
    r
}
