//! Speed of simulating grouped-query attention at Llama-3-70B shape: 8K
//! context, 64 query heads over 8 K/V heads, d 128, on the 8 PEs of a
//! cube, timing only, in flow mode (and a 2K context in burst mode for
//! comparison).
//!
//! `cargo bench --bench attention`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use kernbench::bench::{self, RunMode};
use kernbench_core::fabric::topology::Network;
use kernbench_core::Topology;

fn attention(network: Network, seq: usize) -> (f64, u64) {
    let mut topo = Topology::default_topology();
    topo.sim.network = network;
    let params: Vec<(String, String)> = [
        ("seq", seq.to_string()),
        ("heads", "64".into()),
        ("kv_heads", "8".into()),
        ("d", "128".into()),
        ("pes", "8".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mode = RunMode::TIMING_ONLY;
    bench::find("attention")
        .and_then(|b| b.run(&topo, &params, mode))
        .map_or((f64::NAN, 0), |r| (r.run.wall_ns, r.events))
}

fn gqa(c: &mut Criterion) {
    let (wall, events) = attention(Network::Flow, 8192);
    assert!(wall.is_finite(), "the 8K attention bench must run");
    eprintln!("attention 8K flow: {events} events, simulated {wall:.0} ns");
    let mut g = c.benchmark_group("attention_llama70b");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.bench_function("seq8k_flow", |b| {
        b.iter(|| black_box(attention(Network::Flow, 8192)))
    });
    g.bench_function("seq2k_burst", |b| {
        b.iter(|| black_box(attention(Network::Burst, 2048)))
    });
    g.finish();
}

criterion_group!(benches, gqa);
criterion_main!(benches);
