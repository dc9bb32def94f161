//! The four-stage pipeline of one GEMM's tiles: DMA in (operands in HBM or
//! SRAM only), Fetch (TCM to the array), GEMM (the MAC array), DMA out
//! (the result tile written back once its K loop ends).

use crate::dsl::GemmCmd;
use crate::exec::oplog::{Lane, OpRecord, RecordKind};
use crate::fabric::topology::Topology;
use crate::fabric::units::Ps;

use super::plan::{TileCosts, TilePlan};

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
    pub fn new(cmd: u32, g: &GemmCmd, topo: &Topology, start: Ps, streamed: bool) -> Self {
        let costs = TileCosts::new(topo, g);
        let plan = TilePlan::new(g, &costs);
        // Per-tile state only for the streamed path; one pass needs none.
        let n = if streamed { plan.tiles() as usize } else { 0 };
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
        self.gemm_end = gs + c.gemm_ps(ki, self.plan.kt);
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
