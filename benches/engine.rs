//! Speed of the simulator's engine: raw event-queue throughput (against a
//! plain binary heap) and the cost of simulating 1 MiB transfers.
//!
//! `cargo bench --bench engine`; criterion prints events/s as elem/s.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kernbench_core::fabric::engine::{EventQueue, Sim};
use kernbench_core::fabric::probe::{self, ProbeCase};
use kernbench_core::{Machine, Topology};

const EVENTS: u64 = 1_000_000;

/// xorshift: deterministic time increments without a rand dependency.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Hold model: keep `pending` events queued; pop one, schedule one later.
fn hold_radix(pending: u64) -> u64 {
    let mut q = EventQueue::new();
    let mut x = 88172645463325252u64;
    for i in 0..pending {
        q.push(next(&mut x) % 10_000, i);
    }
    let mut sum = 0;
    for _ in 0..EVENTS {
        let (t, e) = q.pop().unwrap_or((0, 0));
        sum ^= e;
        q.push(t + next(&mut x) % 10_000, e);
    }
    sum
}

fn hold_binary_heap(pending: u64) -> u64 {
    let mut q = BinaryHeap::new();
    let mut x = 88172645463325252u64;
    let mut seq = 0u64;
    for i in 0..pending {
        q.push(Reverse((next(&mut x) % 10_000, seq, i)));
        seq += 1;
    }
    let mut sum = 0;
    for _ in 0..EVENTS {
        let Reverse((t, _, e)) = q.pop().unwrap_or(Reverse((0, 0, 0)));
        sum ^= e;
        q.push(Reverse((t + next(&mut x) % 10_000, seq, e)));
        seq += 1;
    }
    sum
}

fn queues(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_queue");
    g.throughput(Throughput::Elements(EVENTS));
    g.sample_size(20);
    // Pending events: a few PEs' worth, and a whole machine's.
    for (name, pending) in [("1k", 1_000), ("64k", 65_536)] {
        g.bench_function(format!("radix_heap_hold_{name}"), |b| {
            b.iter(|| black_box(hold_radix(pending)))
        });
        g.bench_function(format!("binary_heap_hold_{name}"), |b| {
            b.iter(|| black_box(hold_binary_heap(pending)))
        });
    }
    g.finish();
}

fn transfers(c: &mut Criterion) {
    let machine = Arc::new(Machine::new(&Topology::default_topology()));
    let mut g = c.benchmark_group("transfer_1mib");
    for case in [ProbeCase::PeLocalHbm, ProbeCase::PeRemoteSip] {
        // Throughput in engine events, so the report reads as events/s.
        let events = {
            let m = probe::measure(&machine, case, 1 << 20).map(|_| ());
            assert!(m.is_ok());
            count_events(&machine, case)
        };
        g.throughput(Throughput::Elements(events));
        g.bench_function(case.name(), |b| {
            b.iter(|| black_box(probe::measure(&machine, case, 1 << 20).map(|m| m.latency_ns)))
        });
    }
    g.finish();
}

fn count_events(machine: &Arc<Machine>, case: ProbeCase) -> u64 {
    use kernbench_core::{Endpoint, PhysAddr, Space};
    let mem = |sip, cube, space| {
        Endpoint::Mem(PhysAddr {
            sip,
            cube,
            space,
            offset: 0,
        })
    };
    let dst = match case {
        ProbeCase::PeRemoteSip => mem(1, 0, Space::Hbm),
        _ => mem(0, 0, Space::Hbm),
    };
    let mut sim = Sim::new(machine.clone());
    if sim
        .start_copy(mem(0, 0, Space::Tcm { pe: 0 }), dst, 1 << 20, 0, 0)
        .is_err()
    {
        return 1;
    }
    sim.run();
    sim.events_processed()
}

criterion_group!(benches, queues, transfers);
criterion_main!(benches);
