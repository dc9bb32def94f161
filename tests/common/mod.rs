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
