//! Megatron-style tensor parallelism on the rank = SIP process group:
//! column- and row-parallel linear layers built on the DSL [`matmul`], a
//! ReLU kernel, and the group's all-reduce (the DSL ring all-reduce on the
//! SIP ring).

use half::f16;
use kernbench_core::dsl::prelude::*;
use kernbench_core::host::group::{self, Rank, SpawnError};
use kernbench_core::host::{
    BufferKind, Device, LaunchOptions, Ring, RunReport, RuntimeError, Tensor,
};
use ndarray::{s, Array2, Axis, Slice};

use crate::{matmul, matmul_grid, ring_allreduce, ReduceOp};

/// Elements per message of the group's all-reduce.
pub const SEG: usize = 16384;

/// Operand blocks of the layers' GEMMs (TCM-staged).
const BLOCK: usize = 64;

/// Sum all-reduce of one tensor per rank on `ring`: the process group's
/// collective, and the same call a direct launch makes.
pub fn all_reduce_sum(
    dev: &mut Device,
    ring: &Ring,
    ts: &[Tensor<f16>],
) -> Result<RunReport, RuntimeError> {
    all_reduce_sum_via(dev, ring, ts, BufferKind::Tcm)
}

/// [`all_reduce_sum`] with the IPCQ messages landing in receive buffers of
/// kind `buffer`.
pub fn all_reduce_sum_via(
    dev: &mut Device,
    ring: &Ring,
    ts: &[Tensor<f16>],
    buffer: BufferKind,
) -> Result<RunReport, RuntimeError> {
    let len = ts.first().map_or(0, |t| t.rows() * t.cols());
    dev.launch_ring::<ring_allreduce>(ring, buffer, |r| {
        // The kernel reduces a vector: a dense tensor seen as one row.
        let flat = Ptr::<f16>::vector(ts[r].ptr().base(), len);
        ring_allreduce::args(flat, len, ReduceOp::Sum, SEG)
    })
}

/// [`group::spawn`] with the DSL ring all-reduce as the group's collective.
pub fn spawn<R, F>(dev: &mut Device, f: F) -> Result<Vec<R>, SpawnError>
where
    R: Send,
    F: Fn(&Rank) -> Result<R, RuntimeError> + Sync,
{
    group::spawn(dev, all_reduce_sum, f)
}

/// `y = max(x, 0)` over a whole tensor, one program per block of rows.
#[kernel]
pub fn relu(x: Ptr<f16>, y: Ptr<f16>, #[constexpr] rows: usize) {
    let r0 = tl::program_id(0) * rows;
    let t = tl::load(x.block([r0, 0], [rows, x.cols()]));
    let zero = tl::zeros::<f16>([1, 1]);
    tl::store(y.block([r0, 0], [rows, y.cols()]), tl::max(&t, &zero));
}

/// `y = x @ w` on this rank's SIP.
fn linear(rank: &Rank, x: &Tensor<f16>, w: &Tensor<f16>) -> Result<Tensor<f16>, RuntimeError> {
    let (m, k, n) = (x.rows(), x.cols(), w.cols());
    let y = rank.alloc::<f16>(m, n)?;
    let args = matmul::args(
        x.ptr(),
        w.ptr(),
        y.ptr(),
        m,
        n,
        k,
        BLOCK,
        BLOCK,
        BLOCK,
        Stage::Tcm,
    );
    rank.launch::<matmul>(&args, &LaunchOptions::grid(matmul_grid(m, n, BLOCK, BLOCK)))?;
    Ok(y)
}

/// Rank `rank`'s share of `a` along `axis` (ranks split evenly; the last
/// takes any remainder), written to the rank's HBM.
fn upload_shard(rank: &Rank, a: &Array2<f32>, axis: Axis) -> Result<Tensor<f16>, RuntimeError> {
    let (r, w, len) = (rank.rank(), rank.world_size(), a.len_of(axis));
    let shard = a
        .slice_axis(axis, Slice::from(r * len / w..(r + 1) * len / w))
        .to_owned();
    let t = rank.alloc::<f16>(shard.nrows(), shard.ncols())?;
    rank.write(&t, &shard)?;
    Ok(t)
}

/// A linear layer whose weight is split by output columns: each rank
/// computes its slice of the output from the whole input.
pub struct ColumnParallelLinear {
    /// This rank's `in x out/world` shard.
    pub weight: Tensor<f16>,
}

impl ColumnParallelLinear {
    /// Takes this rank's shard of the full `in x out` weight.
    pub fn new(rank: &Rank, full: &Array2<f32>) -> Result<Self, RuntimeError> {
        Ok(ColumnParallelLinear {
            weight: upload_shard(rank, full, Axis(1))?,
        })
    }

    /// `x @ W[:, shard]`: this rank's columns of the output.
    pub fn forward(&self, rank: &Rank, x: &Tensor<f16>) -> Result<Tensor<f16>, RuntimeError> {
        linear(rank, x, &self.weight)
    }
}

/// A linear layer whose weight is split by input rows: each rank multiplies
/// its slice of the input, and an all-reduce sums the partial outputs.
pub struct RowParallelLinear {
    /// This rank's `in/world x out` shard.
    pub weight: Tensor<f16>,
}

impl RowParallelLinear {
    pub fn new(rank: &Rank, full: &Array2<f32>) -> Result<Self, RuntimeError> {
        Ok(RowParallelLinear {
            weight: upload_shard(rank, full, Axis(0))?,
        })
    }

    /// `all_reduce(x_shard @ W[shard, :])`: the whole output on every rank,
    /// with the all-reduce's report.
    pub fn forward(
        &self,
        rank: &Rank,
        x: &Tensor<f16>,
    ) -> Result<(Tensor<f16>, RunReport), RuntimeError> {
        let y = linear(rank, x, &self.weight)?;
        let report = rank.all_reduce(&y)?;
        Ok((y, report))
    }
}

/// What one rank's MLP forward produced.
pub struct MlpOutput {
    /// The output on this rank's SIP (read it back with `Rank::read`).
    pub y: Tensor<f16>,
    /// The final all-reduce.
    pub all_reduce: RunReport,
}

/// A two-layer MLP, `relu(x @ w1) @ w2`: column-parallel, then
/// row-parallel with the all-reduce at the end. Every rank passes the whole
/// input and weights and keeps only its shards.
pub fn mlp_forward(
    rank: &Rank,
    x: &Array2<f32>,
    w1: &Array2<f32>,
    w2: &Array2<f32>,
) -> Result<MlpOutput, RuntimeError> {
    let fc1 = ColumnParallelLinear::new(rank, w1)?;
    let fc2 = RowParallelLinear::new(rank, w2)?;
    let xt = rank.alloc::<f16>(x.nrows(), x.ncols())?;
    rank.write(&xt, x)?;
    let h = fc1.forward(rank, &xt)?;
    let a = rank.alloc::<f16>(h.rows(), h.cols())?;
    let rows = BLOCK.min(h.rows());
    rank.launch::<relu>(
        &relu::args(h.ptr(), a.ptr(), rows),
        &LaunchOptions::grid([h.rows().div_ceil(rows), 1, 1]),
    )?;
    let (y, all_reduce) = fc2.forward(rank, &a)?;
    Ok(MlpOutput { y, all_reduce })
}

/// The MLP in f32 over fp16-rounded operands, rounding where the device
/// stores fp16 (after each GEMM and each partial sum).
pub fn mlp_reference(
    x: &Array2<f32>,
    w1: &Array2<f32>,
    w2: &Array2<f32>,
    world: usize,
) -> Array2<f32> {
    let h16 = |a: Array2<f32>| a.mapv(|v| f16::from_f32(v).to_f32());
    let (x, w1, w2) = (h16(x.clone()), h16(w1.clone()), h16(w2.clone()));
    let a = h16(x.dot(&w1)).mapv(|v| v.max(0.0));
    let mut y = Array2::<f32>::zeros((x.nrows(), w2.ncols()));
    for r in 0..world {
        let (s0, s1) = (r * a.ncols() / world, (r + 1) * a.ncols() / world);
        let part = h16(a.slice(s![.., s0..s1]).dot(&w2.slice(s![s0..s1, ..])));
        y = h16(y + part);
    }
    y
}
