//! Index tiles and selection: what a kernel builds masks from. A causal
//! mask at any query/key offset is `arange_rows(q0, bm)` compared with
//! `arange_cols(k0, bn)`, then `select`.

use crate::dsl::cmd::{Axis, MathOp};
use crate::dsl::dtype::Float;
use crate::dsl::error::OpError;
use crate::dsl::tile::{math, Loc, Rhs, Tile};
use crate::dsl::trace::KernelCx;

/// Indices up to this are exact in f32 (2^24).
const EXACT: usize = 1 << 24;

#[track_caller]
fn arange(cx: &KernelCx, axis: Axis, start: usize, n: usize) -> Tile<f32> {
    let shape = match axis {
        Axis::Rows => [n, 1],
        Axis::Cols => [1, n],
    };
    let name = match axis {
        Axis::Rows => "tl::arange_rows",
        Axis::Cols => "tl::arange_cols",
    };
    let st = cx.shared();
    if start.checked_add(n).is_none_or(|end| end > EXACT) {
        st.borrow_mut().fail(
            name,
            OpError::IndexRange {
                start,
                n,
                limit: EXACT,
            },
        );
        return Tile::new(st.clone(), Loc::Poisoned, shape);
    }
    let op = MathOp::Arange {
        axis,
        start: start as f64,
    };
    math(st, name, op, &[], shape)
}

/// A `[n, 1]` column of row indices `start, start + 1, ...`: with
/// `start` = the block's first row, element `r` is the row's index in the
/// whole tensor. Built by the vector engine (one `MathCmd`), in f32, exact
/// up to 2^24.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// /// Causal scores of query block `qb` against key block `kb`: keys after
/// /// the query's position get -inf.
/// #[kernel]
/// fn masked(s: Ptr<f32>, #[constexpr] qb: usize, #[constexpr] kb: usize) {
///     let (bm, bn) = (4, 4);
///     let t = tl::load(s.block([0, 0], [bm, bn]));
///     let q = tl::arange_rows(qb * bm, bm);
///     let k = tl::arange_cols(kb * bn, bn);
///     let future = q.lt(&k);
///     tl::store(s.block([0, 0], [bm, bn]), tl::select(&future, f32::NEG_INFINITY, &t));
/// }
/// let t = masked::trace_single(&masked::args(Ptr::new(0, 4, 4), 1, 1)).unwrap();
/// assert!(t.to_string().contains("math.arange.rows"));
/// ```
#[track_caller]
pub fn arange_rows(cx: &KernelCx, start: usize, n: usize) -> Tile<f32> {
    arange(cx, Axis::Rows, start, n)
}

/// A `[1, n]` row of column indices `start, start + 1, ...` (see
/// [`arange_rows`]).
#[track_caller]
pub fn arange_cols(cx: &KernelCx, start: usize, n: usize) -> Tile<f32> {
    arange(cx, Axis::Cols, start, n)
}

/// `a` where `mask` is true, `b` elsewhere (Triton's `tl.where`; `where`
/// is a Rust keyword). `a` and `b` are tiles or scalars; the mask and both
/// sides broadcast like arithmetic. One `MathCmd`.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn relu(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     tl::store(x.block([0, 0], [4, 4]), tl::select(&t.gt(0.0), &t, 0.0));
/// }
/// assert!(relu::trace_single(&relu::args(Ptr::new(0, 4, 4))).is_ok());
/// ```
#[doc(alias = "where")]
#[track_caller]
pub fn select<'a, 'b, T: Float>(
    _cx: &KernelCx,
    mask: &Tile<bool>,
    a: impl Into<Rhs<'a, T>>,
    b: impl Into<Rhs<'b, T>>,
) -> Tile<T> {
    mask.select(a, b)
}
