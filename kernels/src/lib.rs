//! Kernels written in kernbench's kernel language.
//!
//! Each kernel is a `#[kernel]` function; tracing it gives the command
//! stream of one program instance. This crate knows nothing of the CLI: the
//! root package's catalog names these kernels for `kernbench lower`.

pub mod attention;
pub mod gemm;
pub mod ring;
pub mod tp;

pub use attention::{
    causal_attention, causal_attention_block, flash_attention, flash_attention_block,
    gqa_attention, gqa_attention_block, gqa_programs, AttnState,
};
pub use gemm::{matmul, matmul_grid};
pub use ring::{
    chunk_bounds, ring_allreduce, ring_allreduce_lockstep, ring_allreduce_with, Combine, ReduceOp,
};
