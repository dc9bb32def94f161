//! Unit tests of `transfer.rs`: where bursts land, how many a transfer
//! may have.

use super::*;
use crate::fabric::addr::PhysAddr;
use crate::fabric::topology::Topology;

fn hbm(offset: u64) -> Endpoint {
    Endpoint::Mem(PhysAddr {
        sip: 0,
        cube: 0,
        space: Space::Hbm,
        offset,
    })
}

fn route(m: &Machine, src: Endpoint, dst: Endpoint) -> Path {
    let r = m.route(src, dst).unwrap();
    Path {
        from: r.from,
        hops: r.hops.into(),
    }
}

fn tcm() -> Endpoint {
    Endpoint::Mem(PhysAddr {
        sip: 0,
        cube: 0,
        space: Space::Tcm { pe: 0 },
        offset: 0,
    })
}

#[test]
fn each_burst_lands_on_the_channel_of_its_own_address() {
    let m = Machine::new(&Topology::default_topology());
    let b = m.topo.hbm.burst_bytes;
    // Half-burst runs at one and a half bursts' pitch, from mid-burst.
    let runs = Runs::strided(b / 2, 3 * b / 2, 9);
    let t = Transfer::new(
        &m,
        route(&m, hbm(b / 2), tcm()),
        hbm(b / 2),
        tcm(),
        runs,
        0,
        0,
        (),
        Spare::default(),
    )
    .unwrap();
    assert_eq!(t.n_bursts, 9);
    for r in 0..9u32 {
        let addr = b / 2 + u64::from(r) * 3 * b / 2;
        assert_eq!(t.lane(0, r), addr / b, "run {r}");
    }
    // Contiguous: burst i from the first byte on.
    let t = Transfer::new(
        &m,
        route(&m, tcm(), hbm(3 * b)),
        tcm(),
        hbm(3 * b),
        Runs::contiguous(4 * b),
        0,
        0,
        (),
        Spare::default(),
    )
    .unwrap();
    assert_eq!(
        (0..4).map(|i| t.lane(1, i)).collect::<Vec<_>>(),
        [3, 4, 5, 6]
    );
}

#[test]
fn lane_counts_step_through_runs_as_each_burst_lands() {
    let m = Machine::new(&Topology::default_topology());
    let b = m.topo.hbm.burst_bytes;
    let lanes = m.topo.hbm.num_pcs;
    // Runs shorter, longer and not a whole number of bursts, pitches
    // that do and do not divide the burst, from mid-burst; HBM at
    // either end (the strided side is the source, else the destination).
    let shapes = [
        (b / 2, 3 * b / 2, 9),
        (3 * b + 5, 7 * b + 3, 11),
        (b, 5 * b, 13),
        // A pitch of more bursts than there are lanes.
        (b / 4, 21 * b + 9, 17),
        // Many runs: their lanes repeat every few runs (1, 4, 16, ...).
        (b, 4 * b, 100),
        (2 * b, 6 * b, 37),
        (b / 2, 3 * b / 2, 200),
        (3 * b, 8 * b, 41),
        (b, u64::from(lanes) * b, 9),
        // More bursts than the lane count samples, cut mid-run.
        (3 * b, 5 * b, u64::from(LANE_SAMPLE) / 3 + 7),
    ];
    for (len, pitch, count) in shapes {
        for at in [0, b / 3, 5 * b + 7] {
            for (src, dst) in [(hbm(at), tcm()), (tcm(), hbm(at))] {
                let runs = Runs::strided(len, pitch, count);
                let path = route(&m, src, dst);
                let t =
                    Transfer::new(&m, path, src, dst, runs, 0, 0, (), Spare::default()).unwrap();
                let hop = t.route.hops.iter().position(|h| h.lanes > 1).unwrap();
                let mut fast = Vec::new();
                let last = t.burst_len(t.n_bursts - 1);
                t.bytes_per_lane(hop, lanes, last, &mut fast);
                let mut slow = vec![0u64; lanes as usize];
                for i in 0..t.n_bursts.min(LANE_SAMPLE) {
                    slow[(t.lane(hop, i) % u64::from(lanes)) as usize] += t.burst_len(i);
                }
                assert_eq!(fast, slow, "runs {len}/{pitch}/{count} at {at}, hop {hop}");
            }
        }
    }
}

#[test]
fn more_bursts_than_the_engine_counts_is_an_error() {
    let m = Machine::new(&Topology::default_topology());
    let runs = Runs::strided(2, 4, u64::from(u32::MAX) + 1);
    let e = Transfer::new(
        &m,
        route(&m, hbm(0), tcm()),
        hbm(0),
        tcm(),
        runs,
        0,
        0,
        (),
        Spare::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(e, TransferError::TooManyBursts { bursts, .. } if bursts == 1 << 32));
    assert!(e.to_string().contains("split it"), "{e}");
    // Empty runs are nothing to move, not a burst each.
    assert_eq!(Runs::strided(0, 4, 10).bytes(), 0);
    assert_eq!(Runs::strided(0, 4, 10).count, 1);
}
