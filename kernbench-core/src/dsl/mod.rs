//! The kernel language's runtime: `tl::` operations, tracing and the
//! command stream.
//!
//! May use: [`crate::support`] only. It knows nothing of the machine,
//! time, engines or devices: a trace is a list of commands, and the limits
//! it must fit ([`TraceConfig`]) are handed to it by the host runtime.
//!
//! A kernel is a Rust function marked [`#[kernel]`](kernel). The macro
//! rewrites each `tl::` call in its body to pass a hidden [`KernelCx`] and
//! generates a kernel type implementing [`Kernel`]. Tracing runs the body
//! once per program instance; each `tl::` operation appends a [`Command`]
//! (the simulated ISA) and ordinary Rust control flow unrolls. After the
//! trace a liveness pass gives every TCM/SRAM buffer an offset, reusing
//! space after a buffer's last use.
//!
//! ```
//! use kernbench_core::dsl::prelude::*;
//!
//! /// `y = 2 * x` over one block per program.
//! #[kernel]
//! fn scale(x: Ptr<f32>, y: Ptr<f32>, #[constexpr] bs: usize) {
//!     let r0 = tl::program_id(0) * bs;
//!     let t = tl::load(x.block([r0, 0], [bs, x.cols()]));
//!     tl::store(y.block([r0, 0], [bs, y.cols()]), &t * 2.0);
//! }
//!
//! let args = scale::args(Ptr::new(0x1000, 100, 8), Ptr::new(0x9000, 100, 8), 32);
//! let program = ProgramInfo::grid([3, 0, 0], [4, 1, 1]);
//! let stream = scale::trace(&args, &program, &TraceConfig::default()).unwrap();
//! let c = stream.counts();
//! assert_eq!((c.dma_read, c.math, c.dma_write), (1, 1, 1));
//! println!("{stream}"); // the listing, one command per line
//! assert_eq!(scale::NAME, "scale");
//! assert!(scale::arg_meta()[2].constexpr);
//! ```

mod alloc;
mod cmd;
mod counts;
mod dtype;
mod error;
mod kernel;
mod program;
mod ptr;
mod stream;
mod tile;
pub mod tl;
mod trace;

pub use cmd::{
    Axis, BufId, Buffer, CmpOp, Command, CommandKind, GemmCmd, GemmOperand, MathArg, MathCmd,
    MathOp, Operand, Space,
};
pub use counts::CommandCounts;
pub use dtype::{DType, Elem, Float};
pub use error::{OpError, SourceLoc, TraceError, TraceErrorKind};
/// Turns a function into a kernel (see the attribute's own documentation
/// for the full contract).
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn copy(x: Ptr<f32>, y: Ptr<f32>, #[constexpr] bs: usize) {
///     let r0 = tl::program_id(0) * bs;
///     let t = tl::load(x.block([r0, 0], [bs, x.cols()]));
///     tl::store(y.block([r0, 0], [bs, y.cols()]), t);
/// }
///
/// let args = copy::args(Ptr::new(0, 64, 8), Ptr::new(4096, 64, 8), 64);
/// let s = copy::trace_single(&args).unwrap();
/// assert_eq!(copy::NAME, "copy");
/// assert_eq!((s.counts().dma_read, s.counts().dma_write), (1, 1));
/// println!("{s}");
/// ```
pub use kernbench_macros::kernel;
pub use kernel::{ArgKind, ArgMeta, ArgValue, ConstexprArg, Kernel, KernelArg, KernelArgs};
pub use program::ProgramInfo;
pub use ptr::{Block, BlockRef, Ptr, PtrError, TensorDesc};
pub use stream::CommandStream;
pub use tile::{Rhs, Tile};
pub use tl::{DotOperand, Stage};
pub use trace::{KernelCx, TraceConfig};

#[doc(hidden)]
pub use trace::__trace;

/// Everything a kernel file needs: `use kernbench_core::dsl::prelude::*;`.
pub mod prelude {
    pub use super::{
        kernel, tl, CommandStream, DType, Kernel, KernelCx, ProgramInfo, Ptr, Stage, Tile,
        TraceConfig,
    };
    pub use crate::support::Named;
    pub use half::f16;
}
