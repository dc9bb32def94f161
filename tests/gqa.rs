//! The gqa milestone: every assertion of the original project's spec test
//! (registration, a validation run, the v1 schema, four panels with sane
//! op-log summaries, decode = 2 GEMMs per rank, prefill = 2 per rank per
//! ring step), the numerics of both kernels with real grouped-query heads,
//! and bounds at the real model's shape derived here from topology.yaml.

mod common;

use std::path::PathBuf;

use kernbench::bench::gqa::{run_panel, GqaConfig, Panel, PanelRun};
use kernbench::bench::{self, RunMode};
use kernbench::milestone::gqa::{GqaSweep, JSON};
use kernbench::milestone::{self, Options, Progress};
use kernbench_core::fabric::topology::Network;
use kernbench_core::support::Named;
use kernbench_core::Topology;
use kernels::Sharding;
use serde_json::Value;

const BENCH: &str = "milestone-gqa-llama70b";

fn checked() -> RunMode {
    RunMode {
        check: true,
        data: true,
        records: false,
    }
}

/// The validation sweep through the milestone driver; its sweep.json.
fn validation_json() -> Value {
    let out = std::env::temp_dir().join(format!("kernbench-gqa-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let opts = Options {
        out: out.clone(),
        shard: None,
        progress: Progress { quiet: true },
    };
    let topo = Topology::default_topology();
    let w = milestone::run(&GqaSweep::validation(), &topo, &opts).unwrap();
    assert_eq!(w.points, 4);
    let dir: PathBuf = out.join("gqa");
    for f in &w.files {
        assert!(f.starts_with(&dir) && f.exists(), "{}", f.display());
        if f.extension().is_some_and(|e| e == "png") {
            let img = std::fs::read(f).unwrap();
            assert!(img.starts_with(b"\x89PNG") && img.len() > 10_000);
        }
    }
    let v = serde_json::from_slice(&std::fs::read(dir.join(JSON)).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&out);
    v
}

#[test]
fn the_bench_is_registered_and_each_panel_validates() {
    let spec = bench::find(BENCH).unwrap();
    assert_eq!(spec.name, BENCH);
    assert!(!spec.description.trim().is_empty());
    let topo = Topology::default_topology();
    for p in Panel::ALL {
        let over = [("panel".to_string(), p.name().to_string())];
        let r = spec.run(&topo, &over, checked()).unwrap();
        let c = r.check.expect("validation checks the output");
        assert!(c.ok, "{}: {c:?}", p.name());
    }
}

#[test]
fn the_validation_sweep_meets_the_spec() {
    let v = validation_json();
    assert_eq!(v["version"], 1);
    assert_eq!(v["validation_scale"], true);
    let mut panels: Vec<&str> = v["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    panels.sort_unstable();
    let mut want: Vec<&str> = Panel::ALL.iter().map(|p| p.name()).collect();
    want.sort_unstable();
    assert_eq!(panels, want);
    let cfg = &v["config"];
    for (key, value) in [
        ("S_q_prefill", 16),
        ("S_kv_per_rank", 16),
        ("h_q", 1),
        ("h_kv", 1),
        ("d_head", 64),
        ("n_ranks_single_user", 8),
        ("n_ranks_multi_user", 4),
    ] {
        assert_eq!(cfg[key], value, "config.{key}");
    }
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for p in Panel::ALL {
        let matching: Vec<&Value> = rows.iter().filter(|r| r["panel"] == p.name()).collect();
        assert_eq!(matching.len(), 1, "one {} row", p.name());
        let r = matching[0];
        let s = &r["op_log_summary"];
        let count = |k: &str| s[k].as_u64().unwrap();
        assert!(count("gemm_count") > 0, "{}", p.name());
        assert!(count("ipcq_send_count") > 0, "{}", p.name());
        assert!(count("ipcq_recv_count") > 0, "{}", p.name());
        assert!(count("dma_read_count") >= 3, "{}: Q, K, V loads", p.name());
        assert!(count("dma_write_count") >= 1, "{}: the output", p.name());
        let n = r["n_ranks"].as_u64().unwrap();
        let want = if p.is_prefill() { 2 * n * n } else { 2 * n };
        assert_eq!(count("gemm_count"), want, "{}", p.name());
        assert_eq!(r["check"]["ok"], true, "{}", p.name());
        assert!(r["check"]["max_abs_err"].as_f64().unwrap() < 1e-2);
        for k in [
            "latency_ns",
            "compute_ns",
            "comm_ns",
            "exposed_comm_ns",
            "bound_ns",
            "model_ns",
            "gemm_util_pct",
        ] {
            assert!(r[k].as_f64().is_some(), "{k}");
        }
    }
}

/// A small real-GQA shape: 8 query heads over 2 K/V heads, S 256.
fn small(panel: Panel, users: usize, ranks: usize) -> GqaConfig {
    GqaConfig {
        users,
        ranks,
        context: 256,
        h_q: 8,
        h_kv: 2,
        d_head: 64,
        bm: 64,
        bn: 32,
        ..GqaConfig::llama70b(panel, 256, users, ranks)
    }
}

#[test]
fn both_kernels_are_exact_with_grouped_heads_and_causal_masks() {
    let topo = Topology::default_topology();
    let cases = [
        small(Panel::SingleUserPrefill, 1, 8),
        GqaConfig {
            sharding: Sharding::Contiguous,
            ..small(Panel::SingleUserPrefill, 1, 4)
        },
        small(Panel::MultiUserPrefill, 2, 4),
        small(Panel::SingleUserDecode, 1, 8),
        small(Panel::MultiUserDecode, 3, 4),
    ];
    for cfg in cases {
        assert_eq!(cfg.causal, cfg.panel.is_prefill());
        let r = run_panel(&topo, &cfg, checked()).unwrap();
        let c = r.result.check.unwrap();
        assert!(c.ok, "{cfg:?}: {c:?}");
        assert!(r.figures.latency_ns >= r.figures.bound_ns, "{cfg:?}");
    }
}

#[test]
fn a_one_message_queue_relays_piece_by_piece_without_deadlock() {
    // With fewer than four messages per peer the relay receives each
    // piece right after sending it.
    let topo = common::topo_with("depth: 4", "depth: 1");
    for cfg in [
        small(Panel::SingleUserPrefill, 1, 8),
        small(Panel::MultiUserDecode, 2, 4),
    ] {
        let r = run_panel(&topo, &cfg, checked()).unwrap();
        assert!(r.result.check.unwrap().ok, "{cfg:?}");
    }
}

/// Most loaded rank's compute over the mean, as simulated.
fn simulated_imbalance(r: &PanelRun) -> f64 {
    let v = &r.rank_compute_ns;
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().copied().fold(0.0, f64::max) / mean
}

#[test]
fn zigzag_shards_balance_causal_work() {
    let n = 8;
    let cfg = GqaConfig::llama70b(Panel::SingleUserPrefill, 32768, 1, n);
    let zig = kernbench::bench::gqa::imbalance(&cfg, Sharding::Zigzag, n);
    let contiguous = kernbench::bench::gqa::imbalance(&cfg, Sharding::Contiguous, n);
    // Contiguous: rank i attends i whole shards and half its own, i + 1/2
    // shard pairs; the last has n - 1/2 against a mean of n/2.
    let nf = n as f64;
    let half_diagonal = (nf - 0.5) / (nf / 2.0);
    assert!((zig - 1.0).abs() < 0.01, "{zig}");
    assert!((contiguous - half_diagonal).abs() < 0.05, "{contiguous}");
    // The simulated work per rank: zigzag evens it out; contiguous lies
    // between the count above and the one where a diagonal shard costs as
    // much as a full one (rank i: i + 1 shards, n against (n + 1)/2).
    let mut topo = Topology::default_topology();
    topo.sim.network = Network::Flow;
    let run = |sharding| {
        let cfg = GqaConfig {
            sharding,
            ..GqaConfig::llama70b(Panel::SingleUserPrefill, 1024, 1, n)
        };
        simulated_imbalance(&run_panel(&topo, &cfg, RunMode::TIMING_ONLY).unwrap())
    };
    let zig = run(Sharding::Zigzag);
    assert!(zig < 1.01, "zigzag {zig}");
    let contiguous = run(Sharding::Contiguous);
    let full_diagonal = nf / ((nf + 1.0) / 2.0);
    assert!(
        contiguous > full_diagonal - 0.01 && contiguous < half_diagonal + 0.01,
        "contiguous {contiguous} outside [{full_diagonal}, {half_diagonal}]"
    );
}

#[test]
fn a_slow_link_shows_up_as_exposed_communication() {
    // Cube-to-cube UCIe at 1 GB/s instead of topology.yaml's: the relay
    // (prefill) and the combine (decode) cross it, so the time it adds
    // must be time the critical rank waits on messages with no compute.
    let fast = Topology::default_topology();
    let mut slow = fast.clone();
    slow.ucie.bw_gbs = 1.0;
    let (n, d) = (4usize, 64usize);
    for cfg in [
        small(Panel::MultiUserPrefill, 2, n),
        small(Panel::MultiUserDecode, 3, n),
    ] {
        let f = run_panel(&fast, &cfg, RunMode::TIMING_ONLY)
            .unwrap()
            .figures;
        let s = run_panel(&slow, &cfg, RunMode::TIMING_ONLY)
            .unwrap()
            .figures;
        // What a cube's UCIe link out must carry at the least, in bytes.
        let link_bytes = if cfg.panel.is_prefill() {
            // Every step but the last forwards the cube's K and V shards.
            let shard = cfg.users * cfg.h_kv * (cfg.context / n) * d * 2 * 2;
            (n - 1) * shard
        } else {
            // A ring all-reduce of the cube's (m, l, o) records, f32.
            let records = (d + 2) * cfg.users * cfg.h_q * 4;
            2 * (n - 1) * records / n
        };
        let link_ns = link_bytes as f64 / slow.ucie.bw_gbs;
        assert!(
            s.latency_ns >= link_ns,
            "{:?}: {} < {link_ns}",
            cfg.panel,
            s.latency_ns
        );
        let added = s.latency_ns - f.latency_ns;
        let exposed = s.exposed_comm_ns - f.exposed_comm_ns;
        assert!(added > 0.5 * link_ns, "{:?}: {added}", cfg.panel);
        assert!(
            exposed >= 0.95 * added,
            "{:?}: {exposed} ns more exposed for {added} ns more latency",
            cfg.panel
        );
    }
}

/// The array's peak and one slice's effective bandwidth, from topology.yaml.
fn peaks(t: &Topology) -> (f64, f64) {
    let g = &t.pe_gemm;
    let macs_per_ns = f64::from(g.mac_rows) * f64::from(g.mac_cols) * g.clock_ghz;
    let hbm = t.hbm_ctrl.xbar_to_hbm_bw_gbs * t.hbm_ctrl.efficiency;
    (macs_per_ns, hbm)
}

fn headline(topo: &Topology, panel: Panel, ctx: usize, users: usize, ranks: usize) -> PanelRun {
    let cfg = GqaConfig::llama70b(panel, ctx, users, ranks);
    run_panel(topo, &cfg, RunMode::TIMING_ONLY).unwrap()
}

#[test]
fn llama70b_shapes_obey_their_first_principles_bounds() {
    let mut topo = Topology::default_topology();
    topo.sim.network = Network::Flow;
    let (macs_per_ns, hbm) = peaks(&topo);
    let (h_q, h_kv, d) = (64.0, 8.0, 128.0);
    let pes = topo.system.pes_per_cube as usize;
    let mut last = 0.0;
    for ctx in [1024usize, 2048] {
        let r = headline(&topo, Panel::SingleUserPrefill, ctx, 1, pes);
        let s = ctx as f64;
        let causal_macs = 2.0 * h_q * d * s * (s + 1.0) / 2.0;
        assert!(
            r.figures.latency_ns >= causal_macs / (pes as f64 * macs_per_ns),
            "{ctx}"
        );
        assert!(r.figures.latency_ns > last, "longer context is slower");
        last = r.figures.latency_ns;
        // Zigzag gives every rank an equal share of the causal MACs, and
        // the critical rank's array needs at least its share's time.
        let share = causal_macs / pes as f64 / macs_per_ns;
        assert!(
            r.figures.compute_ns >= 0.99 * share,
            "{ctx}: {}",
            r.figures.compute_ns
        );
    }
    let mut last = 0.0;
    for ctx in [2048usize, 4096] {
        // One user's cache in cube 0: one slice.
        let r = headline(&topo, Panel::SingleUserDecode, ctx, 1, pes);
        let kv_bytes = 2.0 * h_kv * ctx as f64 * d * 2.0;
        assert!(r.figures.latency_ns >= kv_bytes / hbm, "{ctx}");
        assert!(r.figures.latency_ns > last);
        last = r.figures.latency_ns;
        // Two GEMMs over the rank's slice of the cache: S = K q and P V.
        let rank_macs = 2.0 * h_q * (ctx / pes) as f64 * d;
        assert!(r.figures.compute_ns >= rank_macs / macs_per_ns, "{ctx}");
    }
    let cubes = topo.cubes_per_sip() as usize;
    for users in [1usize, 8] {
        let ctx = 4096;
        let r = headline(&topo, Panel::MultiUserDecode, ctx, users, cubes);
        let kv_bytes = users as f64 * 2.0 * h_kv * ctx as f64 * d * 2.0;
        assert!(
            r.figures.latency_ns >= kv_bytes / (cubes as f64 * hbm),
            "{users}"
        );
        assert_eq!(r.figures.cubes, cubes);
    }
}

/// The whole headline sweep: minutes in a release build.
#[test]
#[ignore]
fn the_headline_sweep_obeys_its_bounds() {
    let mut topo = Topology::default_topology();
    topo.sim.network = Network::Flow;
    let sweep = GqaSweep::headline(&topo);
    for p in &sweep.points {
        let r = run_panel(&topo, p, RunMode::TIMING_ONLY).unwrap();
        assert!(r.figures.latency_ns >= r.figures.bound_ns, "{p:?}");
    }
}

#[test]
fn shapes_that_cannot_run_are_refused_with_the_reason() {
    let topo = Topology::default_topology();
    let base = small(Panel::SingleUserDecode, 1, 4);
    let cases = [
        (GqaConfig { h_q: 0, ..base }, "h_q must be at least 1"),
        (GqaConfig { h_kv: 0, ..base }, "h_kv must be at least 1"),
        (GqaConfig { users: 0, ..base }, "users must be at least 1"),
        (GqaConfig { ranks: 0, ..base }, "ranks must be at least 1"),
        (
            GqaConfig {
                context: 102,
                ..base
            },
            "context=102 must split into 4",
        ),
        (
            GqaConfig { h_q: 7, ..base },
            "h_q=7 is not a multiple of h_kv=2",
        ),
        (
            GqaConfig {
                context: usize::MAX / 2,
                ..base
            },
            "do not fit in memory",
        ),
    ];
    for (cfg, want) in cases {
        let err = run_panel(&topo, &cfg, RunMode::TIMING_ONLY).unwrap_err();
        assert!(err.to_string().contains(want), "{cfg:?}: {err}");
    }
    assert_eq!(
        kernbench::bench::gqa::imbalance(&base, Sharding::Zigzag, 0),
        1.0
    );
}
