//! Where a panel's ranks run and what each holds.

use kernbench_core::host::{Place, Ring};
use kernbench_core::Topology;

use super::{BenchError, GqaConfig};

/// A panel's ranks: the sequence ring, and how a cube's PEs split heads.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The installed ring; rank `i * stride + p` is sequence member `i`,
    /// head slice `p`.
    pub ring: Ring,
    /// Members of the sequence ring.
    pub n_ranks: usize,
    /// Head slices (PEs per cube splitting the K/V heads; 1 single-user).
    pub stride: usize,
    /// K/V heads each rank attends.
    pub heads: usize,
    /// Cubes whose HBM holds the K/V.
    pub cubes: usize,
}

impl Placement {
    /// Single-user panels: the first `ranks` PEs of cube 0, every rank all
    /// heads. Multi-user panels: `ranks` cubes, their PEs splitting the K/V
    /// heads (as many PEs as divide the heads evenly).
    pub fn of(topo: &Topology, cfg: &GqaConfig) -> Result<Self, BenchError> {
        if !cfg.panel.is_multi() {
            return Ok(Placement {
                ring: Ring::intracube_pe_ring(topo, 0, 0, cfg.ranks)?,
                n_ranks: cfg.ranks,
                stride: 1,
                heads: cfg.h_kv,
                cubes: 1,
            });
        }
        let per_cube = topo.system.pes_per_cube as usize;
        let stride = (1..=per_cube.min(cfg.h_kv))
            .rev()
            .find(|p| cfg.h_kv % p == 0)
            .unwrap_or(1);
        Ok(Placement {
            ring: Ring::cube_grid(topo, cfg.ranks, stride)?,
            n_ranks: cfg.ranks,
            stride,
            heads: cfg.h_kv / stride,
            cubes: cfg.ranks,
        })
    }

    /// `(sequence member, head slice)` of installed rank `rank`.
    pub fn member(&self, rank: usize) -> (usize, usize) {
        (rank / self.stride, rank % self.stride)
    }

    /// The HBM slice of `rank`'s cube, where its tensors live.
    pub fn home(&self, rank: usize) -> Place {
        let pe = self.ring.pes[rank];
        Place::hbm(pe.sip, pe.cube)
    }
}
