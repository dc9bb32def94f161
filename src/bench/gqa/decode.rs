//! The decode panels: split-KV partial attention per rank, combined by a
//! log-sum-exp ring all-reduce.

use half::f16;
use kernbench_core::host::{Device, Ring, Tensor};
use kernbench_core::model::{AllReduceModel, DecodeModel};
use kernbench_core::Topology;
use kernels::decode_attention;

use super::{upload, GqaConfig, Inputs, PanelRun, Placement, BUFFER};
use crate::bench::{round_f16, BenchError, Check, RunMode};

/// One rank's tensors.
struct RankBufs {
    q: Tensor<f16>,
    k: Tensor<f16>,
    v: Tensor<f16>,
    rec: Tensor<f32>,
    o: Tensor<f16>,
}

pub(super) fn run(topo: &Topology, cfg: &GqaConfig, mode: RunMode) -> Result<PanelRun, BenchError> {
    let place = Placement::of(topo, cfg)?;
    let n = place.n_ranks;
    let (g, d, users, heads) = (cfg.group(), cfg.d_head, cfg.users, place.heads);
    let local = cfg.context / n;
    let cols = users * heads * g;
    let mut dev = super::device(topo, mode);
    let mut bufs = Vec::with_capacity(place.ring.world_size());
    for rank in 0..place.ring.world_size() {
        let home = place.home(rank);
        bufs.push(RankBufs {
            q: dev.alloc(home, cols, d)?,
            k: dev.alloc(home, users * heads * local, d)?,
            v: dev.alloc(home, users * heads * local, d)?,
            rec: dev.alloc(home, d + 2, cols)?,
            o: dev.alloc(home, d, cols)?,
        });
    }
    let s_len = cfg.context;
    // Every user's new-token queries (`h_q` rows, a K/V head's group
    // together) and caches (`h_kv x S` rows).
    let inputs = mode
        .data
        .then(|| Inputs::random(users * cfg.h_q, users * cfg.h_kv * s_len, d, 41));
    for (rank, b) in bufs.iter().enumerate() {
        let (qm, km) = rows_of(cfg, &place, rank);
        upload(&mut dev, inputs.as_ref(), (&qm, &km), (&b.q, &b.k, &b.v))?;
    }
    let scale = 1.0 / (d as f32).sqrt();
    let stride = place.stride;
    let run = dev.launch_ring::<decode_attention>(&place.ring, BUFFER, |r| {
        let b = &bufs[r];
        decode_attention::args(
            b.q.ptr(),
            b.k.ptr(),
            b.v.ptr(),
            b.rec.ptr(),
            b.o.ptr(),
            users,
            heads,
            local,
            stride,
            g,
            d,
            cfg.bn,
            scale,
        )
    })?;
    let check = match (&inputs, mode.check) {
        (Some(i), true) => Some(check(&mut dev, cfg, &place, &bufs, i, scale)?),
        _ => None,
    };
    // K/V bytes of the busiest slice: every rank's (single-user, one
    // cube) or one cube's sequence shard of every head.
    let kv_rank = (users * heads * local * d * 2 * 2) as u64;
    let slice_bytes = kv_rank * if cfg.panel.is_multi() { stride } else { n } as u64;
    let model = DecodeModel::new(dev.machine());
    let seq_ring = if cfg.panel.is_multi() {
        Ring::intercube_multisip(topo, n)?
    } else {
        place.ring.clone()
    };
    let combine = AllReduceModel::new(dev.machine(), &seq_ring, BUFFER, true);
    let record = ((d + 2) * cols * 4) as u64;
    let figures = [
        model.bound_ns(slice_bytes),
        model.predict_ns(slice_bytes, &combine, n, record, record.div_ceil(n as u64)),
        1.0,
        1.0,
    ];
    Ok(PanelRun::new(&place, &dev, run, check, figures))
}

/// For `rank`, the global row of each of its query rows and cache rows
/// (the cache is cut into contiguous shards).
fn rows_of(cfg: &GqaConfig, place: &Placement, rank: usize) -> (Vec<usize>, Vec<usize>) {
    let (i, p) = place.member(rank);
    let (g, heads, local) = (cfg.group(), place.heads, cfg.context / place.n_ranks);
    let mut q = Vec::new();
    let mut kv = Vec::new();
    for u in 0..cfg.users {
        for hl in 0..heads {
            let head = p * heads + hl;
            q.extend((0..g).map(|gi| (u * cfg.h_kv + head) * g + gi));
            let base = (u * cfg.h_kv + head) * cfg.context + i * local;
            kv.extend(base..base + local);
        }
    }
    (q, kv)
}

/// Member 0 of each head slice holds the output of its heads; compares
/// every query head with plain attention over the whole cache.
fn check(
    dev: &mut Device,
    cfg: &GqaConfig,
    place: &Placement,
    bufs: &[RankBufs],
    inputs: &Inputs,
    scale: f32,
) -> Result<Check, BenchError> {
    let (q, k, v) = (
        round_f16(&inputs.q),
        round_f16(&inputs.k),
        round_f16(&inputs.v),
    );
    let mut got = Vec::new();
    let mut want = Vec::new();
    // Member 0 of head slice p is installed rank p.
    for (p, b) in bufs.iter().enumerate().take(place.stride) {
        let o = dev.read(&b.o)?;
        let (qm, _) = rows_of(cfg, place, p);
        for (col, &row) in qm.iter().enumerate() {
            // Query row `row` is user u's head h, its K/V head h / group.
            let (u, h) = (row / cfg.h_q, row % cfg.h_q);
            let base = (u * cfg.h_kv + h / cfg.group()) * cfg.context;
            let s: Vec<f32> = (base..base + cfg.context)
                .map(|t| q.row(row).dot(&k.row(t)) * scale)
                .collect();
            let mx = s.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let e: Vec<f32> = s.iter().map(|x| (x - mx).exp()).collect();
            let l: f32 = e.iter().sum();
            let mut out = ndarray::Array1::<f32>::zeros(cfg.d_head);
            for (t, w) in e.iter().enumerate() {
                out.scaled_add(w / l, &v.row(base + t));
            }
            got.extend(o.column(col).iter().copied());
            want.extend(out);
        }
    }
    Ok(Check::compare(got.iter(), want.iter(), 1e-2))
}
