//! Probe: latency and bandwidth of predefined transfers, each run alone on a
//! fresh simulation, with the latency split into overhead (fixed per-hop and
//! setup costs), wire (propagation) and drain (serialization at the
//! bottleneck plus queueing).

use std::sync::Arc;

use serde::Serialize;

use crate::fabric::addr::{Endpoint, PhysAddr, Space};
use crate::fabric::engine::TransferError;
use crate::fabric::engine::{Sim, TransferReport};
use crate::fabric::machine::Machine;
use crate::fabric::units::{ns_to_ps, ps_to_ns, Bandwidth};
use crate::support::Named;

/// A predefined traffic pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeCase {
    /// Host writes into the HBM of SIP 0, cube (0,0), over PCIe.
    HostWrite,
    /// Host reads from the HBM of SIP 0, cube (0,0): request, then data.
    HostRead,
    /// PE 0 of cube (0,0) writes its TCM into its own cube's HBM.
    PeLocalHbm,
    /// PE 0 of the corner cube writes into the opposite corner cube's HBM.
    PeRemoteCubeHbm,
    /// PE 0 of SIP 0 cube (0,0) writes into the HBM of SIP 1 cube (0,0).
    PeRemoteSip,
}

impl ProbeCase {
    /// Every case, in report order.
    pub const ALL: [ProbeCase; 5] = [
        ProbeCase::HostWrite,
        ProbeCase::HostRead,
        ProbeCase::PeLocalHbm,
        ProbeCase::PeRemoteCubeHbm,
        ProbeCase::PeRemoteSip,
    ];

    /// The case's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ProbeCase::HostWrite => "host-write",
            ProbeCase::HostRead => "host-read",
            ProbeCase::PeLocalHbm => "pe-local-hbm",
            ProbeCase::PeRemoteCubeHbm => "pe-remote-cube-hbm",
            ProbeCase::PeRemoteSip => "pe-remote-sip",
        }
    }
}

impl ProbeCase {
    /// Why `topo` cannot run this case, if it cannot.
    pub fn unavailable(self, topo: &crate::fabric::topology::Topology) -> Option<String> {
        (self == ProbeCase::PeRemoteSip && topo.system.sips < 2)
            .then(|| format!("needs 2 SIPs; the topology has {}", topo.system.sips))
    }
}

impl Named for ProbeCase {
    const WHAT: &'static str = "probe case";
    const ALL: &'static [ProbeCase] = &ProbeCase::ALL;
    fn name(self) -> &'static str {
        ProbeCase::name(self)
    }
}
crate::support::named_str!(ProbeCase);

/// Why a probe could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("case {case} needs {need} SIPs; the topology has {have}")]
    NotEnoughSips {
        case: &'static str,
        need: u32,
        have: u32,
    },
    #[error("transfer size must be at least 1 byte")]
    ZeroBytes,
    #[error("transfer size {bytes} is larger than the {slice}-byte HBM slice (`hbm.capacity_mb`) it lands in")]
    TooLarge { bytes: u64, slice: u64 },
    #[error(transparent)]
    Transfer(#[from] TransferError),
    #[error("case {0}: the transfer did not complete (simulator defect)")]
    Incomplete(&'static str),
}

/// One node of the route trace: when the first byte (head of the first
/// burst) and the last byte arrived, relative to the transfer's start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutePoint {
    /// The node's name, e.g. `sip0.cube(3,3).xbar`.
    pub node: String,
    /// First byte's arrival, ns from the start.
    pub t_ns: f64,
    /// Last byte's arrival, ns from the start.
    pub last_ns: f64,
}

/// One size of the bandwidth sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// Transfer size.
    pub bytes: u64,
    /// Its latency.
    pub latency_ns: f64,
    /// bytes / latency, GB/s.
    pub effective_bw_gbs: f64,
    /// Effective over bottleneck bandwidth.
    pub utilization: f64,
}

/// A transfer's latency, split, and its bandwidth against the bottleneck.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Split {
    /// `overhead_ns + wire_ns + drain_ns`.
    pub latency_ns: f64,
    /// Setup and fixed per-hop costs.
    pub overhead_ns: f64,
    /// Propagation.
    pub wire_ns: f64,
    /// Serialization at the bottleneck plus queueing.
    pub drain_ns: f64,
    /// bytes / latency, GB/s.
    pub effective_bw_gbs: f64,
    /// The slowest link of the route (a pseudo-channel group counts whole), GB/s.
    pub bottleneck_bw_gbs: f64,
    /// `effective_bw_gbs / bottleneck_bw_gbs`.
    pub utilization: f64,
}

/// Everything probe reports about one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// Size of the summary's transfer.
    pub bytes: u64,
    /// Its latency split and bandwidth.
    #[serde(flatten)]
    pub split: Split,
    /// When its bytes reached each node.
    pub route: Vec<RoutePoint>,
    /// The bandwidth sweep.
    pub sweep: Vec<SweepPoint>,
}

impl std::ops::Deref for CaseReport {
    type Target = Split;
    fn deref(&self) -> &Split {
        &self.split
    }
}

/// The probe's whole output (the `--json` document).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeReport {
    /// One report per case probed.
    pub cases: Vec<CaseReport>,
    /// Cases the topology cannot run, with why (absent from the JSON when
    /// none was skipped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedCase>,
}

/// A case left out of a probe of every case, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedCase {
    /// The case's name.
    pub name: String,
    /// Why the topology cannot run it.
    pub reason: String,
}

/// Sizes of the bandwidth sweep: 4 KiB, 16 KiB, ..., 1 MiB.
pub const SWEEP_BYTES: [u64; 5] = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20];

/// A single transfer's measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// What the engine recorded.
    pub report: TransferReport,
    /// The latency split derived from it.
    pub split: Split,
}

impl std::ops::Deref for Measurement {
    type Target = Split;
    fn deref(&self) -> &Split {
        &self.split
    }
}

fn hbm(sip: u32, cube: u32) -> Endpoint {
    Endpoint::Mem(PhysAddr {
        sip,
        cube,
        space: Space::Hbm,
        offset: 0,
    })
}

fn tcm(sip: u32, cube: u32, pe: u32) -> Endpoint {
    Endpoint::Mem(PhysAddr {
        sip,
        cube,
        space: Space::Tcm { pe },
        offset: 0,
    })
}

/// Runs `case` alone with `bytes` on a fresh simulation of `machine`.
pub fn measure(
    machine: &Arc<Machine>,
    case: ProbeCase,
    bytes: u64,
) -> Result<Measurement, ProbeError> {
    if bytes == 0 {
        return Err(ProbeError::ZeroBytes);
    }
    let t = &machine.topo;
    let host_setup = ns_to_ps(t.host.dma_setup_ns);
    let pe_setup = ns_to_ps(t.pe_dma.setup_ns);
    let far = machine.cube_index(t.system.cube_mesh.x - 1, t.system.cube_mesh.y - 1);
    let (src, dst, read) = match case {
        ProbeCase::HostWrite => (Endpoint::Host, hbm(0, 0), false),
        ProbeCase::HostRead => (Endpoint::Host, hbm(0, 0), true),
        ProbeCase::PeLocalHbm => (tcm(0, 0, 0), hbm(0, 0), false),
        ProbeCase::PeRemoteCubeHbm => (tcm(0, 0, 0), hbm(0, far), false),
        ProbeCase::PeRemoteSip => {
            if t.system.sips < 2 {
                return Err(ProbeError::NotEnoughSips {
                    case: case.name(),
                    need: 2,
                    have: t.system.sips,
                });
            }
            (tcm(0, 0, 0), hbm(1, 0), false)
        }
    };
    let setup = if src == Endpoint::Host {
        host_setup
    } else {
        pe_setup
    };
    let mut sim = Sim::new(machine.clone());
    let id = if read {
        sim.start_read(src, dst, bytes, setup, 0)?
    } else {
        sim.start_copy(src, dst, bytes, setup, 0)?
    };
    sim.run();
    let report = sim.report(id).ok_or(ProbeError::Incomplete(case.name()))?;
    Ok(analyse(machine, report))
}

/// Splits a completed transfer's latency and relates it to its bottleneck.
pub fn analyse(machine: &Machine, report: TransferReport) -> Measurement {
    let latency_ps = report.done - report.start;
    let mut overhead_ps = report.setup_ps;
    let mut wire_ps = 0;
    for hop in report.routes.iter().flat_map(|r| &r.hops) {
        let l = machine.link(hop.link);
        overhead_ps += l.overhead_ps;
        wire_ps += l.prop_ps;
    }
    // The data phase (the last) carries the bytes; a read's request does not
    // bound its bandwidth.
    let bottleneck = report
        .routes
        .last()
        .and_then(|r| {
            r.hops
                .iter()
                .map(|h| machine.link(h.link).bw.times(u64::from(h.lanes)))
                .min()
        })
        .unwrap_or(Bandwidth::from_gbs(f64::MAX));
    let latency_ns = ps_to_ns(latency_ps);
    let effective = report.bytes as f64 / latency_ns.max(f64::MIN_POSITIVE);
    Measurement {
        split: Split {
            latency_ns,
            overhead_ns: ps_to_ns(overhead_ps),
            wire_ns: ps_to_ns(wire_ps),
            drain_ns: ps_to_ns(latency_ps.saturating_sub(overhead_ps + wire_ps)),
            effective_bw_gbs: effective,
            bottleneck_bw_gbs: bottleneck.gbs(),
            utilization: effective / bottleneck.gbs(),
        },
        report,
    }
}

/// Probes every case the machine can run at `bytes`, noting the ones it
/// cannot (a single-SIP machine has no SIP link to probe).
pub fn probe_all(machine: &Arc<Machine>, bytes: u64) -> Result<ProbeReport, ProbeError> {
    let (run, skip): (Vec<ProbeCase>, Vec<ProbeCase>) = ProbeCase::ALL
        .into_iter()
        .partition(|c| c.unavailable(&machine.topo).is_none());
    let mut report = probe(machine, &run, bytes)?;
    report.skipped = skip
        .into_iter()
        .map(|c| SkippedCase {
            name: c.name().to_string(),
            reason: c.unavailable(&machine.topo).unwrap_or_default(),
        })
        .collect();
    Ok(report)
}

/// Probes `cases` at `bytes` each, with the bandwidth sweep and route
/// trace; a case the topology cannot run is an error.
pub fn probe(
    machine: &Arc<Machine>,
    cases: &[ProbeCase],
    bytes: u64,
) -> Result<ProbeReport, ProbeError> {
    // Probe cases land in an HBM slice: a larger transfer is no question
    // about the machine (and would simulate for hours).
    let slice = machine.topo.hbm.capacity_mb.saturating_mul(1 << 20);
    if bytes > slice {
        return Err(ProbeError::TooLarge { bytes, slice });
    }
    let mut out = Vec::with_capacity(cases.len());
    for &case in cases {
        let m = measure(machine, case, bytes)?;
        let sweep = SWEEP_BYTES
            .iter()
            .map(|&b| {
                measure(machine, case, b).map(|s| SweepPoint {
                    bytes: b,
                    latency_ns: s.latency_ns,
                    effective_bw_gbs: s.effective_bw_gbs,
                    utilization: s.utilization,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let t0 = m.report.start;
        let route = m
            .report
            .trace
            .iter()
            .map(|h| RoutePoint {
                node: machine.node_name(h.node),
                t_ns: ps_to_ns(h.first - t0),
                last_ns: ps_to_ns(h.last - t0),
            })
            .collect();
        out.push(CaseReport {
            name: case.name().to_string(),
            bytes,
            split: m.split,
            route,
            sweep,
        });
    }
    Ok(ProbeReport {
        cases: out,
        skipped: Vec::new(),
    })
}
