//! The shape-aware parts of the timing model, each held to a figure
//! derived here from topology.yaml: the MAC array's output-stationary
//! folds, strided HBM blocks, and efficiency counted in the problem's own
//! MACs.

mod common;

use common::{os_fold_cycles, run_bench, timing_only, topo_with_all};
use kernbench::bench::BenchResult;
use kernbench_core::dsl::prelude::*;
use kernbench_core::dsl::CommandKind;
use kernbench_core::exec::oplog::RecordKind;
use kernbench_core::host::{Device, LaunchOptions, Place};
use kernbench_core::Topology;

fn gemm(t: &Topology, params: &[(&str, &str)]) -> BenchResult {
    run_bench(t, "gemm", params, timing_only())
}

/// One `m x k x n` dot (a single program, one K step) staged in TCM.
fn one_dot(t: &Topology, m: usize, k: usize, n: usize) -> BenchResult {
    let (m, k, n) = (m.to_string(), k.to_string(), n.to_string());
    gemm(
        t,
        &[
            ("m", &m),
            ("k", &k),
            ("n", &n),
            ("bm", &m),
            ("bk", &k),
            ("bn", &n),
            ("staging", "tcm"),
        ],
    )
}

fn array_128() -> Topology {
    topo_with_all(&[
        ("  mac_rows: 64", "  mac_rows: 128"),
        ("  mac_cols: 64", "  mac_cols: 128"),
    ])
}

#[test]
fn one_tile_pays_the_arrays_fill_and_drain() {
    let t = Topology::default_topology();
    let g = &t.pe_gemm;
    let r = one_dot(&t, 32, 64, 32);
    assert_eq!(r.summary().gemm_tile_count, 1);
    // 64 cycles of streaming, 63 to skew the inputs across the columns,
    // 63 to drain the results down the rows.
    let want = f64::from(g.tile_k + g.mac_cols - 1 + g.mac_rows - 1) / g.clock_ghz;
    assert_eq!(r.engines().gemm_ns, want);
    // Far from the 65,536 MACs at 4,096 per cycle a shapeless array would
    // take: the 32x32 outputs hold a quarter of the PEs.
    assert!(want > 10.0 * (32.0 * 64.0 * 32.0) / g.macs_per_ns());
}

#[test]
fn a_bigger_array_is_not_faster_on_tiles_it_cannot_fill() {
    let small = Topology::default_topology();
    let big = array_128();
    // 128^3 in one dot: 16 output tiles of 32x32, each a K loop of 2 tiles.
    let time = |t: &Topology| one_dot(t, 128, 128, 128).engines().gemm_ns;
    let (s, b) = (time(&small), time(&big));
    assert_eq!(s, 16.0 * os_fold_cycles(&small, 2) as f64);
    assert_eq!(b, 16.0 * os_fold_cycles(&big, 2) as f64);
    assert!(b >= s, "128x128: {b} ns, 64x64: {s} ns");
}

#[test]
fn a_tile_that_matches_the_array_streams_at_its_peak() {
    // 64x64 output tiles on the 64x64 array, one long K loop (2048 = 32
    // tiles of 64): every PE busy while the reduction streams.
    let t = topo_with_all(&[
        ("  tile_m: 32", "  tile_m: 64"),
        ("  tile_n: 32", "  tile_n: 64"),
    ]);
    let g = &t.pe_gemm;
    let (m, k, n) = (64u64, 2048u64, 64u64);
    let r = one_dot(&t, m as usize, k as usize, n as usize);
    let busy = r.engines().gemm_ns;
    assert_eq!(busy, os_fold_cycles(&t, k / 64) as f64 / g.clock_ghz);
    let skew = f64::from(g.mac_rows + g.mac_cols - 2) / g.clock_ghz;
    let macs = (m * k * n) as f64;
    // Streaming: the stated rows x cols x clock exactly.
    assert_eq!(macs / (busy - skew), g.macs_per_ns());
    // Fill and drain included: within 6% of it.
    assert!(macs / busy > 0.94 * g.macs_per_ns());
}

#[test]
fn useful_macs_are_the_problems_not_the_padded_tiles() {
    let t = Topology::default_topology();
    // 100^3 in 128 blocks: the tile plan pads each dot to 4 x 2 x 4 tiles
    // of 32x64x32 (2,097,152 MACs), the problem has 1,000,000.
    let r = gemm(&t, &[("m", "100"), ("k", "100"), ("n", "100")]);
    let s = r.summary();
    assert_eq!(s.useful_macs, 1_000_000);
    assert_eq!(s.tile_macs, 4 * 2 * 4 * 32 * 64 * 32);

    // Decode-like 8x8192x1024 in 128 blocks: a dot multiplies whole
    // blocks, masked rows included (as a Triton dot does), so each of the
    // 512 dots (8 column blocks x 64 K steps) works 4 x 4 output tiles of
    // 32x32, each a K loop of two tiles, for 8 useful rows of 128. The
    // array can do no better, so useful efficiency is at most the
    // problem's MACs over that time at peak: under 1%.
    let r = gemm(&t, &[("m", "8"), ("k", "8192"), ("n", "1024")]);
    let useful = 8.0 * 8192.0 * 1024.0;
    assert_eq!(r.summary().useful_macs, useful as u64);
    let dots = (1024 / 128) * (8192 / 128);
    let array_ns = (dots * 16) as f64 * os_fold_cycles(&t, 2) as f64 / t.pe_gemm.clock_ghz;
    let ceiling = 100.0 * useful / (array_ns * t.pe_gemm.macs_per_ns());
    let eff = r.run.useful_eff_pct;
    assert!(
        eff <= ceiling && eff > 0.8 * ceiling,
        "useful efficiency {eff}% vs {ceiling}%"
    );
    assert!(ceiling < 1.0, "{ceiling}");
}

#[test]
fn useful_macs_follow_the_data_through_the_math() {
    // Flash attention over 36 queries and 100 keys in 64-blocks: the
    // scores' valid rows come from Q's load, pass through the softmax's
    // element-wise math into P, and P @ V counts them too. The problem
    // is 2 x 36 x 100 x 64 MACs (Q K^T and P V), whatever the padding.
    let t = Topology::default_topology();
    let (seq_q, seq_kv, d, b) = (36, 100, 64, 64);
    let mut dev = Device::new(&t).with_data(false);
    let q = dev.alloc::<f16>(Place::hbm(0, 0), seq_q, d).unwrap();
    let k = dev.alloc::<f16>(Place::hbm(0, 0), seq_kv, d).unwrap();
    let v = dev.alloc::<f16>(Place::hbm(0, 0), seq_kv, d).unwrap();
    let o = dev.alloc::<f16>(Place::hbm(0, 0), seq_q, d).unwrap();
    let args =
        kernels::flash_attention::args(q.ptr(), k.ptr(), v.ptr(), o.ptr(), seq_kv, d, b, b, 0.125);
    let r = dev
        .launch::<kernels::flash_attention>(&args, &LaunchOptions::grid([1, 1, 1]))
        .unwrap();
    assert_eq!(r.summary.useful_macs, (2 * seq_q * seq_kv * d) as u64);
    // The array still works whole 64-blocks: 2 x 2 dots of 64 x 64 x 64.
    assert_eq!(r.summary.tile_macs, 2 * 2 * 64 * 64 * 64);
}

#[kernel]
fn load_block(x: Ptr<f16>, #[constexpr] rows: usize, #[constexpr] cols: usize) {
    let _ = tl::load(x.block([0, 0], [rows, cols]));
}

/// How long a `rows x cols` block load from the corner of a `rows x width`
/// fp16 tensor in cube 0's HBM takes, ns.
fn block_load_ns(t: &Topology, rows: usize, cols: usize, width: usize) -> f64 {
    let mut dev = Device::new(t).with_data(false).with_records(true);
    let x = dev.alloc::<f16>(Place::hbm(0, 0), rows, width).unwrap();
    let r = dev
        .launch::<load_block>(
            &load_block::args(x.ptr(), rows, cols),
            &LaunchOptions::grid([1, 1, 1]),
        )
        .unwrap();
    let reads: Vec<_> = r
        .log
        .records()
        .iter()
        .filter(|x| x.kind == RecordKind::Command(CommandKind::DmaRead))
        .map(|x| (x.end - x.start) as f64 / 1000.0)
        .collect();
    assert_eq!(reads.len(), 1);
    reads[0]
}

#[test]
fn a_strided_block_lands_on_one_pseudo_channel() {
    let t = Topology::default_topology();
    let hbm = t.hbm_ctrl.effective_bw_gbs();
    let pcs = f64::from(t.hbm.num_pcs);
    let bytes = 128.0 * 128.0 * 2.0;
    // One burst: the fixed costs plus one burst on one pseudo-channel.
    let one = block_load_ns(&t, 1, 128, 128);
    // A whole 128x128 tensor is one contiguous 32 KiB run: its bursts
    // interleave over all pseudo-channels, the slice's full rate.
    let contiguous = block_load_ns(&t, 128, 128, 128);
    assert_eq!(contiguous, block_load_ns(&t, 1, 16384, 16384));
    let slice_ns = bytes / hbm;
    assert!(
        contiguous >= slice_ns && contiguous <= slice_ns + one,
        "contiguous {contiguous} ns vs slice bound {slice_ns} ns"
    );
    // Of a 128x8192 tensor, the same block is 128 runs of 256 B at a
    // 16 KiB pitch: 64 bursts apart, a multiple of 8, so every row starts
    // on the same pseudo-channel: 1/8 of the slice.
    let strided = block_load_ns(&t, 128, 128, 8192);
    let channel_ns = bytes / (hbm / pcs);
    assert!(
        strided >= channel_ns && strided <= channel_ns + one,
        "strided {strided} ns vs one pseudo-channel {channel_ns} ns"
    );
    let ratio = (strided - one) / (contiguous - one);
    assert!((ratio - pcs).abs() < 0.15 * pcs, "rate ratio {ratio}");
}
