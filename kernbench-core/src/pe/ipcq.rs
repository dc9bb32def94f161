//! Inter-PE queues: one bounded FIFO per ordered pair of ranks. A send
//! takes a slot (or waits for one: back-pressure), its data lands in the
//! receiver's buffer, and a receive frees the slot once it has copied the
//! message out. Messages of a pair are received in the order they were sent.

use std::collections::VecDeque;

use crate::pe::PeLoc;
use crate::ring::BufferKind;

/// A PE slot and one of its commands.
pub(crate) type Waiter = (usize, u32);

#[derive(Debug, Default)]
pub(crate) struct Pair {
    /// Slots taken: sent or in flight, not yet received.
    pub in_use: u32,
    /// Arrived messages (their data when data execution is on), in order.
    pub arrived: VecDeque<Vec<f32>>,
    /// A send waiting for a free slot.
    pub blocked_sender: Option<Waiter>,
    /// A receive waiting for a message.
    pub blocked_receiver: Option<Waiter>,
}

/// The queues of an installed ring.
#[derive(Debug)]
pub(crate) struct Ipcq {
    pub ranks: Vec<PeLoc>,
    pub buffer: BufferKind,
    pub depth: u32,
    pairs: Vec<Pair>,
}

impl Ipcq {
    pub fn new(ranks: Vec<PeLoc>, buffer: BufferKind, depth: u32) -> Self {
        let n = ranks.len();
        Ipcq {
            ranks,
            buffer,
            depth,
            pairs: (0..n * n).map(|_| Pair::default()).collect(),
        }
    }

    pub fn pair(&mut self, src: usize, dst: usize) -> &mut Pair {
        let n = self.ranks.len();
        &mut self.pairs[src * n + dst]
    }

    /// What `slot` (rank `rank`) is blocked on, if anything, for deadlock
    /// reports: `(peer, waiting_for_message)`.
    pub fn blocked(&self, slot: usize) -> Option<(usize, bool)> {
        let n = self.ranks.len();
        self.pairs.iter().enumerate().find_map(|(i, p)| {
            if p.blocked_receiver.is_some_and(|(s, _)| s == slot) {
                Some((i / n, true))
            } else if p.blocked_sender.is_some_and(|(s, _)| s == slot) {
                Some((i % n, false))
            } else {
                None
            }
        })
    }
}
