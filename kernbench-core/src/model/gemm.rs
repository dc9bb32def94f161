//! The ideal pipeline of a tiled GEMM on one PE, from the parsed topology.
//!
//! A kernel computes `C (M x N) = A (M x K) · B (K x N)` in output blocks
//! of `bm x bn`, one `tl::dot` per `bk` step of K. Block shapes are static,
//! as in Triton: a ragged edge block computes its whole block, its loads
//! finding only the valid part. Each dot is a composite
//! GEMM the PE scheduler cuts into tiles of `tile_m x tile_k x tile_n`
//! (ragged edges padded to a whole tile), output tiles row-major with the
//! K loop innermost, and runs through four stages per tile:
//!
//! | stage | per tile | reads from the topology |
//! |---|---|---|
//! | DMA in | the operand tile's valid bytes / the bandwidth of the route from where it lives (HBM or SRAM) to the PE; none when operands are in TCM | the route's slowest hop: HBM slice (raw x efficiency), crossbar port, SRAM port |
//! | Fetch | `(tile_m·tile_k + tile_k·tile_n) x 2 B / fetch_bw` | `pe_tcm.fetch_bw_gbs` |
//! | GEMM | the MAC array's time: an output-stationary `rows x cols` array holds one output tile; a K loop of `kt` tiles streams `kt·tile_k` cycles plus its skew-in and drain, `rows + cols - 2`, paid once per dot; an output tile larger than the array takes one fold per `rows x cols` piece | `pe_gemm.*` |
//! | DMA out | the fp32 accumulator tile written back to TCM when its K loop ends, `tile_m·tile_n x 4 B / fetch_bw` | `pe_tcm.fetch_bw_gbs` |
//!
//! A pipeline whose slowest stage `b` handles every tile takes at least
//! the stages before `b` for the first tile (fill; before the first
//! write-back the array runs the first dot's whole K loop), `b` for every
//! tile, and the stages after `b` for the last tile (drain; the array
//! then has only that tile left, the end of its K loop):
//!
//! `ideal = max over b of (fill_b + total_b + drain_b)`,
//!
//! which is "fill + tiles x max(stage) + drain" without assuming which
//! stage is the slowest. Operands staged by the kernel (`tcm`, `sram`)
//! add a resource of their own: every block load and the final store of
//! C cross the HBM slice, so the ideal is also at least their bytes over
//! the slice's bandwidth, and the first block must land before the first
//! tile is fetched. Nothing else (launch, issue, DMA setup, waiting on
//! the previous dot's accumulator) is charged, so a simulated run is never
//! faster than this.
//!
//! Roofline view: a 32x64x32 fp16 tile does 131,072 FLOPs over 10,240
//! bytes (A 4 KiB, B 4 KiB, C 2 KiB), 12.8 FLOP/B; one HBM slice at
//! 204.8 GB/s feeds 2.6 TFLOP/s, a third of the array's 8.2 TFLOP/s peak,
//! so streaming every tile from HBM is memory-bound unless operands are
//! reused from TCM or SRAM.

use crate::dsl::Stage;
use crate::fabric::addr::{Endpoint, PeLoc, PhysAddr, Space};
use crate::fabric::machine::Machine;

/// Bytes per element of GEMM operands and of the stored result (fp16).
const OPERAND_BYTES: f64 = 2.0;
/// Bytes per element of the accumulator a tile writes back (fp32).
const ACC_BYTES: f64 = 4.0;

/// A GEMM as a kernel runs it: its shape, its blocking and where its
/// operand blocks are staged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmShape {
    /// Rows of A and C.
    pub m: u64,
    /// Columns of A, rows of B.
    pub k: u64,
    /// Columns of B and C.
    pub n: u64,
    /// Output block rows, output block columns and K step per dot.
    pub block: [u64; 3],
    /// Where operand blocks wait for the GEMM.
    pub stage: Stage,
}

/// Time each pipeline stage needs for all its tiles, ns.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StageTimes {
    pub dma_in_ns: f64,
    pub fetch_ns: f64,
    pub gemm_ns: f64,
    pub dma_out_ns: f64,
}

impl StageTimes {
    fn as_array(self) -> [f64; 4] {
        [self.dma_in_ns, self.fetch_ns, self.gemm_ns, self.dma_out_ns]
    }
}

/// The ideal pipeline of one GEMM on one PE (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmIdeal {
    /// Tiles the PE scheduler runs (over every dot).
    pub tiles: u64,
    /// Useful multiply-accumulates, `M·K·N`.
    pub macs: u64,
    /// Every stage's time over all tiles.
    pub stages: StageTimes,
    /// The first tile's time in each stage up to its write-back (the fill
    /// terms; its GEMM is the first dot's whole K loop).
    pub first_tile: StageTimes,
    /// What the last tile still needs in each stage (the drain terms; its
    /// GEMM is the end of its K loop only).
    pub last_tile: StageTimes,
    /// Every byte the GEMM reads from or writes to the HBM slice (streamed
    /// tiles or staged blocks, and the store of C) over its bandwidth, ns.
    pub hbm_ns: f64,
    /// The first staged block landing in TCM or SRAM, ns (0 for `hbm_ref`).
    pub first_block_ns: f64,
    /// The last output block stored to HBM, ns.
    pub last_store_ns: f64,
    /// The ideal wall time, ns.
    pub wall_ns: f64,
    /// The array's peak rate, MACs per ns (`rows x cols x clock`).
    pub peak_macs_per_ns: f64,
}

impl GemmIdeal {
    /// The ideal pipeline of `g` on PE `pe` of `machine`, its operands and
    /// result in `pe`'s cube's HBM.
    pub fn new(machine: &Machine, pe: PeLoc, g: GemmShape) -> Self {
        let t = &machine.topo;
        let p = &t.pe_gemm;
        let (tm, tk, tn) = (
            u64::from(p.tile_m),
            u64::from(p.tile_k),
            u64::from(p.tile_n),
        );
        let (rows, cols) = (u64::from(p.mac_rows), u64::from(p.mac_cols));
        let [bm, bn, bk] = g.block.map(|b| b.max(1));
        let (m, k, n) = (g.m.max(1), g.k.max(1), g.n.max(1));
        // Tiles along each axis. A block's shape is static (a constexpr of
        // the kernel), so a ragged last block runs as many tiles as a full
        // one; only the bytes its loads find are moved.
        let tiles_along =
            |len: u64, block: u64, tile: u64| len.div_ceil(block) * block.div_ceil(tile);
        let (mt, nt) = (tiles_along(m, bm, tm), tiles_along(n, bn, tn));
        let dots = k.div_ceil(bk);
        let kt = tiles_along(k, bk, tk);
        let out_tiles_per_dot = mt * nt;
        let tiles = out_tiles_per_dot * kt;

        let folds = tm.div_ceil(rows) * tn.div_ceil(cols);
        let skew = rows + cols - 2;
        // Cycles of one output tile over all its dots.
        let array_cycles = if folds == 1 {
            kt * tk + dots * skew
        } else {
            folds * kt * (tk + skew)
        };
        let first_dot_kt = bk.div_ceil(tk);
        let first_cycles = if folds == 1 {
            first_dot_kt * tk + skew
        } else {
            folds * first_dot_kt * (tk + skew)
        };
        // What is left of the array's work once the last tile is fetched:
        // that tile alone, the end of its K loop (plus the start when the
        // loop is one tile long).
        let last_cycles = if folds == 1 {
            tk + rows - 1 + if first_dot_kt == 1 { cols - 1 } else { 0 }
        } else {
            folds * (tk + skew)
        };
        let clock = p.clock_ghz;
        let fetch_gbs = t.pe_tcm.fetch_bw_gbs;
        let fetch_tile = ((tm * tk + tk * tn) as f64 * OPERAND_BYTES) / fetch_gbs;
        let wb_tile = (tm * tn) as f64 * ACC_BYTES / fetch_gbs;

        let tcm = Endpoint::Mem(pe.tcm(0));
        let mem = |space| {
            Endpoint::Mem(PhysAddr {
                sip: pe.sip,
                cube: pe.cube,
                space,
                offset: 0,
            })
        };
        let hbm_gbs = route_gbs(machine, mem(Space::Hbm), tcm);
        let store_gbs = route_gbs(machine, tcm, mem(Space::Hbm));
        // Bytes each operand moves when streamed tile by tile: A once per
        // output-tile column, B once per output-tile row (valid bytes only).
        let streamed = (m * k * nt + k * n * mt) as f64 * OPERAND_BYTES;
        let first_in = (tm.min(m) * tk.min(k) + tk.min(k) * tn.min(n)) as f64 * OPERAND_BYTES;
        // Bytes the kernel's block loads move: A once per block column, B
        // once per block row.
        let staged = (m * k * n.div_ceil(bn) + k * n * m.div_ceil(bm)) as f64 * OPERAND_BYTES;
        let first_block = (bm.min(m) * bk.min(k) + bk.min(k) * bn.min(n)) as f64 * OPERAND_BYTES;
        let stored = (m * n) as f64 * OPERAND_BYTES;
        // The smallest output block (a ragged last one) bounds the store
        // of whichever block ends last.
        let edge = |len: u64, block: u64| len - (len.div_ceil(block) - 1) * block;
        let last_block = (edge(m, bm) * edge(n, bn)) as f64 * OPERAND_BYTES;

        let (dma_in_ns, first_in_ns, first_block_ns) = match g.stage {
            Stage::HbmRef => (streamed / hbm_gbs, first_in / hbm_gbs, 0.0),
            Stage::Sram => {
                let sram_gbs = route_gbs(machine, mem(Space::Sram), tcm);
                let to_sram = route_gbs(machine, mem(Space::Hbm), mem(Space::Sram));
                (
                    streamed / sram_gbs,
                    first_in / sram_gbs,
                    first_block / to_sram,
                )
            }
            Stage::Tcm => (0.0, 0.0, first_block / hbm_gbs),
        };
        let stages = StageTimes {
            dma_in_ns,
            fetch_ns: tiles as f64 * fetch_tile,
            gemm_ns: (out_tiles_per_dot * array_cycles) as f64 / clock,
            dma_out_ns: (out_tiles_per_dot * dots) as f64 * wb_tile,
        };
        let first_tile = StageTimes {
            dma_in_ns: first_in_ns,
            fetch_ns: fetch_tile,
            gemm_ns: first_cycles as f64 / clock,
            dma_out_ns: wb_tile,
        };
        let last_tile = StageTimes {
            gemm_ns: last_cycles as f64 / clock,
            ..first_tile
        };
        let last_store_ns = last_block / store_gbs;
        let totals = stages.as_array();
        let firsts = first_tile.as_array();
        let lasts = last_tile.as_array();
        let pipeline = (0..totals.len())
            .map(|b| {
                let fill: f64 = firsts[..b].iter().sum();
                let drain: f64 = lasts[b + 1..].iter().sum();
                fill + totals[b] + drain
            })
            .fold(0.0, f64::max);
        // Every byte read from or written to the slice crosses it once.
        let slice_gbs = t.hbm_ctrl.effective_bw_gbs();
        let reads = if g.stage == Stage::HbmRef {
            streamed
        } else {
            staged
        };
        let hbm_total = (reads + stored) / slice_gbs;
        let wall_ns = (first_block_ns + pipeline + last_store_ns).max(hbm_total);
        GemmIdeal {
            tiles,
            macs: m * k * n,
            stages,
            first_tile,
            last_tile,
            hbm_ns: hbm_total,
            first_block_ns,
            last_store_ns,
            wall_ns,
            peak_macs_per_ns: (rows * cols) as f64 * clock,
        }
    }

    /// Useful MAC efficiency of the ideal, percent: `M·K·N / (wall x peak)`.
    pub fn useful_eff_pct(&self) -> f64 {
        100.0 * self.macs as f64 / (self.wall_ns * self.peak_macs_per_ns)
    }

    /// GEMM-engine utilization of the ideal, percent: array busy / wall.
    pub fn gemm_util_pct(&self) -> f64 {
        100.0 * self.stages.gemm_ns / self.wall_ns
    }
}

/// Bandwidth of the slowest hop between two endpoints, GB/s (its lanes
/// together); unbounded within one place.
fn route_gbs(machine: &Machine, from: Endpoint, to: Endpoint) -> f64 {
    machine.route(from, to).map_or(f64::INFINITY, |r| {
        r.hops
            .iter()
            .map(|h| machine.link(h.link).bw.times(u64::from(h.lanes)).gbs())
            .fold(f64::INFINITY, f64::min)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::topology::Topology;

    fn ideal(m: u64, k: u64, n: u64, stage: Stage) -> GemmIdeal {
        let machine = Machine::new(&Topology::default_topology());
        let pe = PeLoc {
            sip: 0,
            cube: 0,
            pe: 0,
        };
        GemmIdeal::new(
            &machine,
            pe,
            GemmShape {
                m,
                k,
                n,
                block: [128, 128, 128],
                stage,
            },
        )
    }

    #[test]
    fn a_512_cube_streamed_from_hbm_in_128_steps_is_bound_by_the_array() {
        let g = ideal(512, 512, 512, Stage::HbmRef);
        assert_eq!(g.tiles, 2048);
        // Every tile streams 8 KiB over 204.8 GB/s: 40 ns; the array needs
        // 64 cycles a tile plus 126 per output tile per dot.
        assert!((g.stages.dma_in_ns - 2048.0 * 8192.0 / 204.8).abs() < 1e-6);
        assert_eq!(g.stages.gemm_ns, (2048 * 64 + 256 * 4 * 126) as f64);
        // The slice also carries the 512 KiB store of C.
        let slice = (2048.0 * 8192.0 + 512.0 * 512.0 * 2.0) / 204.8;
        assert!((g.hbm_ns - slice).abs() < 1e-6);
        // A K step of 128 pays the array's skew every two tiles, so the
        // array, not the slice, is the slowest stage: the first tile's
        // DMA-in (40 ns) and Fetch (8 ns) before it, the last write-back
        // and C block store after it.
        assert!(g.stages.gemm_ns > g.hbm_ns);
        let fill = g.first_tile.dma_in_ns + g.first_tile.fetch_ns;
        let drain = g.last_tile.dma_out_ns + g.last_store_ns;
        assert!((g.wall_ns - (fill + g.stages.gemm_ns + drain)).abs() < 1e-6);
    }

    #[test]
    fn staging_in_tcm_makes_the_array_the_bottleneck() {
        let g = ideal(512, 512, 512, Stage::Tcm);
        assert_eq!(g.stages.dma_in_ns, 0.0);
        assert!(g.wall_ns >= g.stages.gemm_ns);
        assert!(g.stages.gemm_ns > g.hbm_ns);
        assert!(g.useful_eff_pct() <= 25.0, "a 32x32 tile fills a quarter");
    }

    #[test]
    fn under_tile_shapes_pay_whole_blocks_on_the_array() {
        // A 128-block over a 16x16x16 GEMM runs all 4 x 2 x 4 of its tiles.
        assert_eq!(ideal(16, 16, 16, Stage::Tcm).tiles, 32);
        let machine = Machine::new(&Topology::default_topology());
        let pe = PeLoc {
            sip: 0,
            cube: 0,
            pe: 0,
        };
        let shape = GemmShape {
            m: 16,
            k: 16,
            n: 16,
            block: [32, 32, 64],
            stage: Stage::Tcm,
        };
        let g = GemmIdeal::new(&machine, pe, shape);
        assert_eq!(g.tiles, 1);
        assert_eq!(g.stages.gemm_ns, (64 + 126) as f64);
        assert!(g.useful_eff_pct() < 1.0);
    }
}
