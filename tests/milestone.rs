//! The milestone sweeps, reduced to a few points but run through the same
//! driver, analysis and figure code as `milestone gemm` and `milestone ccl`:
//! schemas, bounds derived here from topology.yaml, figures that decode,
//! and shards that merge into the bytes of a whole run.

use std::path::{Path, PathBuf};

use kernbench::milestone::ccl::{self, CclDoc, CclSweep};
use kernbench::milestone::gemm::{self, GemmDoc, GemmSweep};
use kernbench::milestone::{self, Domain, Options, Progress, Shard};
use kernbench_core::dsl::Stage;
use kernbench_core::host::{BufferKind, RingKind};
use kernbench_core::Topology;
use serde_json::Value;

/// A fresh, empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kernbench-ms-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn opts(out: &Path, shard: Option<Shard>) -> Options {
    Options {
        out: out.to_path_buf(),
        shard,
        progress: Progress { quiet: true },
    }
}

fn small_gemm() -> GemmSweep {
    GemmSweep {
        shapes: vec![[16, 16, 16], [64, 128, 96], [128, 128, 128]],
        block: [128, 128, 128],
        scaling_shape: [256, 256, 256],
        scaling_block: [64, 64, 128],
        scaling: vec![(1, 1), (4, 1), (4, 2)],
        ..GemmSweep::full(&Topology::default_topology())
    }
}

fn small_ccl(topo: &Topology) -> CclSweep {
    let sizes = vec![4096, 16384, 65536];
    CclSweep {
        rings: vec![
            (RingKind::IntracubePe, 4),
            (RingKind::IntercubeMultisip, 4),
            (RingKind::Sip, topo.system.sips as usize),
        ],
        buffers: vec![BufferKind::Tcm, BufferKind::Hbm],
        sizes: vec![sizes.clone(), sizes.clone(), sizes],
        parity_bytes: 65536,
    }
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(|s| s.as_str()).collect();
    k.sort();
    k
}

fn has_keys(v: &Value, want: &[&str]) {
    let got = keys(v);
    for k in want {
        assert!(got.contains(k), "missing `{k}` in {got:?}");
    }
}

fn decodes(path: &Path) {
    let f = std::fs::File::open(path).unwrap();
    let mut r = png::Decoder::new(std::io::BufReader::new(f))
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert!(
        info.width >= 300 && info.height >= 200,
        "{}",
        path.display()
    );
    // Something was drawn: not every pixel white.
    assert!(buf.iter().any(|&b| b < 200), "{} is blank", path.display());
}

#[test]
fn the_gemm_sweep_writes_its_schema_and_never_beats_its_bounds() {
    let topo = Topology::default_topology();
    let out = scratch("gemm");
    let sweep = small_gemm();
    let w = milestone::run(&sweep, &topo, &opts(&out, None)).unwrap();
    assert_eq!(w.points, 3 * 3 + 3);
    let dir = out.join("gemm");
    let raw: Value = serde_json::from_slice(&std::fs::read(dir.join(gemm::JSON)).unwrap()).unwrap();
    has_keys(&raw, &["version", "tile", "rows", "scaling"]);
    assert_eq!(raw["version"], 1);
    has_keys(&raw["tile"], &["m", "k", "n"]);
    for r in raw["rows"].as_array().unwrap() {
        has_keys(
            r,
            &[
                "shape",
                "variant",
                "under_tile",
                "wall_ns",
                "stages_ns",
                "gemm_util_pct",
                "useful_eff_pct",
                "ideal_wall_ns",
                "op_log_summary",
            ],
        );
        has_keys(&r["stages_ns"], &["dma_in", "fetch", "gemm", "dma_out"]);
        has_keys(&r["op_log_summary"], &["gemm_count", "dma_read_count"]);
    }
    for r in raw["scaling"].as_array().unwrap() {
        has_keys(r, &["shape", "pes", "cubes", "wall_ns", "useful_eff_pct"]);
    }

    let doc: GemmDoc = serde_json::from_value(raw).unwrap();
    let g = &topo.pe_gemm;
    let peak = f64::from(g.mac_rows) * f64::from(g.mac_cols) * g.clock_ghz;
    let slice = topo.hbm_ctrl.xbar_to_hbm_bw_gbs * topo.hbm_ctrl.efficiency;
    assert_eq!(doc.rows.len(), 9);
    for r in &doc.rows {
        let [m, k, n] = r.shape.map(|v| v as f64);
        let what = format!("{:?} {}", r.shape, r.variant);
        assert!(r.gemm_util_pct > 0.0 && r.gemm_util_pct <= 100.0, "{what}");
        assert!(
            r.useful_eff_pct > 0.0 && r.useful_eff_pct <= 100.0,
            "{what}"
        );
        assert!(
            r.wall_ns >= r.ideal_wall_ns,
            "{what}: {} < ideal {}",
            r.wall_ns,
            r.ideal_wall_ns
        );
        // Physical bounds: every MAC at the array's peak; A, B and C each
        // crossing the HBM slice once.
        let compute = m * k * n / peak;
        let hbm = (m * k + k * n + m * n) * 2.0 / slice;
        assert!(r.wall_ns >= compute.max(hbm), "{what}");
        assert!(r.ideal_wall_ns >= compute.max(hbm) * 0.999, "{what}");
        let under = r.shape[0] < g.tile_m as usize
            || r.shape[1] < g.tile_k as usize
            || r.shape[2] < g.tile_n as usize;
        assert_eq!(r.under_tile, under, "{what}");
        // The stages never outlast the run.
        let s = r.stages_ns;
        for (name, v) in [
            ("dma_in", s.dma_in),
            ("fetch", s.fetch),
            ("gemm", s.gemm),
            ("dma_out", s.dma_out),
        ] {
            assert!(v >= 0.0 && v <= r.wall_ns, "{what} {name}");
        }
        assert_eq!(r.stages_ns.dma_in == 0.0, r.variant == "tcm", "{what}");
    }
    for r in &doc.scaling {
        let [m, k, n] = r.shape.map(|v| v as f64);
        let pes = f64::from(r.pes) * f64::from(r.cubes);
        assert!(r.wall_ns >= m * k * n / (pes * peak), "{r:?}");
        assert!(r.wall_ns >= r.bound_ns, "{r:?}");
        assert!(r.useful_eff_pct > 0.0 && r.useful_eff_pct <= 100.0);
    }
    for f in &w.files {
        assert!(f.exists(), "{}", f.display());
        if f.extension().is_some_and(|e| e == "png") {
            decodes(f);
        }
    }
    let pngs = w
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .count();
    assert_eq!(pngs, 4);
    let csv = std::fs::read_to_string(dir.join(gemm::CSV)).unwrap();
    assert_eq!(csv.lines().count(), 1 + 9 + 3);
    // `--fast` draws the same figures from the JSON alone.
    let before = std::fs::read(dir.join("gemm_pe_scaling.png")).unwrap();
    gemm::rerender(&dir).unwrap();
    assert_eq!(
        std::fs::read(dir.join("gemm_pe_scaling.png")).unwrap(),
        before
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_ccl_sweep_stays_under_its_links_and_the_process_group_matches_a_direct_launch() {
    let topo = Topology::default_topology();
    let out = scratch("ccl");
    let sweep = small_ccl(&topo);
    let w = milestone::run(&sweep, &topo, &opts(&out, None)).unwrap();
    let dir = out.join("ccl");
    let raw: Value = serde_json::from_slice(&std::fs::read(dir.join(ccl::JSON)).unwrap()).unwrap();
    has_keys(&raw, &["version", "rows", "parity"]);
    for r in raw["rows"].as_array().unwrap() {
        has_keys(
            r,
            &[
                "ring",
                "n_ranks",
                "buffer",
                "bytes",
                "latency_ns",
                "algbw_gbs",
                "busbw_gbs",
                "model_latency_ns",
            ],
        );
    }
    has_keys(
        &raw["parity"],
        &[
            "bytes",
            "direct_latency_ns",
            "process_group_latency_ns",
            "data_identical",
        ],
    );
    let doc: CclDoc = serde_json::from_value(raw).unwrap();
    assert_eq!(doc.rows.len(), 3 * 2 * 3);
    // The link a ring's messages cannot beat: a PE's crossbar port within
    // a cube; UCIe between cubes; the SerDes link between SIPs.
    let port = topo.xbar.pe_port_bw_gbs;
    let bound = |ring: &str| match ring {
        "intracube_pe_ring" => port,
        "intercube_multisip" => port.min(topo.ucie.bw_gbs),
        _ => port.min(topo.ucie.bw_gbs).min(topo.sip_link.bw_gbs),
    };
    for r in &doc.rows {
        assert!(r.busbw_gbs > 0.0 && r.busbw_gbs <= bound(&r.ring), "{r:?}");
        let n = r.n_ranks as f64;
        assert!((r.algbw_gbs - r.bytes as f64 / r.latency_ns).abs() < 1e-9);
        assert!((r.busbw_gbs - r.algbw_gbs * 2.0 * (n - 1.0) / n).abs() < 1e-9);
        assert!(r.model_latency_ns > 0.0);
    }
    for (ring, _) in &sweep.rings {
        for b in &sweep.buffers {
            let lat: Vec<f64> = doc
                .rows
                .iter()
                .filter(|r| r.ring == ring.name() && r.buffer == b.name())
                .map(|r| r.latency_ns)
                .collect();
            assert_eq!(lat.len(), 3);
            assert!(
                lat.windows(2).all(|w| w[0] < w[1]),
                "{ring:?} {b:?}: {lat:?}"
            );
        }
    }
    let p = doc.parity.unwrap();
    assert!(p.data_identical);
    assert_eq!(p.direct_latency_ns, p.process_group_latency_ns);
    let pngs: Vec<&PathBuf> = w
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .collect();
    assert_eq!(pngs.len(), 5);
    for f in pngs {
        decodes(f);
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// Every file of a domain's folder, by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().contains(".shard-"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn two_shards_merged_are_byte_identical_to_the_whole_run() {
    let topo = Topology::default_topology();
    let sweep = GemmSweep {
        shapes: vec![[32, 64, 32], [64, 64, 64]],
        variants: vec![Stage::Tcm, Stage::HbmRef],
        scaling_shape: [128, 128, 128],
        scaling: vec![(1, 1), (2, 1)],
        ..small_gemm()
    };
    let whole = scratch("whole");
    milestone::run(&sweep, &topo, &opts(&whole, None)).unwrap();
    let (a, b) = (scratch("shard-a"), scratch("shard-b"));
    let s1 = milestone::run(&sweep, &topo, &opts(&a, Some("1/2".parse().unwrap()))).unwrap();
    let s2 = milestone::run(&sweep, &topo, &opts(&b, Some("2/2".parse().unwrap()))).unwrap();
    assert_eq!(s1.points + s2.points, sweep.points().len());
    assert_eq!(s1.files.len(), 1, "a shard writes only its partial");
    let merged = scratch("merged");
    milestone::merge(&sweep, &topo, &merged, &[a.clone(), b.join("gemm")]).unwrap();
    let (w, m) = (files(&whole.join("gemm")), files(&merged.join("gemm")));
    assert_eq!(w.len(), 6);
    assert_eq!(
        w.iter().map(|f| &f.0).collect::<Vec<_>>(),
        m.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in w.iter().zip(&m) {
        assert!(x == y, "{name} differs between the whole run and the merge");
    }

    // A missing shard, a shard given twice, another topology: refused.
    let only_a = milestone::merge(&sweep, &topo, &merged, std::slice::from_ref(&a)).unwrap_err();
    assert!(
        only_a.to_string().contains("no partial holds point"),
        "{only_a}"
    );
    let twice = milestone::merge(
        &sweep,
        &topo,
        &merged,
        &[a.clone(), b.clone(), a.join("gemm")],
    );
    assert!(twice.is_ok(), "the same file found twice is read once");
    let c = scratch("shard-c");
    std::fs::copy(
        a.join("gemm/gemm.shard-1-of-2.json"),
        c.join("gemm.shard-1-of-2.json"),
    )
    .unwrap();
    let dup =
        milestone::merge(&sweep, &topo, &merged, &[a.clone(), b.clone(), c.clone()]).unwrap_err();
    assert!(dup.to_string().contains("in two partials"), "{dup}");
    let mut other = topo.clone();
    other.pe_gemm.clock_ghz *= 2.0;
    let e = milestone::merge(&sweep, &other, &merged, &[a.clone(), b.clone()]).unwrap_err();
    assert!(e.to_string().contains("another topology"), "{e}");
    for d in [whole, a, b, c, merged] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn a_sweep_point_that_fails_names_the_point() {
    let topo = Topology::default_topology();
    let out = scratch("fail");
    let sweep = GemmSweep {
        shapes: vec![[32, 64, 32]],
        variants: vec![Stage::Tcm],
        scaling: vec![(1, 99)],
        ..small_gemm()
    };
    let e = milestone::run(&sweep, &topo, &opts(&out, None)).unwrap_err();
    assert!(e.to_string().starts_with("gemm point 256x256x256"), "{e}");
    assert!(e.to_string().contains("99 cube(s)"), "{e}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_ideal_pipeline_stays_below_the_simulation_when_fetch_or_folds_bound_it() {
    // Tiles four times the array (folds > 1), and a slow TCM fetch: the
    // drain after the slowest stage is the last tile's alone.
    let mut folds = Topology::default_topology();
    folds.pe_gemm.tile_m = 128;
    folds.pe_gemm.tile_n = 128;
    let mut fetch = Topology::default_topology();
    fetch.pe_tcm.fetch_bw_gbs = 40.0;
    let cases = [
        (&folds, [128, 2048, 128], Stage::HbmRef, [128, 128, 2048]),
        (&fetch, [32, 1024, 32], Stage::Tcm, [32, 32, 1024]),
        (&fetch, [96, 640, 80], Stage::Sram, [64, 64, 128]),
    ];
    for (topo, shape, stage, block) in cases {
        let r = gemm::shape_row(topo, shape, stage, block).unwrap();
        assert!(
            r.wall_ns >= r.ideal_wall_ns,
            "{shape:?} {stage:?}: simulated {} < ideal {}",
            r.wall_ns,
            r.ideal_wall_ns
        );
    }
}

#[test]
fn the_scaling_sweep_follows_the_topology() {
    let t = Topology::default_topology();
    let full = gemm::scaling(&t);
    assert_eq!(
        full,
        [
            (1, 1),
            (2, 1),
            (4, 1),
            (8, 1),
            (8, 2),
            (8, 4),
            (8, 8),
            (8, 16)
        ]
    );
    let mut small = t.clone();
    small.system.pes_per_cube = 6;
    small.system.cube_mesh.x = 3;
    small.system.cube_mesh.y = 1;
    assert_eq!(
        gemm::scaling(&small),
        [(1, 1), (2, 1), (4, 1), (6, 1), (6, 2), (6, 3)]
    );
}
