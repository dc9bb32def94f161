//! Tiles: values of a traced kernel, each naming an on-chip buffer (or a
//! block left in HBM), and the vector-engine operations on them.
//!
//! `arith.rs` gives tiles Rust's operators (`+ - * /`, unary `-`, scalars
//! on either side); `mask.rs` comparisons, `select` and mask logic. Every
//! operation records one `MathCmd` producing a new TCM tile; the vector
//! engine computes in f32 and rounds to the result's dtype.

mod arith;
mod mask;

use std::fmt;
use std::marker::PhantomData;

pub use arith::Rhs;

use super::cmd::{BufId, Command, MathArg, MathCmd, MathOp, Space};
use super::dtype::{Elem, Float};
use super::error::OpError;
use super::ptr::BlockRef;
use super::trace::Shared;

/// Where a tile's data is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Loc {
    /// An on-chip buffer.
    Buf(BufId, Space),
    /// A block that stays in HBM (a GEMM operand only).
    Hbm(BlockRef),
    /// Produced after the trace failed; never recorded.
    Poisoned,
}

/// A 2-D tile of `T` produced by a `tl::` operation.
///
/// Tiles are trace-time handles: a tile names the buffer its command
/// writes. Arithmetic between tiles records `MathCmd`s; shapes broadcast
/// when a dimension is 1 (a `[r, 1]` column or `[1, c]` row vector
/// stretches across a `[r, c]` tile), and an `f32` or integer scalar may
/// stand on either side. Element-wise operations keep the shape;
/// reductions (`row_*`, `col_*`, `sum`) say what they reduce in their
/// name. A tile is not `Clone`: `tl::dot` accumulates into its `acc` in
/// place, which is only sound because it takes the accumulator by value.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn norm(x: Ptr<f32>, y: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 8]));
///     let mean = t.row_sum() / 8.0;                     // [4, 1]
///     let centred = &t - &mean;                         // broadcasts
///     let var = (&centred * &centred).row_sum() / 8.0;
///     let y_t = &centred * &(var + 1e-5).rsqrt();
///     tl::store(y.block([0, 0], [4, 8]), 1.0 - -y_t);   // scalars either side
/// }
/// assert!(norm::trace_single(&norm::args(Ptr::new(0, 4, 8), Ptr::new(256, 4, 8))).is_ok());
/// ```
pub struct Tile<T: Elem> {
    pub(crate) st: Shared,
    pub(crate) loc: Loc,
    pub(crate) shape: [usize; 2],
    /// The part that holds the tensor's data: a load past the tensor's
    /// edge is valid only inside it. `tl::dot` counts useful MACs by it.
    pub(crate) valid: [usize; 2],
    _elem: PhantomData<T>,
}

impl<T: Elem> fmt::Debug for Tile<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tile<{}>({}x{}, {:?})",
            T::DTYPE,
            self.shape[0],
            self.shape[1],
            self.loc
        )
    }
}

/// An input of a math command, as seen before it is recorded: a tile's
/// place, shape and valid extent, or a scalar.
pub(crate) enum In<'a> {
    Tile(&'a Loc, [usize; 2], [usize; 2]),
    Scalar(f64),
}

/// The valid extent of an element-wise result of `out` shape: per
/// dimension, where every input that spans it holds data (an input
/// broadcast along a dimension does not limit it).
fn valid_of(ins: &[In<'_>], out: [usize; 2]) -> [usize; 2] {
    let mut valid = out;
    for i in ins {
        if let In::Tile(_, shape, v) = i {
            for d in 0..2 {
                if shape[d] == out[d] {
                    valid[d] = valid[d].min(v[d]);
                }
            }
        }
    }
    valid
}

/// Shape two operands broadcast to, if any.
pub(crate) fn broadcast(a: [usize; 2], b: [usize; 2]) -> Option<[usize; 2]> {
    let dim = |x: usize, y: usize| match (x, y) {
        _ if x == y => Some(x),
        (1, y) => Some(y),
        (x, 1) => Some(x),
        _ => None,
    };
    Some([dim(a[0], b[0])?, dim(a[1], b[1])?])
}

impl<T: Elem> Tile<T> {
    pub(crate) fn new(st: Shared, loc: Loc, shape: [usize; 2]) -> Self {
        Tile {
            st,
            loc,
            shape,
            valid: shape,
            _elem: PhantomData,
        }
    }

    /// The same tile, valid only in its top-left `valid` part.
    pub(crate) fn with_valid(mut self, valid: [usize; 2]) -> Self {
        self.valid = [valid[0].min(self.shape[0]), valid[1].min(self.shape[1])];
        self
    }

    /// Rows x cols.
    pub fn shape(&self) -> [usize; 2] {
        self.shape
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.shape[0]
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.shape[1]
    }

    /// Memory space of the data (`Hbm` for `Stage::HbmRef` loads).
    pub fn space(&self) -> Space {
        match self.loc {
            Loc::Buf(_, s) => s,
            Loc::Hbm(_) => Space::Hbm,
            Loc::Poisoned => Space::Tcm,
        }
    }

    /// The buffer this tile names, if it is on chip.
    pub fn buf_id(&self) -> Option<BufId> {
        match self.loc {
            Loc::Buf(id, _) => Some(id),
            _ => None,
        }
    }

    pub(crate) fn input(&self) -> In<'_> {
        In::Tile(&self.loc, self.shape, self.valid)
    }

    /// One input, output of the given shape and element type.
    #[track_caller]
    pub(crate) fn unary<U: Elem>(
        &self,
        op_name: &'static str,
        op: MathOp,
        out_shape: [usize; 2],
    ) -> Tile<U> {
        math(&self.st, op_name, op, &[self.input()], out_shape)
    }

    /// Element-wise conversion to `U` (a `MathCmd` cast; a new buffer even
    /// when `U == T`). A mask casts to 0.0 / 1.0; any non-zero value casts
    /// to `true`. Same as `tl::cast::<U>(&t)`.
    #[track_caller]
    pub fn cast<U: Elem>(&self) -> Tile<U> {
        self.unary::<U>("tl::cast", MathOp::Cast, self.shape)
    }
}

impl<T: Float> Tile<T> {
    #[track_caller]
    fn same(&self, op_name: &'static str, op: MathOp) -> Tile<T> {
        self.unary(op_name, op, self.shape)
    }

    /// Element-wise `e^x`. Same as `tl::exp(&t)`.
    #[track_caller]
    pub fn exp(&self) -> Tile<T> {
        self.same("tl::exp", MathOp::Exp)
    }

    /// Element-wise natural logarithm. Same as `tl::log(&t)`.
    #[track_caller]
    pub fn log(&self) -> Tile<T> {
        self.same("tl::log", MathOp::Log)
    }

    /// Element-wise square root. Same as `tl::sqrt(&t)`.
    #[track_caller]
    pub fn sqrt(&self) -> Tile<T> {
        self.same("tl::sqrt", MathOp::Sqrt)
    }

    /// Element-wise `1 / √x`. Same as `tl::rsqrt(&t)`.
    #[track_caller]
    pub fn rsqrt(&self) -> Tile<T> {
        self.same("tl::rsqrt", MathOp::Rsqrt)
    }

    /// Element-wise absolute value. Same as `tl::abs(&t)`.
    #[track_caller]
    pub fn abs(&self) -> Tile<T> {
        self.same("tl::abs", MathOp::Abs)
    }

    /// Element-wise maximum with a tile or scalar, broadcasting (not a
    /// reduction: see [`Self::row_max`]). Same as `tl::max(&a, &b)`.
    #[track_caller]
    pub fn max<'a>(&self, other: impl Into<Rhs<'a, T>>) -> Tile<T> {
        self.binary(other.into(), "tl::max", MathOp::Max)
    }

    /// Element-wise minimum with a tile or scalar, broadcasting (not a
    /// reduction: see [`Self::row_min`]). Same as `tl::min(&a, &b)`.
    #[track_caller]
    pub fn min<'a>(&self, other: impl Into<Rhs<'a, T>>) -> Tile<T> {
        self.binary(other.into(), "tl::min", MathOp::Min)
    }

    /// Reduction: the maximum of each row, `[r, c] -> [r, 1]`.
    #[track_caller]
    pub fn row_max(&self) -> Tile<T> {
        self.unary("tl::row_max", MathOp::RowMax, [self.shape[0], 1])
    }

    /// Reduction: the minimum of each row, `[r, c] -> [r, 1]`.
    #[track_caller]
    pub fn row_min(&self) -> Tile<T> {
        self.unary("tl::row_min", MathOp::RowMin, [self.shape[0], 1])
    }

    /// Reduction: the sum of each row, `[r, c] -> [r, 1]`.
    #[track_caller]
    pub fn row_sum(&self) -> Tile<T> {
        self.unary("tl::row_sum", MathOp::RowSum, [self.shape[0], 1])
    }

    /// Reduction: the maximum of each column, `[r, c] -> [1, c]`.
    #[track_caller]
    pub fn col_max(&self) -> Tile<T> {
        self.unary("tl::col_max", MathOp::ColMax, [1, self.shape[1]])
    }

    /// Reduction: the minimum of each column, `[r, c] -> [1, c]`.
    #[track_caller]
    pub fn col_min(&self) -> Tile<T> {
        self.unary("tl::col_min", MathOp::ColMin, [1, self.shape[1]])
    }

    /// Reduction: the sum of each column, `[r, c] -> [1, c]`.
    #[track_caller]
    pub fn col_sum(&self) -> Tile<T> {
        self.unary("tl::col_sum", MathOp::ColSum, [1, self.shape[1]])
    }

    /// Reduction: the sum of all elements, `[r, c] -> [1, 1]`.
    #[track_caller]
    pub fn sum(&self) -> Tile<T> {
        self.unary("tl::sum", MathOp::Sum, [1, 1])
    }
}

impl<T: Elem> Tile<T> {
    /// A binary operation with a tile or scalar, broadcasting, result of
    /// element type `U`.
    #[track_caller]
    pub(crate) fn broadcast_op<U: Elem>(
        &self,
        other: Rhs<'_, T>,
        op_name: &'static str,
        op: MathOp,
        scalar_first: bool,
    ) -> Tile<U> {
        let (rhs, shape) = match &other {
            Rhs::Value(v) => (In::Scalar(*v), Some(self.shape)),
            Rhs::Tile(t) => (t.input(), broadcast(self.shape, t.shape)),
            Rhs::Owned(t) => (t.input(), broadcast(self.shape, t.shape)),
        };
        let Some(shape) = shape else {
            let b = match &other {
                Rhs::Tile(t) => t.shape,
                Rhs::Owned(t) => t.shape,
                Rhs::Value(_) => self.shape,
            };
            let a = self.shape;
            let msg = format!("cannot broadcast {}x{} with {}x{}", a[0], a[1], b[0], b[1]);
            self.st.borrow_mut().fail(op_name, OpError::Shape(msg));
            return Tile::new(self.st.clone(), Loc::Poisoned, self.shape);
        };
        let ins = if scalar_first {
            [rhs, self.input()]
        } else {
            [self.input(), rhs]
        };
        math(&self.st, op_name, op, &ins, shape)
    }

    /// `self <op> other`, same element type.
    #[track_caller]
    pub(crate) fn binary(&self, other: Rhs<'_, T>, op_name: &'static str, op: MathOp) -> Tile<T> {
        self.broadcast_op(other, op_name, op, false)
    }
}

/// Records a math command producing a new TCM tile of `U`.
#[track_caller]
pub(crate) fn math<U: Elem>(
    st: &Shared,
    op_name: &'static str,
    op: MathOp,
    ins: &[In<'_>],
    out_shape: [usize; 2],
) -> Tile<U> {
    let mut s = st.borrow_mut();
    if s.failed() {
        return Tile::new(st.clone(), Loc::Poisoned, out_shape);
    }
    let mut args = Vec::with_capacity(ins.len());
    for i in ins {
        match i {
            In::Scalar(v) => args.push(MathArg::Scalar(*v)),
            In::Tile(Loc::Buf(id, Space::Tcm), ..) => args.push(MathArg::Buf(*id)),
            In::Tile(Loc::Poisoned, ..) => return Tile::new(st.clone(), Loc::Poisoned, out_shape),
            In::Tile(loc, ..) => {
                let found = match loc {
                    Loc::Buf(_, sp) => *sp,
                    _ => Space::Hbm,
                };
                s.fail(
                    op_name,
                    OpError::Space {
                        found,
                        needed: "tcm",
                    },
                );
                return Tile::new(st.clone(), Loc::Poisoned, out_shape);
            }
        }
    }
    if out_shape[0] == 0 || out_shape[1] == 0 {
        s.fail(op_name, OpError::Empty(out_shape));
        return Tile::new(st.clone(), Loc::Poisoned, out_shape);
    }
    let out = s.new_buf(Space::Tcm, out_shape, U::DTYPE);
    s.push(Command::Math(MathCmd { op, args, out }));
    Tile::new(st.clone(), Loc::Buf(out, Space::Tcm), out_shape).with_valid(valid_of(ins, out_shape))
}

#[cfg(test)]
mod tests {
    use super::broadcast;

    #[test]
    fn broadcasting_rules() {
        assert_eq!(broadcast([4, 8], [4, 8]), Some([4, 8]));
        assert_eq!(broadcast([4, 8], [4, 1]), Some([4, 8]));
        assert_eq!(broadcast([1, 8], [4, 8]), Some([4, 8]));
        assert_eq!(broadcast([4, 1], [1, 8]), Some([4, 8]));
        assert_eq!(broadcast([4, 8], [8, 4]), None);
    }
}
