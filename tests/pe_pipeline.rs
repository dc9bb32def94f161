//! The PE pipeline running DSL kernels: numerics against ndarray, timing
//! bounds derived from topology.yaml, contention, determinism and errors.

mod common;

use common::{os_fold_cycles, run_bench, timing_only, topo_with, topo_with_all};
use kernbench::bench::RunMode;
use kernbench_core::dsl::prelude::*;
use kernbench_core::dsl::Stage;
use kernbench_core::host::{Device, LaunchOptions, Place, RuntimeError};
use kernbench_core::Topology;
use proptest::prelude::*;

fn checked() -> RunMode {
    RunMode {
        check: true,
        ..RunMode::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random shapes, ragged and under-tile included, for every staging variant.
    #[test]
    fn matmul_matches_ndarray(
        m in 1usize..100, k in 1usize..100, n in 1usize..100,
        blocks in prop::sample::select(vec![(16usize, 16usize, 32usize), (32, 32, 64), (64, 32, 16)]),
    ) {
        let topo = Topology::default_topology();
        for variant in ["hbm_ref", "tcm", "sram"] {
            let (m_, k_, n_) = (m.to_string(), k.to_string(), n.to_string());
            let (bm, bn, bk) = (blocks.0.to_string(), blocks.1.to_string(), blocks.2.to_string());
            let r = run_bench(&topo, "gemm", &[("m", &m_), ("k", &k_), ("n", &n_), ("staging", variant),
                ("bm", &bm), ("bn", &bn), ("bk", &bk)], checked());
            let c = r.check.unwrap();
            prop_assert!(c.ok, "{variant} {m}x{k}x{n}: {c:?}");
        }
    }
}

/// Tiles of a GEMM under the topology's tile plan (ragged edges padded).
fn tiles(t: &Topology, m: usize, k: usize, n: usize) -> u64 {
    let g = &t.pe_gemm;
    (m.div_ceil(g.tile_m as usize) * k.div_ceil(g.tile_k as usize) * n.div_ceil(g.tile_n as usize))
        as u64
}

#[test]
fn gemm_512_cubed_on_one_pe_respects_the_ideal_pipeline_bounds() {
    let t = Topology::default_topology();
    let g = &t.pe_gemm;
    // 128-blocks: 4 x 4 programs, 4 dots each, 4 x 4 output tiles per dot,
    // each a K loop of 128 / 64 tiles on the array.
    let (tm, tk, tn) = (g.tile_m as usize, g.tile_k as usize, g.tile_n as usize);
    let out_tiles = (4 * 4 * 4 * (128 / tm) * (128 / tn)) as f64;
    let fold_ns = os_fold_cycles(&t, (128 / tk) as u64) as f64 / g.clock_ghz;
    let hbm_gbs = t.hbm_ctrl.effective_bw_gbs();
    for variant in ["hbm_ref", "tcm", "sram"] {
        let r = run_bench(&t, "gemm", &[("staging", variant)], timing_only());
        let s = r.summary();
        assert_eq!(s.gemm_tile_count, 2048);
        assert_eq!(s.gemm_tile_count, tiles(&t, 512, 512, 512));
        let wall = r.run.wall_ns;
        assert!(r.run.gemm_util_pct > 0.0 && r.run.gemm_util_pct <= 100.0);
        assert!(r.run.useful_eff_pct > 0.0 && r.run.useful_eff_pct <= 100.0);
        // Compute bound: every output tile's K loop on the one MAC array.
        let compute = out_tiles * fold_ns;
        assert!(
            wall >= compute,
            "{variant}: {wall} < compute bound {compute}"
        );
        // HBM bound: bytes that must come out of the slice.
        let bytes = match variant {
            // Every tile streams an A and a B tile.
            "hbm_ref" => s.gemm_tile_count * u64::from((g.tile_m + g.tile_n) * g.tile_k) * 2,
            // Each program reads its A row-strip and B column-strip once.
            _ => {
                let (blocks_m, blocks_n) = (512 / 128, 512 / 128);
                (512 * 512 * blocks_n + 512 * 512 * blocks_m) * 2
            }
        };
        let hbm = bytes as f64 / hbm_gbs;
        assert!(wall >= hbm, "{variant}: {wall} < HBM bound {hbm}");
    }
}

#[test]
fn pes_sharing_one_hbm_slice_slow_each_other_and_more_cubes_help() {
    let t = Topology::default_topology();
    let p = |pes: &'static str, cubes: &'static str| {
        run_bench(
            &t,
            "gemm-multi-pe",
            &[("staging", "hbm_ref"), ("pes", pes), ("cubes", cubes)],
            timing_only(),
        )
        .run
        .wall_ns
    };
    let (one, eight) = (p("1", "1"), p("8", "1"));
    // Perfect scaling would give one / 8; the shared slice holds it back.
    assert!(eight > 2.0 * one / 8.0, "1 PE {one} ns, 8 PEs {eight} ns");
    let four_cubes = p("8", "4");
    assert!(
        four_cubes < 0.6 * eight,
        "8 PEs x 1 cube {eight} ns, x 4 cubes {four_cubes} ns"
    );
}

#[test]
fn timings_do_not_depend_on_data_or_on_the_run() {
    let t = Topology::default_topology();
    for variant in ["hbm_ref", "tcm", "sram"] {
        let params = [("m", "96"), ("k", "200"), ("n", "70"), ("staging", variant)];
        let a = run_bench(&t, "gemm", &params, RunMode::default());
        let b = run_bench(&t, "gemm", &params, timing_only());
        let c = run_bench(&t, "gemm", &params, timing_only());
        assert_eq!(a.run.wall_ns, b.run.wall_ns, "{variant}");
        assert_eq!(a.summary(), b.summary());
        assert_eq!(a.engines(), b.engines());
        assert_eq!(b.to_json(), c.to_json());
    }
}

#[test]
fn results_respond_to_the_topology() {
    let base = Topology::default_topology();
    let wall = |t: &Topology, variant| {
        run_bench(t, "gemm", &[("staging", variant)], timing_only())
            .run
            .wall_ns
    };
    // tcm stages blocks once and reuses them over many tiles: the array
    // bounds it. A twice faster clock halves its MAC time; its fixed
    // per-program costs (first load, fill, cast, store) stay.
    let fast_clock = topo_with("  clock_ghz: 1.0", "  clock_ghz: 2.0");
    let cmp0 = wall(&base, "tcm");
    let cmp_clk = wall(&fast_clock, "tcm");
    assert!(
        cmp_clk < 0.6 * cmp0,
        "tcm: {cmp0} -> {cmp_clk} with 2x clock"
    );
    // A 128x128 array has four times the MACs, but a 32x32 output tile
    // fills a sixteenth of it and the longer skew costs more: not faster.
    let big_array = topo_with_all(&[
        ("  mac_rows: 64", "  mac_rows: 128"),
        ("  mac_cols: 64", "  mac_cols: 128"),
    ]);
    let cmp_big = wall(&big_array, "tcm");
    assert!(cmp_big >= cmp0, "tcm: {cmp0} -> {cmp_big} on 128x128");
    // Output tiles that fill the 64x64 array do four times the work per
    // fold: the MAC time falls fourfold, the wall time by well over half.
    let full_tiles = topo_with_all(&[
        ("  tile_m: 32", "  tile_m: 64"),
        ("  tile_n: 32", "  tile_n: 64"),
    ]);
    let cmp_full = wall(&full_tiles, "tcm");
    assert!(
        cmp_full < 0.4 * cmp0,
        "tcm: {cmp0} -> {cmp_full} with 64x64 tiles"
    );

    // hbm_ref streams every operand tile from HBM. With the array four
    // times faster than the default (full tiles, 2 GHz) the operand tiles
    // take longer than their MACs: a tile's rows are 128-byte runs at the
    // matrix's 1 KiB pitch, so they land on a few pseudo-channels of the
    // slice. Memory bound, it runs well behind tcm on the same machine,
    // and twice the HBM bandwidth (each pseudo-channel twice as fast)
    // speeds it up by far more than the 10% any change may cost in noise.
    let mem_edits = [
        ("  tile_m: 32", "  tile_m: 64"),
        ("  tile_n: 32", "  tile_n: 64"),
        ("  clock_ghz: 1.0", "  clock_ghz: 2.0"),
    ];
    let mem_base = topo_with_all(&mem_edits);
    let mut fast = mem_edits.to_vec();
    fast.push(("  xbar_to_hbm_bw_gbs: 256.0", "  xbar_to_hbm_bw_gbs: 512.0"));
    let mem_fast = topo_with_all(&fast);
    let (mem0, mem_hbm) = (wall(&mem_base, "hbm_ref"), wall(&mem_fast, "hbm_ref"));
    let staged = wall(&mem_base, "tcm");
    assert!(mem0 > 1.3 * staged, "hbm_ref {mem0} vs tcm {staged}");
    assert!(
        mem_hbm < 0.8 * mem0,
        "hbm_ref: {mem0} -> {mem_hbm} with 2x HBM"
    );
    // ... while tcm, compute bound, hardly moves with HBM.
    let fast_hbm = topo_with("  xbar_to_hbm_bw_gbs: 256.0", "  xbar_to_hbm_bw_gbs: 512.0");
    let cmp_hbm = wall(&fast_hbm, "tcm");
    assert!(
        (cmp_hbm - cmp0).abs() < 0.1 * cmp0,
        "tcm: {cmp0} -> {cmp_hbm} with 2x HBM"
    );
}

#[kernel]
fn oob(x: Ptr<f32>) {
    let t = tl::load(x.block([64, 0], [8, 8]));
    tl::store(x.block([0, 0], [8, 8]), t);
}

#[kernel]
fn bad_dot(x: Ptr<f16>) {
    let a = tl::load(x.block([0, 0], [16, 32]));
    let b = tl::load(x.block([0, 0], [16, 32]));
    let acc = tl::zeros::<f32>([16, 32]);
    let _ = tl::dot(&a, &b, acc);
}

#[kernel]
fn too_big(x: Ptr<f32>) {
    // 512 x 1024 f32 = 2 MiB live at once: twice the default scratch.
    let t = tl::load(x.block([0, 0], [512, 1024]));
    tl::store(x.block([0, 0], [512, 1024]), t);
}

fn launch_err<K: Kernel>(args: &K::Args, dev: &mut Device) -> String {
    match dev.launch::<K>(args, &LaunchOptions::grid([1, 1, 1])) {
        Err(e @ RuntimeError::Trace(_)) => e.to_string(),
        other => panic!("expected a trace error, got {other:?}"),
    }
}

#[test]
fn kernel_errors_name_kernel_program_and_command() {
    let mut dev = Device::new(&Topology::default_topology());
    let x = dev.alloc::<f32>(Place::hbm(0, 0), 16, 16).unwrap();
    let e = launch_err::<oob>(&oob::args(x.ptr()), &mut dev);
    assert!(
        e.contains("`oob`") && e.contains("out of bounds") && e.contains("command #0"),
        "{e}"
    );
    let h = dev.alloc::<f16>(Place::hbm(0, 0), 16, 32).unwrap();
    let e = launch_err::<bad_dot>(&bad_dot::args(h.ptr()), &mut dev);
    assert!(
        e.contains("`bad_dot`") && e.contains("shape mismatch") && e.contains("tl::dot"),
        "{e}"
    );
    let big = dev.alloc::<f32>(Place::hbm(0, 0), 512, 1024).unwrap();
    let e = launch_err::<too_big>(&too_big::args(big.ptr()), &mut dev);
    assert!(
        e.contains("`too_big`") && e.contains("overflow") && e.contains("program (0,0,0)"),
        "{e}"
    );
}

#[test]
fn host_errors_are_clear() {
    let mut dev = Device::new(&Topology::default_topology());
    let e = dev
        .alloc::<f16>(Place::hbm(5, 0), 4, 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sip 5"), "{e}");
    let x = dev.alloc::<f16>(Place::hbm(0, 0), 4, 4).unwrap();
    let e = dev
        .write(&x, &ndarray::Array2::zeros((3, 4)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("shape mismatch"), "{e}");
    let e = dev
        .alloc::<f32>(Place::tcm(0, 0, 0), 1024, 1024)
        .unwrap_err()
        .to_string();
    assert!(e.contains("out of memory"), "{e}");
}

#[kernel]
fn needs_ring(x: Ptr<f32>) {
    let t = tl::load(x.block([0, 0], [64, 1024]));
    if tl::program_id(0) == 0 {
        tl::send(0, &t);
    }
    tl::store(x.block([0, 0], [64, 1024]), t);
}

/// `a @ a` for a 64 x 64 tensor in 32 x 32 blocks: four programs.
fn square_matmul(a: Ptr<f16>) -> <kernels::matmul as Kernel>::Args {
    kernels::matmul::args(a, a, a, 64, 64, 64, 32, 32, 32, Stage::Tcm)
}

#[test]
fn a_failed_launch_leaves_nothing_behind() {
    let topo = Topology::default_topology();
    let run_gemm = |dev: &mut Device| {
        let a = dev.alloc::<f16>(Place::hbm(0, 1), 64, 64).unwrap();
        let args = square_matmul(a.ptr());
        let r = dev
            .launch::<kernels::matmul>(&args, &LaunchOptions::grid([2, 2, 1]))
            .unwrap();
        (r.kernel_ns, r.events, r.summary)
    };
    let mut fresh = Device::new(&topo);
    let want = run_gemm(&mut fresh);
    // Program 0 fails (IPCQ without a ring) while program 1's load is in flight.
    let mut dev = Device::new(&topo);
    let x = dev.alloc::<f32>(Place::hbm(0, 0), 64, 1024).unwrap();
    let e = dev.launch::<needs_ring>(&needs_ring::args(x.ptr()), &LaunchOptions::grid([2, 1, 1]));
    assert!(e.unwrap_err().to_string().contains("installed ring"));
    assert_eq!(run_gemm(&mut dev), want);
}

#[test]
fn a_pe_named_twice_runs_its_programs_one_after_another() {
    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo);
    let a = dev.alloc::<f16>(Place::hbm(0, 0), 64, 64).unwrap();
    let args = square_matmul(a.ptr());
    let work = dev
        .trace::<kernels::matmul>(
            &args,
            &LaunchOptions::grid([2, 2, 1]).on(kernbench_core::host::Mapping::Pes(vec![
                kernbench_core::PeLoc {
                    sip: 0,
                    cube: 0,
                    pe: 0,
                },
            ])),
        )
        .unwrap();
    // Split the one PE's programs into two entries for the same PE.
    let (pe, mut progs) = work.into_iter().next().unwrap();
    let rest = progs.split_off(2);
    let r = dev
        .run_programs("matmul", vec![(pe, progs), (pe, rest)])
        .unwrap();
    assert_eq!((r.pes, r.programs), (1, 4));
}

#[kernel]
fn alias_gemm(src: Ptr<f16>, buf: Ptr<f16>, out: Ptr<f32>) {
    let a = tl::full::<f16>([8, 8], 1.0);
    let z = tl::zeros::<f32>([8, 8]);
    let x = tl::load(src.block([0, 0], [8, 8192]));
    tl::store(buf.block([0, 0], [8, 8192]), x);
    // Columns 1..9 of buf through a view with another base: the GEMM must
    // still wait for the store above.
    let view = Ptr::<f16>::with_stride(buf.base() + 2, 8, 8, buf.row_stride()).unwrap_or(buf);
    let b = tl::load_to(view.block([0, 0], [8, 8]), Stage::HbmRef);
    let acc = tl::dot(&a, &b, z);
    tl::store(out.block([0, 0], [8, 8]), acc);
}

#[test]
fn hazards_are_found_through_views_with_other_bases() {
    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo);
    let src = dev.alloc::<f16>(Place::hbm(0, 0), 8, 8192).unwrap();
    let buf = dev.alloc::<f16>(Place::hbm(0, 15), 8, 65536).unwrap();
    let out = dev.alloc::<f32>(Place::hbm(0, 0), 8, 8).unwrap();
    dev.write(&src, &ndarray::Array2::from_elem((8, 8192), 1.0))
        .unwrap();
    dev.write(&buf, &ndarray::Array2::from_elem((8, 65536), -1.0))
        .unwrap();
    let args = alias_gemm::args(src.ptr(), buf.ptr(), out.ptr());
    dev.launch::<alias_gemm>(&args, &LaunchOptions::grid([1, 1, 1]))
        .unwrap();
    // Row of ones (a) times eight freshly stored ones: 8, not the stale -8.
    assert_eq!(dev.read(&out).unwrap()[[0, 0]], 8.0);
}

#[test]
fn a_tcm_gemm_in_one_pass_equals_the_per_tile_path() {
    // Operands staged in TCM: each tl::dot's GEMM touches only the PE's
    // own resources and runs its tile plan in one pass. Forced through the
    // per-tile path of streamed operands it must give the same records,
    // time and values.
    let topo = Topology::default_topology();
    let (m, n, k) = (192, 160, 224);
    let a_in = common::matrix(m, k, 1, -1.0, 1.0);
    let b_in = common::matrix(k, n, 2, -1.0, 1.0);
    let run = |one_pass: bool| {
        let mut dev = Device::new(&topo).with_one_pass_gemm(one_pass);
        let hbm = Place::hbm(0, 0);
        let a = dev.alloc::<f16>(hbm, m, k).unwrap();
        let b = dev.alloc::<f16>(hbm, k, n).unwrap();
        let c = dev.alloc::<f16>(hbm, m, n).unwrap();
        dev.write(&a, &a_in).unwrap();
        dev.write(&b, &b_in).unwrap();
        let args =
            kernels::matmul::args(a.ptr(), b.ptr(), c.ptr(), m, n, k, 64, 64, 32, Stage::Tcm);
        let grid = kernels::matmul_grid(m, n, 64, 64);
        let opts = LaunchOptions::grid(grid).on(kernbench_core::host::Mapping::Pes(vec![
            kernbench_core::PeLoc {
                sip: 0,
                cube: 0,
                pe: 0,
            },
        ]));
        let report = dev.launch::<kernels::matmul>(&args, &opts).unwrap();
        let values = dev.read(&c).unwrap();
        (report, values)
    };
    let (fast, fast_c) = run(true);
    let (slow, slow_c) = run(false);
    assert_eq!(fast.wall_ns, slow.wall_ns);
    assert_eq!(fast.events, slow.events);
    assert_eq!(fast.log.records(), slow.log.records());
    assert_eq!(fast_c, slow_c);
    // Not vacuous: the GEMMs ran tile by tile (3 x 3 programs of 7 k-steps,
    // each dot a 64x32x64 plan of 2 x 1 x 2 tiles of 32x64x32).
    let tiles = fast.log.summary().gemm_tile_count;
    assert_eq!(tiles, 3 * 3 * 7 * 4, "{tiles}");
}
