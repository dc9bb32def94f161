//! The `tl::` operations.
//!
//! Every operation takes the tracing context as its first parameter. In a
//! `#[kernel]` body the macro inserts it, so authors write
//! `tl::load(block)`; a plain helper function takes `cx: &KernelCx` and
//! writes `tl::load(cx, block)`. Without a context there is nothing to
//! record into, which is why a `tl::` call outside a kernel does not
//! compile.
//!
//! Operations never panic on misuse: the first error (out-of-bounds block,
//! shape mismatch, bad peer...) is recorded with the kernel, program,
//! command index and the source line of the `tl::` call, later operations
//! become no-ops, and tracing returns it.
//!
//! Element-wise operations keep their input's shape (broadcasting `[r, 1]`
//! and `[1, c]` vectors and scalars); reductions say what they collapse in
//! their name (`row_*`, `col_*`, `sum`). `max` and `min` are element-wise.
//! All vector-engine math runs in f32 on tiles and rounds to the result's
//! dtype.

mod comm;
mod compute;
mod mask;
mod math;
mod memory;

pub use comm::{queue_depth, recv, send};
pub use compute::{cast, dot, full, trans, zeros};
pub use mask::{arange_cols, arange_rows, select};
pub use math::{
    abs, col_max, col_min, col_sum, exp, log, max, min, row_max, row_min, row_sum, rsqrt, sqrt, sum,
};
pub use memory::{load, load_or, load_to, store};

use super::dtype::Elem;
use super::error::OpError;
use super::kernel::{ArgKind, ArgValue, ConstexprArg, KernelArg};
use super::tile::Tile;
use super::trace::KernelCx;
use crate::support::Named;

/// Where `tl::load_to` puts a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// DMA into the PE's TCM (what `tl::load` does).
    Tcm,
    /// DMA into the cube's shared SRAM; GEMM reads it from there.
    Sram,
    /// No copy: the block stays in HBM and the GEMM pipeline streams it.
    HbmRef,
}

impl Stage {
    /// The name used in parameters and listings: `hbm_ref`, `tcm`, `sram`
    /// (see [`Named`]).
    pub const fn name(self) -> &'static str {
        match self {
            Stage::HbmRef => "hbm_ref",
            Stage::Tcm => "tcm",
            Stage::Sram => "sram",
        }
    }
}

impl Named for Stage {
    const WHAT: &'static str = "staging";
    const ALL: &'static [Stage] = &[Stage::HbmRef, Stage::Tcm, Stage::Sram];
    fn name(self) -> &'static str {
        Stage::name(self)
    }
}
crate::support::named_str!(Stage);

impl KernelArg for Stage {
    const KIND: ArgKind = ArgKind::of_enum::<Stage>();
    fn arg_value(&self) -> ArgValue {
        ArgValue::of_enum(*self)
    }
}
impl ConstexprArg for Stage {}

/// A `tl::dot` input: a tile, possibly transposed (see [`trans`]).
#[derive(Debug)]
pub struct DotOperand<'a, T: Elem> {
    pub(crate) tile: &'a Tile<T>,
    pub(crate) trans: bool,
}

impl<'a, T: Elem> From<&'a Tile<T>> for DotOperand<'a, T> {
    fn from(tile: &'a Tile<T>) -> Self {
        DotOperand { tile, trans: false }
    }
}

/// The context of the kernel being traced, to pass to helper functions.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// fn twice(cx: &KernelCx, x: Ptr<f32>) -> Tile<f32> {
///     let t = tl::load(cx, x.block([0, 0], [4, 4]));
///     &t + &t
/// }
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = twice(tl::context(), x);
///     tl::store(x.block([0, 0], [4, 4]), t);
/// }
/// let s = k::trace_single(&k::args(Ptr::new(0, 4, 4))).unwrap();
/// assert_eq!(s.counts().math, 1);
/// ```
pub fn context(cx: &KernelCx) -> &KernelCx {
    cx
}

/// This program's index along grid axis `axis` (0, 1 or 2).
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let row = tl::program_id(0) * 8;
///     tl::store(x.block([row, 0], [8, 8]), tl::zeros::<f32>([8, 8]));
/// }
/// let p = ProgramInfo::grid([1, 0, 0], [2, 1, 1]);
/// let s = k::trace(&k::args(Ptr::new(0, 16, 8)), &p, &TraceConfig::default()).unwrap();
/// assert!(s.to_string().contains("[8..16, 0..8]"));
/// ```
#[track_caller]
pub fn program_id(cx: &KernelCx, axis: usize) -> usize {
    let mut st = cx.shared().borrow_mut();
    match st.program.program_id.get(axis) {
        Some(&id) => id,
        None => {
            st.fail("tl::program_id", OpError::Axis(axis));
            0
        }
    }
}

/// Number of programs along grid axis `axis` (0, 1 or 2).
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let rows = x.rows() / tl::num_programs(0);
///     let r0 = tl::program_id(0) * rows;
///     tl::store(x.block([r0, 0], [rows, 4]), tl::zeros::<f32>([rows, 4]));
/// }
/// let p = ProgramInfo::grid([0, 0, 0], [4, 1, 1]);
/// let s = k::trace(&k::args(Ptr::new(0, 32, 4)), &p, &TraceConfig::default()).unwrap();
/// assert!(s.to_string().contains("[0..8, 0..4]"));
/// ```
#[track_caller]
pub fn num_programs(cx: &KernelCx, axis: usize) -> usize {
    let mut st = cx.shared().borrow_mut();
    match st.program.num_programs.get(axis) {
        Some(&n) => n,
        None => {
            st.fail("tl::num_programs", OpError::Axis(axis));
            1
        }
    }
}

/// This program's rank in the installed ring (0 without one).
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let next = (tl::rank() + 1) % tl::world_size();
///     tl::send(next, &tl::load(x.block([0, 0], [1, 4])));
/// }
/// let p = ProgramInfo::single().with_ring(3, 4);
/// let s = k::trace(&k::args(Ptr::vector(0, 4)), &p, &TraceConfig::default()).unwrap();
/// assert!(s.to_string().contains("ipcq.send   rank 0"));
/// ```
pub fn rank(cx: &KernelCx) -> usize {
    cx.shared().borrow().program.rank
}

/// Number of ranks in the installed ring (1 without one). See [`rank`].
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     for _ in 1..tl::world_size() {
///         tl::store(x.block([0, 0], [1, 4]), tl::zeros::<f32>([1, 4]));
///     }
/// }
/// let p = ProgramInfo::single().with_ring(0, 3);
/// let s = k::trace(&k::args(Ptr::vector(0, 4)), &p, &TraceConfig::default()).unwrap();
/// assert_eq!(s.counts().dma_write, 2);
/// ```
pub fn world_size(cx: &KernelCx) -> usize {
    cx.shared().borrow().program.world_size
}
