//! Moving IPCQ messages. A send is posted: it holds the send engine while
//! its tile is injected, then the tile travels on to the receiver's buffer
//! while the sender goes on; messages of a pair become receivable in send
//! order. A receive copies the message out into TCM (at once when the
//! buffer is TCM) and frees the queue slot (the sender's credit), waking a
//! blocked sender.

use crate::dsl::{Buffer, Command};
use crate::fabric::addr::Endpoint;
use crate::fabric::units::Ps;

use super::super::{ExecError, Executor, PeEvent};
use super::{BufferKind, InFlight, Message};

/// The executor's side of IPCQ: moving messages and freeing slots.
impl Executor<'_> {
    /// The peer and the TCM buffer of IPCQ command `c` of the program in
    /// `slot` (`None` once the program is gone).
    fn ipcq_operand(&self, slot: usize, c: u32) -> Option<(usize, Buffer)> {
        let r = self.slots[slot].cur.as_ref()?;
        match r.stream.commands[c as usize] {
            Command::IpcqSend { peer, src: b } | Command::IpcqRecv { peer, dst: b } => {
                Some((peer, r.stream.buffers[b.index()]))
            }
            _ => None,
        }
    }

    /// Posts a send: its tile starts towards the receiver's buffer. The
    /// send engine is busy only while the tile is injected; the message
    /// lands later, in order with the pair's others.
    pub(in crate::exec::pe) fn begin_send(
        &mut self,
        slot: usize,
        c: u32,
        now: Ps,
    ) -> Result<(), ExecError> {
        let (Some((peer, buf)), Some(q)) = (self.ipcq_operand(slot, c), self.ipcq.as_mut()) else {
            return Ok(());
        };
        let s = &self.slots[slot];
        let (rank, from) = (s.rank, s.home.addr(&buf));
        let (depth, kind, receiver) = (q.depth, q.buffer, q.ranks[peer]);
        let pair = q.pair_index(rank, peer);
        let p = q.pair(rank, peer);
        let seq = p.started;
        let to = kind.slot(receiver, rank, seq % depth, &self.topo);
        p.started += 1;
        p.in_flight.push_back(InFlight {
            seq,
            message: Message {
                shape: buf.shape,
                dtype: buf.dtype,
                data: Vec::new(),
                at: to,
                cmd: c,
            },
            landed: false,
        });
        if let Some(r) = self.slots[slot].cur.as_mut() {
            r.sending = Some((pair, seq));
        }
        let injected = PeEvent::Injected {
            slot: slot as u32,
            cmd: c,
        };
        let landed = PeEvent::Landed {
            pair: pair as u32,
            seq,
        };
        self.sim.start_copy_posted(
            Endpoint::Mem(from),
            Endpoint::Mem(to),
            buf.bytes(),
            self.costs.ipcq,
            now,
            injected,
            landed,
        )?;
        Ok(())
    }

    /// A send's tile has left the sender: the send completes (its buffer
    /// may be reused), carrying the values it had.
    pub(in crate::exec::pe) fn injected(
        &mut self,
        slot: usize,
        c: u32,
        now: Ps,
    ) -> Result<(), ExecError> {
        let Some((_, buf)) = self.ipcq_operand(slot, c) else {
            return Ok(());
        };
        let s = &mut self.slots[slot];
        let sending = s.cur.as_mut().and_then(|r| r.sending.take());
        if let (Some(mem), Some((pair, seq)), Some(q)) =
            (self.mem.as_deref(), sending, self.ipcq.as_mut())
        {
            let data = mem.read(&s.home.window(&buf));
            if let Some(m) = q.pairs[pair].in_flight.iter_mut().find(|m| m.seq == seq) {
                m.message.data = data;
            }
        }
        self.complete(slot, c as usize, now)
    }

    /// Message `seq` of `pair` has landed in the receiver's buffer: messages
    /// that landed, in send order, become receivable; a waiting receiver
    /// takes the first.
    pub(in crate::exec::pe) fn landed(
        &mut self,
        pair: usize,
        seq: u32,
        now: Ps,
    ) -> Result<(), ExecError> {
        let Some(q) = self.ipcq.as_mut() else {
            return Ok(());
        };
        let p = &mut q.pairs[pair];
        if let Some(m) = p.in_flight.iter_mut().find(|m| m.seq == seq) {
            m.landed = true;
        }
        while p.in_flight.front().is_some_and(|m| m.landed) {
            if let Some(m) = p.in_flight.pop_front() {
                p.arrived.push_back(m.message);
            }
        }
        let waiter = match p.blocked_receiver {
            Some(w) if !p.arrived.is_empty() => {
                p.blocked_receiver = None;
                p.arrived.pop_front().map(|m| (w, m))
            }
            _ => None,
        };
        if let Some(((rs, rc), msg)) = waiter {
            self.begin_recv(rs, rc, msg, now)?;
        }
        Ok(())
    }

    /// Copies a message out of the receive buffer into the receiver's TCM.
    pub(in crate::exec::pe) fn begin_recv(
        &mut self,
        slot: usize,
        c: u32,
        msg: Message,
        now: Ps,
    ) -> Result<(), ExecError> {
        let Some((peer, buf)) = self.ipcq_operand(slot, c) else {
            return Ok(());
        };
        if (buf.shape, buf.dtype) != (msg.shape, msg.dtype) {
            let [a, b] = msg.shape;
            let [x, y] = buf.shape;
            let reason = format!(
                "receives a {x}x{y} {} tile, but rank {peer} sent a {a}x{b} {} one (its command #{})",
                buf.dtype, msg.dtype, msg.cmd
            );
            return Err(self.cmd_error(slot, c as usize, reason));
        }
        let s = &mut self.slots[slot];
        if let Some(r) = s.cur.as_mut() {
            r.recv_data = msg.data;
        }
        let tok = PeEvent::Received {
            slot: slot as u32,
            cmd: c,
        };
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
    pub(in crate::exec::pe) fn received(
        &mut self,
        slot: usize,
        c: u32,
        now: Ps,
    ) -> Result<(), ExecError> {
        let Some((peer, buf)) = self.ipcq_operand(slot, c) else {
            return Ok(());
        };
        let s = &self.slots[slot];
        if let (Some(mem), Some(r)) = (self.mem.as_deref_mut(), s.cur.as_ref()) {
            // Shapes were matched when the receive took the message.
            mem.write(&s.home.window(&buf), &r.recv_data)?;
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
