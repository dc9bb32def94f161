//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use kernbench_core::fabric::topology::DEFAULT_TOPOLOGY_YAML;
use kernbench_core::{Machine, Topology};

/// The default topology text with `from` replaced by `to` (exactly once).
pub fn edited(from: &str, to: &str) -> String {
    assert_eq!(
        DEFAULT_TOPOLOGY_YAML.matches(from).count(),
        1,
        "test edit `{from}` must match exactly one place in topology.yaml"
    );
    DEFAULT_TOPOLOGY_YAML.replace(from, to)
}

pub fn topo_with(from: &str, to: &str) -> Topology {
    Topology::parse(&edited(from, to), "edited.yaml").expect("edited topology is valid")
}

pub fn machine(t: &Topology) -> Arc<Machine> {
    Arc::new(Machine::new(t))
}

/// Deterministic values in [lo, hi) (xorshift64*), reproducible without a
/// rand dependency.
pub fn matrix(rows: usize, cols: usize, seed: u64, lo: f32, hi: f32) -> ndarray::Array2<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    ndarray::Array2::from_shape_simple_fn((rows, cols), || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let u = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    })
}

/// Each value rounded to fp16, as the device stores it.
pub fn f16_round(a: &ndarray::Array2<f32>) -> ndarray::Array2<f32> {
    a.mapv(|v| half::f16::from_f32(v).to_f32())
}

/// The largest absolute difference of two arrays of one shape.
pub fn max_abs_diff(a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A host array written to a new fp16 tensor in cube 0's HBM.
pub fn upload_f16(
    dev: &mut kernbench_core::Device,
    a: &ndarray::Array2<f32>,
) -> kernbench_core::Tensor<half::f16> {
    let place = kernbench_core::Place::hbm(0, 0);
    let t = dev
        .alloc::<half::f16>(place, a.nrows(), a.ncols())
        .expect("the tensor fits");
    dev.write(&t, a).expect("the shapes agree");
    t
}

/// `softmax(q kᵀ · scale + mask) v` in f32 over fp16-rounded inputs; with
/// `causal = Some(offset)`, query row `i` (at position `offset + i`) sees
/// keys up to its own position.
pub fn attention_ref(
    q: &ndarray::Array2<f32>,
    k: &ndarray::Array2<f32>,
    v: &ndarray::Array2<f32>,
    scale: f32,
    causal: Option<usize>,
) -> ndarray::Array2<f32> {
    let (q, k, v) = (f16_round(q), f16_round(k), f16_round(v));
    let mut s = q.dot(&k.t()) * scale;
    if let Some(offset) = causal {
        for ((i, j), x) in s.indexed_iter_mut() {
            if j > offset + i {
                *x = f32::NEG_INFINITY;
            }
        }
    }
    for mut row in s.rows_mut() {
        let m = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|x| (x - m).exp());
        let sum = row.sum();
        row.mapv_inplace(|x| x / sum);
    }
    s.dot(&v)
}

/// The default topology with every `(from, to)` edit applied.
pub fn topo_with_all(edits: &[(&str, &str)]) -> Topology {
    let mut text = DEFAULT_TOPOLOGY_YAML.to_string();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "test edit `{from}`");
        text = text.replace(from, to);
    }
    Topology::parse(&text, "edited.yaml").expect("edited topology is valid")
}

/// Cycles the output-stationary MAC array spends on one output tile over a
/// K loop of `kt` tiles, when the output tile fits the array (one fold).
/// SCALE-Sim's fold of reduction length `T` on `R x C` PEs takes
/// `T + R + C - 2` cycles (skew in, stream, drain out); the K loop is one
/// reduction of `kt x tile_k`.
pub fn os_fold_cycles(t: &Topology, kt: u64) -> u64 {
    let g = &t.pe_gemm;
    assert!(g.tile_m <= g.mac_rows && g.tile_n <= g.mac_cols, "one fold");
    let (r, c) = (u64::from(g.mac_rows), u64::from(g.mac_cols));
    kt * u64::from(g.tile_k) + r + c - 2
}

/// Runs registered bench `bench` with `params` on `topo`.
pub fn run_bench(
    topo: &Topology,
    bench: &str,
    params: &[(&str, &str)],
    mode: kernbench::bench::RunMode,
) -> kernbench::bench::BenchResult {
    let p: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    kernbench::bench::find(bench)
        .unwrap()
        .run(topo, &p, mode)
        .unwrap()
}

/// A timing-only run: no data, no check.
pub fn timing_only() -> kernbench::bench::RunMode {
    kernbench::bench::RunMode::TIMING_ONLY
}

/// Offset 0 of `space` in cube `cube` of SIP 0.
pub fn at(cube: u32, space: kernbench_core::Space) -> kernbench_core::Endpoint {
    kernbench_core::Endpoint::Mem(kernbench_core::PhysAddr {
        sip: 0,
        cube,
        space,
        offset: 0,
    })
}
