//! Admission: whether an IPCQ command may go now. A send takes a free slot
//! of its queue or waits for one (back-pressure); a receive takes the
//! oldest arrived message or waits for one.

use crate::fabric::units::Ps;

use super::super::{ExecError, Executor};

impl Executor<'_> {
    /// Admits IPCQ command `c` of the PE in `slot` (a send to `peer` when
    /// `send`, else a receive from it), or parks it until it can go.
    pub(in crate::exec::pe) fn admit(
        &mut self,
        slot: usize,
        c: u32,
        peer: usize,
        send: bool,
        now: Ps,
    ) -> Result<(), ExecError> {
        let rank = self.slots[slot].rank;
        let Some(q) = self.ipcq.as_mut() else {
            return Err(self.cmd_error(
                slot,
                c as usize,
                "IPCQ needs an installed ring; launch this kernel on a ring".into(),
            ));
        };
        if peer >= q.ranks.len() {
            let n = q.ranks.len();
            return Err(self.cmd_error(
                slot,
                c as usize,
                format!("peer rank {peer} is outside the ring of {n}"),
            ));
        }
        if send {
            let depth = q.depth;
            let p = q.pair(rank, peer);
            if p.in_use < depth {
                p.in_use += 1;
                self.begin_send(slot, c, now)?;
            } else {
                p.blocked_sender = Some((slot, c));
            }
        } else {
            let p = q.pair(peer, rank);
            match p.arrived.pop_front() {
                Some(msg) => self.begin_recv(slot, c, msg, now)?,
                None => p.blocked_receiver = Some((slot, c)),
            }
        }
        Ok(())
    }
}
