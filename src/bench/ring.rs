//! The ring all-reduce bench: the DSL kernel on an installed ring, each
//! rank's buffer in its own cube's HBM.

use half::f16;
use kernbench_core::model::AllReduceModel;
use kernbench_core::ring::{BufferKind, Ring, RingKind};
use kernbench_core::runtime::{Device, Place, Tensor};
use kernbench_core::Topology;
use kernels::{ring_allreduce, ParamSpec, Params, ReduceOp};
use ndarray::Array2;

use super::{param_map, random_matrix, write_or_time, BenchError, BenchResult, Check, RunMode};

pub(super) const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "ring",
        default: "intracube_pe_ring",
        help: "intracube_pe_ring, intercube_multisip or sip",
    },
    ParamSpec {
        name: "bytes",
        default: "1048576",
        help: "bytes per rank (fp16 elements x 2)",
    },
    ParamSpec {
        name: "buffer",
        default: "tcm",
        help: "IPCQ receive buffer: tcm, sram or hbm",
    },
    ParamSpec {
        name: "ranks",
        default: "8",
        help: "ranks (intracube: <= PEs per cube; intercube: <= cubes; sip: ignored)",
    },
    ParamSpec {
        name: "seg",
        default: "16384",
        help: "most elements per message (0: one chunk per rank)",
    },
    ParamSpec {
        name: "op",
        default: "sum",
        help: "sum or max",
    },
    ParamSpec {
        name: "home",
        default: "hbm",
        help: "where each rank's buffer lives: hbm (its cube's) or tcm (its own, <= 1 MiB)",
    },
];

/// One all-reduce configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllReduceConfig {
    pub ring: RingKind,
    pub bytes: u64,
    pub buffer: BufferKind,
    pub ranks: usize,
    pub seg: usize,
    pub op: ReduceOp,
    /// Rank buffers in their cubes' HBM (else in their own TCM).
    pub hbm_home: bool,
}

impl AllReduceConfig {
    pub fn from_params(p: &Params) -> Result<Self, BenchError> {
        let bytes = p.positive("bytes")? as u64;
        if bytes % 2 != 0 {
            return Err(BenchError::Invalid(format!(
                "bytes={bytes}: must be a whole number of fp16 elements"
            )));
        }
        Ok(AllReduceConfig {
            ring: p.choice(
                "ring",
                "intracube_pe_ring, intercube_multisip or sip",
                RingKind::from_name,
            )?,
            bytes,
            buffer: p.choice("buffer", "tcm, sram or hbm", BufferKind::from_name)?,
            ranks: p.positive("ranks")?,
            seg: p.index("seg")?,
            op: p.choice("op", "sum or max", ReduceOp::from_name)?,
            hbm_home: p.choice("home", "hbm or tcm", |s| match s {
                "hbm" => Some(true),
                "tcm" => Some(false),
                _ => None,
            })?,
        })
    }
}

pub(super) fn run(topo: &Topology, p: &Params, mode: RunMode) -> Result<BenchResult, BenchError> {
    let cfg = AllReduceConfig::from_params(p)?;
    let mut r = run_allreduce(topo, &cfg, mode)?;
    r.params = param_map(p);
    Ok(r)
}

/// Each rank's input: deterministic, different per rank.
pub fn rank_input(rank: usize, len: usize) -> Array2<f32> {
    random_matrix(1, len, 100 + rank as u64)
}

/// The all-reduced vector, combined in rank order in f32 over fp16 inputs.
pub fn reference(n: usize, len: usize, op: ReduceOp) -> Array2<f32> {
    let h = |a: Array2<f32>| a.mapv(|v| f16::from_f32(v).to_f32());
    let mut acc = h(rank_input(0, len));
    for r in 1..n {
        let x = h(rank_input(r, len));
        acc.zip_mut_with(&x, |a, b| {
            *a = match op {
                ReduceOp::Sum => *a + b,
                ReduceOp::Max => a.max(*b),
            }
        });
    }
    acc
}

/// Allocates one buffer per rank, in its cube's HBM or its own TCM, and
/// fills it.
pub fn rank_buffers(
    dev: &mut Device,
    ring: &Ring,
    len: usize,
    hbm: bool,
) -> Result<Vec<Tensor<f16>>, BenchError> {
    let mut bufs = Vec::with_capacity(ring.world_size());
    for (rank, pe) in ring.pes.iter().enumerate() {
        let place = if hbm {
            Place::hbm(pe.sip, pe.cube)
        } else {
            Place::tcm(pe.sip, pe.cube, pe.pe)
        };
        let t = dev.alloc::<f16>(place, 1, len)?;
        let data = dev.data().then(|| rank_input(rank, len));
        write_or_time(dev, &t, data.as_ref())?;
        bufs.push(t);
    }
    Ok(bufs)
}

/// Compares every rank's buffer with the reference; all ranks must also
/// agree bit for bit (each chunk is reduced once, then forwarded).
pub fn check_ranks(
    dev: &mut Device,
    bufs: &[Tensor<f16>],
    cfg: &AllReduceConfig,
    len: usize,
) -> Result<Check, BenchError> {
    let want = reference(bufs.len(), len, cfg.op);
    let mut worst: Option<Check> = None;
    let mut first: Option<Array2<f32>> = None;
    for b in bufs {
        let got = dev.read(b)?;
        // fp16 partial sums: one rounding per combine, n - 1 of them.
        let tol = bufs.len() as f64 * 1e-3;
        let mut c = Check::compare(got.iter(), want.iter(), tol);
        if let Some(f) = &first {
            c.ok &= f == got;
        } else {
            first = Some(got);
        }
        worst = Some(match worst {
            Some(w) if w.max_rel_err >= c.max_rel_err => Check {
                ok: w.ok && c.ok,
                ..w
            },
            Some(w) => Check {
                ok: w.ok && c.ok,
                ..c
            },
            None => c,
        });
    }
    worst.ok_or_else(|| BenchError::Invalid("no ranks".into()))
}

/// Runs the all-reduce once and reports latency, bandwidths and the model.
pub fn run_allreduce(
    topo: &Topology,
    cfg: &AllReduceConfig,
    mode: RunMode,
) -> Result<BenchResult, BenchError> {
    let ring =
        Ring::install(topo, cfg.ring, cfg.ranks).map_err(|e| BenchError::Invalid(e.to_string()))?;
    let len = (cfg.bytes / 2) as usize;
    let mut dev = Device::new(topo)
        .with_data(mode.data)
        .with_records(mode.records);
    let bufs = rank_buffers(&mut dev, &ring, len, cfg.hbm_home)?;
    let (op, seg) = (cfg.op.code(), cfg.seg);
    let run = dev.launch_ring::<ring_allreduce>(&ring, cfg.buffer, |r| {
        ring_allreduce::args(bufs[r].ptr(), len, op, seg)
    })?;
    let check = if mode.check {
        Some(check_ranks(&mut dev, &bufs, cfg, len)?)
    } else {
        None
    };
    let model = AllReduceModel::new(dev.machine(), &ring, cfg.buffer, cfg.hbm_home);
    Ok(finish(
        "ring-allreduce",
        ring.world_size(),
        cfg.bytes,
        run,
        check,
        &model,
    ))
}

/// Adds the collective figures to a result: latency, algbw, busbw (the
/// NCCL-tests definition) and the alpha-beta prediction.
pub fn finish(
    bench: &'static str,
    n: usize,
    bytes: u64,
    run: kernbench_core::runtime::RunReport,
    check: Option<Check>,
    model: &AllReduceModel,
) -> BenchResult {
    // The collective itself, without the host's launch.
    let latency = run.kernel_ns;
    let algbw = bytes as f64 / latency;
    let predicted = model.predict_ns(n, bytes);
    let extra = [
        ("latency_ns", latency),
        ("algbw_gbs", algbw),
        ("busbw_gbs", algbw * 2.0 * (n as f64 - 1.0) / n as f64),
        ("model_ns", predicted),
        ("model_alpha_ns", model.alpha_ns),
        ("model_link_gbs", model.link_gbs),
        ("model_link_bound_ns", model.link_ns(n, bytes)),
        ("model_hbm_bound_ns", model.hbm_ns(bytes)),
        ("sim_over_model", latency / predicted),
    ]
    .into_iter()
    .collect();
    BenchResult {
        bench,
        params: Default::default(),
        run,
        check,
        extra,
    }
}
