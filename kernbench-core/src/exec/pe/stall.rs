//! The deadlock report: for each PE still waiting when no event remains,
//! what it waits on and at which command.

use super::issue::Engine;
use super::Executor;

impl Executor<'_> {
    /// One line saying why the PE in `slot` has not finished.
    pub(super) fn describe_stall(&self, slot: usize) -> String {
        let s = &self.slots[slot];
        let Some(r) = &s.cur else {
            return format!("  {} never started", s.name);
        };
        let blocked = self
            .ipcq
            .as_ref()
            .and_then(|q| q.blocked(slot).map(|b| (q, b)));
        let (cmd, what) = match blocked {
            Some((q, (peer, message))) => {
                let e = if message { Engine::Recv } else { Engine::Send }.index();
                let cmd = r.queues[e]
                    .get(r.cursor[e].saturating_sub(1))
                    .copied()
                    .unwrap_or(0) as usize;
                let who = q.ranks[peer];
                let machine = self.sim.machine();
                let name = machine.node_name(machine.pe(who.sip, who.cube, who.pe));
                let what = if message {
                    format!("waits for a message from rank {peer} ({name})")
                } else {
                    format!("waits for a free slot in its queue to rank {peer} ({name})")
                };
                (cmd, what)
            }
            None => (
                r.done.iter().position(|d| !d).unwrap_or(0),
                "is stalled".to_string(),
            ),
        };
        format!(
            "  rank {} on {} ({}) {what} at command #{cmd} `{}`",
            s.rank,
            s.name,
            r.stream.program,
            r.stream.command_text(cmd)
        )
    }
}
