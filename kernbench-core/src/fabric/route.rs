//! Routing: the path of links between two endpoints. Cube meshes and NOCs
//! route X first, then Y; SIPs are chained; everything that leaves a SIP or
//! comes from the host passes the IO chiplet's NOC at router (0, 0).

use crate::fabric::addr::{Endpoint, PhysAddr, Space};
use crate::fabric::link::{LinkId, NodeId};
use crate::fabric::machine::Machine;

/// One step of a route. `lanes > 1` means the step is a group of parallel
/// links with consecutive ids (HBM pseudo-channels); each burst takes the
/// lane its address interleaves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// The link (the first of the group when `lanes > 1`).
    pub link: LinkId,
    /// Parallel links in the group (1 for an ordinary link).
    pub lanes: u32,
    /// The node the hop arrives at.
    pub to: NodeId,
}

/// The path of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The source node.
    pub from: NodeId,
    /// Hops in order; empty within one PE's TCM.
    pub hops: Vec<Hop>,
}

/// Why no route could be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Addr(#[from] crate::fabric::addr::AddrError),
    #[error("no link from {from} to {to} (the topology has no such neighbours)")]
    NoLink { from: String, to: String },
}

/// Where a route enters or leaves the inter-chip fabric.
#[derive(Clone, Copy)]
enum Port {
    /// At a cube's crossbar.
    Cube { sip: u32, cube: u32 },
    /// At the IO chiplet's NOC router (0, 0).
    Io { sip: u32 },
}

impl Machine {
    /// The route from `src` to `dst`.
    pub fn route(&self, src: Endpoint, dst: Endpoint) -> Result<Route, RouteError> {
        for e in [src, dst] {
            if let Endpoint::Mem(a) = e {
                a.check(&self.topo)?;
            }
        }
        let mut b = Builder {
            m: self,
            route: Route {
                from: self.endpoint_node(src),
                hops: Vec::new(),
            },
        };
        // A copy within one PE's TCM does not cross the fabric. (Copies
        // within an HBM slice or an SRAM still pass its controller twice.)
        let tcm = |e: Endpoint| {
            matches!(
                e,
                Endpoint::Mem(PhysAddr {
                    space: Space::Tcm { .. },
                    ..
                })
            )
        };
        if tcm(src) && b.route.from == self.endpoint_node(dst) {
            return Ok(b.route);
        }
        // Leave the source endpoint.
        let start = match src {
            Endpoint::Host => {
                b.walk(&[self.pcie_ep(0), self.io_cpu(0), self.noc(0, 0, 0)])?;
                Port::Io { sip: 0 }
            }
            Endpoint::Mem(a) => {
                let xbar = self.xbar(a.sip, a.cube);
                match a.space {
                    Space::Hbm => {
                        b.pcs(a, self.hbm_ctrl(a.sip, a.cube));
                        b.walk(&[xbar])?;
                    }
                    Space::Sram | Space::Tcm { .. } => b.walk(&[xbar])?,
                }
                Port::Cube {
                    sip: a.sip,
                    cube: a.cube,
                }
            }
        };
        let end = match dst {
            Endpoint::Host => Port::Io { sip: 0 },
            Endpoint::Mem(a) => Port::Cube {
                sip: a.sip,
                cube: a.cube,
            },
        };
        b.fabric(start, end)?;
        // Enter the destination endpoint.
        match dst {
            Endpoint::Host => b.walk(&[self.io_cpu(0), self.pcie_ep(0), NodeId(0)])?,
            Endpoint::Mem(a) => match a.space {
                Space::Hbm => {
                    b.walk(&[self.hbm_ctrl(a.sip, a.cube)])?;
                    b.pcs(a, self.hbm(a.sip, a.cube));
                }
                Space::Sram => b.walk(&[self.sram(a.sip, a.cube)])?,
                Space::Tcm { pe } => b.walk(&[self.pe(a.sip, a.cube, pe)])?,
            },
        }
        Ok(b.route)
    }

    /// The node an endpoint is.
    pub fn endpoint_node(&self, e: Endpoint) -> NodeId {
        match e {
            Endpoint::Host => NodeId(0),
            Endpoint::Mem(a) => match a.space {
                Space::Hbm => self.hbm(a.sip, a.cube),
                Space::Sram => self.sram(a.sip, a.cube),
                Space::Tcm { pe } => self.pe(a.sip, a.cube, pe),
            },
        }
    }
}

struct Builder<'a> {
    m: &'a Machine,
    route: Route,
}

impl Builder<'_> {
    fn at(&self) -> NodeId {
        self.route.hops.last().map_or(self.route.from, |h| h.to)
    }

    /// Appends hops through `nodes`, each a neighbour of the one before.
    fn walk(&mut self, nodes: &[NodeId]) -> Result<(), RouteError> {
        for &to in nodes {
            let from = self.at();
            if from == to {
                continue;
            }
            let link = self
                .m
                .link_between(from, to)
                .ok_or_else(|| RouteError::NoLink {
                    from: self.m.node_name(from),
                    to: self.m.node_name(to),
                })?;
            self.route.hops.push(Hop { link, lanes: 1, to });
        }
        Ok(())
    }

    /// The pseudo-channel stage of an HBM slice, arriving at `to`.
    fn pcs(&mut self, a: PhysAddr, to: NodeId) {
        let (link, lanes) = self.m.hbm_pcs(a.sip, a.cube);
        self.route.hops.push(Hop { link, lanes, to });
    }

    fn fabric(&mut self, start: Port, end: Port) -> Result<(), RouteError> {
        match (start, end) {
            (Port::Cube { sip: s, cube: a }, Port::Cube { sip: t, cube: b }) if s == t => {
                self.mesh_xy(s, a, b)
            }
            (Port::Cube { sip: s, cube: a }, _) => {
                self.cube_to_io(s, a)?;
                self.fabric(Port::Io { sip: s }, end)
            }
            (Port::Io { sip: s }, Port::Io { sip: t }) => self.sip_chain(s, t),
            (Port::Io { sip: s }, Port::Cube { sip: t, cube: b }) => {
                self.sip_chain(s, t)?;
                self.io_to_cube(t, b)
            }
        }
    }

    /// XY walk between two cubes of one SIP.
    fn mesh_xy(&mut self, sip: u32, from: u32, to: u32) -> Result<(), RouteError> {
        let m = self.m;
        let ((mut x, mut y), (tx, ty)) = (m.cube_xy(from), m.cube_xy(to));
        let mut path = Vec::new();
        while x != tx {
            x = if tx > x { x + 1 } else { x - 1 };
            path.push(m.xbar(sip, m.cube_index(x, y)));
        }
        while y != ty {
            y = if ty > y { y + 1 } else { y - 1 };
            path.push(m.xbar(sip, m.cube_index(x, y)));
        }
        self.walk(&path)
    }

    /// XY walk between two NOC routers of one SIP.
    fn noc_xy(
        &mut self,
        sip: u32,
        (mut x, mut y): (u32, u32),
        (tx, ty): (u32, u32),
    ) -> Result<(), RouteError> {
        let mut path = Vec::new();
        while x != tx {
            x = if tx > x { x + 1 } else { x - 1 };
            path.push(self.m.noc(sip, x, y));
        }
        while y != ty {
            y = if ty > y { y + 1 } else { y - 1 };
            path.push(self.m.noc(sip, x, y));
        }
        self.walk(&path)
    }

    fn cube_to_io(&mut self, sip: u32, cube: u32) -> Result<(), RouteError> {
        let (_, y) = self.m.cube_xy(cube);
        let west = self.m.cube_index(0, y);
        self.mesh_xy(sip, cube, west)?;
        let east_col = self.m.topo.io_chiplet.noc.cols - 1;
        self.walk(&[self.m.noc(sip, east_col, y)])?;
        self.noc_xy(sip, (east_col, y), (0, 0))
    }

    fn io_to_cube(&mut self, sip: u32, cube: u32) -> Result<(), RouteError> {
        let (_, y) = self.m.cube_xy(cube);
        let east_col = self.m.topo.io_chiplet.noc.cols - 1;
        self.noc_xy(sip, (0, 0), (east_col, y))?;
        let west = self.m.cube_index(0, y);
        self.walk(&[self.m.xbar(sip, west)])?;
        self.mesh_xy(sip, west, cube)
    }

    fn sip_chain(&mut self, from: u32, to: u32) -> Result<(), RouteError> {
        let mut s = from;
        while s != to {
            s = if to > s { s + 1 } else { s - 1 };
            self.walk(&[self.m.noc(s, 0, 0)])?;
        }
        Ok(())
    }
}
