//! Speed of the PE pipeline and of tracing: the 512x512x512 single-PE GEMM
//! (the `gemm` bench's defaults) timing-only and with data, and the matmul
//! kernel traced over a 1024^3 grid.
//!
//! `cargo bench --bench pipeline`; the tracing group reports commands/s as
//! elem/s.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use half::f16;
use kernbench::bench::{self, RunMode};
use kernbench_core::dsl::Stage;
use kernbench_core::host::{Device, LaunchOptions, Place};
use kernbench_core::Topology;
use kernels::{matmul, matmul_grid};

/// The `gemm` bench at its defaults (512^3 on one PE); returns the
/// simulated wall time so the run cannot be optimized away.
fn gemm_512(topo: &Topology, data: bool) -> f64 {
    let mode = RunMode {
        check: false,
        data,
        records: false,
    };
    bench::find("gemm")
        .and_then(|b| b.run(topo, &[], mode))
        .map_or(f64::NAN, |r| r.run.wall_ns)
}

fn gemm(c: &mut Criterion) {
    let topo = Topology::default_topology();
    assert!(gemm_512(&topo, true).is_finite(), "the gemm bench must run");
    let mut g = c.benchmark_group("gemm_512_single_pe");
    // About 0.1 s per run with data: room for 10 samples of several runs.
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("timing_only", |b| {
        b.iter(|| black_box(gemm_512(&topo, false)))
    });
    g.bench_function("with_data", |b| b.iter(|| black_box(gemm_512(&topo, true))));
    g.finish();
}

/// 1024^3 in 64 x 64 output blocks with a K step of 32: 16 x 16 programs,
/// each with 32 K steps.
const N: usize = 1024;
const BM: usize = 64;
const BK: usize = 32;

fn tracing(c: &mut Criterion) {
    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo).with_data(false);
    let place = Place::hbm(0, 0);
    let tensors = (
        dev.alloc::<f16>(place, N, N),
        dev.alloc::<f16>(place, N, N),
        dev.alloc::<f16>(place, N, N),
    );
    let (Ok(a), Ok(b), Ok(out)) = tensors else {
        panic!("1024 x 1024 f16 tensors must fit one HBM slice");
    };
    let args = matmul::args(a.ptr(), b.ptr(), out.ptr(), N, N, N, BM, BM, BK, Stage::Tcm);
    let opts = LaunchOptions::grid(matmul_grid(N, N, BM, BM));
    let trace = || -> usize {
        dev.trace::<matmul>(&args, &opts)
            .map(|work| {
                work.iter()
                    .flat_map(|(_, programs)| programs)
                    .map(|p| p.clone().into_stream().map_or(0, |s| s.commands.len()))
                    .sum()
            })
            .unwrap_or(0)
    };
    let commands = trace();
    assert!(commands > 0, "tracing the matmul grid must succeed");

    let mut g = c.benchmark_group("trace_matmul_1024");
    g.throughput(Throughput::Elements(commands as u64));
    g.sample_size(10);
    g.bench_function("all_programs", |b| b.iter(|| black_box(trace())));
    g.finish();
}

criterion_group!(benches, gemm, tracing);
criterion_main!(benches);
