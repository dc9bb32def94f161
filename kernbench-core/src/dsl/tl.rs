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
//! shape mismatch, bad peer...) is recorded with the kernel, program and
//! command index, later operations become no-ops, and tracing returns it.

use super::cmd::{Command, GemmCmd, GemmOperand, MathOp, Operand, Space};
use super::dtype::Elem;
use super::error::OpError;
use super::ptr::{Block, BlockRef};
use super::tile::{Loc, Tile};
use super::trace::KernelCx;

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
    /// Stable integer code, for passing a stage as a `#[constexpr]` argument.
    pub const fn code(self) -> u32 {
        match self {
            Stage::HbmRef => 0,
            Stage::Tcm => 1,
            Stage::Sram => 2,
        }
    }

    /// Inverse of [`Stage::code`].
    pub const fn from_code(code: u32) -> Option<Stage> {
        match code {
            0 => Some(Stage::HbmRef),
            1 => Some(Stage::Tcm),
            2 => Some(Stage::Sram),
            _ => None,
        }
    }

    /// The name used in parameters and listings: `hbm_ref`, `tcm`, `sram`.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::HbmRef => "hbm_ref",
            Stage::Tcm => "tcm",
            Stage::Sram => "sram",
        }
    }

    /// Parses [`Stage::name`].
    pub fn from_name(name: &str) -> Option<Stage> {
        [Stage::HbmRef, Stage::Tcm, Stage::Sram]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// A `tl::dot` input: a tile, possibly transposed (see [`trans`]).
#[derive(Debug)]
pub struct DotOperand<'a, T: Elem> {
    tile: &'a Tile<T>,
    trans: bool,
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

/// Checks a block against its tensor: the valid extent, or why it is
/// unusable.
fn block_ref<T: Elem>(block: &Block<T>) -> Result<BlockRef, OpError> {
    let t = block.tensor;
    let [r0, c0] = block.origin;
    let shape = block.shape;
    if shape[0] == 0 || shape[1] == 0 {
        return Err(OpError::Empty(shape));
    }
    if r0 >= t.rows || c0 >= t.cols {
        return Err(OpError::OutOfBounds {
            origin: block.origin,
            shape,
            rows: t.rows,
            cols: t.cols,
        });
    }
    let valid = [shape[0].min(t.rows - r0), shape[1].min(t.cols - c0)];
    Ok(BlockRef {
        tensor: t,
        origin: block.origin,
        shape,
        valid,
    })
}

/// Loads a block into TCM (one `DmaRead`). Elements past the tensor's edge
/// read as zero; a block entirely outside the tensor is an error.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f16>) {
///     let t = tl::load(x.block([8, 8], [8, 8])); // 10x10 tensor: 2x2 valid
///     tl::store(x.block([0, 0], [8, 8]), t);
/// }
/// let s = k::trace_single(&k::args(Ptr::new(0, 10, 10))).unwrap();
/// assert!(s.to_string().contains("valid 2x2"));
/// ```
pub fn load<T: Elem>(cx: &KernelCx, block: Block<T>) -> Tile<T> {
    load_to(cx, block, Stage::Tcm)
}

/// Loads a block into the space `stage` names: TCM or SRAM (a `DmaRead`
/// into that space) or no copy at all (`Stage::HbmRef`, a tile usable only
/// as a `tl::dot` operand).
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(a: Ptr<f16>, b: Ptr<f16>, c: Ptr<f32>) {
///     let x = tl::load_to(a.block([0, 0], [16, 16]), Stage::HbmRef);
///     let y = tl::load_to(b.block([0, 0], [16, 16]), Stage::Sram);
///     let acc = tl::dot(&x, &y, tl::zeros::<f32>([16, 16]));
///     tl::store(c.block([0, 0], [16, 16]), acc);
/// }
/// let p = Ptr::new(0, 16, 16);
/// let s = k::trace_single(&k::args(p, p, Ptr::new(0x1000, 16, 16))).unwrap();
/// assert_eq!(s.counts().dma_read, 1); // only the SRAM staging copies
/// ```
pub fn load_to<T: Elem>(cx: &KernelCx, block: Block<T>, stage: Stage) -> Tile<T> {
    let st = cx.shared();
    let mut s = st.borrow_mut();
    let op = match stage {
        Stage::Tcm => "tl::load",
        _ => "tl::load_to",
    };
    if s.failed() {
        return Tile::new(st.clone(), Loc::Poisoned, block.shape);
    }
    let src = match block_ref(&block) {
        Ok(b) => b,
        Err(e) => {
            s.fail(op, e);
            return Tile::new(st.clone(), Loc::Poisoned, block.shape);
        }
    };
    let space = match stage {
        Stage::HbmRef => return Tile::new(st.clone(), Loc::Hbm(src), block.shape),
        Stage::Tcm => Space::Tcm,
        Stage::Sram => Space::Sram,
    };
    let dst = s.new_buf(space, block.shape, T::DTYPE);
    s.push(Command::DmaRead { src, dst });
    Tile::new(st.clone(), Loc::Buf(dst, space), block.shape)
}

/// Stores a TCM or SRAM tile to a block (one `DmaWrite`); elements past
/// the tensor's edge are not written. The tile's shape must equal the
/// block's.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>, y: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     tl::store(y.block([0, 0], [4, 4]), &t * 2.0);
/// }
/// let s = k::trace_single(&k::args(Ptr::new(0, 4, 4), Ptr::new(64, 4, 4))).unwrap();
/// assert_eq!((s.counts().dma_read, s.counts().dma_write), (1, 1));
/// ```
pub fn store<T: Elem>(cx: &KernelCx, block: Block<T>, tile: impl std::borrow::Borrow<Tile<T>>) {
    let tile: &Tile<T> = std::borrow::Borrow::borrow(&tile);
    let mut s = cx.shared().borrow_mut();
    if s.failed() {
        return;
    }
    let dst = match block_ref(&block) {
        Ok(b) => b,
        Err(e) => return s.fail("tl::store", e),
    };
    if tile.shape != block.shape {
        let msg = format!(
            "tile is {}x{}, block is {}x{}",
            tile.shape[0], tile.shape[1], block.shape[0], block.shape[1]
        );
        return s.fail("tl::store", OpError::Shape(msg));
    }
    match tile.loc {
        Loc::Buf(src, _) => s.push(Command::DmaWrite { src, dst }),
        Loc::Hbm(_) => s.fail(
            "tl::store",
            OpError::Space {
                found: Space::Hbm,
                needed: "tcm or sram",
            },
        ),
        Loc::Poisoned => {}
    }
}

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
pub fn full<T: Elem>(cx: &KernelCx, shape: [usize; 2], value: f32) -> Tile<T> {
    super::tile::math(
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
pub fn trans<'a, T: Elem>(_cx: &KernelCx, tile: &'a Tile<T>) -> DotOperand<'a, T> {
    DotOperand { tile, trans: true }
}

fn gemm_operand<T: Elem>(op: &DotOperand<'_, T>) -> Option<(GemmOperand, [usize; 2])> {
    let [r, c] = op.tile.shape;
    let shape = if op.trans { [c, r] } else { [r, c] };
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
pub fn dot<'a, 'b, T: Elem, U: Elem>(
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
    let (Some((ga, [m, k])), Some((gb, [k2, n]))) = (gemm_operand(&a), gemm_operand(&b)) else {
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
        in_dtype: T::DTYPE,
        acc: Some(out),
        out,
        out_dtype: U::DTYPE,
    }));
    acc
}

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
pub fn exp<T: Elem>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.exp()
}

/// Element-wise maximum of two tiles, broadcasting.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [4, 4]));
///     let relu = tl::max(&t, &tl::zeros::<f32>([1, 1]));
///     tl::store(x.block([0, 0], [4, 4]), relu);
/// }
/// assert!(k::trace_single(&k::args(Ptr::new(0, 4, 4))).unwrap().to_string().contains("math.max"));
/// ```
pub fn max<T: Elem>(_cx: &KernelCx, a: &Tile<T>, b: &Tile<T>) -> Tile<T> {
    a.max(b)
}

/// Sum of all elements, as a `[1, 1]` tile.
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
pub fn sum<T: Elem>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.sum()
}

/// Row-wise maximum: `[r, c] -> [r, 1]`.
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
pub fn row_max<T: Elem>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.row_max()
}

/// Row-wise sum: `[r, c] -> [r, 1]`.
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
pub fn row_sum<T: Elem>(_cx: &KernelCx, x: &Tile<T>) -> Tile<T> {
    x.row_sum()
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
pub fn cast<U: Elem>(_cx: &KernelCx, x: &Tile<impl Elem>) -> Tile<U> {
    x.cast::<U>()
}

fn check_peer(s: &mut super::trace::State, op: &'static str, peer: usize) -> bool {
    let world_size = s.program.world_size;
    if peer >= world_size {
        s.fail(op, OpError::Peer { peer, world_size });
        return false;
    }
    true
}

/// Sends a TCM tile to the program of ring rank `peer` (one `IpcqSend`).
/// A peer outside `0..world_size` is a trace error.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [1, 8]));
///     tl::send(1, &t);
/// }
/// let p = ProgramInfo::single().with_ring(0, 2);
/// let s = k::trace(&k::args(Ptr::vector(0, 8)), &p, &TraceConfig::default()).unwrap();
/// assert_eq!(s.counts().ipcq_send, 1);
/// ```
pub fn send<T: Elem>(cx: &KernelCx, peer: usize, tile: &Tile<T>) {
    let mut s = cx.shared().borrow_mut();
    if s.failed() || !check_peer(&mut s, "tl::send", peer) {
        return;
    }
    match tile.loc {
        Loc::Buf(src, Space::Tcm) => s.push(Command::IpcqSend { peer, src }),
        Loc::Poisoned => {}
        Loc::Buf(_, found) => s.fail(
            "tl::send",
            OpError::Space {
                found,
                needed: "tcm",
            },
        ),
        Loc::Hbm(_) => s.fail(
            "tl::send",
            OpError::Space {
                found: Space::Hbm,
                needed: "tcm",
            },
        ),
    }
}

/// Receives a `shape` tile of `T` from ring rank `peer` into TCM (one
/// `IpcqRecv`). A peer outside `0..world_size` is a trace error.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::recv::<f32>(0, [1, 8]);
///     tl::store(x.block([0, 0], [1, 8]), t);
/// }
/// let p = ProgramInfo::single().with_ring(1, 2);
/// let s = k::trace(&k::args(Ptr::vector(0, 8)), &p, &TraceConfig::default()).unwrap();
/// assert_eq!(s.counts().ipcq_recv, 1);
/// ```
pub fn recv<T: Elem>(cx: &KernelCx, peer: usize, shape: [usize; 2]) -> Tile<T> {
    let st = cx.shared();
    let mut s = st.borrow_mut();
    if s.failed() || !check_peer(&mut s, "tl::recv", peer) {
        return Tile::new(st.clone(), Loc::Poisoned, shape);
    }
    if shape[0] == 0 || shape[1] == 0 {
        s.fail("tl::recv", OpError::Empty(shape));
        return Tile::new(st.clone(), Loc::Poisoned, shape);
    }
    let dst = s.new_buf(Space::Tcm, shape, T::DTYPE);
    s.push(Command::IpcqRecv { peer, dst });
    Tile::new(st.clone(), Loc::Buf(dst, Space::Tcm), shape)
}
