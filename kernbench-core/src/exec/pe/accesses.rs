//! The tensor blocks a stream has read or written so far, indexed by
//! address so that finding the earlier accesses a new one overlaps costs
//! the accesses near it, not every access of the stream (a stream of
//! millions of small DMAs would otherwise take hours to analyse).
//!
//! Accesses are kept per size class: class `k` holds blocks whose bytes
//! span less than `2^k`, keyed by their first byte, so the blocks of class
//! `k` that can meet `[s, e)` start in `(s - 2^k, e)`.

use std::collections::BTreeMap;

use crate::dsl::BlockRef;

/// The bytes a block's valid part covers: `count` rows of `len` bytes,
/// `pitch` bytes apart, the first at `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rows {
    first: u64,
    len: u64,
    pitch: u64,
    count: u64,
}

impl Rows {
    pub fn of(b: &BlockRef) -> Rows {
        let size = b.tensor.dtype.size_bytes();
        Rows {
            first: b.tensor.elem_addr(b.origin[0], b.origin[1]),
            len: b.valid[1] as u64 * size,
            pitch: (b.tensor.row_stride as u64 * size).max(1),
            count: b.valid[0] as u64,
        }
    }

    fn is_empty(&self) -> bool {
        self.count == 0 || self.len == 0
    }

    /// One past the last byte (not empty).
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

    /// Whether these rows and `other` share a byte.
    pub fn overlaps(&self, other: &Rows) -> bool {
        let (a, b) = (self, other);
        if a.is_empty() || b.is_empty() || a.end() <= b.first || b.end() <= a.first {
            return false;
        }
        let (x, y) = if a.count <= b.count { (a, b) } else { (b, a) };
        (0..x.count).any(|i| {
            let s = x.first + i * x.pitch;
            y.meets(s, s + x.len)
        })
    }

    /// Whether every byte of `x` is one of these rows' (conservative: a
    /// cover it cannot prove cheaply counts as none).
    fn covers(&self, x: &Rows) -> bool {
        if x.is_empty() {
            return true;
        }
        if self.is_empty() || x.first < self.first || x.end() > self.end() {
            return false;
        }
        // A contiguous range covers whatever lies inside it.
        if self.count == 1 || self.len >= self.pitch {
            return true;
        }
        // Otherwise x's rows must sit inside this block's rows.
        let d = x.first - self.first;
        (x.count == 1 || x.pitch == self.pitch) && d % self.pitch + x.len <= self.len
    }

    /// Size class: blocks spanning fewer than `2^k` bytes are class `k`.
    fn class(&self) -> usize {
        (u64::BITS - (self.end() - self.first).leading_zeros()) as usize
    }
}

/// Earlier accesses of a stream, each with the command that made it.
#[derive(Default)]
pub(super) struct Accesses {
    classes: Vec<BTreeMap<(u64, u64), (Rows, u32)>>,
    /// Bit `k` set when class `k` may hold accesses: a query visits only
    /// those (most streams use two or three classes).
    used: u128,
    seq: u64,
}

impl Accesses {
    /// Records that command `c` accesses `r`.
    pub fn insert(&mut self, r: Rows, c: u32) {
        if r.is_empty() {
            return;
        }
        let k = r.class();
        if self.classes.len() <= k {
            self.classes.resize_with(k + 1, BTreeMap::new);
        }
        self.classes[k].insert((r.first, self.seq), (r, c));
        self.used |= 1 << k;
        self.seq += 1;
    }

    /// Pushes the command of every access that overlaps `r` onto `out`.
    pub fn overlapping(&self, r: &Rows, out: &mut Vec<u32>) {
        self.visit(r, |_, _, x, c| {
            if x.overlaps(r) {
                out.push(c);
            }
        });
    }

    /// Forgets every access `w` covers: once a write of `w` waits for
    /// them, whatever overlaps them overlaps `w` and waits for it instead.
    pub fn forget_covered(&mut self, w: &Rows) {
        let mut gone = Vec::new();
        self.visit(w, |k, key, x, _| {
            if w.covers(x) {
                gone.push((k, key));
            }
        });
        for (k, key) in gone {
            self.classes[k].remove(&key);
        }
    }

    /// Calls `f(class, key, rows, command)` for each access whose span
    /// could meet `r`'s.
    fn visit(&self, r: &Rows, mut f: impl FnMut(usize, (u64, u64), &Rows, u32)) {
        if r.is_empty() {
            return;
        }
        let (s, e) = (r.first, r.end());
        let mut used = self.used;
        while used != 0 {
            let k = used.trailing_zeros() as usize;
            used &= used - 1;
            let from = s.saturating_sub(1u64.checked_shl(k as u32).unwrap_or(u64::MAX));
            for (&key, (x, c)) in self.classes[k].range((from, 0)..(e, 0)) {
                f(k, key, x, *c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{DType, TensorDesc};

    fn overlaps(a: &BlockRef, b: &BlockRef) -> bool {
        Rows::of(a).overlaps(&Rows::of(b))
    }

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

    /// Deterministic pseudo-random blocks over a small tensor, so that
    /// views of every shape meet.
    fn blocks(n: usize) -> Vec<BlockRef> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m) as usize
        };
        (0..n)
            .map(|_| {
                let stride = [8, 16, 32][next(3)];
                let (r, c) = (next(8), next(stride as u64));
                let valid = [1 + next(6), 1 + next((stride - c) as u64)];
                block(2 * next(64) as u64, stride, [r, c], valid)
            })
            .collect()
    }

    #[test]
    fn the_index_finds_exactly_the_overlapping_accesses() {
        let all = blocks(400);
        let mut idx = Accesses::default();
        for (i, b) in all.iter().enumerate() {
            let mut got = Vec::new();
            idx.overlapping(&Rows::of(b), &mut got);
            got.sort_unstable();
            let want: Vec<u32> = (0..i)
                .filter(|&j| overlaps(&all[j], b))
                .map(|j| j as u32)
                .collect();
            assert_eq!(got, want, "block {i}");
            idx.insert(Rows::of(b), i as u32);
        }
    }

    #[test]
    fn a_cover_holds_every_byte_it_claims() {
        let all = blocks(300);
        let bytes = |b: &BlockRef| {
            let r = Rows::of(b);
            (0..r.count)
                .flat_map(move |i| (0..r.len).map(move |j| r.first + i * r.pitch + j))
                .collect::<std::collections::BTreeSet<u64>>()
        };
        let mut covered = 0;
        for a in &all {
            for b in &all {
                if Rows::of(a).covers(&Rows::of(b)) {
                    covered += 1;
                    assert!(bytes(b).is_subset(&bytes(a)));
                }
            }
        }
        // Not vacuous: identical blocks at least, and more.
        assert!(covered > all.len(), "{covered}");
    }

    #[test]
    fn forgetting_covered_accesses_keeps_the_rest() {
        let mut idx = Accesses::default();
        let inner = block(0, 32, [1, 2], [2, 4]);
        let outer = block(0, 32, [0, 0], [4, 16]);
        let beside = block(0, 32, [0, 16], [4, 4]);
        idx.insert(Rows::of(&inner), 0);
        idx.insert(Rows::of(&beside), 1);
        idx.forget_covered(&Rows::of(&outer));
        let mut got = Vec::new();
        idx.overlapping(&Rows::of(&block(0, 32, [0, 0], [4, 32])), &mut got);
        assert_eq!(got, vec![1]);
    }
}
