//! The PE scheduler's tile plan of a composite GEMM: tile sizes and stage
//! costs, the order tiles run in, and where a streamed operand tile comes
//! from. Ragged edges are padded to a whole tile: the array always does a
//! full tile's work.

use crate::dsl::{CommandStream, GemmCmd, GemmOperand, Operand, Space};
use crate::fabric::addr::{Endpoint, PhysAddr};
use crate::fabric::engine::Runs;
use crate::fabric::topology::Topology;
use crate::fabric::units::{Bandwidth, Ps};

use super::super::data::BufferHome;
use super::super::layout::{block_runs, buffer_runs};
use super::array::{MacArray, TileTimes};

/// Stage costs of one tile, from the topology.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TileCosts {
    pub tm: usize,
    pub tk: usize,
    pub tn: usize,
    pub fetch: Ps,
    /// The MAC array's time for a tile, by its place in its K loop.
    pub array: TileTimes,
    pub write_back: Ps,
    pub tile_macs: u64,
}

impl TileCosts {
    pub fn new(topo: &Topology, g: &GemmCmd) -> Self {
        let p = &topo.pe_gemm;
        let (tm, tk, tn) = (p.tile_m as usize, p.tile_k as usize, p.tile_n as usize);
        let tcm = Bandwidth::from_gbs(topo.pe_tcm.fetch_bw_gbs);
        let in_size = g.in_dtype.size_bytes();
        let tile_macs = (tm * tk * tn) as u64;
        TileCosts {
            tm,
            tk,
            tn,
            fetch: tcm.ser_ps((tm * tk + tk * tn) as u64 * in_size),
            array: TileTimes::new(&MacArray::new(topo), [tm, tk, tn]),
            write_back: tcm.ser_ps((tm * tn) as u64 * g.out_dtype.size_bytes()),
            tile_macs,
        }
    }

    /// The MAC array's time for tile `ki` of a K loop of `kt`.
    #[inline]
    pub fn gemm_ps(&self, ki: u32, kt: u32) -> Ps {
        self.array.ps(ki, kt)
    }
}

/// Tile order: output tiles row-major, the K loop innermost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TilePlan {
    pub mt: u32,
    pub nt: u32,
    pub kt: u32,
}

impl TilePlan {
    pub fn new(g: &GemmCmd, c: &TileCosts) -> Self {
        let t = |x: usize, t: usize| (x.div_ceil(t).max(1)) as u32;
        TilePlan {
            mt: t(g.m, c.tm),
            nt: t(g.n, c.tn),
            kt: t(g.k, c.tk),
        }
    }

    pub fn tiles(&self) -> u32 {
        self.mt * self.nt * self.kt
    }

    /// (mi, ni, ki) of tile `t`.
    pub fn coords(&self, t: u32) -> (u32, u32, u32) {
        (
            t / (self.nt * self.kt),
            (t / self.kt) % self.nt,
            t % self.kt,
        )
    }
}

/// Tiles of `g`'s plan, counted without overflow.
pub(crate) fn tile_count(g: &GemmCmd, topo: &Topology) -> u64 {
    let p = &topo.pe_gemm;
    let t = |x: usize, t: u32| (x as u64).div_ceil(u64::from(t)).max(1);
    t(g.m, p.tile_m) * t(g.k, p.tile_k) * t(g.n, p.tile_n)
}

/// Whether the GEMM streams any operand from HBM or SRAM.
pub(crate) fn needs_dma_in(g: &GemmCmd) -> bool {
    g.a.space != Space::Tcm || g.b.space != Space::Tcm
}

/// The DMA-in transfers of tile `t`: where each streamed operand's tile
/// starts and how its bytes lie (one run per row of the tile, at the
/// operand's row pitch). `None` for an operand in TCM or wholly masked.
pub(crate) fn tile_sources(
    g: &GemmCmd,
    plan: &TilePlan,
    c: &TileCosts,
    t: u32,
    stream: &CommandStream,
    home: &BufferHome,
) -> [Option<(Endpoint, Runs)>; 2] {
    let (mi, ni, ki) = plan.coords(t);
    // A is m x k, B is k x n, each before its transpose flag.
    let a = (mi as usize * c.tm, ki as usize * c.tk, c.tm, c.tk);
    let b = (ki as usize * c.tk, ni as usize * c.tn, c.tk, c.tn);
    [(&g.a, a), (&g.b, b)].map(|(op, (r0, c0, tr, tc))| {
        (op.space != Space::Tcm)
            .then(|| operand_tile(op, r0, c0, tr, tc, stream, home))
            .flatten()
    })
}

/// Address and layout of one tile of a streamed operand.
fn operand_tile(
    op: &GemmOperand,
    r0: usize,
    c0: usize,
    tr: usize,
    tc: usize,
    stream: &CommandStream,
    home: &BufferHome,
) -> Option<(Endpoint, Runs)> {
    // Tile coordinates are in op(X); storage is transposed when `trans`.
    let (r0, c0, tr, tc) = if op.trans {
        (c0, r0, tc, tr)
    } else {
        (r0, c0, tr, tc)
    };
    let clip = |v: usize, o: usize, t: usize| v.saturating_sub(o).min(t);
    match op.src {
        Operand::Hbm(block) => {
            let (vr, vc) = (clip(block.valid[0], r0, tr), clip(block.valid[1], c0, tc));
            let runs = block_runs(&block, [vr, vc]);
            let addr = block
                .tensor
                .elem_addr(block.origin[0] + r0, block.origin[1] + c0);
            // Tensor addresses were decoded and checked at launch.
            let at = PhysAddr::unpack(addr).ok()?;
            (runs.bytes() > 0).then_some((Endpoint::Mem(at), runs))
        }
        Operand::Buf(id) => {
            let b = stream.buffers[id.index()];
            let (vr, vc) = (clip(b.shape[0], r0, tr), clip(b.shape[1], c0, tc));
            let mut at = home.addr(&b);
            at.offset += (r0 * b.shape[1] + c0) as u64 * b.dtype.size_bytes();
            let runs = buffer_runs(&b, [vr, vc]);
            (runs.bytes() > 0).then_some((Endpoint::Mem(at), runs))
        }
    }
}
