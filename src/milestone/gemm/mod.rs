//! `milestone gemm`: the DSL matmul over 8 shapes x 3 operand-staging
//! variants on one PE, and one large shape over more PEs and cubes; each
//! point beside the ideal pipeline of the same GEMM (`GemmIdeal`, from the
//! topology) and the physical bound (array peak, one read of each operand
//! from HBM).

mod figures;

use std::path::{Path, PathBuf};

use kernbench_core::dsl::Stage;
use kernbench_core::exec::oplog::OpLogSummary;
use kernbench_core::model::{GemmIdeal, GemmShape};
use kernbench_core::{Machine, PeLoc, Topology};
use serde::{Deserialize, Serialize};

use super::output::{json_bytes, num, Csv, Outputs};
use super::{Domain, MilestoneError};
use crate::bench::gemm::{run_gemm, GemmParams};
use crate::bench::{BenchError, RunMode};

pub use figures::render_figures;

/// The shapes (M, K, N) of the sweep: square sizes from under one tile to
/// 512, a decode-like and a prefill-like projection.
pub const SHAPES: [[usize; 3]; 8] = [
    [16, 16, 16],
    [32, 64, 32],
    [64, 64, 64],
    [128, 128, 128],
    [256, 256, 256],
    [512, 512, 512],
    [8, 8192, 1024],
    [2048, 8192, 1024],
];

/// The operand-staging variants.
pub const VARIANTS: [Stage; 3] = [Stage::HbmRef, Stage::Tcm, Stage::Sram];

/// (PEs per cube, cubes) of the scaling sweep: 1, 2, 4, ... PEs of one
/// cube, then all its PEs on 2, 4, ... cubes of SIP 0 (up to what the
/// topology has; 8 x 16 on the default one).
pub fn scaling(topo: &Topology) -> Vec<(u32, u32)> {
    let pes = topo.system.pes_per_cube.max(1);
    let cubes = topo.cubes_per_sip().max(1);
    let doubling = |top: u32| {
        std::iter::successors(Some(1u32), move |&x| x.checked_mul(2).filter(|&y| y < top))
            .chain((top > 1).then_some(top))
    };
    let mut v: Vec<(u32, u32)> = doubling(pes).map(|p| (p, 1)).collect();
    v.extend(doubling(cubes).skip(1).map(|c| (pes, c)));
    v
}

/// The gemm sweep's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct GemmSweep {
    pub shapes: Vec<[usize; 3]>,
    pub variants: Vec<Stage>,
    /// Output block rows, columns and K step of the shape sweep's kernel,
    /// at most (see [`block_for`]).
    pub block: [usize; 3],
    /// The scaling sweep's shape, variant and blocking (smaller blocks, so
    /// 128 PEs all get programs).
    pub scaling_shape: [usize; 3],
    pub scaling_variant: Stage,
    pub scaling_block: [usize; 3],
    pub scaling: Vec<(u32, u32)>,
}

impl GemmSweep {
    /// The milestone's sweep on `topo`.
    pub fn full(topo: &Topology) -> Self {
        GemmSweep {
            shapes: SHAPES.to_vec(),
            variants: VARIANTS.to_vec(),
            block: [128, 128, 128],
            scaling_shape: [2048, 8192, 1024],
            scaling_variant: Stage::HbmRef,
            scaling_block: [64, 64, 128],
            scaling: scaling(topo),
        }
    }
}

/// One simulation of the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GemmPoint {
    /// A shape and variant on one PE.
    Shape { shape: [usize; 3], variant: Stage },
    /// The scaling shape on `pes` PEs of each of `cubes` cubes.
    Scaling { pes: u32, cubes: u32 },
}

/// Per-stage wall-clock occupancy, ns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StagesNs {
    pub dma_in: f64,
    pub fetch: f64,
    pub gemm: f64,
    pub dma_out: f64,
}

/// A shape x variant point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeRow {
    /// `[M, K, N]`.
    pub shape: [usize; 3],
    pub variant: String,
    /// Smaller than one tile along some axis.
    pub under_tile: bool,
    pub wall_ns: f64,
    pub stages_ns: StagesNs,
    pub gemm_util_pct: f64,
    pub useful_eff_pct: f64,
    /// The ideal pipeline of the same GEMM.
    pub ideal_wall_ns: f64,
    /// The ideal's useful MAC efficiency.
    pub ideal_eff_pct: f64,
    /// The physical bound: `M·K·N` at the array's peak, or each operand
    /// and the result crossing the HBM slice once, whichever is longer.
    pub bound_ns: f64,
    pub op_log_summary: OpLogSummary,
}

/// A scaling point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingRow {
    pub shape: [usize; 3],
    pub pes: u32,
    pub cubes: u32,
    pub wall_ns: f64,
    pub useful_eff_pct: f64,
    /// The ideal's array time split over every PE, or its streamed bytes
    /// split over the cubes' slices, whichever is longer.
    pub bound_ns: f64,
}

/// A row of either kind (partial files hold both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GemmRow {
    Shape(ShapeRow),
    Scaling(ScalingRow),
}

/// The tile of the PE scheduler's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tile {
    pub m: u32,
    pub k: u32,
    pub n: u32,
}

/// `gemm_sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GemmDoc {
    pub version: u32,
    pub tile: Tile,
    pub rows: Vec<ShapeRow>,
    pub scaling: Vec<ScalingRow>,
}

/// The JSON file's name.
pub const JSON: &str = "gemm_sweep.json";
/// The CSV file's name.
pub const CSV: &str = "gemm_sweep.csv";

impl Domain for GemmSweep {
    const NAME: &'static str = "gemm";
    type Point = GemmPoint;
    type Row = GemmRow;

    fn points(&self) -> Vec<GemmPoint> {
        let shapes = self.shapes.iter().flat_map(|&shape| {
            self.variants
                .iter()
                .map(move |&variant| GemmPoint::Shape { shape, variant })
        });
        let scaling = self
            .scaling
            .iter()
            .map(|&(pes, cubes)| GemmPoint::Scaling { pes, cubes });
        shapes.chain(scaling).collect()
    }

    fn label(&self, p: &GemmPoint) -> String {
        match *p {
            GemmPoint::Shape { shape, variant } => format!("{} {}", dims(shape), variant.name()),
            GemmPoint::Scaling { pes, cubes } => format!(
                "{} {} over {pes} PE(s) x {cubes} cube(s)",
                dims(self.scaling_shape),
                self.scaling_variant.name()
            ),
        }
    }

    fn run(&self, topo: &Topology, p: &GemmPoint) -> Result<GemmRow, BenchError> {
        match *p {
            GemmPoint::Shape { shape, variant } => {
                let block = block_for(topo, shape, self.block);
                shape_row(topo, shape, variant, block).map(GemmRow::Shape)
            }
            GemmPoint::Scaling { pes, cubes } => {
                scaling_row(topo, self, pes, cubes).map(GemmRow::Scaling)
            }
        }
    }

    fn write(
        &self,
        topo: &Topology,
        rows: Vec<GemmRow>,
        dir: &Path,
    ) -> Result<Vec<PathBuf>, MilestoneError> {
        let doc = document(topo, rows);
        let mut files = write_data(&doc, dir)?;
        files.extend(render_figures(&doc, dir)?);
        Ok(files)
    }
}

/// `M x K x N`.
pub fn dims([m, k, n]: [usize; 3]) -> String {
    format!("{m}x{k}x{n}")
}

/// The blocking a kernel author picks for `shape`: `block` along each
/// axis, or the axis itself rounded up to whole tiles when it is shorter
/// (a static 128-block over 16 rows would run 4 tiles of padding).
pub fn block_for(topo: &Topology, [m, k, n]: [usize; 3], [bm, bn, bk]: [usize; 3]) -> [usize; 3] {
    let g = &topo.pe_gemm;
    let fit = |len: usize, block: usize, tile: u32| {
        let tile = (tile as usize).max(1);
        block.min(len.div_ceil(tile).saturating_mul(tile)).max(1)
    };
    [
        fit(m, bm, g.tile_m),
        fit(n, bn, g.tile_n),
        fit(k, bk, g.tile_k),
    ]
}

fn params(shape: [usize; 3], staging: Stage, block: [usize; 3]) -> GemmParams {
    let [m, k, n] = shape;
    let [bm, bn, bk] = block;
    GemmParams {
        m,
        k,
        n,
        staging,
        bm,
        bn,
        bk,
    }
}

fn gemm_shape(shape: [usize; 3], stage: Stage, block: [usize; 3]) -> GemmShape {
    let u = |v: usize| v as u64;
    GemmShape {
        m: u(shape[0]),
        k: u(shape[1]),
        n: u(shape[2]),
        block: block.map(u),
        stage,
    }
}

const PE0: PeLoc = PeLoc {
    sip: 0,
    cube: 0,
    pe: 0,
};

/// Runs one shape and variant on one PE and sets it beside its ideal.
pub fn shape_row(
    topo: &Topology,
    shape: [usize; 3],
    variant: Stage,
    block: [usize; 3],
) -> Result<ShapeRow, BenchError> {
    let r = run_gemm(
        "gemm",
        topo,
        &params(shape, variant, block),
        1,
        1,
        RunMode::TIMING_ONLY,
    )?;
    let machine = Machine::new(topo);
    let ideal = GemmIdeal::new(&machine, PE0, gemm_shape(shape, variant, block));
    let g = &topo.pe_gemm;
    let [m, k, n] = shape;
    let e = r.engines();
    let once = ((m * k + k * n + m * n) * 2) as f64 / topo.hbm_ctrl.effective_bw_gbs();
    let peak = ideal.macs as f64 / ideal.peak_macs_per_ns;
    Ok(ShapeRow {
        shape,
        variant: variant.name().to_string(),
        under_tile: m < g.tile_m as usize || k < g.tile_k as usize || n < g.tile_n as usize,
        wall_ns: r.run.wall_ns,
        stages_ns: StagesNs {
            dma_in: e.dma_in_ns,
            fetch: e.fetch_ns,
            gemm: e.gemm_ns,
            dma_out: e.dma_out_ns,
        },
        gemm_util_pct: r.run.gemm_util_pct,
        useful_eff_pct: r.run.useful_eff_pct,
        ideal_wall_ns: ideal.wall_ns,
        ideal_eff_pct: ideal.useful_eff_pct(),
        bound_ns: once.max(peak),
        op_log_summary: r.summary(),
    })
}

/// Runs the scaling shape over `pes` PEs of each of `cubes` cubes.
pub fn scaling_row(
    topo: &Topology,
    sweep: &GemmSweep,
    pes: u32,
    cubes: u32,
) -> Result<ScalingRow, BenchError> {
    let (shape, variant, block) = (
        sweep.scaling_shape,
        sweep.scaling_variant,
        sweep.scaling_block,
    );
    let r = run_gemm(
        "gemm-multi-pe",
        topo,
        &params(shape, variant, block),
        pes,
        cubes,
        RunMode::TIMING_ONLY,
    )?;
    let machine = Machine::new(topo);
    let ideal = GemmIdeal::new(&machine, PE0, gemm_shape(shape, variant, block));
    let all = f64::from(pes) * f64::from(cubes);
    Ok(ScalingRow {
        shape,
        pes,
        cubes,
        wall_ns: r.run.wall_ns,
        useful_eff_pct: r.run.useful_eff_pct,
        bound_ns: (ideal.stages.gemm_ns / all).max(ideal.stages.dma_in_ns / f64::from(cubes)),
    })
}

/// The document of a whole sweep, rows in point order.
pub fn document(topo: &Topology, rows: Vec<GemmRow>) -> GemmDoc {
    let g = &topo.pe_gemm;
    let mut doc = GemmDoc {
        version: 1,
        tile: Tile {
            m: g.tile_m,
            k: g.tile_k,
            n: g.tile_n,
        },
        rows: Vec::new(),
        scaling: Vec::new(),
    };
    for r in rows {
        match r {
            GemmRow::Shape(s) => doc.rows.push(s),
            GemmRow::Scaling(s) => doc.scaling.push(s),
        }
    }
    doc
}

/// Writes `gemm_sweep.json` and `gemm_sweep.csv`.
pub fn write_data(doc: &GemmDoc, dir: &Path) -> Result<Vec<PathBuf>, MilestoneError> {
    let mut out = Outputs::new(dir);
    out.save(JSON, &json_bytes(doc)?)?;
    let mut csv = Csv::new(&[
        "kind",
        "m",
        "k",
        "n",
        "variant",
        "under_tile",
        "pes",
        "cubes",
        "wall_ns",
        "dma_in_ns",
        "fetch_ns",
        "gemm_ns",
        "dma_out_ns",
        "gemm_util_pct",
        "useful_eff_pct",
        "ideal_wall_ns",
        "bound_ns",
    ]);
    for r in &doc.rows {
        let [m, k, n] = r.shape;
        let s = r.stages_ns;
        csv.row(&[
            "shape".into(),
            m.to_string(),
            k.to_string(),
            n.to_string(),
            r.variant.clone(),
            r.under_tile.to_string(),
            "1".into(),
            "1".into(),
            num(r.wall_ns),
            num(s.dma_in),
            num(s.fetch),
            num(s.gemm),
            num(s.dma_out),
            num(r.gemm_util_pct),
            num(r.useful_eff_pct),
            num(r.ideal_wall_ns),
            num(r.bound_ns),
        ]);
    }
    for r in &doc.scaling {
        let [m, k, n] = r.shape;
        let mut f = vec![
            "scaling".into(),
            m.to_string(),
            k.to_string(),
            n.to_string(),
        ];
        f.extend([String::new(), String::new()]);
        f.extend([r.pes.to_string(), r.cubes.to_string(), num(r.wall_ns)]);
        f.extend(std::iter::repeat_n(String::new(), 5));
        f.extend([num(r.useful_eff_pct), String::new(), num(r.bound_ns)]);
        csv.row(&f);
    }
    out.save(CSV, &csv.into_bytes())?;
    Ok(out.into_files())
}

/// Re-renders the figures from an existing `gemm_sweep.json` in `dir`.
pub fn rerender(dir: &Path) -> Result<Vec<PathBuf>, MilestoneError> {
    let doc: GemmDoc = super::output::read_json(&dir.join(JSON))?;
    render_figures(&doc, dir)
}
