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

#[test]
fn values_past_their_bounds_are_refused_naming_the_key() {
    for (from, to, key, says) in [
        // Saturated the picosecond clock: "wall 0.0 ns".
        (
            "  dma_setup_ns: 200.0",
            "  dma_setup_ns: 2e16",
            "host.dma_setup_ns",
            "between 0 and 1000000 ns",
        ),
        // "useful MAC efficiency 2956%".
        (
            "  clock_ghz: 1.0",
            "  clock_ghz: 1e-15",
            "pe_gemm.clock_ghz",
            "between 0.01 and 1000 GHz",
        ),
        // Was silently clamped to 0.001 GB/s.
        (
            "  bw_gbs: 64.0",
            "  bw_gbs: 0.0000001",
            "pcie.bw_gbs",
            "between 0.001 and 1000000 GB/s",
        ),
        (
            "  bw_gbs: 512.0",
            "  bw_gbs: 1e300",
            "sram.bw_gbs",
            "between 0.001 and 1000000 GB/s",
        ),
        (
            "  length_mm: 200.0",
            "  length_mm: 1e12",
            "pcie.length_mm",
            "between 0 and 10000 mm",
        ),
        (
            "ns_per_mm: 0.01",
            "ns_per_mm: .nan",
            "ns_per_mm",
            "between 0 and 10 ns/mm",
        ),
        // The 36-bit offset of an address reaches 64 GiB.
        (
            "  capacity_mb: 16384",
            "  capacity_mb: 65537",
            "hbm.capacity_mb",
            "between 1 and 65536",
        ),
        (
            "  elems_per_ns: 256.0",
            "  elems_per_ns: 1e-9",
            "pe_math.elems_per_ns",
            "elements/ns",
        ),
        // 0.002 GB/s raw over 8 pseudo-channels: 0.0002 GB/s each.
        (
            "  xbar_to_hbm_bw_gbs: 256.0",
            "  xbar_to_hbm_bw_gbs: 0.002",
            "hbm_ctrl.xbar_to_hbm_bw_gbs",
            "per pseudo-channel",
        ),
    ] {
        let e = err(&edited(from, to));
        assert_eq!(e.key(), Some(key), "{to}: {e}");
        let msg = e.to_string();
        assert!(msg.contains(key) && msg.contains(says), "{to}: {msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
    // The machine bound is on PEs plus pseudo-channels over every cube:
    // 256 x 256 x (8 + 8) = 2^20 is the largest allowed.
    let t = edited("  sips: 2", "  sips: 256")
        .replace("cube_mesh: { x: 4, y: 4 }", "cube_mesh: { x: 16, y: 16 }");
    let units = 256u64 * 256 * (8 + 8);
    assert_eq!(units, kernbench_core::fabric::topology::MAX_MACHINE_UNITS);
    Topology::parse(&t, "max.yaml").expect("the largest machine is valid");
    let e = err(&t.replace("  num_pcs: 8", "  num_pcs: 9"));
    let over = 256u64 * 256 * (8 + 9);
    assert!(e.to_string().contains(&format!("{over} units")), "{e}");
}

#[test]
fn a_topology_file_is_read_up_to_a_megabyte() {
    // A device never ends: it must fail at once, not after 4 GB.
    let e = Topology::from_file("/dev/zero").unwrap_err();
    assert!(matches!(e, TopologyError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("/dev/zero"), "{e}");
    // A big regular file: padded with comments past the cap.
    let dir = std::env::temp_dir().join(format!("kb-topo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.yaml");
    let cap = kernbench_core::fabric::topology::MAX_TOPOLOGY_BYTES as usize;
    let mut text = kernbench_core::fabric::topology::DEFAULT_TOPOLOGY_YAML.to_string();
    text.push_str(&"#".repeat(cap));
    std::fs::write(&big, &text).unwrap();
    let e = Topology::from_file(&big).unwrap_err();
    assert!(
        e.to_string().contains(&format!("larger than {cap} bytes")),
        "{e}"
    );
    // Just under the cap it loads.
    text.truncate(cap);
    std::fs::write(&big, &text).unwrap();
    Topology::from_file(&big).expect("a file at the cap loads");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn deeply_nested_brackets_are_refused_at_once() {
    // The YAML parser's time grows with the square of the depth: a
    // megabyte of brackets would take minutes.
    let text = format!("ns_per_mm: {}", "[".repeat(500_000));
    let e = err(&text);
    assert!(e.to_string().contains("more than 256 brackets"), "{e}");
    // Quotes, apostrophes and comments do not hide brackets from the count.
    for prefix in ["[it's, ", "[a#b, ", "[\"a\\\"b\", ", "# "] {
        let text = format!("extra: {prefix}{}\n", "[".repeat(300));
        assert!(err(&text).to_string().contains("brackets"), "{prefix}");
    }
    // The default file is far below the bound.
    let pairs = kernbench_core::fabric::topology::DEFAULT_TOPOLOGY_YAML
        .matches(['[', '{'])
        .count();
    assert!(pairs < 8, "{pairs}");
}
