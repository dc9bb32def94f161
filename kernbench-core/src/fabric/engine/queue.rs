//! A monotone priority queue of events: a radix heap keyed by time.
//!
//! Simulated time never goes backwards, so every key pushed is at least the
//! last key popped. A radix heap exploits that: an item sits in the bucket of
//! the highest bit in which its time differs from the last popped time, and
//! only moves down, so push is O(1) and pop amortized O(log range) with no
//! comparisons between unrelated items. Ties are broken by a sequence number
//! assigned at push, so equal-time events pop in the order they were
//! scheduled: same input, same event order.
//!
//! Bucket vectors keep their capacity, so a steady-state simulation does not
//! allocate per event.

use std::collections::VecDeque;

use crate::fabric::units::Ps;

struct Entry<T> {
    time: Ps,
    seq: u64,
    item: T,
}

/// Events ordered by (time, insertion sequence).
pub struct EventQueue<T> {
    /// Items whose time equals `last`, in sequence order.
    now: VecDeque<Entry<T>>,
    /// `buckets[i]` holds items whose time differs from `last` first in bit `i`.
    buckets: Vec<Vec<Entry<T>>>,
    /// Bit `i` set when `buckets[i]` is non-empty.
    occupied: u64,
    /// `mins[i]`: the earliest time in `buckets[i]` (the lowest non-empty
    /// bucket holds the earliest pending event), so the earliest time is
    /// known without moving the clock to it.
    mins: [Ps; 64],
    last: Ps,
    seq: u64,
    len: usize,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        EventQueue {
            now: VecDeque::new(),
            buckets: (0..64).map(|_| Vec::new()).collect(),
            occupied: 0,
            mins: [Ps::MAX; 64],
            last: 0,
            seq: 0,
            len: 0,
        }
    }

    /// Pending events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Time of the last popped event (a simulation that also takes events
    /// from elsewhere, as flow mode's due changes, keeps its own clock).
    pub fn now(&self) -> Ps {
        self.last
    }

    /// Schedules `item` at `time`. A time before [`Self::now`] is clamped to
    /// now: the engine never schedules into the past, and clamping keeps the
    /// heap's invariant if a model ever rounds below it.
    pub fn push(&mut self, time: Ps, item: T) {
        let time = time.max(self.last);
        let e = Entry {
            time,
            seq: self.seq,
            item,
        };
        self.seq += 1;
        self.len += 1;
        self.place(e);
    }

    #[inline]
    fn place(&mut self, e: Entry<T>) {
        let diff = e.time ^ self.last;
        if diff == 0 {
            self.now.push_back(e);
        } else {
            let b = 63 - diff.leading_zeros() as usize;
            self.mins[b] = self.mins[b].min(e.time);
            self.buckets[b].push(e);
            self.occupied |= 1 << b;
        }
    }

    /// Drops every pending event; time stays where it is.
    pub fn clear(&mut self) {
        self.now.clear();
        for b in &mut self.buckets {
            b.clear();
        }
        self.occupied = 0;
        self.mins = [Ps::MAX; 64];
        self.len = 0;
    }

    /// Takes the next sequence number for an item kept outside the queue
    /// (flow mode's due changes), which then orders among equal-time
    /// events as if it had been pushed now.
    pub fn stamp(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    /// Whether every pending event comes after an item at `time` with
    /// sequence number `seq` (from [`Self::stamp`]). Time moves only if an
    /// event is pending at `time` itself.
    pub fn comes_after(&mut self, time: Ps, seq: u64) -> bool {
        let first = if !self.now.is_empty() {
            self.last
        } else if self.occupied != 0 {
            self.mins[self.occupied.trailing_zeros() as usize]
        } else {
            return true;
        };
        if first != time {
            return first > time;
        }
        // Equal times: sequence numbers decide, once those events are due.
        if self.now.is_empty() {
            self.advance();
        }
        self.now.front().is_none_or(|e| e.seq > seq)
    }

    /// Removes and returns the earliest event and its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(Ps, T)> {
        // The common case, an event already due now, stays inline in the
        // engine's loop; refilling from a bucket is the rare slow path.
        if self.now.is_empty() && !self.advance() {
            return None;
        }
        let e = self.now.pop_front()?;
        self.len -= 1;
        Some((e.time, e.item))
    }

    /// Moves time to the earliest pending event: empties the lowest
    /// non-empty bucket into place (its earliest items into `now`). False
    /// when nothing is pending.
    #[inline(never)]
    fn advance(&mut self) -> bool {
        if self.occupied == 0 {
            return false;
        }
        let b = self.occupied.trailing_zeros() as usize;
        let mut bucket = std::mem::take(&mut self.buckets[b]);
        self.occupied &= !(1 << b);
        self.last = std::mem::replace(&mut self.mins[b], Ps::MAX);
        for e in bucket.drain(..) {
            self.place(e);
        }
        // Keep the emptied vector's capacity for the next fill.
        self.buckets[b] = bucket;
        // Items redistributed into `now` arrive in bucket order; restore
        // scheduling order among the equal-time events.
        self.now.make_contiguous().sort_unstable_by_key(|e| e.seq);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_sequence_order() {
        let mut q = EventQueue::new();
        let times = [5u64, 3, 9, 3, 1_000_000, 3, 7, 0, 9];
        for (i, &t) in times.iter().enumerate() {
            q.push(t, i);
        }
        let mut expect: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
        expect.sort();
        let mut got = Vec::new();
        while let Some(x) = q.pop() {
            got.push(x);
        }
        assert_eq!(got, expect);
    }

    #[test]
    fn an_outside_item_orders_by_time_then_its_stamp() {
        let mut q = EventQueue::new();
        let before = q.stamp();
        q.push(10, 'a');
        let after = q.stamp();
        q.push(20, 'b');
        assert!(q.comes_after(9, after));
        assert!(!q.comes_after(11, before));
        assert_eq!(q.now(), 0, "asking about other times moves no clock");
        assert!(q.comes_after(10, before), "stamped before 'a': first");
        assert!(!q.comes_after(10, after), "stamped after 'a': second");
        assert_eq!(q.pop(), Some((10, 'a')));
        assert!(q.comes_after(20, after), "stamped before 'b' was pushed");
        let last = q.stamp();
        assert!(!q.comes_after(20, last));
        assert_eq!(q.pop(), Some((20, 'b')));
        assert!(q.comes_after(0, last), "nothing is pending");
    }

    #[test]
    fn matches_a_sorted_reference_under_interleaved_pushes() {
        // A deterministic pseudo-random hold model: pop one, push two.
        let mut q = EventQueue::new();
        let mut reference = std::collections::BTreeSet::new();
        let mut seq = 0u64;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rand = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        q.push(0, 0u64);
        reference.insert((0u64, 0u64));
        for _ in 0..5000 {
            let (t, s) = q.pop().unwrap();
            assert_eq!(Some((t, s)), reference.pop_first());
            for _ in 0..2 {
                if reference.len() < 300 {
                    seq += 1;
                    let dt = rand() % 4 * (rand() % 1000);
                    q.push(t + dt, seq);
                    reference.insert((t + dt, seq));
                }
            }
        }
        assert_eq!(q.len(), reference.len());
    }
}
