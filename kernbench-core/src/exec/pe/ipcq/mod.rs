//! Inter-PE queues: one bounded FIFO per ordered pair of ranks. A send
//! takes a slot — a credit; `ipcq.depth` per pair — or waits for one
//! (back-pressure); it is posted: the sender goes on once the tile is
//! injected, and up to `depth` messages of a pair are in flight at once.
//! The data lands in the receiver's buffer, and a receive frees the slot
//! (returns the credit) once it has copied the message out. Messages of a
//! pair are received in the order they were sent.
//!
//! This file holds the queues' state and where messages land
//! ([`BufferKind`]); `admit.rs` decides whether a send or receive may go
//! now, `flow.rs` moves the messages.

mod admit;
mod flow;

use std::collections::VecDeque;

use crate::dsl::DType;
use crate::fabric::addr::{PeLoc, PhysAddr, Space};
use crate::fabric::topology::Topology;
use crate::support::Named;

/// Where a rank's IPCQ receive buffer lives (a launch option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BufferKind {
    /// In the receiving PE's TCM: a receive costs only the queue overhead.
    #[default]
    Tcm,
    /// In the receiving PE's cube SRAM: a receive copies it into TCM.
    Sram,
    /// In the receiving PE's cube HBM: a receive copies it into TCM.
    Hbm,
}

impl BufferKind {
    /// Lower-case name (`tcm`, `sram`, `hbm`), as bench options spell it.
    pub fn name(self) -> &'static str {
        match self {
            BufferKind::Tcm => "tcm",
            BufferKind::Sram => "sram",
            BufferKind::Hbm => "hbm",
        }
    }

    /// Where message slot `k` from rank `sender` to `pe` lands. Slots are a
    /// burst apart, so messages to one HBM slice start on different
    /// pseudo-channels. Only the timing uses the address: the queue model
    /// carries the payload.
    pub fn slot(self, pe: PeLoc, sender: usize, k: u32, topo: &Topology) -> PhysAddr {
        let (space, base) = match self {
            // Past the kernel scratch, where tensors may also live.
            BufferKind::Tcm => (Space::Tcm { pe: pe.pe }, topo.pe_tcm.scratch_bytes()),
            BufferKind::Sram => (Space::Sram, 0),
            BufferKind::Hbm => (Space::Hbm, 0),
        };
        let index = sender as u64 * u64::from(topo.ipcq.depth) + u64::from(k);
        PhysAddr {
            sip: pe.sip,
            cube: pe.cube,
            space,
            offset: base + index * topo.hbm.burst_bytes,
        }
    }
}

impl Named for BufferKind {
    const WHAT: &'static str = "receive buffer";
    const ALL: &'static [BufferKind] = &[BufferKind::Tcm, BufferKind::Sram, BufferKind::Hbm];
    fn name(self) -> &'static str {
        BufferKind::name(self)
    }
}
crate::support::named_str!(BufferKind);

/// A PE slot and one of its commands.
pub(super) type Waiter = (usize, u32);

/// A message that has landed in its receive buffer.
#[derive(Debug)]
pub(super) struct Message {
    pub shape: [usize; 2],
    pub dtype: DType,
    /// The values, when data execution is on.
    pub data: Vec<f32>,
    /// Where it landed.
    pub at: PhysAddr,
    /// The send command that sent it.
    pub cmd: u32,
}

/// A message on its way, in its pair's send order.
#[derive(Debug)]
pub(super) struct InFlight {
    /// Its place in the pair's send order.
    pub seq: u32,
    /// What the receiver will see (its values are captured when the send
    /// finishes injecting).
    pub message: Message,
    /// Whether its last byte has arrived.
    pub landed: bool,
}

/// The queue from one rank to another.
#[derive(Debug, Default)]
pub(super) struct Pair {
    /// Slots taken (the sender's credits spent): sent or in flight, not
    /// yet received.
    pub in_use: u32,
    /// Messages started so far (slot `k` = this modulo the depth).
    pub started: u32,
    /// Messages in flight, in send order.
    pub in_flight: VecDeque<InFlight>,
    /// Arrived messages, in order.
    pub arrived: VecDeque<Message>,
    /// A send waiting for a free slot.
    pub blocked_sender: Option<Waiter>,
    /// A receive waiting for a message.
    pub blocked_receiver: Option<Waiter>,
}

/// The queues of an installed ring.
#[derive(Debug)]
pub(super) struct Ipcq {
    pub ranks: Vec<PeLoc>,
    pub buffer: BufferKind,
    pub depth: u32,
    pub pairs: Vec<Pair>,
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
        let i = self.pair_index(src, dst);
        &mut self.pairs[i]
    }

    /// Index of the queue from `src` to `dst` in [`Self::pairs`].
    pub fn pair_index(&self, src: usize, dst: usize) -> usize {
        src * self.ranks.len() + dst
    }

    /// What `slot` is blocked on, if anything, for deadlock reports:
    /// `(peer, waiting_for_message)`.
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
