//! kernbench: the CLI and milestone benches on top of the simulator.
pub mod cli;
