//! What `#[kernel]` generates against: the [`Kernel`] trait and argument
//! metadata.

use std::fmt;

use super::dtype::{DType, Elem};
use super::error::TraceError;
use super::program::ProgramInfo;
use super::ptr::{Ptr, TensorDesc};
use super::stream::CommandStream;
use super::trace::TraceConfig;
use crate::support::Named;

/// The kind of a kernel argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// `Ptr<T>`: a tensor in device memory.
    Ptr(DType),
    /// An integer type (`usize`, `u32`, `i64`...).
    Int,
    /// `bool`.
    Bool,
    /// An `f32` scalar.
    F32,
    /// An enum (`Stage`, `ReduceOp`, ...); the string is its
    /// [`Named::WHAT`].
    Enum(&'static str),
}

/// Static description of one kernel argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArgMeta {
    /// Parameter name.
    pub name: &'static str,
    /// The type as written in the signature.
    pub ty: &'static str,
    /// Its kind.
    pub kind: ArgKind,
    /// Whether it is `#[constexpr]`: fixed at trace time and part of the
    /// specialisation (tile sizes, flags, enums that select code).
    pub constexpr: bool,
}

/// A concrete argument value, for engines that need to inspect a launch
/// generically (e.g. to find the tensors a kernel touches).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArgValue {
    /// A tensor.
    Ptr(TensorDesc),
    /// An integer, widened.
    Int(i128),
    /// A flag.
    Bool(bool),
    /// A scalar.
    F32(f32),
    /// An enum value, by its [`Named::name`].
    Enum(&'static str),
}

/// A type a kernel parameter may have. `#[kernel]` asks this trait, never
/// the type's name, so an unsupported type is a compile error at the
/// parameter. Implemented for `Ptr<f16>`, `Ptr<f32>`, `Ptr<bool>` (a mask
/// tensor), the integer types, `bool`, `f32`, and the enums kernels take
/// ([`Stage`](super::Stage), `kernels::ReduceOp`). A new enum opts in with
/// two short impls:
///
/// ```
/// use kernbench_core::dsl::{ArgKind, ArgValue, ConstexprArg, KernelArg};
/// use kernbench_core::support::Named;
///
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// enum Layout { RowMajor, ColMajor }
///
/// impl Named for Layout {
///     const WHAT: &'static str = "layout";
///     const ALL: &'static [Layout] = &[Layout::RowMajor, Layout::ColMajor];
///     fn name(self) -> &'static str {
///         match self { Layout::RowMajor => "row_major", Layout::ColMajor => "col_major" }
///     }
/// }
/// impl KernelArg for Layout {
///     const KIND: ArgKind = ArgKind::of_enum::<Layout>();
///     fn arg_value(&self) -> ArgValue { ArgValue::of_enum(*self) }
/// }
/// impl ConstexprArg for Layout {}
/// ```
///
/// ```
/// use kernbench_core::dsl::prelude::*;
/// use kernbench_core::dsl::{ArgKind, ArgValue, Kernel, KernelArgs};
///
/// #[kernel]
/// fn staged(x: Ptr<f16>, #[constexpr] stage: Stage) {
///     let t = tl::load_to(x.block([0, 0], [8, 8]), stage);
///     let acc = tl::dot(&t, &t, tl::zeros::<f32>([8, 8]));
///     tl::store(x.block([0, 0], [8, 8]), acc.cast::<f16>());
/// }
///
/// let args = staged::args(Ptr::new(0, 8, 8), Stage::Sram);
/// assert_eq!(staged::arg_meta()[1].kind, ArgKind::Enum("staging"));
/// assert_eq!(args.values()[1], ArgValue::Enum("sram"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a kernel argument",
    label = "not a kernel argument type",
    note = "kernel arguments are `Ptr<f16>`, `Ptr<f32>`, `Ptr<bool>`, integers (`usize`, `u32`, `i64`, ...), `bool`, `f32`, or enums implementing `KernelArg` (`Stage`, `ReduceOp`, ...)"
)]
pub trait KernelArg: Copy + fmt::Debug + PartialEq + 'static {
    /// What kind of argument this type is.
    const KIND: ArgKind;

    /// The value, for generic inspection.
    fn arg_value(&self) -> ArgValue;
}

/// A kernel argument that may be `#[constexpr]`: fixed at trace time and
/// free to select code (integers, `bool`, enums). Tensors and `f32`
/// scalars are values a kernel computes with, not specialisations.
#[diagnostic::on_unimplemented(
    message = "`#[constexpr]` parameters must be integers, `bool` or enums, not `{Self}`",
    label = "cannot be `#[constexpr]`"
)]
pub trait ConstexprArg: KernelArg {}

impl<T: Elem> KernelArg for Ptr<T> {
    const KIND: ArgKind = ArgKind::Ptr(T::DTYPE);
    fn arg_value(&self) -> ArgValue {
        ArgValue::Ptr(self.desc())
    }
}

macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl KernelArg for $t {
            const KIND: ArgKind = ArgKind::Int;
            fn arg_value(&self) -> ArgValue {
                ArgValue::Int(*self as i128)
            }
        }
        impl ConstexprArg for $t {}
    )*};
}
int_arg!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl KernelArg for bool {
    const KIND: ArgKind = ArgKind::Bool;
    fn arg_value(&self) -> ArgValue {
        ArgValue::Bool(*self)
    }
}
impl ConstexprArg for bool {}

impl KernelArg for f32 {
    const KIND: ArgKind = ArgKind::F32;
    fn arg_value(&self) -> ArgValue {
        ArgValue::F32(*self)
    }
}

impl ArgKind {
    /// The kind of a [`Named`] enum argument, for its [`KernelArg`] impl.
    pub const fn of_enum<T: Named>() -> ArgKind {
        ArgKind::Enum(T::WHAT)
    }
}

impl ArgValue {
    /// The value of a [`Named`] enum argument, for its [`KernelArg`] impl.
    pub fn of_enum<T: Named>(v: T) -> ArgValue {
        ArgValue::Enum(v.name())
    }
}

/// The typed arguments of one kernel (the struct `#[kernel]` generates).
pub trait KernelArgs: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// Values in parameter order, matching [`Kernel::arg_meta`].
    fn values(&self) -> Vec<ArgValue>;
}

/// A kernel: generated by `#[kernel]` for each kernel function.
///
/// Launching means tracing one program per grid point (and ring rank) and
/// executing the streams; [`Kernel::trace`] is the per-program step.
pub trait Kernel: 'static {
    /// The typed argument bundle (`<name>::args(...)` builds one).
    type Args: KernelArgs;

    /// The kernel's name (the function's).
    const NAME: &'static str;

    /// Parameters in order.
    fn arg_meta() -> &'static [ArgMeta];

    /// Traces program `program` with `args` and allocates its buffers.
    fn trace(
        args: &Self::Args,
        program: &ProgramInfo,
        cfg: &TraceConfig,
    ) -> Result<CommandStream, TraceError>;

    /// Traces the only program of a 1x1x1 grid, rank 0 of 1, with the
    /// default limits.
    fn trace_single(args: &Self::Args) -> Result<CommandStream, TraceError> {
        Self::trace(args, &ProgramInfo::single(), &TraceConfig::default())
    }
}
