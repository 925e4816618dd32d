//! `mpsim` — runs mpfilter scenarios through the NDIS emulator: a team of adapters, the real
//! filter (host build or a loaded `mpfilter.sys`), faults on a virtual clock, and a report of
//! what every path carried and how the filter failed over. Deterministic: the same scenario and
//! seed give the same run, to the event.
//!
//! `mpsim demo` is the README's main job (docs/scenarios.md has the commands and the report).

// Statistics over counts, bytes and virtual nanoseconds of runs far below 2^52: exact as f64.
#![allow(clippy::cast_precision_loss)]

mod demo;
mod progress;
mod report;
mod resources;
mod run;
mod scenario;

use clap::{Parser, Subcommand};
use ndis_emu::image::DriverImage;
use ndis_emu::scenario::{PassthroughConfig, passthrough};
use report::Report;
use scenario::Scenario;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mpsim",
    version,
    about = "Run mpfilter scenarios through the NDIS emulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Every policy, in the order `compare` runs them by default.
const POLICIES: &[&str] = &[
    "failover",
    "round-robin",
    "weighted",
    "lqd",
    "least-blocks",
    "hash",
    "service-time",
    "quota",
    "speed-share",
];

#[derive(Subcommand)]
enum Command {
    /// The built-in demo: 10G/10G/1G under speed-share, one 10G link fails and returns; writes
    /// demo.json and demo.svg in the current folder.
    Demo,
    /// Runs a scenario and prints its summary; exits non-zero on a rule violation, a leak or a
    /// lost NBL.
    Run {
        /// The scenario (TOML, docs/scenarios.md).
        scenario: PathBuf,
        /// Overrides the scenario's policy.
        #[arg(long)]
        policy: Option<String>,
        /// Overrides the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Writes the JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Writes the SVG plot (throughput per path, faults, transitions) here.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Loads this mpfilter.sys (PE image) instead of the host-linked filter.
        #[arg(long)]
        sys: Option<PathBuf>,
        /// Serves mpctl on this Unix socket between progress slices; if no client came during the
        /// run, it waits for one after the scenario's end, before it detaches.
        #[arg(long)]
        control: Option<PathBuf>,
    },
    /// Runs a scenario under several policies (same seed) and prints them side by side.
    Compare {
        /// The scenario (TOML).
        scenario: PathBuf,
        /// Comma-separated policies (default: all).
        #[arg(long, value_delimiter = ',')]
        policies: Vec<String>,
        /// Writes {"scenario": ..., "results": [...]} here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Loads this mpfilter.sys instead of the host-linked filter.
        #[arg(long)]
        sys: Option<PathBuf>,
    },
    /// Checks a scenario file and prints what it describes.
    Check {
        /// The scenario (TOML).
        scenario: PathBuf,
    },
    /// The pass-through run: two adapters, traffic both ways, pause/restart and an OID storm.
    Passthrough(PassthroughArgs),
}

#[derive(clap::Args)]
struct PassthroughArgs {
    /// Seed of the emulator's randomness.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Adapters, one filter module each.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=16))]
    adapters: u8,
    /// NBLs each way per adapter.
    #[arg(long, default_value_t = 20_000)]
    nbls: u64,
    /// OIDs each protocol issues during the storm.
    #[arg(long, default_value_t = 200)]
    oids: u32,
    /// Skip the pause/restart cycle.
    #[arg(long)]
    no_pause: bool,
    /// Load this mpfilter.sys (PE image) instead of the host-linked filter.
    #[arg(long)]
    sys: Option<PathBuf>,
}

fn passthrough_run(args: PassthroughArgs) -> ExitCode {
    let cfg = PassthroughConfig {
        seed: args.seed,
        adapters: usize::from(args.adapters),
        nbls_each_way: args.nbls,
        oid_storm: args.oids,
        pause_cycle: !args.no_pause,
        ..PassthroughConfig::default()
    };
    let image = match args.sys {
        // The scenario API takes a 'static path: the process lives exactly as long as the run.
        Some(path) => DriverImage::Pe(Box::leak(path.into_boxed_path())),
        None => DriverImage::Host,
    };
    let report = passthrough(&cfg, image);
    print!("{report}");
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Exit code of a scenario that could not be read or run.
const BAD_INPUT: u8 = 2;

fn load(path: &Path, err: &mut dyn Write) -> Result<Scenario, ExitCode> {
    let text = std::fs::read_to_string(path);
    let parsed = text
        .map_err(|e| e.to_string())
        .and_then(|t| Scenario::from_toml(&t).map_err(|e| e.to_string()));
    parsed.map_err(|e| {
        let _ = writeln!(err, "mpsim: {}: {e}", path.display());
        ExitCode::from(BAD_INPUT)
    })
}

fn check(path: &Path, err: &mut dyn Write) -> ExitCode {
    match load(path, err) {
        Ok(s) => {
            println!("{}: valid", path.display());
            print!("{}", s.summary());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// Runs one scenario with a progress indication; the report, or the exit code of a failure.
fn run_one(s: &Scenario, sys: Option<&PathBuf>, err: &mut dyn Write) -> Result<Report, ExitCode> {
    run_with(
        s,
        &run::Options {
            sys: sys.cloned(),
            control: None,
        },
        err,
    )
}

fn run_with(s: &Scenario, opts: &run::Options, err: &mut dyn Write) -> Result<Report, ExitCode> {
    let mut progress = progress::Progress::new(&format!("{} [{}]", s.name, s.policy));
    let m = run::run(s, opts, &mut |f| progress.set(f)).map_err(|e| {
        progress.finish();
        let _ = writeln!(err, "mpsim: {}: {e}", s.name);
        ExitCode::from(BAD_INPUT)
    })?;
    progress.finish();
    Ok(Report::new(&m))
}

fn write_svg(path: &Path, r: &Report, err: &mut dyn Write) -> Result<(), ExitCode> {
    let text = report::svg(r).map_err(|e| {
        let _ = writeln!(err, "mpsim: the plot: {e}");
        ExitCode::from(BAD_INPUT)
    })?;
    std::fs::write(path, text).map_err(|e| {
        let _ = writeln!(err, "mpsim: {}: {e}", path.display());
        ExitCode::from(BAD_INPUT)
    })
}

fn write_json(
    path: &Path,
    value: &impl serde::Serialize,
    err: &mut dyn Write,
) -> Result<(), ExitCode> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    std::fs::write(path, text + "\n").map_err(|e| {
        let _ = writeln!(err, "mpsim: {}: {e}", path.display());
        ExitCode::from(BAD_INPUT)
    })
}

fn verdict(clean: bool) -> ExitCode {
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Applies `--policy` / `--seed`, checking the policy as the scenario file's would be.
fn overridden(
    mut s: Scenario,
    policy: Option<String>,
    seed: Option<u64>,
    err: &mut dyn Write,
) -> Result<Scenario, ExitCode> {
    if let Some(p) = policy {
        s.policy = p;
    }
    if let Some(seed) = seed {
        s.seed = seed;
    }
    s.validate().map_err(|e| {
        let _ = writeln!(err, "mpsim: {e}");
        ExitCode::from(BAD_INPUT)
    })?;
    Ok(s)
}

fn run_cmd(
    path: &Path,
    policy: Option<String>,
    seed: Option<u64>,
    json: Option<&Path>,
    svg: Option<&Path>,
    opts: &run::Options,
    err: &mut dyn Write,
) -> Result<ExitCode, ExitCode> {
    let s = overridden(load(path, err)?, policy, seed, err)?;
    let cost = resources::Cost::start();
    let r = run_with(&s, opts, err)?;
    print!("{}{}", report::summary(&r), cost.line());
    if let Some(j) = json {
        write_json(j, &r, err)?;
    }
    if let Some(p) = svg {
        write_svg(p, &r, err)?;
    }
    Ok(verdict(r.is_clean()))
}

fn compare_cmd(
    path: &Path,
    policies: &[String],
    json: Option<&Path>,
    sys: Option<&PathBuf>,
    err: &mut dyn Write,
) -> Result<ExitCode, ExitCode> {
    let base = load(path, err)?;
    let policies: Vec<String> = if policies.is_empty() {
        POLICIES.iter().map(|p| (*p).to_owned()).collect()
    } else {
        policies.to_vec()
    };
    let mut reports = Vec::new();
    for p in policies {
        let s = overridden(base.clone(), Some(p), None, err)?;
        reports.push(run_one(&s, sys, err)?);
    }
    println!(
        "{} — seed {}, {} ms",
        base.name, base.seed, base.duration_ms
    );
    print!("{}", report::compare_table(&reports));
    if let Some(j) = json {
        write_json(
            j,
            &serde_json::json!({ "scenario": base.name, "results": reports }),
            err,
        )?;
    }
    Ok(verdict(reports.iter().all(Report::is_clean)))
}

fn demo_cmd(err: &mut dyn Write) -> Result<ExitCode, ExitCode> {
    let s = Scenario::from_toml(demo::SCENARIO).map_err(|e| {
        let _ = writeln!(err, "mpsim: the built-in demo: {e}");
        ExitCode::FAILURE
    })?;
    println!(
        "{} ms of virtual time: about 8 million NBLs through the filter and the emulator, about \
         half a minute (docs/performance.md).",
        s.duration_ms
    );
    let cost = resources::Cost::start();
    let r = run_one(&s, None, err)?;
    print!("{}{}", report::summary(&r), cost.line());
    write_json(Path::new("demo.json"), &r, err)?;
    write_svg(Path::new("demo.svg"), &r, err)?;
    println!("wrote demo.json and demo.svg");
    Ok(verdict(r.is_clean()))
}

/// Runs a parsed command line; errors about the input go to `err`.
fn execute(cli: Cli, err: &mut dyn Write) -> ExitCode {
    let out = match cli.command {
        Command::Demo => demo_cmd(err),
        Command::Run {
            scenario,
            policy,
            seed,
            json,
            svg,
            sys,
            control,
        } => run_cmd(
            &scenario,
            policy,
            seed,
            json.as_deref(),
            svg.as_deref(),
            &run::Options { sys, control },
            err,
        ),
        Command::Compare {
            scenario,
            policies,
            json,
            sys,
        } => compare_cmd(&scenario, &policies, json.as_deref(), sys.as_ref(), err),
        Command::Check { scenario } => Ok(check(&scenario, err)),
        Command::Passthrough(args) => Ok(passthrough_run(args)),
    };
    out.unwrap_or_else(|code| code)
}

fn main() -> ExitCode {
    execute(Cli::parse(), &mut std::io::stderr())
}

#[cfg(test)]
mod cli_tests;
