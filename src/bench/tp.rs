//! The tensor-parallel MLP bench: rank = SIP, column- then row-parallel
//! linear layers, the all-reduce at the end.

use kernbench_core::host::{BufferKind, Ring};
use kernbench_core::model::AllReduceModel;
use kernbench_core::Topology;
use kernels::tp::{mlp_forward, mlp_reference};

use super::ring::{finish, Segments};
use super::{host_arrays_fit, random_matrix, BenchError, BenchResult, Check, RunMode};
use crate::params::{ParamError, ParamSet, ParamSpec, Params};

/// `tp-mlp`'s parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MlpParams {
    pub batch: usize,
    pub hidden: usize,
    pub ffn: usize,
}

impl ParamSet for MlpParams {
    const SPECS: &'static [ParamSpec] = &[
        ParamSpec::positive("batch", "16", "tokens (rows of the input)"),
        ParamSpec::positive("hidden", "256", "model width (input and output features)"),
        ParamSpec::positive("ffn", "1024", "inner width, split over the ranks"),
    ];

    fn parse(p: &Params) -> Result<Self, ParamError> {
        Ok(MlpParams {
            batch: p.positive("batch")?,
            hidden: p.positive("hidden")?,
            ffn: p.positive("ffn")?,
        })
    }
}

pub(super) fn run(topo: &Topology, p: &Params, mode: RunMode) -> Result<BenchResult, BenchError> {
    let MlpParams { batch, hidden, ffn } = MlpParams::parse(p)?;
    let world = topo.system.sips as usize;
    if world < 2 {
        return Err(BenchError::Invalid(
            "tp-mlp needs at least 2 SIPs (rank = SIP)".into(),
        ));
    }
    // The whole input and weights live on the host (each rank uploads its
    // shards), plus a scaled copy of each weight.
    host_arrays_fit(&[
        (batch, hidden),
        (hidden, ffn),
        (hidden, ffn),
        (ffn, hidden),
        (ffn, hidden),
    ])?;
    let x = random_matrix(batch, hidden, 11);
    // Small weights keep activations in fp16's comfortable range.
    let w1 = random_matrix(hidden, ffn, 12).mapv(|v| v / (hidden as f32).sqrt());
    let w2 = random_matrix(ffn, hidden, 13).mapv(|v| v / (ffn as f32).sqrt());
    let mut dev = mode.device(topo);
    let outs = kernels::tp::spawn(&mut dev, |rank| {
        let out = mlp_forward(rank, &x, &w1, &w2)?;
        let y = if mode.check {
            Some(rank.read(&out.y)?)
        } else {
            None
        };
        Ok((y, out.all_reduce))
    })?;
    let check = if mode.check {
        let want = mlp_reference(&x, &w1, &w2, world);
        let ys: Vec<_> = outs.iter().filter_map(|(y, _)| y.as_ref()).collect();
        let mut c = Check::compare(ys[0].iter(), want.iter(), 1e-2);
        // Every rank ends with the same output.
        c.ok &= ys.len() == world && ys.iter().all(|y| *y == ys[0]);
        Some(c)
    } else {
        None
    };
    let ring = Ring::sips(topo)?;
    let model = AllReduceModel::new(dev.machine(), &ring, BufferKind::Tcm, true);
    let bytes = (batch * hidden * 2) as u64;
    let segments = Segments::of(bytes, world, kernels::tp::SEG, topo.ipcq.depth);
    let mut r = finish(
        "tp-mlp",
        &dev,
        world,
        bytes,
        segments,
        outs[0].1.clone(),
        check,
        &model,
    );
    // Device time when the forward pass ends with the final all-reduce,
    // from the device's creation: the weights' and the input's uploads
    // count, a --check read-back after it does not.
    let ar = &outs[0].1;
    r.extra.insert("forward_ns", ar.start_ns + ar.wall_ns);
    Ok(r)
}
