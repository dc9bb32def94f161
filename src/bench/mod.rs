//! The registry of benches `kernbench run --bench NAME` runs and
//! `kernbench list` shows. A bench builds a device from the topology,
//! allocates and fills its tensors, launches kernels and reports.

pub mod attention;
pub mod gemm;
pub mod gqa;
pub mod ring;
mod tp;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kernbench_core::exec::oplog::OpLogSummary;
use kernbench_core::fabric::topology::Network;
use kernbench_core::host::group::SpawnError;
use kernbench_core::host::{
    Budget, BudgetError, Device, EngineTimes, RingError, RunReport, RuntimeError, Tensor,
};
use kernbench_core::support::Named;
use kernbench_core::{Machine, Topology};
use serde::Serialize;

use crate::params::{ParamError, ParamSet, ParamSpec, Params};
use serde_json::{json, Value};

/// How a bench is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunMode {
    /// Compare the result with an ndarray reference.
    pub check: bool,
    /// Execute data (off: timing only; timings are identical).
    pub data: bool,
    /// Keep op-log records (needed for a timeline).
    pub records: bool,
}

impl RunMode {
    /// Timings only: no values computed, no check, no records (timings are
    /// the same as with data).
    pub const TIMING_ONLY: RunMode = RunMode {
        check: false,
        data: false,
        records: false,
    };
}

impl RunMode {
    /// A device on `topo` that executes data and keeps records as this
    /// mode says.
    pub fn device(self, topo: &Topology) -> Device {
        Device::new(topo)
            .with_data(self.data)
            .with_records(self.records)
    }
}

impl Default for RunMode {
    fn default() -> Self {
        RunMode {
            check: false,
            data: true,
            records: false,
        }
    }
}

/// A numerical comparison against a reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Check {
    pub max_abs_err: f64,
    /// Largest error relative to the reference's largest magnitude.
    pub max_rel_err: f64,
    pub ok: bool,
}

impl Check {
    /// Compares `got` with `want`; `tol` bounds the relative error.
    pub fn compare<'a>(
        got: impl IntoIterator<Item = &'a f32>,
        want: impl IntoIterator<Item = &'a f32> + Clone,
        tol: f64,
    ) -> Check {
        let scale = want
            .clone()
            .into_iter()
            .fold(0.0f64, |m, &w| m.max(f64::from(w).abs()))
            .max(1e-30);
        let mut max_abs: f64 = 0.0;
        let mut finite = true;
        for (g, w) in got.into_iter().zip(want) {
            let d = (f64::from(*g) - f64::from(*w)).abs();
            finite &= d.is_finite();
            max_abs = max_abs.max(d);
        }
        let rel = max_abs / scale;
        Check {
            max_abs_err: max_abs,
            max_rel_err: rel,
            ok: finite && rel <= tol,
        }
    }
}

/// What a bench run produced.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub bench: &'static str,
    pub params: BTreeMap<String, String>,
    pub run: RunReport,
    pub check: Option<Check>,
    /// Bench-specific figures added to the JSON (e.g. latency, bandwidth).
    pub extra: BTreeMap<&'static str, f64>,
    /// Engine events of the whole bench: host transfers and every launch.
    pub events: u64,
    /// The network model it ran on.
    pub network: Network,
}

impl BenchResult {
    /// The result of a bench run on `dev`: its launch `run`, the check,
    /// and the device's engine events and network model; no extra figures.
    pub fn new(bench: &'static str, dev: &Device, run: RunReport, check: Option<Check>) -> Self {
        BenchResult {
            bench,
            params: Default::default(),
            run,
            check,
            extra: Default::default(),
            events: dev.events(),
            network: dev.topology().sim.network,
        }
    }

    pub fn summary(&self) -> OpLogSummary {
        self.run.summary
    }

    pub fn engines(&self) -> EngineTimes {
        self.run.engine_times()
    }

    /// The `--json` document.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "bench": self.bench,
            "params": self.params,
            "wall_ns": self.run.wall_ns,
            "op_log_summary": self.run.summary,
            "engines": self.run.engine_times(),
            "gemm_util_pct": self.run.gemm_util_pct,
            "useful_eff_pct": self.run.useful_eff_pct,
            "check": self.check,
            "events": self.events,
            "peak_commands": self.run.peak_commands,
            "network": self.network.name(),
        });
        if let Value::Object(map) = &mut v {
            for (k, x) in &self.extra {
                map.insert((*k).to_string(), json!(x));
            }
        }
        v
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let r = &self.run;
        let s = &r.summary;
        let e = r.engine_times();
        let _ = writeln!(o, "bench {} ({})", self.bench, params.join(" "));
        let _ = writeln!(
            o,
            "  wall {:.1} ns over {} program(s) on {} PE(s); {} engine events ({} network), at most {} commands held",
            r.wall_ns,
            r.programs,
            r.pes,
            self.events,
            self.network.name(),
            r.peak_commands
        );
        for (k, x) in &self.extra {
            let _ = writeln!(o, "  {k}: {x:.3}");
        }
        let c = &s.commands;
        let _ = writeln!(
            o,
            "  commands: gemm {} dma_read {} dma_write {} math {} ipcq_send {} ipcq_recv {} (gemm tiles {})",
            c.gemm, c.dma_read, c.dma_write, c.math, c.ipcq_send, c.ipcq_recv, s.gemm_tile_count
        );
        let _ = writeln!(
            o,
            "  engine wall-clock ns: dma_in {:.1} fetch {:.1} gemm {:.1} dma_out {:.1} dma {:.1} math {:.1} ipcq {:.1}",
            e.dma_in_ns, e.fetch_ns, e.gemm_ns, e.dma_out_ns, e.dma_ns, e.math_ns, e.ipcq_ns
        );
        let _ = writeln!(
            o,
            "  GEMM utilization {:.1}%  useful MAC efficiency {:.1}%",
            r.gemm_util_pct, r.useful_eff_pct
        );
        if let Some(c) = &self.check {
            let _ = writeln!(
                o,
                "  check: max abs err {:.3e}, max rel err {:.3e}: {}",
                c.max_abs_err,
                c.max_rel_err,
                if c.ok { "ok" } else { "MISMATCH" }
            );
        }
        o
    }

    /// The run's timeline (Chrome trace-event JSON), as text.
    pub fn timeline(&self, machine: &Machine) -> Result<Vec<u8>, serde_json::Error> {
        self.run.chrome_trace_bytes(machine)
    }
}

/// Why a bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// No bench has that name.
    #[error("unknown bench `{name}`; benches: {valid}")]
    Unknown {
        /// Requested name.
        name: String,
        /// Comma-separated registered names.
        valid: String,
    },
    /// A parameter is unknown or its value invalid.
    #[error(transparent)]
    Params(#[from] ParamError),
    /// The device refused an operation or a launch failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The ring asked for cannot be installed on this topology.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// A rank of the tensor-parallel process group failed.
    #[error(transparent)]
    Group(#[from] SpawnError),
    /// The parameters are valid but this topology cannot run them.
    #[error("{0}")]
    Invalid(String),
}

type RunFn = fn(&Topology, &Params, RunMode) -> Result<BenchResult, BenchError>;

/// A registered bench.
pub struct BenchSpec {
    /// Name used on the command line.
    pub name: &'static str,
    /// One-line description (its parameters are listed from `params`).
    pub description: &'static str,
    /// Parameters with defaults.
    pub params: &'static [ParamSpec],
    run: RunFn,
}

impl BenchSpec {
    /// Runs the bench with `overrides` over its default parameters.
    pub fn run(
        &self,
        topo: &Topology,
        overrides: &[(String, String)],
        mode: RunMode,
    ) -> Result<BenchResult, BenchError> {
        let params = Params::resolve(self.name, self.params, overrides)?;
        let mut result = (self.run)(topo, &params, mode)?;
        result.params = params.to_map();
        Ok(result)
    }
}

/// Every registered bench.
pub fn registry() -> &'static [BenchSpec] {
    REGISTRY
}

static REGISTRY: &[BenchSpec] = &[
    BenchSpec {
        name: "gemm",
        description: "tiled matmul on one PE",
        params: gemm::GemmParams::SPECS,
        run: gemm::run_single,
    },
    BenchSpec {
        name: "gemm-multi-pe",
        description: "tiled matmul, output blocks over the PEs of one or several cubes",
        params: gemm::MultiParams::SPECS,
        run: gemm::run_multi,
    },
    BenchSpec {
        name: "ring-allreduce",
        description: "ring all-reduce in the DSL on an installed ring",
        params: ring::AllReduceConfig::SPECS,
        run: ring::run,
    },
    BenchSpec {
        name: "attention",
        description: "grouped-query flash attention (prefill) over the PEs of a cube",
        params: attention::AttentionParams::SPECS,
        run: attention::run,
    },
    BenchSpec {
        name: "milestone-gqa-llama70b",
        description: "a panel of the gqa milestone (ring K/V prefill or log-sum-exp decode) at validation scale",
        params: gqa::GqaParams::SPECS,
        run: gqa::run,
    },
    BenchSpec {
        name: "tp-mlp",
        description: "two-layer MLP, tensor parallel over the SIPs (rank = SIP)",
        params: tp::MlpParams::SPECS,
        run: tp::run,
    },
];

/// The bench called `name`.
pub fn find(name: &str) -> Result<&'static BenchSpec, BenchError> {
    registry()
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| BenchError::Unknown {
            name: name.to_string(),
            valid: registry()
                .iter()
                .map(|b| b.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Writes `data` into `t`, or, without data (a timing-only run), moves the
/// same bytes without values.
pub(crate) fn write_or_time<T: kernbench_core::dsl::Elem>(
    dev: &mut Device,
    t: &Tensor<T>,
    data: Option<&ndarray::Array2<f32>>,
) -> Result<f64, BenchError> {
    Ok(match data {
        Some(d) => dev.write(t, d)?,
        None => dev.write_timing(t)?,
    })
}

/// Values rounded to fp16, as the device stores them: what references
/// compute from.
pub(crate) fn round_f16(a: &ndarray::Array2<f32>) -> ndarray::Array2<f32> {
    a.mapv(|v| half::f16::from_f32(v).to_f32())
}

/// Refuses host arrays of `shapes` (f32) that together pass the data
/// budget, before any is built: a bench whose kernels allocate their own
/// device tensors cannot allocate first, so it checks here.
pub(crate) fn host_arrays_fit(shapes: &[(usize, usize)]) -> Result<(), BenchError> {
    let limit = Budget::DEFAULT.data_bytes;
    let need = shapes.iter().try_fold(0u64, |sum, &(r, c)| {
        (r as u64)
            .checked_mul(c as u64)
            .and_then(|e| e.checked_mul(4))
            .and_then(|b| sum.checked_add(b))
    });
    match need {
        Some(need) if need <= limit => Ok(()),
        need => Err(RuntimeError::from(BudgetError::HostArrays {
            need: need.unwrap_or(u64::MAX),
            limit,
        })
        .into()),
    }
}

/// Deterministic pseudo-random values in [-1, 1) (xorshift64*), so runs
/// are reproducible without a rand dependency.
pub(crate) fn random_matrix(rows: usize, cols: usize, seed: u64) -> ndarray::Array2<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    ndarray::Array2::from_shape_simple_fn((rows, cols), || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        (r as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    })
}
