//! README.md's examples, each compiled and run here as the README shows
//! it (the checker at the end finds every `rust` block of the README in
//! this file). Items copied from the README are `#[rustfmt::skip]`: they
//! stay the README's text. Edit an example in both places.

use kernbench::prelude::*;
use ndarray::{Array2, Axis};

// ---- "Writing a kernel" -------------------------------------------------

#[rustfmt::skip]
mod scale_example {
    use kernbench::prelude::*;

    /// y = x * scale, one bs-row block per program.
    #[kernel]
    fn scale(x: Ptr<f32>, y: Ptr<f32>, s: f32, #[constexpr] bs: usize) {
        let r0 = tl::program_id(0) * bs;
        let t = tl::load(x.block([r0, 0], [bs, x.cols()])); // masked past the last row
        tl::store(y.block([r0, 0], [bs, y.cols()]), &t * s);
    }

    #[test]
    fn the_scale_kernel_launches_traces_and_prints() -> Result<(), Box<dyn std::error::Error>> {
        use kernbench_core::host::{Device, LaunchOptions, Place};
        use kernbench_core::Topology;

        let mut dev = Device::new(&Topology::default_topology());
        let x = dev.alloc::<f32>(Place::hbm(0, 0), 100, 8)?;
        let y = dev.alloc::<f32>(Place::hbm(0, 0), 100, 8)?;
        dev.write(&x, &ndarray::Array2::from_elem((100, 8), 1.5))?;
        let run = dev.launch::<scale>(&scale::args(x.ptr(), y.ptr(), 2.0, 32), &LaunchOptions::grid([4, 1, 1]))?;
        println!("{} ns", run.wall_ns);
        let out = dev.read(&y)?; // ndarray, all 3.0
        assert!(run.wall_ns > 0.0);
        assert!(out.iter().all(|&v| v == 3.0));
        let args = scale::args(x.ptr(), y.ptr(), 2.0, 32);
        let s = scale::trace(&args, &ProgramInfo::grid([3, 0, 0], [4, 1, 1]), &TraceConfig::default())?;
        println!("{s}");
        // The last of 4 programs over 100 rows holds the 4 masked ones.
        assert!(s.to_string().contains("valid 4x8"), "{s}");
        assert!(s.to_string().contains("math.mul") && s.to_string().contains(" 2"), "{s}");
        Ok(())
    }
}

#[rustfmt::skip]
/// LayerNorm of each row (no affine part), fp16 in and out.
#[kernel]
fn layer_norm(x: Ptr<f16>, y: Ptr<f16>, #[constexpr] bm: usize, eps: f32) {
    let r0 = tl::program_id(0) * bm;
    let n = x.cols() as f32;
    let t = tl::load(x.block([r0, 0], [bm, x.cols()])).cast::<f32>();
    let mean = t.row_sum() / n;
    let centred = &t - &mean;
    let var = (&centred * &centred).row_sum() / n;
    let normed = &centred * &tl::rsqrt(&(var + eps));
    tl::store(y.block([r0, 0], [bm, y.cols()]), normed.cast::<f16>());
}

#[rustfmt::skip]
/// Causal attention, one program per `bm` query rows (prefill: query i
/// sees keys 0..=i), keys and values `bn` rows at a time.
#[kernel]
fn causal_block(
    q: Ptr<f16>,
    k: Ptr<f16>,
    v: Ptr<f16>,
    o: Ptr<f16>,
    #[constexpr] bm: usize,
    #[constexpr] bn: usize,
    scale: f32,
) {
    let (q0, d) = (tl::program_id(0) * bm, q.cols());
    let qt = tl::load(q.block([q0, 0], [bm, d]));
    let mut m = tl::full::<f32>([bm, 1], f32::NEG_INFINITY);
    let mut l = tl::zeros::<f32>([bm, 1]);
    let mut acc = tl::zeros::<f32>([bm, d]);
    for k0 in (0..q0 + bm).step_by(bn) {
        let kt = tl::load(k.block([k0, 0], [bn, d]));
        let mut s = tl::dot(&qt, tl::trans(&kt), tl::zeros::<f32>([bm, bn])) * scale;
        if k0 + bn > q0 + 1 {
            // The block crosses the diagonal: keys after a query get -inf.
            let future = tl::arange_rows(q0, bm).lt(tl::arange_cols(k0, bn));
            s = tl::select(&future, f32::NEG_INFINITY, &s);
        }
        let m_new = tl::max(&m, s.row_max());
        let p = tl::exp(&(&s - &m_new));
        let alpha = tl::exp(&(&m - &m_new));
        l = &l * &alpha + p.row_sum();
        let vt = tl::load(v.block([k0, 0], [bn, d]));
        acc = tl::dot(&p.cast::<f16>(), &vt, &acc * &alpha);
        m = m_new;
    }
    tl::store(o.block([q0, 0], [bm, d]), (&acc / &l).cast::<f16>());
}

mod common;
use common::{attention_ref, f16_round, max_abs_diff, upload_f16 as upload};

/// Values in [-1, 1).
fn matrix(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    common::matrix(rows, cols, seed, -1.0, 1.0)
}

#[test]
fn the_layer_norm_example_matches_ndarray() {
    let (rows, cols, bm, eps) = (16, 128, 8, 1e-5);
    let xs = matrix(rows, cols, 1) * 3.0 + 1.0;
    let mut dev = kernbench_core::Device::new(&kernbench_core::Topology::default_topology());
    let x = upload(&mut dev, &xs);
    let y = dev
        .alloc::<f16>(kernbench_core::Place::hbm(0, 0), rows, cols)
        .unwrap();
    let grid = kernbench_core::LaunchOptions::grid([rows / bm, 1, 1]);
    dev.launch::<layer_norm>(&layer_norm::args(x.ptr(), y.ptr(), bm, eps), &grid)
        .unwrap();
    let got = dev.read(&y).unwrap();
    let xr = f16_round(&xs);
    let mean = xr.mean_axis(Axis(1)).unwrap().insert_axis(Axis(1));
    let centred = &xr - &mean;
    let var = (&centred * &centred)
        .mean_axis(Axis(1))
        .unwrap()
        .insert_axis(Axis(1));
    let want = &centred / &var.mapv(|v| (v + eps).sqrt());
    let worst = max_abs_diff(&got, &want);
    assert!(worst < 4e-3, "max abs error {worst}");
}

#[test]
fn the_causal_example_matches_ndarray_and_skips_future_blocks() {
    let (seq, d, bm, bn) = (64, 32, 16, 16);
    let (qs, ks, vs) = (matrix(seq, d, 2), matrix(seq, d, 3), matrix(seq, d, 4));
    let mut dev = kernbench_core::Device::new(&kernbench_core::Topology::default_topology());
    let (q, k, v) = (
        upload(&mut dev, &qs),
        upload(&mut dev, &ks),
        upload(&mut dev, &vs),
    );
    let o = dev
        .alloc::<f16>(kernbench_core::Place::hbm(0, 0), seq, d)
        .unwrap();
    let scale = 1.0 / (d as f32).sqrt();
    let args = causal_block::args(q.ptr(), k.ptr(), v.ptr(), o.ptr(), bm, bn, scale);
    let grid = kernbench_core::LaunchOptions::grid([seq / bm, 1, 1]);
    let run = dev.launch::<causal_block>(&args, &grid).unwrap();
    // Program p sees key blocks 0..=p: two GEMMs each.
    assert_eq!(run.summary.commands.gemm, 2 * (1 + 2 + 3 + 4));
    let got = dev.read(&o).unwrap();
    let want = attention_ref(&qs, &ks, &vs, scale, Some(0));
    let worst = max_abs_diff(&got, &want);
    assert!(worst < 2e-3, "max abs error {worst}");
}

// ---- "Run kernels on the machine" -------------------------------------

#[rustfmt::skip]
#[test]
fn the_run_example_computes_and_reports() -> Result<(), Box<dyn std::error::Error>> {
    use kernbench::prelude::*;
    use kernbench_core::PeLoc;
    use kernbench_core::host::{Device, LaunchOptions, Mapping, Place};
    use kernbench_core::Topology;
    use kernels::{matmul, matmul_grid};
    use ndarray::Array2;

    let topo = Topology::from_file("topology.yaml")?; // or Topology::default_topology()
    let mut dev = Device::new(&topo); // data on; .with_data(false) runs timing only

    // Tensors: 2-D, row-major, in a chosen place — Place::hbm(sip, cube),
    // Place::sram(sip, cube) or Place::tcm(sip, cube, pe).
    let (m, k, n) = (256, 192, 128);
    let a = dev.alloc::<f16>(Place::hbm(0, 0), m, k)?;
    let b = dev.alloc::<f16>(Place::hbm(0, 0), k, n)?;
    let c = dev.alloc::<f16>(Place::hbm(0, 0), m, n)?;

    // Small integers are exact in f16, so the result can be compared exactly.
    let x = Array2::from_shape_fn((m, k), |(i, j)| ((i + 2 * j) % 7) as f32 - 3.0);
    let y = Array2::from_shape_fn((k, n), |(i, j)| ((3 * i + j) % 5) as f32 - 2.0);
    let write_ns = dev.write(&a, &x)?; // host -> HBM, simulated ns
    dev.write(&b, &y)?;

    // One program per 64 x 64 block of c (a 4 x 2 grid), on PEs 0..3 of
    // cube 0; programs sharing a PE run one after another. Without `.on(..)`
    // the mapping is Mapping::Spread: program i on PE i of cube 0, then cube 1...
    let args = matmul::args(a.ptr(), b.ptr(), c.ptr(), m, n, k, 64, 64, 64, Stage::Tcm);
    let pes = (0..4).map(|pe| PeLoc { sip: 0, cube: 0, pe }).collect();
    let opts = LaunchOptions::grid(matmul_grid(m, n, 64, 64)).on(Mapping::Pes(pes));
    let run = dev.launch::<matmul>(&args, &opts)?; // traces every program, runs, waits

    let got = dev.read(&c)?; // Array2<f32>
    assert_eq!(got, x.dot(&y));
    println!("{} programs on {} PEs: {:.0} ns", run.programs, run.pes, run.wall_ns);
    let s = &run.summary; // op-log counts: one GemmCmd per tl::dot, tiles separately
    println!("{} GemmCmds, {} tiles, {} DMA reads", s.commands.gemm, s.gemm_tile_count, s.commands.dma_read);
    let e = run.engine_times(); // wall-clock time each engine was busy, ns
    println!(
        "dma_in {:.0} fetch {:.0} gemm {:.0} dma_out {:.0} dma {:.0} math {:.0} ipcq {:.0}",
        e.dma_in_ns, e.fetch_ns, e.gemm_ns, e.dma_out_ns, e.dma_ns, e.math_ns, e.ipcq_ns
    );
    println!("MAC array busy {:.1}%, useful MACs {:.1}% of peak", run.gemm_util_pct, run.useful_eff_pct);
    let timeline = run.chrome_trace(dev.machine()); // trace-event JSON (serde_json::Value)

    // |sum| <= k * 3 * 2 = 1152 < 2048: every partial sum and the result
    // are integers exact in f16 and f32.
    assert!(write_ns > 0.0);
    // 4 x 2 programs over 4 PEs, k / 64 = 3 dots each.
    assert_eq!((run.programs, run.pes), (8, 4));
    assert_eq!(s.commands.gemm, 8 * 3);
    assert!(s.gemm_tile_count > s.commands.gemm as u64);
    assert!(s.commands.dma_read > 0);
    for t in [e.dma_in_ns, e.fetch_ns, e.gemm_ns, e.dma_out_ns, e.dma_ns, e.math_ns] {
        assert!(t >= 0.0 && t <= run.wall_ns);
    }
    assert_eq!(e.ipcq_ns, 0.0);
    assert!(run.gemm_util_pct > 0.0 && run.gemm_util_pct <= 100.0);
    assert!(run.useful_eff_pct > 0.0 && run.useful_eff_pct <= run.gemm_util_pct);
    assert!(timeline["traceEvents"].as_array().is_some_and(|e| !e.is_empty()));
    Ok(())
}

// ---- "Collectives" ----------------------------------------------------

#[rustfmt::skip]
#[test]
#[allow(unused_variables)] // the README shows each ring install in turn
fn the_collective_example_runs_on_every_ring_kind() -> Result<(), Box<dyn std::error::Error>> {
    use kernbench_core::host::{Device, Place};
    use kernbench_core::Topology;
    use kernels::{ring_allreduce, ReduceOp};

    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo).with_data(false);
    let len = 4096;
    let bufs: Vec<_> = (0..16)
        .map(|i| dev.alloc::<f16>(Place::hbm(0, i), 1, len))
        .collect::<Result<_, _>>()?;
    use kernbench_core::host::{BufferKind, Ring};

    let ring = Ring::intracube_pe_ring(&topo, 0, 0, 8)?;      // the 8 PEs of cube 0 are ranks 0..7
    let ring = Ring::intercube_multisip(&topo, 16)?;          // PE 0 of 16 cubes, neighbours adjacent
    let ring = Ring::sips(&topo)?;                            // rank = SIP
    let run = dev.launch_ring::<ring_allreduce>(&ring, BufferKind::Tcm, |rank| {
        ring_allreduce::args(bufs[rank].ptr(), len, ReduceOp::Sum, 16384)
    })?;
    // The last install, rank = SIP, has 2 ranks.
    assert_eq!(run.summary.commands.ipcq_send, 2 * 2);
    Ok(())
}

// ---- "Tensor parallelism" ---------------------------------------------

#[rustfmt::skip]
#[test]
fn the_tensor_parallel_example_gives_every_rank_the_output() -> Result<(), Box<dyn std::error::Error>> {
    use kernbench_core::host::Device;
    use kernbench_core::Topology;

    let mut dev = Device::new(&Topology::default_topology());
    let (x, w1, w2) = (matrix(8, 64, 5), matrix(64, 128, 6) * 0.1, matrix(128, 64, 7) * 0.1);
    use kernels::tp::{mlp_forward, spawn};

    let outputs = spawn(&mut dev, |rank| {
        // relu(x @ w1) @ w2: ColumnParallelLinear, then RowParallelLinear and
        // the all-reduce; every rank ends with the whole output.
        let out = mlp_forward(rank, &x, &w1, &w2)?;
        rank.read(&out.y)
    })?;
    assert_eq!(outputs.len(), 2);
    assert_eq!(outputs[0], outputs[1]);
    Ok(())
}

// ---- the checker ------------------------------------------------------

fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The `rust` code blocks of a markdown text.
fn rust_blocks(md: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for l in md.lines() {
        match (&mut cur, l.trim_start()) {
            (None, t) if t.starts_with("```rust") => cur = Some(String::new()),
            (Some(_), t) if t.starts_with("```") => blocks.extend(cur.take()),
            (Some(b), _) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn every_readme_example_is_compiled_here() {
    let readme = include_str!("../README.md");
    let here = lines(include_str!("readme.rs"));
    let blocks = rust_blocks(readme);
    assert!(blocks.len() >= 9, "found only {} rust blocks", blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let want = lines(block);
        assert!(
            here.windows(want.len()).any(|w| w == want.as_slice()),
            "README rust block {i} is not in tests/readme.rs:\n{block}"
        );
    }
}
