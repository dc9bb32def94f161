//! Ring installs (the SFR configuration): which PE is which rank of a
//! collective. Where their IPCQ messages land is a launch option
//! ([`BufferKind`](crate::exec::pe::BufferKind)). A kernel sees only
//! `tl::rank()` and `tl::world_size()`.

use std::fmt;

use crate::fabric::addr::{AddrError, PeLoc};
use crate::fabric::topology::Topology;
use crate::support::Named;

/// How a ring was formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RingKind {
    /// The PEs of one cube are ranks 0..n.
    IntracubePe,
    /// One PE per cube, cubes in an order that keeps neighbours adjacent,
    /// continuing onto further SIPs.
    IntercubeMultisip,
    /// One PE per SIP: rank = SIP (the tensor-parallel ring).
    Sip,
}

impl RingKind {
    /// The name bench options use (`intracube_pe_ring`,
    /// `intercube_multisip`, `sip`).
    pub fn name(self) -> &'static str {
        match self {
            RingKind::IntracubePe => "intracube_pe_ring",
            RingKind::IntercubeMultisip => "intercube_multisip",
            RingKind::Sip => "sip",
        }
    }
}

impl Named for RingKind {
    const WHAT: &'static str = "ring";
    const ALL: &'static [RingKind] = &[
        RingKind::IntracubePe,
        RingKind::IntercubeMultisip,
        RingKind::Sip,
    ];
    fn name(self) -> &'static str {
        RingKind::name(self)
    }
}
crate::support::named_str!(RingKind);

/// Why a ring cannot be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// The ring would have fewer than 2 ranks, or more than the topology has
    /// room for.
    #[error("ring `{kind}` needs 2 to {max} ranks on this topology, not {n}")]
    Size {
        /// The ring kind's [`RingKind::name`].
        kind: &'static str,
        /// Ranks asked for.
        n: usize,
        /// Most ranks this kind can have on the topology.
        max: usize,
    },
    /// A ring PE does not exist on the topology.
    #[error(transparent)]
    Addr(#[from] AddrError),
}

/// An installed ring: rank `r` runs on `pes[r]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    /// How the ring was formed.
    pub kind: RingKind,
    /// The PE of each rank, in rank order.
    pub pes: Vec<PeLoc>,
}

impl Ring {
    /// Number of ranks.
    pub fn world_size(&self) -> usize {
        self.pes.len()
    }

    /// The first `n` PEs of cube `cube` of SIP `sip`.
    pub fn intracube_pe_ring(
        topo: &Topology,
        sip: u32,
        cube: u32,
        n: usize,
    ) -> Result<Ring, RingError> {
        let max = topo.system.pes_per_cube as usize;
        check_size(RingKind::IntracubePe, n, max)?;
        let pes: Vec<PeLoc> = (0..n as u32).map(|pe| PeLoc { sip, cube, pe }).collect();
        pes[0].tcm(0).check(topo)?;
        Ok(Ring {
            kind: RingKind::IntracubePe,
            pes,
        })
    }

    /// PE 0 of `n` cubes: SIP 0's cubes along a closed tour of its mesh
    /// (every step one UCIe hop when the mesh has an even side), then SIP
    /// 1's, and so on.
    pub fn intercube_multisip(topo: &Topology, n: usize) -> Result<Ring, RingError> {
        let per_sip = topo.cubes_per_sip() as usize;
        check_size(
            RingKind::IntercubeMultisip,
            n,
            per_sip * topo.system.sips as usize,
        )?;
        let tour = mesh_tour(topo.system.cube_mesh.x, topo.system.cube_mesh.y);
        let pes = (0..n)
            .map(|i| PeLoc {
                sip: (i / per_sip) as u32,
                cube: tour[i % per_sip],
                pe: 0,
            })
            .collect();
        Ok(Ring {
            kind: RingKind::IntercubeMultisip,
            pes,
        })
    }

    /// The first `pes` PEs of each of `cubes` cubes taken in the order of
    /// [`Ring::intercube_multisip`]: rank `i * pes + p` is PE `p` of the
    /// `i`-th cube. Kernels that split work over a cube's PEs run one ring
    /// per PE index over it (PE `p` of cube `i` talks to PE `p` of cube
    /// `i ± 1`); its kind is `IntercubeMultisip`.
    pub fn cube_grid(topo: &Topology, cubes: usize, pes: usize) -> Result<Ring, RingError> {
        let cube_ring = Self::intercube_multisip(topo, cubes)?;
        let per_cube = topo.system.pes_per_cube as usize;
        if pes == 0 || pes > per_cube {
            return Err(RingError::Size {
                kind: "cube grid (PEs per cube)",
                n: pes,
                max: per_cube,
            });
        }
        let pes = cube_ring
            .pes
            .iter()
            .flat_map(|c| (0..pes as u32).map(move |pe| PeLoc { pe, ..*c }))
            .collect();
        Ok(Ring {
            kind: RingKind::IntercubeMultisip,
            pes,
        })
    }

    /// PE 0 of cube 0 of every SIP: rank = SIP.
    pub fn sips(topo: &Topology) -> Result<Ring, RingError> {
        let n = topo.system.sips as usize;
        check_size(RingKind::Sip, n, n)?;
        Ok(Ring {
            kind: RingKind::Sip,
            pes: (0..n as u32)
                .map(|sip| PeLoc {
                    sip,
                    cube: 0,
                    pe: 0,
                })
                .collect(),
        })
    }

    /// A ring of `kind` with `n` ranks (`n` is ignored for `Sip`).
    pub fn install(topo: &Topology, kind: RingKind, n: usize) -> Result<Ring, RingError> {
        match kind {
            RingKind::IntracubePe => Self::intracube_pe_ring(topo, 0, 0, n),
            RingKind::IntercubeMultisip => Self::intercube_multisip(topo, n),
            RingKind::Sip => Self::sips(topo),
        }
    }
}

fn check_size(kind: RingKind, n: usize, max: usize) -> Result<(), RingError> {
    if n < 2 || n > max {
        return Err(RingError::Size {
            kind: kind.name(),
            n,
            max,
        });
    }
    Ok(())
}

/// Cube indices of an `x` by `y` mesh in tour order: along row 0 eastward,
/// snaking back through columns 1.. of the other rows, and home up column
/// 0. Consecutive cubes are neighbours, and so are the last and the first
/// when `y` is even; a mesh one cube wide or tall is walked straight.
pub fn mesh_tour(x: u32, y: u32) -> Vec<u32> {
    let idx = |cx: u32, cy: u32| cy * x + cx;
    if x == 1 || y == 1 {
        return (0..x * y).collect();
    }
    let mut t: Vec<u32> = (0..x).map(|cx| idx(cx, 0)).collect();
    for cy in 1..y {
        let row: Vec<u32> = (1..x).map(|cx| idx(cx, cy)).collect();
        if cy % 2 == 1 {
            t.extend(row.into_iter().rev());
        } else {
            t.extend(row);
        }
    }
    t.extend((1..y).rev().map(|cy| idx(0, cy)));
    t
}

impl fmt::Display for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ring of {}", self.kind.name(), self.pes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tour_visits_every_cube_once_through_neighbours() {
        for (x, y) in [(4, 4), (2, 2), (8, 8), (3, 4), (1, 5)] {
            let t = mesh_tour(x, y);
            let mut seen = t.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..x * y).collect::<Vec<_>>());
            let xy = |c: u32| ((c % x) as i32, (c / x) as i32);
            let step = |a: u32, b: u32| {
                let ((ax, ay), (bx, by)) = (xy(a), xy(b));
                (ax - bx).abs() + (ay - by).abs()
            };
            assert!(
                t.windows(2).all(|w| step(w[0], w[1]) == 1),
                "{x}x{y}: {t:?}"
            );
            if y % 2 == 0 && x > 1 {
                assert_eq!(step(t[t.len() - 1], t[0]), 1, "{x}x{y} closes");
            }
        }
    }
}
