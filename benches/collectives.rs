//! Speed of simulating collectives: a 16 MiB-per-rank ring all-reduce over
//! the 8 PEs of a cube, timing only, and a 1 MiB one with data.
//!
//! `cargo bench --bench collectives`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use kernbench::bench::ring::{run_allreduce, AllReduceConfig, Home};
use kernbench::bench::RunMode;
use kernbench_core::host::{BufferKind, RingKind};
use kernbench_core::Topology;
use kernels::ReduceOp;

fn allreduce_intracube(topo: &Topology, bytes: u64, data: bool) -> f64 {
    let cfg = AllReduceConfig {
        ring: RingKind::IntracubePe,
        bytes,
        buffer: BufferKind::Tcm,
        ranks: 8,
        seg: 16384,
        op: ReduceOp::Sum,
        home: Home::Hbm,
    };
    let mode = RunMode {
        check: false,
        data,
        records: false,
    };
    run_allreduce(topo, &cfg, mode).map_or(f64::NAN, |r| r.run.kernel_ns)
}

fn allreduce(c: &mut Criterion) {
    let topo = Topology::default_topology();
    assert!(
        allreduce_intracube(&topo, 4096, true).is_finite(),
        "the all-reduce must run"
    );
    let mut g = c.benchmark_group("allreduce_intracube");
    g.sample_size(10).measurement_time(Duration::from_secs(12));
    g.bench_function("16mib_timing_only", |b| {
        b.iter(|| black_box(allreduce_intracube(&topo, 16 << 20, false)))
    });
    g.bench_function("1mib_with_data", |b| {
        b.iter(|| black_box(allreduce_intracube(&topo, 1 << 20, true)))
    });
    g.finish();
}

criterion_group!(benches, allreduce);
criterion_main!(benches);
