//! Every kind of bad topology gives one clear error naming the key (and the
//! line), never a panic.

mod common;

use common::edited;
use kernbench_core::{Topology, TopologyError};

fn err(text: &str) -> TopologyError {
    Topology::parse(text, "bad.yaml").expect_err("bad topology must be rejected")
}

#[test]
fn default_topology_is_valid() {
    let t = Topology::default_topology();
    assert_eq!(t.system.sips, 2);
    assert_eq!((t.system.cube_mesh.x, t.system.cube_mesh.y), (4, 4));
    // hardware.md: 256 GB/s raw x 0.8 = 204.8 GB/s effective.
    assert!((t.hbm_ctrl.effective_bw_gbs() - 204.8).abs() < 1e-9);
}

#[test]
fn malformed_yaml_names_the_line() {
    let e = err("ns_per_mm: 0.01\nsystem: [1, 2\n");
    let msg = e.to_string();
    assert!(
        matches!(e, TopologyError::Parse { line: Some(_), .. }),
        "{msg}"
    );
    assert!(msg.starts_with("bad.yaml:"), "{msg}");
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let text = edited(
        "  pes_per_cube: 8\n",
        "  pes_per_cube: 8\n  pes_per_cub: 8\n",
    );
    let e = err(&text);
    let msg = e.to_string();
    assert!(msg.contains("unknown field `pes_per_cub`"), "{msg}");
    let line = text
        .lines()
        .position(|l| l.contains("pes_per_cub:"))
        .unwrap()
        + 1;
    assert!(
        matches!(e, TopologyError::Parse { line: Some(l), .. } if l == line),
        "{msg}"
    );
}

#[test]
fn missing_value_is_named() {
    let text = edited("  num_pcs: 8\n", "");
    let msg = err(&text).to_string();
    assert!(msg.contains("missing field `num_pcs`"), "{msg}");
}

#[test]
fn non_positive_values_are_named_with_their_line() {
    for (from, to, key) in [
        (
            "  bw_gbs: 256.0\n  # Protocol",
            "  bw_gbs: 0\n  # Protocol",
            "ucie.bw_gbs",
        ),
        (
            "  overhead_ns: 8.0",
            "  overhead_ns: -8.0",
            "ucie.overhead_ns",
        ),
        ("  num_pcs: 8", "  num_pcs: 0", "hbm.num_pcs"),
        (
            "  efficiency: 0.8",
            "  efficiency: 1.5",
            "hbm_ctrl.efficiency",
        ),
        (
            "  kernel_scratch_mb: 1",
            "  kernel_scratch_mb: 0",
            "pe_tcm.kernel_scratch_mb",
        ),
        ("  clock_ghz: 1.0", "  clock_ghz: 0.0", "pe_gemm.clock_ghz"),
    ] {
        let text = edited(from, to);
        let e = err(&text);
        assert_eq!(e.key(), Some(key), "{e}");
        let want_line = text
            .lines()
            .position(|l| l.contains(to.trim_start().split('\n').next().unwrap().trim()))
            .map(|i| i + 1);
        match &e {
            TopologyError::Invalid { line, .. } => assert_eq!(*line, want_line, "{e}"),
            other => panic!("expected a validation error, got {other}"),
        }
        assert!(e.to_string().contains(key), "{e}");
    }
}

#[test]
fn empty_mesh_is_rejected() {
    let e = err(&edited(
        "cube_mesh: { x: 4, y: 4 }",
        "cube_mesh: { x: 0, y: 0 }",
    ));
    assert_eq!(e.key(), Some("system.cube_mesh.x"));
    assert!(e.to_string().contains("got 0"), "{e}");
}

#[test]
fn unreadable_file_is_an_error_not_a_panic() {
    let e = Topology::from_file("/definitely/not/here.yaml").unwrap_err();
    assert!(e.to_string().contains("/definitely/not/here.yaml"), "{e}");
}
