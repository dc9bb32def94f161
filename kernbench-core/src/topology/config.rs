//! The serde image of `topology.yaml`: one struct per section, every field
//! required and every unknown key rejected, so a typo never silently falls
//! back to a default.

use serde::Deserialize;

/// The whole machine description, as written in `topology.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Wire propagation delay in ns per mm.
    pub ns_per_mm: f64,
    pub system: SystemCfg,
    pub host: HostCfg,
    pub pcie: LinkCfg,
    pub sip_link: LinkCfg,
    pub io_chiplet: IoChipletCfg,
    pub ucie: LinkCfg,
    pub xbar: XbarCfg,
    pub hbm_ctrl: HbmCtrlCfg,
    pub hbm: HbmCfg,
    pub sram: SramCfg,
    pub pe_cpu: PeCpuCfg,
    pub pe_dma: PeDmaCfg,
    pub pe_tcm: PeTcmCfg,
    pub pe_gemm: PeGemmCfg,
    pub pe_math: PeMathCfg,
    pub ipcq: IpcqCfg,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemCfg {
    pub sips: u32,
    pub cube_mesh: MeshCfg,
    pub pes_per_cube: u32,
}

/// Cubes per SIP along x (west to east) and y (north to south).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshCfg {
    pub x: u32,
    pub y: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCfg {
    pub dma_setup_ns: f64,
    pub read_request_bytes: u64,
}

/// A point-to-point link: bandwidth per direction, fixed per-traversal
/// overhead and wire length.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkCfg {
    pub bw_gbs: f64,
    pub overhead_ns: f64,
    pub length_mm: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IoChipletCfg {
    pub io_cpu_overhead_ns: f64,
    pub m_cpu_overhead_ns: f64,
    pub noc: NocCfg,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NocCfg {
    pub cols: u32,
    pub bw_gbs: f64,
    pub overhead_ns: f64,
    pub hop_mm: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XbarCfg {
    pub overhead_ns: f64,
    pub pe_port_bw_gbs: f64,
    pub port_mm: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HbmCtrlCfg {
    pub xbar_to_hbm_bw_gbs: f64,
    pub efficiency: f64,
    pub access_ns: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HbmCfg {
    pub num_pcs: u32,
    pub burst_bytes: u64,
    pub capacity_mb: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SramCfg {
    pub bw_gbs: f64,
    pub access_ns: f64,
    pub size_mb: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeCpuCfg {
    pub issue_ns: f64,
    pub launch_ns: f64,
    pub launch_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeDmaCfg {
    pub setup_ns: f64,
    pub outstanding: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeTcmCfg {
    pub kernel_scratch_mb: u64,
    pub size_mb: u64,
    pub fetch_bw_gbs: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeGemmCfg {
    pub tile_m: u32,
    pub tile_k: u32,
    pub tile_n: u32,
    pub mac_rows: u32,
    pub mac_cols: u32,
    pub clock_ghz: f64,
    pub bytes_per_element: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeMathCfg {
    pub elems_per_ns: f64,
    pub overhead_ns: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpcqCfg {
    pub depth: u32,
    pub overhead_ns: f64,
}

impl PeTcmCfg {
    /// Kernel scratch capacity in bytes.
    pub fn scratch_bytes(&self) -> u64 {
        self.kernel_scratch_mb * 1024 * 1024
    }
}

impl PeGemmCfg {
    /// MACs the array completes per ns.
    pub fn macs_per_ns(&self) -> f64 {
        f64::from(self.mac_rows) * f64::from(self.mac_cols) * self.clock_ghz
    }
}

impl HbmCtrlCfg {
    /// Sustained bandwidth of one HBM slice (raw x efficiency), GB/s.
    pub fn effective_bw_gbs(&self) -> f64 {
        self.xbar_to_hbm_bw_gbs * self.efficiency
    }
}
