//! What a launch did: [`RunReport`] (time, counts, per-engine time, the op
//! log) and [`EngineTimes`], its per-stage occupancy as the benches print it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::exec::oplog::{Lane, LaneTime, OpLog, OpLogSummary};
use crate::exec::pe::Span;
use crate::exec::timeline;
use crate::fabric::addr::PeLoc;
use crate::fabric::machine::Machine;
use crate::fabric::topology::Topology;
use crate::fabric::units::{ps_to_ns, Ps};

/// What a launch did: time, counts, per-engine time and the op log.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Name of the kernel launched.
    pub kernel: String,
    /// Programs run.
    pub programs: usize,
    /// Distinct PEs the programs ran on.
    pub pes: usize,
    /// Simulated time of the launch, ns since the device was created.
    pub start_ns: f64,
    /// From the launch (host sends descriptors) to the last program's end.
    pub wall_ns: f64,
    /// From the first program's start to the last program's end: the
    /// kernel without its launch cost.
    pub kernel_ns: f64,
    /// Engine events the run took to simulate.
    pub events: u64,
    /// The most traced commands held at once: programs are traced when
    /// their PE starts them and released when they finish, so this follows
    /// what is in flight, not the length of the run.
    pub peak_commands: u64,
    /// Op and byte counts of the run.
    pub summary: OpLogSummary,
    /// Busy and occupied time of each engine lane, keyed by
    /// [`Lane::name`](crate::exec::oplog::Lane::name).
    pub lanes: BTreeMap<&'static str, LaneTime>,
    /// MAC-array busy time over `wall x pes`, percent.
    pub gemm_util_pct: f64,
    /// Useful MACs (each GEMM's valid m x k x n) over `wall x pes x peak`,
    /// percent.
    pub useful_eff_pct: f64,
    /// The run's op log (individual records only if the device keeps them).
    pub log: OpLog,
}

/// A launch as it ran, before it is summarized.
pub(super) struct Ran<'a> {
    pub kernel: &'a str,
    pub programs: usize,
    pub pes: usize,
    /// When the host started the launch.
    pub start: Ps,
    pub span: Span,
    pub events: u64,
    pub peak_commands: usize,
    pub log: OpLog,
}

impl RunReport {
    /// Summarizes a run on `topo`: times, counts, lane occupancy and the
    /// utilization figures against the MAC array's peak.
    pub(super) fn new(topo: &Topology, ran: Ran<'_>) -> Self {
        let wall_ns = ps_to_ns(ran.span.end - ran.start);
        let peak = topo.pe_gemm.macs_per_ns();
        let denom = wall_ns * ran.pes as f64;
        let summary = ran.log.summary();
        let pct = |x: f64| if denom > 0.0 { 100.0 * x / denom } else { 0.0 };
        RunReport {
            kernel: ran.kernel.to_string(),
            programs: ran.programs,
            pes: ran.pes,
            start_ns: ps_to_ns(ran.start),
            wall_ns,
            kernel_ns: ps_to_ns(ran.span.end - ran.span.first_start),
            events: ran.events,
            peak_commands: ran.peak_commands as u64,
            gemm_util_pct: pct(ps_to_ns(ran.log.busy_ps(Lane::Gemm))),
            useful_eff_pct: pct(summary.useful_macs as f64 / peak),
            lanes: Lane::ALL
                .iter()
                .map(|l| (l.name(), ran.log.lane_time(*l)))
                .collect(),
            summary,
            log: ran.log,
        }
    }

    /// The run's timeline as Chrome trace-event JSON.
    pub fn chrome_trace(&self, machine: &Machine) -> serde_json::Value {
        timeline::chrome_trace(self.log.records(), pe_namer(machine))
    }

    /// The run's timeline as Chrome trace-event JSON text, written straight
    /// from the records (for timelines of millions of records).
    pub fn chrome_trace_bytes(&self, machine: &Machine) -> Result<Vec<u8>, serde_json::Error> {
        let doc = timeline::ChromeTrace::new(self.log.records(), pe_namer(machine));
        serde_json::to_vec(&doc)
    }

    /// Wall-clock occupancy of each engine lane.
    pub fn engine_times(&self) -> EngineTimes {
        let occ = |l: Lane| self.lanes.get(l.name()).map_or(0.0, |t| t.occupied_ns);
        EngineTimes {
            dma_in_ns: occ(Lane::DmaIn),
            fetch_ns: occ(Lane::Fetch),
            gemm_ns: occ(Lane::Gemm),
            dma_out_ns: occ(Lane::DmaOut),
            dma_ns: occ(Lane::Dma),
            math_ns: occ(Lane::Math),
            ipcq_ns: occ(Lane::Ipcq),
        }
    }
}

/// Per-stage wall-clock occupancy in the shape the benches print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct EngineTimes {
    /// GEMM stage 1 (operand tiles into TCM), ns.
    pub dma_in_ns: f64,
    /// GEMM stage 2 (TCM into the MAC array), ns.
    pub fetch_ns: f64,
    /// GEMM stage 3 (the MAC array), ns.
    pub gemm_ns: f64,
    /// GEMM stage 4 (result tiles written back), ns.
    pub dma_out_ns: f64,
    /// The PE DMA engines (`DmaRead` / `DmaWrite` commands), ns.
    pub dma_ns: f64,
    /// The vector engines, ns.
    pub math_ns: f64,
    /// Inter-PE queues, ns.
    pub ipcq_ns: f64,
}

/// Names a PE's process in a timeline by its node (e.g. `sip0.cube(0,0).pe3`).
fn pe_namer(machine: &Machine) -> impl Fn(u32) -> String + '_ {
    move |g| {
        let p = PeLoc::from_global(g, &machine.topo);
        machine.node_name(machine.pe(p.sip, p.cube, p.pe))
    }
}
