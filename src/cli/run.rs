//! `kernbench run --bench NAME` and `kernbench list`.

use std::path::PathBuf;

use clap::Args;
use kernbench_core::{Machine, Topology};

use super::{write_atomic, CliError};
use kernbench_core::support::error_chain;

use crate::bench::{self, BenchError, RunMode};
use crate::params::ParamError;
use crate::{catalog, params};

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Bench to run (see `kernbench list`).
    #[arg(long)]
    pub bench: String,
    /// Bench parameter override, key=value (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Compare the result with an ndarray reference; exit non-zero on mismatch.
    #[arg(long)]
    pub check: bool,
    /// Skip the numerics (timings are identical).
    #[arg(long, conflicts_with = "check")]
    pub timing_only: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write a Chrome / Perfetto timeline of the run to this file.
    #[arg(long, value_name = "FILE.json")]
    pub trace: Option<PathBuf>,
}

/// Runs a bench; returns its report, or an error when `--check` fails
/// (after the report, which is printed to stdout first by the caller).
pub fn run(topo: &Topology, args: &RunArgs) -> Result<(String, bool), CliError> {
    let spec = bench::find(&args.bench).map_err(|e| CliError::Usage(e.to_string()))?;
    if let Some(path) = &args.trace {
        super::check_writable(path)?;
    }
    let params = super::parse_params(&args.params)?;
    let mode = RunMode {
        check: args.check,
        data: !args.timing_only,
        records: args.trace.is_some(),
    };
    let result = spec.run(topo, &params, mode).map_err(|e| match e {
        BenchError::Params(ParamError::Undeclared { .. }) => CliError::Failed(e.to_string()),
        BenchError::Params(p) => CliError::Usage(p.to_string()),
        other => CliError::Failed(error_chain(&other)),
    })?;
    if let Some(path) = &args.trace {
        let text = result
            .timeline(&Machine::new(topo))
            .map_err(|e| CliError::Failed(e.to_string()))?;
        write_atomic(path, &text)?;
    }
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&result.to_json())
            .map_err(|e| CliError::Failed(e.to_string()))?;
        s.push('\n');
        s
    } else {
        result.to_text()
    };
    let ok = result.check.is_none_or(|c| c.ok);
    Ok((out, ok))
}

/// `kernbench list`: benches and kernels with every parameter they accept,
/// generated from their specs.
pub fn list() -> String {
    let mut o = String::from("benches (kernbench run --bench NAME [--param key=value]):\n");
    for b in bench::registry() {
        params::describe(&mut o, b.name, b.description, b.params);
    }
    o.push_str("\nkernels (kernbench lower KERNEL [--param key=value]):\n");
    for k in catalog::catalog() {
        params::describe(&mut o, k.name, k.description, k.params);
    }
    o
}
