//! The gemm figures, drawn from `gemm_sweep.json` alone (so `--fast` and
//! `merge` draw exactly what a run draws).

use std::path::{Path, PathBuf};

use plotters::chart::SeriesLabelPosition;

use super::{dims, GemmDoc, ShapeRow};
use crate::milestone::output::Outputs;
use crate::milestone::plot::{
    bar_chart, color, line_chart_at, render, time_ns, titled, Axis, Bars, Marks, Series, Stroke,
    PALETTE,
};
use crate::milestone::MilestoneError;

/// The figures' file names.
pub const FIGURES: [&str; 4] = [
    "gemm_stage_breakdown.png",
    "gemm_mac_utilization_measured.png",
    "gemm_mac_utilization_theoretical_vs_measured.png",
    "gemm_pe_scaling.png",
];

/// Variants in the order the sweep runs them.
fn variants(doc: &GemmDoc) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in &doc.rows {
        if !v.contains(&r.variant) {
            v.push(r.variant.clone());
        }
    }
    v
}

/// Shapes in sweep order, under-tile ones marked with `*`.
fn shapes(doc: &GemmDoc) -> Vec<([usize; 3], String)> {
    let mut v: Vec<([usize; 3], String)> = Vec::new();
    for r in &doc.rows {
        if !v.iter().any(|(s, _)| *s == r.shape) {
            let mark = if r.under_tile { "*" } else { "" };
            v.push((r.shape, format!("{}{mark}", dims(r.shape))));
        }
    }
    v
}

fn row<'a>(doc: &'a GemmDoc, shape: [usize; 3], variant: &str) -> Option<&'a ShapeRow> {
    doc.rows
        .iter()
        .find(|r| r.shape == shape && r.variant == variant)
}

/// One value per shape for `variant` (NaN where the sweep has none).
fn per_shape(doc: &GemmDoc, variant: &str, f: impl Fn(&ShapeRow) -> f64) -> Vec<f64> {
    shapes(doc)
        .iter()
        .map(|(s, _)| row(doc, *s, variant).map_or(f64::NAN, &f))
        .collect()
}

fn pct(v: f64) -> String {
    format!("{}%", crate::milestone::plot::plain(v))
}

const UNDER: &str = "shape M x K x N   (* under one tile: M<32, K<64 or N<32 for a 32x64x32 tile)";

/// Draws every gemm figure into `dir`.
pub fn render_figures(doc: &GemmDoc, dir: &Path) -> Result<Vec<PathBuf>, MilestoneError> {
    let under = UNDER
        .replace(
            "32x64x32",
            &format!("{}x{}x{}", doc.tile.m, doc.tile.k, doc.tile.n),
        )
        .replace("M<32", &format!("M<{}", doc.tile.m))
        .replace("K<64", &format!("K<{}", doc.tile.k))
        .replace("N<32", &format!("N<{}", doc.tile.n));
    let cats: Vec<String> = shapes(doc).into_iter().map(|(_, l)| l).collect();
    let vars = variants(doc);
    let mut out = Outputs::new(dir);

    let stages = render(
        FIGURES[0],
        (1400, 420 * vars.len().max(1) as u32 + 60),
        |root| {
            let root = titled(
            root,
            "GEMM pipeline stages on one PE: wall-clock time each stage was busy, and the run's wall time",
        )?;
            let panels = root.split_evenly((vars.len().max(1), 1));
            for (v, area) in vars.iter().zip(&panels) {
                let stage = |name: &str, i: usize, f: fn(&ShapeRow) -> f64| Bars {
                    name: name.into(),
                    color: color(i),
                    values: per_shape(doc, v, f),
                };
                let bars = [
                    stage("DMA in", 0, |r| r.stages_ns.dma_in),
                    stage("Fetch", 1, |r| r.stages_ns.fetch),
                    stage("GEMM (MAC array)", 2, |r| r.stages_ns.gemm),
                    stage("DMA out (write-back)", 3, |r| r.stages_ns.dma_out),
                ];
                let wall = Marks {
                    name: "wall time".into(),
                    values: per_shape(doc, v, |r| r.wall_ns),
                };
                bar_chart(
                    area,
                    &format!("operands: {v}"),
                    (&cats, &under),
                    Axis::log("time (log scale)").ticks(time_ns),
                    &bars,
                    Some(&wall),
                )?;
            }
            Ok(())
        },
    )?;
    out.save(FIGURES[0], &stages)?;

    let measured = render(FIGURES[1], (1400, 900), |root| {
        let root = titled(root, "GEMM on one PE, measured by the simulator")?;
        let panels = root.split_evenly((2, 1));
        let by_variant = |f: fn(&ShapeRow) -> f64| -> Vec<Bars> {
            vars.iter()
                .enumerate()
                .map(|(i, v)| Bars {
                    name: v.clone(),
                    color: color(i),
                    values: per_shape(doc, v, f),
                })
                .collect()
        };
        bar_chart(
            &panels[0],
            "GEMM-engine utilization: MAC array busy / wall time",
            (&cats, &under),
            Axis::linear("utilization (%)").ticks(pct),
            &by_variant(|r| r.gemm_util_pct),
            None,
        )?;
        bar_chart(
            &panels[1],
            "useful MAC efficiency: M*K*N / (wall time x array peak MACs per ns)",
            (&cats, &under),
            Axis::linear("efficiency (%)").ticks(pct),
            &by_variant(|r| r.useful_eff_pct),
            None,
        )?;
        Ok(())
    })?;
    out.save(FIGURES[1], &measured)?;

    let vs = render(
        FIGURES[2],
        (1400, 380 * vars.len().max(1) as u32 + 60),
        |root| {
            let root = titled(
                root,
                "Useful MAC efficiency: ideal pipeline (model from topology.yaml) vs simulated",
            )?;
            let panels = root.split_evenly((vars.len().max(1), 1));
            for (v, area) in vars.iter().zip(&panels) {
                let bars = [
                    Bars {
                        name: "ideal pipeline (model)".into(),
                        color: PALETTE[6],
                        values: per_shape(doc, v, |r| r.ideal_eff_pct),
                    },
                    Bars {
                        name: "simulated".into(),
                        color: PALETTE[0],
                        values: per_shape(doc, v, |r| r.useful_eff_pct),
                    },
                ];
                bar_chart(
                    area,
                    &format!("operands: {v}"),
                    (&cats, &under),
                    Axis::linear("useful MAC efficiency (%)").ticks(pct),
                    &bars,
                    None,
                )?;
            }
            Ok(())
        },
    )?;
    out.save(FIGURES[2], &vs)?;

    let scaling = render(FIGURES[3], (1100, 650), |root| {
        let Some(first) = doc.scaling.first() else {
            return Ok(());
        };
        let root = titled(
            root,
            &format!(
                "{} GEMM, operands streamed from HBM, spread over PEs and cubes",
                dims(first.shape)
            ),
        )?;
        let total = |r: &super::ScalingRow| f64::from(r.pes) * f64::from(r.cubes);
        let in_cube = doc
            .scaling
            .iter()
            .filter(|r| r.cubes == 1)
            .map(|r| (total(r), r.wall_ns));
        let cubes = doc
            .scaling
            .iter()
            .filter(|r| r.pes == doc.scaling.iter().map(|r| r.pes).max().unwrap_or(1))
            .map(|r| (total(r), r.wall_ns));
        let single = doc
            .scaling
            .iter()
            .find(|r| total(r) == 1.0)
            .map(|r| r.wall_ns);
        let mut series = vec![
            Series::new(
                "PEs of one cube (one HBM slice)",
                PALETTE[0],
                Stroke::Measured,
            )
            .with_points(in_cube),
            Series::new(
                "cubes of 8 PEs (a slice each)",
                PALETTE[1],
                Stroke::Measured,
            )
            .with_points(cubes),
            Series::new(
                "bound: array time / PEs, or streamed bytes / slices",
                PALETTE[6],
                Stroke::Dashed,
            )
            .with_points(doc.scaling.iter().map(|r| (total(r), r.bound_ns))),
        ];
        if let Some(one) = single {
            series.push(
                Series::new("1 PE's time / PEs", PALETTE[2], Stroke::Dashed)
                    .with_points(doc.scaling.iter().map(|r| (total(r), one / total(r)))),
            );
        }
        line_chart_at(
            &root,
            "",
            Axis::pow2("PEs in all (log scale)"),
            Axis::log("simulated wall time (log scale)").ticks(time_ns),
            &series,
            SeriesLabelPosition::LowerLeft,
        )
    })?;
    out.save(FIGURES[3], &scaling)?;
    Ok(out.into_files())
}
