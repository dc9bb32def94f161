//! Making tiles (`zeros`, `full`), the GEMM (`dot`, `trans`) and casts.

use super::DotOperand;
use crate::dsl::cmd::{Command, GemmCmd, GemmOperand, MathOp, Operand, Space};
use crate::dsl::dtype::{Elem, Float};
use crate::dsl::error::OpError;
use crate::dsl::tile::{Loc, Tile};
use crate::dsl::trace::KernelCx;

/// A `[rows, cols]` TCM tile of zeros (a `MathCmd` fill).
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     tl::store(x.block([0, 0], [2, 3]), tl::zeros::<f32>([2, 3]));
/// }
/// let s = k::trace_single(&k::args(Ptr::new(0, 2, 3))).unwrap();
/// assert!(s.to_string().contains("math.fill"));
/// ```
#[track_caller]
pub fn zeros<T: Elem>(cx: &KernelCx, shape: [usize; 2]) -> Tile<T> {
    full(cx, shape, 0.0)
}

/// A `[rows, cols]` TCM tile filled with `value`.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let m = tl::full::<f32>([4, 1], f32::NEG_INFINITY);
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     tl::store(x.block([0, 0], [4, 4]), &t - &m); // [4,1] broadcasts
/// }
/// let s = k::trace_single(&k::args(Ptr::new(0, 4, 4))).unwrap();
/// assert!(s.to_string().contains("fill"));
/// ```
#[track_caller]
pub fn full<T: Elem>(cx: &KernelCx, shape: [usize; 2], value: f32) -> Tile<T> {
    crate::dsl::tile::math(
        cx.shared(),
        "tl::full",
        MathOp::Fill(f64::from(value)),
        &[],
        shape,
    )
}

/// Marks a tile as transposed for [`dot`] (no command: the GEMM reads it
/// transposed).
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(q: Ptr<f16>, kk: Ptr<f16>, s: Ptr<f32>) {
///     let a = tl::load(q.block([0, 0], [16, 64]));
///     let b = tl::load(kk.block([0, 0], [32, 64]));
///     let scores = tl::dot(&a, tl::trans(&b), tl::zeros::<f32>([16, 32]));
///     tl::store(s.block([0, 0], [16, 32]), scores);
/// }
/// let t = k::trace_single(&k::args(Ptr::new(0, 16, 64), Ptr::new(0, 32, 64), Ptr::new(0, 16, 32)));
/// assert!(t.unwrap().to_string().contains("^T"));
/// ```
#[track_caller]
pub fn trans<'a, T: Elem>(_cx: &KernelCx, tile: &'a Tile<T>) -> DotOperand<'a, T> {
    DotOperand { tile, trans: true }
}

/// The operand as the GEMM sees it: its shape and valid extent after the
/// transpose flag.
fn gemm_operand<T: Elem>(op: &DotOperand<'_, T>) -> Option<(GemmOperand, [usize; 2], [usize; 2])> {
    let flip = |[r, c]: [usize; 2]| if op.trans { [c, r] } else { [r, c] };
    let (shape, valid) = (flip(op.tile.shape), flip(op.tile.valid));
    let (src, space) = match op.tile.loc {
        Loc::Buf(id, sp) => (Operand::Buf(id), sp),
        Loc::Hbm(b) => (Operand::Hbm(b), Space::Hbm),
        Loc::Poisoned => return None,
    };
    Some((
        GemmOperand {
            src,
            space,
            trans: op.trans,
        },
        shape,
        valid,
    ))
}

/// `acc + a @ b` as ONE `GemmCmd`, accumulating into `acc` in place.
///
/// `a` and `b` may be TCM or SRAM tiles or HBM references, either
/// possibly transposed with [`trans`]; `a` is `m x k`, `b` is `k x n`,
/// `acc` an `m x n` TCM tile whose dtype is the output's. Mismatched
/// shapes are a trace error naming the operation.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(a: Ptr<f16>, b: Ptr<f16>, c: Ptr<f16>) {
///     let mut acc = tl::zeros::<f32>([32, 32]);
///     for kk in (0..128).step_by(64) {
///         let x = tl::load(a.block([0, kk], [32, 64]));
///         let y = tl::load(b.block([kk, 0], [64, 32]));
///         acc = tl::dot(&x, &y, acc);
///     }
///     tl::store(c.block([0, 0], [32, 32]), acc.cast::<f16>());
/// }
/// let s = k::trace_single(&k::args(Ptr::new(0, 32, 128), Ptr::new(0, 128, 32), Ptr::new(0, 32, 32)));
/// assert_eq!(s.unwrap().counts().gemm, 2);
/// ```
#[track_caller]
pub fn dot<'a, 'b, T: Float, U: Float>(
    cx: &KernelCx,
    a: impl Into<DotOperand<'a, T>>,
    b: impl Into<DotOperand<'b, T>>,
    acc: Tile<U>,
) -> Tile<U> {
    let (a, b) = (a.into(), b.into());
    let st = cx.shared();
    let mut s = st.borrow_mut();
    let poisoned = |shape| Tile::new(st.clone(), Loc::Poisoned, shape);
    if s.failed() {
        return poisoned(acc.shape);
    }
    let (Some((ga, [m, k], [vm, vka])), Some((gb, [k2, n], [vkb, vn]))) =
        (gemm_operand(&a), gemm_operand(&b))
    else {
        return poisoned(acc.shape);
    };
    let dims = |d: [usize; 2]| format!("{}x{}", d[0], d[1]);
    if k != k2 || acc.shape != [m, n] {
        let msg = format!(
            "a is {}, b is {}, acc is {}: need a m x k, b k x n, acc m x n",
            dims([m, k]),
            dims([k2, n]),
            dims(acc.shape)
        );
        s.fail("tl::dot", OpError::Shape(msg));
        return poisoned(acc.shape);
    }
    let out = match acc.loc {
        Loc::Buf(id, Space::Tcm) => id,
        Loc::Poisoned => return poisoned(acc.shape),
        Loc::Buf(_, found) => {
            s.fail(
                "tl::dot",
                OpError::Space {
                    found,
                    needed: "tcm (the accumulator)",
                },
            );
            return poisoned(acc.shape);
        }
        Loc::Hbm(_) => {
            s.fail(
                "tl::dot",
                OpError::Space {
                    found: Space::Hbm,
                    needed: "tcm (the accumulator)",
                },
            );
            return poisoned(acc.shape);
        }
    };
    s.push(Command::Gemm(GemmCmd {
        a: ga,
        b: gb,
        m,
        k,
        n,
        valid: [vm, vka.min(vkb), vn],
        in_dtype: T::DTYPE,
        acc: Some(out),
        out,
        out_dtype: U::DTYPE,
    }));
    // The result holds data where the product does (and the accumulator did).
    let valid = [acc.valid[0].min(vm), acc.valid[1].min(vn)];
    acc.with_valid(valid)
}

/// Element-wise conversion to `U`; same as `x.cast::<U>()`.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>, y: Ptr<f16>) {
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     tl::store(y.block([0, 0], [4, 4]), tl::cast::<f16>(&t));
/// }
/// let s = k::trace_single(&k::args(Ptr::new(0, 4, 4), Ptr::new(64, 4, 4))).unwrap();
/// assert!(s.to_string().contains("math.cast"));
/// ```
#[track_caller]
pub fn cast<U: Elem>(_cx: &KernelCx, x: &Tile<impl Elem>) -> Tile<U> {
    x.cast::<U>()
}
