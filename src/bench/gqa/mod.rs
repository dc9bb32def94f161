//! Grouped-query attention of Llama-3-70B on the ring: the four panels of
//! the `gqa` milestone (prefill and decode, one user on the PEs of a cube
//! or many users over cubes), and the `milestone-gqa-llama70b` bench that
//! runs one panel at validation scale.

mod decode;
mod place;
mod prefill;

use half::f16;
use kernbench_core::host::{BufferKind, Device, RunReport, Tensor};
use kernbench_core::support::Named;
use kernbench_core::Topology;
use kernels::Sharding;
use serde::{Deserialize, Serialize};

pub use place::Placement;
pub use prefill::imbalance;

use super::{random_matrix, write_or_time, BenchError, BenchResult, Check, RunMode};
use crate::params::{ParamError, ParamSet, ParamSpec, Params};
use ndarray::Array2;

/// The four panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Panel {
    /// One user's prefill, sequence-sharded over the PEs of cube 0.
    SingleUserPrefill,
    /// Users' prefills, sequence-sharded over cubes; a cube's PEs split the
    /// K/V head groups.
    MultiUserPrefill,
    /// One new token over a cache sharded over the PEs of cube 0.
    SingleUserDecode,
    /// A new token per user over caches sharded over cubes.
    MultiUserDecode,
}

impl Named for Panel {
    const WHAT: &'static str = "panel";
    const ALL: &'static [Panel] = &[
        Panel::SingleUserPrefill,
        Panel::MultiUserPrefill,
        Panel::SingleUserDecode,
        Panel::MultiUserDecode,
    ];
    fn name(self) -> &'static str {
        match self {
            Panel::SingleUserPrefill => "single_user_prefill",
            Panel::MultiUserPrefill => "multi_user_prefill",
            Panel::SingleUserDecode => "single_user_decode",
            Panel::MultiUserDecode => "multi_user_decode",
        }
    }
}

impl Panel {
    /// Whether it is a prefill (ring K/V) panel.
    pub fn is_prefill(self) -> bool {
        matches!(self, Panel::SingleUserPrefill | Panel::MultiUserPrefill)
    }
    /// Whether its ranks are cubes (with their PEs splitting heads).
    pub fn is_multi(self) -> bool {
        matches!(self, Panel::MultiUserPrefill | Panel::MultiUserDecode)
    }
}

/// One panel point: the model shape, the context and how it is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GqaConfig {
    pub panel: Panel,
    /// Tokens per user: the prompt (prefill) or the cached tokens (decode).
    pub context: usize,
    /// Users, each with its own sequence and cache.
    pub users: usize,
    /// Ranks of the sequence ring: PEs of cube 0 (single-user) or cubes.
    pub ranks: usize,
    pub h_q: usize,
    pub h_kv: usize,
    pub d_head: usize,
    /// Causal prefill (decode always sees the whole cache).
    pub causal: bool,
    /// How prefill shards the sequence over the ranks.
    pub sharding: Sharding,
    /// Stacked query rows per block (prefill).
    pub bm: usize,
    /// K/V rows per block (prefill), cache rows per block (decode).
    pub bn: usize,
}

/// Query positions per rank at validation scale (`S_q_prefill`).
pub const VALIDATION_S_Q: usize = 16;
/// Cached (or prompt) tokens per rank at validation scale.
pub const VALIDATION_S_KV_PER_RANK: usize = 16;
/// Ranks of the single-user panels at validation scale.
pub const VALIDATION_RANKS_SINGLE: usize = 8;
/// Cubes of the multi-user panels at validation scale.
pub const VALIDATION_RANKS_MULTI: usize = 4;

impl GqaConfig {
    /// The validation point of `panel`: h_q = h_kv = 1, d_head 64, 16
    /// tokens per rank, non-causal, data checked.
    pub fn validation(panel: Panel) -> Self {
        let ranks = if panel.is_multi() {
            VALIDATION_RANKS_MULTI
        } else {
            VALIDATION_RANKS_SINGLE
        };
        GqaConfig {
            panel,
            context: VALIDATION_S_KV_PER_RANK * ranks,
            users: 1,
            ranks,
            h_q: 1,
            h_kv: 1,
            d_head: 64,
            causal: false,
            sharding: Sharding::Contiguous,
            bm: 128,
            bn: 128,
        }
    }

    /// Llama-3-70B: 64 query heads, 8 K/V heads, d_head 128, causal
    /// prefill with zigzag shards in 256 x 256 blocks (the largest whose
    /// scores, probabilities and K/V blocks fit the TCM scratch twice
    /// over; half the commands per MAC of 128 x 256), decode 512 cache
    /// rows per block.
    pub fn llama70b(panel: Panel, context: usize, users: usize, ranks: usize) -> Self {
        GqaConfig {
            panel,
            context,
            users,
            ranks,
            h_q: 64,
            h_kv: 8,
            d_head: 128,
            causal: panel.is_prefill(),
            sharding: Sharding::Zigzag,
            bm: 256,
            bn: if panel.is_prefill() { 256 } else { 512 },
        }
    }

    /// Query heads per K/V head.
    pub fn group(&self) -> usize {
        self.h_q / self.h_kv.max(1)
    }

    /// Checks the shape fits together: every size positive, heads in
    /// whole groups, blocks in whole groups, the context in whole shards
    /// (zigzag: `2 x ranks`), and the largest tensor's element count
    /// representable.
    pub fn validate(&self) -> Result<(), BenchError> {
        let bad = |m: String| Err(BenchError::Invalid(m));
        let sizes = [
            ("users", self.users),
            ("ranks", self.ranks),
            ("h_q", self.h_q),
            ("h_kv", self.h_kv),
            ("d_head", self.d_head),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return bad(format!("{name} must be at least 1"));
        }
        // Every user's queries, one row per (query head, position).
        let elems = [self.users, self.h_q, self.context, self.d_head]
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b));
        if elems.is_none_or(|e| e > isize::MAX as usize / 4) {
            return bad(format!(
                "users={} x h_q={} x context={} x d_head={} elements do not fit in memory",
                self.users, self.h_q, self.context, self.d_head
            ));
        }
        if self.h_q % self.h_kv != 0 {
            return bad(format!(
                "h_q={} is not a multiple of h_kv={}",
                self.h_q, self.h_kv
            ));
        }
        if self.bm == 0 || self.bn == 0 || self.bm % self.group() != 0 {
            return bad(format!(
                "bm={} must be a positive multiple of the group h_q/h_kv={} (and bn positive)",
                self.bm,
                self.group()
            ));
        }
        let pieces = self.ranks.saturating_mul(match self.panel.is_prefill() {
            true => self.sharding.chunks(),
            false => 1,
        });
        if self.context == 0 || pieces == 0 || self.context % pieces != 0 {
            return bad(format!(
                "context={} must split into {pieces} equal shards",
                self.context
            ));
        }
        Ok(())
    }

    /// Every multiply-accumulate attention needs: two per visible
    /// (query head, key) pair and head dimension.
    pub fn macs(&self) -> f64 {
        let s = self.context as f64;
        let pairs = if !self.panel.is_prefill() {
            s
        } else if self.causal {
            s * (s + 1.0) / 2.0
        } else {
            s * s
        };
        2.0 * (self.users * self.h_q * self.d_head) as f64 * pairs
    }
}

/// The figures a panel point reports: the milestone's row and the bench's
/// JSON both carry them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PanelFigures {
    /// Ranks of the sequence ring.
    pub n_ranks: usize,
    /// PEs doing attention.
    pub pes: usize,
    /// Cubes whose HBM holds the K/V.
    pub cubes: usize,
    /// From the first program's start to the last one's end, ns.
    pub latency_ns: f64,
    /// The critical rank's compute (MAC array or vector engine busy), ns.
    pub compute_ns: f64,
    /// The critical rank's IPCQ time (a send or receive outstanding), ns.
    pub comm_ns: f64,
    /// Of that, the time no compute ran beside it, ns.
    pub exposed_comm_ns: f64,
    /// The first-principles lower bound, ns.
    pub bound_ns: f64,
    /// The analytical model, ns.
    pub model_ns: f64,
    /// Most causal work of a rank over the mean (1 = balanced) with zigzag
    /// shards (prefill; 1 for decode).
    pub imbalance_zigzag: f64,
    /// The same with contiguous shards.
    pub imbalance_contiguous: f64,
}

impl PanelFigures {
    /// The timing figures as the bench's extra JSON keys.
    fn extra(&self) -> [(&'static str, f64); 8] {
        [
            ("latency_ns", self.latency_ns),
            ("compute_ns", self.compute_ns),
            ("comm_ns", self.comm_ns),
            ("exposed_comm_ns", self.exposed_comm_ns),
            ("bound_ns", self.bound_ns),
            ("model_ns", self.model_ns),
            ("imbalance_zigzag", self.imbalance_zigzag),
            ("imbalance_contiguous", self.imbalance_contiguous),
        ]
    }
}

/// A panel's run with the figures the milestone reports.
#[derive(Debug, Clone)]
pub struct PanelRun {
    pub result: BenchResult,
    pub figures: PanelFigures,
    /// Each installed rank's compute time (MAC array or vector engine
    /// busy), ns: the simulated work the sharding gave it.
    pub rank_compute_ns: Vec<f64>,
}

impl PanelRun {
    /// The figures of `run` on placement `place`, with its bound and model.
    fn new(
        place: &Placement,
        dev: &Device,
        run: RunReport,
        check: Option<Check>,
        [bound_ns, model_ns, zigzag, contiguous]: [f64; 4],
    ) -> Self {
        let topo = dev.topology();
        // The critical rank: the one that finished last (the lowest on a
        // tie). Panel devices track PEs (see `device`).
        let times: Vec<_> = place
            .ring
            .pes
            .iter()
            .map(|pe| run.log.pe_time(pe.global(topo)).unwrap_or_default())
            .collect();
        let crit = times.iter().enumerate().fold(0, |best, (i, t)| {
            if t.last_end_ns > times[best].last_end_ns {
                i
            } else {
                best
            }
        });
        let t = times.get(crit).copied().unwrap_or_default();
        let figures = PanelFigures {
            n_ranks: place.n_ranks,
            pes: place.ring.world_size(),
            cubes: place.cubes,
            latency_ns: run.kernel_ns,
            compute_ns: t.compute_ns,
            comm_ns: t.comm_ns,
            // Both unions are whole picoseconds and `either` covers
            // `compute`, so this is exact and never negative.
            exposed_comm_ns: t.either_ns - t.compute_ns,
            bound_ns,
            model_ns,
            imbalance_zigzag: zigzag,
            imbalance_contiguous: contiguous,
        };
        let mut result = BenchResult::new("milestone-gqa-llama70b", dev, run, check);
        result.extra = figures.extra().into_iter().collect();
        PanelRun {
            result,
            figures,
            rank_compute_ns: times.iter().map(|t| t.compute_ns).collect(),
        }
    }
}

/// A device for a panel: data and records as `mode` says, and each PE's
/// compute and IPCQ time kept for the critical rank's figures.
fn device(topo: &Topology, mode: RunMode) -> Device {
    mode.device(topo).with_pe_times(true)
}

/// A panel's host inputs: every user's queries, keys and values, users
/// one after another (each panel's `rows_of` says the row layout).
struct Inputs {
    q: Array2<f32>,
    k: Array2<f32>,
    v: Array2<f32>,
}

impl Inputs {
    fn random(q_rows: usize, kv_rows: usize, d: usize, seed: u64) -> Self {
        Self {
            q: random_matrix(q_rows, d, seed),
            k: random_matrix(kv_rows, d, seed + 1),
            v: random_matrix(kv_rows, d, seed + 2),
        }
    }
}

/// Writes a rank's rows of the inputs (query rows `qm`, cache rows `km`)
/// into its buffers, or only times the upload when there are no inputs.
fn upload(
    dev: &mut Device,
    inputs: Option<&Inputs>,
    (qm, km): (&[usize], &[usize]),
    (q, k, v): (&Tensor<f16>, &Tensor<f16>, &Tensor<f16>),
) -> Result<(), BenchError> {
    let pick = |a: &Array2<f32>, map: &[usize]| a.select(ndarray::Axis(0), map);
    write_or_time(dev, q, inputs.map(|i| pick(&i.q, qm)).as_ref())?;
    write_or_time(dev, k, inputs.map(|i| pick(&i.k, km)).as_ref())?;
    write_or_time(dev, v, inputs.map(|i| pick(&i.v, km)).as_ref())?;
    Ok(())
}

/// Where IPCQ messages land: the receiving PE's TCM.
const BUFFER: BufferKind = BufferKind::Tcm;

/// Runs one panel point.
pub fn run_panel(topo: &Topology, cfg: &GqaConfig, mode: RunMode) -> Result<PanelRun, BenchError> {
    cfg.validate()?;
    if cfg.panel.is_prefill() {
        prefill::run(topo, cfg, mode)
    } else {
        decode::run(topo, cfg, mode)
    }
}

/// `milestone-gqa-llama70b`'s parameters: a panel at validation scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GqaParams {
    pub panel: Panel,
}

impl ParamSet for GqaParams {
    const SPECS: &'static [ParamSpec] = &[ParamSpec::choice::<Panel>(
        "panel",
        "single_user_prefill",
        "which panel of the gqa milestone (at validation scale)",
    )];

    fn parse(p: &Params) -> Result<Self, ParamError> {
        Ok(GqaParams {
            panel: p.choice("panel")?,
        })
    }
}

pub(super) fn run(topo: &Topology, p: &Params, mode: RunMode) -> Result<BenchResult, BenchError> {
    let c = GqaParams::parse(p)?;
    Ok(run_panel(topo, &GqaConfig::validation(c.panel), mode)?.result)
}
