//! Rust's operators on tiles: `+ - * /` between tiles (broadcasting) and
//! with `f32` or integer scalars on either side, and unary `-`.

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::Tile;
use crate::dsl::cmd::MathOp;
use crate::dsl::dtype::{Elem, Float};

/// The other side of a binary tile operation: a tile (borrowed or owned)
/// or a scalar broadcast to every element. `&tile`, `tile`, `2.0` and `2`
/// all convert.
#[derive(Debug)]
pub enum Rhs<'a, T: Elem> {
    /// A borrowed tile.
    Tile(&'a Tile<T>),
    /// A tile passed by value.
    Owned(Tile<T>),
    /// A scalar.
    Value(f64),
}

impl<'a, T: Elem> From<&'a Tile<T>> for Rhs<'a, T> {
    fn from(t: &'a Tile<T>) -> Self {
        Rhs::Tile(t)
    }
}

impl<T: Elem> From<Tile<T>> for Rhs<'_, T> {
    fn from(t: Tile<T>) -> Self {
        Rhs::Owned(t)
    }
}

impl<T: Float> From<f32> for Rhs<'_, T> {
    fn from(v: f32) -> Self {
        Rhs::Value(f64::from(v))
    }
}

impl<T: Float> From<i32> for Rhs<'_, T> {
    fn from(v: i32) -> Self {
        Rhs::Value(f64::from(v))
    }
}

macro_rules! arith {
    ($trait:ident, $method:ident, $op:expr, $name:literal) => {
        impl<T: Float> $trait<&Tile<T>> for &Tile<T> {
            type Output = Tile<T>;
            #[track_caller]
            fn $method(self, rhs: &Tile<T>) -> Tile<T> {
                self.binary(Rhs::Tile(rhs), $name, $op)
            }
        }
        impl<T: Float> $trait<Tile<T>> for Tile<T> {
            type Output = Tile<T>;
            #[track_caller]
            fn $method(self, rhs: Tile<T>) -> Tile<T> {
                self.binary(Rhs::Owned(rhs), $name, $op)
            }
        }
        impl<T: Float> $trait<&Tile<T>> for Tile<T> {
            type Output = Tile<T>;
            #[track_caller]
            fn $method(self, rhs: &Tile<T>) -> Tile<T> {
                self.binary(Rhs::Tile(rhs), $name, $op)
            }
        }
        impl<T: Float> $trait<Tile<T>> for &Tile<T> {
            type Output = Tile<T>;
            #[track_caller]
            fn $method(self, rhs: Tile<T>) -> Tile<T> {
                self.binary(Rhs::Owned(rhs), $name, $op)
            }
        }
        arith!(@scalar $trait, $method, $op, $name, f32);
        arith!(@scalar $trait, $method, $op, $name, i32);
    };
    (@scalar $trait:ident, $method:ident, $op:expr, $name:literal, $s:ty) => {
        impl<T: Float> $trait<$s> for &Tile<T> {
            type Output = Tile<T>;
            #[track_caller]
            fn $method(self, rhs: $s) -> Tile<T> {
                self.binary(Rhs::Value(f64::from(rhs)), $name, $op)
            }
        }
        impl<T: Float> $trait<$s> for Tile<T> {
            type Output = Tile<T>;
            #[track_caller]
            fn $method(self, rhs: $s) -> Tile<T> {
                self.binary(Rhs::Value(f64::from(rhs)), $name, $op)
            }
        }
        // The scalar on the left: `1.0 / &t`, `2 - t`.
        impl<T: Float> $trait<&Tile<T>> for $s {
            type Output = Tile<T>;
            #[track_caller]
            fn $method(self, rhs: &Tile<T>) -> Tile<T> {
                rhs.broadcast_op(Rhs::Value(f64::from(self)), $name, $op, true)
            }
        }
        impl<T: Float> $trait<Tile<T>> for $s {
            type Output = Tile<T>;
            #[track_caller]
            fn $method(self, rhs: Tile<T>) -> Tile<T> {
                rhs.broadcast_op(Rhs::Value(f64::from(self)), $name, $op, true)
            }
        }
    };
}

arith!(Add, add, MathOp::Add, "+");
arith!(Sub, sub, MathOp::Sub, "-");
arith!(Mul, mul, MathOp::Mul, "*");
arith!(Div, div, MathOp::Div, "/");

impl<T: Float> Neg for &Tile<T> {
    type Output = Tile<T>;
    #[track_caller]
    fn neg(self) -> Tile<T> {
        self.unary("-", MathOp::Neg, self.shape)
    }
}

impl<T: Float> Neg for Tile<T> {
    type Output = Tile<T>;
    #[track_caller]
    fn neg(self) -> Tile<T> {
        self.unary("-", MathOp::Neg, self.shape)
    }
}
