//! Inter-PE queues: one bounded FIFO per ordered pair of ranks. A send
//! takes a slot (or waits for one: back-pressure), its data lands in the
//! receiver's buffer, and a receive frees the slot once it has copied the
//! message out. Messages of a pair are received in the order they were sent.

use std::collections::VecDeque;

use crate::addr::{Endpoint, PhysAddr};
use crate::dsl::{Command, DType};
use crate::pe::PeLoc;
use crate::ring::BufferKind;
use crate::units::Ps;

use super::{token, ExecError, Executor, RECEIVED, SENT};

/// A PE slot and one of its commands.
pub(crate) type Waiter = (usize, u32);

/// A message that has landed in its receive buffer.
#[derive(Debug)]
pub(crate) struct Message {
    pub shape: [usize; 2],
    pub dtype: DType,
    /// The values, when data execution is on.
    pub data: Vec<f32>,
    /// Where it landed.
    pub at: PhysAddr,
    /// The send command that sent it.
    pub cmd: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Pair {
    /// Slots taken: sent or in flight, not yet received.
    pub in_use: u32,
    /// Messages started so far (slot `k` = this modulo the depth).
    pub started: u32,
    /// Slots of the messages in flight, in order.
    pub in_flight: VecDeque<PhysAddr>,
    /// Arrived messages, in order.
    pub arrived: VecDeque<Message>,
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

/// The executor's side of IPCQ: moving messages and freeing slots.
impl Executor<'_> {
    /// Moves a send's tile from the sender's TCM into the receiver's buffer.
    pub(super) fn begin_send(&mut self, slot: usize, c: u32, now: Ps) -> Result<(), ExecError> {
        let s = &self.slots[slot];
        let (Some(r), Some(q)) = (s.cur.as_ref(), self.ipcq.as_ref()) else {
            return Ok(());
        };
        let Command::IpcqSend { peer, src } = r.stream.commands[c as usize] else {
            return Ok(());
        };
        let buf = r.stream.buffers[src.index()];
        let (rank, depth, kind, receiver) = (s.rank, q.depth, q.buffer, q.ranks[peer]);
        let from = s.home.addr(&buf);
        let tok = token(SENT, slot, c);
        let Some(q) = self.ipcq.as_mut() else {
            return Ok(());
        };
        let p = q.pair(rank, peer);
        let to = kind.slot(receiver, rank, p.started % depth, &self.topo);
        p.started += 1;
        p.in_flight.push_back(to);
        self.sim.start_copy_tagged(
            Endpoint::Mem(from),
            Endpoint::Mem(to),
            buf.bytes(),
            self.costs.ipcq,
            now,
            tok,
        )?;
        Ok(())
    }

    /// A send's data has landed: queue it and wake a waiting receiver.
    pub(super) fn sent(&mut self, slot: usize, c: u32, now: Ps) -> Result<(), ExecError> {
        let s = &self.slots[slot];
        let Some(r) = s.cur.as_ref() else {
            return Ok(());
        };
        let Command::IpcqSend { peer, src } = r.stream.commands[c as usize] else {
            return Ok(());
        };
        let buf = r.stream.buffers[src.index()];
        let data = match self.mem.as_deref() {
            Some(mem) => mem.read(&s.home.window(&buf)),
            None => Vec::new(),
        };
        let rank = s.rank;
        let waiter = self.ipcq.as_mut().and_then(|q| {
            let p = q.pair(rank, peer);
            let at = p.in_flight.pop_front()?;
            p.arrived.push_back(Message {
                shape: buf.shape,
                dtype: buf.dtype,
                data,
                at,
                cmd: c,
            });
            let w = p.blocked_receiver.take()?;
            p.arrived.pop_front().map(|m| (w, m))
        });
        self.complete(slot, c as usize, now)?;
        if let Some(((rs, rc), msg)) = waiter {
            self.begin_recv(rs, rc, msg, now)?;
        }
        Ok(())
    }

    /// Copies a message out of the receive buffer into the receiver's TCM.
    pub(super) fn begin_recv(
        &mut self,
        slot: usize,
        c: u32,
        msg: Message,
        now: Ps,
    ) -> Result<(), ExecError> {
        let s = &mut self.slots[slot];
        let Some(r) = s.cur.as_mut() else {
            return Ok(());
        };
        let Command::IpcqRecv { dst, peer } = r.stream.commands[c as usize] else {
            return Ok(());
        };
        let buf = r.stream.buffers[dst.index()];
        if (buf.shape, buf.dtype) != (msg.shape, msg.dtype) {
            let [a, b] = msg.shape;
            let [x, y] = buf.shape;
            let reason = format!(
                "receives a {x}x{y} {} tile, but rank {peer} sent a {a}x{b} {} one (its command #{})",
                buf.dtype, msg.dtype, msg.cmd
            );
            return Err(self.cmd_error(slot, c as usize, reason));
        }
        r.recv_data = msg.data;
        let tok = token(RECEIVED, slot, c);
        match self.ipcq.as_ref().map(|q| q.buffer) {
            Some(BufferKind::Sram) | Some(BufferKind::Hbm) => {
                let from = msg.at;
                let to = s.home.addr(&buf);
                self.sim.start_read_tagged(
                    Endpoint::Mem(to),
                    Endpoint::Mem(from),
                    buf.bytes(),
                    self.costs.ipcq,
                    now,
                    tok,
                )?;
            }
            _ => self.sim.schedule(now + self.costs.ipcq, tok),
        }
        Ok(())
    }

    /// A receive has its data in TCM: free the queue slot, wake a blocked sender.
    pub(super) fn received(&mut self, slot: usize, c: u32, now: Ps) -> Result<(), ExecError> {
        let s = &mut self.slots[slot];
        let Some(r) = s.cur.as_mut() else {
            return Ok(());
        };
        let Command::IpcqRecv { peer, dst } = r.stream.commands[c as usize] else {
            return Ok(());
        };
        if let Some(mem) = self.mem.as_deref_mut() {
            // Shapes were matched when the receive took the message.
            mem.write(&s.home.window(&r.stream.buffers[dst.index()]), &r.recv_data);
        }
        let rank = s.rank;
        let waiter = self.ipcq.as_mut().and_then(|q| {
            let depth = q.depth;
            let p = q.pair(peer, rank);
            p.in_use = p.in_use.saturating_sub(1);
            match p.blocked_sender {
                Some(w) if p.in_use < depth => {
                    p.in_use += 1;
                    p.blocked_sender = None;
                    Some(w)
                }
                _ => None,
            }
        });
        self.complete(slot, c as usize, now)?;
        if let Some((ss, sc)) = waiter {
            self.begin_send(ss, sc, now)?;
        }
        Ok(())
    }
}
