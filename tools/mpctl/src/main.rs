//! `mpctl`: show mpfilter's path groups, fail and reinstate paths, change a group's policy and
//! parameters or a path's weight / priority / quota, read and reset counters, install and
//! uninstall the filter (Windows).

use clap::{Parser, Subcommand};
use mpctl::client;
use mpctl::render;
use mpctl::transport::Transport;
use mpctl_proto::{AdminAction, ResetTarget};
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
    /// Changes a group's policy and group-wide parameters now (not persisted: the registry
    /// values apply again after a driver restart). Values as the registry keys take them.
    SetPolicy(SetPolicy),
    /// Changes one path's weight, priority or quota now (not persisted).
    SetPath(SetPath),
    /// Zeroes a group's path counters or a module's counters (in flight and gauges stay).
    ResetCounters {
        /// The group's GroupId.
        #[arg(required_unless_present = "module", conflicts_with = "module")]
        group: Option<u32>,
        /// A module's IfIndex instead of a group.
        #[arg(long, value_name = "IFINDEX")]
        module: Option<u32>,
    },
    /// Installs the filter's network component through INetCfg, as `netcfg -l INF -c s -i ID`
    /// does (Windows, as an administrator).
    Install {
        /// The package's INF, copied into the driver store first (as netcfg's `-l`); without it
        /// the component must already be in the store (`pnputil /add-driver`).
        #[arg(long)]
        inf: Option<std::path::PathBuf>,
        /// The component id the INF declares.
        #[arg(long, default_value = mpctl::install::COMPONENT_ID)]
        id: String,
    },
    /// Removes the filter's network component through INetCfg, as `netcfg -u ID` does.
    Uninstall {
        /// The component id the INF declares.
        #[arg(long, default_value = mpctl::install::COMPONENT_ID)]
        id: String,
    },
}

#[derive(clap::Args)]
struct SetPolicy {
    /// The group's GroupId.
    group: u32,
    /// failover | round-robin | weighted | lqd | least-blocks | hash | service-time | quota |
    /// speed-share (omit to change parameters only).
    policy: Option<String>,
    /// FlowletGapUs: a flow may change path after this idle gap (0 = per packet).
    #[arg(long, value_name = "US")]
    flowlet_gap_us: Option<u32>,
    /// Failback: immediate | manual | deferred:<ms>.
    #[arg(long)]
    failback: Option<String>,
    /// UpDelayMs.
    #[arg(long, value_name = "MS")]
    up_delay_ms: Option<u32>,
    /// DownDelayMs.
    #[arg(long, value_name = "MS")]
    down_delay_ms: Option<u32>,
    /// AllDown: fail | queue:<ms>.
    #[arg(long)]
    all_down: Option<String>,
    /// MaxOutstandingPerTarget (quota policy; 0 = unlimited).
    #[arg(long, value_name = "N")]
    max_outstanding_per_target: Option<u32>,
    /// SendErrorThreshold (0 = never).
    #[arg(long, value_name = "N")]
    send_error_threshold: Option<u32>,
    /// ProbeMissed: probe intervals missed in a row that fail a probed path.
    #[arg(long, value_name = "N")]
    probe_missed: Option<u32>,
}

impl SetPolicy {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let n = |v: Option<u32>| v.map(|v| v.to_string());
        [
            ("Policy", self.policy.clone()),
            ("FlowletGapUs", n(self.flowlet_gap_us)),
            ("Failback", self.failback.clone()),
            ("UpDelayMs", n(self.up_delay_ms)),
            ("DownDelayMs", n(self.down_delay_ms)),
            ("AllDown", self.all_down.clone()),
            (
                "MaxOutstandingPerTarget",
                n(self.max_outstanding_per_target),
            ),
            ("SendErrorThreshold", n(self.send_error_threshold)),
            ("ProbeMissed", n(self.probe_missed)),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
    }
}

#[derive(clap::Args)]
struct SetPath {
    /// The path's module IfIndex.
    if_index: u32,
    /// Weight (weighted: lowest wins; service-time: relative throughput).
    #[arg(long)]
    weight: Option<u32>,
    /// Priority (failover order: lowest preferred).
    #[arg(long)]
    priority: Option<u32>,
    /// QuotaBytes (quota policy: bytes per round).
    #[arg(long, value_name = "BYTES")]
    quota_bytes: Option<u32>,
}

impl SetPath {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("Weight", self.weight),
            ("Priority", self.priority),
            ("QuotaBytes", self.quota_bytes),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?.to_string())))
        .collect()
    }
}

fn run(t: &mut impl Transport, command: &Command) -> Result<String, client::Error> {
    match command {
        Command::SetPolicy(a) => {
            let pairs = a.pairs();
            client::set_group(t, a.group, client::settings(&pairs)?)
                .map(|()| format!("group {}: {}\n", a.group, changed(&pairs)))
        }
        Command::SetPath(a) => {
            let pairs = a.pairs();
            client::set_path(t, a.if_index, client::settings(&pairs)?)
                .map(|()| format!("path {}: {}\n", a.if_index, changed(&pairs)))
        }
        Command::ResetCounters { group, module } => {
            let (target, what) = match (group, module) {
                (_, Some(m)) => (ResetTarget::Module(*m), format!("module {m}")),
                (Some(g), None) => (ResetTarget::Group(*g), format!("group {g}")),
                (None, None) => {
                    return Err(client::Error::Usage(
                        "give a GROUP or --module IFINDEX".into(),
                    ));
                }
            };
            client::reset(t, target).map(|()| format!("{what}: counters reset\n"))
        }
        Command::Install { .. } | Command::Uninstall { .. } => unreachable!("handled in main"),
        _ => run_read(t, command),
    }
}

fn changed(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_read(t: &mut impl Transport, command: &Command) -> Result<String, client::Error> {
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
        _ => Err(client::Error::Usage("not a device request".into())),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Install { inf, id } => mpctl::install::install(inf.as_deref(), id)
            .map(|o| o.to_string() + "\n")
            .map_err(|e| client::Error::Usage(e.to_string())),
        Command::Uninstall { id } => mpctl::install::uninstall(id)
            .map(|o| o.to_string() + "\n")
            .map_err(|e| client::Error::Usage(e.to_string())),
        _ => open(&cli).and_then(|mut t| run(&mut t, &cli.command)),
    };
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
    let write = !matches!(cli.command, Command::Show | Command::Stats { .. });
    mpctl::transport::device::DeviceTransport::open(write).map_err(client::Error::Io)
}
