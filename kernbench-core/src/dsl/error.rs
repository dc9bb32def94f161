//! Errors raised while tracing a kernel.

use std::fmt;
use std::panic::Location;

use super::cmd::Space;
use super::program::ProgramInfo;

/// A place in the kernel's source: where a `tl::` call (or a panic) is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceLoc {
    /// The source file, as the compiler names it (relative to the crate).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl From<&Location<'_>> for SourceLoc {
    fn from(l: &Location<'_>) -> Self {
        SourceLoc {
            file: l.file().to_string(),
            line: l.line(),
            column: l.column(),
        }
    }
}

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A kernel could not be traced (or its stream could not be allocated).
/// The message names the source line (compiler style, first), the kernel,
/// the program and, when there is one, the offending command or operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct TraceError {
    /// Kernel name.
    pub kernel: String,
    /// The program instance being traced.
    pub program: ProgramInfo,
    /// Where in the kernel's source: the `tl::` call that failed, the one
    /// whose buffer overflowed, or the panic. `None` for an invalid program.
    /// (Boxed, like `kind`, to keep `Result<_, TraceError>` small.)
    pub at: Option<Box<SourceLoc>>,
    /// What went wrong (boxed to keep `Result<_, TraceError>` small).
    pub kind: Box<TraceErrorKind>,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        write!(
            f,
            "kernel `{}`, {}: {}",
            self.kernel, self.program, self.kind
        )
    }
}

/// What went wrong while tracing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TraceErrorKind {
    /// A `tl::` operation was used wrongly; `index` is the position the
    /// operation's command would have had.
    #[error("command #{index} (`{op}`): {error}")]
    Op {
        /// The operation, e.g. `tl::dot`.
        op: &'static str,
        /// Stream position.
        index: usize,
        /// Why.
        error: OpError,
    },
    /// The live set at some command does not fit the scratch (TCM) or the
    /// program's SRAM window.
    #[error(
        "{space} overflow at command #{index} `{command}`: a {need}-byte buffer does not fit \
         ({live} bytes live, capacity {capacity} bytes)"
    )]
    Overflow {
        /// `Tcm` or `Sram`.
        space: Space,
        /// Command that first needs the buffer.
        index: usize,
        /// Its text form.
        command: String,
        /// Size of the buffer that did not fit.
        need: u64,
        /// Bytes live when it was requested.
        live: u64,
        /// Capacity of the space.
        capacity: u64,
    },
    /// The program description is inconsistent (ids outside the grid...).
    #[error("invalid program: {0}")]
    Program(String),
    /// The kernel body panicked (e.g. arithmetic overflow in user code).
    #[error("kernel body panicked: {0}")]
    Panic(String),
    /// The trace grew past the configured limit, usually a runaway loop.
    #[error("trace exceeded {0} commands")]
    TooLong(usize),
}

/// Misuse of a single `tl::` operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// A block entirely outside its tensor.
    #[error(
        "out of bounds: block at [{}, {}] of shape {}x{} lies outside the {rows}x{cols} tensor",
        origin[0], origin[1], shape[0], shape[1]
    )]
    OutOfBounds {
        /// Block origin.
        origin: [usize; 2],
        /// Block shape.
        shape: [usize; 2],
        /// Tensor rows.
        rows: usize,
        /// Tensor cols.
        cols: usize,
    },
    /// Incompatible shapes.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A zero-sized tile or block.
    #[error("empty shape {}x{}", .0[0], .0[1])]
    Empty([usize; 2]),
    /// `send`/`recv` to a rank outside the ring.
    #[error("peer rank {peer} is outside the ring 0..{world_size}")]
    Peer {
        /// Requested rank.
        peer: usize,
        /// Ring size.
        world_size: usize,
    },
    /// `program_id`/`num_programs` with an axis other than 0, 1, 2.
    #[error("axis {0} is not 0, 1 or 2")]
    Axis(usize),
    /// An index tile whose indices f32 cannot hold exactly.
    #[error(
        "index tile {start}..{start}+{n} exceeds {limit}, the largest range f32 holds exactly"
    )]
    IndexRange {
        /// First index.
        start: usize,
        /// Indices asked for.
        n: usize,
        /// The exactness limit.
        limit: usize,
    },
    /// An operand in a memory space the operation cannot use.
    #[error("operand is in {found}, the operation needs {needed}")]
    Space {
        /// Where the operand is.
        found: Space,
        /// Where it must be.
        needed: &'static str,
    },
}
