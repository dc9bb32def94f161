//! Command-line front end shared by the `kernbench` and `milestone` binaries.
//!
//! Each subcommand lives in its own module and returns the text to print, so
//! tests can drive the CLI without spawning processes.

pub mod lower;
pub mod probe;
pub mod run;

use std::io::Write as _;
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

/// Writes `bytes` to `path` whole: into a temporary file beside it, then
/// renamed over it, so an interrupted run never leaves a truncated file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let fail =
        |e: std::io::Error| CliError::Failed(format!("cannot write {}: {e}", path.display()));
    check_writable(path)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}

/// Checks, before any work, that `path` names a file in an existing directory.
pub fn check_writable(path: &Path) -> Result<(), CliError> {
    let bad = |why: &str| CliError::Usage(format!("cannot write {}: {why}", path.display()));
    if path.file_name().is_none() || path.is_dir() {
        return Err(bad("not a file name"));
    }
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => Err(bad("no such directory")),
        _ => Ok(()),
    }
}
