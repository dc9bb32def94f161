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

use crate::fabric::units::Ps;

use super::flow_state::Flow;

/// Passes at most. A pass carries a change down every route, so rates
/// settle in a few unless flows feed back on one another through shared
/// links; rates that have not settled by then are scaled down to fit
/// every link.
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

/// One stage of a component's flow during a recomputation.
#[derive(Debug, Clone, Copy)]
struct Cell {
    from: Arrival,
    /// Bytes wait in front of it.
    backlog: bool,
    /// The current iterate, the next, the arrival rate, and the rate
    /// before this recomputation.
    rate: f64,
    next: f64,
    arrive: f64,
    old: f64,
}

/// One link of the component during a recomputation.
#[derive(Debug, Clone, Copy, Default)]
struct LinkCell {
    cap: f64,
    /// What arrives (bytes per ps), then the scale it serves arrivals at.
    load: f64,
    /// The parts of the stages with a queue in front of it, then the spare
    /// bandwidth each gets.
    queued: f64,
    /// What arrived in the last pass, and whether anything queued.
    arrived: f64,
    backlog: bool,
}

/// What a link carries as of its component's last recomputation, kept
/// until the next one.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LinkLoad {
    /// Bytes per ps arriving at it.
    pub load: f64,
    /// Whether a flow joining or leaving it changes other flows' rates:
    /// it is overloaded, bytes queue in front of it, or its component's
    /// rates had to be scaled to fit. Through a link that is not, every
    /// stage passes what reaches it, so a flow that fits alongside adds
    /// only its own load, and one that leaves takes only its own away.
    pub binding: bool,
}

/// Flows alike in a recomputation: the same links in the same parts,
/// and stage by stage the same arrivals, queues and rates so far. Their
/// rates come out alike, so they are computed once, the class weighing
/// on each link as its flows together.
#[derive(Debug, Clone, Copy)]
struct Class {
    /// Its stages, in `cells`.
    cells: usize,
    /// Its links crossed, in `entries` (in its first flow's order).
    entries: (usize, usize),
    /// Flows in it.
    weight: u32,
}

/// Classes looked among for one a flow belongs to (the latest ones: flows
/// alike tend to start together).
const CLASS_SEARCH: usize = 8;

/// Scratch space, kept between recomputations so they allocate nothing.
/// The passes run over flat copies of the component's stages and links,
/// so they touch no transfer.
pub(super) struct Scratch {
    /// Per link of the machine: its place among the component's links.
    local: Vec<u32>,
    links: Vec<LinkCell>,
    /// Per component flow, where its class's stages start in `cells`.
    first: Vec<usize>,
    cells: Vec<Cell>,
    /// Per link a class crosses: the link (component-local), the part of
    /// the class's flows on it (summed over them), its stage.
    entries: Vec<(u32, f64, u32)>,
    classes: Vec<Class>,
    /// Per component flow: whether its rates stayed as they were.
    pub kept: Vec<bool>,
}

impl Scratch {
    pub fn new(links: usize) -> Self {
        Scratch {
            local: vec![0; links],
            links: Vec::new(),
            first: Vec::new(),
            cells: Vec::new(),
            entries: Vec::new(),
            classes: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// Copies flow `f`'s stages and links in, unless a flow alike is
    /// already in: then `f` joins its class.
    fn add(&mut self, f: &Flow) {
        let at = self.cells.len();
        self.cells_of(f);
        let stages = self.cells.len() - at;
        let alike = self.classes.iter_mut().rev().take(CLASS_SEARCH).find(|c| {
            // Its entries are its first flow's links, parts and stages.
            let entries = &self.entries[c.entries.0..c.entries.1];
            entries.len() == f.res.len()
                && entries.iter().zip(&f.res).all(|(&(l, part, g), r)| {
                    l == self.local[r.link as usize]
                        && part == r.part
                        && g as usize == c.cells + usize::from(r.stage)
                })
                && self.cells[c.cells..c.cells + stages]
                    .iter()
                    .zip(&self.cells[at..])
                    .all(|(a, b)| a.alike(b))
        });
        if let Some(c) = alike {
            c.weight += 1;
            self.first.push(c.cells);
            self.cells.truncate(at);
            return;
        }
        self.first.push(at);
        let first_entry = self.entries.len();
        for r in &f.res {
            let g = (at + usize::from(r.stage)) as u32;
            self.entries.push((self.local[r.link as usize], r.part, g));
        }
        self.classes.push(Class {
            cells: at,
            entries: (first_entry, self.entries.len()),
            weight: 1,
        });
    }

    /// Each class's parts on its links, over all its flows.
    fn weigh(&mut self) {
        for c in &self.classes {
            if c.weight > 1 {
                for e in &mut self.entries[c.entries.0..c.entries.1] {
                    e.1 *= f64::from(c.weight);
                }
            }
        }
    }

    /// Pushes flow `f`'s stages as cells.
    fn cells_of(&mut self, f: &Flow) {
        for (k, st) in f.stages.iter().enumerate() {
            let done = f.done(k);
            let from = if done {
                Arrival::Done
            } else if k == 0 {
                Arrival::At(st.speed * f.sources() as f64)
            } else if f.done(k - 1) {
                Arrival::At(st.fill)
            } else {
                Arrival::Upstream
            };
            // From the rates as they were: most recomputations move few.
            let rate = match (done, st.rate > 0.0) {
                (true, _) => 0.0,
                (false, true) => st.rate,
                (false, false) => st.speed,
            };
            self.cells.push(Cell {
                from,
                backlog: k > 0 && !done && f.queue(k) > 0.0,
                rate,
                next: 0.0,
                arrive: 0.0,
                old: st.rate,
            });
        }
    }
}

impl Cell {
    /// Whether two stages of flows over the same links enter a
    /// recomputation alike (the first iterate follows from these and the
    /// links' speeds).
    fn alike(&self, other: &Cell) -> bool {
        self.from == other.from
            && self.backlog == other.backlog
            && self.old.to_bits() == other.old.to_bits()
    }
}

/// The arrival rate of stage `g` from where it comes, given the rate of
/// the stage before it (`upstream`, unread unless it comes from there).
fn arrival(from: Arrival, upstream: impl FnOnce() -> f64) -> f64 {
    match from {
        Arrival::Done => 0.0,
        Arrival::At(a) => a,
        Arrival::Upstream => upstream(),
    }
}

/// Sets the rates of every stage of `comp_flows`, the flows crossing
/// `comp_links` (bandwidths in `cap`, bytes per ps), from `now` on (each
/// flow is first brought up to it), and what each of the links carries
/// in `links`; `scratch.kept` says whose rates stayed as they were.
pub(super) fn set_rates<F: AsMut<Flow>>(
    s: &mut Scratch,
    cap: &[f64],
    comp_links: &[u32],
    comp_flows: &[u32],
    flows: &mut [F],
    now: Ps,
    links: &mut [LinkLoad],
) {
    s.first.clear();
    s.cells.clear();
    s.entries.clear();
    s.classes.clear();
    s.links.clear();
    for (i, &l) in comp_links.iter().enumerate() {
        s.local[l as usize] = i as u32;
        s.links.push(LinkCell {
            cap: cap[l as usize],
            ..LinkCell::default()
        });
    }
    for &x in comp_flows {
        let f = flows[x as usize].as_mut();
        f.advance(now);
        s.add(f);
    }
    s.weigh();
    let cells = &mut s.cells;
    for g in 0..cells.len() {
        cells[g].arrive = arrival(cells[g].from, || cells[g - 1].rate);
    }
    let mut settled = false;
    for _ in 0..MAX_PASSES {
        for lc in s.links.iter_mut() {
            (lc.load, lc.queued) = (0.0, 0.0);
        }
        for &(l, part, g) in &s.entries {
            let c = &cells[g as usize];
            let lc = &mut s.links[l as usize];
            lc.load += part * c.arrive;
            if c.backlog {
                lc.queued += part;
            }
        }
        for lc in s.links.iter_mut() {
            (lc.arrived, lc.backlog) = (lc.load, lc.queued > 0.0);
            // Reused: each link's scale, and the spare each queue gets.
            (lc.load, lc.queued) = if lc.load > lc.cap {
                (lc.cap / lc.load, 0.0)
            } else if lc.load < lc.cap && lc.queued > 0.0 {
                (1.0, (lc.cap - lc.load) / lc.queued)
            } else {
                (1.0, 0.0)
            };
        }
        // Stage by stage in route order (a flow's stages, and its
        // links, lie in order): a stage receives what the one before
        // passes in this very pass, so a change runs down a route in
        // one pass; the links' loads are the last pass's.
        let mut moved = false;
        let mut at = u32::MAX;
        for &(l, _, g) in &s.entries {
            if g != at {
                at = g;
                let g = g as usize;
                let a = arrival(cells[g].from, || cells[g - 1].next);
                let c = &mut cells[g];
                moved |= (a - c.arrive).abs() > c.arrive * 1e-12;
                c.arrive = a;
                c.next = if c.from == Arrival::Done {
                    0.0
                } else {
                    f64::INFINITY
                };
            }
            let c = &mut cells[g as usize];
            if c.from == Arrival::Done {
                continue;
            }
            let lc = &s.links[l as usize];
            let mut served = c.arrive * lc.load;
            if c.backlog {
                served += lc.queued;
            }
            if served < c.next {
                c.next = served;
            }
        }
        for c in cells.iter_mut() {
            // The rates follow from the loads and the arrivals: once
            // no arrival moves, the next pass would give these again.
            c.rate = if c.next.is_finite() { c.next } else { 0.0 };
        }
        if !moved {
            settled = true;
            break;
        }
    }
    if !settled {
        fit_links(&s.entries, cells, &mut s.links);
    }
    for (lc, &l) in s.links.iter().zip(comp_links) {
        links[l as usize] = LinkLoad {
            load: lc.arrived,
            binding: !settled || lc.backlog || lc.arrived > lc.cap,
        };
    }
    s.kept.clear();
    for (i, &x) in comp_flows.iter().enumerate() {
        let f = flows[x as usize].as_mut();
        let at = s.first[i];
        let mut kept = true;
        for (k, st) in f.stages.iter_mut().enumerate() {
            let c = &s.cells[at + k];
            let (new, old) = (c.rate, c.old);
            if (new - old).abs() <= old * 1e-12 {
                // Recomputed, a rate may differ in its last bits: keep
                // it, and the change already due.
                st.rate = old;
            } else {
                st.rate = new;
                kept = false;
            }
            if c.from == Arrival::Upstream {
                st.fill = c.arrive;
            }
        }
        s.kept.push(kept);
    }
}

/// Scales stages down so that no link carries more than its bandwidth:
/// each stage by the least ratio of bandwidth to use among its links.
fn fit_links(entries: &[(u32, f64, u32)], cells: &mut [Cell], links: &mut [LinkCell]) {
    for lc in links.iter_mut() {
        lc.load = 0.0;
    }
    for &(l, part, g) in entries {
        links[l as usize].load += part * cells[g as usize].rate;
    }
    for c in cells.iter_mut() {
        c.next = 1.0;
    }
    for &(l, _, g) in entries {
        let lc = &links[l as usize];
        if lc.load > lc.cap {
            let c = &mut cells[g as usize];
            c.next = c.next.min(lc.cap / lc.load);
        }
    }
    for c in cells.iter_mut() {
        c.rate *= c.next;
    }
}
