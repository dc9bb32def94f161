//! The host side: what a kernel author's program drives.
//!
//! Owns the [`Device`] (a simulated machine with allocations, memory
//! contents and simulated time), placement ([`Place`], [`Tensor`]),
//! launches ([`LaunchOptions`], [`Mapping`], tracing a grid into
//! [`Work`]), run reports ([`RunReport`], [`EngineTimes`]), ring installs
//! ([`Ring`]) and the tensor-parallel process group ([`group`]: rank =
//! SIP).
//!
//! May use: [`crate::exec`], [`crate::dsl`], [`crate::fabric`],
//! [`crate::support`]. Nothing below knows about devices or tensors; the
//! analytical models in [`crate::model`] sit above and read rings and
//! topologies.

mod device;
mod error;
pub mod group;
mod launch;
mod place;
mod report;
mod ring;

pub use crate::exec::budget::{Budget, BudgetError};
pub use crate::exec::pe::BufferKind;
pub use device::Device;
pub use error::{CollectiveError, GroupError, RuntimeError};
pub use launch::{trace_config, trace_launch, LaunchOptions, Mapping, Work, MAX_PROGRAMS};
pub use place::{Place, Tensor};
pub use report::{EngineTimes, RunReport};
pub use ring::{mesh_tour, Ring, RingError, RingKind};
