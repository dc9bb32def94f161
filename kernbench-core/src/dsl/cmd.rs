//! The simulated ISA: typed commands over named on-chip buffers.
//!
//! Every command carries what an executor needs to compute both its values
//! and its timing: shapes, dtypes, memory spaces, tensor addresses, valid
//! extents of masked blocks and transpose/accumulate flags. Buffers are
//! named by [`BufId`]; their shape, dtype, space and (after allocation)
//! offset live in the stream's buffer table.

use std::fmt;

use super::dtype::DType;
use super::ptr::BlockRef;

/// Where an operand lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    /// The PE's tightly coupled memory (kernel scratch).
    Tcm,
    /// The cube's shared SRAM.
    Sram,
    /// Device HBM, addressed through a tensor.
    Hbm,
}

impl Space {
    /// Lower-case name used in listings.
    pub fn name(self) -> &'static str {
        match self {
            Space::Tcm => "tcm",
            Space::Sram => "sram",
            Space::Hbm => "hbm",
        }
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names an on-chip buffer (index into [`CommandStream::buffers`](super::CommandStream::buffers)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufId(pub u32);

impl BufId {
    /// Index into the stream's buffer table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for BufId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}", self.0)
    }
}

/// An on-chip buffer: a 2-D row-major tile in TCM or SRAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Buffer {
    /// Its name.
    pub id: BufId,
    /// `Tcm` or `Sram` (never `Hbm`).
    pub space: Space,
    /// Rows x cols.
    pub shape: [usize; 2],
    /// Element type.
    pub dtype: DType,
    /// Byte offset inside the program's scratch (TCM) or SRAM window,
    /// assigned by the liveness allocator after tracing.
    pub offset: Option<u64>,
}

impl Buffer {
    /// Size in bytes.
    pub fn bytes(&self) -> u64 {
        // Saturating: absurd shapes must fail allocation, not overflow.
        (self.shape[0] as u64)
            .saturating_mul(self.shape[1] as u64)
            .saturating_mul(self.dtype.size_bytes())
    }
}

/// A GEMM input: an on-chip buffer or a block that stays in HBM and is
/// streamed per tile by the PE scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A TCM or SRAM buffer (its space is in the buffer table).
    Buf(BufId),
    /// A block of a tensor in HBM, read directly by the GEMM pipeline.
    Hbm(BlockRef),
}

/// One input of a [`GemmCmd`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GemmOperand {
    /// Where the data comes from.
    pub src: Operand,
    /// Space of `src` (denormalised so timing needs no table lookup).
    pub space: Space,
    /// Whether the operand is used transposed.
    pub trans: bool,
}

/// A composite GEMM: `out = op(a) @ op(b) (+ acc)`; `op` transposes when
/// the operand's `trans` flag is set. One command per `tl::dot`, tiled by
/// the PE scheduler at execution time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GemmCmd {
    /// Left operand, `m x k` after `op`.
    pub a: GemmOperand,
    /// Right operand, `k x n` after `op`.
    pub b: GemmOperand,
    /// Output rows.
    pub m: usize,
    /// Reduction length.
    pub k: usize,
    /// Output columns.
    pub n: usize,
    /// The part of `m x k x n` that holds data (`<=` each): operands
    /// loaded past a tensor's edge are padding, their MACs wasted.
    pub valid: [usize; 3],
    /// Element type of `a` and `b`.
    pub in_dtype: DType,
    /// Accumulator read before the product is added; `None` overwrites.
    pub acc: Option<BufId>,
    /// Result buffer (`== acc` when accumulating in place), in TCM.
    pub out: BufId,
    /// Element type of `out`.
    pub out_dtype: DType,
}

impl GemmCmd {
    /// Multiply-accumulates of the command's shape, padding included.
    pub fn macs(&self) -> u64 {
        (self.m * self.k * self.n) as u64
    }

    /// Multiply-accumulates the problem needs: the valid part only.
    pub fn useful_macs(&self) -> u64 {
        let [m, k, n] = self.valid;
        (m * k * n) as u64
    }
}

/// A comparison, producing a mask (`bool` tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `x0 < x1`.
    Lt,
    /// `x0 <= x1`.
    Le,
    /// `x0 > x1`.
    Gt,
    /// `x0 >= x1`.
    Ge,
    /// `x0 == x1`.
    Eq,
    /// `x0 != x1`.
    Ne,
}

impl CmpOp {
    /// Mnemonic used in listings.
    pub fn mnemonic(self) -> &'static str {
        match self {
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
        }
    }

    /// The comparison on two values.
    pub fn eval(self, x: f32, y: f32) -> bool {
        match self {
            CmpOp::Lt => x < y,
            CmpOp::Le => x <= y,
            CmpOp::Gt => x > y,
            CmpOp::Ge => x >= y,
            CmpOp::Eq => x == y,
            CmpOp::Ne => x != y,
        }
    }
}

/// Rows or columns of a tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// Along the rows: index `r` of element `[r, c]`.
    Rows,
    /// Along the columns: index `c` of element `[r, c]`.
    Cols,
}

/// The math engine's operations. All compute in f32 and round to the output
/// tile's dtype. Binary and select operations broadcast: each input
/// dimension equals the output's or is 1. Reductions are named for what
/// they reduce (`Row*`: each row to one value, `Col*`: each column, `Sum`:
/// everything); every other operation is element-wise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MathOp {
    /// `out = value` everywhere (no inputs).
    Fill(f64),
    /// `out[r, c] = start + r` (`Rows`) or `start + c` (`Cols`): index tiles
    /// for masks (no inputs).
    Arange {
        /// Which index.
        axis: Axis,
        /// The first index.
        start: f64,
    },
    /// `out = x0 + x1`.
    Add,
    /// `out = x0 - x1`.
    Sub,
    /// `out = x0 * x1`.
    Mul,
    /// `out = x0 / x1`.
    Div,
    /// `out = max(x0, x1)`.
    Max,
    /// `out = min(x0, x1)`.
    Min,
    /// `out = -x0`.
    Neg,
    /// `out = |x0|`.
    Abs,
    /// `out = e^x0`.
    Exp,
    /// `out = ln x0`.
    Log,
    /// `out = √x0`.
    Sqrt,
    /// `out = 1 / √x0`.
    Rsqrt,
    /// `out = x0` converted to the output's dtype.
    Cast,
    /// `out = x0 <op> x1`, a mask.
    Cmp(CmpOp),
    /// `out = x0 && x1` on masks.
    And,
    /// `out = x0 || x1` on masks.
    Or,
    /// `out = !x0` on a mask.
    Not,
    /// `out = x0 ? x1 : x2`, with `x0` a mask (Triton's `tl.where`).
    Select,
    /// `out[r, 0] = max_c x0[r, c]`.
    RowMax,
    /// `out[r, 0] = min_c x0[r, c]`.
    RowMin,
    /// `out[r, 0] = sum_c x0[r, c]`.
    RowSum,
    /// `out[0, c] = max_r x0[r, c]`.
    ColMax,
    /// `out[0, c] = min_r x0[r, c]`.
    ColMin,
    /// `out[0, c] = sum_r x0[r, c]`.
    ColSum,
    /// `out[0, 0] = sum of all x0`.
    Sum,
}

impl MathOp {
    /// Mnemonic used in listings.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            MathOp::Fill(_) => "fill",
            MathOp::Arange {
                axis: Axis::Rows, ..
            } => "arange.rows",
            MathOp::Arange {
                axis: Axis::Cols, ..
            } => "arange.cols",
            MathOp::Add => "add",
            MathOp::Sub => "sub",
            MathOp::Mul => "mul",
            MathOp::Div => "div",
            MathOp::Max => "max",
            MathOp::Min => "min",
            MathOp::Neg => "neg",
            MathOp::Abs => "abs",
            MathOp::Exp => "exp",
            MathOp::Log => "log",
            MathOp::Sqrt => "sqrt",
            MathOp::Rsqrt => "rsqrt",
            MathOp::Cast => "cast",
            MathOp::Cmp(c) => c.mnemonic(),
            MathOp::And => "and",
            MathOp::Or => "or",
            MathOp::Not => "not",
            MathOp::Select => "select",
            MathOp::RowMax => "rowmax",
            MathOp::RowMin => "rowmin",
            MathOp::RowSum => "rowsum",
            MathOp::ColMax => "colmax",
            MathOp::ColMin => "colmin",
            MathOp::ColSum => "colsum",
            MathOp::Sum => "sum",
        }
    }
}

/// An input of a [`MathCmd`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MathArg {
    /// A TCM buffer.
    Buf(BufId),
    /// A scalar broadcast to every element.
    Scalar(f64),
}

/// An element-wise or reduction operation on TCM buffers.
#[derive(Clone, Debug, PartialEq)]
pub struct MathCmd {
    /// What to compute.
    pub op: MathOp,
    /// Inputs in order.
    pub args: Vec<MathArg>,
    /// Result buffer in TCM; its shape and dtype are in the buffer table.
    pub out: BufId,
}

/// One instruction of a program's command stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Copy a (possibly masked) block from HBM into an on-chip buffer;
    /// elements past the tensor's edge are set to `fill`.
    DmaRead {
        /// Source block.
        src: BlockRef,
        /// Destination buffer (TCM or SRAM).
        dst: BufId,
        /// Value of the elements past the tensor's edge (Triton's `other`).
        fill: f64,
    },
    /// Copy an on-chip buffer to a block in HBM; masked elements are not
    /// written.
    DmaWrite {
        /// Source buffer.
        src: BufId,
        /// Destination block.
        dst: BlockRef,
    },
    /// A composite GEMM.
    Gemm(GemmCmd),
    /// A math-engine operation.
    Math(MathCmd),
    /// Send a TCM buffer to the PE of ring rank `peer` over IPCQ.
    IpcqSend {
        /// Destination rank.
        peer: usize,
        /// Buffer sent.
        src: BufId,
    },
    /// Receive a tile from ring rank `peer` into a TCM buffer.
    IpcqRecv {
        /// Source rank.
        peer: usize,
        /// Buffer filled.
        dst: BufId,
    },
}

/// Kind of a command, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommandKind {
    /// [`Command::DmaRead`].
    DmaRead,
    /// [`Command::DmaWrite`].
    DmaWrite,
    /// [`Command::Gemm`].
    Gemm,
    /// [`Command::Math`].
    Math,
    /// [`Command::IpcqSend`].
    IpcqSend,
    /// [`Command::IpcqRecv`].
    IpcqRecv,
}

impl CommandKind {
    /// Every kind, in declaration order.
    pub const ALL: [CommandKind; 6] = [
        CommandKind::DmaRead,
        CommandKind::DmaWrite,
        CommandKind::Gemm,
        CommandKind::Math,
        CommandKind::IpcqSend,
        CommandKind::IpcqRecv,
    ];

    /// Its mnemonic in listings (`dma.read`, `gemm`, `ipcq.send`, ...).
    pub fn mnemonic(self) -> &'static str {
        match self {
            CommandKind::DmaRead => "dma.read",
            CommandKind::DmaWrite => "dma.write",
            CommandKind::Gemm => "gemm",
            CommandKind::Math => "math",
            CommandKind::IpcqSend => "ipcq.send",
            CommandKind::IpcqRecv => "ipcq.recv",
        }
    }
}

impl Command {
    /// The command's kind.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::DmaRead { .. } => CommandKind::DmaRead,
            Command::DmaWrite { .. } => CommandKind::DmaWrite,
            Command::Gemm(_) => CommandKind::Gemm,
            Command::Math(_) => CommandKind::Math,
            Command::IpcqSend { .. } => CommandKind::IpcqSend,
            Command::IpcqRecv { .. } => CommandKind::IpcqRecv,
        }
    }

    /// Buffers the command reads (its scoreboard dependencies).
    pub fn reads(&self) -> Vec<BufId> {
        match self {
            Command::DmaRead { .. } | Command::IpcqRecv { .. } => Vec::new(),
            Command::DmaWrite { src, .. } | Command::IpcqSend { src, .. } => vec![*src],
            Command::Gemm(g) => {
                let mut v = Vec::with_capacity(3);
                for op in [g.a.src, g.b.src] {
                    if let Operand::Buf(id) = op {
                        v.push(id);
                    }
                }
                v.extend(g.acc);
                v
            }
            Command::Math(m) => m
                .args
                .iter()
                .filter_map(|a| match a {
                    MathArg::Buf(id) => Some(*id),
                    MathArg::Scalar(_) => None,
                })
                .collect(),
        }
    }

    /// Buffers the command writes.
    pub fn writes(&self) -> Option<BufId> {
        match self {
            Command::DmaRead { dst, .. } | Command::IpcqRecv { dst, .. } => Some(*dst),
            Command::Gemm(g) => Some(g.out),
            Command::Math(m) => Some(m.out),
            Command::DmaWrite { .. } | Command::IpcqSend { .. } => None,
        }
    }
}
