//! Attention written in the DSL, run with data and held against an ndarray
//! reference: causal attention with its masks built inside the kernel, at
//! several sequence lengths, block shapes and query offsets (prefill,
//! chunked prefill, one decode row), blocks aligned with the diagonal or
//! not; key blocks no query may see are skipped while tracing. And the
//! non-causal flash attention the catalog lowers.

use kernbench::prelude::*;
use kernbench_core::dsl::Kernel;
use kernbench_core::host::{Device, LaunchOptions, Place};
use kernbench_core::Topology;
use kernels::{causal_attention, flash_attention};
use ndarray::Array2;

mod common;
use common::{attention_ref, matrix, max_abs_diff, upload_f16 as upload};

struct Case {
    seq_q: usize,
    seq_kv: usize,
    q_offset: usize,
    d: usize,
    bm: usize,
    bn: usize,
}

/// Runs causal attention for `c`; returns the output and the GEMMs run.
fn run_causal(c: &Case, seed: u64) -> (Array2<f32>, Array2<f32>, usize) {
    let (qs, ks, vs) = (
        matrix(c.seq_q, c.d, seed, -1.0, 1.0),
        matrix(c.seq_kv, c.d, seed + 1, -1.0, 1.0),
        matrix(c.seq_kv, c.d, seed + 2, -1.0, 1.0),
    );
    let mut dev = Device::new(&Topology::default_topology());
    let (q, k, v) = (
        upload(&mut dev, &qs),
        upload(&mut dev, &ks),
        upload(&mut dev, &vs),
    );
    let o = dev.alloc::<f16>(Place::hbm(0, 0), c.seq_q, c.d).unwrap();
    let scale = 1.0 / (c.d as f32).sqrt();
    let args = causal_attention::args(
        q.ptr(),
        k.ptr(),
        v.ptr(),
        o.ptr(),
        c.seq_kv,
        c.q_offset,
        c.d,
        c.bm,
        c.bn,
        scale,
    );
    let grid = [c.seq_q.div_ceil(c.bm), 1, 1];
    let run = dev
        .launch::<causal_attention>(&args, &LaunchOptions::grid(grid))
        .unwrap();
    let want = attention_ref(&qs, &ks, &vs, scale, Some(c.q_offset));
    (dev.read(&o).unwrap(), want, run.summary.commands.gemm)
}

/// Two GEMMs per key block a program's real queries may see: blocks
/// starting after its last query's position are never traced.
fn expected_gemms(c: &Case) -> usize {
    (0..c.seq_q.div_ceil(c.bm))
        .map(|p| {
            let last = c.q_offset + ((p + 1) * c.bm).min(c.seq_q) - 1;
            2 * c.seq_kv.min(last + 1).div_ceil(c.bn)
        })
        .sum()
}

#[test]
fn causal_attention_with_in_kernel_masks_matches_the_reference() {
    let cases = [
        // Prefill, blocks aligned with the diagonal.
        Case {
            seq_q: 64,
            seq_kv: 64,
            q_offset: 0,
            d: 32,
            bm: 16,
            bn: 16,
        },
        // Prefill, key blocks wider than query blocks and a ragged end: the
        // diagonal crosses blocks off their corners.
        Case {
            seq_q: 70,
            seq_kv: 70,
            q_offset: 0,
            d: 32,
            bm: 16,
            bn: 24,
        },
        // Chunked prefill: 20 new queries after 64 cached tokens, blocks
        // not aligned with the offset.
        Case {
            seq_q: 20,
            seq_kv: 84,
            q_offset: 64,
            d: 64,
            bm: 8,
            bn: 32,
        },
        // One decode row at position S - 1 sees every key.
        Case {
            seq_q: 1,
            seq_kv: 100,
            q_offset: 99,
            d: 64,
            bm: 1,
            bn: 32,
        },
        // Decode at an earlier position: later keys exist but are masked.
        Case {
            seq_q: 1,
            seq_kv: 100,
            q_offset: 40,
            d: 64,
            bm: 1,
            bn: 32,
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let (got, want, gemms) = run_causal(c, 10 * i as u64 + 1);
        let worst = max_abs_diff(&got, &want);
        // Outputs are averages of values in [-1, 1): P is rounded to f16
        // for the second GEMM and the output to f16, 2^-11 each.
        assert!(worst < 2e-3, "case {i}: max abs error {worst}");
        assert!(got.iter().all(|x| x.is_finite()), "case {i}");
        assert_eq!(gemms, expected_gemms(c), "case {i}: GEMMs");
    }
}

#[test]
fn key_blocks_above_the_diagonal_are_skipped_at_trace_time() {
    // 64 queries over 64 keys in 16x16 blocks: program p sees blocks 0..=p,
    // so 1 + 2 + 3 + 4 blocks instead of 16, two GEMMs each.
    let c = Case {
        seq_q: 64,
        seq_kv: 64,
        q_offset: 0,
        d: 32,
        bm: 16,
        bn: 16,
    };
    assert_eq!(expected_gemms(&c), 2 * (1 + 2 + 3 + 4));
    let args = causal_attention::args(
        Ptr::new(0x1000_0000, 64, 32),
        Ptr::new(0x2000_0000, 64, 32),
        Ptr::new(0x3000_0000, 64, 32),
        Ptr::new(0x4000_0000, 64, 32),
        64,
        0,
        32,
        16,
        16,
        1.0,
    );
    let mut masks = 0;
    for p in 0..4 {
        let info = ProgramInfo::grid([p, 0, 0], [4, 1, 1]);
        let s = causal_attention::trace(&args, &info, &TraceConfig::default()).unwrap();
        assert_eq!(s.counts().gemm, 2 * (p + 1), "program {p}");
        masks += s.to_string().matches("math.select").count();
    }
    // Only the diagonal block of each program needs a mask.
    assert_eq!(masks, 4);
}

#[test]
fn flash_attention_matches_the_reference() {
    let (seq_q, seq_kv, d, bm, bn) = (48, 80, 64, 16, 32);
    let (qs, ks, vs) = (
        matrix(seq_q, d, 7, -1.0, 1.0),
        matrix(seq_kv, d, 8, -1.0, 1.0),
        matrix(seq_kv, d, 9, -1.0, 1.0),
    );
    let mut dev = Device::new(&Topology::default_topology());
    let (q, k, v) = (
        upload(&mut dev, &qs),
        upload(&mut dev, &ks),
        upload(&mut dev, &vs),
    );
    let o = dev.alloc::<f16>(Place::hbm(0, 0), seq_q, d).unwrap();
    let scale = 1.0 / (d as f32).sqrt();
    let args = flash_attention::args(q.ptr(), k.ptr(), v.ptr(), o.ptr(), seq_kv, d, bm, bn, scale);
    let run = dev
        .launch::<flash_attention>(&args, &LaunchOptions::grid([seq_q / bm, 1, 1]))
        .unwrap();
    assert_eq!(
        run.summary.commands.gemm,
        2 * (seq_q / bm) * seq_kv.div_ceil(bn)
    );
    let got = dev.read(&o).unwrap();
    let want = attention_ref(&qs, &ks, &vs, scale, None);
    let worst = max_abs_diff(&got, &want);
    assert!(worst < 2e-3, "max abs error {worst}");
    assert_eq!(<flash_attention as Kernel>::NAME, "flash_attention");
}

/// The `attention` bench's grouped-query kernel against its ndarray
/// reference: 8 query heads over 2 K/V heads, causal and full, a ragged
/// last block (300 positions x 4 heads in 96-row tiles), in both network
/// modes.
#[test]
fn gqa_attention_bench_matches_the_reference() {
    use kernbench::bench::RunMode;
    use kernbench_core::fabric::topology::Network;
    for network in [Network::Burst, Network::Flow] {
        let mut t = Topology::default_topology();
        t.sim.network = network;
        for (mask, seq, bm, bn) in [
            ("causal", 256usize, 128usize, 128usize),
            ("full", 300, 96, 64),
            ("causal", 300, 96, 64),
        ] {
            let (seq_, bm_, bn_) = (seq.to_string(), bm.to_string(), bn.to_string());
            let p = [
                ("mask", mask),
                ("seq", &*seq_),
                ("bm", &*bm_),
                ("bn", &*bn_),
                ("d", "64"),
            ];
            let mode = RunMode {
                check: true,
                ..RunMode::default()
            };
            let r = common::run_bench(&t, "attention", &p, mode);
            let c = r.check.unwrap();
            assert!(c.ok, "{network:?} {mask} seq {seq}: {c:?}");
            // One GEMM per (query tile, K block) for the whole group of 4
            // heads: the K/V head's loads are shared, not repeated per head.
            let tiles = (seq * 4).div_ceil(bm);
            let blocks = seq.div_ceil(bn);
            let gemms = if mask == "full" {
                2 * 2 * tiles * blocks
            } else {
                // Causal: a tile sees the keys up to its last position;
                // blocks wholly past it are skipped.
                let tile_blocks: usize = (0..tiles)
                    .map(|b| {
                        let (row0, rows) = (b * bm, bm.min(seq * 4 - b * bm));
                        let last_pos = (row0 + rows - 1) / 4;
                        seq.min(last_pos + 1).div_ceil(bn)
                    })
                    .sum();
                2 * 2 * tile_blocks
            };
            assert_eq!(r.run.summary.commands.gemm, gemms, "{mask} seq {seq}");
        }
    }
}
