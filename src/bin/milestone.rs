//! `milestone`: regenerates a domain's evaluation results and figures.
//!
//! `milestone gemm` and `milestone ccl` run their whole sweep and write
//! JSON, CSV and PNG figures into `milestone_output/<domain>/`; `--shard
//! K/N` runs a part of a sweep and `milestone merge` joins the parts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use kernbench::cli::{self, probe::ProbeArgs, CliError};
use kernbench::milestone::{
    self, ccl::CclSweep, gemm, gemm::GemmSweep, Domain, Options, Progress, Shard, Written,
};
use kernbench_core::fabric::topology::Network;
use kernbench_core::Topology;

#[derive(Parser)]
#[command(
    name = "milestone",
    version,
    about = "Regenerate the evaluation results and figures of a domain",
    after_help = "Outputs go to OUT/<domain>/: JSON, CSV and PNG figures."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
    /// Machine description to simulate.
    #[arg(long, global = true, default_value = "topology.yaml")]
    topology: PathBuf,
    /// Network model: burst (the reference) or flow. Overrides `sim.network`
    /// of the topology.
    #[arg(long, global = true, value_name = "burst|flow")]
    network: Option<Network>,
    /// Output root; each domain writes into OUT/<domain>/.
    #[arg(
        long,
        global = true,
        value_name = "OUT",
        default_value = "milestone_output"
    )]
    out: PathBuf,
    /// Run every N-th point starting at K (1-based) and write a partial
    /// JSON for `milestone merge`.
    #[arg(long, global = true, value_name = "K/N")]
    shard: Option<Shard>,
    /// No progress bar (there is none either when stderr is not a terminal).
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// GEMM: 8 shapes x 3 operand stagings on one PE, and PE scaling.
    Gemm {
        /// Re-render the figures from the existing gemm_sweep.json only.
        #[arg(long)]
        fast: bool,
    },
    /// Ring all-reduce: ring kind x receive buffer x message size.
    Ccl,
    /// Every domain this build has: gemm, then ccl.
    All,
    /// GQA attention of Llama-3-70B (not built yet: prints the probe summary).
    Gqa,
    /// The probe summary (latency and bandwidth of predefined traffic).
    Probe,
    /// Join the partial JSONs of a sharded run and write what an unsharded
    /// run writes.
    Merge {
        /// The domain the partials belong to.
        domain: MergeDomain,
        /// Folders holding `<domain>.shard-K-of-N.json` files (or their
        /// `<domain>/` subfolder).
        #[arg(required = true)]
        shard_dirs: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum MergeDomain {
    Gemm,
    Ccl,
}

fn run(args: Args) -> Result<String, CliError> {
    let topo = cli::load_topology(&args.topology, args.network)?;
    let opts = Options {
        out: args.out.clone(),
        shard: args.shard,
        progress: Progress { quiet: args.quiet },
    };
    let fail = |e: milestone::MilestoneError| CliError::Failed(e.to_string());
    let mut text = String::new();
    match args.command {
        Command::Gemm { fast: true } => {
            let dir = milestone::domain_dir::<GemmSweep>(&args.out);
            let t = Instant::now();
            let files = gemm::rerender(&dir).map_err(fail)?;
            let w = Written { files, points: 0 };
            text += &report("gemm (figures re-rendered)", &w, t);
        }
        Command::Gemm { fast: false } => text += &domain(&GemmSweep::full(&topo), &topo, &opts)?,
        Command::Ccl => text += &domain(&CclSweep::full(&topo), &topo, &opts)?,
        Command::All => {
            text += &domain(&GemmSweep::full(&topo), &topo, &opts)?;
            text += &domain(&CclSweep::full(&topo), &topo, &opts)?;
        }
        Command::Gqa => {
            eprintln!(
                "milestone `gqa` is not built yet; available: gemm, ccl, all, probe, merge. \
                 Printing the probe summary instead."
            );
            let report = cli::probe::measure(&topo, &ProbeArgs::default())?;
            text += &cli::probe::render(&report, false);
        }
        Command::Probe => {
            let report = cli::probe::measure(&topo, &ProbeArgs::default())?;
            text += &cli::probe::render(&report, false);
        }
        Command::Merge { domain, shard_dirs } => {
            let t = Instant::now();
            let w = match domain {
                MergeDomain::Gemm => merge(&GemmSweep::full(&topo), &topo, &args.out, &shard_dirs),
                MergeDomain::Ccl => merge(&CclSweep::full(&topo), &topo, &args.out, &shard_dirs),
            }
            .map_err(fail)?;
            text += &report("merged", &w, t);
        }
    }
    Ok(text)
}

fn merge<D: Domain>(
    d: &D,
    topo: &Topology,
    out: &Path,
    dirs: &[PathBuf],
) -> Result<Written, milestone::MilestoneError> {
    milestone::merge(d, topo, out, dirs)
}

fn domain<D: Domain>(d: &D, topo: &Topology, opts: &Options) -> Result<String, CliError> {
    let t = Instant::now();
    let w = milestone::run(d, topo, opts).map_err(|e| CliError::Failed(e.to_string()))?;
    let what = match opts.shard {
        Some(s) => format!("{} shard {s}", D::NAME),
        None => D::NAME.to_string(),
    };
    Ok(report(&what, &w, t))
}

fn report(what: &str, w: &Written, t: Instant) -> String {
    let mut o = format!(
        "{what}: {} point(s) in {:.1} s\n",
        w.points,
        t.elapsed().as_secs_f64()
    );
    for f in &w.files {
        o += &format!("  wrote {}\n", f.display());
    }
    o
}

fn main() -> ExitCode {
    cli::finish(run(Args::parse()))
}
