//! The scoreboard's static half: for every command of a stream, the earlier
//! commands it must wait for. Computed once over the traced stream.
//!
//! Hazards on TCM/SRAM buffers: read-after-write, write-after-read and
//! write-after-write on the same buffer, and reuse of space: the first write
//! of a buffer waits for every user of the buffers whose (liveness-
//! allocated) bytes it takes over. Hazards on tensors in memory: a read of a
//! block waits for earlier overlapping writes; a write waits for earlier
//! overlapping reads and writes.

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

/// The bytes a block's valid part covers: `count` rows of `len` bytes,
/// `pitch` bytes apart, the first at `first`.
#[derive(Clone, Copy)]
struct Rows {
    first: u64,
    len: u64,
    pitch: u64,
    count: u64,
}

impl Rows {
    fn of(b: &BlockRef) -> Rows {
        let size = b.tensor.dtype.size_bytes();
        Rows {
            first: b.tensor.elem_addr(b.origin[0], b.origin[1]),
            len: b.valid[1] as u64 * size,
            pitch: (b.tensor.row_stride as u64 * size).max(1),
            count: b.valid[0] as u64,
        }
    }

    fn end(&self) -> u64 {
        self.first + (self.count - 1) * self.pitch + self.len
    }

    /// Whether any of these rows meets `[s, e)`.
    fn meets(&self, s: u64, e: u64) -> bool {
        // Row j covers [first + j p, first + j p + len): it meets [s, e)
        // when first + j p < e and first + j p + len > s.
        let lo = match (s + 1).checked_sub(self.first + self.len) {
            Some(d) => d.div_ceil(self.pitch),
            None => 0,
        };
        let hi = match e.checked_sub(self.first) {
            Some(d) => d.div_ceil(self.pitch).min(self.count),
            None => 0,
        };
        lo < hi
    }
}

/// Whether two blocks share a byte, whatever views of memory they come
/// from (addresses encode the memory, so different memories never meet).
fn overlaps(a: &BlockRef, b: &BlockRef) -> bool {
    let (a, b) = (Rows::of(a), Rows::of(b));
    if a.count == 0 || b.count == 0 || a.len == 0 || b.len == 0 {
        return false;
    }
    if a.end() <= b.first || b.end() <= a.first {
        return false;
    }
    let (x, y) = if a.count <= b.count { (a, b) } else { (b, a) };
    (0..x.count).any(|i| {
        let s = x.first + i * x.pitch;
        y.meets(s, s + x.len)
    })
}

pub(crate) fn analyse(stream: &CommandStream) -> Deps {
    let mut bufs = vec![BufState::default(); stream.buffers.len()];
    // Which buffer last owned each byte range, per space.
    let mut owners: [Vec<(u64, u64, BufId)>; 2] = [Vec::new(), Vec::new()];
    let mut mem_reads: Vec<(BlockRef, u32)> = Vec::new();
    let mut mem_writes: Vec<(BlockRef, u32)> = Vec::new();
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
            mine.extend(
                mem_writes
                    .iter()
                    .filter(|(w, _)| overlaps(w, r))
                    .map(|(_, j)| *j),
            );
            mem_reads.push((*r, c));
        }
        if let Some(w) = mem_w {
            mine.extend(
                mem_writes
                    .iter()
                    .filter(|(x, _)| overlaps(x, &w))
                    .map(|(_, j)| *j),
            );
            mine.extend(
                mem_reads
                    .iter()
                    .filter(|(x, _)| overlaps(x, &w))
                    .map(|(_, j)| *j),
            );
            mem_writes.push((w, c));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{DType, TensorDesc};

    fn block(base: u64, stride: usize, origin: [usize; 2], valid: [usize; 2]) -> BlockRef {
        BlockRef {
            tensor: TensorDesc {
                base,
                rows: 64,
                cols: stride,
                row_stride: stride,
                dtype: DType::F16,
            },
            origin,
            shape: valid,
            valid,
        }
    }

    #[test]
    fn blocks_overlap_by_bytes_not_by_view() {
        // Columns 0..8 and 8..16 of the same rows: disjoint.
        assert!(!overlaps(
            &block(0, 32, [0, 0], [4, 8]),
            &block(0, 32, [0, 8], [4, 8])
        ));
        // Rows 0..4 and 4..8: disjoint; rows 0..4 and 3..5: overlap.
        assert!(!overlaps(
            &block(0, 32, [0, 0], [4, 32]),
            &block(0, 32, [4, 0], [4, 32])
        ));
        assert!(overlaps(
            &block(0, 32, [0, 0], [4, 32]),
            &block(0, 32, [3, 0], [2, 32])
        ));
        // A view two elements further on, with the same stride, overlaps.
        assert!(overlaps(
            &block(0, 32, [0, 0], [4, 8]),
            &block(4, 32, [0, 0], [4, 8])
        ));
        // A narrow column view (stride 32) against a dense row view:
        // element (1, 5) of the first is byte 2 * 37 = 74, inside the second.
        assert!(overlaps(
            &block(0, 32, [1, 5], [1, 1]),
            &block(64, 16, [0, 0], [1, 16])
        ));
        assert!(!overlaps(
            &block(0, 32, [1, 5], [1, 1]),
            &block(80, 16, [0, 0], [1, 16])
        ));
        // Different memories never meet.
        assert!(!overlaps(
            &block(0, 32, [0, 0], [4, 32]),
            &block(1 << 48, 32, [0, 0], [4, 32])
        ));
    }
}
