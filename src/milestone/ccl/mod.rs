//! `milestone ccl`: the DSL ring all-reduce over ring kind x receive-buffer
//! kind x message size, each point beside the alpha-beta model
//! (`AllReduceModel`, from the topology), and the parity of a direct
//! launch with the rank = SIP process group.

mod diagram;
mod figures;

use std::path::{Path, PathBuf};

use half::f16;
use kernbench_core::host::group::{self, AllReduceFn};
use kernbench_core::host::{BufferKind, Device, Ring, RingKind, RunReport, RuntimeError, Tensor};
use kernbench_core::model::AllReduceModel;
use kernbench_core::support::Named;
use kernbench_core::Topology;
use kernels::tp::{all_reduce_sum_via, SEG};
use kernels::ReduceOp;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::output::{json_bytes, num, Csv, Outputs};
use super::plot::bytes as size_label;
use super::{Domain, MilestoneError};
use crate::bench::ring::{
    rank_buffers, rank_input, run_allreduce, AllReduceConfig, Home, Segments,
};
use crate::bench::{BenchError, RunMode};

pub use diagram::render_topology;
pub use figures::render_figures;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The ccl sweep's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct CclSweep {
    /// Ring kinds with their rank counts.
    pub rings: Vec<(RingKind, usize)>,
    pub buffers: Vec<BufferKind>,
    /// Bytes per rank, per ring kind (a ring's list may be longer when its
    /// memory holds larger buffers).
    pub sizes: Vec<Vec<u64>>,
    /// Bytes per rank of the parity check.
    pub parity_bytes: u64,
}

impl CclSweep {
    /// The milestone's sweep: the 8 PEs of a cube, the cubes of SIP 0, the
    /// SIPs through the process group; 4 KiB to 16 MiB in x4 steps, and
    /// 64 MiB on the rings whose HBM slices hold every rank's buffer.
    pub fn full(topo: &Topology) -> Self {
        let rings = vec![
            (RingKind::IntracubePe, topo.system.pes_per_cube as usize),
            (RingKind::IntercubeMultisip, topo.cubes_per_sip() as usize),
            (RingKind::Sip, topo.system.sips as usize),
        ];
        let base: Vec<u64> = (0..7).map(|i| (4 * KIB) << (2 * i)).collect();
        let sizes = rings
            .iter()
            .map(|&(kind, n)| {
                let mut s = base.clone();
                if holds(topo, kind, n, 64 * MIB) {
                    s.push(64 * MIB);
                }
                s
            })
            .collect();
        CclSweep {
            rings,
            buffers: BufferKind::ALL.to_vec(),
            sizes,
            parity_bytes: MIB,
        }
    }
}

/// Whether every HBM slice holds the buffers of the ranks homed on it.
fn holds(topo: &Topology, kind: RingKind, n: usize, bytes: u64) -> bool {
    let Ok(ring) = Ring::install(topo, kind, n) else {
        return false;
    };
    let mut per_slice = std::collections::BTreeMap::new();
    for p in &ring.pes {
        *per_slice.entry((p.sip, p.cube)).or_insert(0u64) += 1;
    }
    let most = per_slice.values().copied().max().unwrap_or(0);
    let capacity = topo.hbm.capacity_mb.saturating_mul(MIB);
    most.checked_mul(bytes).is_some_and(|b| b <= capacity)
}

/// One simulation of the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CclPoint {
    AllReduce {
        ring: RingKind,
        ranks: usize,
        buffer: BufferKind,
        bytes: u64,
    },
    /// Direct launch vs process group, data on.
    Parity { bytes: u64 },
}

/// One all-reduce of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CclRow {
    pub ring: String,
    pub n_ranks: usize,
    pub buffer: String,
    /// Bytes per rank.
    pub bytes: u64,
    /// The collective from its first program's start to its last's end.
    pub latency_ns: f64,
    /// `bytes / latency`.
    pub algbw_gbs: f64,
    /// `algbw x 2(n-1)/n` (the NCCL-tests definition).
    pub busbw_gbs: f64,
    /// The alpha-beta model's latency.
    pub model_latency_ns: f64,
    /// The model's link bandwidth: the ring's slowest link, shared among
    /// the ranks whose messages cross it (busbw's ceiling).
    pub link_gbs: f64,
}

/// The same all-reduce launched directly and through the process group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityRow {
    pub bytes: u64,
    pub direct_latency_ns: f64,
    pub process_group_latency_ns: f64,
    /// Every rank's result equal bit for bit.
    pub data_identical: bool,
}

/// A row of either kind (partial files hold both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CclResult {
    AllReduce(CclRow),
    Parity(ParityRow),
}

/// `allreduce_sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CclDoc {
    pub version: u32,
    pub rows: Vec<CclRow>,
    pub parity: Option<ParityRow>,
}

/// The JSON file's name.
pub const JSON: &str = "allreduce_sweep.json";
/// The CSV file's name.
pub const CSV: &str = "allreduce_sweep.csv";

impl Domain for CclSweep {
    const NAME: &'static str = "ccl";
    type Point = CclPoint;
    type Row = CclResult;

    fn points(&self) -> Vec<CclPoint> {
        let mut v = Vec::new();
        for (&(ring, ranks), sizes) in self.rings.iter().zip(&self.sizes) {
            for &buffer in &self.buffers {
                for &bytes in sizes {
                    v.push(CclPoint::AllReduce {
                        ring,
                        ranks,
                        buffer,
                        bytes,
                    });
                }
            }
        }
        v.push(CclPoint::Parity {
            bytes: self.parity_bytes,
        });
        v
    }

    fn label(&self, p: &CclPoint) -> String {
        match *p {
            CclPoint::AllReduce {
                ring,
                ranks,
                buffer,
                bytes,
            } => format!(
                "{} ({ranks} ranks) {} buffers, {}",
                ring.name(),
                buffer.name(),
                size_label(bytes as f64)
            ),
            CclPoint::Parity { bytes } => format!("parity at {}", size_label(bytes as f64)),
        }
    }

    fn run(&self, topo: &Topology, p: &CclPoint) -> Result<CclResult, BenchError> {
        match *p {
            CclPoint::AllReduce {
                ring,
                ranks,
                buffer,
                bytes,
            } => all_reduce_row(topo, ring, ranks, buffer, bytes).map(CclResult::AllReduce),
            CclPoint::Parity { bytes } => parity_row(topo, bytes).map(CclResult::Parity),
        }
    }

    fn write(
        &self,
        topo: &Topology,
        rows: Vec<CclResult>,
        dir: &Path,
    ) -> Result<Vec<PathBuf>, MilestoneError> {
        let doc = document(rows);
        let mut files = write_data(&doc, dir)?;
        files.extend(render_figures(&doc, dir)?);
        let mut out = Outputs::new(dir);
        out.save(diagram::FILE, &render_topology(topo)?)?;
        files.extend(out.into_files());
        Ok(files)
    }
}

/// Runs one all-reduce: rank = SIP through the process group, the other
/// rings by a direct launch; each rank's buffer in its cube's HBM.
pub fn all_reduce_row(
    topo: &Topology,
    ring: RingKind,
    ranks: usize,
    buffer: BufferKind,
    bytes: u64,
) -> Result<CclRow, BenchError> {
    let cfg = AllReduceConfig {
        ring,
        bytes,
        buffer,
        ranks,
        seg: SEG,
        op: ReduceOp::Sum,
        home: Home::Hbm,
    };
    let installed = Ring::install(topo, ring, ranks)?;
    let n = installed.world_size();
    let latency = if ring == RingKind::Sip {
        process_group(topo, buffer, bytes, false)?.0.kernel_ns
    } else {
        run_allreduce(topo, &cfg, RunMode::TIMING_ONLY)?
            .run
            .kernel_ns
    };
    let machine = kernbench_core::Machine::new(topo);
    let model = AllReduceModel::new(&machine, &installed, buffer, true);
    let seg = Segments::of(bytes, n, SEG, topo.ipcq.depth);
    let algbw = bytes as f64 / latency;
    Ok(CclRow {
        ring: ring.name().to_string(),
        n_ranks: n,
        buffer: buffer.name().to_string(),
        bytes,
        latency_ns: latency,
        algbw_gbs: algbw,
        busbw_gbs: algbw * 2.0 * (n as f64 - 1.0) / n as f64,
        model_latency_ns: model.predict_ns(n, bytes, seg.message, seg.rounds, seg.batch),
        link_gbs: model.link_gbs,
    })
}

fn via<const B: usize>(
    dev: &mut Device,
    ring: &Ring,
    ts: &[Tensor<f16>],
) -> Result<RunReport, RuntimeError> {
    all_reduce_sum_via(dev, ring, ts, BufferKind::ALL[B])
}

/// The process group's collective with receive buffers of kind `buffer`.
fn collective(buffer: BufferKind) -> AllReduceFn {
    match buffer {
        BufferKind::Tcm => via::<0>,
        BufferKind::Sram => via::<1>,
        BufferKind::Hbm => via::<2>,
    }
}

/// A sum all-reduce of `bytes` per rank through the rank = SIP process
/// group: each rank allocates its buffer in its SIP's HBM, fills it and
/// joins the collective. Returns rank 0's report and, with data, every
/// rank's result.
pub fn process_group(
    topo: &Topology,
    buffer: BufferKind,
    bytes: u64,
    data: bool,
) -> Result<(RunReport, Vec<Array2<f32>>), BenchError> {
    let len = (bytes / 2) as usize;
    let mut dev = Device::new(topo).with_data(data);
    let ranks = group::spawn(&mut dev, collective(buffer), |rank| {
        let t = rank.alloc::<f16>(1, len)?;
        if data {
            rank.write(&t, &rank_input(rank.rank(), len))?;
        } else {
            rank.on_device(move |d| d.write_timing(&t))??;
        }
        let rep = rank.all_reduce(&t)?;
        let got = if data { Some(rank.read(&t)?) } else { None };
        Ok((rep, got))
    })?;
    let mut out = Vec::new();
    let mut first = None;
    for (rep, got) in ranks {
        first.get_or_insert(rep);
        out.extend(got);
    }
    let rep = first.ok_or_else(|| BenchError::Invalid("the process group has no ranks".into()))?;
    Ok((rep, out))
}

/// The SIP ring's all-reduce of `bytes`, data on, launched directly and
/// through the process group.
pub fn parity_row(topo: &Topology, bytes: u64) -> Result<ParityRow, BenchError> {
    let len = (bytes / 2) as usize;
    let ring = Ring::sips(topo)?;
    let mut dev = Device::new(topo);
    let bufs = rank_buffers(&mut dev, &ring, len, Home::Hbm)?;
    let direct = all_reduce_sum_via(&mut dev, &ring, &bufs, BufferKind::Tcm)?;
    let direct_data = bufs
        .iter()
        .map(|b| dev.read(b))
        .collect::<Result<Vec<_>, _>>()?;
    let (group, group_data) = process_group(topo, BufferKind::Tcm, bytes, true)?;
    Ok(ParityRow {
        bytes,
        direct_latency_ns: direct.kernel_ns,
        process_group_latency_ns: group.kernel_ns,
        data_identical: direct_data == group_data,
    })
}

/// The document of a whole sweep, rows in point order.
pub fn document(rows: Vec<CclResult>) -> CclDoc {
    let mut doc = CclDoc {
        version: 1,
        rows: Vec::new(),
        parity: None,
    };
    for r in rows {
        match r {
            CclResult::AllReduce(r) => doc.rows.push(r),
            CclResult::Parity(p) => doc.parity = Some(p),
        }
    }
    doc
}

/// Writes `allreduce_sweep.json` and `allreduce_sweep.csv`.
pub fn write_data(doc: &CclDoc, dir: &Path) -> Result<Vec<PathBuf>, MilestoneError> {
    let mut out = Outputs::new(dir);
    out.save(JSON, &json_bytes(doc)?)?;
    let mut csv = Csv::new(&[
        "ring",
        "n_ranks",
        "buffer",
        "bytes",
        "latency_ns",
        "algbw_gbs",
        "busbw_gbs",
        "model_latency_ns",
        "link_gbs",
    ]);
    for r in &doc.rows {
        csv.row(&[
            r.ring.clone(),
            r.n_ranks.to_string(),
            r.buffer.clone(),
            r.bytes.to_string(),
            num(r.latency_ns),
            num(r.algbw_gbs),
            num(r.busbw_gbs),
            num(r.model_latency_ns),
            num(r.link_gbs),
        ]);
    }
    out.save(CSV, &csv.into_bytes())?;
    Ok(out.into_files())
}
