//! Kernels written in kernbench's kernel language.
//!
//! Each kernel is a `#[kernel]` function; tracing it gives the command
//! stream of one program instance. This crate knows nothing of the CLI: the
//! root package's catalog names these kernels for `kernbench lower`.

pub mod attention;
pub mod decode;
pub mod gemm;
pub mod ring;
pub mod ring_prefill;
pub mod tp;

pub use attention::{
    causal_attention, causal_attention_block, flash_attention, flash_attention_block,
    gqa_attention, gqa_attention_block, gqa_programs, AttnState, Diagonal,
};
pub use decode::{decode_attention, LogSumExp};
pub use gemm::{matmul, matmul_grid};
pub use ring::{
    chunk_bounds, ring_allreduce, ring_allreduce_lockstep, ring_allreduce_on, ring_allreduce_with,
    Combine, ReduceOp, SubRing,
};
pub use ring_prefill::{ring_attention, RingShape, Sharding, Visibility};
