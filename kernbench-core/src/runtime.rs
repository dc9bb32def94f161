//! The host runtime a kernel author programs against: a [`Device`] built
//! from a topology, tensors allocated in a chosen memory, written from and
//! read into `ndarray` arrays over the modeled host path, and kernels
//! launched over a grid of programs mapped onto PEs.
//!
//! ```
//! use kernbench_core::runtime::{Device, LaunchOptions, Place};
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
use serde::Serialize;

use crate::addr::{AddrError, Endpoint, PhysAddr, Space};
use crate::dsl::{ArgValue, Elem, Kernel, KernelArgs, ProgramInfo, Ptr, TraceConfig, TraceError};
use crate::engine::Sim;
use crate::machine::Machine;
use crate::memory::{DeviceMemory, Window};
use crate::oplog::{Lane, LaneTime, OpLog, OpLogSummary};
use crate::pe::{ExecError, Executor, PeLoc, Program, Span};
use crate::ring::{BufferKind, Ring};
use crate::route::RouteError;
use crate::topology::Topology;
use crate::units::{ns_to_ps, ps_to_ns, Ps};

/// Where a tensor is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    /// SIP index.
    pub sip: u32,
    /// Cube index within the SIP.
    pub cube: u32,
    /// Memory within the cube: HBM, SRAM or a PE's TCM.
    pub space: Space,
}

impl Place {
    /// A cube's HBM slice.
    pub fn hbm(sip: u32, cube: u32) -> Self {
        Place {
            sip,
            cube,
            space: Space::Hbm,
        }
    }
    /// A cube's SRAM (the half not reserved for kernel buffers).
    pub fn sram(sip: u32, cube: u32) -> Self {
        Place {
            sip,
            cube,
            space: Space::Sram,
        }
    }
    /// A PE's TCM beyond its kernel scratch.
    pub fn tcm(sip: u32, cube: u32, pe: u32) -> Self {
        Place {
            sip,
            cube,
            space: Space::Tcm { pe },
        }
    }
}

/// A tensor on the device: a typed handle kernels take as `Ptr<T>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tensor<T: Elem> {
    ptr: Ptr<T>,
    addr: PhysAddr,
}

impl<T: Elem> Tensor<T> {
    /// The kernel argument naming this tensor.
    pub fn ptr(&self) -> Ptr<T> {
        self.ptr
    }
    /// Rows, in elements.
    pub fn rows(&self) -> usize {
        self.ptr.rows()
    }
    /// Columns, in elements.
    pub fn cols(&self) -> usize {
        self.ptr.cols()
    }
    /// Physical address of element `[0, 0]`.
    pub fn addr(&self) -> PhysAddr {
        self.addr
    }
    fn bytes(&self) -> u64 {
        (self.rows() * self.cols()) as u64 * T::DTYPE.size_bytes()
    }
    fn window(&self) -> Window {
        Window {
            at: self.addr,
            rows: self.rows(),
            cols: self.cols(),
            row_stride: self.ptr.row_stride(),
            dtype: T::DTYPE,
        }
    }
}

/// How a launch's programs map onto PEs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mapping {
    /// Program `i` on the machine's PE `i`: the PEs of cube 0 in order,
    /// then cube 1, ... (wrapping around when programs outnumber PEs).
    #[default]
    Spread,
    /// Program `i` on `pes[i % pes.len()]`; programs sharing a PE run one
    /// after another.
    Pes(Vec<PeLoc>),
}

/// A launch: the grid and the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchOptions {
    /// Programs per axis; `tl::program_id(a)` ranges over `0..grid[a]`.
    pub grid: [usize; 3],
    /// Which PE runs each program; [`Mapping::Spread`] unless set with
    /// [`Self::on`].
    pub mapping: Mapping,
}

impl LaunchOptions {
    /// A launch of `grid` programs with the [`Mapping::Spread`] mapping.
    pub fn grid(grid: [usize; 3]) -> Self {
        LaunchOptions {
            grid,
            mapping: Mapping::Spread,
        }
    }
    /// Replaces the mapping.
    pub fn on(mut self, mapping: Mapping) -> Self {
        self.mapping = mapping;
        self
    }
}

/// What a launch did: time, counts, per-engine time and the op log.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Name of the kernel launched.
    pub kernel: String,
    /// Programs run.
    pub programs: usize,
    /// Distinct PEs the programs ran on.
    pub pes: usize,
    /// Simulated time of the launch, ns since the device was created.
    pub start_ns: f64,
    /// From the launch (host sends descriptors) to the last program's end.
    pub wall_ns: f64,
    /// From the first program's start to the last program's end: the
    /// kernel without its launch cost.
    pub kernel_ns: f64,
    /// Engine events the run took to simulate.
    pub events: u64,
    /// Op and byte counts of the run.
    pub summary: OpLogSummary,
    /// Busy and occupied time of each engine lane, keyed by
    /// [`Lane::name`](crate::oplog::Lane::name).
    pub lanes: BTreeMap<&'static str, LaneTime>,
    /// MAC-array busy time over `wall x pes`, percent.
    pub gemm_util_pct: f64,
    /// Useful MACs (m x k x n) over `wall x pes x peak`, percent.
    pub useful_eff_pct: f64,
    /// The run's op log (individual records only if the device keeps them).
    pub log: OpLog,
}

/// Why a host operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A kernel failed to trace: a misused `tl::` operation, or buffers that
    /// overflow the TCM scratch or the SRAM window.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// A program failed while running, or the PEs deadlocked.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A [`Place`] or tensor argument names memory that does not exist on
    /// the topology.
    #[error(transparent)]
    Addr(#[from] AddrError),
    /// A host transfer found no route between the host and the memory.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// An allocation does not fit in what is left of its place.
    #[error("out of memory in {place:?}: {need} bytes requested, {free} free")]
    OutOfMemory {
        /// Where the allocation was asked for.
        place: Place,
        /// Bytes the tensor needs.
        need: u64,
        /// Bytes left at `place` (after alignment).
        free: u64,
    },
    /// A host array's shape differs from the tensor's.
    #[error("shape mismatch: tensor is {expected:?}, array is {got:?}")]
    Shape {
        /// The tensor's `[rows, cols]`.
        expected: [usize; 2],
        /// The array's `[rows, cols]`.
        got: [usize; 2],
    },
    /// [`Device::read`] on a device running timing-only
    /// ([`Device::with_data`] `false`).
    #[error("cannot read tensor values: the device runs timing-only (data off)")]
    DataDisabled,
    /// The launch is invalid (empty grid, a mapping naming no PE), or a
    /// tensor-parallel group has shut down or one of its ranks panicked.
    #[error("invalid launch: {0}")]
    Launch(String),
    /// A tensor-parallel collective failed: ranks disagreed (tensor shapes,
    /// all-reduce vs barrier) or the all-reduce itself failed.
    #[error("{0}")]
    Collective(String),
}

/// A simulated machine with host-side state: allocations, memory contents
/// (when data is on) and simulated time, which advances with every
/// operation.
pub struct Device {
    machine: Arc<Machine>,
    sim: Sim,
    mem: DeviceMemory,
    data: bool,
    keep_records: bool,
    next_free: BTreeMap<Place, u64>,
}

impl Device {
    /// A device with data execution on and op-log records kept.
    pub fn new(topo: &Topology) -> Self {
        let machine = Arc::new(Machine::new(topo));
        let mut sim = Sim::new(machine.clone());
        // The device waits on completion notices only; memory follows what
        // is in flight, not the length of the session.
        sim.keep_reports(false);
        Device {
            sim,
            machine,
            mem: DeviceMemory::new(),
            data: true,
            keep_records: true,
            next_free: BTreeMap::new(),
        }
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

    /// Allocates a dense `rows x cols` tensor of `T` at `place`.
    pub fn alloc<T: Elem>(
        &mut self,
        place: Place,
        rows: usize,
        cols: usize,
    ) -> Result<Tensor<T>, RuntimeError> {
        let probe = PhysAddr {
            sip: place.sip,
            cube: place.cube,
            space: place.space,
            offset: 0,
        };
        probe.check(&self.machine.topo)?;
        let (lo, hi, align) = self.region(place);
        let need = (rows * cols) as u64 * T::DTYPE.size_bytes();
        let at = self
            .next_free
            .get(&place)
            .copied()
            .unwrap_or(lo)
            .next_multiple_of(align);
        if at + need > hi {
            return Err(RuntimeError::OutOfMemory {
                place,
                need,
                free: hi.saturating_sub(at),
            });
        }
        self.next_free.insert(place, at + need);
        let addr = PhysAddr {
            offset: at,
            ..probe
        };
        Ok(Tensor {
            ptr: Ptr::new(addr.encode()?, rows, cols),
            addr,
        })
    }

    /// The allocatable byte range of a place and its alignment.
    fn region(&self, place: Place) -> (u64, u64, u64) {
        let t = &self.machine.topo;
        const MIB: u64 = 1 << 20;
        match place.space {
            Space::Hbm => (0, t.hbm.capacity_mb * MIB, t.hbm.burst_bytes),
            // The lower half of SRAM holds the PEs' kernel-buffer windows.
            Space::Sram => (t.sram.size_mb * MIB / 2, t.sram.size_mb * MIB, 64),
            Space::Tcm { .. } => (t.pe_tcm.scratch_bytes(), t.pe_tcm.size_mb * MIB, 64),
        }
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
            self.mem.write(&t.window(), &flat);
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
            self.sim.start_read(host, mem, bytes, setup, start)?;
        } else {
            self.sim.start_copy(host, mem, bytes, setup, start)?;
        }
        self.sim.run();
        Ok(ps_to_ns(self.sim.now() - start))
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
        Array2::from_shape_vec((t.rows(), t.cols()), v)
            .map_err(|e| RuntimeError::Launch(e.to_string()))
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

    /// Traces the programs of a launch and maps them onto PEs.
    pub fn trace<K: Kernel>(
        &self,
        args: &K::Args,
        opts: &LaunchOptions,
    ) -> Result<Work, RuntimeError> {
        trace_launch::<K>(&self.machine.topo, args, opts)
    }

    /// Runs already traced programs (see [`Self::trace`]).
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
        let topo = &self.machine.topo;
        let cfg = self.trace_config();
        let n = ring.world_size();
        let mut work = Vec::with_capacity(n);
        for (rank, pe) in ring.pes.iter().enumerate() {
            pe.tcm(0).check(topo)?;
            let a = args(rank);
            check_args(topo, &a.values())?;
            let info = ProgramInfo::single().with_ring(rank, n);
            let stream = K::trace(&a, &info, &cfg)?;
            work.push((*pe, vec![Program { stream }]));
        }
        self.run_on(K::NAME, work, Some((ring, buffer)))
    }

    fn run_on(
        &mut self,
        kernel: &str,
        work: Vec<(PeLoc, Vec<Program>)>,
        ring: Option<(&Ring, BufferKind)>,
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
        let start = self.sim.now();
        let events = self.sim.events_processed();
        let window = sram_window(&self.machine.topo);
        let mem = if self.data { Some(&mut self.mem) } else { None };
        let run = Executor::new(&mut self.sim, mem, &mut log, work, window, ring).run(start);
        let span = match run {
            Ok(span) => span,
            Err(e) => {
                self.sim.abort();
                return Err(e.into());
            }
        };
        let mut report = self.report(kernel, programs, pes, start, span, log);
        report.events = self.sim.events_processed() - events;
        Ok(report)
    }

    fn report(
        &self,
        kernel: &str,
        programs: usize,
        pes: usize,
        start: Ps,
        span: Span,
        log: OpLog,
    ) -> RunReport {
        let wall_ns = ps_to_ns(span.end - start);
        let peak = self.machine.topo.pe_gemm.macs_per_ns();
        let denom = wall_ns * pes as f64;
        let summary = log.summary();
        let pct = |x: f64| if denom > 0.0 { 100.0 * x / denom } else { 0.0 };
        RunReport {
            kernel: kernel.to_string(),
            programs,
            pes,
            start_ns: ps_to_ns(start),
            wall_ns,
            kernel_ns: ps_to_ns(span.end - span.first_start),
            events: 0,
            gemm_util_pct: pct(ps_to_ns(log.busy_ps(Lane::Gemm))),
            useful_eff_pct: pct(summary.useful_macs as f64 / peak),
            lanes: Lane::ALL
                .iter()
                .map(|l| (l.name(), log.lane_time(*l)))
                .collect(),
            summary,
            log,
        }
    }
}

impl RunReport {
    /// The run's timeline as Chrome trace-event JSON.
    pub fn chrome_trace(&self, machine: &Machine) -> serde_json::Value {
        let topo = &machine.topo;
        crate::timeline::chrome_trace(self.log.records(), |g| {
            let p = PeLoc::from_global(g, topo);
            machine.node_name(machine.pe(p.sip, p.cube, p.pe))
        })
    }
}

/// Per-stage wall-clock occupancy in the shape the benches print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct EngineTimes {
    /// GEMM stage 1 (operand tiles into TCM), ns.
    pub dma_in_ns: f64,
    /// GEMM stage 2 (TCM into the MAC array), ns.
    pub fetch_ns: f64,
    /// GEMM stage 3 (the MAC array), ns.
    pub gemm_ns: f64,
    /// GEMM stage 4 (result tiles written back), ns.
    pub dma_out_ns: f64,
    /// The PE DMA engines (`DmaRead` / `DmaWrite` commands), ns.
    pub dma_ns: f64,
    /// The vector engines, ns.
    pub math_ns: f64,
    /// Inter-PE queues, ns.
    pub ipcq_ns: f64,
}

impl RunReport {
    /// Wall-clock occupancy of each engine lane.
    pub fn engine_times(&self) -> EngineTimes {
        let occ = |l: Lane| self.lanes.get(l.name()).map_or(0.0, |t| t.occupied_ns);
        EngineTimes {
            dma_in_ns: occ(Lane::DmaIn),
            fetch_ns: occ(Lane::Fetch),
            gemm_ns: occ(Lane::Gemm),
            dma_out_ns: occ(Lane::DmaOut),
            dma_ns: occ(Lane::Dma),
            math_ns: occ(Lane::Math),
            ipcq_ns: occ(Lane::Ipcq),
        }
    }
}

/// Programs mapped onto the PEs that run them, in order.
pub type Work = Vec<(PeLoc, Vec<Program>)>;

/// The trace limits of launches on `topo`: the topology's scratch, and each
/// PE's share of the half of its cube's SRAM kept for kernel buffers.
pub fn trace_config(topo: &Topology) -> TraceConfig {
    TraceConfig {
        sram_bytes: sram_window(topo),
        ..TraceConfig::from_topology(topo)
    }
}

fn sram_window(topo: &Topology) -> u64 {
    topo.sram.size_mb * (1 << 20) / 2 / u64::from(topo.system.pes_per_cube)
}

/// Checks that every tensor argument names memory that exists on `topo`.
fn check_args(topo: &Topology, values: &[ArgValue]) -> Result<(), RuntimeError> {
    for v in values {
        if let ArgValue::Ptr(d) = v {
            PhysAddr::decode(d.base, topo)?;
        }
    }
    Ok(())
}

/// Traces every program of a launch and maps it onto a PE.
pub fn trace_launch<K: Kernel>(
    topo: &Topology,
    args: &K::Args,
    opts: &LaunchOptions,
) -> Result<Work, RuntimeError> {
    check_args(topo, &args.values())?;
    let [g0, g1, g2] = opts.grid;
    let n = g0 * g1 * g2;
    if n == 0 {
        return Err(RuntimeError::Launch(format!("empty grid {:?}", opts.grid)));
    }
    let total = (topo.system.sips * topo.cubes_per_sip() * topo.system.pes_per_cube) as usize;
    if let Mapping::Pes(pes) = &opts.mapping {
        if pes.is_empty() {
            return Err(RuntimeError::Launch("mapping names no PE".into()));
        }
        for p in pes {
            p.tcm(0).check(topo)?;
        }
    }
    let cfg = trace_config(topo);
    let mut per_pe: BTreeMap<u32, (PeLoc, Vec<Program>)> = BTreeMap::new();
    for i in 0..n {
        let id = [i % g0, (i / g0) % g1, i / (g0 * g1)];
        let stream = K::trace(args, &ProgramInfo::grid(id, opts.grid), &cfg)?;
        let pe = match &opts.mapping {
            Mapping::Spread => PeLoc::from_global((i % total) as u32, topo),
            Mapping::Pes(pes) => pes[i % pes.len()],
        };
        per_pe
            .entry(pe.global(topo))
            .or_insert_with(|| (pe, Vec::new()))
            .1
            .push(Program { stream });
    }
    Ok(per_pe.into_values().collect())
}
