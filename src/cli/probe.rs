//! `kernbench probe`: latency and bandwidth of predefined traffic.

use std::fmt::Write;
use std::sync::Arc;

use clap::Args;
use kernbench_core::fabric::probe::{self, CaseReport, ProbeCase, ProbeReport};
use kernbench_core::support::Named;
use kernbench_core::{Machine, Topology};

use super::CliError;

#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Run one case: host-write, host-read, pe-local-hbm, pe-remote-cube-hbm, pe-remote-sip
    /// (all by default).
    #[arg(long)]
    pub case: Option<String>,
    /// Transfer size of the summary, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub bytes: u64,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
}

impl Default for ProbeArgs {
    fn default() -> Self {
        ProbeArgs {
            case: None,
            bytes: 64 * 1024,
            json: false,
        }
    }
}

/// Runs the probe and renders it as text or JSON.
pub fn run(topo: &Topology, args: &ProbeArgs) -> Result<String, CliError> {
    let report = measure(topo, args)?;
    if args.json {
        let mut s = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::Failed(format!("cannot encode probe JSON: {e}")))?;
        s.push('\n');
        Ok(s)
    } else {
        Ok(render(&report, true))
    }
}

/// Runs the probe cases selected by `args`.
pub fn measure(topo: &Topology, args: &ProbeArgs) -> Result<ProbeReport, CliError> {
    let machine = Arc::new(Machine::new(topo));
    let report = match &args.case {
        // A case asked for by name must run; probing every case skips the
        // ones the topology cannot run, with a note.
        Some(name) => {
            let case = ProbeCase::from_name(name).map_err(|e| CliError::Usage(e.to_string()))?;
            probe::probe(&machine, &[case], args.bytes)
        }
        None => probe::probe_all(&machine, args.bytes),
    };
    report.map_err(|e| CliError::Failed(e.to_string()))
}

/// Text rendering: the summary table, then (with `detail`) each case's
/// bandwidth sweep and route trace.
pub fn render(report: &ProbeReport, detail: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Probe summary");
    let _ = writeln!(
        o,
        "{:<20} {:>9} {:>12} {:>11} {:>9} {:>11} {:>10} {:>11} {:>6}",
        "case",
        "bytes",
        "latency ns",
        "overhead",
        "wire",
        "drain",
        "eff GB/s",
        "bneck GB/s",
        "util"
    );
    for c in &report.cases {
        let _ = writeln!(
            o,
            "{:<20} {:>9} {:>12.1} {:>11.1} {:>9.2} {:>11.1} {:>10.2} {:>11.2} {:>5.1}%",
            c.name,
            c.bytes,
            c.latency_ns,
            c.overhead_ns,
            c.wire_ns,
            c.drain_ns,
            c.effective_bw_gbs,
            c.bottleneck_bw_gbs,
            c.utilization * 100.0
        );
    }
    for s in &report.skipped {
        let _ = writeln!(o, "note: {} skipped: {}", s.name, s.reason);
    }
    if detail {
        for c in &report.cases {
            render_case(&mut o, c);
        }
    }
    o
}

fn render_case(o: &mut String, c: &CaseReport) {
    let _ = writeln!(o, "\n== {} ==", c.name);
    let _ = writeln!(o, "bandwidth sweep:");
    let _ = writeln!(
        o,
        "  {:>9} {:>12} {:>10} {:>6}",
        "bytes", "latency ns", "eff GB/s", "util"
    );
    for p in &c.sweep {
        let _ = writeln!(
            o,
            "  {:>9} {:>12.1} {:>10.2} {:>5.1}%",
            p.bytes,
            p.latency_ns,
            p.effective_bw_gbs,
            p.utilization * 100.0
        );
    }
    let _ = writeln!(
        o,
        "route ({} bytes; first byte / last byte arrival, ns):",
        c.bytes
    );
    for p in &c.route {
        let _ = writeln!(o, "  {:>10.2} {:>10.2}  {}", p.t_ns, p.last_ns, p.node);
    }
}
