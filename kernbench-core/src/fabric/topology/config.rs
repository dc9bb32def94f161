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
    /// SIPs, the cube mesh and PEs per cube.
    pub system: SystemCfg,
    /// Host-side DMA costs.
    pub host: HostCfg,
    /// Host to SIP 0.
    pub pcie: LinkCfg,
    /// Between consecutive SIPs.
    pub sip_link: LinkCfg,
    /// The IO chiplet: its CPUs and NOC.
    pub io_chiplet: IoChipletCfg,
    /// Between neighbouring cubes (and the NOC's east column and the west cubes).
    pub ucie: LinkCfg,
    /// A cube's crossbar.
    pub xbar: XbarCfg,
    /// A cube's HBM controller.
    pub hbm_ctrl: HbmCtrlCfg,
    /// A cube's HBM slice: pseudo-channels, bursts, capacity.
    pub hbm: HbmCfg,
    /// A cube's shared SRAM.
    pub sram: SramCfg,
    /// The PE's in-order command issuer.
    pub pe_cpu: PeCpuCfg,
    /// The PE's DMA engine.
    pub pe_dma: PeDmaCfg,
    /// The PE's tightly coupled memory.
    pub pe_tcm: PeTcmCfg,
    /// The PE's MAC array and the scheduler's tile.
    pub pe_gemm: PeGemmCfg,
    /// The PE's vector engine.
    pub pe_math: PeMathCfg,
    /// Inter-PE queues.
    pub ipcq: IpcqCfg,
    /// How the simulator models the machine (not the machine itself).
    pub sim: SimCfg,
}

/// Simulator settings: the fidelity of the network model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimCfg {
    /// `burst` (the reference) or `flow`.
    pub network: Network,
}

/// The fidelity of the network model.
///
/// ```
/// use kernbench_core::fabric::topology::Network;
/// use kernbench_core::support::Named;
///
/// assert_eq!(Network::from_name("flow"), Ok(Network::Flow));
/// assert_eq!(Network::Burst.name(), "burst");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Every burst crosses every hop and each link serializes bursts first
    /// come, first served: the reference.
    Burst,
    /// Every transfer is one flow; an overloaded link serves the flows
    /// arriving at it in proportion to how fast they come and queues the
    /// rest, as burst mode's first-come, first-served links do, recomputed
    /// when a flow starts or ends, a stage passes its last byte or a queue
    /// runs dry. Per-hop overheads and propagation as in burst mode.
    Flow,
}

impl crate::support::Named for Network {
    const WHAT: &'static str = "network mode";
    const ALL: &'static [Network] = &[Network::Burst, Network::Flow];
    fn name(self) -> &'static str {
        match self {
            Network::Burst => "burst",
            Network::Flow => "flow",
        }
    }
}
crate::support::named_str!(Network);

/// The machine's shape.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemCfg {
    /// SIPs chained host -- SIP 0 -- SIP 1 ...; tensor-parallel ranks.
    pub sips: u32,
    /// Cubes per SIP.
    pub cube_mesh: MeshCfg,
    /// PEs per cube.
    pub pes_per_cube: u32,
}

/// Cubes per SIP along x (west to east) and y (north to south).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshCfg {
    /// Columns.
    pub x: u32,
    /// Rows.
    pub y: u32,
}

/// Host-side costs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCfg {
    /// Driver and descriptor setup before a host DMA moves its first byte.
    pub dma_setup_ns: f64,
    /// Size of the request packet that precedes any read's data.
    pub read_request_bytes: u64,
}

/// A point-to-point link: bandwidth per direction, fixed per-traversal
/// overhead and wire length.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkCfg {
    /// Bandwidth per direction, GB/s.
    pub bw_gbs: f64,
    /// Fixed cost per traversal (for UCIe: per port, two ports a crossing).
    pub overhead_ns: f64,
    /// Wire length of one traversal.
    pub length_mm: f64,
}

/// The IO chiplet of a SIP.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IoChipletCfg {
    /// io_cpu's forwarding cost per request.
    pub io_cpu_overhead_ns: f64,
    /// m_cpu's cost per kernel launch it fans out.
    pub m_cpu_overhead_ns: f64,
    /// The NOC between io_cpu and the cube mesh.
    pub noc: NocCfg,
}

/// The IO chiplet's NOC: `cols` columns of routers, one row per cube row.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NocCfg {
    /// Router columns; the east column attaches to the west-edge cubes.
    pub cols: u32,
    /// Router-to-router bandwidth per direction, GB/s.
    pub bw_gbs: f64,
    /// Router pipeline latency per hop.
    pub overhead_ns: f64,
    /// Wire length between neighbouring routers.
    pub hop_mm: f64,
}

/// A cube's crossbar.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XbarCfg {
    /// Arbitration per traversal, charged on every link leaving the crossbar.
    pub overhead_ns: f64,
    /// Bandwidth of a port to a PE, per direction, GB/s.
    pub pe_port_bw_gbs: f64,
    /// Wire length from a port to its PE, SRAM or HBM controller.
    pub port_mm: f64,
}

/// A cube's HBM controller.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HbmCtrlCfg {
    /// Raw bandwidth of the slice, GB/s.
    pub xbar_to_hbm_bw_gbs: f64,
    /// Fraction of the raw bandwidth sustained, in (0, 1].
    pub efficiency: f64,
    /// Access latency of a burst on a pseudo-channel.
    pub access_ns: f64,
}

/// A cube's HBM slice.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HbmCfg {
    /// Pseudo-channels; each serves `xbar_to_hbm_bw_gbs x efficiency / num_pcs`.
    pub num_pcs: u32,
    /// Transfers move in bursts of this size; addresses interleave over
    /// pseudo-channels by burst.
    pub burst_bytes: u64,
    /// Capacity of the slice, MiB.
    pub capacity_mb: u64,
}

/// A cube's shared SRAM.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SramCfg {
    /// Bandwidth of its crossbar port, per direction, GB/s.
    pub bw_gbs: f64,
    /// Access latency.
    pub access_ns: f64,
    /// Capacity, MiB (half for kernel buffers, half for tensors).
    pub size_mb: u64,
}

/// The PE's in-order command issuer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeCpuCfg {
    /// Cost of issuing one command.
    pub issue_ns: f64,
    /// Cost of starting a program, on launch or after the previous one.
    pub launch_ns: f64,
    /// Size of the launch descriptor the host sends each PE.
    pub launch_bytes: u64,
}

/// The PE's DMA engine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeDmaCfg {
    /// Descriptor setup before a transfer's first byte.
    pub setup_ns: f64,
    /// Transfers in flight at once (and tiles the GEMM pipeline stages ahead).
    pub outstanding: u32,
}

/// The PE's tightly coupled memory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeTcmCfg {
    /// Scratch for kernel buffers, MiB (allocated by liveness).
    pub kernel_scratch_mb: u64,
    /// Whole TCM, MiB; the part past the scratch can hold tensors.
    pub size_mb: u64,
    /// TCM read bandwidth into the MAC array (the Fetch stage), GB/s.
    pub fetch_bw_gbs: f64,
}

/// The PE's MAC array and the PE scheduler's tile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeGemmCfg {
    /// Tile rows (M).
    pub tile_m: u32,
    /// Tile depth (K).
    pub tile_k: u32,
    /// Tile columns (N).
    pub tile_n: u32,
    /// MAC array rows.
    pub mac_rows: u32,
    /// MAC array columns.
    pub mac_cols: u32,
    /// MAC array clock, GHz.
    pub clock_ghz: f64,
    /// Bytes per operand element the hardware is built for (fp16 = 2);
    /// commands carry their own dtypes.
    pub bytes_per_element: u32,
}

/// The PE's vector engine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeMathCfg {
    /// Elements processed per ns.
    pub elems_per_ns: f64,
    /// Fixed cost per command.
    pub overhead_ns: f64,
}

/// Inter-PE queues.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpcqCfg {
    /// Messages a queue between two ranks holds before the sender waits.
    pub depth: u32,
    /// Cost of posting a send or completing a receive.
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
