//! Moving IPCQ messages: a send's tile travels from the sender's TCM into
//! the receiver's buffer; a receive copies it out into TCM (at once when the
//! buffer is TCM) and frees the queue slot, waking a blocked sender.

use crate::dsl::Command;
use crate::fabric::addr::Endpoint;
use crate::fabric::units::Ps;

use super::super::{ExecError, Executor, PeEvent};
use super::{BufferKind, Message};

/// The executor's side of IPCQ: moving messages and freeing slots.
impl Executor<'_> {
    /// Moves a send's tile from the sender's TCM into the receiver's buffer.
    pub(in crate::exec::pe) fn begin_send(
        &mut self,
        slot: usize,
        c: u32,
        now: Ps,
    ) -> Result<(), ExecError> {
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
        let tok = PeEvent::Sent {
            slot: slot as u32,
            cmd: c,
        };
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
    pub(in crate::exec::pe) fn sent(
        &mut self,
        slot: usize,
        c: u32,
        now: Ps,
    ) -> Result<(), ExecError> {
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
    pub(in crate::exec::pe) fn begin_recv(
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
