//! Numerics of each command, run when the command completes in simulated
//! time: values are read from memory at that moment, so there is no
//! replay and no stale snapshot. fp16 storage, f32 arithmetic.

use crate::dsl::{
    Axis, Buffer, Command, CommandStream, GemmCmd, GemmOperand, MathArg, MathCmd, MathOp, Operand,
    Space,
};
use crate::exec::memory::{DeviceMemory, Window};
use crate::fabric::addr::{PeLoc, PhysAddr, Space as AddrSpace};
use crate::fabric::topology::Topology;

use super::ExecError;

/// Where a program's buffers live.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BufferHome {
    pub pe: PeLoc,
    /// Base of this PE's window in its cube's SRAM.
    pub sram_base: u64,
}

impl BufferHome {
    pub fn addr(&self, b: &Buffer) -> PhysAddr {
        let off = b.offset.unwrap_or(0);
        let (space, offset) = match b.space {
            Space::Sram => (AddrSpace::Sram, self.sram_base + off),
            _ => (AddrSpace::Tcm { pe: self.pe.pe }, off),
        };
        PhysAddr {
            sip: self.pe.sip,
            cube: self.pe.cube,
            space,
            offset,
        }
    }

    pub fn window(&self, b: &Buffer) -> Window {
        Window {
            at: self.addr(b),
            rows: b.shape[0],
            cols: b.shape[1],
            row_stride: b.shape[1],
            dtype: b.dtype,
        }
    }
}

/// Executes the data effect of command `idx`.
pub(crate) fn execute(
    mem: &mut DeviceMemory,
    topo: &Topology,
    stream: &CommandStream,
    home: &BufferHome,
    idx: usize,
) -> Result<(), ExecError> {
    let buf = |id: crate::dsl::BufId| stream.buffers[id.index()];
    match &stream.commands[idx] {
        Command::DmaRead { src, dst, fill } => {
            let data = mem.read_block(src, topo, *fill as f32)?;
            mem.write(&home.window(&buf(*dst)), &data)?;
        }
        Command::DmaWrite { src, dst } => {
            let data = mem.read(&home.window(&buf(*src)));
            mem.write_block(dst, &data, topo)?;
        }
        Command::Gemm(g) => gemm(mem, topo, stream, home, g)?,
        Command::Math(m) => math(mem, stream, home, m)?,
        // IPCQ moves data between programs; the executor copies it.
        Command::IpcqSend { .. } | Command::IpcqRecv { .. } => {}
    }
    Ok(())
}

/// An operand as a row-major matrix after its transpose flag: (data, rows, cols).
fn operand(
    mem: &DeviceMemory,
    topo: &Topology,
    stream: &CommandStream,
    home: &BufferHome,
    op: &GemmOperand,
) -> Result<(Vec<f32>, usize, usize), ExecError> {
    let (data, rows, cols) = match op.src {
        Operand::Buf(id) => {
            let b = stream.buffers[id.index()];
            (mem.read(&home.window(&b)), b.shape[0], b.shape[1])
        }
        Operand::Hbm(block) => (
            // A streamed operand's masked part is zero: it adds nothing.
            mem.read_block(&block, topo, 0.0)?,
            block.shape[0],
            block.shape[1],
        ),
    };
    if !op.trans {
        return Ok((data, rows, cols));
    }
    let mut t = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = data[r * cols + c];
        }
    }
    Ok((t, cols, rows))
}

fn gemm(
    mem: &mut DeviceMemory,
    topo: &Topology,
    stream: &CommandStream,
    home: &BufferHome,
    g: &GemmCmd,
) -> Result<(), ExecError> {
    let (a, _, k) = operand(mem, topo, stream, home, &g.a)?;
    let (b, _, n) = operand(mem, topo, stream, home, &g.b)?;
    let (m, kk, nn) = (g.m, g.k.min(k), g.n.min(n));
    let mut out = match g.acc {
        Some(acc) => mem.read(&home.window(&stream.buffers[acc.index()])),
        None => vec![0.0; g.m * g.n],
    };
    for i in 0..m {
        for p in 0..kk {
            let x = a[i * k + p];
            let row = &b[p * n..p * n + nn];
            let o = &mut out[i * g.n..i * g.n + nn];
            for (oj, bj) in o.iter_mut().zip(row) {
                *oj += x * bj;
            }
        }
    }
    mem.write(&home.window(&stream.buffers[g.out.index()]), &out)?;
    Ok(())
}

fn math(
    mem: &mut DeviceMemory,
    stream: &CommandStream,
    home: &BufferHome,
    m: &MathCmd,
) -> Result<(), ExecError> {
    let out_buf = stream.buffers[m.out.index()];
    let [rows, cols] = out_buf.shape;
    let args: Vec<(Vec<f32>, [usize; 2])> = m
        .args
        .iter()
        .map(|a| match a {
            MathArg::Buf(id) => {
                let b = stream.buffers[id.index()];
                (mem.read(&home.window(&b)), b.shape)
            }
            MathArg::Scalar(v) => (vec![*v as f32], [1, 1]),
        })
        .collect();
    // Broadcasting: a dimension of 1 repeats.
    let at = |i: usize, r: usize, c: usize| -> f32 {
        let (d, [ar, ac]) = &args[i];
        d[(if *ar == 1 { 0 } else { r }) * ac + if *ac == 1 { 0 } else { c }]
    };
    let truth = |x: f32| x != 0.0;
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let mut out = vec![0.0f32; rows * cols];
    let mut each = |f: &dyn Fn(usize, usize) -> f32| {
        for r in 0..rows {
            for c in 0..cols {
                out[r * cols + c] = f(r, c);
            }
        }
    };
    match m.op {
        MathOp::Fill(v) => each(&|_, _| v as f32),
        MathOp::Arange { axis, start } => each(&|r, c| match axis {
            Axis::Rows => (start + r as f64) as f32,
            Axis::Cols => (start + c as f64) as f32,
        }),
        MathOp::Add => each(&|r, c| at(0, r, c) + at(1, r, c)),
        MathOp::Sub => each(&|r, c| at(0, r, c) - at(1, r, c)),
        MathOp::Mul => each(&|r, c| at(0, r, c) * at(1, r, c)),
        MathOp::Div => each(&|r, c| at(0, r, c) / at(1, r, c)),
        MathOp::Max => each(&|r, c| at(0, r, c).max(at(1, r, c))),
        MathOp::Min => each(&|r, c| at(0, r, c).min(at(1, r, c))),
        MathOp::Cmp(op) => each(&|r, c| flag(op.eval(at(0, r, c), at(1, r, c)))),
        MathOp::And => each(&|r, c| flag(truth(at(0, r, c)) && truth(at(1, r, c)))),
        MathOp::Or => each(&|r, c| flag(truth(at(0, r, c)) || truth(at(1, r, c)))),
        MathOp::Not => each(&|r, c| flag(!truth(at(0, r, c)))),
        MathOp::Select => each(&|r, c| {
            if truth(at(0, r, c)) {
                at(1, r, c)
            } else {
                at(2, r, c)
            }
        }),
        MathOp::Neg => each(&|r, c| -at(0, r, c)),
        MathOp::Abs => each(&|r, c| at(0, r, c).abs()),
        MathOp::Exp => each(&|r, c| at(0, r, c).exp()),
        MathOp::Log => each(&|r, c| at(0, r, c).ln()),
        MathOp::Sqrt => each(&|r, c| at(0, r, c).sqrt()),
        MathOp::Rsqrt => each(&|r, c| 1.0 / at(0, r, c).sqrt()),
        // The store rounds to the output's dtype.
        MathOp::Cast => each(&|r, c| at(0, r, c)),
        MathOp::RowMax | MathOp::RowMin | MathOp::RowSum => {
            let (d, [ir, ic]) = &args[0];
            for r in 0..(*ir).min(rows) {
                out[r * cols] = reduce(m.op, d[r * ic..(r + 1) * ic].iter().copied());
            }
        }
        MathOp::ColMax | MathOp::ColMin | MathOp::ColSum => {
            let (d, [ir, ic]) = &args[0];
            for c in 0..(*ic).min(cols) {
                out[c] = reduce(m.op, (0..*ir).map(|r| d[r * ic + c]));
            }
        }
        MathOp::Sum => out[0] = args[0].0.iter().sum(),
    }
    mem.write(&home.window(&out_buf), &out)?;
    Ok(())
}

/// A reduction's fold: max, min or sum.
fn reduce(op: MathOp, xs: impl Iterator<Item = f32>) -> f32 {
    match op {
        MathOp::RowMax | MathOp::ColMax => xs.fold(f32::NEG_INFINITY, f32::max),
        MathOp::RowMin | MathOp::ColMin => xs.fold(f32::INFINITY, f32::min),
        _ => xs.sum(),
    }
}
