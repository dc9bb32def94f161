//! `kernbench`: probe the machine, lower kernels, run benches.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kernbench::cli::{self, CliError};
use kernbench_core::fabric::topology::Network;

#[derive(Parser)]
#[command(
    name = "kernbench",
    version,
    about = "A fast, deterministic AI-accelerator simulator"
)]
struct Cli {
    /// Machine description to simulate.
    #[arg(long, global = true, default_value = "topology.yaml")]
    topology: PathBuf,
    /// Network model: burst (every burst on every hop, the reference) or
    /// flow (one fluid flow per transfer, far fewer events). Overrides
    /// `sim.network` of the topology.
    #[arg(long, global = true, value_name = "burst|flow")]
    network: Option<Network>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Latency and bandwidth of predefined transfers (host, local/remote HBM, other SIP).
    Probe(cli::probe::ProbeArgs),
    /// Run a registered bench on the simulated machine.
    Run(cli::run::RunArgs),
    /// List the registered benches and kernels.
    List,
    /// Print the command stream a kernel lowers to (program 0).
    Lower {
        /// Registered kernel name (e.g. matmul, ring_allreduce).
        kernel: String,
        /// Kernel parameter override, key=value (repeatable).
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
    },
}

fn run(cli: Cli) -> Result<String, CliError> {
    // Listing needs no machine; every other command loads the topology.
    let load = || cli::load_topology(&cli.topology, cli.network);
    match cli.command {
        Command::List => Ok(cli::run::list()),
        Command::Probe(args) => cli::probe::run(&load()?, &args),
        Command::Run(args) => {
            let (out, ok) = cli::run::run(&load()?, &args)?;
            if ok {
                Ok(out)
            } else {
                print!("{out}");
                Err(CliError::Failed(format!(
                    "bench {}: --check found a mismatch",
                    args.bench
                )))
            }
        }
        Command::Lower { kernel, params } => {
            cli::lower::run(&load()?, &kernel, &cli::parse_params(&params)?)
        }
    }
}

fn main() -> ExitCode {
    kernbench::files::remove_temporaries_on_signal();
    cli::finish(run(Cli::parse()))
}
