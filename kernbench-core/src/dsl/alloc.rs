//! Liveness allocation of on-chip buffers over a traced stream.
//!
//! The tracer sees the whole stream, so a buffer only needs space from the
//! command that first touches it to the command that last does; after
//! that its bytes are reused. Placement is first-fit over the gaps between
//! live buffers, in stream order, which is deterministic.

use super::cmd::{Buffer, Command, Space};

/// Offsets are aligned so DMA bursts never straddle buffers.
pub const ALIGN: u64 = 64;

/// A buffer that did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow {
    pub index: usize,
    pub need: u64,
    pub live: u64,
}

fn align_up(x: u64) -> u64 {
    x.div_ceil(ALIGN).saturating_mul(ALIGN)
}

/// Assigns offsets to the buffers of `space`; returns the peak byte used.
pub(crate) fn assign(
    commands: &[Command],
    buffers: &mut [Buffer],
    space: Space,
    capacity: u64,
) -> Result<u64, Overflow> {
    let n = buffers.len();
    let mut first = vec![usize::MAX; n];
    let mut last = vec![0usize; n];
    for (i, cmd) in commands.iter().enumerate() {
        for id in cmd.reads().into_iter().chain(cmd.writes()) {
            let b = id.index();
            if b < n {
                first[b] = first[b].min(i);
                last[b] = last[b].max(i);
            }
        }
    }
    // Buffers in order of first use; ties in id order.
    let mut order: Vec<usize> = (0..n)
        .filter(|&b| buffers[b].space == space && first[b] != usize::MAX)
        .collect();
    order.sort_by_key(|&b| (first[b], b));

    // Live buffers as (offset, size, last use), kept sorted by offset.
    let mut live: Vec<(u64, u64, usize)> = Vec::new();
    let mut peak = 0u64;
    for b in order {
        let at = first[b];
        // A buffer last used by an earlier command is dead; one used by
        // this command is still read while the new one is written.
        live.retain(|&(_, _, l)| l >= at);
        let size = align_up(buffers[b].bytes().max(1));
        let mut offset = 0u64;
        for &(o, s, _) in &live {
            if offset.saturating_add(size) <= o {
                break;
            }
            offset = offset.max(align_up(o.saturating_add(s)));
        }
        if offset.saturating_add(size) > capacity {
            let used = live.iter().map(|&(_, s, _)| s).sum();
            return Err(Overflow {
                index: at,
                need: buffers[b].bytes(),
                live: used,
            });
        }
        buffers[b].offset = Some(offset);
        peak = peak.max(offset.saturating_add(size));
        let pos = live.partition_point(|&(o, _, _)| o < offset);
        live.insert(pos, (offset, size, last[b]));
    }
    Ok(peak)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::cmd::{BufId, MathArg, MathCmd, MathOp};
    use crate::dsl::DType;

    fn buf(id: u32, elems: usize) -> Buffer {
        Buffer {
            id: BufId(id),
            space: Space::Tcm,
            shape: [1, elems],
            dtype: DType::F32,
            offset: None,
        }
    }

    fn fill(out: u32) -> Command {
        Command::Math(MathCmd {
            op: MathOp::Fill(0.0),
            args: vec![],
            out: BufId(out),
        })
    }

    fn exp(src: u32, out: u32) -> Command {
        Command::Math(MathCmd {
            op: MathOp::Exp,
            args: vec![MathArg::Buf(BufId(src))],
            out: BufId(out),
        })
    }

    #[test]
    fn reuses_space_after_last_use() {
        // b0 -> b1 -> b2 chain: b0 dies after cmd 1, so b2 can take its place.
        let cmds = vec![fill(0), exp(0, 1), exp(1, 2)];
        let mut bufs = vec![buf(0, 256), buf(1, 256), buf(2, 256)];
        let peak = assign(&cmds, &mut bufs, Space::Tcm, 2048).unwrap();
        assert_eq!(bufs[0].offset, Some(0));
        assert_eq!(bufs[1].offset, Some(1024));
        assert_eq!(bufs[2].offset, Some(0));
        assert_eq!(peak, 2048);
    }

    #[test]
    fn overflow_reports_command() {
        let cmds = vec![fill(0), exp(0, 1)];
        let mut bufs = vec![buf(0, 256), buf(1, 256)];
        let e = assign(&cmds, &mut bufs, Space::Tcm, 1024 + 512).unwrap_err();
        assert_eq!(
            e,
            Overflow {
                index: 1,
                need: 1024,
                live: 1024
            }
        );
    }
}
