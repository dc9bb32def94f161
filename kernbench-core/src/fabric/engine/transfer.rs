//! Per-transfer state and its report.

use crate::fabric::addr::{Endpoint, Space};
use crate::fabric::link::NodeId;
use crate::fabric::machine::Machine;
use crate::fabric::route::{Route, RouteError};
use crate::fabric::units::Ps;

use super::flow_state::{lane_shares, Flow, Share, Stage};
use super::routes::Path;

/// Bursts sampled per strided transfer for its lane shares.
const LANE_SAMPLE: u32 = 1 << 16;

/// Why a transfer could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransferError {
    /// No route between its endpoints.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// More bursts than the engine counts per transfer (runs shorter than a
    /// burst are a burst each, so a tall, narrow block gets there first).
    #[error(
        "a transfer of {bytes} bytes in {runs} runs is {bursts} bursts; the engine counts at most {} per transfer: split it",
        u32::MAX
    )]
    TooManyBursts {
        /// Bytes it would move.
        bytes: u64,
        /// Runs they lie in.
        runs: u64,
        /// Bursts it would take.
        bursts: u64,
    },
}

/// Handle of a transfer in a [`super::Sim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(pub u32);

/// First and last arrival of a transfer's bytes at one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HopTime {
    /// The node.
    pub node: NodeId,
    /// The first burst's head arrived.
    pub first: Ps,
    /// The last burst's tail arrived.
    pub last: Ps,
}

impl HopTime {
    fn new(node: NodeId) -> Self {
        HopTime {
            node,
            first: Ps::MAX,
            last: 0,
        }
    }

    pub(super) fn touch(&mut self, first: Ps, last: Ps) {
        self.first = self.first.min(first);
        self.last = self.last.max(last);
    }
}

/// How a transfer's bytes lie in memory: `count` runs of `len` contiguous
/// bytes, `pitch` bytes apart. A block of a row-major tensor is one run
/// per row at the row pitch; contiguous data is one run. A byte count
/// converts to one contiguous run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runs {
    /// Bytes per run.
    pub len: u64,
    /// Distance from one run's start to the next's.
    pub pitch: u64,
    /// Runs.
    pub count: u64,
}

impl Runs {
    /// `bytes` in one run.
    pub fn contiguous(bytes: u64) -> Self {
        Runs {
            len: bytes,
            pitch: bytes,
            count: 1,
        }
    }

    /// `count` runs of `len` bytes, `pitch` apart; runs that touch (`pitch
    /// == len`) coalesce into one, and so do empty ones. A pitch below
    /// `len` (overlapping runs) is timed as given.
    pub fn strided(len: u64, pitch: u64, count: u64) -> Self {
        if pitch == len || count <= 1 || len == 0 {
            Self::contiguous(len.saturating_mul(count))
        } else {
            Runs { len, pitch, count }
        }
    }

    /// Bytes moved.
    pub fn bytes(&self) -> u64 {
        self.len.saturating_mul(self.count)
    }
}

impl From<u64> for Runs {
    fn from(bytes: u64) -> Self {
        Runs::contiguous(bytes)
    }
}

/// The allocations a transfer holds, emptied: a finished transfer's are
/// the next one's, so a long run allocates per slot, not per transfer.
#[derive(Debug, Default)]
pub(super) struct Spare {
    hop_times: Vec<HopTime>,
    res: Vec<Share>,
    stages: Vec<Stage>,
}

pub(super) struct Transfer<T> {
    pub route: Path,
    pub bytes: u64,
    pub burst_bytes: u64,
    pub n_bursts: u32,
    pub injected: u32,
    pub arrived: u32,
    /// The memory layout of the HBM side (the whole transfer's bursts are
    /// cut per run).
    runs: Runs,
    /// Bursts per run.
    per_run: u32,
    /// The transfer's first byte in the source / destination HBM slice (0
    /// elsewhere), as a burst index and the bytes past it: bursts interleave
    /// over pseudo-channels by the address they start at.
    src_at: (u64, u64),
    dst_at: (u64, u64),
    /// Whether the source (else the destination) is the side laid out in
    /// `runs`.
    src_strided: bool,
    pub start: Ps,
    pub setup_ps: Ps,
    pub last_tail: Ps,
    pub done_at: Option<Ps>,
    pub source: HopTime,
    pub hop_times: Vec<HopTime>,
    /// A transfer to start when this one is done (a read's data phase).
    pub then: Option<u32>,
    /// The first phase of this transfer's chain (itself unless a read's data).
    pub head: u32,
    /// The driving model's token, returned in the completion notice.
    pub token: T,
    /// A token to return as a timer when the last burst has left the
    /// source (a posted send frees its engine then).
    pub on_injected: Option<T>,
    /// Flow-mode state (empty in burst mode).
    pub flow: Flow,
}

impl<T> AsMut<Flow> for Transfer<T> {
    fn as_mut(&mut self) -> &mut Flow {
        &mut self.flow
    }
}

impl<T: Copy> Transfer<T> {
    /// A transfer over `route`, in the allocations of `spare` (a finished
    /// transfer's, or empty ones).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        m: &Machine,
        route: Path,
        src: Endpoint,
        dst: Endpoint,
        runs: Runs,
        setup_ps: Ps,
        at: Ps,
        token: T,
        spare: Spare,
    ) -> Result<Self, TransferError> {
        let burst_bytes = m.topo.hbm.burst_bytes;
        let bytes = runs.bytes();
        let per_run = runs.len.div_ceil(burst_bytes).max(1);
        let bursts = if runs.count <= 1 {
            bytes.div_ceil(burst_bytes).max(1)
        } else {
            runs.count.saturating_mul(per_run)
        };
        let n_bursts = u32::try_from(bursts).map_err(|_| TransferError::TooManyBursts {
            bytes,
            runs: runs.count,
            bursts,
        })?;
        let is_hbm = |e: Endpoint| matches!(e, Endpoint::Mem(a) if a.space == Space::Hbm);
        let place = |e: Endpoint| match e {
            Endpoint::Mem(a) if a.space == Space::Hbm => {
                (a.offset / burst_bytes, a.offset % burst_bytes)
            }
            _ => (0, 0),
        };
        let Spare {
            mut hop_times,
            res,
            stages,
        } = spare;
        hop_times.extend(route.hops.iter().map(|h| HopTime::new(h.to)));
        Ok(Transfer {
            source: HopTime::new(route.from),
            route,
            bytes,
            burst_bytes,
            n_bursts,
            injected: 0,
            arrived: 0,
            runs,
            per_run: per_run as u32,
            src_at: place(src),
            dst_at: place(dst),
            src_strided: is_hbm(src) || !is_hbm(dst),
            start: at,
            setup_ps,
            last_tail: 0,
            done_at: None,
            hop_times,
            then: None,
            head: 0,
            token,
            on_injected: None,
            flow: Flow {
                res,
                stages,
                ..Flow::default()
            },
        })
    }

    /// Its allocations, emptied, for the next transfer.
    pub fn into_spare(self) -> Spare {
        let Transfer {
            mut hop_times,
            flow:
                Flow {
                    mut res,
                    mut stages,
                    ..
                },
            ..
        } = self;
        hop_times.clear();
        res.clear();
        stages.clear();
        Spare {
            hop_times,
            res,
            stages,
        }
    }

    /// Makes this transfer a flow: the links it crosses and the share of
    /// its bytes on each (per lane of a pseudo-channel group, by the
    /// address each burst lands at, as in burst mode).
    ///
    /// The last burst is not part of the flow: once the flow has drained it
    /// crosses the hops as a burst-mode burst does, each link serving such
    /// last bursts first come, first served. A lone transfer so takes as
    /// long as in burst mode, and flows that drain together leave one
    /// burst apart, as they do there.
    pub fn as_flow(&mut self, lane_bytes: &mut Vec<u64>) {
        let last = self.burst_len(self.n_bursts - 1);
        let mut res = std::mem::take(&mut self.flow.res);
        res.clear();
        // Stages count hops without gaps: a hop all of whose links an
        // earlier crossing already holds (a copy within one slice) adds
        // none.
        let mut stage = 0u16;
        for (i, h) in self.route.hops.iter().enumerate() {
            let from = res.len();
            if h.lanes > 1 {
                self.bytes_per_lane(i, h.lanes, last, lane_bytes);
                lane_shares(lane_bytes, h.link.0, stage, &mut res);
            } else {
                res.push(Share {
                    link: h.link.0,
                    part: 1.0,
                    stage,
                });
            }
            // A route may cross a link twice: one entry carries both parts,
            // at the first crossing. Routes are short, so a scan will do.
            let mut j = from;
            while j < res.len() {
                let r = res[j];
                match res[..from].iter_mut().find(|e| e.link == r.link) {
                    Some(e) => {
                        e.part += r.part;
                        res.remove(j);
                    }
                    None => j += 1,
                }
            }
            if res.len() > from {
                stage += 1;
            }
        }
        let body = self.bytes.max(1).saturating_sub(last);
        let stages = std::mem::take(&mut self.flow.stages);
        self.flow = Flow::new(res, body, stages);
    }

    /// Bytes landing on each of `lanes` lanes at hop `hop`, as burst mode
    /// lands them. Contiguous bursts follow one another over the lanes, so
    /// their counts are a closed form; strided ones go by the address of
    /// each burst (the first [`LANE_SAMPLE`] of them: lane patterns repeat
    /// well within that).
    fn bytes_per_lane(&self, hop: usize, lanes: u32, last: u64, out: &mut Vec<u64>) {
        let l = u64::from(lanes);
        out.clear();
        out.resize(lanes as usize, 0);
        if self.runs.count <= 1 {
            let n = u64::from(self.n_bursts);
            let first = self.lane(hop, 0) % l;
            for j in 0..l {
                let bursts = n / l + u64::from(j < n % l);
                out[((first + j) % l) as usize] = bursts * self.burst_bytes;
            }
            // The last burst may be short.
            let end = self.lane(hop, self.n_bursts - 1) % l;
            out[end as usize] -= self.burst_bytes - last;
            return;
        }
        // As `lane` and `burst_len` would give them, burst by burst, but
        // stepping through the runs instead of dividing for every burst,
        // and through one period of them only: the lanes runs start on
        // repeat once their offsets have advanced by whole rounds of the
        // lanes (`l x bb` bytes on the strided side, `l` bursts on the
        // other), and every run is cut alike.
        let n = u64::from(self.n_bursts.min(LANE_SAMPLE));
        let per_run = u64::from(self.per_run);
        let (whole, tail) = (n / per_run, n % per_run);
        let round = if self.side(hop).1 {
            l.checked_mul(self.burst_bytes)
                .map(|m| m / gcd(self.runs.pitch % m, m))
        } else {
            Some(l / gcd(per_run % l, l))
        };
        match round {
            Some(p) if whole >= 2 * p => {
                self.walk_runs(hop, l, p, 0, out);
                let times = whole / p;
                for b in out.iter_mut() {
                    *b *= times;
                }
                self.walk_runs(hop, l, whole % p, tail, out);
            }
            _ => self.walk_runs(hop, l, whole, tail, out),
        }
    }

    /// Adds to `out` the bytes per lane of the first `runs` runs at hop
    /// `hop` and the first `tail` bursts of the run after them.
    fn walk_runs(&self, hop: usize, l: u64, runs: u64, tail: u64, out: &mut [u64]) {
        let ((first, rem), strided) = self.side(hop);
        let bb = self.burst_bytes;
        let (pitch_q, pitch_r) = (self.runs.pitch / bb, self.runs.pitch % bb);
        // The run's first burst is `(rem + run x pitch) / bb` bursts in:
        // kept as the lane it lands on and the bytes past a burst edge.
        let mut r = rem % bb;
        let mut run_lane = (first + rem / bb) % l;
        let step = pitch_q % l;
        let mut lane = first % l;
        for run in 0..=runs {
            if strided {
                lane = run_lane;
            }
            let bursts = if run < runs {
                u64::from(self.per_run)
            } else {
                tail
            };
            for j in 0..bursts {
                let len = bb.min(self.runs.len.saturating_sub(j * bb)).max(1);
                out[lane as usize] += len;
                lane = if lane + 1 == l { 0 } else { lane + 1 };
            }
            r += pitch_r;
            run_lane += step;
            if r >= bb {
                r -= bb;
                run_lane += 1;
            }
            // Below 2l: one subtraction wraps it.
            if run_lane >= l {
                run_lane -= l;
            }
        }
    }

    /// Bytes in burst `b`: a run's last burst may be short.
    pub fn burst_len(&self, b: u32) -> u64 {
        let (len, off) = if self.runs.count <= 1 {
            (self.bytes, u64::from(b) * self.burst_bytes)
        } else {
            (
                self.runs.len,
                u64::from(b % self.per_run) * self.burst_bytes,
            )
        };
        self.burst_bytes.min(len.saturating_sub(off)).max(1)
    }

    /// Where the memory at hop `hop` starts (the source's at the first hop,
    /// else the destination's), and whether that side is laid out in runs.
    fn side(&self, hop: usize) -> ((u64, u64), bool) {
        if hop == 0 {
            (self.src_at, self.src_strided)
        } else {
            (self.dst_at, !self.src_strided)
        }
    }

    /// The interleave index of burst `b` at hop `hop`: the burst-sized
    /// block of the slice its first byte falls in. An HBM stage at the
    /// start of the route belongs to the source, any other to the
    /// destination. On the strided side burst `j` of run `r` starts at
    /// `offset + r x pitch + j x burst`; on the other, bursts follow one
    /// another from `offset`.
    pub fn lane(&self, hop: usize, b: u32) -> u64 {
        let ((first, rem), strided) = self.side(hop);
        if self.runs.count <= 1 || !strided {
            return first + u64::from(b);
        }
        let (run, j) = (u64::from(b / self.per_run), u64::from(b % self.per_run));
        first + (rem + run * self.runs.pitch) / self.burst_bytes + j
    }
}

/// Greatest common divisor (`gcd(0, m)` is `m`).
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A completed transfer: when it started and ended and when its bytes
/// passed each node of its route(s).
#[derive(Debug, Clone, PartialEq)]
pub struct TransferReport {
    /// Bytes moved (the data phase's, for a read).
    pub bytes: u64,
    /// When it was started.
    pub start: Ps,
    /// When its last byte arrived.
    pub done: Ps,
    /// Setup cost paid before the first byte moved (all phases).
    pub setup_ps: Ps,
    /// Routes of all phases, in order (a read has the request, then the data).
    pub routes: Vec<Route>,
    /// Per node, in route order, starting with each phase's source.
    pub trace: Vec<HopTime>,
}

pub(super) fn report<T>(all: &[Transfer<T>], id: TransferId) -> Option<TransferReport> {
    let first = all.get(id.0 as usize)?;
    let mut phases = vec![first];
    let mut cur = first;
    while let Some(n) = cur.then {
        cur = all.get(n as usize)?;
        phases.push(cur);
    }
    let last = phases.last()?;
    let done = last.done_at?;
    let mut trace = Vec::new();
    for p in &phases {
        trace.push(p.source);
        trace.extend_from_slice(&p.hop_times);
    }
    Some(TransferReport {
        bytes: last.bytes,
        start: first.start,
        done,
        setup_ps: phases.iter().map(|p| p.setup_ps).sum(),
        routes: phases.iter().map(|p| p.route.route()).collect(),
        trace,
    })
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;
