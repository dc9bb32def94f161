//! The PE scheduler's expansion of a composite GEMM into a tile plan, and
//! the four-stage tile pipeline: DMA in (operands in HBM or SRAM only),
//! Fetch (TCM to the array), GEMM (the MAC array), DMA out (the result tile
//! written back once its K loop ends). Ragged edges are padded to a whole
//! tile: the array always does a full tile's work.

use crate::dsl::{Command, CommandStream, GemmCmd, GemmOperand, Operand, Space};
use crate::exec::oplog::{Lane, OpRecord, RecordKind};
use crate::fabric::addr::{Endpoint, PhysAddr};
use crate::fabric::topology::Topology;
use crate::fabric::units::{Bandwidth, Ps};

use super::data::BufferHome;
use super::{command_error, ExecError, Executor, PeEvent};

/// Stage costs of one tile, from the topology.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TileCosts {
    pub tm: usize,
    pub tk: usize,
    pub tn: usize,
    pub fetch: Ps,
    pub gemm: Ps,
    pub write_back: Ps,
    pub tile_macs: u64,
}

impl TileCosts {
    pub fn new(topo: &Topology, g: &GemmCmd) -> Self {
        let p = &topo.pe_gemm;
        let (tm, tk, tn) = (p.tile_m as usize, p.tile_k as usize, p.tile_n as usize);
        let tcm = Bandwidth::from_gbs(topo.pe_tcm.fetch_bw_gbs);
        let in_size = g.in_dtype.size_bytes();
        let tile_macs = (tm * tk * tn) as u64;
        TileCosts {
            tm,
            tk,
            tn,
            fetch: tcm.ser_ps((tm * tk + tk * tn) as u64 * in_size),
            gemm: (tile_macs as f64 * 1000.0 / p.macs_per_ns()).ceil() as Ps,
            write_back: tcm.ser_ps((tm * tn) as u64 * g.out_dtype.size_bytes()),
            tile_macs,
        }
    }
}

/// Tile order: output tiles row-major, the K loop innermost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TilePlan {
    pub mt: u32,
    pub nt: u32,
    pub kt: u32,
}

impl TilePlan {
    pub fn new(g: &GemmCmd, c: &TileCosts) -> Self {
        let t = |x: usize, t: usize| (x.div_ceil(t).max(1)) as u32;
        TilePlan {
            mt: t(g.m, c.tm),
            nt: t(g.n, c.tn),
            kt: t(g.k, c.tk),
        }
    }

    pub fn tiles(&self) -> u32 {
        self.mt * self.nt * self.kt
    }

    /// (mi, ni, ki) of tile `t`.
    pub fn coords(&self, t: u32) -> (u32, u32, u32) {
        (
            t / (self.nt * self.kt),
            (t / self.kt) % self.nt,
            t % self.kt,
        )
    }
}

/// Tiles of `g`'s plan, counted without overflow.
pub(crate) fn tile_count(g: &GemmCmd, topo: &Topology) -> u64 {
    let p = &topo.pe_gemm;
    let t = |x: usize, t: u32| (x as u64).div_ceil(u64::from(t)).max(1);
    t(g.m, p.tile_m) * t(g.k, p.tile_k) * t(g.n, p.tile_n)
}

/// Whether the GEMM streams any operand from HBM or SRAM.
pub(crate) fn needs_dma_in(g: &GemmCmd) -> bool {
    g.a.space != Space::Tcm || g.b.space != Space::Tcm
}

/// The DMA-in transfers of tile `t`: (source, bytes) per streamed operand.
pub(crate) fn tile_sources(
    g: &GemmCmd,
    plan: &TilePlan,
    c: &TileCosts,
    t: u32,
    stream: &CommandStream,
    home: &BufferHome,
) -> Vec<(Endpoint, u64)> {
    let (mi, ni, ki) = plan.coords(t);
    let mut out = Vec::with_capacity(2);
    // A is m x k, B is k x n, each before its transpose flag.
    let a = (mi as usize * c.tm, ki as usize * c.tk, c.tm, c.tk);
    let b = (ki as usize * c.tk, ni as usize * c.tn, c.tk, c.tn);
    for (op, (r0, c0, tr, tc)) in [(&g.a, a), (&g.b, b)] {
        if op.space == Space::Tcm {
            continue;
        }
        if let Some(src) = operand_tile(op, r0, c0, tr, tc, stream, home) {
            out.push(src);
        }
    }
    out
}

/// Address and valid bytes of one tile of a streamed operand.
fn operand_tile(
    op: &GemmOperand,
    r0: usize,
    c0: usize,
    tr: usize,
    tc: usize,
    stream: &CommandStream,
    home: &BufferHome,
) -> Option<(Endpoint, u64)> {
    // Tile coordinates are in op(X); storage is transposed when `trans`.
    let (r0, c0, tr, tc) = if op.trans {
        (c0, r0, tc, tr)
    } else {
        (r0, c0, tr, tc)
    };
    let clip = |v: usize, o: usize, t: usize| v.saturating_sub(o).min(t);
    match op.src {
        Operand::Hbm(block) => {
            let (vr, vc) = (clip(block.valid[0], r0, tr), clip(block.valid[1], c0, tc));
            let bytes = (vr * vc) as u64 * block.tensor.dtype.size_bytes();
            let addr = block
                .tensor
                .elem_addr(block.origin[0] + r0, block.origin[1] + c0);
            // Tensor addresses were decoded and checked at launch.
            let at = PhysAddr::unpack(addr).ok()?;
            (bytes > 0).then_some((Endpoint::Mem(at), bytes))
        }
        Operand::Buf(id) => {
            let b = stream.buffers[id.index()];
            let (vr, vc) = (clip(b.shape[0], r0, tr), clip(b.shape[1], c0, tc));
            let size = b.dtype.size_bytes();
            let mut at = home.addr(&b);
            at.offset += (r0 * b.shape[1] + c0) as u64 * size;
            let bytes = (vr * vc) as u64 * size;
            (bytes > 0).then_some((Endpoint::Mem(at), bytes))
        }
    }
}

/// Pipeline state of the GEMM a PE is running.
#[derive(Debug)]
pub(crate) struct GemmRun {
    pub cmd: u32,
    pub plan: TilePlan,
    pub costs: TileCosts,
    /// Per tile: DMA-in transfers still outstanding.
    pub parts: Vec<u8>,
    pub in_start: Vec<Ps>,
    pub in_done: Vec<Ps>,
    /// Per tile: bytes its DMA-in moves (0 when nothing streams).
    pub tile_bytes: Vec<u64>,
    /// Streamed tiles whose staging buffer is taken (DMA-in issued, Fetch
    /// not yet started).
    pub staged: u32,
    /// Next tile whose DMA-in to issue, and tiles whose DMA-in finished in order.
    pub issued: u32,
    /// Next tile to enter Fetch.
    pub next: u32,
    pub fetch_end: Ps,
    pub gemm_end: Ps,
    pub wb_end: Ps,
}

impl GemmRun {
    pub fn new(cmd: u32, g: &GemmCmd, topo: &Topology, start: Ps) -> Self {
        let costs = TileCosts::new(topo, g);
        let plan = TilePlan::new(g, &costs);
        let n = if needs_dma_in(g) {
            plan.tiles() as usize
        } else {
            0
        };
        GemmRun {
            cmd,
            plan,
            costs,
            parts: vec![0; n],
            in_start: vec![start; n],
            in_done: vec![Ps::MAX; n],
            tile_bytes: vec![0; n],
            staged: 0,
            issued: 0,
            next: 0,
            fetch_end: start,
            gemm_end: start,
            wb_end: start,
        }
    }

    /// Runs Fetch, GEMM and write-back of tile `t`, whose operands are in
    /// TCM from `ready`; logs its stages and returns when its Fetch starts
    /// (when its staged operands stop needing their buffer).
    pub fn advance(&mut self, t: u32, ready: Ps, pe: u32, log: &mut impl FnMut(OpRecord)) -> Ps {
        let c = self.costs;
        let (_, _, ki) = self.plan.coords(t);
        let stage = |lane, name, start: Ps, end: Ps, bytes, macs| OpRecord {
            pe,
            lane,
            kind: RecordKind::TileStage,
            name,
            cmd: self.cmd,
            start,
            end,
            bytes,
            macs,
        };
        let fs = ready.max(self.fetch_end);
        self.fetch_end = fs + c.fetch;
        log(stage(Lane::Fetch, "fetch", fs, self.fetch_end, 0, 0));
        let gs = self.fetch_end.max(self.gemm_end);
        self.gemm_end = gs + c.gemm;
        log(stage(Lane::Gemm, "mac", gs, self.gemm_end, 0, c.tile_macs));
        if ki + 1 == self.plan.kt {
            let ws = self.gemm_end.max(self.wb_end);
            self.wb_end = ws + c.write_back;
            log(stage(Lane::DmaOut, "write_back", ws, self.wb_end, 0, 0));
        }
        self.next = t + 1;
        fs
    }

    pub fn end(&self) -> Ps {
        self.wb_end.max(self.gemm_end)
    }
}

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
        let mut run = GemmRun::new(c as u32, &g, &self.topo, now);
        if needs_dma_in(&g) {
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
            run.in_start[t as usize] = now;
            run.parts[t as usize] = sources.len() as u8;
            run.tile_bytes[t as usize] = sources.iter().map(|(_, b)| b).sum();
            let to = Endpoint::Mem(s.loc.tcm(0));
            if sources.is_empty() {
                run.in_done[t as usize] = now;
                continue;
            }
            run.staged += 1;
            let part = PeEvent::TilePart {
                slot: slot as u32,
                tile: t,
            };
            for (from, bytes) in sources {
                self.sim
                    .start_read_tagged(to, from, bytes, self.costs.dma_setup, now, part)?;
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
