//! Flow mode's pending changes: one due time per flow, moved in place.
//!
//! A flow's next change moves whenever its component's rates change,
//! often several times before it comes due. Pushed into the event queue
//! each time, the superseded entries would linger there as stale events
//! (four in five of the flow events of the 512³ GEMM), each pushed,
//! carried down the radix heap's buckets and popped for nothing. Here each
//! flow holds one entry, moved in place, in one small indexed binary heap
//! beside the queue (as many entries as flows in flight, not bursts).
//! An entry's tie order is a sequence number taken from the event queue
//! when it is set, so the two pop exactly as one queue would have popped
//! the live events.

use crate::fabric::units::Ps;

/// No place in the heap.
const ABSENT: u32 = u32::MAX;

/// One due change: when, its place among equal times, and the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: Ps,
    seq: u64,
    key: u32,
}

/// At most one due time per key (a flow's transfer slot), earliest first.
#[derive(Debug, Default)]
pub(super) struct DueSet {
    heap: Vec<Due>,
    /// Per key, its place in `heap`, or [`ABSENT`].
    pos: Vec<u32>,
}

impl DueSet {
    /// Key `key` is due at `at`, ordered by `seq` among equal times; any
    /// earlier due time of it is dropped.
    pub fn set(&mut self, key: u32, at: Ps, seq: u64) {
        let k = key as usize;
        if k >= self.pos.len() {
            self.pos.resize(k + 1, ABSENT);
        }
        let due = Due { at, seq, key };
        match self.pos[k] {
            ABSENT => {
                self.heap.push(due);
                self.up(self.heap.len() - 1);
            }
            i => {
                let i = i as usize;
                let old = std::mem::replace(&mut self.heap[i], due);
                if due < old {
                    self.up(i);
                } else {
                    self.down(i);
                }
            }
        }
    }

    /// Key `key` is no longer due (nothing if it was not).
    pub fn remove(&mut self, key: u32) {
        let Some(&i) = self.pos.get(key as usize) else {
            return;
        };
        if i != ABSENT {
            self.take(i as usize);
        }
    }

    /// The earliest due time, its sequence number and its key.
    pub fn peek(&self) -> Option<(Ps, u64, u32)> {
        self.heap.first().map(|d| (d.at, d.seq, d.key))
    }

    /// When key `key` is due, if it is.
    #[cfg(test)]
    pub fn at(&self, key: u32) -> Option<Ps> {
        match *self.pos.get(key as usize)? {
            ABSENT => None,
            i => Some(self.heap[i as usize].at),
        }
    }

    /// Removes the earliest; its time and key.
    pub fn pop(&mut self) -> Option<(Ps, u32)> {
        let d = *self.heap.first()?;
        self.take(0);
        Some((d.at, d.key))
    }

    /// Drops every due time.
    pub fn clear(&mut self) {
        for d in self.heap.drain(..) {
            self.pos[d.key as usize] = ABSENT;
        }
    }

    /// Removes the entry at `i`, the last one filling its place.
    fn take(&mut self, i: usize) {
        let gone = self.heap.swap_remove(i);
        self.pos[gone.key as usize] = ABSENT;
        if i < self.heap.len() {
            self.pos[self.heap[i].key as usize] = i as u32;
            if self.heap[i] < gone {
                self.up(i);
            } else {
                self.down(i);
            }
        }
    }

    fn up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[parent] <= self.heap[i] {
                break;
            }
            self.heap.swap(parent, i);
            self.pos[self.heap[i].key as usize] = i as u32;
            i = parent;
        }
        self.pos[self.heap[i].key as usize] = i as u32;
    }

    fn down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            if l < n && self.heap[l] < self.heap[least] {
                least = l;
            }
            if r < n && self.heap[r] < self.heap[least] {
                least = r;
            }
            if least == i {
                break;
            }
            self.heap.swap(least, i);
            self.pos[self.heap[i].key as usize] = i as u32;
            i = least;
        }
        self.pos[self.heap[i].key as usize] = i as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Random sets, moves, removals and pops against a sorted reference.
    #[test]
    fn pops_as_a_sorted_map_of_the_latest_times() {
        let mut due = DueSet::default();
        // key -> (at, seq), and the same ordered.
        let mut latest: BTreeMap<u32, (Ps, u64)> = BTreeMap::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for seq in 0..20_000u64 {
            let key = (rand() % 40) as u32;
            match rand() % 4 {
                0 | 1 => {
                    let at = rand() % 64;
                    due.set(key, at, seq);
                    latest.insert(key, (at, seq));
                }
                2 => {
                    due.remove(key);
                    latest.remove(&key);
                }
                _ => {
                    let want = latest.iter().map(|(&k, &(at, s))| (at, s, k)).min();
                    assert_eq!(due.peek(), want);
                    assert_eq!(due.pop(), want.map(|(at, _, k)| (at, k)));
                    if let Some((_, _, k)) = want {
                        latest.remove(&k);
                    }
                }
            }
        }
        due.clear();
        assert_eq!(due.peek(), None);
        due.set(3, 5, 0);
        assert_eq!(due.pop(), Some((5, 3)));
    }
}
