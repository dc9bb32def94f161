//! Flow-level transfers: the network model of SimGrid and of ASTRA-sim's
//! analytical backend, with links that queue and share as burst mode's do.
//!
//! A transfer is one flow along its route. Each hop of the route is a
//! stage: it has passed some of the flow's bytes, and serves the flow at a
//! rate (bytes per ps). Each link a stage crosses carries that rate times
//! the part of the flow's bytes on the link (1 for an ordinary link; for a
//! group of HBM pseudo-channels, the share of the bursts that land on each
//! lane, from their addresses exactly as burst mode lands them). The bytes
//! a stage has received but not yet passed wait in a queue in front of
//! it, as bursts queue in front of a busy link in burst mode: nothing
//! pushes back, so a congested link downstream does not slow the links
//! before it, and once the congestion clears the queue drains at the
//! link's full speed.
//!
//! Rates follow burst mode's first-come, first-served links
//! (`flow_rates.rs`): a source streams at its first link's speed, each
//! later stage receives what the one before it passes, and an overloaded
//! link serves its arrivals in proportion to how fast they come; capacity
//! left over goes to the queues in front of the link.
//!
//! Rates change when a flow starts or ends, when a stage has passed all
//! of the flow's bytes, and when a queue runs dry, and only for the flows
//! connected to it through shared links (its component), so the cost
//! follows flows, not bytes. A flow has one pending event, its next
//! change; when rates change, a new event with a new generation supersedes
//! the old one, which is ignored.
//!
//! Fixed costs are burst mode's: the setup before the flow starts, and
//! each hop's overhead and propagation after its last byte has drained, so
//! an uncontended transfer takes the same time in both modes up to burst
//! granularity.

use std::collections::VecDeque;

use crate::fabric::link::Link;
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
    /// Generation of the pending event that is current.
    pub gen: u32,
    /// Whether it is on its links' lists now.
    pub active: bool,
    /// Posted sends along one route, oldest first, and the byte of the
    /// flow each ends at; empty for a flow of one transfer. The holder of
    /// the flow is the oldest not yet drained.
    pub ends: VecDeque<(u32, f64)>,
    /// Component search stamp.
    mark: u32,
}

impl Flow {
    /// A flow of `bytes` over `res` (in route order, stages from 0).
    pub fn new(res: Vec<Share>, bytes: u64) -> Self {
        let stages = res.last().map_or(0, |r| usize::from(r.stage) + 1);
        Flow {
            res,
            stages: vec![Stage::default(); stages],
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
    fn advance(&mut self, now: Ps) {
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
    /// whose bytes have not all left (each takes its turn at the first
    /// link, as separate sources do in burst mode).
    pub fn sources(&self) -> usize {
        let sent = self.stages.first().map_or(0.0, |s| s.passed);
        let sending = self.ends.iter().filter(|&&(_, end)| end > sent + SLACK);
        sending.count().max(1)
    }

    /// How long until its rates must change or a transfer of it drains: a
    /// stage passes its last byte, a queue runs dry, a source has sent
    /// its bytes or a transfer's last byte passes; `None` if never at
    /// these rates.
    fn next_change(&self) -> Option<f64> {
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

/// Per-link shares of the active flows, and scratch space for recomputing
/// rates.
pub(super) struct FlowNet {
    /// Per link, bytes per ps.
    pub(super) cap: Vec<f64>,
    /// Per link, the active flows crossing it and the part of their rate
    /// each puts on it.
    on_link: Vec<Vec<(u32, f64)>>,
    link_mark: Vec<u32>,
    stamp: u32,
    pub(super) comp_links: Vec<u32>,
    pub(super) comp_flows: Vec<u32>,
    stack: Vec<u32>,
    /// Scratch of the rate computation (`flow_rates.rs`).
    pub(super) scratch: super::flow_rates::Scratch,
}

/// What a flow's due event found.
pub(super) enum Change {
    /// Every byte has passed: the flow is done.
    Drained,
    /// It goes on, held by `holder`.
    Running { holder: u32 },
}

/// A flow whose next change moved: it is due at `at` (generation `gen`).
pub(super) struct Finish {
    pub xfer: u32,
    pub gen: u32,
    pub at: Ps,
}

impl FlowNet {
    pub fn new(links: &[Link]) -> Self {
        let n = links.len();
        FlowNet {
            // Bandwidth is exact in bytes per us.
            cap: links.iter().map(|l| l.bw.gbs() * 1e-3).collect(),
            on_link: vec![Vec::new(); n],
            link_mark: vec![0; n],
            stamp: 0,
            comp_links: Vec::new(),
            comp_flows: Vec::new(),
            stack: Vec::new(),
            scratch: super::flow_rates::Scratch::new(n),
        }
    }

    /// Adds flow `xfer` at `now` and recomputes its component; `out`
    /// receives every flow whose next change moved (the new one included).
    pub fn start<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        xfer: u32,
        now: Ps,
        out: &mut Vec<Finish>,
    ) {
        let f = flows[xfer as usize].as_mut();
        f.since = now;
        f.active = true;
        for s in &mut f.stages {
            *s = Stage {
                speed: f64::INFINITY,
                ..Stage::default()
            };
        }
        for r in &f.res {
            let s = &mut f.stages[usize::from(r.stage)];
            s.speed = s.speed.min(self.cap[r.link as usize] / r.part);
            self.on_link[r.link as usize].push((xfer, r.part));
        }
        self.stack.clear();
        self.stack.extend(f.res.iter().map(|r| r.link));
        self.recompute(flows, now, Some(xfer), out);
    }

    /// Flow `xfer`'s pending event is due at `now`. `done` receives the
    /// transfers of the flow whose bytes have all passed, oldest first.
    /// Unless the whole flow has drained, its rates (and its component's)
    /// are recomputed; if its holder drained, the flow moves to the next
    /// transfer, which the answer names.
    pub fn changed<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        xfer: u32,
        now: Ps,
        out: &mut Vec<Finish>,
        done: &mut Vec<u32>,
    ) -> Change {
        let f = flows[xfer as usize].as_mut();
        f.advance(now);
        let (drained, passed) = (f.drained(), f.stages.last().map_or(0.0, |s| s.passed));
        while let Some(&(x, end)) = f.ends.front() {
            if !drained && end > passed + SLACK {
                break;
            }
            f.ends.pop_front();
            done.push(x);
        }
        if drained {
            return Change::Drained;
        }
        let holder = match f.ends.front() {
            Some(&(next, _)) if next != xfer => {
                self.hand_over(flows, xfer, next);
                next
            }
            _ => xfer,
        };
        let f = flows[holder as usize].as_mut();
        self.stack.clear();
        self.stack.extend(f.res.iter().map(|r| r.link));
        self.recompute(flows, now, Some(holder), out);
        Change::Running { holder }
    }

    /// Moves the flow from transfer `from`, drained, to `to`, the next on
    /// its route, whose slot outlives it.
    fn hand_over<F: AsMut<Flow>>(&mut self, flows: &mut [F], from: u32, to: u32) {
        let f = std::mem::take(flows[from as usize].as_mut());
        // Generations go on in both slots, so pending events stay stale.
        flows[from as usize].as_mut().gen = f.gen.wrapping_add(1);
        let gen = flows[to as usize].as_mut().gen;
        for r in &f.res {
            for e in &mut self.on_link[r.link as usize] {
                if e.0 == from {
                    e.0 = to;
                }
            }
        }
        let g = flows[to as usize].as_mut();
        *g = f;
        g.gen = gen;
    }

    /// Posted send `xfer` joins flow `holder` along the same route: its
    /// bytes follow the flow's, first come, first served, over the flow's
    /// links and lane shares (the same route; an IPCQ slot's lane shares
    /// differ from the first message's only in which lanes a short
    /// message's bursts land on). `false` if the flow has drained (then
    /// `xfer` goes as a flow of its own).
    pub fn append<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        holder: u32,
        xfer: u32,
        now: Ps,
        out: &mut Vec<Finish>,
    ) -> bool {
        let bytes = flows[xfer as usize].as_mut().total;
        let f = flows[holder as usize].as_mut();
        if !f.active {
            return false;
        }
        f.advance(now);
        if f.drained() {
            return false;
        }
        if f.ends.is_empty() {
            f.ends.push_back((holder, f.total));
        }
        f.total += bytes;
        f.ends.push_back((xfer, f.total));
        self.stack.clear();
        self.stack.extend(f.res.iter().map(|r| r.link));
        self.recompute(flows, now, Some(holder), out);
        true
    }

    /// Removes flow `xfer`, drained at `now`, and recomputes what it shared.
    pub fn finish<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        xfer: u32,
        now: Ps,
        out: &mut Vec<Finish>,
    ) {
        let f = flows[xfer as usize].as_mut();
        f.active = false;
        f.gen = f.gen.wrapping_add(1);
        f.ends.clear();
        for s in &mut f.stages {
            (s.passed, s.rate) = (f.total, 0.0);
        }
        self.stack.clear();
        for r in &f.res {
            self.on_link[r.link as usize].retain(|&(x, _)| x != xfer);
            self.stack.push(r.link);
        }
        self.recompute(flows, now, None, out);
    }

    /// Forgets every flow (after an aborted launch).
    pub fn clear(&mut self) {
        for v in &mut self.on_link {
            v.clear();
        }
    }

    /// New rates for the component reachable from the links on the stack;
    /// `new` gets a new event even if its rates stay.
    fn recompute<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        now: Ps,
        new: Option<u32>,
        out: &mut Vec<Finish>,
    ) {
        self.find_component(flows);
        for &x in &self.comp_flows {
            flows[x as usize].as_mut().advance(now);
        }
        self.set_rates(flows);
        for (k, &x) in self.comp_flows.iter().enumerate() {
            if self.scratch.kept[k] && Some(x) != new {
                continue;
            }
            let f = flows[x as usize].as_mut();
            f.gen = f.gen.wrapping_add(1);
            let at = match f.next_change() {
                // Drained as it was brought up to date: it leaves now.
                _ if f.drained() => now,
                // At least a picosecond on, so every event moves time.
                Some(t) => now.saturating_add((t.ceil() as Ps).max(1)),
                // Starved until its component changes, which recomputes it.
                None => continue,
            };
            out.push(Finish {
                xfer: x,
                gen: f.gen,
                at,
            });
        }
    }

    /// The links reachable from the stack through shared flows, and the
    /// flows crossing them.
    fn find_component<F: AsMut<Flow>>(&mut self, flows: &mut [F]) {
        self.stamp = self.stamp.wrapping_add(1).max(1);
        let stamp = self.stamp;
        self.comp_links.clear();
        self.comp_flows.clear();
        for i in 0..self.stack.len() {
            let l = self.stack[i];
            if self.link_mark[l as usize] != stamp {
                self.link_mark[l as usize] = stamp;
                self.comp_links.push(l);
            }
        }
        // Breadth over links and the flows that cross them.
        let mut i = 0;
        while i < self.comp_links.len() {
            let l = self.comp_links[i] as usize;
            i += 1;
            for &(x, _) in &self.on_link[l] {
                let f = flows[x as usize].as_mut();
                if f.mark == stamp {
                    continue;
                }
                f.mark = stamp;
                self.comp_flows.push(x);
                for r in &f.res {
                    if self.link_mark[r.link as usize] != stamp {
                        self.link_mark[r.link as usize] = stamp;
                        self.comp_links.push(r.link);
                    }
                }
            }
        }
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
