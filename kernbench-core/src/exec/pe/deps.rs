//! The scoreboard's static half: for every command of a stream, the earlier
//! commands it must wait for. Computed once over the traced stream.
//!
//! Hazards on TCM/SRAM buffers: read-after-write, write-after-read and
//! write-after-write on the same buffer, and reuse of space: the first write
//! of a buffer waits for every user of the buffers whose (liveness-
//! allocated) bytes it takes over. Hazards on tensors in memory: a read of a
//! block waits for earlier overlapping writes; a write waits for earlier
//! overlapping reads and writes.

use super::accesses::{Accesses, Rows};
use crate::dsl::{BlockRef, BufId, Command, CommandStream, Operand, Space};

/// Prerequisites of each command, flattened (CSR).
#[derive(Debug, Clone, Default)]
pub(crate) struct Deps {
    offsets: Vec<u32>,
    list: Vec<u32>,
}

impl Deps {
    pub fn of(&self, cmd: usize) -> &[u32] {
        &self.list[self.offsets[cmd] as usize..self.offsets[cmd + 1] as usize]
    }
}

#[derive(Default, Clone)]
struct BufState {
    last_writer: Option<u32>,
    readers: Vec<u32>,
    written: bool,
}

pub(crate) fn analyse(stream: &CommandStream) -> Deps {
    let mut bufs = vec![BufState::default(); stream.buffers.len()];
    // Which buffer last owned each byte range, per space.
    let mut owners: [Vec<(u64, u64, BufId)>; 2] = [Vec::new(), Vec::new()];
    let mut mem_reads = Accesses::default();
    let mut mem_writes = Accesses::default();
    let mut deps = Deps {
        offsets: Vec::with_capacity(stream.commands.len() + 1),
        list: Vec::new(),
    };
    deps.offsets.push(0);
    let mut mine: Vec<u32> = Vec::new();
    for (i, cmd) in stream.commands.iter().enumerate() {
        let c = i as u32;
        mine.clear();
        for b in cmd.reads() {
            let s = &mut bufs[b.index()];
            mine.extend(s.last_writer);
            s.readers.push(c);
        }
        let (mem_r, mem_w): (Vec<BlockRef>, Option<BlockRef>) = match cmd {
            Command::DmaRead { src, .. } => (vec![*src], None),
            Command::DmaWrite { dst, .. } => (Vec::new(), Some(*dst)),
            Command::Gemm(g) => (
                [g.a.src, g.b.src]
                    .into_iter()
                    .filter_map(|o| match o {
                        Operand::Hbm(b) => Some(b),
                        Operand::Buf(_) => None,
                    })
                    .collect(),
                None,
            ),
            _ => (Vec::new(), None),
        };
        for r in &mem_r {
            let r = Rows::of(r);
            mem_writes.overlapping(&r, &mut mine);
            mem_reads.insert(r, c);
        }
        if let Some(w) = mem_w {
            let w = Rows::of(&w);
            mem_writes.overlapping(&w, &mut mine);
            mem_reads.overlapping(&w, &mut mine);
            // This write now stands for what it covers (it waits for them).
            mem_writes.forget_covered(&w);
            mem_reads.forget_covered(&w);
            mem_writes.insert(w, c);
        }
        if let Some(b) = cmd.writes() {
            let buf = stream.buffers[b.index()];
            if !bufs[b.index()].written {
                bufs[b.index()].written = true;
                if let Some(off) = buf.offset {
                    let list = &mut owners[usize::from(buf.space != Space::Tcm)];
                    let (s, e) = (off, off + buf.bytes());
                    let mut kept = Vec::with_capacity(list.len() + 1);
                    for &(os, oe, ob) in list.iter() {
                        if os < e && s < oe && ob != b {
                            let prev = &bufs[ob.index()];
                            mine.extend(prev.last_writer);
                            mine.extend(prev.readers.iter().copied());
                            // Keep the parts of the old range outside the new one.
                            if os < s {
                                kept.push((os, s, ob));
                            }
                            if e < oe {
                                kept.push((e, oe, ob));
                            }
                        } else {
                            kept.push((os, oe, ob));
                        }
                    }
                    kept.push((s, e, b));
                    *list = kept;
                }
            }
            let s = &mut bufs[b.index()];
            mine.extend(s.last_writer);
            mine.extend(s.readers.iter().copied().filter(|&r| r != c));
            s.last_writer = Some(c);
            s.readers.clear();
        }
        mine.retain(|&d| d != c);
        mine.sort_unstable();
        mine.dedup();
        deps.list.extend_from_slice(&mine);
        deps.offsets.push(deps.list.len() as u32);
    }
    deps
}
