//! The gqa figures, drawn from `sweep.json` alone.

use std::path::{Path, PathBuf};

use plotters::chart::SeriesLabelPosition;

use super::{GqaDoc, GqaRow};
use crate::milestone::output::Outputs;
use crate::milestone::plot::{
    color, line_chart_at, plain, render, time_ns, titled, Axis, Series, Stroke,
};
use crate::milestone::MilestoneError;

/// The figures' file names.
pub const FIGURES: [&str; 2] = ["gqa_panels.png", "gqa_decode_users.png"];

/// The base configuration of a panel: one user on its fewest ranks.
fn base<'a>(doc: &'a GqaDoc, panel: &'a str) -> Vec<&'a GqaRow> {
    let fewest = doc
        .rows
        .iter()
        .filter(|r| r.panel == panel)
        .map(|r| r.figures.n_ranks)
        .min()
        .unwrap_or(0);
    doc.rows
        .iter()
        .filter(|r| r.panel == panel && r.users == 1 && r.figures.n_ranks == fewest)
        .collect()
}

fn tokens(v: f64) -> String {
    if v >= 1024.0 && (v / 1024.0).fract() == 0.0 {
        format!("{}K", v / 1024.0)
    } else {
        plain(v)
    }
}

/// Draws every gqa figure into `dir`.
pub fn render_figures(doc: &GqaDoc, dir: &Path) -> Result<Vec<PathBuf>, MilestoneError> {
    let mut out = Outputs::new(dir);
    let scale = if doc.validation_scale {
        "validation scale, h_q = h_kv = 1, d_head 64"
    } else {
        "Llama-3-70B, h_q 64, h_kv 8, d_head 128"
    };
    let panels = render(FIGURES[0], (1400, 1000), |root| {
        let root = titled(
            root,
            &format!(
                "GQA attention per panel: latency and its breakdown on the critical rank ({scale})"
            ),
        )?;
        let areas = root.split_evenly((2, 2));
        for (area, panel) in areas.iter().zip(&doc.panels) {
            let rows = base(doc, panel);
            let first = rows.first();
            let title = first.map_or(panel.clone(), |r| {
                format!(
                    "{panel}: {} PEs, {} cube(s), 1 user",
                    r.figures.pes, r.figures.cubes
                )
            });
            let at = |f: fn(&GqaRow) -> f64| {
                rows.iter()
                    .map(move |r| (r.context as f64, f(r).max(1e-3)))
                    .collect::<Vec<_>>()
            };
            // A lone point (validation scale) draws no dashed line.
            let dashed = if rows.len() > 1 {
                Stroke::Dashed
            } else {
                Stroke::Points
            };
            let mut series = vec![
                Series::new("latency (simulated)", color(0), Stroke::Measured)
                    .with_points(at(|r| r.figures.latency_ns)),
                Series::new(
                    "compute (MAC array or vector busy)",
                    color(1),
                    Stroke::Measured,
                )
                .with_points(at(|r| r.figures.compute_ns)),
                Series::new(
                    "communication (IPCQ outstanding)",
                    color(2),
                    Stroke::Measured,
                )
                .with_points(at(|r| r.figures.comm_ns)),
                Series::new("exposed communication", color(3), Stroke::Points)
                    .with_points(at(|r| r.figures.exposed_comm_ns)),
                Series::new("analytical model", color(4), dashed)
                    .with_points(at(|r| r.figures.model_ns)),
                Series::new(
                    if panel.ends_with("prefill") {
                        "bound: causal MACs at array peak"
                    } else {
                        "bound: K/V bytes over one HBM slice"
                    },
                    color(5),
                    dashed,
                )
                .with_points(at(|r| r.figures.bound_ns)),
            ];
            // Other placements of the panel, latency only.
            let mut others: Vec<(usize, usize)> = doc
                .rows
                .iter()
                .filter(|r| r.panel == *panel && !rows.iter().any(|b| std::ptr::eq(*b, *r)))
                .map(|r| (r.users, r.figures.n_ranks))
                .collect();
            others.sort_unstable();
            others.dedup();
            // Decode's users have their own figure; show one extra here.
            if panel.ends_with("decode") {
                let fewest = others.iter().map(|o| o.1).min();
                let most = others.iter().map(|o| o.0).max();
                others.retain(|&(u, n)| Some(u) == most && Some(n) == fewest);
            }
            for (k, (users, n)) in others.into_iter().enumerate() {
                series.push(
                    Series::new(
                        format!(
                            "latency, {users} user{} over {n} ranks",
                            if users == 1 { "" } else { "s" }
                        ),
                        // Past the palette's last colour, black: no clash
                        // with the series above.
                        if k == 0 {
                            color(6)
                        } else {
                            plotters::style::BLACK
                        },
                        Stroke::Points,
                    )
                    .with_points(
                        doc.rows
                            .iter()
                            .filter(|r| {
                                r.panel == *panel && r.users == users && r.figures.n_ranks == n
                            })
                            .map(|r| (r.context as f64, r.figures.latency_ns)),
                    ),
                );
            }
            line_chart_at(
                area,
                &title,
                Axis::pow2("context (tokens per user)").ticks(tokens),
                // The legend's rows fill about half the plot's height.
                Axis::log("time (log scale)").ticks(time_ns).room_below(0.5),
                &series,
                SeriesLabelPosition::LowerRight,
            )?;
        }
        Ok(())
    })?;
    out.save(FIGURES[0], &panels)?;

    let decode = render(FIGURES[1], (1400, 620), |root| {
        let root = titled(
            root,
            &format!("Multi-user decode: latency vs users (queries per cube) ({scale})"),
        )?;
        let rows: Vec<&GqaRow> = doc
            .rows
            .iter()
            .filter(|r| r.panel == "multi_user_decode")
            .collect();
        let mut ranks: Vec<usize> = rows.iter().map(|r| r.figures.n_ranks).collect();
        ranks.sort_unstable();
        ranks.dedup();
        let mut contexts: Vec<usize> = rows.iter().map(|r| r.context).collect();
        contexts.sort_unstable();
        contexts.dedup();
        let areas = root.split_evenly((1, ranks.len().max(1)));
        for (area, &n) in areas.iter().zip(&ranks) {
            let mut series = Vec::new();
            for (i, &ctx) in contexts.iter().enumerate() {
                let pts = rows
                    .iter()
                    .filter(|r| r.figures.n_ranks == n && r.context == ctx);
                series.push(
                    Series::new(
                        format!("context {}, simulated", tokens(ctx as f64)),
                        color(i),
                        Stroke::Measured,
                    )
                    .with_points(pts.clone().map(|r| (r.users as f64, r.figures.latency_ns))),
                );
                series.push(
                    Series::new(
                        "  bound: its K/V bytes over the cube's slice",
                        color(i),
                        Stroke::Dashed,
                    )
                    .with_points(pts.map(|r| (r.users as f64, r.figures.bound_ns))),
                );
            }
            line_chart_at(
                area,
                &format!("{n} cubes, each user's cache sharded over them"),
                Axis::pow2("users (log scale)").ticks(plain),
                Axis::log("latency (log scale)").ticks(time_ns),
                &series,
                SeriesLabelPosition::UpperLeft,
            )?;
        }
        Ok(())
    })?;
    out.save(FIGURES[1], &decode)?;
    Ok(out.into_files())
}
