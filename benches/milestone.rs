//! Speed of one sweep point of each milestone domain, through the same
//! code `milestone gemm` and `milestone ccl` run: the 512^3 GEMM with
//! operands staged in TCM on one PE, and a 1 MiB all-reduce over the 16
//! cubes of a SIP with TCM receive buffers.
//!
//! `cargo bench --bench milestone`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use kernbench::milestone::{ccl, gemm};
use kernbench_core::dsl::Stage;
use kernbench_core::host::{BufferKind, RingKind};
use kernbench_core::Topology;

fn points(c: &mut Criterion) {
    let topo = Topology::default_topology();
    let shape = [512, 512, 512];
    let block = gemm::block_for(&topo, shape, [128, 128, 128]);
    let ranks = topo.cubes_per_sip() as usize;
    let gemm_point = || gemm::shape_row(&topo, shape, Stage::Tcm, block);
    let ccl_point = || {
        ccl::all_reduce_row(
            &topo,
            RingKind::IntercubeMultisip,
            ranks,
            BufferKind::Tcm,
            1 << 20,
        )
    };
    assert!(
        gemm_point().is_ok() && ccl_point().is_ok(),
        "the points must run"
    );
    let mut g = c.benchmark_group("milestone_point");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("gemm_512_tcm", |b| b.iter(|| black_box(gemm_point())));
    g.bench_function("ccl_intercube_1mib_tcm", |b| {
        b.iter(|| black_box(ccl_point()))
    });
    g.finish();
}

criterion_group!(benches, points);
criterion_main!(benches);
