//! Probe invariants a hardware engineer would check, with expected values
//! derived from topology.yaml's parameters rather than from the program.

mod common;

use common::{machine, topo_with};
use kernbench::cli::probe::{self as cli_probe, ProbeArgs};
use kernbench_core::fabric::probe::{self, ProbeCase, SWEEP_BYTES};
use kernbench_core::Topology;

fn latency(t: &Topology, case: ProbeCase, bytes: u64) -> f64 {
    probe::measure(&machine(t), case, bytes).unwrap().latency_ns
}

#[test]
fn latency_grows_with_size_for_every_case() {
    let m = machine(&Topology::default_topology());
    for case in ProbeCase::ALL {
        let lat: Vec<f64> = SWEEP_BYTES
            .iter()
            .map(|&b| probe::measure(&m, case, b).unwrap().latency_ns)
            .collect();
        assert!(
            lat.windows(2).all(|w| w[0] < w[1]),
            "{}: {lat:?}",
            case.name()
        );
    }
}

#[test]
fn farther_is_slower_at_every_size() {
    let t = Topology::default_topology();
    for &b in &SWEEP_BYTES {
        let local = latency(&t, ProbeCase::PeLocalHbm, b);
        let cube = latency(&t, ProbeCase::PeRemoteCubeHbm, b);
        let sip = latency(&t, ProbeCase::PeRemoteSip, b);
        assert!(local < cube && cube < sip, "{b} B: {local} {cube} {sip}");
    }
}

#[test]
fn more_hops_are_never_faster() {
    use kernbench_core::fabric::engine::Sim;
    use kernbench_core::{Endpoint, PhysAddr, Space};
    let t = Topology::default_topology();
    let m = machine(&t);
    let at = |cube, space| {
        Endpoint::Mem(PhysAddr {
            sip: 0,
            cube,
            space,
            offset: 0,
        })
    };
    let mut prev = 0;
    // Destinations along the top row, then down the east column: each one
    // more UCIe crossing from cube (0,0).
    let path: Vec<u32> = (0..4)
        .map(|x| m.cube_index(x, 0))
        .chain((1..4).map(|y| m.cube_index(3, y)))
        .collect();
    for (hops, &cube) in path.iter().enumerate() {
        let mut sim = Sim::new(m.clone());
        let id = sim
            .start_copy(
                at(0, Space::Tcm { pe: 0 }),
                at(cube, Space::Hbm),
                64 << 10,
                0,
                0,
            )
            .unwrap();
        sim.run();
        let r = sim.report(id).unwrap();
        let lat = r.done - r.start;
        assert!(
            lat > prev,
            "{hops} crossings: {lat} ps, not above {prev} ps"
        );
        prev = lat;
    }
}

#[test]
fn a_single_burst_costs_setup_overheads_wire_and_the_slowest_serialization() {
    // pe-local-hbm with one 256-byte burst: PE port -> xbar -> HBM port ->
    // one pseudo-channel. Cut-through: the head pays every hop's overhead and
    // propagation once; the burst's serialization overlaps across hops, so
    // only the slowest (the pseudo-channel at raw/num_pcs x efficiency) shows.
    let t = Topology::default_topology();
    let burst = t.hbm.burst_bytes;
    let pc_gbs = t.hbm_ctrl.xbar_to_hbm_bw_gbs * t.hbm_ctrl.efficiency / f64::from(t.hbm.num_pcs);
    let ser_max = (burst as f64 / t.xbar.pe_port_bw_gbs)
        .max(burst as f64 / t.hbm_ctrl.xbar_to_hbm_bw_gbs)
        .max(burst as f64 / pc_gbs);
    let overhead = t.pe_dma.setup_ns + t.xbar.overhead_ns + t.hbm_ctrl.access_ns;
    let wire = 2.0 * t.xbar.port_mm * t.ns_per_mm;
    let want = overhead + wire + ser_max;
    let m = probe::measure(&machine(&t), ProbeCase::PeLocalHbm, burst).unwrap();
    assert!(
        (m.latency_ns - want).abs() < 0.01,
        "{} vs {want}",
        m.latency_ns
    );
    assert!((m.overhead_ns - overhead).abs() < 1e-6);
    assert!((m.wire_ns - wire).abs() < 1e-6);
}

#[test]
fn bandwidth_never_exceeds_the_bottleneck_and_large_transfers_approach_it() {
    let t = Topology::default_topology();
    let r = probe::probe(&machine(&t), &ProbeCase::ALL, 64 << 10).unwrap();
    for c in &r.cases {
        let split = c.overhead_ns + c.wire_ns + c.drain_ns;
        assert!((c.latency_ns - split).abs() < 1e-6, "{}: split", c.name);
        assert!(c.drain_ns >= 0.0);
        assert!(c.utilization > 0.0 && c.utilization <= 1.0, "{}", c.name);
        assert!(c.effective_bw_gbs <= c.bottleneck_bw_gbs);
        for p in &c.sweep {
            assert!(
                p.utilization > 0.0 && p.utilization <= 1.0,
                "{} {}",
                c.name,
                p.bytes
            );
            assert!(p.effective_bw_gbs <= c.bottleneck_bw_gbs);
        }
    }
    let local = r.cases.iter().find(|c| c.name == "pe-local-hbm").unwrap();
    // The local HBM slice is the bottleneck: raw x efficiency.
    assert!((local.bottleneck_bw_gbs - t.hbm_ctrl.effective_bw_gbs()).abs() < 1e-6);
    let last = local.sweep.last().unwrap();
    assert_eq!(last.bytes, 1 << 20);
    assert!(last.utilization > 0.9, "{}", last.utilization);
    let sip = r.cases.iter().find(|c| c.name == "pe-remote-sip").unwrap();
    assert!((sip.bottleneck_bw_gbs - t.sip_link.bw_gbs).abs() < 1e-6);
    let host = r.cases.iter().find(|c| c.name == "host-write").unwrap();
    assert!((host.bottleneck_bw_gbs - t.pcie.bw_gbs).abs() < 1e-6);
}

#[test]
fn ucie_overhead_slows_remote_cube_and_leaves_local_alone() {
    let base = Topology::default_topology();
    let slow = topo_with("  overhead_ns: 8.0", "  overhead_ns: 20.0");
    let b = 16 << 10;
    assert_eq!(
        latency(&base, ProbeCase::PeLocalHbm, b),
        latency(&slow, ProbeCase::PeLocalHbm, b)
    );
    let (before, after) = (
        latency(&base, ProbeCase::PeRemoteCubeHbm, b),
        latency(&slow, ProbeCase::PeRemoteCubeHbm, b),
    );
    // Corner to corner of a 4x4 mesh is 6 crossings of 2 ports each.
    let crossings = 6.0;
    let want = crossings * 2.0 * (20.0 - 8.0);
    assert!(
        (after - before - want).abs() < 0.01,
        "{before} -> {after}, want +{want}"
    );
}

#[test]
fn other_mesh_sizes_work() {
    let base = latency(
        &Topology::default_topology(),
        ProbeCase::PeRemoteCubeHbm,
        4096,
    );
    let small = topo_with("cube_mesh: { x: 4, y: 4 }", "cube_mesh: { x: 2, y: 2 }");
    let big = topo_with("cube_mesh: { x: 4, y: 4 }", "cube_mesh: { x: 8, y: 8 }");
    for t in [&small, &big] {
        let r = probe::probe(&machine(t), &ProbeCase::ALL, 4096).unwrap();
        assert_eq!(r.cases.len(), 5);
        assert!(r
            .cases
            .iter()
            .all(|c| c.utilization > 0.0 && c.utilization <= 1.0));
    }
    assert!(latency(&small, ProbeCase::PeRemoteCubeHbm, 4096) < base);
    assert!(latency(&big, ProbeCase::PeRemoteCubeHbm, 4096) > base);
}

#[test]
fn the_same_run_gives_identical_json() {
    let t = Topology::default_topology();
    let args = ProbeArgs {
        json: true,
        ..ProbeArgs::default()
    };
    let a = cli_probe::run(&t, &args).unwrap();
    let b = cli_probe::run(&t, &args).unwrap();
    assert_eq!(a, b);
}

#[test]
fn json_matches_the_documented_schema() {
    let t = Topology::default_topology();
    let args = ProbeArgs {
        json: true,
        ..ProbeArgs::default()
    };
    let doc: serde_json::Value = serde_json::from_str(&cli_probe::run(&t, &args).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "host-write",
            "host-read",
            "pe-local-hbm",
            "pe-remote-cube-hbm",
            "pe-remote-sip"
        ]
    );
    for c in cases {
        assert!(c["bytes"].is_u64());
        for k in [
            "latency_ns",
            "overhead_ns",
            "wire_ns",
            "drain_ns",
            "effective_bw_gbs",
            "bottleneck_bw_gbs",
            "utilization",
        ] {
            assert!(c[k].is_f64(), "{k}");
        }
        let route = c["route"].as_array().unwrap();
        assert!(route.len() >= 2);
        for p in route {
            assert!(p["node"].is_string() && p["t_ns"].is_f64());
        }
        let sweep = c["sweep"].as_array().unwrap();
        let sizes: Vec<u64> = sweep.iter().map(|p| p["bytes"].as_u64().unwrap()).collect();
        assert_eq!(sizes, SWEEP_BYTES);
        for p in sweep {
            for k in ["latency_ns", "effective_bw_gbs", "utilization"] {
                assert!(p[k].is_f64(), "{k}");
            }
        }
    }
}

#[test]
fn unknown_case_is_a_clear_error() {
    let t = Topology::default_topology();
    let args = ProbeArgs {
        case: Some("pe-to-mars".into()),
        ..ProbeArgs::default()
    };
    let e = cli_probe::run(&t, &args).unwrap_err().to_string();
    assert!(
        e.contains("pe-to-mars") && e.contains("pe-local-hbm"),
        "{e}"
    );
}

#[test]
fn a_one_sip_machine_skips_the_sip_case_with_a_note() {
    let t = topo_with("  sips: 2", "  sips: 1");
    let out = cli_probe::run(&t, &ProbeArgs::default()).unwrap();
    assert!(
        out.contains("note: pe-remote-sip skipped: needs 2 SIPs; the topology has 1"),
        "{out}"
    );
    // Every other case still runs, in its own section.
    for case in ProbeCase::ALL {
        if case != ProbeCase::PeRemoteSip {
            assert!(out.contains(case.name()), "{case:?} missing:\n{out}");
        }
    }
    let json = ProbeArgs {
        json: true,
        ..ProbeArgs::default()
    };
    let v: serde_json::Value = serde_json::from_str(&cli_probe::run(&t, &json).unwrap()).unwrap();
    assert_eq!(v["skipped"][0]["name"], "pe-remote-sip");
    assert_eq!(
        v["cases"].as_array().unwrap().len(),
        ProbeCase::ALL.len() - 1
    );
    // Asked for by name, the case is an error that says why.
    let one = ProbeArgs {
        case: Some("pe-remote-sip".into()),
        ..ProbeArgs::default()
    };
    let e = cli_probe::run(&t, &one).unwrap_err().to_string();
    assert!(e.contains("needs 2 SIPs"), "{e}");
}
