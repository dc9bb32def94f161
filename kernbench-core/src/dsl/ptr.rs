//! Tensors in device memory as kernels see them: `Ptr<T>` and its blocks.

use std::fmt;
use std::marker::PhantomData;

use super::dtype::{DType, Elem};

/// Untyped description of a 2-D row-major tensor in device memory.
///
/// Element `(r, c)` lives at `base + (r * row_stride + c) * dtype.size_bytes()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorDesc {
    /// Opaque device address of element `(0, 0)`; the host runtime fills it
    /// with an encoded physical address.
    pub base: u64,
    /// Logical rows.
    pub rows: usize,
    /// Logical columns.
    pub cols: usize,
    /// Distance between consecutive rows, in elements (`>= cols`).
    pub row_stride: usize,
    /// Element type.
    pub dtype: DType,
}

impl TensorDesc {
    /// Device address of element `(r, c)` (not bounds-checked).
    pub fn elem_addr(&self, r: usize, c: usize) -> u64 {
        let idx = (r as u64)
            .wrapping_mul(self.row_stride as u64)
            .wrapping_add(c as u64);
        self.base
            .wrapping_add(idx.wrapping_mul(self.dtype.size_bytes()))
    }
}

/// Why a `Ptr` could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PtrError {
    /// Rows would overlap.
    #[error("row_stride {row_stride} is smaller than cols {cols}")]
    StrideTooSmall {
        /// Requested stride.
        row_stride: usize,
        /// Logical columns.
        cols: usize,
    },
}

/// A kernel argument naming a 2-D row-major tensor of `T` in device memory.
///
/// A `Ptr` is a plain handle (copyable, no data); kernels cut it into
/// [`Block`]s and move blocks with `tl::load` / `tl::store`.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// let a = Ptr::<f16>::new(0x1000, 100, 70);
/// assert_eq!((a.rows(), a.cols(), a.row_stride()), (100, 70, 70));
/// let v = Ptr::<f32>::vector(0x2000, 16);
/// assert_eq!((v.rows(), v.cols()), (1, 16));
/// ```
pub struct Ptr<T: Elem> {
    desc: TensorDesc,
    _elem: PhantomData<T>,
}

impl<T: Elem> Clone for Ptr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Elem> Copy for Ptr<T> {}

impl<T: Elem> PartialEq for Ptr<T> {
    fn eq(&self, other: &Self) -> bool {
        self.desc == other.desc
    }
}
impl<T: Elem> Eq for Ptr<T> {}

impl<T: Elem> fmt::Debug for Ptr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Ptr<{}>(0x{:x}, {}x{}, stride {})",
            T::DTYPE,
            self.desc.base,
            self.desc.rows,
            self.desc.cols,
            self.desc.row_stride
        )
    }
}

impl<T: Elem> Ptr<T> {
    /// A dense `rows x cols` tensor at `base`.
    pub fn new(base: u64, rows: usize, cols: usize) -> Self {
        Self::from_desc_unchecked(base, rows, cols, cols)
    }

    /// A 1-D tensor of `len` elements, seen as one row.
    pub fn vector(base: u64, len: usize) -> Self {
        Self::new(base, 1, len)
    }

    /// A `rows x cols` view whose rows are `row_stride` elements apart.
    pub fn with_stride(
        base: u64,
        rows: usize,
        cols: usize,
        row_stride: usize,
    ) -> Result<Self, PtrError> {
        if row_stride < cols {
            return Err(PtrError::StrideTooSmall { row_stride, cols });
        }
        Ok(Self::from_desc_unchecked(base, rows, cols, row_stride))
    }

    fn from_desc_unchecked(base: u64, rows: usize, cols: usize, row_stride: usize) -> Self {
        Ptr {
            desc: TensorDesc {
                base,
                rows,
                cols,
                row_stride,
                dtype: T::DTYPE,
            },
            _elem: PhantomData,
        }
    }

    /// Device address of element `(0, 0)`.
    pub fn base(&self) -> u64 {
        self.desc.base
    }
    /// Logical rows.
    pub fn rows(&self) -> usize {
        self.desc.rows
    }
    /// Logical columns.
    pub fn cols(&self) -> usize {
        self.desc.cols
    }
    /// Row pitch in elements.
    pub fn row_stride(&self) -> usize {
        self.desc.row_stride
    }
    /// The untyped description recorded in commands.
    pub fn desc(&self) -> TensorDesc {
        self.desc
    }

    /// Names the `shape[0] x shape[1]` block whose top-left element is
    /// `origin`. Nothing is checked here: `tl::load`/`tl::store` mask the
    /// part past the tensor's edge and reject a block entirely outside it.
    pub fn block(&self, origin: [usize; 2], shape: [usize; 2]) -> Block<T> {
        Block {
            tensor: self.desc,
            origin,
            shape,
            _elem: PhantomData,
        }
    }
}

/// A rectangular block of a tensor, named by [`Ptr::block`].
pub struct Block<T: Elem> {
    pub(crate) tensor: TensorDesc,
    pub(crate) origin: [usize; 2],
    pub(crate) shape: [usize; 2],
    _elem: PhantomData<T>,
}

impl<T: Elem> Clone for Block<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Elem> Copy for Block<T> {}

impl<T: Elem> fmt::Debug for Block<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Block<{}>({:?} + {:?})",
            T::DTYPE,
            self.origin,
            self.shape
        )
    }
}

impl<T: Elem> Block<T> {
    /// Top-left element.
    pub fn origin(&self) -> [usize; 2] {
        self.origin
    }
    /// Requested extent (the tile shape, masked elements included).
    pub fn shape(&self) -> [usize; 2] {
        self.shape
    }
}

/// A block as recorded in a command: the tensor, the requested extent and
/// the valid (in-bounds) extent. Elements past `valid` read as zero and
/// are not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// The tensor the block belongs to.
    pub tensor: TensorDesc,
    /// Top-left element.
    pub origin: [usize; 2],
    /// Requested extent (the tile's shape).
    pub shape: [usize; 2],
    /// In-bounds extent, `<= shape` in each dimension.
    pub valid: [usize; 2],
}

impl BlockRef {
    /// Whether part of the block lies past the tensor's edge.
    pub fn is_masked(&self) -> bool {
        self.valid != self.shape
    }

    /// Bytes actually moved (valid elements only).
    pub fn valid_bytes(&self) -> u64 {
        (self.valid[0] as u64)
            .saturating_mul(self.valid[1] as u64)
            .saturating_mul(self.tensor.dtype.size_bytes())
    }
}

impl fmt::Display for BlockRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r0, c0] = self.origin;
        let [br, bc] = self.shape;
        write!(
            f,
            "hbm[0x{:x} {}x{} {}][{}..{}, {}..{}]",
            self.tensor.base,
            self.tensor.rows,
            self.tensor.cols,
            self.tensor.dtype,
            r0,
            r0.saturating_add(br),
            c0,
            c0.saturating_add(bc)
        )?;
        if self.is_masked() {
            write!(f, " valid {}x{}", self.valid[0], self.valid[1])?;
        }
        Ok(())
    }
}
