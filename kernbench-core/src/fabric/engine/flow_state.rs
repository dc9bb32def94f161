//! A flow's state: the stages of its route, the bytes each has passed and
//! the queue in front of it, and when it must next change (see `flow.rs`
//! for the model, `flow_rates.rs` for the rates).

use std::collections::VecDeque;

use crate::fabric::units::Ps;

/// Bytes below which a queue counts as empty and a stage as done (event
/// times are whole picoseconds, so a stage may be a byte past its mark).
pub(super) const SLACK: f64 = 1e-6;

/// One link a flow crosses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Share {
    /// The link (one lane of a pseudo-channel group).
    pub link: u32,
    /// The part of the flow's rate it carries.
    pub part: f64,
    /// The stage (hop of the route, counted from 0 without gaps) it
    /// belongs to; a link crossed twice belongs to the first crossing.
    pub stage: u16,
}

/// One hop of a flow's route.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Stage {
    /// Bytes that have passed it, as of the flow's `since`.
    pub passed: f64,
    /// Bytes per ps it passes now.
    pub rate: f64,
    /// Bytes per ps it would pass alone: its links' bandwidth over the
    /// flow's part of each.
    pub speed: f64,
    /// Bytes per ps its queue was filled at when it last had an arrival:
    /// a first-come, first-served link keeps serving a queue's bytes in
    /// the proportion they came in.
    pub fill: f64,
}

/// Flow-mode state of one transfer (empty in burst mode).
#[derive(Debug, Clone, Default)]
pub(super) struct Flow {
    /// Links crossed, in route order, each once.
    pub res: Vec<Share>,
    /// Per hop.
    pub stages: Vec<Stage>,
    /// Bytes of the flow.
    pub total: f64,
    /// When `stages` were last brought up to date.
    pub since: Ps,
    /// Whether it is on its links' lists now.
    pub active: bool,
    /// Posted sends along one route, oldest first, and the byte of the
    /// flow each ends at; empty for a flow of one transfer. The holder of
    /// the flow is the oldest not yet drained.
    pub ends: VecDeque<(u32, f64)>,
}

impl Flow {
    /// A flow of `bytes` over `res` (in route order, stages from 0), its
    /// stages in `stages` (an empty vector, perhaps with room).
    pub fn new(res: Vec<Share>, bytes: u64, mut stages: Vec<Stage>) -> Self {
        let n = res.last().map_or(0, |r| usize::from(r.stage) + 1);
        stages.resize(n, Stage::default());
        Flow {
            res,
            stages,
            total: bytes as f64,
            ..Flow::default()
        }
    }

    /// Whether the flow has bytes to share links for (a one-burst transfer
    /// is its last burst alone).
    pub fn shares(&self) -> bool {
        self.total > 0.0 && !self.stages.is_empty()
    }

    /// Whether its last stage has passed every byte.
    pub fn drained(&self) -> bool {
        self.stages.last().is_none_or(|s| s.passed >= self.total)
    }

    /// Bytes waiting in front of stage `k` (for the first, at the source).
    pub fn queue(&self, k: usize) -> f64 {
        let arrived = if k == 0 {
            self.total
        } else {
            self.stages[k - 1].passed
        };
        arrived - self.stages[k].passed
    }

    /// Whether stage `k` has passed every byte.
    pub fn done(&self, k: usize) -> bool {
        self.stages[k].passed >= self.total
    }

    /// Brings the stages up to `now` at their rates; a stage never passes
    /// more than has reached it, and what is within [`SLACK`] of a mark is
    /// at it.
    pub(super) fn advance(&mut self, now: Ps) {
        let dt = now.saturating_sub(self.since) as f64;
        self.since = now;
        let mut upstream = self.total;
        for s in &mut self.stages {
            s.passed += s.rate * dt;
            if s.passed > upstream - SLACK {
                s.passed = upstream;
            }
            upstream = s.passed;
        }
    }

    /// Sources streaming into the first stage: the transfers of the flow
    /// with bytes of their own that have not all left (each takes its turn
    /// at the first link, as separate sources do in burst mode; a lone
    /// burst has none here).
    pub fn sources(&self) -> usize {
        if self.ends.is_empty() {
            return 1;
        }
        let sent = self.stages.first().map_or(0.0, |s| s.passed);
        let mut before = 0.0;
        let mut n = 0;
        for &(_, end) in &self.ends {
            if end > sent + SLACK && end > before + SLACK {
                n += 1;
            }
            before = end;
        }
        n.max(1)
    }

    /// How long until its rates must change or a transfer of it drains: a
    /// stage passes its last byte, a queue runs dry, a source has sent
    /// its bytes or a transfer's last byte passes; `None` if never at
    /// these rates.
    pub(super) fn next_change(&self) -> Option<f64> {
        let mut t = f64::INFINITY;
        if let (Some(first), Some(last)) = (self.stages.first(), self.stages.last()) {
            let until = |stage: &Stage, mark: f64| {
                (stage.rate > 0.0 && mark > stage.passed + SLACK)
                    .then(|| (mark - stage.passed) / stage.rate)
            };
            let sent = self
                .ends
                .iter()
                .find(|&&(_, end)| end > first.passed + SLACK);
            if let Some(dt) = sent.and_then(|&(_, end)| until(first, end)) {
                t = t.min(dt);
            }
            if let Some(dt) = self.ends.front().and_then(|&(_, end)| until(last, end)) {
                t = t.min(dt);
            }
        }
        for k in 0..self.stages.len() {
            if self.done(k) {
                continue;
            }
            let (q, r) = (self.queue(k), self.stages[k].rate);
            if k == 0 || self.done(k - 1) {
                if r > 0.0 {
                    t = t.min(q / r);
                }
            } else {
                let up = self.stages[k - 1].rate;
                if q > 0.0 && r > up {
                    t = t.min(q / (r - up));
                }
            }
        }
        t.is_finite().then_some(t)
    }
}

/// Each lane's share of the bytes in `lane_bytes` (lanes from
/// `first_link` on), for the lanes that carry any, at stage `stage`.
pub(super) fn lane_shares(lane_bytes: &[u64], first_link: u32, stage: u16, out: &mut Vec<Share>) {
    let total: u64 = lane_bytes.iter().sum();
    for (i, &b) in lane_bytes.iter().enumerate() {
        if b > 0 {
            out.push(Share {
                link: first_link + i as u32,
                part: b as f64 / total as f64,
                stage,
            });
        }
    }
}
