//! The one sweep driver every domain shares: run a domain's points in
//! parallel, in order, with a progress bar; run a shard of them into a
//! partial file; merge partials back into the whole.
//!
//! A point's row depends on the point and the topology alone, so rows can
//! run anywhere and in any order; the driver orders them by point, which
//! makes the output the same bytes whatever the thread count or the
//! sharding.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use kernbench_core::Topology;

use super::output::{read_json, write_file, Written};
use super::{Domain, MilestoneError};

/// Which points a run takes: every `n`-th point starting at `k` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl Shard {
    /// Whether point `i` (0-based) belongs to this shard.
    pub fn takes(&self, i: usize) -> bool {
        i % self.n == self.k - 1
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("--shard expects K/N with 1 <= K <= N, got `{s}`");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// How the driver shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// No bar even on a terminal.
    pub quiet: bool,
}

impl Progress {
    fn bar(self, name: &str, len: usize) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{bar:32}] {pos}/{len} points, {elapsed} elapsed, about {eta} left",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    }
}

/// Runs the points `take` selects, in parallel; the rows in point order,
/// each with its index.
pub fn run_points<D: Domain>(
    domain: &D,
    topo: &Topology,
    take: impl Fn(usize) -> bool,
    progress: Progress,
) -> Result<Vec<(usize, D::Row)>, MilestoneError> {
    let points = domain.points();
    let chosen: Vec<usize> = (0..points.len()).filter(|&i| take(i)).collect();
    let bar = progress.bar(D::NAME, chosen.len());
    let rows: Vec<_> = chosen
        .par_iter()
        .map(|&i| {
            let row = domain.run(topo, &points[i]);
            bar.inc(1);
            (i, row)
        })
        .collect();
    bar.finish_and_clear();
    rows.into_iter()
        .map(|(i, row)| {
            row.map(|r| (i, r)).map_err(|source| MilestoneError::Point {
                domain: D::NAME,
                point: domain.label(&points[i]),
                source: Box::new(source),
            })
        })
        .collect()
}

/// The partial result of one shard.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "R: Serialize + DeserializeOwned")]
pub struct Partial<R> {
    pub version: u32,
    pub domain: String,
    pub shard: Shard,
    /// Points in the whole sweep.
    pub points: usize,
    /// Fingerprint of the topology the shard ran on.
    pub topology: String,
    /// Fingerprint of the sweep's points (their labels, in order), so a
    /// partial of another sweep definition is not merged.
    pub sweep: String,
    pub rows: Vec<Indexed<R>>,
}

/// A row and the index of its point.
#[derive(Debug, Serialize, Deserialize)]
pub struct Indexed<R> {
    pub point: usize,
    pub row: R,
}

/// A fingerprint of the parsed topology (FNV-1a of its description), so
/// shards run on different machine descriptions are not merged.
pub fn fingerprint(topo: &Topology) -> String {
    fnv(&format!("{topo:?}"))
}

/// The fingerprint of a sweep's points.
fn sweep_fingerprint<D: Domain>(domain: &D) -> String {
    let labels: Vec<String> = domain.points().iter().map(|p| domain.label(p)).collect();
    fnv(&labels.join("\n"))
}

fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The file name of shard `s`'s partial.
pub fn partial_name(domain: &str, s: Shard) -> String {
    format!("{domain}.shard-{}-of-{}.json", s.k, s.n)
}

/// Runs shard `s` of `domain` and writes its partial into `dir`.
pub fn run_shard<D: Domain>(
    domain: &D,
    topo: &Topology,
    s: Shard,
    dir: &Path,
    progress: Progress,
) -> Result<Written, MilestoneError> {
    let rows = run_points(domain, topo, |i| s.takes(i), progress)?;
    let partial = Partial {
        version: 1,
        domain: D::NAME.to_string(),
        shard: s,
        points: domain.points().len(),
        topology: fingerprint(topo),
        sweep: sweep_fingerprint(domain),
        rows: rows
            .into_iter()
            .map(|(point, row)| Indexed { point, row })
            .collect(),
    };
    let path = dir.join(partial_name(D::NAME, s));
    let bytes = super::output::json_bytes(&partial)?;
    write_file(&path, &bytes)?;
    Ok(Written {
        files: vec![path],
        points: partial.rows.len(),
    })
}

/// The partial files of `domain` in `dir` (or in `dir/<domain>`).
fn partials_in(domain: &str, dir: &Path) -> Result<Vec<PathBuf>, MilestoneError> {
    let mut found = Vec::new();
    for d in [dir.to_path_buf(), dir.join(domain)] {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&format!("{domain}.shard-")) && name.ends_with(".json") {
                found.push(e.path());
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(MilestoneError::Merge(format!(
            "no {domain}.shard-K-of-N.json in {}",
            dir.display()
        )));
    }
    Ok(found)
}

/// The shard a partial's file name says it holds.
fn shard_of(path: &Path) -> Option<Shard> {
    let name = path.file_name()?.to_str()?;
    let (_, rest) = name.split_once(".shard-")?;
    let (k, n) = rest.strip_suffix(".json")?.split_once("-of-")?;
    Some(Shard {
        k: k.parse().ok()?,
        n: n.parse().ok()?,
    })
}

/// Collects the rows of every partial of `domain` in `dirs`: each point of
/// the sweep exactly once, all run on `topo`.
pub fn merge_rows<D: Domain>(
    domain: &D,
    topo: &Topology,
    dirs: &[PathBuf],
) -> Result<Vec<D::Row>, MilestoneError> {
    let total = domain.points().len();
    let want = fingerprint(topo);
    let mut slots: Vec<Option<D::Row>> = (0..total).map(|_| None).collect();
    let mut files = Vec::new();
    for d in dirs {
        files.extend(partials_in(D::NAME, d)?);
    }
    // The same file named two ways is read once.
    let mut files: Vec<PathBuf> = files
        .into_iter()
        .map(|f| std::fs::canonicalize(&f).unwrap_or(f))
        .collect();
    files.sort();
    files.dedup();
    let sweep = sweep_fingerprint(domain);
    for f in files {
        let p: Partial<D::Row> = read_json(&f)?;
        let bad = |why: String| MilestoneError::Merge(format!("{}: {why}", f.display()));
        if p.version != 1 || p.domain != D::NAME {
            return Err(bad(format!(
                "a version {} partial of `{}`, not a version 1 partial of `{}`",
                p.version,
                p.domain,
                D::NAME
            )));
        }
        if p.points != total {
            return Err(bad(format!(
                "a sweep of {} points, this one has {total}",
                p.points
            )));
        }
        if p.sweep != sweep || Some(p.shard) != shard_of(&f) {
            return Err(bad(format!(
                "shard {} of another sweep definition than this milestone's",
                p.shard
            )));
        }
        if p.topology != want {
            return Err(bad(
                "run on another topology than --topology describes".into()
            ));
        }
        for Indexed { point, row } in p.rows {
            match slots.get_mut(point) {
                Some(slot @ None) => *slot = Some(row),
                Some(Some(_)) => return Err(bad(format!("point {point} is in two partials"))),
                None => return Err(bad(format!("point {point} is outside the sweep"))),
            }
        }
    }
    let missing: Vec<String> = slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(MilestoneError::Merge(format!(
            "no partial holds point(s) {} of {total}",
            missing.join(", ")
        )));
    }
    Ok(slots.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_points_round_robin() {
        let s: Shard = "2/3".parse().unwrap();
        assert_eq!(s, Shard { k: 2, n: 3 });
        let taken: Vec<usize> = (0..8).filter(|&i| s.takes(i)).collect();
        assert_eq!(taken, [1, 4, 7]);
        for bad in ["0/3", "4/3", "x/2", "3", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
