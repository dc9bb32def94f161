//! The PE pipeline: executes traced command streams on the machine.
//!
//! Per PE, pe_cpu issues commands in order (one every `pe_cpu.issue_ns`);
//! each goes to its engine — DMA, GEMM, MATH, IPCQ — and engines run
//! concurrently. An engine starts its commands in order; a command starts
//! once issued, once its engine has room (DMA keeps `pe_dma.outstanding`
//! transfers in flight, the others one command) and once the scoreboard
//! says its operands are ready (`deps.rs`). DMA traffic and the GEMM
//! pipeline's operand streaming are transfers on the shared fabric, so PEs
//! contend for links and HBM pseudo-channels. Several programs mapped to
//! one PE run back to back.

mod data;
mod deps;
mod gemm;
mod ipcq;

use std::collections::VecDeque;

use crate::addr::{AddrError, Endpoint, PhysAddr, Space as AddrSpace};
use crate::dsl::{BlockRef, Command, CommandStream};
use crate::engine::{Notice, Sim};
use crate::memory::DeviceMemory;
use crate::oplog::{Lane, OpLog, OpRecord, RecordKind};
use crate::ring::{BufferKind, Ring};
use crate::route::RouteError;
use crate::topology::Topology;
use crate::units::{ns_to_ps, Ps};

use data::BufferHome;
use deps::Deps;
use gemm::GemmRun;
use ipcq::Ipcq;

/// A PE's place in the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeLoc {
    /// SIP index.
    pub sip: u32,
    /// Cube index within the SIP.
    pub cube: u32,
    /// PE index within the cube.
    pub pe: u32,
}

impl PeLoc {
    /// Index of the PE over the whole machine: PEs of a cube, then cubes,
    /// then SIPs.
    pub fn global(&self, topo: &Topology) -> u32 {
        (self.sip * topo.cubes_per_sip() + self.cube) * topo.system.pes_per_cube + self.pe
    }

    /// Inverse of [`Self::global`].
    pub fn from_global(g: u32, topo: &Topology) -> Self {
        let pes = topo.system.pes_per_cube;
        let cubes = topo.cubes_per_sip();
        PeLoc {
            sip: g / (pes * cubes),
            cube: (g / pes) % cubes,
            pe: g % pes,
        }
    }

    /// The PE's TCM at `offset`.
    pub fn tcm(&self, offset: u64) -> PhysAddr {
        PhysAddr {
            sip: self.sip,
            cube: self.cube,
            space: AddrSpace::Tcm { pe: self.pe },
            offset,
        }
    }
}

/// Why a launch could not run to completion.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A command failed while running (e.g. a received IPCQ message does not
    /// match the receive buffer's shape or dtype).
    #[error("kernel `{kernel}` on {pe}: command #{cmd} `{text}`: {reason}")]
    Command {
        /// Name of the kernel.
        kernel: String,
        /// Name of the PE's node in the machine.
        pe: String,
        /// Index of the command in its program's stream.
        cmd: usize,
        /// The command as text.
        text: String,
        /// Why it failed.
        reason: String,
    },
    /// No event remains but PEs still wait (e.g. on a receive no rank sends
    /// to).
    #[error("deadlock: no event remains but PEs still wait:\n{}", waiting.join("\n"))]
    Deadlock {
        /// One line per stuck PE: what it is waiting on.
        waiting: Vec<String>,
    },
    /// A transfer found no route through the fabric.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// A command names memory that does not exist on the topology.
    #[error(transparent)]
    Addr(#[from] AddrError),
}

/// One program instance to run on a PE.
#[derive(Debug, Clone)]
pub struct Program {
    /// The traced commands, run in order.
    pub stream: CommandStream,
}

/// Costs the executor needs, in ps, read once from the topology.
#[derive(Debug, Clone, Copy)]
struct Costs {
    issue: Ps,
    dma_setup: Ps,
    math_overhead: Ps,
    math_elems_per_ns: f64,
    dma_outstanding: u32,
    launch: Ps,
    m_cpu: Ps,
    host_setup: Ps,
    launch_bytes: u64,
    ipcq: Ps,
}

impl Costs {
    fn new(t: &Topology) -> Self {
        Costs {
            issue: ns_to_ps(t.pe_cpu.issue_ns),
            dma_setup: ns_to_ps(t.pe_dma.setup_ns),
            math_overhead: ns_to_ps(t.pe_math.overhead_ns),
            math_elems_per_ns: t.pe_math.elems_per_ns,
            dma_outstanding: t.pe_dma.outstanding,
            launch: ns_to_ps(t.pe_cpu.launch_ns),
            m_cpu: ns_to_ps(t.io_chiplet.m_cpu_overhead_ns),
            host_setup: ns_to_ps(t.host.dma_setup_ns),
            launch_bytes: t.pe_cpu.launch_bytes,
            ipcq: ns_to_ps(t.ipcq.overhead_ns),
        }
    }
}

// Engine queues. IPCQ sends and receives are separate in-order queues so a
// rank can send and receive at once (links are full duplex).
const DMA: usize = 0;
const GEMM: usize = 1;
const MATH: usize = 2;
const SEND: usize = 3;
const RECV: usize = 4;
const ENGINES: usize = 5;

fn engine_of(c: &Command) -> usize {
    match c {
        Command::DmaRead { .. } | Command::DmaWrite { .. } => DMA,
        Command::Gemm(_) => GEMM,
        Command::Math(_) => MATH,
        Command::IpcqSend { .. } => SEND,
        Command::IpcqRecv { .. } => RECV,
    }
}

// Notice tokens: kind in the top byte, the PE's slot, then a payload.
const LAUNCH: u64 = 1;
const PUMP: u64 = 2;
const DONE: u64 = 3;
const TILE: u64 = 4;
const SENT: u64 = 5;
const RECEIVED: u64 = 6;
const FETCHED: u64 = 7;

fn token(kind: u64, slot: usize, payload: u32) -> u64 {
    (kind << 56) | ((slot as u64) << 32) | u64::from(payload)
}

fn untoken(t: u64) -> (u64, usize, u32) {
    (t >> 56, ((t >> 32) & 0xff_ffff) as usize, t as u32)
}

/// The program a PE is running.
struct Running {
    stream: CommandStream,
    deps: Deps,
    done: Vec<bool>,
    started: Vec<Ps>,
    n_done: usize,
    issue0: Ps,
    queues: [Vec<u32>; ENGINES],
    cursor: [usize; ENGINES],
    in_flight: [u32; ENGINES],
    gemm: Option<GemmRun>,
    /// The message the receive in progress copies out.
    recv_data: Vec<f32>,
    tile_bytes: Vec<u64>,
    tiles_in_flight: u32,
    pump_at: Option<Ps>,
}

impl Running {
    fn new(stream: CommandStream, issue0: Ps) -> Self {
        let deps = deps::analyse(&stream);
        let n = stream.commands.len();
        let mut queues: [Vec<u32>; ENGINES] = Default::default();
        for (i, c) in stream.commands.iter().enumerate() {
            queues[engine_of(c)].push(i as u32);
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
            tile_bytes: Vec::new(),
            tiles_in_flight: 0,
            pump_at: None,
        }
    }
}

struct Slot {
    loc: PeLoc,
    global: u32,
    home: BufferHome,
    name: String,
    pending: VecDeque<Program>,
    cur: Option<Running>,
    finished_at: Option<Ps>,
    /// Ring rank of the programs on this PE (collective launches).
    rank: usize,
}

/// Runs a launch: programs already traced and mapped onto PEs.
pub struct Executor<'a> {
    sim: &'a mut Sim,
    mem: Option<&'a mut DeviceMemory>,
    log: &'a mut OpLog,
    topo: Topology,
    costs: Costs,
    slots: Vec<Slot>,
    ipcq: Option<Ipcq>,
    /// When the first program started.
    first_start: Ps,
}

/// When a launch's programs ran: the first started, the last finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// When the first program started, ps of simulated time.
    pub first_start: Ps,
    /// When the last program finished, ps of simulated time.
    pub end: Ps,
}

impl<'a> Executor<'a> {
    /// `work` maps each PE to the programs it runs, in order;
    /// `sram_window` is each PE's share of its cube's SRAM for kernel
    /// buffers; `ring`, for collectives, says which PE is which rank.
    pub fn new(
        sim: &'a mut Sim,
        mem: Option<&'a mut DeviceMemory>,
        log: &'a mut OpLog,
        work: Vec<(PeLoc, Vec<Program>)>,
        sram_window: u64,
        ring: Option<(&Ring, BufferKind)>,
    ) -> Self {
        let topo = sim.machine().topo.clone();
        let slots = work
            .into_iter()
            .map(|(loc, progs)| Slot {
                loc,
                global: loc.global(&topo),
                home: BufferHome {
                    pe: loc,
                    sram_base: u64::from(loc.pe) * sram_window,
                },
                name: sim
                    .machine()
                    .node_name(sim.machine().pe(loc.sip, loc.cube, loc.pe)),
                rank: ring
                    .and_then(|(r, _)| r.pes.iter().position(|p| *p == loc))
                    .unwrap_or(0),
                pending: progs.into(),
                cur: None,
                finished_at: None,
            })
            .collect();
        let ipcq = ring.map(|(r, kind)| Ipcq::new(r.pes.clone(), kind, topo.ipcq.depth));
        Executor {
            costs: Costs::new(&topo),
            topo,
            sim,
            mem,
            log,
            slots,
            ipcq,
            first_start: Ps::MAX,
        }
    }

    /// Sends every PE its launch descriptor from the host at `at`, runs all
    /// programs, and returns when they ran.
    pub fn run(mut self, at: Ps) -> Result<Span, ExecError> {
        for i in 0..self.slots.len() {
            let dst = Endpoint::Mem(self.slots[i].loc.tcm(0));
            let (bytes, setup) = (self.costs.launch_bytes, self.costs.host_setup);
            self.sim.start_copy_tagged(
                Endpoint::Host,
                dst,
                bytes,
                setup,
                at,
                token(LAUNCH, i, 0),
            )?;
        }
        while let Some((now, notice)) = self.sim.next_notice() {
            let tok = match notice {
                Notice::TransferDone { token, .. } | Notice::Timer { token } => token,
            };
            let (kind, slot, payload) = untoken(tok);
            match kind {
                LAUNCH => {
                    let start = now + self.costs.m_cpu + self.costs.launch;
                    self.next_program(slot, start);
                }
                PUMP => {
                    if let Some(r) = self.slots[slot].cur.as_mut() {
                        r.pump_at = None;
                    }
                    self.pump(slot, now)?;
                }
                DONE => self.complete(slot, payload as usize, now)?,
                TILE => self.tile_part_done(slot, payload, now)?,
                FETCHED => self.tile_fetched(slot, now)?,
                SENT => self.sent(slot, payload, now)?,
                RECEIVED => self.received(slot, payload, now)?,
                _ => {}
            }
        }
        let waiting: Vec<String> = self
            .slots
            .iter()
            .filter(|s| s.finished_at.is_none())
            .map(|s| self.describe_stall(s))
            .collect();
        if !waiting.is_empty() {
            return Err(ExecError::Deadlock { waiting });
        }
        let end = self
            .slots
            .iter()
            .filter_map(|s| s.finished_at)
            .max()
            .unwrap_or(at);
        Ok(Span {
            first_start: self.first_start.min(end),
            end,
        })
    }

    fn describe_stall(&self, s: &Slot) -> String {
        let Some(r) = &s.cur else {
            return format!("  {} never started", s.name);
        };
        let slot = self
            .slots
            .iter()
            .position(|x| std::ptr::eq(x, s))
            .unwrap_or(0);
        let blocked = self
            .ipcq
            .as_ref()
            .and_then(|q| q.blocked(slot).map(|b| (q, b)));
        let (cmd, what) = match blocked {
            Some((q, (peer, message))) => {
                let e = if message { RECV } else { SEND };
                let cmd = r.queues[e]
                    .get(r.cursor[e].saturating_sub(1))
                    .copied()
                    .unwrap_or(0) as usize;
                let who = q.ranks[peer];
                let name = self
                    .sim
                    .machine()
                    .node_name(self.sim.machine().pe(who.sip, who.cube, who.pe));
                let what = if message {
                    format!("waits for a message from rank {peer} ({name})")
                } else {
                    format!("waits for a free slot in its queue to rank {peer} ({name})")
                };
                (cmd, what)
            }
            None => (
                r.done.iter().position(|d| !d).unwrap_or(0),
                "is stalled".to_string(),
            ),
        };
        format!(
            "  rank {} on {} ({}) {what} at command #{cmd} `{}`",
            s.rank,
            s.name,
            r.stream.program,
            r.stream.command_text(cmd)
        )
    }

    fn next_program(&mut self, slot: usize, start: Ps) {
        let s = &mut self.slots[slot];
        match s.pending.pop_front() {
            Some(p) => {
                self.first_start = self.first_start.min(start);
                s.cur = Some(Running::new(p.stream, start));
                self.sim.schedule(start, token(PUMP, slot, 0));
            }
            None => {
                s.cur = None;
                s.finished_at = Some(start.saturating_sub(self.costs.launch));
            }
        }
    }

    fn cmd_error(&self, slot: usize, cmd: usize, reason: String) -> ExecError {
        let s = &self.slots[slot];
        let (kernel, text) = match &s.cur {
            Some(r) => (r.stream.kernel.clone(), r.stream.command_text(cmd)),
            None => (String::new(), String::new()),
        };
        ExecError::Command {
            kernel,
            pe: s.name.clone(),
            cmd,
            text,
            reason,
        }
    }

    /// Starts every command that can start now on the PE in `slot`.
    fn pump(&mut self, slot: usize, now: Ps) -> Result<(), ExecError> {
        let mut wake = Ps::MAX;
        for e in 0..ENGINES {
            loop {
                let Some(r) = self.slots[slot].cur.as_mut() else {
                    return Ok(());
                };
                let Some(&c) = r.queues[e].get(r.cursor[e]) else {
                    break;
                };
                let cap = if e == DMA {
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
                self.sim.schedule(wake, token(PUMP, slot, 0));
            }
        }
        Ok(())
    }

    /// Where a block's first element lives.
    fn block_addr(&self, slot: usize, c: usize, b: &BlockRef) -> Result<PhysAddr, ExecError> {
        PhysAddr::decode(b.tensor.elem_addr(b.origin[0], b.origin[1]), &self.topo)
            .map_err(|e| self.cmd_error(slot, c, e.to_string()))
    }

    /// Starts a DMA command's transfer (a request and the data for a read);
    /// a fully masked block moves nothing and completes at once.
    fn dma(
        &mut self,
        from: PhysAddr,
        to: PhysAddr,
        bytes: u64,
        read: bool,
        now: Ps,
        tok: u64,
    ) -> Result<(), ExecError> {
        let (from, to, setup) = (Endpoint::Mem(from), Endpoint::Mem(to), self.costs.dma_setup);
        match (bytes, read) {
            (0, _) => self.sim.schedule(now, tok),
            (b, true) => {
                self.sim.start_read_tagged(to, from, b, setup, now, tok)?;
            }
            (b, false) => {
                self.sim.start_copy_tagged(from, to, b, setup, now, tok)?;
            }
        }
        Ok(())
    }

    fn start(&mut self, slot: usize, c: usize, now: Ps) -> Result<(), ExecError> {
        let s = &self.slots[slot];
        let Some(r) = s.cur.as_ref() else {
            return Ok(());
        };
        let done_tok = token(DONE, slot, c as u32);
        match &r.stream.commands[c] {
            Command::DmaRead { src, dst } => {
                // A read: the request goes to the block, the data comes back.
                let to = s.home.addr(&r.stream.buffers[dst.index()]);
                let from = self.block_addr(slot, c, src)?;
                self.dma(from, to, src.valid_bytes(), true, now, done_tok)?;
            }
            Command::DmaWrite { src, dst } => {
                let from = s.home.addr(&r.stream.buffers[src.index()]);
                let to = self.block_addr(slot, c, dst)?;
                self.dma(from, to, dst.valid_bytes(), false, now, done_tok)?;
            }
            Command::Math(m) => {
                let out = r.stream.buffers[m.out.index()];
                let mut elems = (out.shape[0] * out.shape[1]) as u64;
                for a in &m.args {
                    if let crate::dsl::MathArg::Buf(id) = a {
                        let b = r.stream.buffers[id.index()];
                        elems = elems.max((b.shape[0] * b.shape[1]) as u64);
                    }
                }
                let dur = self.costs.math_overhead
                    + (elems as f64 * 1000.0 / self.costs.math_elems_per_ns).ceil() as Ps;
                self.sim.schedule(now + dur, done_tok);
            }
            Command::Gemm(g) => {
                let g = *g;
                if gemm::tile_count(&g, &self.topo) > u64::from(u32::MAX) {
                    let reason = format!(
                        "a {}x{}x{} GEMM has more tiles than the PE scheduler can plan",
                        g.m, g.k, g.n
                    );
                    return Err(self.cmd_error(slot, c, reason));
                }
                let mut run = GemmRun::new(c as u32, &g, &self.topo, now);
                let (pe, log) = (s.global, &mut *self.log);
                if gemm::needs_dma_in(&g) {
                    let n = run.plan.tiles() as usize;
                    let r = self.slots[slot]
                        .cur
                        .as_mut()
                        .ok_or_else(|| ExecError::Deadlock { waiting: vec![] })?;
                    r.tile_bytes = vec![0; n];
                    r.tiles_in_flight = 0;
                    r.gemm = Some(run);
                    self.refill_tiles(slot, now)?;
                } else {
                    for t in 0..run.plan.tiles() {
                        run.advance(t, now, pe, &mut |rec| log.push(rec));
                    }
                    self.sim.schedule(run.end(), done_tok);
                }
            }
            Command::IpcqSend { peer, .. } | Command::IpcqRecv { peer, .. } => {
                let peer = *peer;
                let send = matches!(r.stream.commands[c], Command::IpcqSend { .. });
                let rank = s.rank;
                let Some(q) = self.ipcq.as_mut() else {
                    return Err(self.cmd_error(
                        slot,
                        c,
                        "IPCQ needs an installed ring; launch this kernel on a ring".into(),
                    ));
                };
                if peer >= q.ranks.len() {
                    let n = q.ranks.len();
                    return Err(self.cmd_error(
                        slot,
                        c,
                        format!("peer rank {peer} is outside the ring of {n}"),
                    ));
                }
                if send {
                    let depth = q.depth;
                    let p = q.pair(rank, peer);
                    if p.in_use < depth {
                        p.in_use += 1;
                        self.begin_send(slot, c as u32, now)?;
                    } else {
                        p.blocked_sender = Some((slot, c as u32));
                    }
                } else {
                    let p = q.pair(peer, rank);
                    match p.arrived.pop_front() {
                        Some(msg) => self.begin_recv(slot, c as u32, msg, now)?,
                        None => p.blocked_receiver = Some((slot, c as u32)),
                    }
                }
            }
        }
        Ok(())
    }

    fn complete(&mut self, slot: usize, c: usize, now: Ps) -> Result<(), ExecError> {
        let topo = &self.topo;
        let s = &mut self.slots[slot];
        let Some(r) = s.cur.as_mut() else {
            return Ok(());
        };
        if let Some(mem) = self.mem.as_deref_mut() {
            if let Err(e) = data::execute(mem, topo, &r.stream, &s.home, c) {
                return Err(self.cmd_error(slot, c, e.to_string()));
            }
        }
        let cmd = &r.stream.commands[c];
        let (lane, name, bytes, macs) = match cmd {
            Command::DmaRead { src, .. } => (Lane::Dma, "dma_read", src.valid_bytes(), 0),
            Command::DmaWrite { dst, .. } => (Lane::Dma, "dma_write", dst.valid_bytes(), 0),
            Command::Gemm(g) => (Lane::Gemm, "gemm", 0, g.macs()),
            Command::Math(m) => (Lane::Math, m.op.mnemonic(), 0, 0),
            Command::IpcqSend { .. } => (Lane::Ipcq, "ipcq_send", 0, 0),
            Command::IpcqRecv { .. } => (Lane::Ipcq, "ipcq_recv", 0, 0),
        };
        let kind = RecordKind::Command(cmd.kind());
        let e = engine_of(cmd);
        self.log.push(OpRecord {
            pe: s.global,
            lane,
            kind,
            name,
            cmd: c as u32,
            start: r.started[c],
            end: now,
            bytes,
            macs,
        });
        r.done[c] = true;
        r.n_done += 1;
        r.in_flight[e] -= 1;
        if r.n_done == r.done.len() {
            self.next_program(slot, now + self.costs.launch);
            Ok(())
        } else {
            self.pump(slot, now)
        }
    }
}
