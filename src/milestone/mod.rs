//! The milestone evaluation benches: one command per domain regenerates
//! its results and figures (see `milestone --help`).
//!
//! A sweep is data: a domain lists its points (a bench's typed parameters
//! on the topology), [`sweep`] runs them (in parallel, in order, or a shard
//! of them), and the domain turns the rows into its JSON, CSV and figures.
//! Each domain's sweep, analysis and figures live in its own module
//! ([`gemm`], [`ccl`], [`gqa`]); tests and the binary reuse them.

pub mod ccl;
pub mod gemm;
pub mod gqa;
pub mod output;
pub mod plot;
pub mod sweep;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use kernbench_core::Topology;

use crate::bench::BenchError;
use crate::files::FileError;
pub use output::Written;
pub use plot::PlotError;
pub use sweep::{Progress, Shard};

/// A domain of the milestone benches.
pub trait Domain: Sync {
    /// Name on the command line and of the output folder.
    const NAME: &'static str;
    /// One simulation of the sweep.
    type Point: Sync;
    /// What a point's run yields; partial files carry rows as JSON.
    type Row: Serialize + DeserializeOwned + Send;

    /// The sweep's points, in output order.
    fn points(&self) -> Vec<Self::Point>;
    /// A point as errors and progress name it.
    fn label(&self, point: &Self::Point) -> String;
    /// Runs one point.
    fn run(&self, topo: &Topology, point: &Self::Point) -> Result<Self::Row, BenchError>;
    /// Writes the JSON, CSV and figures of the whole sweep into `dir`; the
    /// files written.
    fn write(
        &self,
        topo: &Topology,
        rows: Vec<Self::Row>,
        dir: &Path,
    ) -> Result<Vec<PathBuf>, MilestoneError>;
}

/// Why a milestone run failed.
#[derive(Debug, thiserror::Error)]
pub enum MilestoneError {
    /// A sweep point's simulation failed.
    #[error("{domain} point {point}: {source}")]
    Point {
        domain: &'static str,
        point: String,
        source: Box<BenchError>,
    },
    #[error(transparent)]
    File(#[from] FileError),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a milestone file: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },
    #[error("cannot encode JSON: {0}")]
    Json(serde_json::Error),
    #[error("merge: {0}")]
    Merge(String),
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// Where and how a domain runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The output root; a domain writes into `out/<domain>/`.
    pub out: PathBuf,
    /// Run only this shard and write its partial.
    pub shard: Option<Shard>,
    pub progress: Progress,
}

/// The folder a domain writes into.
pub fn domain_dir<D: Domain>(out: &Path) -> PathBuf {
    out.join(D::NAME)
}

/// Runs `domain`'s sweep (or the shard `opts` names) and writes its files.
pub fn run<D: Domain>(
    domain: &D,
    topo: &Topology,
    opts: &Options,
) -> Result<Written, MilestoneError> {
    let dir = domain_dir::<D>(&opts.out);
    output::make_dir(&dir)?;
    if let Some(s) = opts.shard {
        return sweep::run_shard(domain, topo, s, &dir, opts.progress);
    }
    let rows = sweep::run_points(domain, topo, |_| true, opts.progress)?;
    let points = rows.len();
    let files = domain.write(topo, rows.into_iter().map(|(_, r)| r).collect(), &dir)?;
    Ok(Written { files, points })
}

/// Merges the partials of `domain` found in `shard_dirs` and writes what
/// an unsharded run writes.
pub fn merge<D: Domain>(
    domain: &D,
    topo: &Topology,
    out: &Path,
    shard_dirs: &[PathBuf],
) -> Result<Written, MilestoneError> {
    let rows = sweep::merge_rows(domain, topo, shard_dirs)?;
    let dir = domain_dir::<D>(out);
    output::make_dir(&dir)?;
    let points = rows.len();
    let files = domain.write(topo, rows, &dir)?;
    Ok(Written { files, points })
}
