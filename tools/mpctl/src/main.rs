//! `mpctl`: show mpfilter's path groups, fail and reinstate paths, read a module's counters.

use clap::{Parser, Subcommand};
use mpctl::client;
use mpctl::render;
use mpctl::transport::Transport;
use mpctl_proto::AdminAction;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Administers mpfilter through its control device (\\\\.\\MpFilter)"
)]
struct Cli {
    /// A simulator's control socket (`mpsim run --control SOCKET`) instead of the device.
    #[arg(long, global = true)]
    socket: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every path group and its paths: state, share, rates, in flight, last change and why.
    Show,
    /// One filter module's counters (by its IfIndex, as `show` lists it).
    Stats {
        /// The module's IfIndex.
        if_index: u32,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Takes a path out of service until reinstated.
    Fail {
        /// The path's module IfIndex.
        if_index: u32,
    },
    /// Returns a path to service (and approves a manual failback).
    Reinstate {
        /// The path's module IfIndex.
        if_index: u32,
    },
}

fn run(t: &mut impl Transport, command: &Command) -> Result<String, client::Error> {
    match *command {
        Command::Show => client::list(t).map(|g| render::show(&g)),
        Command::Stats { if_index, json } => client::stats(t, if_index).map(|m| {
            if json {
                render::stats_json(&m) + "\n"
            } else {
                render::stats_text(&m)
            }
        }),
        Command::Fail { if_index } => client::admin(t, if_index, AdminAction::Fail)
            .map(|()| format!("path {if_index} failed\n")),
        Command::Reinstate { if_index } => client::admin(t, if_index, AdminAction::Reinstate)
            .map(|()| format!("path {if_index} reinstated\n")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = open(&cli).and_then(|mut t| run(&mut t, &cli.command));
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mpctl: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(unix)]
fn open(cli: &Cli) -> Result<mpctl::transport::socket::SocketTransport, client::Error> {
    let Some(path) = &cli.socket else {
        return Err(client::Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no control device on this system: pass --socket of a running `mpsim run --control`",
        )));
    };
    mpctl::transport::socket::SocketTransport::connect(path).map_err(client::Error::Io)
}

#[cfg(windows)]
fn open(cli: &Cli) -> Result<mpctl::transport::device::DeviceTransport, client::Error> {
    let write = matches!(
        cli.command,
        Command::Fail { .. } | Command::Reinstate { .. }
    );
    mpctl::transport::device::DeviceTransport::open(write).map_err(client::Error::Io)
}
