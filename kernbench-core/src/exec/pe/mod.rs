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
//!
//! Where each part lives: the events that wake the pipeline (`event.rs`),
//! its fixed costs (`costs.rs`), a running program and the issue loop
//! (`issue.rs`), the scoreboard (`deps.rs`), the GEMM tile pipeline
//! (`gemm/`), inter-PE queues (`ipcq/`), numerics (`data.rs`), op-log
//! records of finished commands (`record.rs`) and the deadlock report
//! (`stall.rs`). This file holds the executor and its event loop.

mod accesses;
mod costs;
mod data;
mod deps;
mod error;
mod event;
mod gemm;
mod ipcq;
mod issue;
mod layout;
mod record;
mod stall;

use std::collections::VecDeque;
use std::sync::Arc;

use crate::dsl::{CommandStream, SourceLoc, TraceError};
use crate::exec::budget::{Budget, BudgetError};
use crate::exec::memory::DeviceMemory;
use crate::exec::oplog::OpLog;
use crate::fabric::addr::{Endpoint, PeLoc};
use crate::fabric::engine::Sim;
use crate::fabric::topology::Topology;
use crate::fabric::units::{Ps, TIME_LIMIT};

pub use error::ExecError;
pub use event::PeEvent;
pub use ipcq::BufferKind;

use costs::Costs;
use data::BufferHome;
use ipcq::Ipcq;
use issue::Running;

/// Events between two settles of the op log at the running programs'
/// horizon: a program can hold hundreds of thousands of records, too many
/// to keep until the next program starts.
const SETTLE_EVERY: u32 = 1 << 14;

/// A deferred trace: the program's commands, made when it starts.
type TraceFn = Arc<dyn Fn() -> Result<CommandStream, TraceError> + Send + Sync>;

/// One program instance to run on a PE: its command stream, or how to
/// trace it when the PE starts it (so a run holds only the commands of the
/// programs in flight, see [`crate::host::RunReport::peak_commands`]).
#[derive(Clone)]
pub struct Program {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Traced(CommandStream),
    Deferred(TraceFn),
}

impl Program {
    /// A program already traced.
    pub fn traced(stream: CommandStream) -> Self {
        Program {
            source: Source::Traced(stream),
        }
    }

    /// A program traced by `trace` when its PE starts it.
    pub fn deferred(
        trace: impl Fn() -> Result<CommandStream, TraceError> + Send + Sync + 'static,
    ) -> Self {
        Program {
            source: Source::Deferred(Arc::new(trace)),
        }
    }

    /// The commands held now: a traced program's, 0 for a deferred one.
    pub fn held_commands(&self) -> usize {
        match &self.source {
            Source::Traced(s) => s.commands.len(),
            Source::Deferred(_) => 0,
        }
    }

    /// The command stream, tracing it now if it is deferred.
    pub fn into_stream(self) -> Result<CommandStream, TraceError> {
        match self.source {
            Source::Traced(s) => Ok(s),
            Source::Deferred(f) => f(),
        }
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Source::Traced(s) => f
                .debug_struct("Program")
                .field("kernel", &s.kernel)
                .field("commands", &s.commands.len())
                .finish(),
            Source::Deferred(_) => f.write_str("Program(deferred)"),
        }
    }
}

/// When a launch's programs ran: the first started, the last finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// When the first program started, ps of simulated time.
    pub first_start: Ps,
    /// When the last program finished, ps of simulated time.
    pub end: Ps,
}

/// The PEs of a collective launch in rank order, and where their IPCQ
/// messages land.
#[derive(Debug, Clone, Copy)]
pub struct Queues<'a> {
    /// The PE of each rank.
    pub ranks: &'a [PeLoc],
    /// Where receive buffers live.
    pub buffer: BufferKind,
}

/// One PE of a launch and the programs it runs.
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
    sim: &'a mut Sim<PeEvent>,
    mem: Option<&'a mut DeviceMemory>,
    log: &'a mut OpLog,
    topo: Topology,
    costs: Costs,
    slots: Vec<Slot>,
    ipcq: Option<Ipcq>,
    /// When the first program started.
    first_start: Ps,
    /// Commands of traced programs held now, the most held at once, and
    /// the most allowed.
    held: usize,
    peak: usize,
    /// Commands traced over the run.
    traced: u64,
    budget: Budget,
    /// Whether a GEMM with every operand in TCM runs its tile plan in one
    /// pass (off only to test that both paths agree).
    one_pass_gemm: bool,
}

impl<'a> Executor<'a> {
    /// `work` maps each PE to the programs it runs, in order;
    /// `sram_window` is each PE's share of its cube's SRAM for kernel
    /// buffers; `queues`, for collectives, says which PE is which rank.
    pub fn new(
        sim: &'a mut Sim<PeEvent>,
        mem: Option<&'a mut DeviceMemory>,
        log: &'a mut OpLog,
        work: Vec<(PeLoc, Vec<Program>)>,
        sram_window: u64,
        queues: Option<Queues<'_>>,
    ) -> Self {
        let topo = sim.machine().topo.clone();
        let slots: Vec<Slot> = work
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
                rank: queues
                    .and_then(|q| q.ranks.iter().position(|p| *p == loc))
                    .unwrap_or(0),
                pending: progs.into(),
                cur: None,
                finished_at: None,
            })
            .collect();
        let ipcq = queues.map(|q| Ipcq::new(q.ranks.to_vec(), q.buffer, topo.ipcq.depth));
        let held = slots
            .iter()
            .flat_map(|s: &Slot| &s.pending)
            .map(Program::held_commands)
            .sum();
        Executor {
            held,
            peak: held,
            traced: held as u64,
            budget: Budget::DEFAULT,
            one_pass_gemm: true,
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

    /// Holds the run to `budget`'s commands (held at once and traced in
    /// all) and records ([`Budget::DEFAULT`] otherwise).
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Runs GEMMs whose operands are all in TCM through the per-tile path
    /// of streamed ones instead of the one-pass shortcut; the results are
    /// the same (tested), only slower.
    #[doc(hidden)]
    pub fn with_one_pass_gemm(mut self, on: bool) -> Self {
        self.one_pass_gemm = on;
        self
    }

    /// Sends every PE its launch descriptor from the host at `at`, runs all
    /// programs, and returns when they ran and the most commands held at
    /// once.
    pub fn run(mut self, at: Ps) -> Result<(Span, usize), ExecError> {
        self.check_held()?;
        for i in 0..self.slots.len() {
            let dst = Endpoint::Mem(self.slots[i].loc.tcm(0));
            let (bytes, setup) = (self.costs.launch_bytes, self.costs.host_setup);
            let launch = PeEvent::Launch { slot: i as u32 };
            self.sim
                .start_copy_tagged(Endpoint::Host, dst, bytes, setup, at, launch)?;
        }
        let mut events = 0u32;
        while let Some((now, notice)) = self.sim.next_notice() {
            if now > TIME_LIMIT {
                return Err(ExecError::TimeLimit { at: now });
            }
            self.dispatch(notice.token(), now)?;
            events = events.wrapping_add(1);
            if events % SETTLE_EVERY == 0 {
                self.settle_log(now);
                self.check_records()?;
            }
        }
        self.check_records()?;
        let waiting: Vec<String> = (0..self.slots.len())
            .filter(|&i| self.slots[i].finished_at.is_none())
            .map(|i| self.describe_stall(i))
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
        let span = Span {
            first_start: self.first_start.min(end),
            end,
        };
        Ok((span, self.peak))
    }

    /// Hands one event to the part of the pipeline it wakes.
    fn dispatch(&mut self, event: PeEvent, now: Ps) -> Result<(), ExecError> {
        let at = |slot: u32| slot as usize;
        match event {
            PeEvent::Launch { slot } => {
                let start = now + self.costs.m_cpu + self.costs.launch;
                self.next_program(at(slot), start)
            }
            PeEvent::Pump { slot } => {
                if let Some(r) = self.slots[at(slot)].cur.as_mut() {
                    r.pump_at = None;
                }
                self.pump(at(slot), now)
            }
            PeEvent::Done { slot, cmd } => self.complete(at(slot), cmd as usize, now),
            PeEvent::TilePart { slot, tile } => self.tile_part_done(at(slot), tile, now),
            PeEvent::Fetched { slot } => self.tile_fetched(at(slot), now),
            PeEvent::Injected { slot, cmd } => self.injected(at(slot), cmd, now),
            PeEvent::Landed { pair, seq } => self.landed(pair as usize, seq, now),
            PeEvent::Received { slot, cmd } => self.received(at(slot), cmd, now),
            // The device runs host transfers to completion before a launch.
            PeEvent::Host => Ok(()),
        }
    }

    /// Starts the PE's next program at `start` (tracing it if it is
    /// deferred), or marks the PE finished. The finished program's commands
    /// are released.
    fn next_program(&mut self, slot: usize, start: Ps) -> Result<(), ExecError> {
        let s = &mut self.slots[slot];
        if let Some(done) = s.cur.take() {
            self.held -= done.stream.commands.len();
        }
        match s.pending.pop_front() {
            Some(p) => {
                let deferred = p.held_commands() == 0;
                let stream = p.into_stream()?;
                if deferred {
                    self.held += stream.commands.len();
                    self.traced += stream.commands.len() as u64;
                    self.peak = self.peak.max(self.held);
                    self.check_held()?;
                }
                self.first_start = self.first_start.min(start);
                self.slots[slot].cur = Some(Running::new(stream, start));
                self.sim
                    .schedule(start, PeEvent::Pump { slot: slot as u32 });
                // No record to come starts before the oldest running program.
                let oldest = self
                    .slots
                    .iter()
                    .filter_map(|s| s.cur.as_ref().map(|r| r.started_at()))
                    .min();
                if let Some(w) = oldest {
                    self.log.settle(w);
                }
            }
            None => {
                s.finished_at = Some(start.saturating_sub(self.costs.launch));
            }
        }
        Ok(())
    }

    /// The run's commands against its budget: held at once, traced in all.
    fn check_held(&self) -> Result<(), ExecError> {
        let b = &self.budget;
        if self.held > b.held_commands {
            return Err(BudgetError::Commands {
                held: self.held,
                limit: b.held_commands,
            }
            .into());
        }
        if self.traced > b.run_commands {
            return Err(BudgetError::RunCommands {
                limit: b.run_commands,
            }
            .into());
        }
        Ok(())
    }

    fn check_records(&self) -> Result<(), ExecError> {
        match self.log.records().len() > self.budget.records {
            true => Err(BudgetError::Records {
                limit: self.budget.records,
            }
            .into()),
            false => Ok(()),
        }
    }

    /// Folds the op log's intervals that no record to come can overlap:
    /// those ending before every running program's horizon at `now`.
    fn settle_log(&mut self, now: Ps) {
        let h = self
            .slots
            .iter()
            .filter_map(|s| s.cur.as_ref().map(|r| r.horizon(now)))
            .fold(now, Ps::min);
        self.log.settle(h);
    }

    fn cmd_error(&self, slot: usize, cmd: usize, reason: String) -> ExecError {
        let s = &self.slots[slot];
        command_error(&s.name, s.cur.as_ref().map(|r| &r.stream), cmd, reason)
    }
}

/// A command's failure, named by the PE it ran on and its text.
fn command_error(
    pe: &str,
    stream: Option<&CommandStream>,
    cmd: usize,
    reason: String,
) -> ExecError {
    let (kernel, text, at) = match stream {
        Some(s) => (
            s.kernel.clone(),
            s.command_text(cmd),
            s.sources.get(cmd).map(|l| Box::new(SourceLoc::from(*l))),
        ),
        None => (String::new(), String::new(), None),
    };
    ExecError::Command {
        kernel,
        pe: pe.to_string(),
        cmd,
        text,
        at,
        reason,
    }
}
