//! Range checks serde cannot express: bandwidths, clocks and throughputs
//! within what the integer time base resolves, latencies and lengths that
//! cannot overflow simulated time when summed, meshes the address map can
//! hold, a machine the host can build.

use super::Topology;

pub(crate) struct Violation {
    pub key: String,
    pub message: String,
}

/// Largest mesh side, SIP count and PE count the physical address map holds
/// (8 bits each for sip, cube index and PE).
const MAX_CUBES: u32 = 256;
const MAX_SIPS: u32 = 256;
const MAX_PES: u32 = 256;

/// Largest memory (HBM slice, SRAM, TCM) in MiB: what the 36-bit offset
/// field of a physical address reaches (64 GiB).
const MAX_MEMORY_MB: u64 = 1 << 16;

/// Most PEs plus HBM pseudo-channels in the whole machine: each is a node
/// with its own links and state, built up front. A million keeps the
/// largest machine a few hundred MB of host memory.
pub const MAX_MACHINE_UNITS: u64 = 1 << 20;

/// Longest fixed cost (any `*_ns` key): one millisecond. A single cost
/// beyond that is no hardware figure, and with the per-run command budget
/// it keeps every sum of costs far inside the picosecond clock (2^64 ps is
/// 213 days).
const MAX_COST_NS: f64 = 1e6;

/// Slowest and fastest bandwidth (GB/s) a link, port or pseudo-channel may
/// have. Bandwidths are held as whole bytes per microsecond, so 0.001 GB/s
/// is the resolution; 10^6 GB/s (1 PB/s) is far past any link.
const MIN_GBS: f64 = 0.001;
const MAX_GBS: f64 = 1e6;

/// Slowest and fastest MAC-array clock, GHz: a cycle between 100 ns and
/// 1 ps, so a GEMM's cycles in picoseconds stay inside the clock.
const MIN_CLOCK_GHZ: f64 = 0.01;
const MAX_CLOCK_GHZ: f64 = 1000.0;

/// Longest wire (mm) and slowest propagation (ns per mm): ten metres, and
/// a thousand times slower than light in copper; their product stays a
/// valid fixed cost.
const MAX_LENGTH_MM: f64 = 1e4;
const MAX_NS_PER_MM: f64 = 10.0;

struct Checker(Result<(), Violation>);

impl Checker {
    fn fail(&mut self, key: &str, message: String) {
        if self.0.is_ok() {
            self.0 = Err(Violation {
                key: key.to_string(),
                message,
            });
        }
    }

    /// A value in `[lo, hi]` (finite; NaN fails), with its unit in the error.
    fn within(&mut self, key: &str, v: f64, lo: f64, hi: f64, unit: &str) {
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.fail(
                key,
                format!("must be between {lo} and {hi} {unit} (got {v})"),
            );
        }
    }

    /// Bandwidths: zero would mean infinite time, less than the resolution
    /// would be silently rounded.
    fn bandwidth(&mut self, key: &str, v: f64) {
        self.within(key, v, MIN_GBS, MAX_GBS, "GB/s");
    }

    /// Fixed costs: zero is a legitimate what-if, negative is not, and one
    /// past a millisecond could overflow simulated time when summed.
    fn cost(&mut self, key: &str, v: f64) {
        self.within(key, v, 0.0, MAX_COST_NS, "ns");
    }

    /// Wire lengths, as fixed costs.
    fn length(&mut self, key: &str, v: f64) {
        self.within(key, v, 0.0, MAX_LENGTH_MM, "mm");
    }

    fn count(&mut self, key: &str, v: u64, max: u64) {
        if v == 0 || v > max {
            self.fail(key, format!("must be between 1 and {max} (got {v})"));
        }
    }
}

impl Topology {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        let mut c = Checker(Ok(()));
        c.within("ns_per_mm", self.ns_per_mm, 0.0, MAX_NS_PER_MM, "ns/mm");
        let s = &self.system;
        c.count("system.sips", s.sips.into(), MAX_SIPS.into());
        c.count("system.cube_mesh.x", s.cube_mesh.x.into(), MAX_CUBES.into());
        c.count("system.cube_mesh.y", s.cube_mesh.y.into(), MAX_CUBES.into());
        if c.0.is_ok() && s.cube_mesh.x * s.cube_mesh.y > MAX_CUBES {
            c.fail(
                "system.cube_mesh",
                format!(
                    "{}x{} has more than {MAX_CUBES} cubes",
                    s.cube_mesh.x, s.cube_mesh.y
                ),
            );
        }
        c.count("system.pes_per_cube", s.pes_per_cube.into(), MAX_PES.into());
        c.cost("host.dma_setup_ns", self.host.dma_setup_ns);
        c.count(
            "host.read_request_bytes",
            self.host.read_request_bytes,
            1 << 20,
        );
        for (name, l) in [
            ("pcie", &self.pcie),
            ("sip_link", &self.sip_link),
            ("ucie", &self.ucie),
        ] {
            c.bandwidth(&format!("{name}.bw_gbs"), l.bw_gbs);
            c.cost(&format!("{name}.overhead_ns"), l.overhead_ns);
            c.length(&format!("{name}.length_mm"), l.length_mm);
        }
        let io = &self.io_chiplet;
        c.cost("io_chiplet.io_cpu_overhead_ns", io.io_cpu_overhead_ns);
        c.cost("io_chiplet.m_cpu_overhead_ns", io.m_cpu_overhead_ns);
        c.count("io_chiplet.noc.cols", io.noc.cols.into(), 64);
        c.bandwidth("io_chiplet.noc.bw_gbs", io.noc.bw_gbs);
        c.cost("io_chiplet.noc.overhead_ns", io.noc.overhead_ns);
        c.length("io_chiplet.noc.hop_mm", io.noc.hop_mm);
        c.cost("xbar.overhead_ns", self.xbar.overhead_ns);
        c.bandwidth("xbar.pe_port_bw_gbs", self.xbar.pe_port_bw_gbs);
        c.length("xbar.port_mm", self.xbar.port_mm);
        c.bandwidth(
            "hbm_ctrl.xbar_to_hbm_bw_gbs",
            self.hbm_ctrl.xbar_to_hbm_bw_gbs,
        );
        let eff = self.hbm_ctrl.efficiency;
        if !(eff > 0.0 && eff <= 1.0) {
            c.fail(
                "hbm_ctrl.efficiency",
                format!("must be in (0, 1] (got {eff})"),
            );
        }
        c.cost("hbm_ctrl.access_ns", self.hbm_ctrl.access_ns);
        c.count("hbm.num_pcs", self.hbm.num_pcs.into(), 1024);
        if c.0.is_ok() {
            // Each pseudo-channel serves an equal share of the sustained
            // bandwidth; that share must itself be a bandwidth.
            let lane = self.hbm_ctrl.effective_bw_gbs() / f64::from(self.hbm.num_pcs);
            if lane < MIN_GBS {
                c.fail(
                    "hbm_ctrl.xbar_to_hbm_bw_gbs",
                    format!(
                        "times efficiency over hbm.num_pcs gives {lane} GB/s per pseudo-channel, below {MIN_GBS}"
                    ),
                );
            }
            let cubes = u64::from(s.sips) * u64::from(s.cube_mesh.x * s.cube_mesh.y);
            let units = cubes * (u64::from(s.pes_per_cube) + u64::from(self.hbm.num_pcs));
            if units > MAX_MACHINE_UNITS {
                c.fail(
                    "system",
                    format!(
                        "{cubes} cubes of {} PEs and {} pseudo-channels each is {units} units, more than the {MAX_MACHINE_UNITS} the simulator builds",
                        s.pes_per_cube, self.hbm.num_pcs
                    ),
                );
            }
        }
        c.count("hbm.burst_bytes", self.hbm.burst_bytes, 1 << 20);
        c.bandwidth("sram.bw_gbs", self.sram.bw_gbs);
        c.cost("sram.access_ns", self.sram.access_ns);
        c.count("sram.size_mb", self.sram.size_mb, MAX_MEMORY_MB);
        c.cost("pe_cpu.issue_ns", self.pe_cpu.issue_ns);
        c.cost("pe_cpu.launch_ns", self.pe_cpu.launch_ns);
        c.count("pe_cpu.launch_bytes", self.pe_cpu.launch_bytes, 1 << 20);
        c.cost("pe_dma.setup_ns", self.pe_dma.setup_ns);
        c.count("pe_dma.outstanding", self.pe_dma.outstanding.into(), 1024);
        c.count("hbm.capacity_mb", self.hbm.capacity_mb, MAX_MEMORY_MB);
        c.count(
            "pe_tcm.kernel_scratch_mb",
            self.pe_tcm.kernel_scratch_mb,
            MAX_MEMORY_MB,
        );
        c.count("pe_tcm.size_mb", self.pe_tcm.size_mb, MAX_MEMORY_MB);
        if c.0.is_ok() && self.pe_tcm.size_mb < self.pe_tcm.kernel_scratch_mb {
            c.fail(
                "pe_tcm.size_mb",
                format!(
                    "must be at least kernel_scratch_mb ({} < {})",
                    self.pe_tcm.size_mb, self.pe_tcm.kernel_scratch_mb
                ),
            );
        }
        c.bandwidth("pe_tcm.fetch_bw_gbs", self.pe_tcm.fetch_bw_gbs);
        let g = &self.pe_gemm;
        for (key, v) in [
            ("pe_gemm.tile_m", g.tile_m),
            ("pe_gemm.tile_k", g.tile_k),
            ("pe_gemm.tile_n", g.tile_n),
            ("pe_gemm.mac_rows", g.mac_rows),
            ("pe_gemm.mac_cols", g.mac_cols),
        ] {
            c.count(key, v.into(), 1 << 16);
        }
        c.within(
            "pe_gemm.clock_ghz",
            g.clock_ghz,
            MIN_CLOCK_GHZ,
            MAX_CLOCK_GHZ,
            "GHz",
        );
        c.count("pe_gemm.bytes_per_element", g.bytes_per_element.into(), 8);
        c.within(
            "pe_math.elems_per_ns",
            self.pe_math.elems_per_ns,
            MIN_GBS,
            MAX_GBS,
            "elements/ns",
        );
        c.cost("pe_math.overhead_ns", self.pe_math.overhead_ns);
        c.count("ipcq.depth", self.ipcq.depth.into(), 1 << 16);
        c.cost("ipcq.overhead_ns", self.ipcq.overhead_ns);
        c.0
    }
}
