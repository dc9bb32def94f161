//! Flow-level transfers: the network model of SimGrid and of ASTRA-sim's
//! analytical backend.
//!
//! A transfer is one flow along its route. While it is active it holds a
//! rate (bytes per ps); each link it crosses carries that rate times the
//! share of the flow's bytes that cross the link (1 for an ordinary link;
//! for a group of HBM pseudo-channels, the share of the bursts that land on
//! each lane, from their addresses exactly as burst mode lands them).
//! Rates are max-min fair, by progressive filling: every flow starts at 0,
//! all unfrozen flows rise together until some link is full, the flows
//! crossing it freeze, and so on until every flow is frozen. Rates change
//! only when a flow starts or ends, and only for the flows connected to it
//! through shared links (its component), so the cost follows flows, not
//! bytes. A flow's finish is one event; when its rate changes, a new event
//! with a new generation supersedes the old one, which is ignored.
//!
//! Fixed costs are burst mode's: the setup before the flow starts, and
//! each hop's overhead and propagation after its last byte has drained, so
//! an uncontended transfer takes the same time in both modes up to burst
//! granularity.

use crate::fabric::link::Link;
use crate::fabric::units::Ps;

/// Flow-mode state of one transfer (empty in burst mode).
#[derive(Debug, Clone, Default)]
pub(super) struct Flow {
    /// Links crossed and the share of the flow's rate each carries.
    pub res: Vec<(u32, f64)>,
    /// Bytes still to drain, as of `since`.
    pub remaining: f64,
    /// Current rate, bytes per ps.
    pub rate: f64,
    /// When `remaining` was last brought up to date.
    pub since: Ps,
    /// Generation of the finish event that is current.
    pub gen: u32,
    /// Whether it is on its links' lists now.
    pub active: bool,
    /// A posted send on the same route waiting for this one to drain.
    pub queued: Option<u32>,
    /// Component search stamp.
    mark: u32,
    frozen: bool,
}

impl Flow {
    /// A flow of `bytes` over `res`.
    pub fn new(res: Vec<(u32, f64)>, bytes: u64) -> Self {
        Flow {
            res,
            remaining: bytes as f64,
            ..Flow::default()
        }
    }

    /// Whether the flow has bytes to share links for (a one-burst transfer
    /// is its last burst alone).
    pub fn shares(&self) -> bool {
        self.remaining > 0.0
    }
}

/// Per-link shares of the active flows, and scratch space for recomputing
/// rates.
pub(super) struct FlowNet {
    /// Per link, bytes per ps.
    cap: Vec<f64>,
    /// Per link, the active flows crossing it and the share each puts on it.
    on_link: Vec<Vec<(u32, f64)>>,
    link_mark: Vec<u32>,
    residual: Vec<f64>,
    weight: Vec<f64>,
    stamp: u32,
    comp_links: Vec<u32>,
    comp_flows: Vec<u32>,
    stack: Vec<u32>,
    /// The component's rates before the recomputation, in `comp_flows` order.
    old_rates: Vec<f64>,
}

/// A flow whose finish moved: it drains at `at` (generation `gen`).
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
            residual: vec![0.0; n],
            weight: vec![0.0; n],
            stamp: 0,
            comp_links: Vec::new(),
            comp_flows: Vec::new(),
            stack: Vec::new(),
            old_rates: Vec::new(),
        }
    }

    /// Adds flow `xfer` at `now` and recomputes its component; `out`
    /// receives every flow whose finish moved (the new one included).
    pub fn start<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        xfer: u32,
        now: Ps,
        out: &mut Vec<Finish>,
    ) {
        let f = flows[xfer as usize].as_mut();
        f.since = now;
        f.rate = 0.0;
        f.active = true;
        for &(l, w) in &f.res {
            self.on_link[l as usize].push((xfer, w));
        }
        self.stack.clear();
        self.stack.extend(f.res.iter().map(|&(l, _)| l));
        self.recompute(flows, now, Some(xfer), out);
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
        f.remaining = 0.0;
        f.rate = 0.0;
        f.active = false;
        f.gen = f.gen.wrapping_add(1);
        self.stack.clear();
        for &(l, _) in &f.res {
            self.on_link[l as usize].retain(|&(x, _)| x != xfer);
            self.stack.push(l);
        }
        self.recompute(flows, now, None, out);
    }

    /// Forgets every flow (after an aborted launch).
    pub fn clear(&mut self) {
        for v in &mut self.on_link {
            v.clear();
        }
    }

    /// Max-min fair rates for the component reachable from the links on
    /// the stack.
    fn recompute<F: AsMut<Flow>>(
        &mut self,
        flows: &mut [F],
        now: Ps,
        new: Option<u32>,
        out: &mut Vec<Finish>,
    ) {
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
                for &(l2, _) in &f.res {
                    if self.link_mark[l2 as usize] != stamp {
                        self.link_mark[l2 as usize] = stamp;
                        self.comp_links.push(l2);
                    }
                }
            }
        }
        // Bring every flow's remaining bytes up to now; rates restart at 0.
        self.old_rates.clear();
        for &x in &self.comp_flows {
            let f = flows[x as usize].as_mut();
            self.old_rates.push(f.rate);
            f.remaining = (f.remaining - f.rate * (now - f.since) as f64).max(0.0);
            f.since = now;
            f.rate = 0.0;
            f.frozen = false;
        }
        for &l in &self.comp_links {
            let l = l as usize;
            self.residual[l] = self.cap[l];
            self.weight[l] = self.on_link[l].iter().map(|&(_, w)| w).sum();
        }
        let mut unfrozen = self.comp_flows.len();
        while unfrozen > 0 {
            // The smallest common rise that fills some link.
            let (mut rise, mut full) = (f64::INFINITY, usize::MAX);
            for &l in &self.comp_links {
                let l = l as usize;
                if self.weight[l] > 0.0 {
                    let r = self.residual[l] / self.weight[l];
                    if r < rise {
                        (rise, full) = (r, l);
                    }
                }
            }
            if full == usize::MAX {
                break;
            }
            for &x in &self.comp_flows {
                let f = flows[x as usize].as_mut();
                if !f.frozen {
                    f.rate += rise;
                }
            }
            for &l in &self.comp_links {
                let l = l as usize;
                self.residual[l] -= rise * self.weight[l];
            }
            // Rounding must not leave the link that set the rise unfilled.
            self.residual[full] = 0.0;
            // Freeze the flows of every full link.
            for li in 0..self.comp_links.len() {
                let l = self.comp_links[li] as usize;
                if self.weight[l] <= 0.0 || self.residual[l] > self.cap[l] * 1e-9 {
                    continue;
                }
                for k in 0..self.on_link[l].len() {
                    let x = self.on_link[l][k].0;
                    let f = flows[x as usize].as_mut();
                    if f.frozen {
                        continue;
                    }
                    f.frozen = true;
                    unfrozen -= 1;
                    for &(l2, w2) in &f.res {
                        let w = &mut self.weight[l2 as usize];
                        *w -= w2;
                        if *w < 1e-12 {
                            *w = 0.0;
                        }
                    }
                }
                self.weight[l] = 0.0;
            }
        }
        for (k, &x) in self.comp_flows.iter().enumerate() {
            let f = flows[x as usize].as_mut();
            // Rates recomputed from scratch may differ in the last bits:
            // keep the old rate, and the finish event already queued.
            let old = self.old_rates[k];
            if (f.rate - old).abs() <= old * 1e-12 && Some(x) != new {
                f.rate = old;
                continue;
            }
            f.gen = f.gen.wrapping_add(1);
            let left = if f.rate > 0.0 {
                (f.remaining / f.rate).ceil() as Ps
            } else {
                Ps::MAX / 4
            };
            out.push(Finish {
                xfer: x,
                gen: f.gen,
                at: now.saturating_add(left),
            });
        }
    }
}

/// Each lane's share of the bytes in `lane_bytes` (lanes from
/// `first_link` on), for the lanes that carry any.
pub(super) fn lane_shares(lane_bytes: &[u64], first_link: u32, out: &mut Vec<(u32, f64)>) {
    let total: u64 = lane_bytes.iter().sum();
    for (i, &b) in lane_bytes.iter().enumerate() {
        if b > 0 {
            out.push((first_link + i as u32, b as f64 / total as f64));
        }
    }
}
