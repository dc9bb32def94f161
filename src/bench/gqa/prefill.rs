//! The prefill panels: ring K/V attention over the sequence ring.

use half::f16;
use kernbench_core::host::{Device, Ring, Tensor};
use kernbench_core::model::{AllReduceModel, RingAttentionModel, StepWork};
use kernbench_core::Topology;
use kernels::{ring_attention, RingShape, Sharding, Visibility};
use ndarray::{s, Array2};

use super::{upload, GqaConfig, Inputs, PanelRun, Placement, BUFFER};
use crate::bench::attention::{reference, AttentionParams, Mask};
use crate::bench::{BenchError, Check, RunMode};

/// One rank's tensors.
struct RankBufs {
    q: Tensor<f16>,
    k: Tensor<f16>,
    v: Tensor<f16>,
    o: Tensor<f16>,
    acc: Tensor<f32>,
    m: Tensor<f32>,
    l: Tensor<f32>,
    stage_k: Tensor<f16>,
    stage_v: Tensor<f16>,
}

pub(super) fn run(topo: &Topology, cfg: &GqaConfig, mode: RunMode) -> Result<PanelRun, BenchError> {
    let place = Placement::of(topo, cfg)?;
    let n = place.n_ranks;
    let (g, d) = (cfg.group(), cfg.d_head);
    let shape = RingShape {
        users: cfg.users,
        heads: place.heads,
        local: cfg.context / n,
        group: g,
    };
    let mut dev = super::device(topo, mode);
    // Allocate everything first: a shape the slices cannot hold is refused
    // before any host array is made.
    let mut bufs = Vec::with_capacity(place.ring.world_size());
    for rank in 0..place.ring.world_size() {
        let home = place.home(rank);
        let (qr, kr) = (shape.q_rows(), shape.kv_rows());
        bufs.push(RankBufs {
            q: dev.alloc(home, qr, d)?,
            k: dev.alloc(home, kr, d)?,
            v: dev.alloc(home, kr, d)?,
            o: dev.alloc(home, qr, d)?,
            acc: dev.alloc(home, qr, d)?,
            m: dev.alloc(home, qr, 1)?,
            l: dev.alloc(home, qr, 1)?,
            stage_k: dev.alloc(home, 2 * kr, d)?,
            stage_v: dev.alloc(home, 2 * kr, d)?,
        });
    }
    let s_len = cfg.context;
    // Every user's Q (`h_kv x S x group` stacked rows), K and V (`h_kv x S`
    // rows).
    let rows = cfg.users * cfg.h_kv * s_len;
    let inputs = mode.data.then(|| Inputs::random(rows * g, rows, d, 31));
    for (rank, b) in bufs.iter().enumerate() {
        let (qm, km) = rows_of(cfg, &place, &shape, rank);
        upload(&mut dev, inputs.as_ref(), (&qm, &km), (&b.q, &b.k, &b.v))?;
    }
    let scale = 1.0 / (d as f32).sqrt();
    let (sharding, causal, stride) = (cfg.sharding, cfg.causal, place.stride);
    let run =
        dev.launch_ring_grid::<ring_attention>(&place.ring, BUFFER, shape.programs(n), |r| {
            let b = &bufs[r];
            ring_attention::args(
                b.q.ptr(),
                b.k.ptr(),
                b.v.ptr(),
                b.o.ptr(),
                b.acc.ptr(),
                b.m.ptr(),
                b.l.ptr(),
                b.stage_k.ptr(),
                b.stage_v.ptr(),
                shape.users,
                shape.heads,
                shape.local,
                stride,
                g,
                d,
                cfg.bm,
                cfg.bn,
                sharding,
                causal,
                scale,
            )
        })?;
    let check = match (&inputs, mode.check) {
        (Some(i), true) => Some(check(&mut dev, cfg, &place, &shape, &bufs, i, scale)?),
        _ => None,
    };
    let figures = model(&dev, cfg, &place, &shape)?;
    Ok(PanelRun::new(&place, &dev, run, check, figures))
}

/// For `rank`, the global row of each of its Q rows and of its K/V rows.
fn rows_of(
    cfg: &GqaConfig,
    place: &Placement,
    shape: &RingShape,
    rank: usize,
) -> (Vec<usize>, Vec<usize>) {
    let (i, p) = place.member(rank);
    let (n, s_len, g) = (place.n_ranks, cfg.context, shape.group);
    let mut q = Vec::with_capacity(shape.q_rows());
    let mut kv = Vec::with_capacity(shape.kv_rows());
    for u in 0..shape.users {
        for hl in 0..shape.heads {
            let head = p * shape.heads + hl;
            let base = (u * cfg.h_kv + head) * s_len;
            for j in 0..shape.local {
                let pos = cfg.sharding.position(i, n, shape.local, j);
                kv.push(base + pos);
                q.extend((0..g).map(|gi| (base + pos) * g + gi));
            }
        }
    }
    (q, kv)
}

/// Gathers every rank's output into the global layout and compares it
/// with plain attention per user.
fn check(
    dev: &mut Device,
    cfg: &GqaConfig,
    place: &Placement,
    shape: &RingShape,
    bufs: &[RankBufs],
    inputs: &Inputs,
    scale: f32,
) -> Result<Check, BenchError> {
    let mut got = Array2::<f32>::zeros(inputs.q.dim());
    for (rank, b) in bufs.iter().enumerate() {
        let o = dev.read(&b.o)?;
        for (local, global) in rows_of(cfg, place, shape, rank).0.into_iter().enumerate() {
            got.row_mut(global).assign(&o.row(local));
        }
    }
    let params = AttentionParams {
        seq: cfg.context,
        heads: cfg.h_q,
        kv_heads: cfg.h_kv,
        d: cfg.d_head,
        bm: cfg.bm,
        bn: cfg.bn,
        pes: 1,
        mask: if cfg.causal { Mask::Causal } else { Mask::Full },
    };
    let (qr, kr) = (cfg.h_q * cfg.context, cfg.h_kv * cfg.context);
    let mut want = Array2::<f32>::zeros(inputs.q.dim());
    for u in 0..cfg.users {
        let (q, k, v) = (
            inputs.q.slice(s![u * qr..(u + 1) * qr, ..]).to_owned(),
            inputs.k.slice(s![u * kr..(u + 1) * kr, ..]).to_owned(),
            inputs.v.slice(s![u * kr..(u + 1) * kr, ..]).to_owned(),
        );
        let r = reference(&params, &q, &k, &v, scale);
        want.slice_mut(s![u * qr..(u + 1) * qr, ..]).assign(&r);
    }
    // fp16 scores and outputs, the state kept in f32 between steps.
    Ok(Check::compare(got.iter(), want.iter(), 1e-2))
}

/// Work of member `i` at step `s`: `(block pairs, q blocks with work)`.
fn step_pairs(
    cfg: &GqaConfig,
    sharding: Sharding,
    n: usize,
    local: usize,
    i: usize,
    s: usize,
) -> (u64, u64) {
    let (g, bm, bn) = (cfg.group(), cfg.bm, cfg.bn);
    let chunks = sharding.chunks();
    let chunk = local / chunks;
    let from = (i + n - s) % n;
    let (mut pairs, mut blocks) = (0u64, 0u64);
    for qc in 0..chunks {
        let qa = sharding.global_chunk(i, n, qc);
        for first in (0..chunk * g).step_by(bm) {
            let rows = bm.min(chunk * g - first);
            let mut any = false;
            for c in 0..chunks {
                let kb = sharding.global_chunk(from, n, c);
                let keys = match kernels::ring_prefill::visibility(cfg.causal, qa, kb) {
                    Visibility::All => chunk,
                    Visibility::Diagonal => chunk.min((first + rows - 1) / g + 1),
                    Visibility::None => 0,
                };
                any |= keys > 0;
                pairs += keys.div_ceil(bn) as u64;
            }
            blocks += u64::from(any);
        }
    }
    (pairs, blocks)
}

/// Causal work of the most loaded member over the mean, with `sharding`
/// (a ring of no members counts as one).
pub fn imbalance(cfg: &GqaConfig, sharding: Sharding, n: usize) -> f64 {
    let n = n.max(1);
    let local = cfg.context / n;
    let work: Vec<u64> = (0..n)
        .map(|i| {
            (0..n)
                .map(|s| step_pairs(cfg, sharding, n, local, i, s).0)
                .sum()
        })
        .collect();
    let mean = work.iter().sum::<u64>() as f64 / n as f64;
    work.iter().copied().max().unwrap_or(0) as f64 / mean.max(1e-30)
}

/// `[bound, model, imbalance (zigzag), imbalance (contiguous)]`, ns.
fn model(
    dev: &Device,
    cfg: &GqaConfig,
    place: &Placement,
    shape: &RingShape,
) -> Result<[f64; 4], BenchError> {
    let topo = dev.topology();
    let n = place.n_ranks;
    let pes = place.ring.world_size() as f64;
    let peak = topo.pe_gemm.macs_per_ns();
    let bound = cfg.macs() / (pes * peak);
    // One sequence ring's link, shared by the head slices' rings.
    let seq_ring = if cfg.panel.is_multi() {
        Ring::intercube_multisip(topo, n)?
    } else {
        place.ring.clone()
    };
    let link = AllReduceModel::new(dev.machine(), &seq_ring, BUFFER, true).link_gbs;
    let d = cfg.d_head as u64;
    // Blocks no larger than a chunk's rows and keys.
    let chunk = shape.local / cfg.sharding.chunks();
    let (bm, bn) = (cfg.bm.min(chunk * shape.group), cfg.bn.min(chunk));
    let m = RingAttentionModel::new(
        dev.machine(),
        place.ring.pes[0],
        [bm as u64, bn as u64, d],
        link / place.stride as f64,
    );
    let per_user_head = (shape.users * shape.heads) as u64;
    let shard = per_user_head * shape.local as u64 * d * 2 * 2;
    // Ranks sharing one slice: all of them (single-user) or a cube's PEs.
    let per_slice = if cfg.panel.is_multi() {
        place.stride
    } else {
        n
    };
    let steps: Vec<StepWork> = (0..n)
        .map(|s| {
            let work: Vec<(u64, u64)> = (0..n)
                .map(|i| step_pairs(cfg, cfg.sharding, n, shape.local, i, s))
                .collect();
            let pairs = work.iter().map(|w| w.0).max().unwrap_or(0) * per_user_head;
            let relay = if s + 1 < n { shard } else { 0 };
            let rank_bytes = |&(p, b): &(u64, u64)| {
                let kv = p * per_user_head * bn as u64 * d * 4;
                let state = b * per_user_head * bm as u64 * (d * 2 + 2 * (d * 4 + 8));
                kv + state + 2 * relay
            };
            let busiest = if per_slice == n {
                work.iter().map(rank_bytes).sum()
            } else {
                work.iter().map(rank_bytes).max().unwrap_or(0) * per_slice as u64
            };
            StepWork {
                pairs,
                shard_bytes: relay,
                slice_bytes: busiest,
            }
        })
        .collect();
    Ok([
        bound,
        m.predict_ns(&steps),
        imbalance(cfg, Sharding::Zigzag, n),
        imbalance(cfg, Sharding::Contiguous, n),
    ])
}
