//! The machine built from a [`Topology`]: every node (host, IO chiplets, NOC
//! routers, crossbars, HBM controllers, SRAMs, PEs) and every directed link
//! between them, in flat vectors indexed by [`NodeId`] / [`LinkId`].

use std::collections::BTreeMap;
use std::fmt;

use crate::fabric::link::{Link, LinkId, LinkKind, NodeId};
use crate::fabric::topology::Topology;
use crate::fabric::units::{ns_to_ps, Bandwidth};

/// What a node is and where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    Host,
    PcieEp { sip: u32 },
    IoCpu { sip: u32 },
    Noc { sip: u32, x: u32, y: u32 },
    Xbar { sip: u32, cube: u32 },
    HbmCtrl { sip: u32, cube: u32 },
    Hbm { sip: u32, cube: u32 },
    Sram { sip: u32, cube: u32 },
    Pe { sip: u32, cube: u32, pe: u32 },
}

/// The built machine. Immutable once built; simulations keep their mutable
/// state (link occupancy) beside it.
#[derive(Debug, Clone)]
pub struct Machine {
    /// The description it was built from.
    pub topo: Topology,
    /// Every node, indexed by [`NodeId`].
    pub nodes: Vec<NodeKind>,
    /// Every directed link, indexed by [`LinkId`].
    pub links: Vec<Link>,
    by_ends: BTreeMap<(NodeId, NodeId), LinkId>,
    /// First pseudo-channel link of each (sip, cube), row-major by sip.
    pc_base: Vec<LinkId>,
    // Node index layout: host, then per SIP a block of
    // [pcie_ep, io_cpu, noc routers (cols x rows), per cube (xbar, hbm_ctrl,
    // hbm, sram, pes...)].
    per_sip: u32,
    per_cube: u32,
}

impl Machine {
    /// Builds nodes and links from a validated topology.
    pub fn new(topo: &Topology) -> Self {
        let s = &topo.system;
        let noc_cols = topo.io_chiplet.noc.cols;
        let rows = s.cube_mesh.y;
        let per_cube = 4 + s.pes_per_cube;
        let per_sip = 2 + noc_cols * rows + topo.cubes_per_sip() * per_cube;
        let mut m = Machine {
            topo: topo.clone(),
            nodes: Vec::new(),
            links: Vec::new(),
            by_ends: BTreeMap::new(),
            pc_base: Vec::new(),
            per_sip,
            per_cube,
        };
        m.nodes.push(NodeKind::Host);
        for sip in 0..s.sips {
            m.nodes.push(NodeKind::PcieEp { sip });
            m.nodes.push(NodeKind::IoCpu { sip });
            for y in 0..rows {
                for x in 0..noc_cols {
                    m.nodes.push(NodeKind::Noc { sip, x, y });
                }
            }
            for cube in 0..topo.cubes_per_sip() {
                m.nodes.push(NodeKind::Xbar { sip, cube });
                m.nodes.push(NodeKind::HbmCtrl { sip, cube });
                m.nodes.push(NodeKind::Hbm { sip, cube });
                m.nodes.push(NodeKind::Sram { sip, cube });
                for pe in 0..s.pes_per_cube {
                    m.nodes.push(NodeKind::Pe { sip, cube, pe });
                }
            }
        }
        debug_assert_eq!(m.nodes.len() as u32, 1 + s.sips * per_sip);
        m.build_links();
        m
    }

    fn build_links(&mut self) {
        let t = self.topo.clone();
        let mm = |len: f64| ns_to_ps(len * t.ns_per_mm);
        let xbar_ps = ns_to_ps(t.xbar.overhead_ns);
        let ucie_ps = ns_to_ps(2.0 * t.ucie.overhead_ns);
        let noc = &t.io_chiplet.noc;
        for sip in 0..t.system.sips {
            // Host side and IO chiplet.
            let pcie = (
                Bandwidth::from_gbs(t.pcie.bw_gbs),
                ns_to_ps(t.pcie.overhead_ns),
                mm(t.pcie.length_mm),
            );
            if sip == 0 {
                self.pair(NodeId(0), self.pcie_ep(sip), LinkKind::Pcie, pcie);
            }
            let noc_bw = Bandwidth::from_gbs(noc.bw_gbs);
            let io = (noc_bw, ns_to_ps(t.io_chiplet.io_cpu_overhead_ns), 0);
            self.pair(self.pcie_ep(sip), self.io_cpu(sip), LinkKind::IoCpu, io);
            let hop = (noc_bw, ns_to_ps(noc.overhead_ns), mm(noc.hop_mm));
            self.pair(self.io_cpu(sip), self.noc(sip, 0, 0), LinkKind::Noc, hop);
            for y in 0..t.system.cube_mesh.y {
                for x in 0..noc.cols {
                    if x + 1 < noc.cols {
                        self.pair(
                            self.noc(sip, x, y),
                            self.noc(sip, x + 1, y),
                            LinkKind::Noc,
                            hop,
                        );
                    }
                    if y + 1 < t.system.cube_mesh.y {
                        self.pair(
                            self.noc(sip, x, y),
                            self.noc(sip, x, y + 1),
                            LinkKind::Noc,
                            hop,
                        );
                    }
                }
            }
            if sip + 1 < t.system.sips {
                let sl = (
                    Bandwidth::from_gbs(t.sip_link.bw_gbs),
                    ns_to_ps(t.sip_link.overhead_ns),
                    mm(t.sip_link.length_mm),
                );
                self.pair(
                    self.noc(sip, 0, 0),
                    self.noc(sip + 1, 0, 0),
                    LinkKind::SipLink,
                    sl,
                );
            }
            // Cube mesh: UCIe between neighbours and from the NOC's east
            // column to the west-edge cubes.
            let ucie_bw = Bandwidth::from_gbs(t.ucie.bw_gbs);
            let ucie = mm(t.ucie.length_mm);
            let (mx, my) = (t.system.cube_mesh.x, t.system.cube_mesh.y);
            for y in 0..my {
                let edge = self.xbar(sip, self.cube_index(0, y));
                let router = self.noc(sip, noc.cols - 1, y);
                self.push(router, edge, LinkKind::Ucie, (ucie_bw, ucie_ps, ucie));
                self.push(
                    edge,
                    router,
                    LinkKind::Ucie,
                    (ucie_bw, ucie_ps + xbar_ps, ucie),
                );
                for x in 0..mx {
                    let here = self.xbar(sip, self.cube_index(x, y));
                    let mut neighbours = Vec::with_capacity(2);
                    if x + 1 < mx {
                        neighbours.push(self.xbar(sip, self.cube_index(x + 1, y)));
                    }
                    if y + 1 < my {
                        neighbours.push(self.xbar(sip, self.cube_index(x, y + 1)));
                    }
                    for there in neighbours {
                        // Leaving a crossbar costs its arbitration too.
                        let l = (ucie_bw, ucie_ps + xbar_ps, ucie);
                        self.push(here, there, LinkKind::Ucie, l);
                        self.push(there, here, LinkKind::Ucie, l);
                    }
                }
            }
            // Inside each cube.
            let port = mm(t.xbar.port_mm);
            let pe_bw = Bandwidth::from_gbs(t.xbar.pe_port_bw_gbs);
            let hbm_raw = Bandwidth::from_gbs(t.hbm_ctrl.xbar_to_hbm_bw_gbs);
            let pc_bw =
                Bandwidth::from_gbs(t.hbm_ctrl.effective_bw_gbs() / f64::from(t.hbm.num_pcs));
            let sram_bw = Bandwidth::from_gbs(t.sram.bw_gbs);
            let sram_ps = ns_to_ps(t.sram.access_ns);
            for cube in 0..t.cubes_per_sip() {
                let xb = self.xbar(sip, cube);
                for pe in 0..t.system.pes_per_cube {
                    let p = self.pe(sip, cube, pe);
                    self.push(p, xb, LinkKind::PePort, (pe_bw, 0, port));
                    self.push(xb, p, LinkKind::PePort, (pe_bw, xbar_ps, port));
                }
                let ctrl = self.hbm_ctrl(sip, cube);
                self.push(xb, ctrl, LinkKind::HbmPort, (hbm_raw, xbar_ps, port));
                self.push(ctrl, xb, LinkKind::HbmPort, (hbm_raw, 0, port));
                self.pc_base.push(LinkId(self.links.len() as u32));
                let access = ns_to_ps(t.hbm_ctrl.access_ns);
                for _ in 0..t.hbm.num_pcs {
                    self.push_unindexed(
                        ctrl,
                        self.hbm(sip, cube),
                        LinkKind::HbmPc,
                        (pc_bw, access, 0),
                    );
                }
                let sram = self.sram(sip, cube);
                self.push(
                    xb,
                    sram,
                    LinkKind::SramPort,
                    (sram_bw, xbar_ps + sram_ps, port),
                );
                self.push(sram, xb, LinkKind::SramPort, (sram_bw, sram_ps, port));
            }
        }
    }

    fn pair(&mut self, a: NodeId, b: NodeId, kind: LinkKind, p: (Bandwidth, u64, u64)) {
        self.push(a, b, kind, p);
        self.push(b, a, kind, p);
    }

    fn push(&mut self, from: NodeId, to: NodeId, kind: LinkKind, p: (Bandwidth, u64, u64)) {
        let id = self.push_unindexed(from, to, kind, p);
        self.by_ends.insert((from, to), id);
    }

    fn push_unindexed(
        &mut self,
        from: NodeId,
        to: NodeId,
        kind: LinkKind,
        (bw, overhead_ps, prop_ps): (Bandwidth, u64, u64),
    ) -> LinkId {
        let id = LinkId(self.links.len() as u32);
        self.links.push(Link {
            from,
            to,
            kind,
            bw,
            overhead_ps,
            prop_ps,
        });
        id
    }

    /// The link from `a` to `b`, if they are neighbours.
    pub fn link_between(&self, a: NodeId, b: NodeId) -> Option<LinkId> {
        self.by_ends.get(&(a, b)).copied()
    }

    /// The link `id`.
    pub fn link(&self, id: LinkId) -> &Link {
        &self.links[id.0 as usize]
    }

    /// What node `id` is.
    pub fn node(&self, id: NodeId) -> NodeKind {
        self.nodes[id.0 as usize]
    }

    /// The pseudo-channel links of one HBM slice (consecutive ids).
    pub fn hbm_pcs(&self, sip: u32, cube: u32) -> (LinkId, u32) {
        let i = (sip * self.topo.cubes_per_sip() + cube) as usize;
        (self.pc_base[i], self.topo.hbm.num_pcs)
    }

    /// Row-major cube index of mesh position (x, y).
    pub fn cube_index(&self, x: u32, y: u32) -> u32 {
        y * self.topo.system.cube_mesh.x + x
    }

    /// Mesh position (x, y) of a cube index.
    pub fn cube_xy(&self, cube: u32) -> (u32, u32) {
        let mx = self.topo.system.cube_mesh.x;
        (cube % mx, cube / mx)
    }

    fn sip_base(&self, sip: u32) -> u32 {
        1 + sip * self.per_sip
    }
    /// SIP `sip`'s PCIe endpoint.
    pub fn pcie_ep(&self, sip: u32) -> NodeId {
        NodeId(self.sip_base(sip))
    }
    /// SIP `sip`'s IO-chiplet CPU.
    pub fn io_cpu(&self, sip: u32) -> NodeId {
        NodeId(self.sip_base(sip) + 1)
    }
    /// NOC router (x, y) of SIP `sip`.
    pub fn noc(&self, sip: u32, x: u32, y: u32) -> NodeId {
        NodeId(self.sip_base(sip) + 2 + y * self.topo.io_chiplet.noc.cols + x)
    }
    fn cube_base(&self, sip: u32, cube: u32) -> u32 {
        let nocs = self.topo.io_chiplet.noc.cols * self.topo.system.cube_mesh.y;
        self.sip_base(sip) + 2 + nocs + cube * self.per_cube
    }
    /// A cube's crossbar.
    pub fn xbar(&self, sip: u32, cube: u32) -> NodeId {
        NodeId(self.cube_base(sip, cube))
    }
    /// A cube's HBM controller.
    pub fn hbm_ctrl(&self, sip: u32, cube: u32) -> NodeId {
        NodeId(self.cube_base(sip, cube) + 1)
    }
    /// A cube's HBM slice.
    pub fn hbm(&self, sip: u32, cube: u32) -> NodeId {
        NodeId(self.cube_base(sip, cube) + 2)
    }
    /// A cube's SRAM.
    pub fn sram(&self, sip: u32, cube: u32) -> NodeId {
        NodeId(self.cube_base(sip, cube) + 3)
    }
    /// A PE (its DMA port and TCM).
    pub fn pe(&self, sip: u32, cube: u32, pe: u32) -> NodeId {
        NodeId(self.cube_base(sip, cube) + 4 + pe)
    }

    /// A readable name for a node, e.g. `sip0.cube(3,3).xbar`.
    pub fn node_name(&self, id: NodeId) -> String {
        NodeName(self, self.node(id)).to_string()
    }
}

struct NodeName<'a>(&'a Machine, NodeKind);

impl fmt::Display for NodeName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cube = |f: &mut fmt::Formatter<'_>, sip: u32, c: u32, what: &dyn fmt::Display| {
            let (x, y) = self.0.cube_xy(c);
            write!(f, "sip{sip}.cube({x},{y}).{what}")
        };
        match self.1 {
            NodeKind::Host => f.write_str("host"),
            NodeKind::PcieEp { sip } => write!(f, "sip{sip}.pcie_ep"),
            NodeKind::IoCpu { sip } => write!(f, "sip{sip}.io_cpu"),
            NodeKind::Noc { sip, x, y } => write!(f, "sip{sip}.noc({x},{y})"),
            NodeKind::Xbar { sip, cube: c } => cube(f, sip, c, &"xbar"),
            NodeKind::HbmCtrl { sip, cube: c } => cube(f, sip, c, &"hbm_ctrl"),
            NodeKind::Hbm { sip, cube: c } => cube(f, sip, c, &"hbm"),
            NodeKind::Sram { sip, cube: c } => cube(f, sip, c, &"sram"),
            NodeKind::Pe { sip, cube: c, pe } => cube(f, sip, c, &format_args!("pe{pe}")),
        }
    }
}
