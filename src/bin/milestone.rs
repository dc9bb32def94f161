//! `milestone`: regenerates a domain's evaluation results.
//!
//! Today it runs one domain, `probe` (the probe summary). The gemm, ccl and
//! gqa sweeps of the design's milestones.md are not built yet: asked for
//! one, the binary says so on stderr and runs the probe summary instead.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kernbench::cli::{self, probe::ProbeArgs, CliError};
use kernbench_core::fabric::topology::Network;

/// Milestone domains users are promised (see shared design milestones.md).
const PLANNED: [&str; 4] = ["gemm", "ccl", "gqa", "all"];
/// Milestones this build can run.
const AVAILABLE: [&str; 1] = ["probe"];

#[derive(Parser)]
#[command(
    name = "milestone",
    version,
    about = "Regenerate the evaluation results of a domain"
)]
struct Args {
    /// Domain to evaluate: probe (available now); gemm, ccl, gqa, all (planned).
    domain: String,
    /// Machine description to simulate.
    #[arg(long, default_value = "topology.yaml")]
    topology: PathBuf,
    /// Network model: burst (the reference) or flow. Overrides `sim.network`
    /// of the topology.
    #[arg(long, value_name = "burst|flow")]
    network: Option<Network>,
}

fn run(args: Args) -> Result<String, CliError> {
    let domain = args.domain.as_str();
    if !AVAILABLE.contains(&domain) && !PLANNED.contains(&domain) {
        return Err(CliError::Usage(format!(
            "unknown milestone `{domain}` (available: {}; planned: {})",
            AVAILABLE.join(", "),
            PLANNED.join(", ")
        )));
    }
    if domain != "probe" {
        eprintln!(
            "milestone `{domain}` is not built yet; available: {}. Running the probe summary instead.",
            AVAILABLE.join(", ")
        );
    }
    let topo = cli::load_topology(&args.topology, args.network)?;
    let report = cli::probe::measure(&topo, &ProbeArgs::default())?;
    Ok(cli::probe::render(&report, false))
}

fn main() -> ExitCode {
    cli::finish(run(Args::parse()))
}
