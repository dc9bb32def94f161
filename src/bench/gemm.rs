//! The GEMM benches: the DSL matmul on one PE, or spread over PEs and cubes.

use half::f16;
use kernbench_core::dsl::Stage;
use kernbench_core::pe::PeLoc;
use kernbench_core::runtime::{Device, LaunchOptions, Mapping, Place};
use kernbench_core::Topology;
use kernels::{matmul, matmul_grid, ParamSpec, Params};
use ndarray::Array2;

use super::{param_map, random_matrix, write_or_time, BenchError, BenchResult, Check, RunMode};

const SHAPE: [ParamSpec; 7] = [
    ParamSpec {
        name: "m",
        default: "512",
        help: "rows of A and C",
    },
    ParamSpec {
        name: "k",
        default: "512",
        help: "columns of A, rows of B",
    },
    ParamSpec {
        name: "n",
        default: "512",
        help: "columns of B and C",
    },
    ParamSpec {
        name: "variant",
        default: "tcm",
        help: "operand staging: hbm_ref, tcm or sram",
    },
    ParamSpec {
        name: "bm",
        default: "128",
        help: "output block rows per program",
    },
    ParamSpec {
        name: "bn",
        default: "128",
        help: "output block columns per program",
    },
    ParamSpec {
        name: "bk",
        default: "128",
        help: "K step per tl::dot",
    },
];

pub(super) const GEMM_PARAMS: &[ParamSpec] = &SHAPE;

pub(super) const MULTI_PARAMS: &[ParamSpec] = &[
    SHAPE[0],
    SHAPE[1],
    SHAPE[2],
    SHAPE[3],
    ParamSpec {
        name: "bm",
        default: "64",
        help: "output block rows per program",
    },
    ParamSpec {
        name: "bn",
        default: "64",
        help: "output block columns per program",
    },
    SHAPE[6],
    ParamSpec {
        name: "pes",
        default: "8",
        help: "PEs used per cube",
    },
    ParamSpec {
        name: "cubes",
        default: "1",
        help: "cubes used (of SIP 0, in index order)",
    },
];

/// The matmul of one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmConfig {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub stage: Stage,
    pub bm: usize,
    pub bn: usize,
    pub bk: usize,
    pub pes: u32,
    pub cubes: u32,
}

impl GemmConfig {
    fn from_params(p: &Params, multi: bool) -> Result<Self, BenchError> {
        Ok(GemmConfig {
            m: p.positive("m")?,
            k: p.positive("k")?,
            n: p.positive("n")?,
            stage: p.choice("variant", "hbm_ref, tcm or sram", Stage::from_name)?,
            bm: p.positive("bm")?,
            bn: p.positive("bn")?,
            bk: p.positive("bk")?,
            pes: if multi { p.positive("pes")? as u32 } else { 1 },
            cubes: if multi {
                p.positive("cubes")? as u32
            } else {
                1
            },
        })
    }
}

pub(super) fn run_single(
    topo: &Topology,
    p: &Params,
    mode: RunMode,
) -> Result<BenchResult, BenchError> {
    let cfg = GemmConfig::from_params(p, false)?;
    run_gemm("gemm", topo, &cfg, mode).map(|mut r| {
        r.params = param_map(p);
        r
    })
}

pub(super) fn run_multi(
    topo: &Topology,
    p: &Params,
    mode: RunMode,
) -> Result<BenchResult, BenchError> {
    let cfg = GemmConfig::from_params(p, true)?;
    run_gemm("gemm-multi-pe", topo, &cfg, mode).map(|mut r| {
        r.params = param_map(p);
        r
    })
}

/// Runs one matmul configuration.
pub fn run_gemm(
    bench: &'static str,
    topo: &Topology,
    cfg: &GemmConfig,
    mode: RunMode,
) -> Result<BenchResult, BenchError> {
    let s = &topo.system;
    if cfg.pes > s.pes_per_cube || cfg.cubes > topo.cubes_per_sip() {
        return Err(BenchError::Invalid(format!(
            "pes={} cubes={}: a cube has {} PEs and a SIP {} cubes",
            cfg.pes,
            cfg.cubes,
            s.pes_per_cube,
            topo.cubes_per_sip()
        )));
    }
    let mut dev = Device::new(topo)
        .with_data(mode.data)
        .with_records(mode.records);
    // Timing-only runs move the bytes but have no values to make.
    let inputs = mode.data.then(|| {
        (
            random_matrix(cfg.m, cfg.k, 1),
            random_matrix(cfg.k, cfg.n, 2),
        )
    });
    let c = dev.alloc::<f16>(Place::hbm(0, 0), cfg.m, cfg.n)?;
    let grid = matmul_grid(cfg.m, cfg.n, cfg.bm, cfg.bn);
    // Each cube reads operands from its own HBM slice (a copy per cube), so
    // spreading over cubes spreads the HBM traffic; program i runs on cube
    // i % cubes, on that cube's PEs round-robin.
    let programs = grid[0] * grid[1];
    let (cubes, per_cube) = (cfg.cubes as usize, cfg.pes as usize);
    let placement: Vec<PeLoc> = (0..programs)
        .map(|i| PeLoc {
            sip: 0,
            cube: (i % cubes) as u32,
            pe: ((i / cubes) % per_cube) as u32,
        })
        .collect();
    let mut work = Vec::new();
    for cube in 0..cfg.cubes {
        let home = Place::hbm(0, cube);
        let a = dev.alloc::<f16>(home, cfg.m, cfg.k)?;
        let b = dev.alloc::<f16>(home, cfg.k, cfg.n)?;
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
            cfg.stage.code(),
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
    Ok(BenchResult {
        bench,
        params: Default::default(),
        run,
        check,
        extra: Default::default(),
    })
}

/// `x @ y` in f32 over fp16-rounded inputs: what the kernel computes,
/// up to accumulation order and the fp16 rounding of the result.
pub fn reference(x: &Array2<f32>, y: &Array2<f32>) -> Array2<f32> {
    let r = |a: &Array2<f32>| a.mapv(|v| f16::from_f32(v).to_f32());
    r(x).dot(&r(y))
}
