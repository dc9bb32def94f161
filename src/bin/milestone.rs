//! `milestone`: regenerates a domain's evaluation results and figures.
//!
//! `milestone gqa` (the main job), `milestone gemm` and `milestone ccl`
//! run their whole sweep and write JSON, CSV and PNG figures into
//! `milestone_output/<domain>/`; `--shard K/N` runs a part of a sweep and
//! `milestone merge` joins the parts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use kernbench::cli::{self, probe::ProbeArgs, CliError};
use kernbench::milestone::{
    self, ccl::CclSweep, gemm, gemm::GemmSweep, gqa, gqa::GqaSweep, Domain, Options, Progress,
    Shard, Written,
};
use kernbench_core::fabric::topology::Network;
use kernbench_core::support::Named;
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
    /// Every domain: gemm, ccl, then gqa at headline scale.
    All,
    /// GQA attention of Llama-3-70B in four panels (ring K/V prefill and
    /// log-sum-exp decode, one user or many); flow network unless
    /// --network says otherwise.
    Gqa {
        /// Validation scale instead (h_q = h_kv = 1, d_head 64, 16 tokens
        /// per rank, data checked against ndarray); also GQA_VALIDATION=1.
        #[arg(long)]
        validation: bool,
    },
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
    /// gqa at headline scale.
    Gqa,
    /// gqa at validation scale.
    GqaValidation,
}

/// The gqa sweep asked for: validation with `--validation` or
/// GQA_VALIDATION=1, the headline otherwise.
fn gqa_sweep(topo: &Topology, validation: bool) -> GqaSweep {
    let env = std::env::var("GQA_VALIDATION").is_ok_and(|v| v == "1");
    if validation || env {
        GqaSweep::validation()
    } else {
        GqaSweep::headline(topo)
    }
}

/// The headline runs in flow mode unless the command line names a network.
fn gqa_topology(topo: &Topology, network: Option<Network>, sweep: &GqaSweep) -> Topology {
    let mut t = topo.clone();
    if network.is_none() && !sweep.validation {
        t.sim.network = Network::Flow;
    }
    t
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
            // Every domain's folder checked before the first sweep runs.
            for dir in [
                milestone::domain_dir::<GemmSweep>(&args.out),
                milestone::domain_dir::<CclSweep>(&args.out),
                milestone::domain_dir::<GqaSweep>(&args.out),
            ] {
                milestone::output::make_dir(&dir).map_err(fail)?;
            }
            text += &domain(&GemmSweep::full(&topo), &topo, &opts)?;
            text += &domain(&CclSweep::full(&topo), &topo, &opts)?;
            let sweep = GqaSweep::headline(&topo);
            text += &gqa_domain(&sweep, &gqa_topology(&topo, args.network, &sweep), &opts)?;
        }
        Command::Gqa { validation } => {
            let sweep = gqa_sweep(&topo, validation);
            text += &gqa_domain(&sweep, &gqa_topology(&topo, args.network, &sweep), &opts)?;
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
                MergeDomain::Gqa | MergeDomain::GqaValidation => {
                    let v = matches!(domain, MergeDomain::GqaValidation);
                    let sweep = gqa_sweep(&topo, v);
                    let t = gqa_topology(&topo, args.network, &sweep);
                    merge(&sweep, &t, &args.out, &shard_dirs)
                }
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

/// Runs the gqa sweep and adds a line per point to the report.
fn gqa_domain(sweep: &GqaSweep, topo: &Topology, opts: &Options) -> Result<String, CliError> {
    let mut text = format!(
        "gqa at {} scale, {} network\n",
        if sweep.validation {
            "validation"
        } else {
            "headline"
        },
        topo.sim.network.name()
    );
    text += &domain(sweep, topo, opts)?;
    if opts.shard.is_none() {
        let path = milestone::domain_dir::<GqaSweep>(&opts.out).join(gqa::JSON);
        let doc: gqa::GqaDoc =
            milestone::output::read_json(&path).map_err(|e| CliError::Failed(e.to_string()))?;
        text += &gqa::summary(&doc);
    }
    Ok(text)
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
    kernbench::files::remove_temporaries_on_signal();
    cli::finish(run(Args::parse()))
}
