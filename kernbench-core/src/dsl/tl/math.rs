//! The vector engine's math on tiles: element-wise functions (the result
//! has the input's shape) and reductions (the name says what collapses:
//! `row_*` to `[r, 1]`, `col_*` to `[1, c]`, `sum` to `[1, 1]`). All
//! compute in f32 and round to the tile's dtype; each is one `MathCmd`
//! timed like any other (fixed overhead plus elements / rate).
//!
//! `max` and `min` are element-wise (Triton's `maximum`/`minimum`); the
//! reductions are `row_max`, `col_max`, ... Like IEEE `maxNum`/`minNum`
//! (and Rust's `f32::max`), they ignore a NaN operand: `max(NaN, x) = x`,
//! and a max or min reduction skips NaN elements. The other functions
//! propagate NaN.

use crate::dsl::dtype::Float;
use crate::dsl::tile::{Rhs, Tile};
use crate::dsl::trace::KernelCx;

/// Element-wise `e^x`.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     tl::store(x.block([0, 0], [4, 4]), tl::exp(&t));
/// }
/// assert!(k::trace_single(&k::args(Ptr::new(0, 4, 4))).unwrap().to_string().contains("math.exp"));
/// ```
#[track_caller]
pub fn exp<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.exp()
}

/// Element-wise natural logarithm (log-softmax, log-sum-exp).
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// /// log-softmax of each row.
/// #[kernel]
/// fn log_softmax(x: Ptr<f32>, y: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 8]));
///     let shifted = &t - &t.row_max();
///     let lse = tl::log(&tl::exp(&shifted).row_sum());
///     tl::store(y.block([0, 0], [4, 8]), &shifted - &lse);
/// }
/// let s = log_softmax::trace_single(&log_softmax::args(Ptr::new(0, 4, 8), Ptr::new(128, 4, 8)));
/// assert!(s.unwrap().to_string().contains("math.log"));
/// ```
#[track_caller]
pub fn log<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.log()
}

/// Element-wise square root.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     tl::store(x.block([0, 0], [4, 4]), tl::sqrt(&t));
/// }
/// assert!(k::trace_single(&k::args(Ptr::new(0, 4, 4))).unwrap().to_string().contains("math.sqrt"));
/// ```
#[track_caller]
pub fn sqrt<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.sqrt()
}

/// Element-wise `1 / √x` (normalisations: LayerNorm, RMSNorm).
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// /// RMSNorm of each row.
/// #[kernel]
/// fn rms_norm(x: Ptr<f32>, y: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 8]));
///     let ms = (&t * &t).row_sum() / 8.0;
///     tl::store(y.block([0, 0], [4, 8]), &t * &tl::rsqrt(&(ms + 1e-6)));
/// }
/// let s = rms_norm::trace_single(&rms_norm::args(Ptr::new(0, 4, 8), Ptr::new(128, 4, 8)));
/// assert!(s.unwrap().to_string().contains("math.rsqrt"));
/// ```
#[track_caller]
pub fn rsqrt<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.rsqrt()
}

/// Element-wise absolute value.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     tl::store(x.block([0, 0], [4, 4]), tl::abs(&t));
/// }
/// assert!(k::trace_single(&k::args(Ptr::new(0, 4, 4))).unwrap().to_string().contains("math.abs"));
/// ```
#[track_caller]
pub fn abs<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.abs()
}

/// Element-wise maximum of a tile and a tile or scalar, broadcasting. Not
/// a reduction: the maximum of each row is [`row_max`].
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     tl::store(x.block([0, 0], [4, 4]), tl::max(&t, 0.0)); // ReLU
/// }
/// assert!(k::trace_single(&k::args(Ptr::new(0, 4, 4))).unwrap().to_string().contains("math.max"));
/// ```
#[track_caller]
pub fn max<'a, T: Float>(_cx: &KernelCx, a: &Tile<T>, b: impl Into<Rhs<'a, T>>) -> Tile<T> {
    a.max(b)
}

/// Element-wise minimum of a tile and a tile or scalar, broadcasting. Not
/// a reduction: the minimum of each row is [`row_min`].
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     tl::store(x.block([0, 0], [4, 4]), tl::min(&tl::max(&t, -1.0), 1.0)); // clamp
/// }
/// assert!(k::trace_single(&k::args(Ptr::new(0, 4, 4))).unwrap().to_string().contains("math.min"));
/// ```
#[track_caller]
pub fn min<'a, T: Float>(_cx: &KernelCx, a: &Tile<T>, b: impl Into<Rhs<'a, T>>) -> Tile<T> {
    a.min(b)
}

/// Reduction: the sum of all elements, a `[1, 1]` tile.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>, out: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     tl::store(out.block([0, 0], [1, 1]), tl::sum(&t));
/// }
/// let s = k::trace_single(&k::args(Ptr::new(0, 4, 4), Ptr::new(64, 1, 1))).unwrap();
/// assert!(s.to_string().contains("math.sum"));
/// ```
#[track_caller]
pub fn sum<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.sum()
}

/// Reduction: the maximum of each row, `[r, c] -> [r, 1]`.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 8]));
///     let m = tl::row_max(&t);
///     assert_eq!(m.shape(), [4, 1]);
///     tl::store(x.block([0, 0], [4, 8]), (&t - &m).exp()); // softmax numerator
/// }
/// assert!(k::trace_single(&k::args(Ptr::new(0, 4, 8))).is_ok());
/// ```
#[track_caller]
pub fn row_max<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.row_max()
}

/// Reduction: the minimum of each row, `[r, c] -> [r, 1]`.
#[track_caller]
pub fn row_min<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.row_min()
}

/// Reduction: the sum of each row, `[r, c] -> [r, 1]`.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 8]));
///     tl::store(x.block([0, 0], [4, 8]), &t / &tl::row_sum(&t));
/// }
/// assert!(k::trace_single(&k::args(Ptr::new(0, 4, 8))).unwrap().to_string().contains("rowsum"));
/// ```
#[track_caller]
pub fn row_sum<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.row_sum()
}

/// Reduction: the maximum of each column, `[r, c] -> [1, c]`.
#[track_caller]
pub fn col_max<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.col_max()
}

/// Reduction: the minimum of each column, `[r, c] -> [1, c]`.
#[track_caller]
pub fn col_min<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.col_min()
}

/// Reduction: the sum of each column, `[r, c] -> [1, c]`.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// /// Column means of a block.
/// #[kernel]
/// fn k(x: Ptr<f32>, m: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [8, 4]));
///     tl::store(m.block([0, 0], [1, 4]), tl::col_sum(&t) / 8.0);
/// }
/// let s = k::trace_single(&k::args(Ptr::new(0, 8, 4), Ptr::new(128, 1, 4))).unwrap();
/// assert!(s.to_string().contains("colsum"));
/// ```
#[track_caller]
pub fn col_sum<T: Float>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.col_sum()
}
