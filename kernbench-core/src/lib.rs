//! kernbench-core: the simulated machine and the kernel language's runtime.
//!
//! The crate is layered; each layer is a folder and may use only the
//! layers below it:
//!
//! | layer | owns |
//! |---|---|
//! | [`model`] | analytical models fed by the parsed topology |
//! | [`host`] | the [`Device`], tensors and placement, launches, run reports, ring installs, the tensor-parallel process group |
//! | [`exec`] | the PE pipeline that executes command streams, device memory contents, the op log and timelines |
//! | [`dsl`] | the kernel language: `tl::` operations, tracing, the command stream (the simulated ISA) |
//! | [`fabric`] | the topology, addresses, the built machine, routes, the event engine and link model, the probe |
//! | [`support`] | names of enums and panic messages, shared by every layer |
//!
//! `dsl` uses only `support`: it sits beside `fabric`, not on it. Nothing here knows
//! about the `kernels` crate or the CLI. The most used types are
//! re-exported here, so host code can write `kernbench_core::Device`.

pub mod dsl;
pub mod exec;
pub mod fabric;
pub mod host;
pub mod model;
pub mod support;

pub use fabric::addr::{Endpoint, PeLoc, PhysAddr, Space};
pub use fabric::machine::Machine;
pub use fabric::topology::{Topology, TopologyError};
pub use host::{
    BufferKind, Device, LaunchOptions, Mapping, Place, Ring, RingKind, RunReport, RuntimeError,
    Tensor,
};
