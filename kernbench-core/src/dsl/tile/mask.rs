//! Masks: comparisons give `Tile<bool>` (one byte per element, built by the
//! vector engine like any tile); `select` picks between two values by a
//! mask (Triton's `tl.where`); `&`, `|` and `!` combine masks.

use std::ops::{BitAnd, BitOr, Not};

use super::{broadcast, math, In, Loc, Rhs, Tile};
use crate::dsl::cmd::{CmpOp, MathOp};
use crate::dsl::dtype::{DType, Float};
use crate::dsl::error::OpError;

impl<T: Float> Tile<T> {
    /// A scalar is compared as the tile's element type holds it (an f16
    /// tile against `f16(0.1)`, not `0.1`), as Triton casts it.
    #[track_caller]
    fn compare<'a>(
        &self,
        other: impl Into<Rhs<'a, T>>,
        op: CmpOp,
        name: &'static str,
    ) -> Tile<bool> {
        let other = match other.into() {
            Rhs::Value(v) if T::DTYPE == DType::F16 => {
                Rhs::Value(f64::from(half::f16::from_f64(v).to_f32()))
            }
            rhs => rhs,
        };
        self.broadcast_op(other, name, MathOp::Cmp(op), false)
    }

    /// Element-wise `self < other` (a tile or scalar, broadcasting): a mask.
    /// Values compare in f32; a scalar is first rounded to the tile's
    /// element type. NaN compares unequal to everything.
    ///
    /// ```
    /// use kernbench_core::dsl::prelude::*;
    ///
    /// /// Zeroes the strictly upper triangle of one block: a causal mask.
    /// #[kernel]
    /// fn causal(x: Ptr<f32>) {
    ///     let t = tl::load(x.block([0, 0], [4, 4]));
    ///     let rows = tl::arange_rows(0, 4);           // [4, 1]: 0, 1, 2, 3
    ///     let cols = tl::arange_cols(0, 4);           // [1, 4]
    ///     let above = rows.lt(&cols);                 // [4, 4] mask
    ///     tl::store(x.block([0, 0], [4, 4]), tl::select(&above, 0.0, &t));
    /// }
    /// let s = causal::trace_single(&causal::args(Ptr::new(0, 4, 4))).unwrap();
    /// assert!(s.to_string().contains("math.lt"));
    /// assert!(s.to_string().contains("math.select"));
    /// ```
    #[track_caller]
    pub fn lt<'a>(&self, other: impl Into<Rhs<'a, T>>) -> Tile<bool> {
        self.compare(other, CmpOp::Lt, "Tile::lt")
    }

    /// Element-wise `self <= other`: a mask (see [`Self::lt`]).
    #[track_caller]
    pub fn le<'a>(&self, other: impl Into<Rhs<'a, T>>) -> Tile<bool> {
        self.compare(other, CmpOp::Le, "Tile::le")
    }

    /// Element-wise `self > other`: a mask (see [`Self::lt`]).
    #[track_caller]
    pub fn gt<'a>(&self, other: impl Into<Rhs<'a, T>>) -> Tile<bool> {
        self.compare(other, CmpOp::Gt, "Tile::gt")
    }

    /// Element-wise `self >= other`: a mask (see [`Self::lt`]).
    #[track_caller]
    pub fn ge<'a>(&self, other: impl Into<Rhs<'a, T>>) -> Tile<bool> {
        self.compare(other, CmpOp::Ge, "Tile::ge")
    }

    /// Element-wise `self == other`: a mask (see [`Self::lt`]).
    #[track_caller]
    pub fn eq<'a>(&self, other: impl Into<Rhs<'a, T>>) -> Tile<bool> {
        self.compare(other, CmpOp::Eq, "Tile::eq")
    }

    /// Element-wise `self != other`: a mask (see [`Self::lt`]).
    #[track_caller]
    pub fn ne<'a>(&self, other: impl Into<Rhs<'a, T>>) -> Tile<bool> {
        self.compare(other, CmpOp::Ne, "Tile::ne")
    }
}

impl Tile<bool> {
    /// `a` where the mask is true, `b` elsewhere; `a` and `b` are tiles or
    /// scalars, and all three broadcast. Same as `tl::select(&mask, a, b)`.
    #[track_caller]
    pub fn select<'a, 'b, T: Float>(
        &self,
        a: impl Into<Rhs<'a, T>>,
        b: impl Into<Rhs<'b, T>>,
    ) -> Tile<T> {
        let (a, b) = (a.into(), b.into());
        let ((ia, sa), (ib, sb)) = (side(&a), side(&b));
        let mut shape = Some(self.shape);
        for s in [sa, sb].into_iter().flatten() {
            shape = shape.and_then(|x| broadcast(x, s));
        }
        let Some(shape) = shape else {
            let dims =
                |s: Option<[usize; 2]>| s.map_or("scalar".into(), |[r, c]| format!("{r}x{c}"));
            let msg = format!(
                "cannot broadcast mask {} with {} and {}",
                dims(Some(self.shape)),
                dims(sa),
                dims(sb)
            );
            self.st.borrow_mut().fail("tl::select", OpError::Shape(msg));
            return Tile::new(self.st.clone(), Loc::Poisoned, self.shape);
        };
        math(
            &self.st,
            "tl::select",
            MathOp::Select,
            &[self.input(), ia, ib],
            shape,
        )
    }

    #[track_caller]
    fn logic(&self, other: &Tile<bool>, name: &'static str, op: MathOp) -> Tile<bool> {
        self.broadcast_op(Rhs::Tile(other), name, op, false)
    }
}

/// One side of a select: its input and, for a tile, its shape.
fn side<'x, T: Float>(r: &'x Rhs<'_, T>) -> (In<'x>, Option<[usize; 2]>) {
    match r {
        Rhs::Tile(t) => (t.input(), Some(t.shape)),
        Rhs::Owned(t) => (t.input(), Some(t.shape)),
        Rhs::Value(v) => (In::Scalar(*v), None),
    }
}

macro_rules! logic {
    ($trait:ident, $method:ident, $op:expr, $name:literal) => {
        impl $trait<&Tile<bool>> for &Tile<bool> {
            type Output = Tile<bool>;
            #[track_caller]
            fn $method(self, rhs: &Tile<bool>) -> Tile<bool> {
                self.logic(rhs, $name, $op)
            }
        }
        impl $trait<Tile<bool>> for Tile<bool> {
            type Output = Tile<bool>;
            #[track_caller]
            fn $method(self, rhs: Tile<bool>) -> Tile<bool> {
                self.logic(&rhs, $name, $op)
            }
        }
        impl $trait<&Tile<bool>> for Tile<bool> {
            type Output = Tile<bool>;
            #[track_caller]
            fn $method(self, rhs: &Tile<bool>) -> Tile<bool> {
                self.logic(rhs, $name, $op)
            }
        }
    };
}

logic!(BitAnd, bitand, MathOp::And, "&");
logic!(BitOr, bitor, MathOp::Or, "|");

impl Not for &Tile<bool> {
    type Output = Tile<bool>;
    #[track_caller]
    fn not(self) -> Tile<bool> {
        self.unary("!", MathOp::Not, self.shape)
    }
}

impl Not for Tile<bool> {
    type Output = Tile<bool>;
    #[track_caller]
    fn not(self) -> Tile<bool> {
        self.unary("!", MathOp::Not, self.shape)
    }
}
