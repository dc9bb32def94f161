//! Command-line front end shared by the `kernbench` and `milestone` binaries.
//!
//! Each subcommand lives in its own module and returns the text to print, so
//! tests can drive the CLI without spawning processes.

pub mod lower;
pub mod probe;
pub mod run;

use std::path::Path;

use kernbench_core::fabric::topology::Network;
use kernbench_core::support::error_chain;
use kernbench_core::{Topology, TopologyError};

/// Anything that stops a command; printed as one line by the binaries.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    File(#[from] crate::files::FileError),
}

/// Prints a command's output, or its error as one line; the exit code.
pub fn finish(result: Result<String, CliError>) -> std::process::ExitCode {
    match result {
        Ok(out) => {
            print!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Loads the topology named by `--topology`.
pub fn load_topology(path: &Path, network: Option<Network>) -> Result<Topology, CliError> {
    let mut topo = Topology::from_file(path)?;
    if let Some(n) = network {
        topo.sim.network = n;
    }
    Ok(topo)
}

/// Parses `--param key=value` arguments, keeping their order.
pub fn parse_params(raw: &[String]) -> Result<Vec<(String, String)>, CliError> {
    raw.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(CliError::Usage(format!(
                "--param expects key=value, got `{p}`"
            ))),
        })
        .collect()
}

/// Writes `bytes` to `path` whole (see [`crate::files`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    Ok(crate::files::write_atomic(path, bytes)?)
}

/// Checks, before any work, that `path` names a file in an existing directory.
pub fn check_writable(path: &Path) -> Result<(), CliError> {
    crate::files::check_writable(path).map_err(|e| CliError::Usage(e.to_string()))
}
