//! Tiled GEMM: one program per output block.

use kernbench_core::dsl::prelude::*;

/// `c = a @ b` for row-major `a: m x k`, `b: k x n`, `c: m x n` (f16 in
/// and out, f32 accumulation). Program `(pm, pn)` computes the
/// `bm x bn` block of `c` at `(pm * bm, pn * bn)`, walking `k` in steps of
/// `bk` with one `tl::dot` per step. Edge blocks are masked, so any shape
/// works with the grid of [`matmul_grid`].
///
/// `m` and `n` are implied by the tensors (masking uses their shapes); they
/// are parameters for the host-side signature of dsl.md.
///
/// `staging` says where operand blocks go before the GEMM reads them (`Stage::Tcm`: DMA into TCM; `Stage::Sram`: DMA into the
/// cube's SRAM; `Stage::HbmRef`: no DMA, the GEMM streams them from HBM).
#[kernel]
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    a: Ptr<f16>,
    b: Ptr<f16>,
    c: Ptr<f16>,
    m: usize,
    n: usize,
    k: usize,
    #[constexpr] bm: usize,
    #[constexpr] bn: usize,
    #[constexpr] bk: usize,
    #[constexpr] staging: Stage,
) {
    let stage = staging;
    let (pm, pn) = (tl::program_id(0), tl::program_id(1));
    let mut acc = tl::zeros::<f32>([bm, bn]);
    // Software pipelining: the next step's operands are loaded before this
    // step's dot, so they get their own buffers and their DMA overlaps the
    // GEMM instead of waiting for it to free the space.
    let mut x = tl::load_to(a.block([pm * bm, 0], [bm, bk]), stage);
    let mut y = tl::load_to(b.block([0, pn * bn], [bk, bn]), stage);
    for kk in (0..k).step_by(bk) {
        let next = kk + bk;
        let prefetch = if next < k {
            Some((
                tl::load_to(a.block([pm * bm, next], [bm, bk]), stage),
                tl::load_to(b.block([next, pn * bn], [bk, bn]), stage),
            ))
        } else {
            None
        };
        acc = tl::dot(&x, &y, acc);
        if let Some((nx, ny)) = prefetch {
            x = nx;
            y = ny;
        }
    }
    tl::store(c.block([pm * bm, pn * bn], [bm, bn]), acc.cast::<f16>());
}

/// The launch grid of [`matmul`]: output blocks, rounded up.
pub fn matmul_grid(m: usize, n: usize, bm: usize, bn: usize) -> [usize; 3] {
    [m.div_ceil(bm.max(1)), n.div_ceil(bn.max(1)), 1]
}
