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
//! follows flows, not bytes. A flow has one due time, its next change,
//! moved in place when rates change (`due.rs`).
//!
//! Fixed costs are burst mode's: the setup before the flow starts, and
//! each hop's overhead and propagation after its last byte has drained, so
//! an uncontended transfer takes the same time in both modes up to burst
//! granularity.

use crate::fabric::link::Link;
use crate::fabric::units::Ps;

use super::due::DueSet;
use super::flow_rates::{set_rates, LinkLoad, Scratch};
use super::flow_state::{Flow, Stage, SLACK};

/// Per-link shares of the active flows, and scratch space for recomputing
/// rates.
pub(super) struct FlowNet {
    /// Per link, bytes per ps.
    cap: Vec<f64>,
    /// Per link, the active flows crossing it.
    on_link: Vec<Vec<u32>>,
    /// Per link, what the flows crossing it load it with, as of its
    /// component's last recomputation and the shortcuts since.
    loads: Vec<LinkLoad>,
    /// Component search stamps, per link and per flow (transfer slot).
    link_mark: Vec<u32>,
    flow_mark: Vec<u32>,
    stamp: u32,
    comp_links: Vec<u32>,
    comp_flows: Vec<u32>,
    stack: Vec<u32>,
    /// Scratch of the rate computation (`flow_rates.rs`).
    scratch: Scratch,
    /// Per flow, when its next change is due.
    pub due: DueSet,
    /// Flows started and ended without a recomputation.
    #[cfg(test)]
    shortcuts: (usize, usize),
}

/// What a flow's due event found.
pub(super) enum Change {
    /// Every byte has passed: the flow is done.
    Drained,
    /// It goes on, held by `holder`.
    Running { holder: u32 },
}

/// A flow whose next change moved: it is due at `at` (the simulation
/// sets it in [`FlowNet::due`] with its place among equal times).
pub(super) struct Finish {
    pub xfer: u32,
    pub at: Ps,
}

impl FlowNet {
    pub fn new(links: &[Link]) -> Self {
        let n = links.len();
        FlowNet {
            // Bandwidth is exact in bytes per us.
            cap: links.iter().map(|l| l.bw.gbs() * 1e-3).collect(),
            on_link: vec![Vec::new(); n],
            loads: vec![LinkLoad::default(); n],
            link_mark: vec![0; n],
            flow_mark: Vec::new(),
            stamp: 0,
            comp_links: Vec::new(),
            comp_flows: Vec::new(),
            stack: Vec::new(),
            scratch: Scratch::new(n),
            due: DueSet::default(),
            #[cfg(test)]
            shortcuts: (0, 0),
        }
    }

    /// Adds flow `xfer` at `now` and recomputes its component, unless it
    /// fits beside the flows there without changing their rates; `out`
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
            self.on_link[r.link as usize].push(xfer);
        }
        // Streaming at its first link's speed through links that take it
        // with room to spare and serve every arrival whole, every stage
        // passes that rate and nobody else's changes: the recomputation
        // would find exactly this.
        let rate = f.stages.first().map_or(0.0, |s| s.speed);
        let fits = f.ends.is_empty()
            && f.res.iter().all(|r| {
                let l = &self.loads[r.link as usize];
                !l.binding && l.load + r.part * rate <= self.cap[r.link as usize]
            });
        if !fits {
            self.recompute_around(flows, xfer, now, out);
            return;
        }
        #[cfg(test)]
        {
            self.shortcuts.0 += 1;
        }
        for s in &mut f.stages {
            (s.rate, s.fill) = (rate, rate);
        }
        for r in &f.res {
            self.loads[r.link as usize].load += r.part * rate;
        }
        schedule(&mut self.due, f, xfer, now, out);
    }

    /// Flow `xfer`'s next change is due at `now` (taken off `due`).
    /// `done` receives the transfers of the flow whose bytes have all
    /// passed, oldest first.
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
        self.recompute_around(flows, holder, now, out);
        Change::Running { holder }
    }

    /// Moves the flow from transfer `from`, drained, to `to`, the next on
    /// its route, whose slot outlives it (`from`'s change was due, so
    /// neither is in `due`).
    fn hand_over<F: AsMut<Flow>>(&mut self, flows: &mut [F], from: u32, to: u32) {
        let f = std::mem::take(flows[from as usize].as_mut());
        for r in &f.res {
            for x in &mut self.on_link[r.link as usize] {
                if *x == from {
                    *x = to;
                }
            }
        }
        *flows[to as usize].as_mut() = f;
    }

    /// Posted send `xfer` joins flow `holder` along the same route: its
    /// bytes follow the flow's, first come, first served. `false` (then
    /// `xfer` goes as a flow of its own) if the flow has drained, or if
    /// `xfer`'s bursts land on other lanes than the flow's.
    pub fn append<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        holder: u32,
        xfer: u32,
        now: Ps,
        out: &mut Vec<Finish>,
    ) -> bool {
        let joiner = flows[xfer as usize].as_mut();
        let bytes = joiner.total;
        // Only over the same links in the same shares: a send whose bursts
        // land on other lanes goes as a flow of its own.
        let res = std::mem::take(&mut joiner.res);
        let f = flows[holder as usize].as_mut();
        let same = f.res.len() == res.len()
            && f.res.iter().zip(&res).all(|(a, b)| {
                a.link == b.link && a.stage == b.stage && (a.part - b.part).abs() <= 1e-9
            });
        flows[xfer as usize].as_mut().res = res;
        let f = flows[holder as usize].as_mut();
        if !f.active || !same {
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
        self.recompute_around(flows, holder, now, out);
        true
    }

    /// Removes flow `xfer`, drained at `now`, and recomputes what it
    /// shared, unless none of its links binds the others' rates.
    pub fn finish<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        xfer: u32,
        now: Ps,
        out: &mut Vec<Finish>,
    ) {
        let f = flows[xfer as usize].as_mut();
        f.active = false;
        f.ends.clear();
        self.due.remove(xfer);
        let quiet = f.res.iter().all(|r| !self.loads[r.link as usize].binding);
        self.stack.clear();
        for r in &f.res {
            let l = r.link as usize;
            self.on_link[l].retain(|&x| x != xfer);
            if !quiet {
                self.stack.push(r.link);
            } else if self.on_link[l].is_empty() {
                self.loads[l] = LinkLoad::default();
            } else {
                // Each stage passed what reached it: that is its load.
                self.loads[l].load -= r.part * f.stages[usize::from(r.stage)].rate;
            }
        }
        for s in &mut f.stages {
            (s.passed, s.rate) = (f.total, 0.0);
        }
        if !quiet {
            self.recompute(flows, now, None, out);
        } else {
            #[cfg(test)]
            {
                self.shortcuts.1 += 1;
            }
        }
    }

    /// Forgets every flow (after an aborted launch).
    pub fn clear(&mut self) {
        for v in &mut self.on_link {
            v.clear();
        }
        self.loads.fill(LinkLoad::default());
        self.due.clear();
    }

    /// New rates for the component of flow `xfer`, which gets a new due time
    /// even if its rates stay.
    fn recompute_around<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        xfer: u32,
        now: Ps,
        out: &mut Vec<Finish>,
    ) {
        self.stack.clear();
        let res = &flows[xfer as usize].as_mut().res;
        self.stack.extend(res.iter().map(|r| r.link));
        self.recompute(flows, now, Some(xfer), out);
    }

    /// New rates for the component reachable from the links on the stack;
    /// `new` gets a new due time even if its rates stay.
    fn recompute<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        now: Ps,
        new: Option<u32>,
        out: &mut Vec<Finish>,
    ) {
        self.find_component(flows);
        set_rates(
            &mut self.scratch,
            &self.cap,
            &self.comp_links,
            &self.comp_flows,
            flows,
            now,
            &mut self.loads,
        );
        for (k, &x) in self.comp_flows.iter().enumerate() {
            if self.scratch.kept[k] && Some(x) != new {
                continue;
            }
            schedule(&mut self.due, flows[x as usize].as_mut(), x, now, out);
        }
    }

    /// The links reachable from the stack through shared flows, and the
    /// flows crossing them.
    fn find_component<F: AsMut<Flow>>(&mut self, flows: &mut [F]) {
        self.stamp = self.stamp.wrapping_add(1).max(1);
        let stamp = self.stamp;
        self.comp_links.clear();
        self.comp_flows.clear();
        if self.flow_mark.len() < flows.len() {
            self.flow_mark.resize(flows.len(), 0);
        }
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
            for &x in &self.on_link[l] {
                if self.flow_mark[x as usize] == stamp {
                    continue;
                }
                self.flow_mark[x as usize] = stamp;
                self.comp_flows.push(x);
                for r in &flows[x as usize].as_mut().res {
                    if self.link_mark[r.link as usize] != stamp {
                        self.link_mark[r.link as usize] = stamp;
                        self.comp_links.push(r.link);
                    }
                }
            }
        }
    }
}

/// Flow `x`'s next change at its new rates: due in `out`, or never.
fn schedule(due: &mut DueSet, f: &Flow, x: u32, now: Ps, out: &mut Vec<Finish>) {
    let at = match f.next_change() {
        // Drained as it was brought up to date: it leaves now.
        _ if f.drained() => now,
        // At least a picosecond on, so every event moves time.
        Some(t) => now.saturating_add((t.ceil() as Ps).max(1)),
        // Starved until its component changes, which recomputes it.
        None => {
            due.remove(x);
            return;
        }
    };
    out.push(Finish { xfer: x, at });
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
