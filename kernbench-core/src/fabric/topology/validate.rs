//! Range checks serde cannot express: positive bandwidths and counts,
//! non-negative latencies, meshes the address map can hold.

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

    /// Bandwidths, clocks, throughputs: a zero would mean infinite time.
    fn positive(&mut self, key: &str, v: f64) {
        if !(v.is_finite() && v > 0.0) {
            self.fail(key, format!("must be a positive number (got {v})"));
        }
    }

    /// Latencies and lengths: zero is a legitimate what-if, negative is not.
    fn non_negative(&mut self, key: &str, v: f64) {
        if !(v.is_finite() && v >= 0.0) {
            self.fail(key, format!("must be zero or positive (got {v})"));
        }
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
        c.non_negative("ns_per_mm", self.ns_per_mm);
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
        c.non_negative("host.dma_setup_ns", self.host.dma_setup_ns);
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
            c.positive(&format!("{name}.bw_gbs"), l.bw_gbs);
            c.non_negative(&format!("{name}.overhead_ns"), l.overhead_ns);
            c.non_negative(&format!("{name}.length_mm"), l.length_mm);
        }
        let io = &self.io_chiplet;
        c.non_negative("io_chiplet.io_cpu_overhead_ns", io.io_cpu_overhead_ns);
        c.non_negative("io_chiplet.m_cpu_overhead_ns", io.m_cpu_overhead_ns);
        c.count("io_chiplet.noc.cols", io.noc.cols.into(), 64);
        c.positive("io_chiplet.noc.bw_gbs", io.noc.bw_gbs);
        c.non_negative("io_chiplet.noc.overhead_ns", io.noc.overhead_ns);
        c.non_negative("io_chiplet.noc.hop_mm", io.noc.hop_mm);
        c.non_negative("xbar.overhead_ns", self.xbar.overhead_ns);
        c.positive("xbar.pe_port_bw_gbs", self.xbar.pe_port_bw_gbs);
        c.non_negative("xbar.port_mm", self.xbar.port_mm);
        c.positive(
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
        c.non_negative("hbm_ctrl.access_ns", self.hbm_ctrl.access_ns);
        c.count("hbm.num_pcs", self.hbm.num_pcs.into(), 1024);
        c.count("hbm.burst_bytes", self.hbm.burst_bytes, 1 << 20);
        c.positive("sram.bw_gbs", self.sram.bw_gbs);
        c.non_negative("sram.access_ns", self.sram.access_ns);
        c.count("sram.size_mb", self.sram.size_mb, 1 << 20);
        c.non_negative("pe_cpu.issue_ns", self.pe_cpu.issue_ns);
        c.non_negative("pe_cpu.launch_ns", self.pe_cpu.launch_ns);
        c.count("pe_cpu.launch_bytes", self.pe_cpu.launch_bytes, 1 << 20);
        c.non_negative("pe_dma.setup_ns", self.pe_dma.setup_ns);
        c.count("pe_dma.outstanding", self.pe_dma.outstanding.into(), 1024);
        c.count("hbm.capacity_mb", self.hbm.capacity_mb, 1 << 26);
        c.count(
            "pe_tcm.kernel_scratch_mb",
            self.pe_tcm.kernel_scratch_mb,
            1 << 16,
        );
        c.count("pe_tcm.size_mb", self.pe_tcm.size_mb, 1 << 16);
        if c.0.is_ok() && self.pe_tcm.size_mb < self.pe_tcm.kernel_scratch_mb {
            c.fail(
                "pe_tcm.size_mb",
                format!(
                    "must be at least kernel_scratch_mb ({} < {})",
                    self.pe_tcm.size_mb, self.pe_tcm.kernel_scratch_mb
                ),
            );
        }
        c.positive("pe_tcm.fetch_bw_gbs", self.pe_tcm.fetch_bw_gbs);
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
        c.positive("pe_gemm.clock_ghz", g.clock_ghz);
        c.count("pe_gemm.bytes_per_element", g.bytes_per_element.into(), 8);
        c.positive("pe_math.elems_per_ns", self.pe_math.elems_per_ns);
        c.non_negative("pe_math.overhead_ns", self.pe_math.overhead_ns);
        c.count("ipcq.depth", self.ipcq.depth.into(), 1 << 16);
        c.non_negative("ipcq.overhead_ns", self.ipcq.overhead_ns);
        c.0
    }
}
