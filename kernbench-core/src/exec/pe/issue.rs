//! A running program and pe_cpu's issue loop: commands leave in order, one
//! per issue interval, each to its engine's in-order queue, and start when
//! their engine has room and the scoreboard allows.

use crate::dsl::{BlockRef, Command, CommandStream, MathArg};
use crate::fabric::addr::{Endpoint, PhysAddr};
use crate::fabric::engine::Runs;
use crate::fabric::units::Ps;

use super::deps::{self, Deps};
use super::gemm::GemmRun;
use super::layout::block_runs;
use super::{command_error, ExecError, Executor, PeEvent};

/// The engines a command can go to. IPCQ sends and receives are separate
/// in-order queues so a rank can send and receive at once (links are full
/// duplex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Engine {
    Dma,
    Gemm,
    Math,
    Send,
    Recv,
}

impl Engine {
    /// Every engine, in the order the issue loop visits them.
    pub const ALL: [Engine; 5] = [
        Engine::Dma,
        Engine::Gemm,
        Engine::Math,
        Engine::Send,
        Engine::Recv,
    ];

    /// The engine a command runs on.
    pub fn of(c: &Command) -> Engine {
        match c {
            Command::DmaRead { .. } | Command::DmaWrite { .. } => Engine::Dma,
            Command::Gemm(_) => Engine::Gemm,
            Command::Math(_) => Engine::Math,
            Command::IpcqSend { .. } => Engine::Send,
            Command::IpcqRecv { .. } => Engine::Recv,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

const ENGINES: usize = Engine::ALL.len();

/// The program a PE is running.
pub(super) struct Running {
    pub stream: CommandStream,
    deps: Deps,
    pub done: Vec<bool>,
    pub started: Vec<Ps>,
    pub n_done: usize,
    issue0: Ps,
    /// Per engine, its commands in stream order.
    pub queues: [Vec<u32>; ENGINES],
    /// Per engine, how many of its commands have started.
    pub cursor: [usize; ENGINES],
    pub in_flight: [u32; ENGINES],
    /// The GEMM in progress, while its operand tiles stream in.
    pub gemm: Option<GemmRun>,
    /// The message the receive in progress copies out.
    pub recv_data: Vec<f32>,
    /// The send being injected: its queue and place in it.
    pub sending: Option<(usize, u32)>,
    /// When a wake-up to issue more is already scheduled.
    pub pump_at: Option<Ps>,
}

impl Running {
    /// When the program started: none of its commands starts earlier.
    pub fn started_at(&self) -> Ps {
        self.issue0
    }

    /// No record still to come from this program starts before this, at
    /// `now`: commands not yet started start at `now` or later, and those
    /// in flight started when they did.
    pub fn horizon(&self, now: Ps) -> Ps {
        let mut h = now;
        for e in 0..ENGINES {
            let mut open = self.in_flight[e];
            for &c in self.queues[e][..self.cursor[e]].iter().rev() {
                if open == 0 {
                    break;
                }
                if !self.done[c as usize] {
                    h = h.min(self.started[c as usize]);
                    open -= 1;
                }
            }
        }
        h
    }

    pub fn new(stream: CommandStream, issue0: Ps) -> Self {
        let deps = deps::analyse(&stream);
        let n = stream.commands.len();
        let mut queues: [Vec<u32>; ENGINES] = Default::default();
        for (i, c) in stream.commands.iter().enumerate() {
            queues[Engine::of(c).index()].push(i as u32);
        }
        Running {
            stream,
            deps,
            done: vec![false; n],
            started: vec![0; n],
            n_done: 0,
            issue0,
            queues,
            cursor: [0; ENGINES],
            in_flight: [0; ENGINES],
            gemm: None,
            recv_data: Vec::new(),
            sending: None,
            pump_at: None,
        }
    }
}

impl Executor<'_> {
    /// Starts every command that can start now on the PE in `slot`.
    pub(super) fn pump(&mut self, slot: usize, now: Ps) -> Result<(), ExecError> {
        let mut wake = Ps::MAX;
        for e in Engine::ALL {
            let e = e.index();
            loop {
                let Some(r) = self.slots[slot].cur.as_mut() else {
                    return Ok(());
                };
                let Some(&c) = r.queues[e].get(r.cursor[e]) else {
                    break;
                };
                let cap = if e == Engine::Dma.index() {
                    self.costs.dma_outstanding
                } else {
                    1
                };
                if r.in_flight[e] >= cap {
                    break;
                }
                let issued = r.issue0 + (u64::from(c) + 1) * self.costs.issue;
                if issued > now {
                    wake = wake.min(issued);
                    break;
                }
                if !r.deps.of(c as usize).iter().all(|&d| r.done[d as usize]) {
                    break;
                }
                r.cursor[e] += 1;
                r.in_flight[e] += 1;
                r.started[c as usize] = now;
                self.start(slot, c as usize, now)?;
            }
        }
        if let Some(r) = self.slots[slot].cur.as_mut() {
            if wake != Ps::MAX && r.pump_at.is_none_or(|p| wake < p) {
                r.pump_at = Some(wake);
                self.sim.schedule(wake, PeEvent::Pump { slot: slot as u32 });
            }
        }
        Ok(())
    }

    /// Hands command `c` to its engine.
    fn start(&mut self, slot: usize, c: usize, now: Ps) -> Result<(), ExecError> {
        let s = &mut self.slots[slot];
        let Some(r) = s.cur.as_mut() else {
            return Ok(());
        };
        let done = PeEvent::Done {
            slot: slot as u32,
            cmd: c as u32,
        };
        // Where a DMA's tensor block starts and how its valid part lies.
        let block = |b: &BlockRef| {
            PhysAddr::decode(b.tensor.elem_addr(b.origin[0], b.origin[1]), &self.topo)
                .map(|at| (at, block_runs(b, b.valid)))
                .map_err(|e| command_error(&s.name, Some(&r.stream), c, e.to_string()))
        };
        match &r.stream.commands[c] {
            Command::DmaRead { src, dst, .. } => {
                // A read: the request goes to the block, the data comes back.
                let to = s.home.addr(&r.stream.buffers[dst.index()]);
                let (from, runs) = block(src)?;
                self.dma(from, to, runs, true, now, done)
            }
            Command::DmaWrite { src, dst } => {
                let from = s.home.addr(&r.stream.buffers[src.index()]);
                let (to, runs) = block(dst)?;
                self.dma(from, to, runs, false, now, done)
            }
            Command::Math(m) => {
                let out = r.stream.buffers[m.out.index()];
                let mut elems = (out.shape[0] * out.shape[1]) as u64;
                for a in &m.args {
                    if let MathArg::Buf(id) = a {
                        let b = r.stream.buffers[id.index()];
                        elems = elems.max((b.shape[0] * b.shape[1]) as u64);
                    }
                }
                self.sim.schedule(now + self.costs.math(elems), done);
                Ok(())
            }
            Command::Gemm(g) => {
                let g = *g;
                self.start_gemm(slot, c, g, now)
            }
            Command::IpcqSend { peer, .. } => {
                let peer = *peer;
                self.admit(slot, c as u32, peer, true, now)
            }
            Command::IpcqRecv { peer, .. } => {
                let peer = *peer;
                self.admit(slot, c as u32, peer, false, now)
            }
        }
    }

    /// Starts a DMA command's transfer (a request and the data for a read);
    /// a fully masked block moves nothing and completes at once.
    fn dma(
        &mut self,
        from: PhysAddr,
        to: PhysAddr,
        runs: Runs,
        read: bool,
        now: Ps,
        done: PeEvent,
    ) -> Result<(), ExecError> {
        let (from, to, setup) = (Endpoint::Mem(from), Endpoint::Mem(to), self.costs.dma_setup);
        match (runs.bytes(), read) {
            (0, _) => self.sim.schedule(now, done),
            (_, true) => {
                self.sim
                    .start_read_tagged(to, from, runs, setup, now, done)?;
            }
            (_, false) => {
                self.sim
                    .start_copy_tagged(from, to, runs, setup, now, done)?;
            }
        }
        Ok(())
    }
}
