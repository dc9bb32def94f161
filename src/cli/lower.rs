//! `kernbench lower KERNEL`: prints the command stream of program 0.

use kernbench_core::Topology;

use super::CliError;

/// Returns the text form of the command stream of program 0 of `kernel`.
pub fn run(_topo: &Topology, kernel: &str, _params: &[(String, String)]) -> Result<String, CliError> {
    Err(CliError::Usage(format!("unknown kernel `{kernel}`: no kernels are registered yet")))
}
