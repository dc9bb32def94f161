//! Unit tests of `flow.rs`: a flow that starts or ends without a
//! recomputation of its component changes nobody else's rates.

use super::*;
use crate::fabric::engine::flow_state::Share;
use crate::fabric::link::{LinkKind, NodeId};
use crate::fabric::units::Bandwidth;

/// Flows stand alone here, not inside transfers.
impl AsMut<Flow> for Flow {
    fn as_mut(&mut self) -> &mut Flow {
        self
    }
}

fn link(gbs: f64) -> Link {
    Link {
        from: NodeId(0),
        to: NodeId(1),
        kind: LinkKind::Noc,
        bw: Bandwidth::from_gbs(gbs),
        overhead_ps: 0,
        prop_ps: 0,
    }
}

/// A route as (link, stage, part) per link crossed.
fn flow(route: &[(u32, u16, f64)], bytes: u64) -> Flow {
    let res = route
        .iter()
        .map(|&(link, stage, part)| Share { link, part, stage })
        .collect();
    Flow::new(res, bytes, Vec::new())
}

/// Recomputes every active flow's rates from scratch and asserts that
/// none moved, and that the loads kept per link are what they carry, but
/// for flows whose own change is due at `now` (their event, at this very
/// time, would recompute them anyway) and the links they cross.
fn assert_settled(net: &mut FlowNet, flows: &mut [Flow], now: Ps, seq: &mut u64) {
    let due_now: Vec<u32> = (0..flows.len() as u32)
        .filter(|&x| net.due.at(x) == Some(now))
        .collect();
    let kept_loads = net.loads.clone();
    net.stack.clear();
    for f in flows.iter().filter(|f| f.active) {
        net.stack.extend(f.res.iter().map(|r| r.link));
    }
    let mut out = Vec::new();
    net.recompute(flows, now, None, &mut out);
    for (k, &x) in net.comp_flows.iter().enumerate() {
        assert!(
            net.scratch.kept[k] || due_now.contains(&x),
            "flow {x} changed at {now} ps: {:?}",
            flows[x as usize].stages
        );
    }
    for &l in &net.comp_links {
        let moved = due_now.iter().any(|&x| {
            let f = &flows[x as usize];
            f.res.iter().any(|r| r.link == l)
        });
        let (kept, now_load) = (kept_loads[l as usize].load, net.loads[l as usize].load);
        assert!(
            moved || (kept - now_load).abs() <= 1e-9 * net.cap[l as usize],
            "link {l} kept {kept} B/ps, carries {now_load}"
        );
    }
    for f in out {
        net.due.set(f.xfer, f.at, *seq);
        *seq += 1;
    }
}

#[test]
fn a_flow_that_fits_or_leaves_without_binding_changes_nobody() {
    // A wide port every route shares; two narrower links; a pair of lanes.
    let links = [
        link(256.0),
        link(64.0),
        link(48.0),
        link(100.0),
        link(100.0),
    ];
    let routes: [&[(u32, u16, f64)]; 4] = [
        &[(1, 0, 1.0), (0, 1, 1.0)],
        &[(2, 0, 1.0), (0, 1, 1.0)],
        &[(3, 0, 0.5), (4, 0, 0.5), (0, 1, 1.0)],
        &[(3, 0, 0.75), (4, 0, 0.25), (0, 1, 1.0), (2, 2, 1.0)],
    ];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut net = FlowNet::new(&links);
    let mut flows: Vec<Flow> = Vec::new();
    let (mut now, mut seq, mut drained) = (0, 0u64, 0);
    let mut out = Vec::new();
    let mut done = Vec::new();
    for _ in 0..3000 {
        let busy = flows.iter().filter(|f| f.active).count();
        if busy < 1 + (rand() % 5) as usize {
            // A new flow, a little after the last event.
            now += rand() % 2000;
            let route = routes[(rand() % 4) as usize];
            flows.push(flow(route, 256 + rand() % 65536));
            let id = flows.len() as u32 - 1;
            net.start(&mut flows, id, now, &mut out);
        } else {
            let Some((at, id)) = net.due.pop() else {
                continue;
            };
            now = at;
            match net.changed(&mut flows, id, now, &mut out, &mut done) {
                Change::Drained => {
                    net.finish(&mut flows, id, now, &mut out);
                    drained += 1;
                }
                Change::Running { .. } => {}
            }
        }
        for f in out.drain(..) {
            net.due.set(f.xfer, f.at, seq);
            seq += 1;
        }
        assert_settled(&mut net, &mut flows, now, &mut seq);
    }
    // Both shortcuts were taken, and recomputations were needed too.
    assert!(
        net.shortcuts.0 > 100 && net.shortcuts.1 > 100,
        "{:?}",
        net.shortcuts
    );
    assert!(drained > 1000, "{drained}");
}

#[test]
fn flows_alike_weigh_as_many_on_the_links_they_share() {
    // Three flows from a 60 GB/s link and one from a 40 GB/s link meet at
    // a 50 GB/s port. The three take turns at theirs (20 GB/s each), so
    // 60 + 40 GB/s arrive at the port, which serves each at half its rate.
    let links = [link(50.0), link(60.0), link(40.0)];
    let mut flows = vec![
        flow(&[(1, 0, 1.0), (0, 1, 1.0)], 1 << 20),
        flow(&[(1, 0, 1.0), (0, 1, 1.0)], 1 << 20),
        flow(&[(1, 0, 1.0), (0, 1, 1.0)], 1 << 20),
        flow(&[(2, 0, 1.0), (0, 1, 1.0)], 1 << 20),
    ];
    let mut net = FlowNet::new(&links);
    let mut out = Vec::new();
    for id in 0..4 {
        net.start(&mut flows, id, 0, &mut out);
    }
    // By the last start the three were alike: one class of weight three.
    let gbs = |f: &Flow, k: usize| f.stages[k].rate * 1e3;
    for f in &flows[..3] {
        assert!((gbs(f, 0) - 20.0).abs() < 1e-9, "{}", gbs(f, 0));
        assert!((gbs(f, 1) - 10.0).abs() < 1e-9, "{}", gbs(f, 1));
    }
    assert!((gbs(&flows[3], 0) - 40.0).abs() < 1e-9);
    assert!((gbs(&flows[3], 1) - 20.0).abs() < 1e-9);
}

#[test]
fn flows_over_the_same_links_in_other_parts_are_not_alike() {
    // Two flows over the same pair of 100 GB/s lanes, a quarter and three
    // quarters on each the other way round: each alone would stream at
    // 133.3 GB/s, together they fill both lanes, 100 GB/s each. A third
    // flow, 50 GB/s from its own link, joins them at a 220 GB/s port,
    // which serves the 100 + 100 + 50 arriving in proportion: 88, 88, 44.
    let links = [link(220.0), link(100.0), link(100.0), link(50.0)];
    let mut flows = vec![
        flow(&[(1, 0, 0.25), (2, 0, 0.75), (0, 1, 1.0)], 1 << 20),
        flow(&[(1, 0, 0.75), (2, 0, 0.25), (0, 1, 1.0)], 1 << 20),
        flow(&[(3, 0, 1.0), (0, 1, 1.0)], 1 << 20),
    ];
    let mut net = FlowNet::new(&links);
    let mut out = Vec::new();
    for id in 0..3 {
        net.start(&mut flows, id, 0, &mut out);
    }
    let gbs = |f: &Flow, k: usize| f.stages[k].rate * 1e3;
    for (f, lanes, port) in [
        (&flows[0], 100.0, 88.0),
        (&flows[1], 100.0, 88.0),
        (&flows[2], 50.0, 44.0),
    ] {
        assert!((gbs(f, 0) - lanes).abs() < 1e-9, "{} GB/s", gbs(f, 0));
        assert!((gbs(f, 1) - port).abs() < 1e-9, "{} GB/s", gbs(f, 1));
    }
}
