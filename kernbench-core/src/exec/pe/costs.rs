//! The fixed costs the executor charges, read once from the topology.

use crate::fabric::topology::Topology;
use crate::fabric::units::{ns_to_ps, ps_ceil, Ps};

/// Costs the executor needs, in ps, read once from the topology.
#[derive(Debug, Clone, Copy)]
pub(super) struct Costs {
    /// pe_cpu's issue interval: command `i` issues `(i + 1) x issue` after
    /// its program starts.
    pub issue: Ps,
    /// Descriptor setup of a PE DMA transfer.
    pub dma_setup: Ps,
    /// Fixed cost of a vector-engine command.
    pub math_overhead: Ps,
    /// Vector-engine throughput.
    pub math_elems_per_ns: f64,
    /// DMA transfers (and GEMM operand tiles) a PE keeps in flight.
    pub dma_outstanding: u32,
    /// pe_cpu's cost to start a program.
    pub launch: Ps,
    /// m_cpu's cost to forward a launch descriptor.
    pub m_cpu: Ps,
    /// Host DMA setup of a descriptor upload.
    pub host_setup: Ps,
    /// Size of a launch descriptor.
    pub launch_bytes: u64,
    /// Cost of an IPCQ send or receive.
    pub ipcq: Ps,
}

impl Costs {
    pub fn new(t: &Topology) -> Self {
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

    /// Vector-engine time of a command over `elems` elements.
    pub fn math(&self, elems: u64) -> Ps {
        self.math_overhead + ps_ceil(elems as f64 * 1000.0 / self.math_elems_per_ns)
    }
}
