//! `milestone gqa`: Llama-3-70B grouped-query attention in four panels
//! (ring K/V prefill and log-sum-exp decode, one user on a cube's PEs or
//! many users over cubes), at validation scale (data checked against
//! ndarray) or at headline scale (the real model, timing only).

mod figures;

use std::path::{Path, PathBuf};

use kernbench_core::exec::oplog::OpLogSummary;
use kernbench_core::support::Named;
use kernbench_core::Topology;
use kernels::Sharding;
use serde::{Deserialize, Serialize};

use super::output::{json_bytes, num, Csv, Outputs};
use super::{Domain, MilestoneError};
use crate::bench::gqa::{
    run_panel, GqaConfig, Panel, PanelFigures, VALIDATION_RANKS_MULTI, VALIDATION_RANKS_SINGLE,
    VALIDATION_S_KV_PER_RANK, VALIDATION_S_Q,
};
use crate::bench::{BenchError, Check, RunMode};

pub use figures::{render_figures, FIGURES};

/// The gqa sweep: its points and how they run.
#[derive(Debug, Clone, PartialEq)]
pub struct GqaSweep {
    /// Validation scale (data on, checked) or the headline.
    pub validation: bool,
    pub points: Vec<GqaConfig>,
}

/// Context lengths of the headline sweep.
pub const CONTEXTS: [usize; 4] = [4096, 8192, 16384, 32768];
/// Users of the multi-user prefill panel.
pub const PREFILL_USERS: [usize; 2] = [1, 4];
/// Users (queries per cube) of the multi-user decode panel.
pub const DECODE_USERS: [usize; 4] = [1, 8, 32, 64];

impl GqaSweep {
    /// One point per panel at validation scale.
    pub fn validation() -> Self {
        GqaSweep {
            validation: true,
            points: Panel::ALL
                .iter()
                .map(|&p| GqaConfig::validation(p))
                .collect(),
        }
    }

    /// The headline sweep on `topo`: every panel at every context; the
    /// single-user panels on the PEs of cube 0, the multi-user ones on
    /// SIP 0's cubes (users 1 and 4 prefill, 1 to 64 decode) and on every
    /// SIP's cubes (one user prefill, every user count decode).
    pub fn headline(topo: &Topology) -> Self {
        let pes = topo.system.pes_per_cube as usize;
        let sip = topo.cubes_per_sip() as usize;
        let all = sip * topo.system.sips as usize;
        let mut points = Vec::new();
        for panel in Panel::ALL.iter().copied() {
            for ctx in CONTEXTS {
                let at = |users, ranks| GqaConfig::llama70b(panel, ctx, users, ranks);
                match panel {
                    Panel::SingleUserPrefill | Panel::SingleUserDecode => points.push(at(1, pes)),
                    Panel::MultiUserPrefill => {
                        points.extend(PREFILL_USERS.iter().map(|&u| at(u, sip)));
                        if all > sip {
                            points.push(at(1, all));
                        }
                    }
                    Panel::MultiUserDecode => {
                        points.extend(DECODE_USERS.iter().map(|&u| at(u, sip)));
                        if all > sip {
                            points.extend(DECODE_USERS.iter().map(|&u| at(u, all)));
                        }
                    }
                }
            }
        }
        GqaSweep {
            validation: false,
            points,
        }
    }

    fn mode(&self) -> RunMode {
        if self.validation {
            RunMode {
                check: true,
                data: true,
                records: false,
            }
        } else {
            RunMode::TIMING_ONLY
        }
    }
}

/// One panel point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GqaRow {
    pub panel: String,
    /// Tokens per user (prompt or cache).
    pub context: usize,
    pub users: usize,
    #[serde(flatten)]
    pub figures: PanelFigures,
    pub gemm_util_pct: f64,
    pub op_log_summary: OpLogSummary,
    /// The output against ndarray (validation scale).
    pub check: Option<Check>,
    /// Engine events the point simulated.
    pub events: u64,
}

/// `sweep.json`'s `config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct GqaDocConfig {
    /// Query positions per rank (validation scale; null at headline scale,
    /// where it is `context / n_ranks`).
    pub S_q_prefill: Option<usize>,
    pub S_kv_per_rank: Option<usize>,
    pub h_q: usize,
    pub h_kv: usize,
    pub d_head: usize,
    pub n_ranks_single_user: usize,
    pub n_ranks_multi_user: usize,
    pub causal_prefill: bool,
    pub sharding: String,
    /// Prefill blocks: stacked query rows x K/V rows.
    pub block: [usize; 2],
    /// Decode: cache rows per block.
    pub decode_block: usize,
    pub contexts: Vec<usize>,
}

/// `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GqaDoc {
    pub version: u32,
    pub validation_scale: bool,
    pub panels: Vec<String>,
    pub config: GqaDocConfig,
    pub rows: Vec<GqaRow>,
}

/// The JSON file's name.
pub const JSON: &str = "sweep.json";
/// The CSV file's name.
pub const CSV: &str = "sweep.csv";

impl Domain for GqaSweep {
    const NAME: &'static str = "gqa";
    type Point = GqaConfig;
    type Row = GqaRow;

    fn points(&self) -> Vec<GqaConfig> {
        self.points.clone()
    }

    fn label(&self, p: &GqaConfig) -> String {
        format!(
            "{} context {} users {} over {} ranks",
            p.panel.name(),
            p.context,
            p.users,
            p.ranks
        )
    }

    fn run(&self, topo: &Topology, p: &GqaConfig) -> Result<GqaRow, BenchError> {
        let r = run_panel(topo, p, self.mode())?;
        if let Some(c) = r.result.check.filter(|c| !c.ok) {
            return Err(BenchError::Invalid(format!(
                "the output differs from the reference (max abs err {:.3e})",
                c.max_abs_err
            )));
        }
        Ok(GqaRow {
            panel: p.panel.name().to_string(),
            context: p.context,
            users: p.users,
            figures: r.figures,
            gemm_util_pct: r.result.run.gemm_util_pct,
            op_log_summary: r.result.run.summary,
            check: r.result.check,
            events: r.result.events,
        })
    }

    fn write(
        &self,
        _topo: &Topology,
        rows: Vec<GqaRow>,
        dir: &Path,
    ) -> Result<Vec<PathBuf>, MilestoneError> {
        let doc = self.document(rows);
        let mut files = write_data(&doc, dir)?;
        files.extend(render_figures(&doc, dir)?);
        Ok(files)
    }
}

impl GqaSweep {
    /// The document of the whole sweep, rows in point order.
    pub fn document(&self, rows: Vec<GqaRow>) -> GqaDoc {
        let first = |multi: bool| self.points.iter().find(|p| p.panel.is_multi() == multi);
        let any = self
            .points
            .first()
            .copied()
            .unwrap_or(GqaConfig::validation(Panel::SingleUserPrefill));
        let decode_block = self
            .points
            .iter()
            .find(|p| !p.panel.is_prefill())
            .map_or(any.bn, |p| p.bn);
        let prefill = self
            .points
            .iter()
            .find(|p| p.panel.is_prefill())
            .copied()
            .unwrap_or(any);
        let mut contexts: Vec<usize> = self.points.iter().map(|p| p.context).collect();
        contexts.sort_unstable();
        contexts.dedup();
        let v = self.validation;
        GqaDoc {
            version: 1,
            validation_scale: v,
            panels: Panel::ALL.iter().map(|p| p.name().to_string()).collect(),
            config: GqaDocConfig {
                S_q_prefill: v.then_some(VALIDATION_S_Q),
                S_kv_per_rank: v.then_some(VALIDATION_S_KV_PER_RANK),
                h_q: any.h_q,
                h_kv: any.h_kv,
                d_head: any.d_head,
                n_ranks_single_user: first(false).map_or(VALIDATION_RANKS_SINGLE, |p| p.ranks),
                n_ranks_multi_user: first(true).map_or(VALIDATION_RANKS_MULTI, |p| p.ranks),
                causal_prefill: prefill.causal,
                sharding: if prefill.causal {
                    prefill.sharding
                } else {
                    Sharding::Contiguous
                }
                .name()
                .to_string(),
                block: [prefill.bm, prefill.bn],
                decode_block,
                contexts,
            },
            rows,
        }
    }
}

/// Writes `sweep.json` and `sweep.csv`.
pub fn write_data(doc: &GqaDoc, dir: &Path) -> Result<Vec<PathBuf>, MilestoneError> {
    let mut out = Outputs::new(dir);
    out.save(JSON, &json_bytes(doc)?)?;
    let mut csv = Csv::new(&[
        "panel",
        "context",
        "users",
        "n_ranks",
        "pes",
        "cubes",
        "latency_ns",
        "compute_ns",
        "comm_ns",
        "exposed_comm_ns",
        "bound_ns",
        "model_ns",
        "gemm_util_pct",
        "gemm_count",
        "ipcq_send_count",
        "ipcq_recv_count",
        "dma_read_count",
        "dma_write_count",
        "check_max_abs_err",
        "check_ok",
        "imbalance_zigzag",
        "imbalance_contiguous",
    ]);
    for r in &doc.rows {
        let c = &r.op_log_summary.commands;
        csv.row(&[
            r.panel.clone(),
            r.context.to_string(),
            r.users.to_string(),
            r.figures.n_ranks.to_string(),
            r.figures.pes.to_string(),
            r.figures.cubes.to_string(),
            num(r.figures.latency_ns),
            num(r.figures.compute_ns),
            num(r.figures.comm_ns),
            num(r.figures.exposed_comm_ns),
            num(r.figures.bound_ns),
            num(r.figures.model_ns),
            num(r.gemm_util_pct),
            c.gemm.to_string(),
            c.ipcq_send.to_string(),
            c.ipcq_recv.to_string(),
            c.dma_read.to_string(),
            c.dma_write.to_string(),
            r.check.map_or(String::new(), |c| num(c.max_abs_err)),
            r.check.map_or(String::new(), |c| c.ok.to_string()),
            num(r.figures.imbalance_zigzag),
            num(r.figures.imbalance_contiguous),
        ]);
    }
    out.save(CSV, &csv.into_bytes())?;
    Ok(out.into_files())
}

/// One line per row: the panel point, its latency beside bound and model,
/// and how much communication compute did not hide.
pub fn summary(doc: &GqaDoc) -> String {
    let mut o = format!(
        "  {:<20} {:>7} {:>5} {:>5} {:>12} {:>12} {:>12} {:>11} {}\n",
        "panel", "context", "users", "ranks", "latency", "bound", "model", "exposed", "check"
    );
    let t = |ns: f64| super::plot::time_ns(ns);
    for r in &doc.rows {
        let check = r.check.map_or("-".to_string(), |c| {
            format!(
                "{} ({:.1e})",
                if c.ok { "ok" } else { "MISMATCH" },
                c.max_abs_err
            )
        });
        o += &format!(
            "  {:<20} {:>7} {:>5} {:>5} {:>12} {:>12} {:>12} {:>10.1}% {}\n",
            r.panel,
            r.context,
            r.users,
            r.figures.n_ranks,
            t(r.figures.latency_ns),
            t(r.figures.bound_ns),
            t(r.figures.model_ns),
            100.0 * r.figures.exposed_comm_ns / r.figures.latency_ns.max(1e-9),
            check
        );
    }
    o
}
