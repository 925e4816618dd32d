//! `mpsim` — runs mpfilter scenarios through the NDIS emulator and prints what flowed through each
//! adapter. Deterministic: the same seed gives the same run, to the event.
//!
//! `mpsim demo` is the README's main job: the pass-through scenario on two adapters, with a
//! pause/restart cycle and an OID storm in the middle, detach and unload at the end. `--sys PATH`
//! runs the same scenario against a cross-built `mpfilter.sys` loaded in-process.

mod scenario;

use clap::{Parser, Subcommand};
use ndis_emu::image::DriverImage;
use ndis_emu::scenario::{PassthroughConfig, passthrough};
use std::path::PathBuf;
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

#[derive(Subcommand)]
enum Command {
    /// The pass-through demo: two adapters, traffic both ways, pause/restart and an OID storm.
    Demo(RunArgs),
    /// Checks a scenario file (docs/scenarios.md) and prints what it describes.
    Check {
        /// The scenario (TOML).
        scenario: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Seed of the emulator's randomness (completion batching and order, OID completion mode, ...).
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

fn run(args: RunArgs) -> ExitCode {
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

fn check(path: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("mpsim: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    match scenario::Scenario::from_toml(&text) {
        Ok(s) => {
            println!("{}: valid", path.display());
            print!("{}", s.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mpsim: {}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo(args) => run(args),
        Command::Check { scenario } => check(&scenario),
    }
}
