//! A finished command: its numerics, its op-log record, and what it frees
//! (an engine slot; the PE when it was the program's last command).

use crate::dsl::Command;
use crate::exec::oplog::{Lane, OpRecord, RecordKind};
use crate::fabric::units::Ps;

use super::data;
use super::issue::Engine;
use super::{ExecError, Executor};

/// The lane a command's record goes to, its timeline name, the bytes it
/// moved and the MACs it asked for.
fn describe(cmd: &Command) -> (Lane, &'static str, u64, u64) {
    match cmd {
        Command::DmaRead { src, .. } => (Lane::Dma, "dma_read", src.valid_bytes(), 0),
        Command::DmaWrite { dst, .. } => (Lane::Dma, "dma_write", dst.valid_bytes(), 0),
        Command::Gemm(g) => (Lane::Gemm, "gemm", 0, g.useful_macs()),
        Command::Math(m) => (Lane::Math, m.op.mnemonic(), 0, 0),
        Command::IpcqSend { .. } => (Lane::Ipcq, "ipcq_send", 0, 0),
        Command::IpcqRecv { .. } => (Lane::Ipcq, "ipcq_recv", 0, 0),
    }
}

impl Executor<'_> {
    /// Command `c` of the PE in `slot` has finished at `now`: compute its
    /// values, log it, and issue what it unblocks (or the next program).
    pub(super) fn complete(&mut self, slot: usize, c: usize, now: Ps) -> Result<(), ExecError> {
        let topo = &self.topo;
        let s = &mut self.slots[slot];
        let Some(r) = s.cur.as_mut() else {
            return Ok(());
        };
        if let Some(mem) = self.mem.as_deref_mut() {
            if let Err(e) = data::execute(mem, topo, &r.stream, &s.home, c) {
                return Err(self.cmd_error(slot, c, e.to_string()));
            }
        }
        let cmd = &r.stream.commands[c];
        let (lane, name, bytes, macs) = describe(cmd);
        self.log.push(OpRecord {
            pe: s.global,
            lane,
            kind: RecordKind::Command(cmd.kind()),
            name,
            cmd: c as u32,
            start: r.started[c],
            end: now,
            bytes,
            macs,
        });
        r.done[c] = true;
        r.n_done += 1;
        r.in_flight[Engine::of(cmd).index()] -= 1;
        if r.n_done == r.done.len() {
            self.next_program(slot, now + self.costs.launch)
        } else {
            self.pump(slot, now)
        }
    }
}
