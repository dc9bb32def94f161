//! Element types a kernel can name in `Ptr<T>` and `Tile<T>`.

use std::fmt;

/// Runtime tag of an element type, carried by every buffer and tensor in a
/// command stream so the executor can size transfers and pick arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// IEEE 754 binary16 (`half::f16`).
    F16,
    /// IEEE 754 binary32.
    F32,
    /// A mask element: one byte, 0 or 1 (comparisons produce them,
    /// `tl::select` consumes them).
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size_bytes(self) -> u64 {
        match self {
            DType::F16 => 2,
            DType::F32 => 4,
            DType::Bool => 1,
        }
    }

    /// Lower-case name as written in kernels (`f16`, `f32`, `bool`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F16 => "f16",
            DType::F32 => "f32",
            DType::Bool => "bool",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for half::f16 {}
    impl Sealed for f32 {}
    impl Sealed for bool {}
}

/// A Rust type usable as a tensor element: `f16`, `f32`, or `bool` for
/// masks. Sealed: the simulated datapath only implements these formats.
pub trait Elem: sealed::Sealed + Copy + fmt::Debug + PartialEq + Default + 'static {
    /// The runtime tag of this type.
    const DTYPE: DType;
}

/// A numeric element (`f16`, `f32`): what arithmetic, math functions,
/// comparisons and `tl::dot` take. The vector engine computes in f32 and
/// rounds to the tile's type when it stores.
pub trait Float: Elem {}

impl Float for half::f16 {}
impl Float for f32 {}

impl Elem for half::f16 {
    const DTYPE: DType = DType::F16;
}

impl Elem for f32 {
    const DTYPE: DType = DType::F32;
}

impl Elem for bool {
    const DTYPE: DType = DType::Bool;
}
