//! `topology.png`: the cube mesh of every SIP, the NOC and the links
//! between SIPs, with each ring's route drawn hop by hop as the machine
//! routes it.

use kernbench_core::fabric::machine::NodeKind;
use kernbench_core::host::{Ring, RingKind};
use kernbench_core::support::Named;
use kernbench_core::{Endpoint, Machine, Topology};
use plotters::prelude::*;

use crate::milestone::plot::{color, render, titled};
use crate::milestone::MilestoneError;

/// The diagram's file name.
pub const FILE: &str = "topology.png";

/// Where the diagram puts each node: cubes on their mesh position (row 0
/// on top), a SIP's NOC routers and IO chiplet to its west, SIPs side by
/// side, the host at the far west. PEs sit on a circle inside their cube.
struct Layout {
    mesh_x: f64,
    noc_cols: f64,
    pes: f64,
}

impl Layout {
    fn sip_x0(&self, sip: u32) -> f64 {
        f64::from(sip) * (self.mesh_x + self.noc_cols + 2.5)
    }

    fn cube(&self, m: &Machine, sip: u32, cube: u32) -> (f64, f64) {
        let (x, y) = m.cube_xy(cube);
        (
            self.sip_x0(sip) + self.noc_cols + 1.0 + f64::from(x),
            -f64::from(y),
        )
    }

    fn at(&self, m: &Machine, node: NodeKind) -> (f64, f64) {
        match node {
            NodeKind::Host => (-2.0, 0.0),
            NodeKind::PcieEp { sip } => (self.sip_x0(sip) - 0.6, 0.35),
            NodeKind::IoCpu { sip } => (self.sip_x0(sip) - 0.6, -0.35),
            NodeKind::Noc { sip, x, y } => {
                (self.sip_x0(sip) + 0.3 + f64::from(x) * 0.6, -f64::from(y))
            }
            NodeKind::Xbar { sip, cube } => self.cube(m, sip, cube),
            NodeKind::HbmCtrl { sip, cube } | NodeKind::Hbm { sip, cube } => {
                let (x, y) = self.cube(m, sip, cube);
                (x + 0.3, y - 0.3)
            }
            NodeKind::Sram { sip, cube } => {
                let (x, y) = self.cube(m, sip, cube);
                (x - 0.3, y - 0.3)
            }
            NodeKind::Pe { sip, cube, pe } => {
                let (x, y) = self.cube(m, sip, cube);
                let a = std::f64::consts::TAU * f64::from(pe) / self.pes + 0.3;
                (x + 0.28 * a.cos(), y + 0.28 * a.sin())
            }
        }
    }
}

/// Draws the topology with every ring kind's route.
pub fn render_topology(topo: &Topology) -> Result<Vec<u8>, MilestoneError> {
    let m = Machine::new(topo);
    let s = &topo.system;
    let layout = Layout {
        mesh_x: f64::from(s.cube_mesh.x),
        noc_cols: f64::from(topo.io_chiplet.noc.cols) * 0.6,
        pes: f64::from(s.pes_per_cube.max(1)),
    };
    let rings: Vec<(RingKind, Ring)> = RingKind::ALL
        .iter()
        .filter_map(|&k| {
            let n = match k {
                RingKind::IntracubePe => s.pes_per_cube as usize,
                RingKind::IntercubeMultisip => topo.cubes_per_sip() as usize,
                RingKind::Sip => s.sips as usize,
            };
            Ring::install(topo, k, n).ok().map(|r| (k, r))
        })
        .collect();
    let x_max = layout.sip_x0(s.sips) - 1.0;
    let y_min = -f64::from(s.cube_mesh.y) + 0.2;
    let png = render(FILE, (1700, 760), |root| {
        let root = titled(
            root,
            &format!(
                "{} SIPs of {}x{} cubes ({} PEs each): the routes of the three all-reduce rings",
                s.sips, s.cube_mesh.x, s.cube_mesh.y, s.pes_per_cube
            ),
        )?;
        let mut chart = ChartBuilder::on(&root)
            .margin(20)
            .build_cartesian_2d(-2.6..x_max, y_min - 0.6..1.0)
            .map_err(|e| e.to_string())?;
        let e = |e: plotters::drawing::DrawingAreaErrorKind<_>| e.to_string();
        let font = ("sans-serif", 14).into_font();
        // SIP outlines and cube boxes.
        for sip in 0..s.sips {
            let x0 = layout.sip_x0(sip);
            chart
                .draw_series([Rectangle::new(
                    [
                        (x0 - 0.1, 0.75),
                        (x0 + layout.noc_cols + layout.mesh_x + 0.6, y_min - 0.45),
                    ],
                    RGBColor(150, 150, 150).stroke_width(2),
                )])
                .map_err(e)?;
            chart
                .draw_series([Text::new(
                    format!("SIP {sip}  (NOC at the west edge)"),
                    (x0, 0.95),
                    font.clone(),
                )])
                .map_err(e)?;
            for cube in 0..topo.cubes_per_sip() {
                let (x, y) = layout.cube(&m, sip, cube);
                chart
                    .draw_series([Rectangle::new(
                        [(x - 0.42, y + 0.42), (x + 0.42, y - 0.42)],
                        RGBColor(245, 245, 245).filled(),
                    )])
                    .map_err(e)?;
                chart
                    .draw_series([Text::new(
                        format!("cube {cube}"),
                        (x - 0.4, y + 0.4),
                        ("sans-serif", 11).into_font(),
                    )])
                    .map_err(e)?;
            }
        }
        // Every link, thin and grey.
        let links = m.links.iter().map(|l| {
            let (a, b) = (layout.at(&m, m.node(l.from)), layout.at(&m, m.node(l.to)));
            PathElement::new(vec![a, b], RGBColor(200, 200, 200).stroke_width(1))
        });
        chart.draw_series(links).map_err(e)?;
        let host = layout.at(&m, NodeKind::Host);
        chart
            .draw_series([Text::new(
                "host",
                (host.0 - 0.3, host.1 + 0.15),
                font.clone(),
            )])
            .map_err(e)?;
        // Each ring: every edge's route, node to node, offset a little so
        // rings sharing a link stay apart.
        for (i, (kind, ring)) in rings.iter().enumerate() {
            let color = color(i);
            let off = (i as f64 - 1.0) * 0.04;
            let n = ring.pes.len();
            let mut paths = Vec::new();
            for r in 0..n {
                let (a, b) = (ring.pes[r], ring.pes[(r + 1) % n]);
                let Ok(route) = m.route(Endpoint::Mem(a.tcm(0)), Endpoint::Mem(b.tcm(0))) else {
                    continue;
                };
                let mut pts = vec![layout.at(&m, m.node(route.from))];
                pts.extend(route.hops.iter().map(|h| layout.at(&m, m.node(h.to))));
                paths.push(
                    pts.into_iter()
                        .map(|(x, y)| (x + off, y + off))
                        .collect::<Vec<_>>(),
                );
            }
            chart
                .draw_series(
                    paths
                        .into_iter()
                        .map(|p| PathElement::new(p, color.stroke_width(3))),
                )
                .map_err(e)?
                .label(format!("{} ({} ranks)", kind.name(), n))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                });
            chart
                .draw_series(ring.pes.iter().map(|p| {
                    let (x, y) = layout.at(
                        &m,
                        NodeKind::Pe {
                            sip: p.sip,
                            cube: p.cube,
                            pe: p.pe,
                        },
                    );
                    Circle::new((x + off, y + off), 5, color.filled())
                }))
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(|e| e.to_string())?;
        Ok(())
    })?;
    Ok(png)
}
