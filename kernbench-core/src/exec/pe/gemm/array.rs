//! The MAC array's timing: an output-stationary systolic array of
//! `mac_rows x mac_cols` PEs, after SCALE-Sim's analytical runtime (v2,
//! `systolic_compute_os`).
//!
//! Each PE of the array owns one output element and accumulates into it as
//! the A rows enter from the left and the B columns from the top, skewed
//! one cycle per row and column. An output block of at most `R x C`
//! elements is a *fold*; a fold with reduction length `T` takes
//! `T + R + C - 2` cycles: `C - 1` to fill the skew, `T` to stream the
//! reduction, `R - 1` to drain the results. The array is padded to its full
//! size whatever the fold uses, so a tile smaller than the array wastes the
//! rest, and folds do not overlap (outputs drain before the next fold).
//!
//! In the tile pipeline a tile's K loop is one reduction: while the same
//! output block stays on the array (one fold per tile), the fill is paid
//! before its first K tile and the drain after its last, and every tile in
//! between streams `tk` cycles. A tile larger than the array splits into
//! several folds per K tile, each filled and drained.

use crate::fabric::topology::Topology;
use crate::fabric::units::{ps_ceil, Ps};

/// The MAC array's shape and clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MacArray {
    rows: u64,
    cols: u64,
    clock_ghz: f64,
}

impl MacArray {
    pub fn new(topo: &Topology) -> Self {
        let p = &topo.pe_gemm;
        MacArray {
            rows: u64::from(p.mac_rows),
            cols: u64::from(p.mac_cols),
            clock_ghz: p.clock_ghz,
        }
    }

    /// Cycles the array spends on K tile `ki` (of `kt`) of a `tm x tk x tn`
    /// tile plan.
    pub fn tile_cycles(&self, [tm, tk, tn]: [usize; 3], ki: u32, kt: u32) -> u64 {
        let (r, c) = (self.rows, self.cols);
        let (tm, tk, tn) = (tm as u64, tk as u64, tn as u64);
        let folds = tm.div_ceil(r) * tn.div_ceil(c);
        if folds == 1 {
            let fill = if ki == 0 { c - 1 } else { 0 };
            let drain = if ki + 1 == kt { r - 1 } else { 0 };
            fill + tk + drain
        } else {
            folds * (tk + r + c - 2)
        }
    }

    /// [`Self::tile_cycles`] in picoseconds, rounded up.
    pub fn tile_ps(&self, shape: [usize; 3], ki: u32, kt: u32) -> Ps {
        let cycles = self.tile_cycles(shape, ki, kt);
        ps_ceil(cycles as f64 * 1000.0 / self.clock_ghz)
    }
}

/// [`MacArray::tile_ps`] of one tile shape for every place in a K loop,
/// computed once per GEMM: the tile pipeline asks per tile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TileTimes([Ps; 4]);

impl TileTimes {
    pub fn new(array: &MacArray, shape: [usize; 3]) -> Self {
        // Tile 1 of a loop of 3 is a middle one, 0 the first, 2 the last;
        // the only tile of a loop of 1 is both.
        TileTimes([
            array.tile_ps(shape, 1, 3),
            array.tile_ps(shape, 0, 3),
            array.tile_ps(shape, 2, 3),
            array.tile_ps(shape, 0, 1),
        ])
    }

    /// The time of K tile `ki` of a loop of `kt`.
    #[inline]
    pub fn ps(&self, ki: u32, kt: u32) -> Ps {
        let first = usize::from(ki == 0);
        let last = usize::from(ki + 1 == kt);
        self.0[first | (last << 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(rows: u64, cols: u64) -> MacArray {
        MacArray {
            rows,
            cols,
            clock_ghz: 1.0,
        }
    }

    #[test]
    fn one_fold_pays_fill_and_drain_once_per_k_loop() {
        let a = array(64, 64);
        // SCALE-Sim's fold: T + R + C - 2 cycles.
        assert_eq!(a.tile_cycles([32, 64, 32], 0, 1), 64 + 64 + 64 - 2);
        // A K loop of 4: fill before the first, drain after the last.
        let total: u64 = (0..4).map(|k| a.tile_cycles([32, 64, 32], k, 4)).sum();
        assert_eq!(total, 4 * 64 + 64 + 64 - 2);
        assert_eq!(a.tile_cycles([32, 64, 32], 1, 4), 64);
    }

    #[test]
    fn a_bigger_array_does_not_speed_up_a_tile_it_cannot_fill() {
        let small = array(64, 64).tile_cycles([32, 64, 32], 1, 4);
        let big = array(128, 128).tile_cycles([32, 64, 32], 1, 4);
        assert_eq!(small, big);
    }

    #[test]
    fn the_table_agrees_with_the_formula_everywhere_in_a_loop() {
        for a in [array(64, 64), array(16, 128)] {
            let a = MacArray {
                clock_ghz: 1.3,
                ..a
            };
            for shape in [[32, 64, 32], [128, 64, 128]] {
                let t = TileTimes::new(&a, shape);
                for kt in 1..6 {
                    for ki in 0..kt {
                        assert_eq!(t.ps(ki, kt), a.tile_ps(shape, ki, kt), "{ki} of {kt}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_tile_bigger_than_the_array_folds() {
        // 128x128 outputs on 64x64: four folds, each filled and drained.
        assert_eq!(
            array(64, 64).tile_cycles([128, 64, 128], 0, 1),
            4 * (64 + 126)
        );
    }
}
