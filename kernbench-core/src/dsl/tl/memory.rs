//! Moving blocks between tensors in HBM and on-chip buffers.

use super::Stage;
use crate::dsl::cmd::{Command, Space};
use crate::dsl::dtype::Elem;
use crate::dsl::error::OpError;
use crate::dsl::ptr::{Block, BlockRef};
use crate::dsl::tile::{Loc, Tile};
use crate::dsl::trace::KernelCx;

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
/// read as **zero**; a block entirely outside the tensor is an error. When
/// zero is the wrong neutral value — a row maximum, a softmax over a
/// ragged row — use [`load_or`] with the value the masked part must hold.
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
#[track_caller]
pub fn load<T: Elem>(cx: &KernelCx, block: Block<T>) -> Tile<T> {
    load_into(cx, block, Stage::Tcm, 0.0, "tl::load")
}

/// Loads a block into TCM like [`load`], with the elements past the
/// tensor's edge set to `other` (Triton's `other=`). The DMA engine writes
/// the fill; it costs nothing beyond the load.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// /// Softmax of 1000-wide rows with a 1024-wide tile: the 24 masked
/// /// columns read as -inf, so they add e^-inf = 0 to each row's sum.
/// #[kernel]
/// fn softmax(x: Ptr<f32>, y: Ptr<f32>) {
///     let t = tl::load_or(x.block([0, 0], [4, 1024]), f32::NEG_INFINITY);
///     let e = tl::exp(&(&t - &t.row_max()));
///     tl::store(y.block([0, 0], [4, 1024]), &e / &e.row_sum());
/// }
/// let s = softmax::trace_single(&softmax::args(Ptr::new(0, 4, 1000), Ptr::new(1 << 16, 4, 1000)));
/// assert!(s.unwrap().to_string().contains("valid 4x1000 other -inf"));
/// ```
#[track_caller]
pub fn load_or<T: Elem>(cx: &KernelCx, block: Block<T>, other: f32) -> Tile<T> {
    load_into(cx, block, Stage::Tcm, other, "tl::load_or")
}

/// Loads a block into the space `stage` names: TCM or SRAM (a `DmaRead`
/// into that space) or no copy at all (`Stage::HbmRef`, a tile usable only
/// as a `tl::dot` operand). Elements past the tensor's edge read as zero,
/// which a GEMM operand needs.
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
#[track_caller]
pub fn load_to<T: Elem>(cx: &KernelCx, block: Block<T>, stage: Stage) -> Tile<T> {
    load_into(cx, block, stage, 0.0, "tl::load_to")
}

#[track_caller]
fn load_into<T: Elem>(
    cx: &KernelCx,
    block: Block<T>,
    stage: Stage,
    fill: f32,
    op: &'static str,
) -> Tile<T> {
    let st = cx.shared();
    let mut s = st.borrow_mut();
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
        Stage::HbmRef => {
            return Tile::new(st.clone(), Loc::Hbm(src), block.shape).with_valid(src.valid)
        }
        Stage::Tcm => Space::Tcm,
        Stage::Sram => Space::Sram,
    };
    let dst = s.new_buf(space, block.shape, T::DTYPE);
    s.push(Command::DmaRead {
        src,
        dst,
        fill: f64::from(fill),
    });
    Tile::new(st.clone(), Loc::Buf(dst, space), block.shape).with_valid(src.valid)
}

/// Stores a TCM or SRAM tile to a block (one `DmaWrite`). The store is
/// masked by the tensor's bounds: elements past its edge are not written,
/// and only the valid bytes move. The tile's shape must equal the block's.
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
#[track_caller]
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
