//! Analytical models fed by the parsed topology, to set beside what the
//! simulator measures: every constant is read from the machine, none is
//! copied by hand.
//!
//! May use every layer below ([`crate::host`] for rings, [`crate::exec`],
//! [`crate::fabric`]); nothing below uses it.

mod all_reduce;
mod attention;
mod gemm;

pub use all_reduce::AllReduceModel;
pub use attention::{DecodeModel, RingAttentionModel, StepWork};
pub use gemm::{GemmIdeal, GemmShape, StageTimes};
