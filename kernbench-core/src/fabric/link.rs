//! Directed links: the resources every transfer occupies. A link serializes
//! the bursts that use it first come, first served; its fixed overhead and
//! wire propagation delay a burst's head without occupying the link.

use crate::fabric::units::{Bandwidth, Ps};

/// Index of a node in [`crate::fabric::machine::Machine::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// Index of a link in [`crate::fabric::machine::Machine::links`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);

/// What a link models; used for reports and for what-if edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkKind {
    /// Host to SIP 0.
    Pcie,
    /// The IO chiplet's CPU forwarding a request onto the NOC.
    IoCpu,
    /// Between NOC routers (and io_cpu to the NOC).
    Noc,
    /// Between consecutive SIPs.
    SipLink,
    /// Between neighbouring cubes, or the NOC and a west-edge cube.
    Ucie,
    /// A crossbar port to or from a PE.
    PePort,
    /// The crossbar's port to the HBM controller.
    HbmPort,
    /// One HBM pseudo-channel (shared by reads and writes).
    HbmPc,
    /// The crossbar's port to the cube's SRAM.
    SramPort,
}

/// A directed link with its timing parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Where bursts enter.
    pub from: NodeId,
    /// Where bursts leave.
    pub to: NodeId,
    /// What the link models.
    pub kind: LinkKind,
    /// Serialization rate.
    pub bw: Bandwidth,
    /// Fixed per-traversal cost (protocol, arbitration, access latency).
    pub overhead_ps: Ps,
    /// Wire propagation.
    pub prop_ps: Ps,
}

impl Link {
    /// Head latency of the link: what a burst waits before the next hop sees it.
    pub fn delay_ps(&self) -> Ps {
        self.overhead_ps + self.prop_ps
    }
}
