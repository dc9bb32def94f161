//! Command-line front end shared by the `kernbench` and `milestone` binaries.
//!
//! Each subcommand lives in its own module and returns the text to print, so
//! tests can drive the CLI without spawning processes.

pub mod lower;
pub mod probe;
pub mod run;

use std::io::Write as _;
use std::path::Path;

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

/// Loads the topology named by `--topology`.
pub fn load_topology(path: &Path) -> Result<Topology, CliError> {
    Ok(Topology::from_file(path)?)
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
    let name = path
        .file_name()
        .ok_or_else(|| CliError::Usage(format!("{} is not a file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
