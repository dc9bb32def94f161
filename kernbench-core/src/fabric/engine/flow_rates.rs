//! The rates of a component's flows, stage by stage, as burst mode's
//! first-come, first-served links would serve them.
//!
//! Each stage of a flow has an arrival rate: a source's first stage
//! streams at its links' speed (in burst mode the source sends its next
//! burst as soon as the first link has taken the last one, so sources on
//! one link take turns); a later stage receives what the stage before it
//! passes, or, once the stage before has passed everything, the rate its
//! queue was filled at (a FIFO link serves a queue's bytes in the mix they
//! came in). A link whose arrivals exceed its bandwidth serves each in
//! proportion to its arrival rate; a link with bandwidth to spare gives
//! it, in equal parts, to the stages with bytes queued in front of it.
//! A stage's rate is the least its links serve it at. Arrivals depend on
//! the rates upstream, so the rates are iterated to their fixed point.
//!
//! Plain max-min fairness would instead give four loads paced by their
//! HBM slice as much of a PE's port as they ask for before a message from
//! another package got any, where burst mode serves the two in proportion
//! to how fast they come; and without queues a message slowed at the port
//! would slow the SIP link before it too, where in burst mode its bytes
//! wait at the port and catch up at the port's speed.

use super::flow::{Flow, FlowNet};

/// Passes at most. A pass carries a change down every route, so rates
/// settle in a few unless flows feed back on one another through shared
/// links, and every pass gives rates no link exceeds.
const MAX_PASSES: usize = 64;

/// Where a stage's arrivals come from, fixed for one recomputation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Arrival {
    /// It has passed every byte.
    Done,
    /// A source: this many bytes per ps.
    At(f64),
    /// The stage before it (the one just before in the arrays).
    Upstream,
}

/// Scratch space, kept between recomputations so they allocate nothing.
/// The passes run over flat copies of the component's stages and links,
/// so they touch no transfer.
pub(super) struct Scratch {
    /// Per link: what arrives (bytes per ps) and the parts of the stages
    /// with a queue in front of it.
    load: Vec<f64>,
    queued: Vec<f64>,
    /// Per component flow, where its stages start in the arrays below.
    first: Vec<usize>,
    /// Per stage of the component's flows: where its arrivals come from,
    /// whether bytes wait in front of it, the current iterate, the next,
    /// the arrival rate, and the rate before this recomputation.
    from: Vec<Arrival>,
    backlog: Vec<bool>,
    rate: Vec<f64>,
    next: Vec<f64>,
    arrive: Vec<f64>,
    old: Vec<f64>,
    /// Per link crossed: the link, the part of the flow on it, its stage.
    entries: Vec<(u32, f64, u32)>,
    /// Per component flow: whether its rates stayed as they were.
    pub kept: Vec<bool>,
}

impl Scratch {
    pub fn new(links: usize) -> Self {
        Scratch {
            load: vec![0.0; links],
            queued: vec![0.0; links],
            first: Vec::new(),
            from: Vec::new(),
            backlog: Vec::new(),
            rate: Vec::new(),
            next: Vec::new(),
            arrive: Vec::new(),
            old: Vec::new(),
            entries: Vec::new(),
            kept: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.first.clear();
        self.from.clear();
        self.backlog.clear();
        self.rate.clear();
        self.old.clear();
        self.entries.clear();
    }

    /// Copies flow `f`'s stages and links in.
    fn add(&mut self, f: &Flow) {
        let at = self.rate.len();
        self.first.push(at);
        for (k, st) in f.stages.iter().enumerate() {
            let done = f.done(k);
            self.from.push(if done {
                Arrival::Done
            } else if k == 0 {
                Arrival::At(st.speed * f.sources() as f64)
            } else if f.done(k - 1) {
                Arrival::At(st.fill)
            } else {
                Arrival::Upstream
            });
            self.backlog.push(k > 0 && !done && f.queue(k) > 0.0);
            self.old.push(st.rate);
            // From the rates as they were: most recomputations move few.
            let from = if st.rate > 0.0 { st.rate } else { st.speed };
            self.rate.push(if done { 0.0 } else { from });
        }
        let stage = |r: &super::flow::Share| (at + usize::from(r.stage)) as u32;
        self.entries
            .extend(f.res.iter().map(|r| (r.link, r.part, stage(r))));
    }
}

/// The arrival rate of stage `g` from where it comes, given the rates of
/// the stages in `rates`.
fn arrival(from: Arrival, rates: &[f64], g: usize) -> f64 {
    match from {
        Arrival::Done => 0.0,
        Arrival::At(a) => a,
        Arrival::Upstream => rates[g - 1],
    }
}

impl FlowNet {
    /// Sets the rates of every stage of the component's flows (brought up
    /// to date); `scratch.kept` says whose stayed as they were.
    pub(super) fn set_rates<F: AsMut<Flow>>(&mut self, flows: &mut [F]) {
        let s = &mut self.scratch;
        s.clear();
        for &x in &self.comp_flows {
            s.add(flows[x as usize].as_mut());
        }
        let n = s.rate.len();
        s.next.resize(n, 0.0);
        s.arrive.resize(n, 0.0);
        for g in 0..n {
            s.arrive[g] = arrival(s.from[g], &s.rate, g);
        }
        for _ in 0..MAX_PASSES {
            for &l in &self.comp_links {
                s.load[l as usize] = 0.0;
                s.queued[l as usize] = 0.0;
            }
            for &(l, part, g) in &s.entries {
                let (l, g) = (l as usize, g as usize);
                s.load[l] += part * s.arrive[g];
                if s.backlog[g] {
                    s.queued[l] += part;
                }
            }
            for &l in &self.comp_links {
                let l = l as usize;
                let (cap, load) = (self.cap[l], s.load[l]);
                // Reused: each link's scale, and the spare each queue gets.
                (s.load[l], s.queued[l]) = if load > cap {
                    (cap / load, 0.0)
                } else if load < cap && s.queued[l] > 0.0 {
                    (1.0, (cap - load) / s.queued[l])
                } else {
                    (1.0, 0.0)
                };
            }
            // Stage by stage in route order (a flow's stages, and its
            // links, lie in order): a stage receives what the one before
            // passes in this very pass, so a change runs down a route in
            // one pass; the links' loads are the last pass's.
            let mut moved = false;
            let mut at = usize::MAX;
            for &(l, _, g) in &s.entries {
                let (l, g) = (l as usize, g as usize);
                if g != at {
                    at = g;
                    let a = arrival(s.from[g], &s.next, g);
                    moved |= (a - s.arrive[g]).abs() > s.arrive[g] * 1e-12;
                    s.arrive[g] = a;
                    s.next[g] = if s.from[g] == Arrival::Done {
                        0.0
                    } else {
                        f64::INFINITY
                    };
                }
                if s.from[g] == Arrival::Done {
                    continue;
                }
                let mut served = s.arrive[g] * s.load[l];
                if s.backlog[g] {
                    served += s.queued[l];
                }
                if served < s.next[g] {
                    s.next[g] = served;
                }
            }
            for g in 0..n {
                // The rates follow from the loads and the arrivals: once
                // no arrival moves, the next pass would give these again.
                let v = s.next[g];
                s.rate[g] = if v.is_finite() { v } else { 0.0 };
            }
            if !moved {
                break;
            }
        }
        s.kept.clear();
        for (i, &x) in self.comp_flows.iter().enumerate() {
            let f = flows[x as usize].as_mut();
            let at = s.first[i];
            let mut kept = true;
            for (k, st) in f.stages.iter_mut().enumerate() {
                let g = at + k;
                let (new, old) = (s.rate[g], s.old[g]);
                if (new - old).abs() <= old * 1e-12 {
                    // Recomputed, a rate may differ in its last bits: keep
                    // it, and the event already pending.
                    st.rate = old;
                } else {
                    st.rate = new;
                    kept = false;
                }
                if s.from[g] == Arrival::Upstream {
                    st.fill = s.arrive[g];
                }
            }
            s.kept.push(kept);
        }
    }
}
