//! The device a kernel author programs against: a [`Device`] built from a
//! topology, tensors allocated in a chosen memory, written from and
//! read into `ndarray` arrays over the modeled host path, and kernels
//! launched over a grid of programs mapped onto PEs.
//!
//! ```
//! use kernbench_core::host::{Device, LaunchOptions, Place};
//! use kernbench_core::dsl::prelude::*;
//! use kernbench_core::Topology;
//!
//! #[kernel]
//! fn double(x: Ptr<f32>, y: Ptr<f32>) {
//!     let t = tl::load(x.block([0, 0], [x.rows(), x.cols()]));
//!     tl::store(y.block([0, 0], [y.rows(), y.cols()]), &t * 2.0);
//! }
//!
//! let mut dev = Device::new(&Topology::default_topology());
//! let x = dev.alloc::<f32>(Place::hbm(0, 0), 4, 8).unwrap();
//! let y = dev.alloc::<f32>(Place::hbm(0, 0), 4, 8).unwrap();
//! dev.write(&x, &ndarray::Array2::from_elem((4, 8), 1.5)).unwrap();
//! let run = dev.launch::<double>(&double::args(x.ptr(), y.ptr()), &LaunchOptions::grid([1, 1, 1])).unwrap();
//! assert!(run.wall_ns > 0.0);
//! assert_eq!(dev.read(&y).unwrap()[[3, 7]], 3.0);
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use ndarray::{Array2, ArrayView2};

use crate::dsl::{Elem, Kernel, KernelArgs, ProgramInfo, Ptr, TraceConfig};
use crate::exec::budget::{Budget, BudgetError};
use crate::exec::memory::DeviceMemory;
use crate::exec::oplog::OpLog;
use crate::exec::pe::{BufferKind, ExecError, Executor, PeEvent, Program, Queues};
use crate::fabric::addr::{Endpoint, PeLoc, PhysAddr};
use crate::fabric::engine::Sim;
use crate::fabric::machine::Machine;
use crate::fabric::topology::Topology;
use crate::fabric::units::{ns_to_ps, ps_to_ns};

use super::error::RuntimeError;
use super::launch::{check_args, sram_window, trace_config, trace_launch, LaunchOptions, Work};
use super::place::{Place, Tensor};
use super::report::{Ran, RunReport};
use super::ring::Ring;

/// A simulated machine with host-side state: allocations, memory contents
/// (when data is on) and simulated time, which advances with every
/// operation.
pub struct Device {
    machine: Arc<Machine>,
    sim: Sim<PeEvent>,
    mem: DeviceMemory,
    data: bool,
    keep_records: bool,
    pe_times: bool,
    next_free: BTreeMap<Place, u64>,
    budget: Budget,
    /// Bytes of tensors allocated while data execution was on.
    data_allocated: u64,
    one_pass_gemm: bool,
}

impl Device {
    /// A device with data execution on and op-log records kept.
    pub fn new(topo: &Topology) -> Self {
        let machine = Arc::new(Machine::new(topo));
        let mut sim = Sim::tagged(machine.clone());
        // The device waits on completion notices only; memory follows what
        // is in flight, not the length of the session.
        sim.keep_reports(false);
        Device {
            sim,
            machine,
            mem: DeviceMemory::new(),
            data: true,
            keep_records: true,
            pe_times: false,
            next_free: BTreeMap::new(),
            budget: Budget::DEFAULT,
            data_allocated: 0,
            one_pass_gemm: true,
        }
    }

    /// Turns off the one-pass shortcut for GEMMs whose operands are all in
    /// TCM, so they take the per-tile path: for tests that both agree.
    #[doc(hidden)]
    pub fn with_one_pass_gemm(mut self, on: bool) -> Self {
        self.one_pass_gemm = on;
        self
    }

    /// Replaces the host resources a run may use ([`Budget::DEFAULT`]
    /// otherwise). Call it before writing any tensor: memory contents
    /// start over.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self.mem = DeviceMemory::with_limit(budget.data_bytes);
        self
    }

    /// Turns data execution on or off; timings are the same either way.
    pub fn with_data(mut self, on: bool) -> Self {
        self.data = on;
        self
    }

    /// Keeps (or drops) individual op-log records; summaries are always kept.
    pub fn with_records(mut self, keep: bool) -> Self {
        self.keep_records = keep;
        self
    }

    /// Keeps each PE's compute and IPCQ time in launches' op logs
    /// ([`OpLog::pe_time`]); off by default, as it costs on every record.
    pub fn with_pe_times(mut self, on: bool) -> Self {
        self.pe_times = on;
        self
    }

    /// The modeled machine (nodes, links, engines) the device simulates.
    pub fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }

    /// The topology the device was built from.
    pub fn topology(&self) -> &Topology {
        &self.machine.topo
    }

    /// Simulated time so far, ns.
    pub fn now_ns(&self) -> f64 {
        ps_to_ns(self.sim.now())
    }

    /// Allocates a dense `rows x cols` tensor of `T` at `place`. With data
    /// execution on, the tensors allocated must fit the budget's
    /// `data_bytes`: a bench allocates before it builds host arrays, so a
    /// shape too large to execute is refused before they exist.
    pub fn alloc<T: Elem>(
        &mut self,
        place: Place,
        rows: usize,
        cols: usize,
    ) -> Result<Tensor<T>, RuntimeError> {
        let base = place.base();
        base.check(&self.machine.topo)?;
        let (lo, hi, align) = place.region(&self.machine.topo);
        // A size past u64 is as out of memory as any other too large.
        let need = (rows as u64)
            .checked_mul(cols as u64)
            .and_then(|e| e.checked_mul(T::DTYPE.size_bytes()))
            .unwrap_or(u64::MAX);
        let at = self
            .next_free
            .get(&place)
            .copied()
            .unwrap_or(lo)
            .next_multiple_of(align);
        if at.checked_add(need).is_none_or(|end| end > hi) {
            return Err(RuntimeError::OutOfMemory {
                place,
                need,
                free: hi.saturating_sub(at),
            });
        }
        if self.data {
            let total = self.data_allocated.saturating_add(need);
            if total > self.budget.data_bytes {
                return Err(BudgetError::Data {
                    need: total,
                    limit: self.budget.data_bytes,
                }
                .into());
            }
            self.data_allocated = total;
        }
        self.next_free.insert(place, at + need);
        let addr = PhysAddr { offset: at, ..base };
        Ok(Tensor {
            ptr: Ptr::new(addr.encode()?, rows, cols),
            addr,
        })
    }

    /// The trace limits launches use.
    pub fn trace_config(&self) -> TraceConfig {
        trace_config(&self.machine.topo)
    }

    /// Writes `data` into `t` from the host (PCIe, IO chiplet, NOC, UCIe);
    /// returns the simulated time it took, ns.
    pub fn write<T: Elem>(
        &mut self,
        t: &Tensor<T>,
        data: &Array2<f32>,
    ) -> Result<f64, RuntimeError> {
        self.write_view(t, data.view())
    }

    /// [`Self::write`] from a view.
    pub fn write_view<T: Elem>(
        &mut self,
        t: &Tensor<T>,
        data: ArrayView2<f32>,
    ) -> Result<f64, RuntimeError> {
        let got = [data.nrows(), data.ncols()];
        if got != [t.rows(), t.cols()] {
            return Err(RuntimeError::Shape {
                expected: [t.rows(), t.cols()],
                got,
            });
        }
        let took = self.write_timing(t)?;
        if self.data {
            let flat: Vec<f32> = data.iter().copied().collect();
            self.mem.write(&t.window(), &flat)?;
        }
        Ok(took)
    }

    /// Moves `t`'s bytes from the host without values: the timing of
    /// [`Self::write`] for timing-only runs, which have no values to keep.
    pub fn write_timing<T: Elem>(&mut self, t: &Tensor<T>) -> Result<f64, RuntimeError> {
        self.host_transfer(t.addr, t.bytes(), false)
    }

    /// Moves `bytes` between the host and `addr` (a read is a request,
    /// then the data) and runs the simulation until it has arrived;
    /// returns the simulated time it took, ns.
    fn host_transfer(
        &mut self,
        addr: PhysAddr,
        bytes: u64,
        read: bool,
    ) -> Result<f64, RuntimeError> {
        let start = self.sim.now();
        let setup = ns_to_ps(self.machine.topo.host.dma_setup_ns);
        let (host, mem) = (Endpoint::Host, Endpoint::Mem(addr));
        if read {
            self.sim
                .start_read_tagged(host, mem, bytes, setup, start, PeEvent::Host)?;
        } else {
            self.sim
                .start_copy_tagged(host, mem, bytes, setup, start, PeEvent::Host)?;
        }
        self.sim.run();
        Ok(ps_to_ns(self.sim.now() - start))
    }

    /// Engine events processed since the device was made (host transfers
    /// and every launch).
    pub fn events(&self) -> u64 {
        self.sim.events_processed()
    }

    /// Whether data execution is on.
    pub fn data(&self) -> bool {
        self.data
    }

    /// Reads `t` back to the host (a request, then the data).
    pub fn read<T: Elem>(&mut self, t: &Tensor<T>) -> Result<Array2<f32>, RuntimeError> {
        self.host_transfer(t.addr, t.bytes(), true)?;
        if !self.data {
            return Err(RuntimeError::DataDisabled);
        }
        let v = self.mem.read(&t.window());
        Ok(Array2::from_shape_vec((t.rows(), t.cols()), v)?)
    }

    /// Traces every program of the grid and runs them; returns when the
    /// last program has finished.
    pub fn launch<K: Kernel>(
        &mut self,
        args: &K::Args,
        opts: &LaunchOptions,
    ) -> Result<RunReport, RuntimeError> {
        let programs = self.trace::<K>(args, opts)?;
        self.run_programs(K::NAME, programs)
    }

    /// Maps the programs of a launch onto PEs; program 0 is traced now (a
    /// kernel that cannot trace fails here), the others when their PE
    /// starts them.
    pub fn trace<K: Kernel>(
        &self,
        args: &K::Args,
        opts: &LaunchOptions,
    ) -> Result<Work, RuntimeError> {
        trace_launch::<K>(&self.machine.topo, args, opts)
    }

    /// Runs programs mapped onto PEs (see [`Self::trace`]); deferred ones
    /// are traced as their PE starts them.
    pub fn run_programs(
        &mut self,
        kernel: &str,
        work: Vec<(PeLoc, Vec<Program>)>,
    ) -> Result<RunReport, RuntimeError> {
        self.run_on(kernel, work, None)
    }

    /// Launches a collective: one program per rank of `ring`, rank `r` on
    /// `ring.pes[r]` with the arguments `args(r)`; IPCQ receive buffers of
    /// kind `buffer`.
    pub fn launch_ring<K: Kernel>(
        &mut self,
        ring: &Ring,
        buffer: BufferKind,
        args: impl Fn(usize) -> K::Args,
    ) -> Result<RunReport, RuntimeError> {
        // One program per rank: rank 0's traced now, the others as their PE
        // starts, within the command budget.
        self.launch_ring_grid::<K>(ring, buffer, 1, args)
    }

    /// Launches a collective whose ranks each run `programs` programs in
    /// order (program id `0..programs` on axis 0, every one rank `r` of
    /// the ring): a long collective kernel cut into pieces, so a run holds
    /// only the commands of the pieces in flight. Rank 0's first program is
    /// traced now (a kernel that cannot trace fails here), the others when
    /// their PE starts them. Every rank runs its programs in the same
    /// order, so messages between two ranks pair up program by program.
    pub fn launch_ring_grid<K: Kernel>(
        &mut self,
        ring: &Ring,
        buffer: BufferKind,
        programs: usize,
        args: impl Fn(usize) -> K::Args,
    ) -> Result<RunReport, RuntimeError> {
        if programs == 0 {
            return Err(RuntimeError::EmptyGrid([0, 1, 1]));
        }
        let topo = &self.machine.topo;
        let cfg = self.trace_config();
        let n = ring.world_size();
        let grid = [programs, 1, 1];
        let mut work = Vec::with_capacity(n);
        for (rank, pe) in ring.pes.iter().enumerate() {
            pe.tcm(0).check(topo)?;
            let a = Arc::new(args(rank));
            check_args(topo, &a.values())?;
            let info = move |p: usize| ProgramInfo::grid([p, 0, 0], grid).with_ring(rank, n);
            let mut list = Vec::with_capacity(programs);
            if rank == 0 {
                list.push(Program::traced(K::trace(&a, &info(0), &cfg)?));
            }
            for p in list.len()..programs {
                let a = a.clone();
                list.push(Program::deferred(move || K::trace(&a, &info(p), &cfg)));
            }
            work.push((*pe, list));
        }
        let queues = Queues {
            ranks: &ring.pes,
            buffer,
        };
        self.run_on(K::NAME, work, Some(queues))
    }

    fn run_on(
        &mut self,
        kernel: &str,
        work: Vec<(PeLoc, Vec<Program>)>,
        queues: Option<Queues<'_>>,
    ) -> Result<RunReport, RuntimeError> {
        // One PE runs its programs one after another, however the work list
        // names it (merged launches may name a PE twice).
        let mut by_pe: BTreeMap<PeLoc, Vec<Program>> = BTreeMap::new();
        for (pe, progs) in work {
            by_pe.entry(pe).or_default().extend(progs);
        }
        let work: Work = by_pe.into_iter().collect();
        let programs = work.iter().map(|(_, p)| p.len()).sum();
        let pes = work.len();
        let mut log = OpLog::new(self.keep_records);
        if self.pe_times {
            log = log.tracking_pes();
        }
        let start = self.sim.now();
        let events = self.sim.events_processed();
        let window = sram_window(&self.machine.topo);
        let mem = if self.data { Some(&mut self.mem) } else { None };
        let run = Executor::new(&mut self.sim, mem, &mut log, work, window, queues)
            .with_budget(self.budget)
            .with_one_pass_gemm(self.one_pass_gemm)
            .run(start);
        let (span, peak_commands) = match run {
            Ok(done) => done,
            Err(e) => {
                self.sim.abort();
                return Err(match e {
                    ExecError::Trace(t) => RuntimeError::Trace(t),
                    e => e.into(),
                });
            }
        };
        let ran = Ran {
            kernel,
            programs,
            pes,
            start,
            span,
            events: self.sim.events_processed() - events,
            peak_commands,
            log,
        };
        Ok(RunReport::new(&self.machine.topo, ran))
    }
}
