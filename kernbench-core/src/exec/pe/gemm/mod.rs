//! A composite GEMM on the PE: its tile plan (`plan.rs`), the MAC array's
//! timing (`array.rs`), the tile pipeline's state (`pipeline.rs`), and here
//! the executor's side: starting a GEMM and streaming its operand tiles in.

mod array;
mod pipeline;
mod plan;

use crate::dsl::{Command, GemmCmd};
use crate::exec::oplog::{Lane, OpRecord, RecordKind};
use crate::fabric::addr::Endpoint;
use crate::fabric::units::Ps;

use super::{command_error, ExecError, Executor, PeEvent};

pub(crate) use pipeline::GemmRun;
pub(crate) use plan::{needs_dma_in, tile_count, tile_sources};

/// The executor's side of the tile pipeline: starting a GEMM and streaming
/// its operands in.
impl Executor<'_> {
    /// Starts GEMM command `c`: operands all in TCM run the whole tile plan
    /// at once (nothing is shared, so nothing can interleave); streamed
    /// operands go tile by tile as their DMA-ins land.
    pub(super) fn start_gemm(
        &mut self,
        slot: usize,
        c: usize,
        g: GemmCmd,
        now: Ps,
    ) -> Result<(), ExecError> {
        let s = &mut self.slots[slot];
        let Some(r) = s.cur.as_mut() else {
            return Ok(());
        };
        if tile_count(&g, &self.topo) > u64::from(u32::MAX) {
            let reason = format!(
                "a {}x{}x{} GEMM has more tiles than the PE scheduler can plan",
                g.m, g.k, g.n
            );
            return Err(command_error(&s.name, Some(&r.stream), c, reason));
        }
        let streamed = needs_dma_in(&g) || !self.one_pass_gemm;
        let mut run = GemmRun::new(c as u32, &g, &self.topo, now, streamed);
        if streamed {
            r.gemm = Some(run);
            return self.refill_tiles(slot, now);
        }
        let log = &mut *self.log;
        for t in 0..run.plan.tiles() {
            run.advance(t, now, s.global, &mut |rec| log.push(rec));
        }
        let done = PeEvent::Done {
            slot: slot as u32,
            cmd: c as u32,
        };
        self.sim.schedule(run.end(), done);
        Ok(())
    }

    /// Issues GEMM operand DMA-ins up to the outstanding limit.
    pub(super) fn refill_tiles(&mut self, slot: usize, now: Ps) -> Result<(), ExecError> {
        loop {
            let s = &mut self.slots[slot];
            let Some(r) = s.cur.as_mut() else {
                return Ok(());
            };
            let Some(run) = r.gemm.as_mut() else {
                return Ok(());
            };
            if run.issued >= run.plan.tiles() || run.staged >= self.costs.dma_outstanding {
                break;
            }
            let t = run.issued;
            run.issued += 1;
            let g = match &r.stream.commands[run.cmd as usize] {
                Command::Gemm(g) => *g,
                _ => break,
            };
            let sources = tile_sources(&g, &run.plan, &run.costs, t, &r.stream, &s.home);
            let parts = sources.iter().flatten().count();
            run.in_start[t as usize] = now;
            run.parts[t as usize] = parts as u8;
            run.tile_bytes[t as usize] = sources.iter().flatten().map(|(_, r)| r.bytes()).sum();
            let to = Endpoint::Mem(s.loc.tcm(0));
            if parts == 0 {
                run.in_done[t as usize] = now;
                continue;
            }
            run.staged += 1;
            let part = PeEvent::TilePart {
                slot: slot as u32,
                tile: t,
            };
            for (from, runs) in sources.into_iter().flatten() {
                self.sim
                    .start_read_tagged(to, from, runs, self.costs.dma_setup, now, part)?;
            }
        }
        self.advance_tiles(slot);
        Ok(())
    }

    /// One operand transfer of tile `t` has landed; when all have, the tile
    /// is in TCM and may enter the pipeline.
    pub(super) fn tile_part_done(&mut self, slot: usize, t: u32, now: Ps) -> Result<(), ExecError> {
        let s = &mut self.slots[slot];
        let Some(r) = s.cur.as_mut() else {
            return Ok(());
        };
        let Some(run) = r.gemm.as_mut() else {
            return Ok(());
        };
        let i = t as usize;
        run.parts[i] -= 1;
        if run.parts[i] == 0 {
            run.in_done[i] = now;
            self.log.push(OpRecord {
                pe: s.global,
                lane: Lane::DmaIn,
                kind: RecordKind::TileStage,
                name: "dma_in",
                cmd: run.cmd,
                start: run.in_start[i],
                end: now,
                bytes: run.tile_bytes[i],
                macs: 0,
            });
            self.refill_tiles(slot, now)?;
        }
        Ok(())
    }

    /// A streamed tile's Fetch has started: its staging buffer is free for
    /// the next tile's operands.
    pub(super) fn tile_fetched(&mut self, slot: usize, now: Ps) -> Result<(), ExecError> {
        if let Some(run) = self.slots[slot].cur.as_mut().and_then(|r| r.gemm.as_mut()) {
            run.staged = run.staged.saturating_sub(1);
        }
        self.refill_tiles(slot, now)
    }

    /// Moves tiles whose operands have arrived, in order, through the
    /// pipeline; schedules the GEMM's completion after the last.
    fn advance_tiles(&mut self, slot: usize) {
        let s = &mut self.slots[slot];
        let Some(r) = s.cur.as_mut() else { return };
        let Some(run) = r.gemm.as_mut() else { return };
        let log = &mut *self.log;
        let fetched = PeEvent::Fetched { slot: slot as u32 };
        while run.next < run.plan.tiles() && run.in_done[run.next as usize] != Ps::MAX {
            let t = run.next;
            let fetch = run.advance(t, run.in_done[t as usize], s.global, &mut |rec| {
                log.push(rec)
            });
            // The staging buffer of a streamed tile stays taken until its
            // Fetch starts, which may be later than now.
            if run.tile_bytes[t as usize] > 0 {
                self.sim.schedule(fetch, fetched);
            }
        }
        if run.next == run.plan.tiles() {
            let (end, cmd) = (run.end(), run.cmd);
            r.gemm = None;
            self.sim.schedule(
                end,
                PeEvent::Done {
                    slot: slot as u32,
                    cmd,
                },
            );
        }
    }
}
