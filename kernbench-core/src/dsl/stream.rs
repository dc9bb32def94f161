//! A traced program: its commands, its buffer table and their text form.

use std::fmt;
use std::panic::Location;

use super::cmd::{BufId, Buffer, Command, CommandKind, GemmOperand, MathArg, MathOp, Operand};
use super::counts::CommandCounts;
use super::program::ProgramInfo;

/// The command stream of one program instance, with TCM/SRAM offsets
/// assigned by liveness.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandStream {
    /// Kernel name.
    pub kernel: String,
    /// The program instance traced.
    pub program: ProgramInfo,
    /// Commands in issue order.
    pub commands: Vec<Command>,
    /// Buffer table, indexed by [`BufId::index`].
    pub buffers: Vec<Buffer>,
    /// Per command, the kernel source line of the `tl::` call that
    /// recorded it (for error messages).
    pub sources: Vec<&'static Location<'static>>,
    /// Highest TCM scratch byte used.
    pub tcm_peak: u64,
    /// Highest byte used in the program's SRAM window.
    pub sram_peak: u64,
}

impl CommandStream {
    /// The buffer `id` names.
    ///
    /// Ids in a traced stream always index its table; an id from another
    /// stream may not, hence the `Option`.
    pub fn buffer(&self, id: BufId) -> Option<&Buffer> {
        self.buffers.get(id.index())
    }

    /// Commands by kind.
    pub fn counts(&self) -> CommandCounts {
        let mut c = CommandCounts::default();
        for cmd in &self.commands {
            c.add(cmd.kind());
        }
        c
    }

    /// One command as a listing line (without its index).
    pub fn command_text(&self, index: usize) -> String {
        match self.commands.get(index) {
            Some(cmd) => command_text(&self.buffers, cmd),
            None => format!("<no command #{index}>"),
        }
    }
}

struct Buf<'a>(&'a [Buffer], BufId);

impl fmt::Display for Buf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get(self.1.index()) {
            Some(b) => {
                write!(f, "{}:{}", b.id, b.space)?;
                if let Some(off) = b.offset {
                    write!(f, "@0x{off:x}")?;
                }
                write!(f, "[{}x{} {}]", b.shape[0], b.shape[1], b.dtype)
            }
            None => write!(f, "{}:?", self.1),
        }
    }
}

fn operand_text(buffers: &[Buffer], op: &GemmOperand) -> String {
    let t = if op.trans { "^T" } else { "" };
    match op.src {
        Operand::Buf(id) => format!("{}{t}", Buf(buffers, id)),
        Operand::Hbm(b) => format!("{b}{t}"),
    }
}

/// Text form of one command, buffers resolved through `buffers`.
pub(crate) fn command_text(buffers: &[Buffer], cmd: &Command) -> String {
    match cmd {
        Command::DmaRead { src, dst, fill } => {
            let other = if src.is_masked() && *fill != 0.0 {
                format!(" other {}", *fill as f32)
            } else {
                String::new()
            };
            format!("{:<12}{} <- {src}{other}", "dma.read", Buf(buffers, *dst))
        }
        Command::DmaWrite { src, dst } => {
            format!("{:<12}{dst} <- {}", "dma.write", Buf(buffers, *src))
        }
        Command::Gemm(g) => {
            let acc = match g.acc {
                Some(id) if id == g.out => " +=".to_string(),
                Some(id) => format!(" <- {} +", Buf(buffers, id)),
                None => " <-".to_string(),
            };
            let valid = if g.valid == [g.m, g.k, g.n] {
                String::new()
            } else {
                let [m, k, n] = g.valid;
                format!(" (valid {m}x{k}x{n})")
            };
            format!(
                "{:<12}{}{acc} {} @ {}  m={} k={} n={} {}->{}{valid}",
                "gemm",
                Buf(buffers, g.out),
                operand_text(buffers, &g.a),
                operand_text(buffers, &g.b),
                g.m,
                g.k,
                g.n,
                g.in_dtype,
                g.out_dtype
            )
        }
        Command::Math(m) => {
            // Pad to the listing's column, but never run into the operand.
            let op = format!("math.{} ", m.op.mnemonic());
            let mut s = format!("{op:<12}{} <-", Buf(buffers, m.out));
            match m.op {
                MathOp::Fill(v) => s.push_str(&format!(" {v}")),
                MathOp::Arange { start, .. } => s.push_str(&format!(" {start}..")),
                _ => {}
            }
            for a in &m.args {
                match a {
                    MathArg::Buf(id) => s.push_str(&format!(" {}", Buf(buffers, *id))),
                    MathArg::Scalar(v) => s.push_str(&format!(" {v}")),
                }
            }
            s
        }
        Command::IpcqSend { peer, src } => {
            format!("{:<12}rank {peer} <- {}", "ipcq.send", Buf(buffers, *src))
        }
        Command::IpcqRecv { peer, dst } => {
            format!("{:<12}{} <- rank {peer}", "ipcq.recv", Buf(buffers, *dst))
        }
    }
}

impl fmt::Display for CommandStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.counts();
        writeln!(f, "; kernel `{}`, {}", self.kernel, self.program)?;
        write!(f, "; {} commands:", self.commands.len())?;
        for (i, kind) in CommandKind::ALL.into_iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep} {} {}", c.get(kind), kind.mnemonic())?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "; {} buffers, tcm peak {} B, sram peak {} B",
            self.buffers.len(),
            self.tcm_peak,
            self.sram_peak
        )?;
        let width = self.commands.len().saturating_sub(1).to_string().len();
        for (i, cmd) in self.commands.iter().enumerate() {
            writeln!(f, "{i:>width$}  {}", command_text(&self.buffers, cmd))?;
        }
        Ok(())
    }
}
