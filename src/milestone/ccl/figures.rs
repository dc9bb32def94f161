//! The ccl figures, drawn from `allreduce_sweep.json` alone.

use std::path::{Path, PathBuf};

use plotters::chart::SeriesLabelPosition;

use super::{CclDoc, CclRow};
use crate::milestone::output::Outputs;
use crate::milestone::plot::{
    bytes, color, line_chart, line_chart_at, plain, render, time_ns, titled, Axis, Series, Stroke,
    PALETTE,
};
use crate::milestone::MilestoneError;

/// The figures' file names (the topology diagram is drawn apart).
pub const FIGURES: [&str; 4] = [
    "allreduce_latency.png",
    "allreduce_busbw.png",
    "allreduce_buffer_kinds.png",
    "allreduce_sim_vs_model.png",
];

/// Values of one field in sweep order, without repeats.
fn distinct(doc: &CclDoc, f: fn(&CclRow) -> &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in &doc.rows {
        if !v.iter().any(|x| x == f(r)) {
            v.push(f(r).to_string());
        }
    }
    v
}

fn rows<'a>(doc: &'a CclDoc, ring: &'a str, buffer: &'a str) -> impl Iterator<Item = &'a CclRow> {
    doc.rows
        .iter()
        .filter(move |r| r.ring == ring && r.buffer == buffer)
}

fn ranks(doc: &CclDoc, ring: &str) -> usize {
    doc.rows
        .iter()
        .find(|r| r.ring == ring)
        .map_or(0, |r| r.n_ranks)
}

fn gbs(v: f64) -> String {
    plain(v)
}

/// The buffer kind the per-ring figures show: TCM if swept.
fn main_buffer(buffers: &[String]) -> String {
    buffers
        .iter()
        .find(|b| b.as_str() == "tcm")
        .or(buffers.first())
        .cloned()
        .unwrap_or_default()
}

/// Draws every ccl figure except the topology into `dir`.
pub fn render_figures(doc: &CclDoc, dir: &Path) -> Result<Vec<PathBuf>, MilestoneError> {
    let rings = distinct(doc, |r| &r.ring);
    let buffers = distinct(doc, |r| &r.buffer);
    let main = main_buffer(&buffers);
    let mut out = Outputs::new(dir);
    let size_axis = Axis::pow2("bytes per rank (log scale)").ticks(bytes);

    let latency = render(FIGURES[0], (1100, 700), |root| {
        let root = titled(
            root,
            &format!("Ring all-reduce latency ({main} receive buffers, rank data in HBM)"),
        )?;
        let mut series = Vec::new();
        for (i, ring) in rings.iter().enumerate() {
            let n = ranks(doc, ring);
            series.push(
                Series::new(
                    format!("{ring} ({n} ranks), simulated"),
                    color(i),
                    Stroke::Measured,
                )
                .with_points(rows(doc, ring, &main).map(|r| (r.bytes as f64, r.latency_ns))),
            );
            series.push(
                Series::new(
                    format!("{ring}, alpha-beta model"),
                    color(i),
                    Stroke::Dashed,
                )
                .with_points(rows(doc, ring, &main).map(|r| (r.bytes as f64, r.model_latency_ns))),
            );
        }
        line_chart(
            &root,
            "",
            size_axis,
            Axis::log("latency (log scale)").ticks(time_ns),
            &series,
        )
    })?;
    out.save(FIGURES[0], &latency)?;

    let busbw = render(FIGURES[1], (1100, 700), |root| {
        let root = titled(
            root,
            &format!("Ring all-reduce bus bandwidth, algbw x 2(n-1)/n ({main} receive buffers)"),
        )?;
        let mut series = Vec::new();
        for (i, ring) in rings.iter().enumerate() {
            let n = ranks(doc, ring);
            let pts: Vec<&CclRow> = rows(doc, ring, &main).collect();
            series.push(
                Series::new(format!("{ring} ({n} ranks)"), color(i), Stroke::Measured)
                    .with_points(pts.iter().map(|r| (r.bytes as f64, r.busbw_gbs))),
            );
            // The model's busbw: its latency turned into bandwidth the same
            // way, so the dashed line shows the ceiling of the busiest
            // resource (a link, a shared slice) and the alpha term.
            let bus = |r: &CclRow| {
                let n = r.n_ranks as f64;
                r.bytes as f64 / r.model_latency_ns * 2.0 * (n - 1.0) / n
            };
            series.push(
                Series::new(
                    format!("{ring}: alpha-beta model"),
                    color(i),
                    Stroke::Dashed,
                )
                .with_points(pts.iter().map(|r| (r.bytes as f64, bus(r)))),
            );
        }
        line_chart(
            &root,
            "",
            size_axis,
            Axis::linear("bus bandwidth (GB/s)").ticks(gbs),
            &series,
        )
    })?;
    out.save(FIGURES[1], &busbw)?;

    let kinds = render(FIGURES[2], (1500, 560), |root| {
        let root = titled(
            root,
            "Receive-buffer kind: where IPCQ messages land before they are reduced",
        )?;
        let panels = root.split_evenly((1, rings.len().max(1)));
        for (ring, area) in rings.iter().zip(&panels) {
            let series: Vec<Series> = buffers
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    Series::new(b.clone(), color(i), Stroke::Measured)
                        .with_points(rows(doc, ring, b).map(|r| (r.bytes as f64, r.busbw_gbs)))
                })
                .collect();
            line_chart(
                area,
                &format!("{ring} ({} ranks)", ranks(doc, ring)),
                size_axis,
                Axis::linear("bus bandwidth (GB/s)").ticks(gbs),
                &series,
            )?;
        }
        Ok(())
    })?;
    out.save(FIGURES[2], &kinds)?;

    let vs = render(FIGURES[3], (1500, 620), |root| {
        let root = titled(
            root,
            "Simulated latency against the alpha-beta model (every ring and buffer kind)",
        )?;
        let panels = root.split_evenly((1, 2));
        let mut scatter = Vec::new();
        let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
        for (i, ring) in rings.iter().enumerate() {
            let pts: Vec<(f64, f64)> = doc
                .rows
                .iter()
                .filter(|r| &r.ring == ring)
                .map(|r| (r.model_latency_ns, r.latency_ns))
                .collect();
            for &(x, y) in &pts {
                lo = lo.min(x.min(y));
                hi = hi.max(x.max(y));
            }
            scatter.push(Series::new(ring.clone(), color(i), Stroke::Points).with_points(pts));
        }
        if hi > 0.0 {
            scatter.push(
                Series::new("simulated = model", PALETTE[6], Stroke::Dashed)
                    .with_points([(lo, lo), (hi, hi)]),
            );
        }
        line_chart(
            &panels[0],
            "each point one all-reduce",
            Axis::log("model latency (log scale)").ticks(time_ns),
            Axis::log("simulated latency (log scale)").ticks(time_ns),
            &scatter,
        )?;
        let mut ratio = Vec::new();
        for (i, ring) in rings.iter().enumerate() {
            for (j, b) in buffers.iter().enumerate() {
                // Colour says the ring, the stroke the buffer kind.
                let stroke = [Stroke::Measured, Stroke::Dashed, Stroke::Points][j % 3];
                ratio.push(
                    Series::new(format!("{ring}, {b}"), color(i), stroke).with_points(
                        rows(doc, ring, b)
                            .map(|r| (r.bytes as f64, r.latency_ns / r.model_latency_ns)),
                    ),
                );
            }
        }
        line_chart_at(
            &panels[1],
            "simulated / model (1 = the model is exact)",
            size_axis,
            Axis::linear("simulated / model"),
            &ratio,
            SeriesLabelPosition::UpperRight,
        )
    })?;
    out.save(FIGURES[3], &vs)?;
    Ok(out.into_files())
}
