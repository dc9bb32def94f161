//! Tiles: values of a traced kernel, each naming an on-chip buffer (or a
//! block left in HBM), plus element-wise arithmetic by operator overloading.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Add, Div, Mul, Sub};

use super::cmd::{BufId, Command, MathArg, MathCmd, MathOp, Space};
use super::dtype::Elem;
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
/// stretches across a `[r, c]` tile). A tile is not `Clone`: `tl::dot`
/// accumulates into its `acc` in place, which is only sound because it
/// takes the accumulator by value.
pub struct Tile<T: Elem> {
    pub(crate) st: Shared,
    pub(crate) loc: Loc,
    pub(crate) shape: [usize; 2],
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

/// An input of a math command, as seen before it is recorded.
pub(crate) enum In<'a> {
    Tile(&'a Loc),
    Scalar(f64),
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
            _elem: PhantomData,
        }
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

    fn unary<U: Elem>(&self, op_name: &'static str, op: MathOp, out_shape: [usize; 2]) -> Tile<U> {
        math(&self.st, op_name, op, &[In::Tile(&self.loc)], out_shape)
    }

    pub(crate) fn binary(&self, other: &Tile<T>, op_name: &'static str, op: MathOp) -> Tile<T> {
        match broadcast(self.shape, other.shape) {
            Some(shape) => math(
                &self.st,
                op_name,
                op,
                &[In::Tile(&self.loc), In::Tile(&other.loc)],
                shape,
            ),
            None => {
                let msg = format!(
                    "cannot broadcast {}x{} with {}x{}",
                    self.shape[0], self.shape[1], other.shape[0], other.shape[1]
                );
                self.st.borrow_mut().fail(op_name, OpError::Shape(msg));
                Tile::new(self.st.clone(), Loc::Poisoned, self.shape)
            }
        }
    }

    fn scalar(&self, v: f32, op_name: &'static str, op: MathOp) -> Tile<T> {
        math(
            &self.st,
            op_name,
            op,
            &[In::Tile(&self.loc), In::Scalar(f64::from(v))],
            self.shape,
        )
    }

    /// Element-wise conversion to `U` (a `MathCmd` cast; a new buffer even
    /// when `U == T`). Same as `tl::cast::<U>(&t)`.
    pub fn cast<U: Elem>(&self) -> Tile<U> {
        self.unary("tl::cast", MathOp::Cast, self.shape)
    }

    /// Element-wise `e^x`. Same as `tl::exp(&t)`.
    pub fn exp(&self) -> Tile<T> {
        self.unary("tl::exp", MathOp::Exp, self.shape)
    }

    /// Element-wise maximum, broadcasting. Same as `tl::max(&a, &b)`.
    pub fn max(&self, other: &Tile<T>) -> Tile<T> {
        self.binary(other, "tl::max", MathOp::Max)
    }

    /// Maximum of each row: `[r, c] -> [r, 1]`. Same as `tl::row_max(&t)`.
    pub fn row_max(&self) -> Tile<T> {
        self.unary("tl::row_max", MathOp::RowMax, [self.shape[0], 1])
    }

    /// Sum of each row: `[r, c] -> [r, 1]`. Same as `tl::row_sum(&t)`.
    pub fn row_sum(&self) -> Tile<T> {
        self.unary("tl::row_sum", MathOp::RowSum, [self.shape[0], 1])
    }

    /// Sum of all elements: `[r, c] -> [1, 1]`. Same as `tl::sum(&t)`.
    pub fn sum(&self) -> Tile<T> {
        self.unary("tl::sum", MathOp::Sum, [1, 1])
    }
}

/// Records a math command producing a new TCM tile of `U`.
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
            In::Tile(Loc::Buf(id, Space::Tcm)) => args.push(MathArg::Buf(*id)),
            In::Tile(Loc::Poisoned) => return Tile::new(st.clone(), Loc::Poisoned, out_shape),
            In::Tile(loc) => {
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
    Tile::new(st.clone(), Loc::Buf(out, Space::Tcm), out_shape)
}

macro_rules! arith {
    ($trait:ident, $method:ident, $op:expr, $name:literal) => {
        impl<T: Elem> $trait<&Tile<T>> for &Tile<T> {
            type Output = Tile<T>;
            fn $method(self, rhs: &Tile<T>) -> Tile<T> {
                self.binary(rhs, $name, $op)
            }
        }
        impl<T: Elem> $trait<Tile<T>> for Tile<T> {
            type Output = Tile<T>;
            fn $method(self, rhs: Tile<T>) -> Tile<T> {
                self.binary(&rhs, $name, $op)
            }
        }
        impl<T: Elem> $trait<&Tile<T>> for Tile<T> {
            type Output = Tile<T>;
            fn $method(self, rhs: &Tile<T>) -> Tile<T> {
                self.binary(rhs, $name, $op)
            }
        }
        impl<T: Elem> $trait<Tile<T>> for &Tile<T> {
            type Output = Tile<T>;
            fn $method(self, rhs: Tile<T>) -> Tile<T> {
                self.binary(&rhs, $name, $op)
            }
        }
        impl<T: Elem> $trait<f32> for &Tile<T> {
            type Output = Tile<T>;
            fn $method(self, rhs: f32) -> Tile<T> {
                self.scalar(rhs, $name, $op)
            }
        }
        impl<T: Elem> $trait<f32> for Tile<T> {
            type Output = Tile<T>;
            fn $method(self, rhs: f32) -> Tile<T> {
                self.scalar(rhs, $name, $op)
            }
        }
    };
}

arith!(Add, add, MathOp::Add, "+");
arith!(Sub, sub, MathOp::Sub, "-");
arith!(Mul, mul, MathOp::Mul, "*");
arith!(Div, div, MathOp::Div, "/");

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
