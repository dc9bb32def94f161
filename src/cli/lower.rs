//! `kernbench lower KERNEL`: prints the command stream of program 0.

use kernbench_core::host::trace_config;
use kernbench_core::Topology;

use super::CliError;
use crate::catalog::{self, CatalogError};
use crate::params::ParamError;

/// Returns the text form of the command stream of program 0 of `kernel`
/// (rank 0 for collectives), traced with the topology's scratch limits,
/// placeholder tensor addresses and `params` over the kernel's defaults.
pub fn run(topo: &Topology, kernel: &str, params: &[(String, String)]) -> Result<String, CliError> {
    // Bad names and values are the user's to fix; a failed trace or a
    // kernel reading a parameter it never declared is not.
    let classify = |e: CatalogError| match e {
        CatalogError::Trace(_) | CatalogError::Params(ParamError::Undeclared { .. }) => {
            CliError::Failed(e.to_string())
        }
        other => CliError::Usage(other.to_string()),
    };
    let entry = catalog::find(kernel).map_err(classify)?;
    let resolved = entry.resolve(params).map_err(classify)?;
    // The launch rule, so `lower` accepts exactly what `run` accepts.
    let cfg = trace_config(topo);
    let stream = entry.trace_program0(&resolved, &cfg).map_err(classify)?;
    let shown: Vec<String> = resolved.pairs().map(|(k, v)| format!("{k}={v}")).collect();
    let mut out = format!("; {} — {}\n", entry.name, entry.description);
    out.push_str(&format!("; params: {}\n", shown.join(" ")));
    out.push_str(&stream.to_string());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(kernel: &str, params: &[(&str, &str)]) -> Result<String, String> {
        let p: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        run(&Topology::default_topology(), kernel, &p).map_err(|e| e.to_string())
    }

    #[test]
    fn lowers_registered_kernels() {
        let s = lower("matmul", &[]).unwrap();
        assert!(s.contains("gemm"), "{s}");
        let s = lower("ring_allreduce", &[("world_size", "3")]).unwrap();
        assert!(s.contains("ipcq.send"), "{s}");
    }

    #[test]
    fn clear_errors() {
        let e = lower("nope", &[]).unwrap_err();
        assert!(
            e.contains("unknown kernel `nope`")
                && e.contains("matmul")
                && e.contains("ring_allreduce"),
            "{e}"
        );
        let e = lower("matmul", &[("q", "1")]).unwrap_err();
        assert!(e.contains("no parameter `q`") && e.contains("bm=32"), "{e}");
        let e = lower("matmul", &[("bm", "0")]).unwrap_err();
        assert!(e.contains("`bm`") && e.contains("from 1 to"), "{e}");
        let e = lower("ring_allreduce", &[("rank", "9")]).unwrap_err();
        assert!(e.contains("rank 9 is outside the ring of 4"), "{e}");
    }
}
