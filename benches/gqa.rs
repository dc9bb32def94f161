//! Speed of the gqa milestone's points, through the code `milestone gqa`
//! runs: the validation run of each panel (data on, checked), and one
//! headline point, Llama-3-70B single-user prefill at 8K context over the
//! 8 PEs of a cube in flow mode (timing only).
//!
//! `cargo bench --bench gqa`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use kernbench::bench::gqa::{run_panel, GqaConfig, Panel};
use kernbench::bench::RunMode;
use kernbench_core::fabric::topology::Network;
use kernbench_core::support::Named;
use kernbench_core::Topology;

fn validation(c: &mut Criterion) {
    let topo = Topology::default_topology();
    let mode = RunMode {
        check: true,
        data: true,
        records: false,
    };
    let mut g = c.benchmark_group("gqa_validation");
    g.sample_size(20);
    for &panel in Panel::ALL {
        let cfg = GqaConfig::validation(panel);
        let run = || run_panel(&topo, &cfg, mode);
        assert!(run().is_ok_and(|r| r.result.check.is_some_and(|c| c.ok)));
        g.bench_function(panel.name(), |b| b.iter(|| black_box(run())));
    }
    g.finish();
}

fn headline(c: &mut Criterion) {
    let mut topo = Topology::default_topology();
    topo.sim.network = Network::Flow;
    let pes = topo.system.pes_per_cube as usize;
    let cfg = GqaConfig::llama70b(Panel::SingleUserPrefill, 8192, 1, pes);
    let run = || run_panel(&topo, &cfg, RunMode::TIMING_ONLY);
    assert!(run().is_ok(), "the point must run");
    let mut g = c.benchmark_group("gqa_headline");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("single_user_prefill_8k", |b| b.iter(|| black_box(run())));
    g.finish();
}

criterion_group!(benches, validation, headline);
criterion_main!(benches);
