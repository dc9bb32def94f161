//! The op log: one record per executed command and per GEMM tile stage,
//! and the summaries every report and figure is built from.
//!
//! Summaries (counts, busy time, wall-clock occupancy) are kept whether or
//! not records are. Occupancy is a running union: busy intervals that end
//! before anything still running could start are folded into a total
//! ([`OpLog::settle`]), so a long run that drops records holds only the
//! intervals of what is in flight.

use serde::{Deserialize, Serialize};

use crate::dsl::{CommandCounts, CommandKind};
use crate::fabric::units::{ps_to_ns, Ps};

/// Where a record ran: one timeline thread per lane per PE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Lane {
    /// The PE's DMA engine (DmaRead / DmaWrite commands).
    Dma,
    /// GEMM pipeline stage 1: operand tiles from HBM/SRAM into TCM.
    DmaIn,
    /// Stage 2: operands from TCM into the MAC array.
    Fetch,
    /// Stage 3: the MAC array.
    Gemm,
    /// Stage 4: result tile written back.
    DmaOut,
    /// The vector engine.
    Math,
    /// Inter-PE queues.
    Ipcq,
}

impl Lane {
    /// Every lane, in declaration order.
    pub const ALL: [Lane; 7] = [
        Lane::Dma,
        Lane::DmaIn,
        Lane::Fetch,
        Lane::Gemm,
        Lane::DmaOut,
        Lane::Math,
        Lane::Ipcq,
    ];

    /// Stable name: the key of a run report's per-lane times and the
    /// timeline thread name.
    pub fn name(self) -> &'static str {
        match self {
            Lane::Dma => "dma",
            Lane::DmaIn => "gemm.dma_in",
            Lane::Fetch => "gemm.fetch",
            Lane::Gemm => "gemm.mac",
            Lane::DmaOut => "gemm.dma_out",
            Lane::Math => "math",
            Lane::Ipcq => "ipcq",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A whole command (for a GEMM, the composite command).
    Command(CommandKind),
    /// One stage of one tile of a GEMM's tile plan.
    TileStage,
}

/// One executed command or tile stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpRecord {
    /// Global PE index (see [`crate::fabric::addr::PeLoc::global`]).
    pub pe: u32,
    /// The engine it ran on.
    pub lane: Lane,
    /// A whole command or a GEMM tile stage.
    pub kind: RecordKind,
    /// Short name for timelines (`dma_read`, `gemm`, `exp`, `tile`...).
    pub name: &'static str,
    /// Index of the command in its program's stream.
    pub cmd: u32,
    /// Start, ps of simulated time.
    pub start: Ps,
    /// End, ps of simulated time.
    pub end: Ps,
    /// Bytes moved (0 for compute).
    pub bytes: u64,
    /// MACs: the valid m x k x n for a GEMM command, the padded tile's for a tile's
    /// MAC stage, else 0.
    pub macs: u64,
}

/// Counts of the benches' counting rules (see dsl.md) and totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpLogSummary {
    /// Commands run, by kind (`gemm_count`, `dma_read_count`, ... in JSON).
    #[serde(flatten)]
    pub commands: CommandCounts,
    /// Tiles of all GEMM tile plans.
    pub gemm_tile_count: u64,
    /// Bytes moved by DMA commands and GEMM operand streaming.
    pub dma_bytes: u64,
    /// MACs issued to the array (padded tiles).
    pub tile_macs: u64,
    /// MACs the problem needs: each GemmCmd's valid m x k x n (the part its
    /// operands' loads found data in), summed.
    pub useful_macs: u64,
    /// Records logged (kept or not).
    pub records: u64,
}

/// Per-lane time: `busy` sums every record (engines of different PEs add
/// up); `occupied` is wall-clock time with at least one record active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LaneTime {
    /// Sum of record durations, ns.
    pub busy_ns: f64,
    /// Wall-clock time with at least one record active, ns.
    pub occupied_ns: f64,
}

/// One PE's time: what its compute engines and its IPCQ engine were busy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PeTime {
    /// Wall-clock time its MAC array or vector engine was busy, ns.
    pub compute_ns: f64,
    /// Wall-clock time it had an IPCQ send or receive outstanding
    /// (injecting, or waiting for a message or a credit), ns.
    pub comm_ns: f64,
    /// Wall-clock time it was doing either, ns: `comm_ns` minus this
    /// over `compute_ns` is communication no compute hid.
    pub either_ns: f64,
    /// When its last record on any lane (DMA included) ended, ns from the
    /// start of simulated time.
    pub last_end_ns: f64,
}

/// A union of busy intervals kept as a running total: intervals that end
/// before every record still to come are folded into `settled`.
#[derive(Debug, Clone, Default)]
struct Union {
    list: Vec<(Ps, Ps)>,
    /// The length of the union of settled intervals.
    settled: Ps,
    /// The list length at which the next settle sorts it.
    settle_at: usize,
    /// The list length at which a push next compacts it.
    compact_at: usize,
}

impl Union {
    /// Appends an interval, merging with the last when they touch
    /// (records of one lane mostly arrive in time order), and compacts a
    /// list that has doubled since it was last compacted: its intervals
    /// may be truly disjoint, and sorting them again a few pushes later
    /// would make every push cost a sort.
    fn push(&mut self, start: Ps, end: Ps) {
        let v = &mut self.list;
        if let Some(last) = v.last_mut() {
            if start >= last.0 && start <= last.1 {
                last.1 = last.1.max(end);
                return;
            }
        }
        v.push((start, end));
        if v.len() >= self.compact_at.max(COMPACT_AT) {
            merge(v);
            self.compact_at = 2 * v.len();
        }
    }

    fn settle(&mut self, before: Ps) {
        // Amortized: a short list is cheap to keep, and one a long program
        // holds back waits until it has doubled.
        if self.list.len() < self.settle_at.max(SETTLE_AT) {
            return;
        }
        merge(&mut self.list);
        let keep = self.list.partition_point(|&(_, e)| e <= before);
        self.settled += self.list[..keep].iter().map(|(s, e)| e - s).sum::<Ps>();
        self.list.drain(..keep);
        self.settle_at = 2 * self.list.len();
    }

    fn len_ps(&self) -> Ps {
        let mut v = self.list.clone();
        self.settled + union_len(&mut v)
    }
}

/// Records and running summaries of one run.
#[derive(Debug, Clone, Default)]
pub struct OpLog {
    keep: bool,
    records: Vec<OpRecord>,
    summary: OpLogSummary,
    busy: [Ps; 7],
    lanes: [Union; 7],
    /// Whether per-PE unions are kept (they cost three interval pushes per
    /// record, so only runs that report them pay for them).
    track_pes: bool,
    /// Per PE (by global index): compute engines, the IPCQ engine, either.
    pes: Vec<[Union; 3]>,
    /// Per PE: when its last record on any lane ended.
    pe_last_end: Vec<Ps>,
}

impl OpLog {
    /// A log; with `keep_records` false only summaries are kept.
    pub fn new(keep_records: bool) -> Self {
        OpLog {
            keep: keep_records,
            ..Self::default()
        }
    }

    /// The same log, also keeping each PE's time (see [`Self::pe_time`]).
    pub fn tracking_pes(self) -> Self {
        OpLog {
            track_pes: true,
            ..self
        }
    }

    /// Logs a record into the summaries, and keeps it if records are kept.
    pub fn push(&mut self, r: OpRecord) {
        let s = &mut self.summary;
        s.records += 1;
        match r.kind {
            RecordKind::Command(kind) => {
                s.commands.add(kind);
                if kind == CommandKind::Gemm {
                    s.useful_macs += r.macs;
                }
            }
            RecordKind::TileStage => {
                if r.lane == Lane::Gemm {
                    s.gemm_tile_count += 1;
                    s.tile_macs += r.macs;
                }
            }
        }
        if matches!(r.lane, Lane::Dma | Lane::DmaIn) {
            s.dma_bytes += r.bytes;
        }
        // A composite GEMM spans its stages; its time is in the stage lanes.
        if r.kind != RecordKind::Command(CommandKind::Gemm) {
            let i = r.lane.index();
            self.busy[i] += r.end - r.start;
            self.lanes[i].push(r.start, r.end);
            if self.track_pes {
                self.track_pe(&r);
            }
        }
        if self.keep {
            self.records.push(r);
        }
    }

    /// Adds a record to its PE's unions (compute or IPCQ, and either) and
    /// last end.
    fn track_pe(&mut self, r: &OpRecord) {
        let pe = r.pe as usize;
        if self.pes.len() <= pe {
            self.pes.resize_with(pe + 1, Default::default);
            self.pe_last_end.resize(pe + 1, 0);
        }
        self.pe_last_end[pe] = self.pe_last_end[pe].max(r.end);
        let class = match r.lane {
            Lane::Gemm | Lane::Math => 0,
            Lane::Ipcq => 1,
            _ => return,
        };
        self.pes[pe][class].push(r.start, r.end);
        self.pes[pe][2].push(r.start, r.end);
    }

    /// Counts and totals so far.
    pub fn summary(&self) -> OpLogSummary {
        self.summary
    }

    /// Kept records, in the order they were logged.
    pub fn records(&self) -> &[OpRecord] {
        &self.records
    }

    /// Whether individual records are kept.
    pub fn keeps_records(&self) -> bool {
        self.keep
    }

    /// Busy and wall-clock time of a lane.
    pub fn lane_time(&self, lane: Lane) -> LaneTime {
        let i = lane.index();
        LaneTime {
            busy_ns: ps_to_ns(self.busy[i]),
            occupied_ns: ps_to_ns(self.lanes[i].len_ps()),
        }
    }

    /// The time of the PE with global index `pe` (zero if it logged
    /// nothing); `None` unless the log tracks PEs
    /// ([`Self::tracking_pes`]).
    pub fn pe_time(&self, pe: u32) -> Option<PeTime> {
        if !self.track_pes {
            return None;
        }
        let Some([compute, comm, either]) = self.pes.get(pe as usize) else {
            return Some(PeTime::default());
        };
        Some(PeTime {
            compute_ns: ps_to_ns(compute.len_ps()),
            comm_ns: ps_to_ns(comm.len_ps()),
            either_ns: ps_to_ns(either.len_ps()),
            last_end_ns: ps_to_ns(self.pe_last_end[pe as usize]),
        })
    }

    /// Folds into the running totals every busy interval that ends by
    /// `before`: the caller promises no record to come starts earlier (the
    /// executor passes the start of its oldest running program).
    pub fn settle(&mut self, before: Ps) {
        let pes = self.pes.iter_mut().flat_map(|p| p.iter_mut());
        for u in self.lanes.iter_mut().chain(pes) {
            u.settle(before);
        }
    }

    /// Busy intervals held (not yet settled), over all lanes and PEs.
    pub fn held_intervals(&self) -> usize {
        let pes = self.pes.iter().flat_map(|p| p.iter());
        self.lanes.iter().chain(pes).map(|u| u.list.len()).sum()
    }

    /// Sum of busy time of a lane, in ps.
    pub fn busy_ps(&self, lane: Lane) -> Ps {
        self.busy[lane.index()]
    }
}

/// Intervals a lane holds before [`OpLog::settle`] folds them.
const SETTLE_AT: usize = 1024;

/// Intervals a lane holds before a push compacts them.
const COMPACT_AT: usize = 1 << 16;

fn merge(v: &mut Vec<(Ps, Ps)>) {
    v.sort_unstable();
    let mut out: Vec<(Ps, Ps)> = Vec::with_capacity(v.len());
    for &(s, e) in v.iter() {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    *v = out;
}

fn union_len(v: &mut Vec<(Ps, Ps)>) -> Ps {
    merge(v);
    v.iter().map(|(s, e)| e - s).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(lane: Lane, start: Ps, end: Ps) -> OpRecord {
        OpRecord {
            pe: 0,
            lane,
            kind: RecordKind::TileStage,
            name: "tile",
            cmd: 0,
            start,
            end,
            bytes: 0,
            macs: 10,
        }
    }

    #[test]
    fn occupancy_is_the_union_and_busy_the_sum() {
        let mut log = OpLog::new(false);
        // Two PEs' MAC arrays overlapping by 5 ps, then a gap.
        log.push(rec(Lane::Gemm, 0, 10));
        log.push(rec(Lane::Gemm, 5, 15));
        log.push(rec(Lane::Gemm, 100, 110));
        let t = log.lane_time(Lane::Gemm);
        assert_eq!(t.busy_ns, ps_to_ns(30));
        assert_eq!(t.occupied_ns, ps_to_ns(25));
        assert_eq!(log.summary().gemm_tile_count, 3);
        assert!(log.records().is_empty());
    }

    #[test]
    fn a_pe_time_is_the_union_of_its_compute_and_of_its_messages() {
        let mut log = OpLog::new(false).tracking_pes();
        log.push(rec(Lane::Gemm, 0, 10));
        log.push(rec(Lane::Math, 5, 20));
        log.push(OpRecord {
            lane: Lane::Ipcq,
            ..rec(Lane::Ipcq, 15, 40)
        });
        // A DMA store after the last message ends the PE's work, but is
        // neither compute nor communication.
        log.push(rec(Lane::Dma, 30, 60));
        // Another PE's work counts only for that PE.
        log.push(OpRecord {
            pe: 1,
            ..rec(Lane::Gemm, 0, 100)
        });
        let t = log.pe_time(0).unwrap();
        assert_eq!(t.compute_ns, ps_to_ns(20));
        assert_eq!(t.comm_ns, ps_to_ns(25));
        // Communication from 20 to 40 ran with no compute beside it.
        assert_eq!(t.either_ns - t.compute_ns, ps_to_ns(20));
        assert_eq!(t.last_end_ns, ps_to_ns(60));
        assert_eq!(log.pe_time(1).unwrap().compute_ns, ps_to_ns(100));
        assert_eq!(log.pe_time(7), Some(PeTime::default()));
        // A log that does not track PEs says so rather than report zeros.
        let mut plain = OpLog::new(false);
        plain.push(rec(Lane::Gemm, 0, 10));
        assert_eq!(plain.pe_time(0), None);
    }

    #[test]
    fn a_long_list_of_disjoint_intervals_compacts_to_the_same_union() {
        // Two PEs' disjoint intervals, interleaved out of order, past
        // twice the length that compacts a list.
        let mut log = OpLog::new(false);
        let n = 3 * COMPACT_AT as u64;
        for k in 0..n {
            let at = if k % 2 == 0 { 10 * k } else { 10 * (n + k) };
            log.push(rec(Lane::Dma, at, at + 4));
        }
        log.push(rec(Lane::Dma, 0, 2));
        let t = log.lane_time(Lane::Dma);
        assert_eq!(t.occupied_ns, ps_to_ns(4 * n));
        assert_eq!(t.busy_ns, ps_to_ns(4 * n + 2));
    }

    #[test]
    fn settled_intervals_keep_the_union_and_free_their_space() {
        let mut kept = OpLog::new(false);
        let mut settled = OpLog::new(false);
        // Overlapping pairs a gap apart, more than a lane holds unsettled.
        for k in 0..(3 * SETTLE_AT as u64) {
            for log in [&mut kept, &mut settled] {
                log.push(rec(Lane::Math, 100 * k, 100 * k + 30));
                log.push(rec(Lane::Math, 100 * k + 20, 100 * k + 50));
            }
            settled.settle(100 * k);
        }
        assert_eq!(kept.lane_time(Lane::Math), settled.lane_time(Lane::Math));
        assert_eq!(
            settled.lane_time(Lane::Math).occupied_ns,
            ps_to_ns(50 * 3 * SETTLE_AT as u64)
        );
        assert!(
            settled.held_intervals() <= SETTLE_AT + 2,
            "{}",
            settled.held_intervals()
        );
    }
}
