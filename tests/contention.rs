//! Shared links serialize; disjoint ones do not.

mod common;

use common::{at, machine};
use kernbench_core::fabric::engine::Sim;
use kernbench_core::{Endpoint, Space, Topology};

const MIB: u64 = 1 << 20;

/// Starts all `(src, dst)` copies at t = 0; returns the latest completion (ps).
fn makespan(copies: &[(Endpoint, Endpoint)]) -> u64 {
    let m = machine(&Topology::default_topology());
    let mut sim = Sim::new(m);
    let ids: Vec<_> = copies
        .iter()
        .map(|&(s, d)| sim.start_copy(s, d, MIB, 0, 0).unwrap())
        .collect();
    sim.run();
    ids.iter()
        .map(|&id| sim.report(id).unwrap().done)
        .max()
        .unwrap()
}

#[test]
fn two_transfers_into_one_hbm_slice_take_twice_as_long() {
    let one = makespan(&[(at(0, Space::Tcm { pe: 0 }), at(0, Space::Hbm))]);
    let two = makespan(&[
        (at(0, Space::Tcm { pe: 0 }), at(0, Space::Hbm)),
        (at(0, Space::Tcm { pe: 1 }), at(0, Space::Hbm)),
    ]);
    let ratio = two as f64 / one as f64;
    assert!((1.9..=2.05).contains(&ratio), "ratio {ratio}");
}

#[test]
fn two_transfers_on_disjoint_links_do_not_interfere() {
    let one = makespan(&[(at(0, Space::Tcm { pe: 0 }), at(0, Space::Hbm))]);
    let two = makespan(&[
        (at(0, Space::Tcm { pe: 0 }), at(0, Space::Hbm)),
        (at(15, Space::Tcm { pe: 0 }), at(15, Space::Hbm)),
    ]);
    assert_eq!(one, two);
}

#[test]
fn transfers_sharing_a_ucie_link_share_its_bandwidth() {
    // Two PEs of cube 0 write into cube 1's SRAM (fast, so the UCIe link
    // between the cubes is the bottleneck of both).
    let one = makespan(&[(at(0, Space::Tcm { pe: 0 }), at(1, Space::Sram))]);
    let two = makespan(&[
        (at(0, Space::Tcm { pe: 0 }), at(1, Space::Sram)),
        (at(0, Space::Tcm { pe: 1 }), at(1, Space::Sram)),
    ]);
    let ratio = two as f64 / one as f64;
    assert!((1.9..=2.05).contains(&ratio), "ratio {ratio}");
}
