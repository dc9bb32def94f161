//! The ring all-reduce bench: the DSL kernel on an installed ring, each
//! rank's buffer in its own cube's HBM.

use half::f16;
use kernbench_core::host::{BufferKind, Device, Place, Ring, RingKind, RunReport, Tensor};
use kernbench_core::model::AllReduceModel;
use kernbench_core::support::Named;
use kernbench_core::Topology;
use kernels::{ring_allreduce, ReduceOp};
use ndarray::Array2;

use super::{random_matrix, round_f16, write_or_time, BenchError, BenchResult, Check, RunMode};
use crate::params::{ParamError, ParamSet, ParamSpec, Params};

/// Where each rank's buffer lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// In its cube's HBM slice.
    Hbm,
    /// In its own PE's TCM (up to 1 MiB).
    Tcm,
}

impl Named for Home {
    const WHAT: &'static str = "buffer home";
    const ALL: &'static [Home] = &[Home::Hbm, Home::Tcm];
    fn name(self) -> &'static str {
        match self {
            Home::Hbm => "hbm",
            Home::Tcm => "tcm",
        }
    }
}

/// One all-reduce configuration: `ring-allreduce`'s parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllReduceConfig {
    pub ring: RingKind,
    /// Bytes per rank (a whole number of fp16 elements).
    pub bytes: u64,
    pub buffer: BufferKind,
    pub ranks: usize,
    pub seg: usize,
    pub op: ReduceOp,
    pub home: Home,
}

impl ParamSet for AllReduceConfig {
    const SPECS: &'static [ParamSpec] = &[
        ParamSpec::choice::<RingKind>("ring", "intracube_pe_ring", "which PEs form the ring"),
        ParamSpec::positive("bytes", "1048576", "bytes per rank (fp16 elements x 2)")
            .up_to(1 << 36),
        ParamSpec::choice::<BufferKind>("buffer", "tcm", "where IPCQ messages land"),
        ParamSpec::positive(
            "ranks",
            "8",
            "ranks (intracube: <= PEs per cube; intercube: <= cubes; sip: ignored)",
        ),
        ParamSpec::count(
            "seg",
            "16384",
            "most elements per message (0: one chunk per rank)",
        ),
        ParamSpec::choice::<ReduceOp>("op", "sum", "reduction"),
        ParamSpec::choice::<Home>(
            "home",
            "hbm",
            "where each rank's buffer lives: its cube's HBM, or its own TCM (<= 1 MiB)",
        ),
    ];

    fn parse(p: &Params) -> Result<Self, ParamError> {
        let bytes = p.positive("bytes")?;
        if bytes % 2 != 0 {
            return Err(ParamError::BadValue {
                param: "bytes",
                value: bytes.to_string(),
                expected: "a whole number of fp16 elements (an even byte count)".into(),
            });
        }
        Ok(AllReduceConfig {
            ring: p.choice("ring")?,
            bytes: bytes as u64,
            buffer: p.choice("buffer")?,
            ranks: p.positive("ranks")?,
            seg: p.count("seg")?,
            op: p.choice("op")?,
            home: p.choice("home")?,
        })
    }
}

pub(super) fn run(topo: &Topology, p: &Params, mode: RunMode) -> Result<BenchResult, BenchError> {
    run_allreduce(topo, &AllReduceConfig::parse(p)?, mode)
}

/// Each rank's input: deterministic, different per rank.
pub fn rank_input(rank: usize, len: usize) -> Array2<f32> {
    random_matrix(1, len, 100 + rank as u64)
}

/// The all-reduced vector, combined in rank order in f32 over fp16 inputs.
pub fn reference(n: usize, len: usize, op: ReduceOp) -> Array2<f32> {
    let mut acc = round_f16(&rank_input(0, len));
    for r in 1..n {
        let x = round_f16(&rank_input(r, len));
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
    home: Home,
) -> Result<Vec<Tensor<f16>>, BenchError> {
    let mut bufs = Vec::with_capacity(ring.world_size());
    for (rank, pe) in ring.pes.iter().enumerate() {
        let place = match home {
            Home::Hbm => Place::hbm(pe.sip, pe.cube),
            Home::Tcm => Place::tcm(pe.sip, pe.cube, pe.pe),
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
    let ring = Ring::install(topo, cfg.ring, cfg.ranks)?;
    let len = (cfg.bytes / 2) as usize;
    let mut dev = mode.device(topo);
    let bufs = rank_buffers(&mut dev, &ring, len, cfg.home)?;
    let (op, seg) = (cfg.op, cfg.seg);
    let run = dev.launch_ring::<ring_allreduce>(&ring, cfg.buffer, |r| {
        ring_allreduce::args(bufs[r].ptr(), len, op, seg)
    })?;
    let check = if mode.check {
        Some(check_ranks(&mut dev, &bufs, cfg, len)?)
    } else {
        None
    };
    let model = AllReduceModel::new(dev.machine(), &ring, cfg.buffer, cfg.home == Home::Hbm);
    let n = ring.world_size();
    let shape = Segments::of(cfg.bytes, n, seg, topo.ipcq.depth);
    Ok(finish(
        "ring-allreduce",
        &dev,
        n,
        cfg.bytes,
        shape,
        run,
        check,
        &model,
    ))
}

/// How the segmented all-reduce cuts a rank's buffer: its largest message
/// and how many windows of groups run one after another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    /// Bytes of the largest message: a chunk of at most `seg` fp16
    /// elements (a rank's share when `seg` is 0).
    pub message: u64,
    /// Batches of groups run in lockstep, one after another (see
    /// `kernels::ring::window`).
    pub rounds: usize,
    /// Groups in a batch (the first, the widest).
    pub batch: usize,
}

impl Segments {
    /// The segments of `bytes` per rank over `n` ranks with `seg`, on a
    /// machine whose IPCQ holds `depth` messages per pair.
    pub fn of(bytes: u64, n: usize, seg: usize, depth: u32) -> Self {
        let len = (bytes / 2) as usize;
        let share = len.div_ceil(n.max(1));
        let chunk = if seg == 0 { share } else { share.min(seg) };
        let groups = kernels::ring::groups(len, n, seg).len();
        let window = kernels::ring::window(depth as usize);
        Segments {
            message: chunk as u64 * 2,
            rounds: groups.div_ceil(window),
            batch: groups.min(window),
        }
    }
}

/// Adds the collective figures to a result: latency, algbw, busbw (the
/// NCCL-tests definition) and the model's prediction with its terms.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    bench: &'static str,
    dev: &Device,
    n: usize,
    bytes: u64,
    segments: Segments,
    run: RunReport,
    check: Option<Check>,
    model: &AllReduceModel,
) -> BenchResult {
    // The collective itself, without the host's launch.
    let latency = run.kernel_ns;
    let algbw = bytes as f64 / latency;
    let predicted = model.predict_ns(n, bytes, segments.message, segments.rounds, segments.batch);
    let extra = [
        ("latency_ns", latency),
        ("algbw_gbs", algbw),
        ("busbw_gbs", algbw * 2.0 * (n as f64 - 1.0) / n as f64),
        ("model_ns", predicted),
        ("model_alpha_ns", model.alpha_ns),
        ("model_link_gbs", model.link_gbs),
        ("model_link_bound_ns", model.link_ns(n, bytes)),
        ("model_hbm_bound_ns", model.hbm_ns(bytes)),
        ("model_busiest_ns", model.busiest_ns(bytes)),
        ("model_credit_gbs", model.credit_gbs(segments.message)),
        ("sim_over_model", latency / predicted),
    ]
    .into_iter()
    .collect();
    BenchResult {
        extra,
        ..BenchResult::new(bench, dev, run, check)
    }
}
