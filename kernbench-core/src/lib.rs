//! kernbench-core: the simulated machine and the kernel language's runtime.
//!
//! Layering inside the crate, bottom to top: [`topology`] (the parsed
//! machine description) → the built machine and its routes → the event
//! engine and its timing model → [`probe`]; [`dsl`] (tracing kernels into
//! command streams) sits beside the engine. Nothing here knows about the
//! `kernels` crate or the CLI.

pub mod dsl;
pub mod topology;

pub use topology::{Topology, TopologyError};
