//! How the data a command moves lies in memory: a block of a row-major
//! tensor, or of a TCM/SRAM buffer, is one run per row at the row pitch
//! (contiguous rows coalesce into one run), which decides the HBM
//! pseudo-channels its bursts land on.

use crate::dsl::{BlockRef, Buffer};
use crate::fabric::engine::Runs;

/// The `[rows, cols]` part of a tensor block: one run of `cols` elements
/// per row, at the tensor's row pitch.
pub(super) fn block_runs(b: &BlockRef, [rows, cols]: [usize; 2]) -> Runs {
    let size = b.tensor.dtype.size_bytes();
    Runs::strided(
        cols as u64 * size,
        b.tensor.row_stride as u64 * size,
        rows as u64,
    )
}

/// The `[rows, cols]` part of a buffer: one run of `cols` elements per
/// row, at the buffer's width.
pub(super) fn buffer_runs(b: &Buffer, [rows, cols]: [usize; 2]) -> Runs {
    let size = b.dtype.size_bytes();
    Runs::strided(cols as u64 * size, b.shape[1] as u64 * size, rows as u64)
}
