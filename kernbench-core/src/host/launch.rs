//! Launching: a grid of programs ([`LaunchOptions`]), how they map onto PEs
//! ([`Mapping`]), and the programs of a launch as [`Work`]: each is traced
//! when its PE starts it, so a long launch holds only what is in flight.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::dsl::{ArgValue, Kernel, KernelArgs, ProgramInfo, TraceConfig};
use crate::exec::pe::Program;
use crate::fabric::addr::{PeLoc, PhysAddr};
use crate::fabric::topology::Topology;

use super::error::RuntimeError;

/// How a launch's programs map onto PEs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mapping {
    /// Program `i` on the machine's PE `i`: the PEs of cube 0 in order,
    /// then cube 1, ... (wrapping around when programs outnumber PEs).
    #[default]
    Spread,
    /// Program `i` on `pes[i % pes.len()]`; programs sharing a PE run one
    /// after another.
    Pes(Vec<PeLoc>),
}

/// A launch: the grid and the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchOptions {
    /// Programs per axis; `tl::program_id(a)` ranges over `0..grid[a]`.
    pub grid: [usize; 3],
    /// Which PE runs each program; [`Mapping::Spread`] unless set with
    /// [`Self::on`].
    pub mapping: Mapping,
}

impl LaunchOptions {
    /// A launch of `grid` programs with the [`Mapping::Spread`] mapping.
    pub fn grid(grid: [usize; 3]) -> Self {
        LaunchOptions {
            grid,
            mapping: Mapping::Spread,
        }
    }
    /// Replaces the mapping.
    pub fn on(mut self, mapping: Mapping) -> Self {
        self.mapping = mapping;
        self
    }
}

/// Most programs in one launch: each is a handle held until its PE starts
/// it, so a grid past a few million is a mistake, not a workload.
pub const MAX_PROGRAMS: usize = 1 << 22;

/// Programs mapped onto the PEs that run them, in order.
pub type Work = Vec<(PeLoc, Vec<Program>)>;

/// The trace limits of launches on `topo`, the one rule every tracer uses
/// (launches, `kernbench lower`): the PE's kernel scratch in TCM, and each
/// PE's share of the half of its cube's SRAM kept for kernel buffers.
pub fn trace_config(topo: &Topology) -> TraceConfig {
    TraceConfig {
        scratch_bytes: topo.pe_tcm.scratch_bytes(),
        sram_bytes: sram_window(topo),
        ipcq_depth: topo.ipcq.depth as usize,
        ..TraceConfig::default()
    }
}

/// Each PE's share of the half of its cube's SRAM kept for kernel buffers.
pub(super) fn sram_window(topo: &Topology) -> u64 {
    topo.sram.size_mb * (1 << 20) / 2 / u64::from(topo.system.pes_per_cube)
}

/// Checks that every tensor argument names memory that exists on `topo`,
/// first byte to last: a view whose rows would run past the address map
/// (or wrap around it) is refused, so every in-bounds element of it has a
/// real address.
pub(super) fn check_args(topo: &Topology, values: &[ArgValue]) -> Result<(), RuntimeError> {
    for v in values {
        if let ArgValue::Ptr(d) = v {
            let first = PhysAddr::decode(d.base, topo)?;
            if d.rows == 0 || d.cols == 0 {
                continue;
            }
            let bytes = ((d.rows - 1) as u64)
                .checked_mul(d.row_stride as u64)
                .and_then(|e| e.checked_add(d.cols as u64))
                .and_then(|e| e.checked_mul(d.dtype.size_bytes()));
            // The last byte in the same memory, at the offset the tensor's
            // size puts it (not carried into the fields above the offset).
            let ends_inside = bytes.is_some_and(|b| {
                let last = d.base.checked_add(b - 1).map(|a| PhysAddr::decode(a, topo));
                matches!(last, Some(Ok(l))
                    if (l.sip, l.cube, l.space) == (first.sip, first.cube, first.space)
                        && first.offset.checked_add(b - 1) == Some(l.offset))
            });
            if d.row_stride < d.cols || !ends_inside {
                return Err(RuntimeError::TensorPastMemory {
                    base: d.base,
                    rows: d.rows,
                    cols: d.cols,
                    row_stride: d.row_stride,
                });
            }
        }
    }
    Ok(())
}

/// Maps every program of a launch onto a PE. Program 0 is traced now, so a
/// kernel that cannot trace fails before anything runs; the others are
/// traced when their PE starts them.
pub fn trace_launch<K: Kernel>(
    topo: &Topology,
    args: &K::Args,
    opts: &LaunchOptions,
) -> Result<Work, RuntimeError> {
    check_args(topo, &args.values())?;
    let [g0, g1, g2] = opts.grid;
    let n = g0
        .checked_mul(g1)
        .and_then(|n| n.checked_mul(g2))
        .filter(|&n| n <= MAX_PROGRAMS)
        .ok_or(RuntimeError::GridTooLarge {
            grid: opts.grid,
            max: MAX_PROGRAMS,
        })?;
    if n == 0 {
        return Err(RuntimeError::EmptyGrid(opts.grid));
    }
    let total = (topo.system.sips * topo.cubes_per_sip() * topo.system.pes_per_cube) as usize;
    if let Mapping::Pes(pes) = &opts.mapping {
        if pes.is_empty() {
            return Err(RuntimeError::NoPes);
        }
        for p in pes {
            p.tcm(0).check(topo)?;
        }
    }
    let cfg = trace_config(topo);
    let grid = opts.grid;
    let mut first = Some(K::trace(args, &ProgramInfo::grid([0, 0, 0], grid), &cfg)?);
    let shared = Arc::new(args.clone());
    let mut per_pe: BTreeMap<u32, (PeLoc, Vec<Program>)> = BTreeMap::new();
    for i in 0..n {
        let id = [i % g0, (i / g0) % g1, i / (g0 * g1)];
        let args = shared.clone();
        let program = match first.take() {
            Some(stream) => Program::traced(stream),
            None => Program::deferred(move || K::trace(&args, &ProgramInfo::grid(id, grid), &cfg)),
        };
        let pe = match &opts.mapping {
            Mapping::Spread => PeLoc::from_global((i % total) as u32, topo),
            Mapping::Pes(pes) => pes[i % pes.len()],
        };
        per_pe
            .entry(pe.global(topo))
            .or_insert_with(|| (pe, Vec::new()))
            .1
            .push(program);
    }
    Ok(per_pe.into_values().collect())
}
