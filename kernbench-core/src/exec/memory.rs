//! Contents of device memory, for data execution: every HBM slice, SRAM and
//! PE TCM as a lazily grown byte array, elements stored in their dtype
//! (fp16 via `half`, fp32, masks as one byte) and computed on as f32.

use std::collections::BTreeMap;

use half::{f16, slice::HalfFloatSliceExt};

use super::budget::{Budget, BudgetError};
use crate::dsl::{BlockRef, DType};
use crate::fabric::addr::{AddrError, PhysAddr, Space};
use crate::fabric::topology::Topology;

/// Why a block could not be written: its address, or the budget.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MemoryError {
    /// The block names memory that does not exist.
    #[error(transparent)]
    Addr(#[from] AddrError),
    /// The write would grow the contents past their budget.
    #[error(transparent)]
    Budget(#[from] BudgetError),
}

/// Which memory a region is: (sip, cube, space).
type RegionKey = (u32, u32, Space);

/// Byte contents of every memory that has been written, at most
/// [`Budget::data_bytes`] in all.
#[derive(Debug, Clone)]
pub struct DeviceMemory {
    regions: BTreeMap<RegionKey, Vec<u8>>,
    /// Bytes of all regions, and the most they may reach.
    held: u64,
    limit: u64,
}

impl Default for DeviceMemory {
    fn default() -> Self {
        Self::with_limit(Budget::DEFAULT.data_bytes)
    }
}

/// A 2-D window of memory: `rows x cols` elements of `dtype`, rows
/// `row_stride` elements apart, starting at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Address of element `[0, 0]`.
    pub at: PhysAddr,
    /// Rows, in elements.
    pub rows: usize,
    /// Columns, in elements.
    pub cols: usize,
    /// Elements from the start of one row to the next.
    pub row_stride: usize,
    /// Element type as stored in memory.
    pub dtype: DType,
}

impl DeviceMemory {
    /// Empty memory: every byte reads as zero until written.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty memory whose contents may grow to `limit` bytes.
    pub fn with_limit(limit: u64) -> Self {
        DeviceMemory {
            regions: BTreeMap::new(),
            held: 0,
            limit,
        }
    }

    /// Reads a window as f32, row-major `rows x cols`.
    pub fn read(&self, w: &Window) -> Vec<f32> {
        let mut out = vec![0.0; w.rows * w.cols];
        let key = (w.at.sip, w.at.cube, w.at.space);
        let Some(region) = self.regions.get(&key) else {
            return out;
        };
        let size = w.dtype.size_bytes() as usize;
        let mut halves: Vec<f16> = Vec::new();
        for (r, dst) in out.chunks_exact_mut(w.cols.max(1)).enumerate() {
            let start = w.at.offset as usize + r * w.row_stride * size;
            // Bytes past the written part of the region read as zero.
            let end = (start + w.cols * size).min(region.len());
            if start >= end {
                continue;
            }
            let src = &region[start..end];
            match w.dtype {
                DType::F16 => {
                    // Gather the bits, then convert in bulk (SIMD where the
                    // CPU has it).
                    halves.clear();
                    halves.extend(
                        src.chunks_exact(2)
                            .map(|b| f16::from_le_bytes([b[0], b[1]])),
                    );
                    let n = halves.len();
                    halves.convert_to_f32_slice(&mut dst[..n]);
                }
                DType::F32 => {
                    for (d, b) in dst.iter_mut().zip(src.chunks_exact(4)) {
                        *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    }
                }
                DType::Bool => {
                    for (d, b) in dst.iter_mut().zip(src) {
                        *d = f32::from(u8::from(*b != 0));
                    }
                }
            }
        }
        out
    }

    /// Writes `data` (row-major `rows x cols`) into a window; refuses a
    /// write that would grow the contents past the limit.
    pub fn write(&mut self, w: &Window, data: &[f32]) -> Result<(), BudgetError> {
        let key = (w.at.sip, w.at.cube, w.at.space);
        let size = w.dtype.size_bytes() as usize;
        if w.rows == 0 || w.cols == 0 {
            return Ok(());
        }
        let end = (w.rows - 1)
            .checked_mul(w.row_stride)
            .and_then(|e| e.checked_add(w.cols))
            .and_then(|e| e.checked_mul(size))
            .and_then(|e| e.checked_add(usize::try_from(w.at.offset).ok()?));
        let region = self.regions.entry(key).or_default();
        let grow = end.map(|e| e.saturating_sub(region.len()) as u64);
        match grow.and_then(|g| self.held.checked_add(g)) {
            Some(need) if need <= self.limit => self.held = need,
            need => {
                return Err(BudgetError::Data {
                    need: need.unwrap_or(u64::MAX),
                    limit: self.limit,
                })
            }
        }
        let end = end.unwrap_or(0);
        if region.len() < end {
            // Exactly what is needed: doubling would hold twice the budget.
            region.reserve_exact(end - region.len());
            region.resize(end, 0);
        }
        let mut halves = vec![f16::ZERO; if w.dtype == DType::F16 { w.cols } else { 0 }];
        for (r, src) in data.chunks_exact(w.cols).take(w.rows).enumerate() {
            let start = w.at.offset as usize + r * w.row_stride * size;
            let dst = &mut region[start..start + w.cols * size];
            match w.dtype {
                DType::F16 => {
                    halves.convert_from_f32_slice(src);
                    for (b, v) in dst.chunks_exact_mut(2).zip(&halves) {
                        b.copy_from_slice(&v.to_le_bytes());
                    }
                }
                DType::F32 => {
                    for (b, v) in dst.chunks_exact_mut(4).zip(src) {
                        b.copy_from_slice(&v.to_le_bytes());
                    }
                }
                // Any non-zero value is true, as a cast to bool would be.
                DType::Bool => {
                    for (b, v) in dst.iter_mut().zip(src) {
                        *b = u8::from(*v != 0.0);
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads a (possibly masked) block of a tensor as its full `shape`;
    /// elements past the valid extent read as `fill`.
    pub fn read_block(
        &self,
        b: &BlockRef,
        topo: &Topology,
        fill: f32,
    ) -> Result<Vec<f32>, AddrError> {
        let valid = self.read(&block_window(b, topo)?);
        let [rows, cols] = b.shape;
        let mut out = vec![fill; rows * cols];
        for r in 0..b.valid[0] {
            out[r * cols..r * cols + b.valid[1]]
                .copy_from_slice(&valid[r * b.valid[1]..(r + 1) * b.valid[1]]);
        }
        Ok(out)
    }

    /// Writes the valid part of a block from full-`shape` data.
    pub fn write_block(
        &mut self,
        b: &BlockRef,
        data: &[f32],
        topo: &Topology,
    ) -> Result<(), MemoryError> {
        let w = block_window(b, topo)?;
        let cols = b.shape[1];
        let mut valid = Vec::with_capacity(b.valid[0] * b.valid[1]);
        for r in 0..b.valid[0] {
            valid.extend_from_slice(&data[r * cols..r * cols + b.valid[1]]);
        }
        self.write(&w, &valid)?;
        Ok(())
    }
}

/// The in-bounds window of a block.
pub fn block_window(b: &BlockRef, topo: &Topology) -> Result<Window, AddrError> {
    let t = &b.tensor;
    let at = PhysAddr::decode(t.elem_addr(b.origin[0], b.origin[1]), topo)?;
    Ok(Window {
        at,
        rows: b.valid[0],
        cols: b.valid[1],
        row_stride: t.row_stride,
        dtype: t.dtype,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_round_trip_through_their_dtype() {
        let mut m = DeviceMemory::new();
        let w = Window {
            at: PhysAddr {
                sip: 0,
                cube: 3,
                space: Space::Hbm,
                offset: 512,
            },
            rows: 2,
            cols: 3,
            row_stride: 5,
            dtype: DType::F16,
        };
        let data = [1.0, 2.5, -3.0, 0.1, 1e4, 7.0];
        m.write(&w, &data).unwrap();
        let back = m.read(&w);
        for (a, b) in data.iter().zip(&back) {
            assert_eq!(f16::from_f32(*a).to_f32(), *b);
        }
        // Untouched memory reads as zero.
        let other = Window {
            rows: 1,
            cols: 2,
            ..w
        };
        let far = Window {
            at: PhysAddr {
                offset: 1 << 20,
                ..w.at
            },
            ..other
        };
        assert_eq!(m.read(&far), vec![0.0, 0.0]);
    }
}
