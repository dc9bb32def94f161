//! kernbench-core: the simulated machine and the kernel language's runtime.
//!
//! Layering inside the crate, bottom to top: [`topology`] (the parsed
//! machine description) → [`machine`] (nodes and [`link`]s) and [`addr`] →
//! [`route`] → [`engine`] (event queue and the burst timing model) →
//! [`probe`]; [`dsl`] (tracing kernels into command streams) sits beside the
//! engine; [`pe`] executes command streams on the engine (with [`memory`],
//! [`oplog`], [`ring`]); [`runtime`] is the host API over it, [`tp`] the
//! process group over that; [`model`] and [`timeline`] read their results.
//! Nothing here knows about the `kernels` crate or the CLI.

pub mod addr;
pub mod dsl;
pub mod engine;
pub mod link;
pub mod machine;
pub mod memory;
pub mod model;
pub mod oplog;
pub mod pe;
pub mod probe;
pub mod ring;
pub mod route;
pub mod runtime;
pub mod timeline;
pub mod topology;
pub mod tp;
pub mod units;

pub use addr::{Endpoint, PhysAddr, Space};
pub use machine::Machine;
pub use topology::{Topology, TopologyError};
