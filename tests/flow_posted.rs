//! Flow mode: posted sends along one route, and the clock once flows have
//! changed rates. Each case is held against burst mode, the reference.

mod common;

use common::{at, machine};
use kernbench_core::fabric::engine::{Notice, Sim};
use kernbench_core::fabric::topology::Network;
use kernbench_core::{Endpoint, PhysAddr, Space, Topology};

const MIB: u64 = 1 << 20;

fn sim(network: Network) -> Sim<u32> {
    let mut t = Topology::default_topology();
    t.sim.network = network;
    Sim::tagged(machine(&t))
}

fn hbm(cube: u32, offset: u64) -> Endpoint {
    Endpoint::Mem(PhysAddr {
        sip: 0,
        cube,
        space: Space::Hbm,
        offset,
    })
}

/// A 1 MiB posted send from PE 0 of cube 0 into cube 1's HBM at 1 MiB,
/// after a posted send of `first` bytes on the same route into offset 0
/// (none if 0) when that one's source is free; when the 1 MiB one lands.
fn big_after(network: Network, first: u64) -> u64 {
    let mut s = sim(network);
    let src = at(0, Space::Tcm { pe: 0 });
    if first == 0 {
        s.start_copy_posted(src, hbm(1, MIB), MIB, 0, 0, 0, 2)
            .unwrap();
    } else {
        s.start_copy_posted(src, hbm(1, 0), first, 0, 0, 10, 1)
            .unwrap();
    }
    let mut done = 0;
    while let Some((now, n)) = s.next_notice() {
        match n {
            Notice::Timer { token: 10 } => {
                s.start_copy_posted(src, hbm(1, MIB), MIB, 0, now, 0, 2)
                    .unwrap();
            }
            Notice::TransferDone { token: 2, .. } => done = now,
            _ => {}
        }
    }
    done
}

#[test]
fn a_send_after_a_short_one_spreads_over_the_pseudo_channels_of_its_own_bursts() {
    // A two-burst send lands on two pseudo-channels; the 1 MiB one after
    // it spreads over all of them. Waiting for a few hundred bytes costs a
    // few ns, not the 4x of squeezing 1 MiB through two channels.
    for net in [Network::Burst, Network::Flow] {
        let alone = big_after(net, 0) as f64;
        for first in [512, 2305, 4096] {
            let after = big_after(net, first) as f64;
            assert!(
                after < alone * 1.01,
                "{net:?}: 1 MiB after {first} bytes took {after} ps, alone {alone} ps"
            );
        }
    }
}

/// A: 1 MiB posted from cube 0's SRAM to cube 1's; C: 1 MiB copy from cube
/// 0's SRAM to PE 0 from time 0, sharing A's first link; with `lone`, a
/// one-burst posted send B joins A's route when A's source is free.
/// When C lands.
fn competitor_done(network: Network, lone: bool) -> u64 {
    let mut s = sim(network);
    let (sram0, sram1) = (at(0, Space::Sram), at(1, Space::Sram));
    let burst = Topology::default_topology().hbm.burst_bytes;
    s.start_copy_posted(sram0, sram1, MIB, 0, 0, 10, 1).unwrap();
    s.start_copy_tagged(sram0, at(0, Space::Tcm { pe: 0 }), MIB, 0, 0, 3)
        .unwrap();
    let mut c = 0;
    while let Some((now, n)) = s.next_notice() {
        match n {
            Notice::Timer { token: 10 } if lone => {
                s.start_copy_posted(sram0, sram1, burst, 0, now, 20, 2)
                    .unwrap();
            }
            Notice::TransferDone { token: 3, .. } => c = now,
            _ => {}
        }
    }
    c
}

#[test]
fn a_one_burst_send_behind_a_flow_is_not_a_second_source() {
    // B's single burst has no bytes to stream beside A's: C, sharing the
    // SRAM port with A, must not lose bandwidth to it.
    for net in [Network::Burst, Network::Flow] {
        let (without, with) = (competitor_done(net, false), competitor_done(net, true));
        let (w, b) = (without as f64, with as f64);
        assert!(
            (b - w).abs() < 0.001 * w,
            "{net:?}: C lands at {b} ps with B, {w} ps without"
        );
    }
}

#[test]
fn superseded_flow_events_do_not_move_the_clock() {
    // Two PEs write into one SRAM while a third joins halfway: rates change
    // three times, and each change leaves an event of an old generation
    // queued for later than the flow now ends. Once the last copy has
    // landed, the clock is where it landed.
    let mut s = sim(Network::Flow);
    let dst = at(1, Space::Sram);
    for (k, start) in [(0u32, 0u64), (1, 0), (2, 2_000_000)] {
        let src = at(0, Space::Tcm { pe: k });
        s.start_copy_tagged(src, dst, MIB, 0, start, k).unwrap();
    }
    let mut last = 0;
    while let Some((now, _)) = s.next_notice() {
        last = now;
    }
    assert!(last > 0);
    assert_eq!(s.now(), last, "the clock ran past the last notice");
    assert_eq!(s.run(), last);
}
