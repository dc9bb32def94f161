//! The GEMM benches: the DSL matmul on one PE, or spread over PEs and cubes.

use half::f16;
use kernbench_core::dsl::Stage;
use kernbench_core::host::{LaunchOptions, Mapping, Place};
use kernbench_core::{PeLoc, Topology};
use kernels::{matmul, matmul_grid};
use ndarray::Array2;

use super::{random_matrix, round_f16, write_or_time, BenchError, BenchResult, Check, RunMode};
use crate::params::{ParamError, ParamSet, ParamSpec, Params};

const M: ParamSpec = ParamSpec::positive("m", "512", "rows of A and C");
const K: ParamSpec = ParamSpec::positive("k", "512", "columns of A, rows of B");
const N: ParamSpec = ParamSpec::positive("n", "512", "columns of B and C");
const STAGING: ParamSpec =
    ParamSpec::choice::<Stage>("staging", "tcm", "where operand blocks are staged");
const BK: ParamSpec = ParamSpec::positive("bk", "128", "K step per tl::dot");

/// The matmul of one configuration: `gemm`'s parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmParams {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub staging: Stage,
    pub bm: usize,
    pub bn: usize,
    pub bk: usize,
}

impl ParamSet for GemmParams {
    const SPECS: &'static [ParamSpec] = &[
        M,
        K,
        N,
        STAGING,
        ParamSpec::positive("bm", "128", "output block rows per program"),
        ParamSpec::positive("bn", "128", "output block columns per program"),
        BK,
    ];

    fn parse(p: &Params) -> Result<Self, ParamError> {
        Ok(GemmParams {
            m: p.positive("m")?,
            k: p.positive("k")?,
            n: p.positive("n")?,
            staging: p.choice("staging")?,
            bm: p.positive("bm")?,
            bn: p.positive("bn")?,
            bk: p.positive("bk")?,
        })
    }
}

/// `gemm-multi-pe`'s parameters: the matmul and the PEs it spreads over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiParams {
    pub gemm: GemmParams,
    /// PEs used per cube.
    pub pes: u32,
    /// Cubes used (of SIP 0, in index order).
    pub cubes: u32,
}

impl ParamSet for MultiParams {
    const SPECS: &'static [ParamSpec] = &[
        M,
        K,
        N,
        STAGING,
        ParamSpec::positive("bm", "64", "output block rows per program"),
        ParamSpec::positive("bn", "64", "output block columns per program"),
        BK,
        ParamSpec::positive("pes", "8", "PEs used per cube"),
        ParamSpec::positive("cubes", "1", "cubes used (of SIP 0, in index order)"),
    ];

    fn parse(p: &Params) -> Result<Self, ParamError> {
        Ok(MultiParams {
            gemm: GemmParams::parse(p)?,
            pes: p.positive_u32("pes")?,
            cubes: p.positive_u32("cubes")?,
        })
    }
}

pub(super) fn run_single(
    topo: &Topology,
    p: &Params,
    mode: RunMode,
) -> Result<BenchResult, BenchError> {
    run_gemm("gemm", topo, &GemmParams::parse(p)?, 1, 1, mode)
}

pub(super) fn run_multi(
    topo: &Topology,
    p: &Params,
    mode: RunMode,
) -> Result<BenchResult, BenchError> {
    let c = MultiParams::parse(p)?;
    run_gemm("gemm-multi-pe", topo, &c.gemm, c.pes, c.cubes, mode)
}

/// Runs one matmul configuration over `pes` PEs of each of `cubes` cubes.
pub fn run_gemm(
    bench: &'static str,
    topo: &Topology,
    cfg: &GemmParams,
    pes: u32,
    cubes: u32,
    mode: RunMode,
) -> Result<BenchResult, BenchError> {
    let s = &topo.system;
    if pes > s.pes_per_cube || cubes > topo.cubes_per_sip() {
        return Err(BenchError::Invalid(format!(
            "pes={pes} cubes={cubes}: a cube has {} PEs and a SIP {} cubes",
            s.pes_per_cube,
            topo.cubes_per_sip()
        )));
    }
    let mut dev = mode.device(topo);
    // Allocate first: a shape the slices cannot hold is refused before any
    // host array is made.
    let c = dev.alloc::<f16>(Place::hbm(0, 0), cfg.m, cfg.n)?;
    let mut operands = Vec::new();
    for cube in 0..cubes {
        let home = Place::hbm(0, cube);
        let a = dev.alloc::<f16>(home, cfg.m, cfg.k)?;
        let b = dev.alloc::<f16>(home, cfg.k, cfg.n)?;
        operands.push((cube, a, b));
    }
    // Timing-only runs move the bytes but have no values to make.
    let inputs = mode.data.then(|| {
        (
            random_matrix(cfg.m, cfg.k, 1),
            random_matrix(cfg.k, cfg.n, 2),
        )
    });
    let grid = matmul_grid(cfg.m, cfg.n, cfg.bm, cfg.bn);
    // Each cube reads operands from its own HBM slice (a copy per cube), so
    // spreading over cubes spreads the HBM traffic; program i runs on cube
    // i % cubes, on that cube's PEs round-robin.
    let programs = grid[0] * grid[1];
    let (n_cubes, per_cube) = (cubes as usize, pes as usize);
    let placement: Vec<PeLoc> = (0..programs)
        .map(|i| PeLoc {
            sip: 0,
            cube: (i % n_cubes) as u32,
            pe: ((i / n_cubes) % per_cube) as u32,
        })
        .collect();
    let mut work = Vec::new();
    for (cube, a, b) in operands {
        write_or_time(&mut dev, &a, inputs.as_ref().map(|(x, _)| x))?;
        write_or_time(&mut dev, &b, inputs.as_ref().map(|(_, y)| y))?;
        let args = matmul::args(
            a.ptr(),
            b.ptr(),
            c.ptr(),
            cfg.m,
            cfg.n,
            cfg.k,
            cfg.bm,
            cfg.bn,
            cfg.bk,
            cfg.staging,
        );
        // Every program is traced against this cube's copies; keep the ones
        // placed on this cube.
        let opts = LaunchOptions::grid(grid).on(Mapping::Pes(placement.clone()));
        for (pe, programs) in dev.trace::<matmul>(&args, &opts)? {
            if pe.cube == cube {
                work.push((pe, programs));
            }
        }
    }
    let run = dev.run_programs(matmul::NAME, work)?;
    let check = if let (true, Some((x, y))) = (mode.check, &inputs) {
        let got = dev.read(&c)?;
        let want = reference(x, y);
        // fp16 output: half an ulp (2^-11) of the largest value, with room
        // for f32 accumulation order.
        Some(Check::compare(got.iter(), want.iter(), 2e-3))
    } else {
        None
    };
    Ok(BenchResult::new(bench, &dev, run, check))
}

/// `x @ y` in f32 over fp16-rounded inputs: what the kernel computes,
/// up to accumulation order and the fp16 rounding of the result.
pub fn reference(x: &Array2<f32>, y: &Array2<f32>) -> Array2<f32> {
    round_f16(x).dot(&round_f16(y))
}
