//! The discrete-event engine: integer-picosecond time, a monotone event
//! queue (`queue.rs`), per-link occupancy, and transfers between endpoints.
//!
//! A transfer is split into bursts (`hbm.burst_bytes`), cut per run when
//! its bytes lie in strided runs ([`Runs`]: a block of a row-major tensor),
//! and each burst maps to an HBM pseudo-channel by its own address
//! (`transfer.rs`). In burst mode (the reference) the source injects one
//! burst at a time, the next as soon as the first link has serialized the
//! previous one, so concurrent transfers interleave on shared links, and
//! each burst crosses its route cut-through, first come, first served on
//! every link (`burst.rs`). Contention, head-of-line blocking and
//! back-to-back serialization follow from these rules alone.
//!
//! In flow mode (`sim.network: flow`, [`Network::Flow`]) a transfer is one
//! flow instead, stage by stage along its route, queued and served as
//! burst mode's links would serve its bursts (`flow.rs`, `flow_state.rs`,
//! `flow_rates.rs`, `flow_steps.rs`); fixed costs are charged as in burst
//! mode.
//!
//! Routes are computed once per pair of places and shared (`routes.rs`).

mod burst;
mod due;
mod flow;
mod flow_rates;
mod flow_state;
mod flow_steps;
mod queue;
mod routes;
mod transfer;

use std::collections::HashMap;
use std::sync::Arc;

pub use queue::EventQueue;
pub use transfer::{HopTime, Runs, TransferError, TransferId, TransferReport};

use crate::fabric::addr::Endpoint;
use crate::fabric::machine::Machine;
use crate::fabric::topology::Network;
use crate::fabric::units::Ps;

use flow::{Finish, FlowNet};
use routes::{FnvBuild, RouteCache};
use transfer::{Spare, Transfer};

/// What the engine does at a point in time.
#[derive(Debug, Clone, Copy)]
enum Event<T> {
    /// The source of a transfer injects its next burst.
    Inject { xfer: u32 },
    /// The head of a burst arrives at the input of hop `hop`; its tail
    /// arrives at `tail`.
    Hop {
        xfer: u32,
        burst: u32,
        hop: u16,
        tail: Ps,
    },
    /// The last byte of a transfer has arrived.
    Done { xfer: u32 },
    /// A flow's next change is due (never queued: flow mode keeps one due
    /// time per flow beside the queue, `due.rs`).
    FlowChange { xfer: u32 },
    /// A timer set by the model driving the simulation.
    Timer { token: T },
}

/// What the engine reports to the model driving it (the PE pipeline, the
/// host runtime): a transfer it started has completed, or a timer it set
/// has expired. `token` is the caller's, returned unchanged: the engine
/// never looks inside it, so each model speaks in its own event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice<T> {
    /// A transfer started with `token` has delivered its last byte.
    TransferDone {
        /// The transfer (a read's request id).
        id: TransferId,
        /// The caller's token.
        token: T,
    },
    /// A timer set with `token` has expired.
    Timer {
        /// The caller's token.
        token: T,
    },
}

impl<T: Copy> Notice<T> {
    /// The caller's token, whichever kind of notice it is.
    pub fn token(&self) -> T {
        match *self {
            Notice::TransferDone { token, .. } | Notice::Timer { token } => token,
        }
    }
}

/// One simulation over a machine: time, pending events, link occupancy and
/// the transfers started so far. `T` is the token the driving model
/// attaches to what it starts and gets back in each [`Notice`]; a plain
/// `Sim` carries none.
pub struct Sim<T = ()> {
    machine: Arc<Machine>,
    queue: EventQueue<Event<T>>,
    /// Time of the last event processed.
    clock: Ps,
    /// Per link, the time it finishes serializing what it has accepted.
    link_free: Vec<Ps>,
    /// Per link, the time to serialize a full burst (most bursts are).
    full_burst_ps: Vec<Ps>,
    burst: u64,
    transfers: Vec<Transfer<T>>,
    /// Slots of finished transfers, reused when reports are not kept.
    free: Vec<u32>,
    keep: bool,
    events: u64,
    /// Flow-mode link shares (`None` in burst mode).
    flows: Option<FlowNet>,
    finishes: Vec<Finish>,
    /// Scratch: the transfers of a flow that drained at one change.
    drained_now: Vec<u32>,
    routes: RouteCache,
    /// Flow mode: per route, the transfer holding the flow that the
    /// route's next posted send joins.
    posted_last: HashMap<usize, u32, FnvBuild>,
    /// Scratch: a flow's bytes per HBM lane.
    lane_bytes: Vec<u64>,
    /// Allocations of transfers whose slots were reused.
    spare: Vec<Spare>,
}

impl Sim {
    /// A simulation at time 0 with idle links, whose transfers carry no
    /// token (see [`Sim::tagged`]).
    pub fn new(machine: Arc<Machine>) -> Self {
        Self::tagged(machine)
    }

    /// Starts moving `bytes` from `src` to `dst` at time `at`, after a fixed
    /// `setup_ps` (descriptor setup of the initiating DMA engine).
    pub fn start_copy(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        bytes: u64,
        setup_ps: Ps,
        at: Ps,
    ) -> Result<TransferId, TransferError> {
        self.start_copy_tagged(src, dst, bytes, setup_ps, at, ())
    }

    /// Starts a read: `requester` sends a request packet of
    /// `host.read_request_bytes` to `target`, which then streams `bytes`
    /// back. The returned id reports the whole round trip.
    pub fn start_read(
        &mut self,
        requester: Endpoint,
        target: Endpoint,
        bytes: u64,
        setup_ps: Ps,
        at: Ps,
    ) -> Result<TransferId, TransferError> {
        self.start_read_tagged(requester, target, bytes, setup_ps, at, ())
    }
}

impl<T: Copy> Sim<T> {
    /// A simulation at time 0 with idle links, whose notices carry the
    /// driving model's tokens of type `T`.
    pub fn tagged(machine: Arc<Machine>) -> Self {
        let links = machine.links.len();
        let burst = machine.topo.hbm.burst_bytes;
        let full_burst_ps = machine.links.iter().map(|l| l.bw.ser_ps(burst)).collect();
        let flows = match machine.topo.sim.network {
            Network::Burst => None,
            Network::Flow => Some(FlowNet::new(&machine.links)),
        };
        Sim {
            flows,
            finishes: Vec::new(),
            drained_now: Vec::new(),
            routes: RouteCache::default(),
            posted_last: HashMap::default(),
            lane_bytes: Vec::new(),
            spare: Vec::new(),
            machine,
            queue: EventQueue::new(),
            clock: 0,
            link_free: vec![0; links],
            full_burst_ps,
            burst,
            transfers: Vec::new(),
            free: Vec::new(),
            keep: true,
            events: 0,
        }
    }

    /// The machine simulated.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Current simulated time.
    pub fn now(&self) -> Ps {
        self.clock
    }

    /// Events processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// A transfer, made a flow in flow mode; a posted one returns
    /// `on_injected` when its bytes have left.
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        runs: Runs,
        setup_ps: Ps,
        at: Ps,
        token: T,
        on_injected: Option<T>,
    ) -> Result<Transfer<T>, TransferError> {
        let route = self.routes.get(&self.machine, src, dst)?;
        let spare = self.spare.pop().unwrap_or_default();
        let mut t = Transfer::new(
            &self.machine,
            route,
            src,
            dst,
            runs,
            setup_ps,
            at,
            token,
            spare,
        )?;
        t.on_injected = on_injected;
        // A lone burst goes through the burst model; only a posted one
        // needs its lane shares, to join a flow along its route.
        if self.flows.is_some() && (t.n_bursts > 1 || on_injected.is_some()) {
            t.as_flow(&mut self.lane_bytes);
        }
        Ok(t)
    }

    /// Starts moving `bytes` from `src` to `dst` at time `at`, after a fixed
    /// `setup_ps` (descriptor setup of the initiating DMA engine); `token`
    /// comes back in its [`Notice::TransferDone`].
    pub fn start_copy_tagged(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        bytes: impl Into<Runs>,
        setup_ps: Ps,
        at: Ps,
        token: T,
    ) -> Result<TransferId, TransferError> {
        self.copy(src, dst, bytes.into(), setup_ps, at, token, None)
    }

    /// [`Self::start_copy_tagged`] for a posted write: besides the
    /// completion notice, `injected` comes back as a [`Notice::Timer`] when
    /// the last burst has been serialized onto the first link — when the
    /// sender's engine is free again while the data is still in flight.
    /// (From an HBM source the first hop is the pseudo-channels: the timer
    /// follows the last burst sent, not the last of its lanes to finish.)
    #[allow(clippy::too_many_arguments)]
    pub fn start_copy_posted(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        bytes: impl Into<Runs>,
        setup_ps: Ps,
        at: Ps,
        injected: T,
        token: T,
    ) -> Result<TransferId, TransferError> {
        self.copy(src, dst, bytes.into(), setup_ps, at, token, Some(injected))
    }

    #[allow(clippy::too_many_arguments)]
    fn copy(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        runs: Runs,
        setup_ps: Ps,
        at: Ps,
        token: T,
        on_injected: Option<T>,
    ) -> Result<TransferId, TransferError> {
        let t = self.transfer(src, dst, runs, setup_ps, at, token, on_injected)?;
        Ok(self.launch(t))
    }

    /// Sets a timer: [`Self::next_notice`] returns `Notice::Timer { token }` at `at`.
    pub fn schedule(&mut self, at: Ps, token: T) {
        // Never into the past (the queue's own clock may lag a flow change).
        self.queue.push(at.max(self.clock), Event::Timer { token });
    }

    /// Starts a read: `requester` sends a request packet of
    /// `host.read_request_bytes` to `target`, which then streams `bytes`
    /// back. The returned id reports the whole round trip; `token` comes
    /// back in its [`Notice::TransferDone`].
    pub fn start_read_tagged(
        &mut self,
        requester: Endpoint,
        target: Endpoint,
        bytes: impl Into<Runs>,
        setup_ps: Ps,
        at: Ps,
        token: T,
    ) -> Result<TransferId, TransferError> {
        let req_bytes = Runs::contiguous(self.machine.topo.host.read_request_bytes);
        let data = self.transfer(target, requester, bytes.into(), 0, at, token, None)?;
        let mut req = self.transfer(requester, target, req_bytes, setup_ps, at, token, None)?;
        let data_id = self.insert(data);
        req.then = Some(data_id);
        let req_id = self.launch(req);
        self.transfers[data_id as usize].head = req_id.0;
        Ok(req_id)
    }

    fn launch(&mut self, t: Transfer<T>) -> TransferId {
        let at = t.start + t.setup_ps;
        let id = self.insert(t);
        self.transfers[id as usize].head = id;
        self.queue
            .push(at.max(self.clock), Event::Inject { xfer: id });
        TransferId(id)
    }

    /// Stores a transfer, in a finished one's slot when reports are not kept.
    fn insert(&mut self, t: Transfer<T>) -> u32 {
        match self.free.pop() {
            Some(i) => {
                let old = std::mem::replace(&mut self.transfers[i as usize], t);
                self.spare.push(old.into_spare());
                i
            }
            None => {
                self.transfers.push(t);
                (self.transfers.len() - 1) as u32
            }
        }
    }

    /// Whether finished transfers stay available to [`Self::report`]
    /// (the default). A long-running model that only needs completion
    /// notices turns this off, so memory follows what is in flight.
    pub fn keep_reports(&mut self, keep: bool) {
        self.keep = keep;
    }

    /// Runs until no event remains; returns the time of the last event.
    pub fn run(&mut self) -> Ps {
        while self.next_notice().is_some() {}
        self.clock
    }

    /// Abandons everything in flight (after a failed launch): pending events
    /// are dropped, so nothing of it leaks into what runs next. Links keep
    /// the occupancy already granted; time does not go back.
    pub fn abort(&mut self) {
        self.queue.clear();
        if let Some(f) = &mut self.flows {
            f.clear();
        }
        self.posted_last.clear();
        if !self.keep {
            self.transfers.clear();
            self.free.clear();
        }
    }

    /// Processes events up to and including the next one the driving model
    /// must see; `None` when no event remains.
    pub fn next_notice(&mut self) -> Option<(Ps, Notice<T>)> {
        while let Some((now, ev)) = self.next_event() {
            self.clock = now;
            self.events += 1;
            if let Some(n) = self.step(now, ev) {
                return Some((now, n));
            }
        }
        None
    }

    fn step(&mut self, now: Ps, ev: Event<T>) -> Option<Notice<T>> {
        match ev {
            Event::Inject { xfer } => self.inject(now, xfer),
            Event::Hop {
                xfer,
                burst,
                hop,
                tail,
            } => self.hop(now, xfer, burst, hop, tail),
            Event::Done { xfer } => return self.done(now, xfer),
            Event::FlowChange { xfer } => self.flow_change(now, xfer),
            Event::Timer { token } => return Some(Notice::Timer { token }),
        }
        None
    }

    fn inject(&mut self, now: Ps, xfer: u32) {
        let t = &mut self.transfers[xfer as usize];
        let burst = t.injected;
        t.injected += 1;
        t.source.touch(now, now);
        if t.route.hops.is_empty() {
            // Source and destination are the same node: nothing moves.
            if let Some(token) = t.on_injected {
                self.queue.push(now, Event::Timer { token });
            }
            self.queue.push(now, Event::Done { xfer });
        } else if self.flows.is_some() {
            self.inject_flow(now, xfer);
        } else {
            self.queue.push(
                now,
                Event::Hop {
                    xfer,
                    burst,
                    hop: 0,
                    tail: now,
                },
            );
        }
    }

    fn done(&mut self, now: Ps, xfer: u32) -> Option<Notice<T>> {
        let t = &mut self.transfers[xfer as usize];
        t.done_at = Some(now);
        match t.then {
            Some(next) => {
                let n = &mut self.transfers[next as usize];
                n.start = now;
                let at = now + n.setup_ps;
                self.queue.push(at, Event::Inject { xfer: next });
                None
            }
            None => {
                // A read reports under its request's id, the one its caller holds.
                let (head, token) = (t.head, t.token);
                if !self.keep {
                    self.free.push(xfer);
                    if head != xfer {
                        self.free.push(head);
                    }
                }
                Some(Notice::TransferDone {
                    id: TransferId(head),
                    token,
                })
            }
        }
    }

    /// What happened to a transfer; `None` until it has completed.
    pub fn report(&self, id: TransferId) -> Option<TransferReport> {
        transfer::report(&self.transfers, id)
    }
}
