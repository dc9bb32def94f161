//! Executing command streams on the machine: the PE pipeline and what it
//! records.
//!
//! Owns the host resources a run may use ([`budget`]), the PE pipeline
//! ([`pe`]: issue, engines, scoreboard, GEMM tile pipeline, IPCQ,
//! numerics), the contents of device memory for data execution
//! ([`memory`]), the op log of every executed command and tile stage
//! ([`oplog`]) and its Chrome/Perfetto rendering ([`timeline`]).
//!
//! May use: [`crate::dsl`] (the command stream it executes),
//! [`crate::fabric`] (the engine its transfers run on) and
//! [`crate::support`]. It knows nothing of devices, tensors or launches:
//! it is handed programs already traced and placed on PEs.

pub mod budget;
pub mod memory;
pub mod oplog;
pub mod pe;
pub mod timeline;
