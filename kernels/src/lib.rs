//! Kernels written in kernbench's kernel language, and a catalog of them.
//!
//! Each kernel is a `#[kernel]` function; tracing it gives the command
//! stream of one program instance. The [`catalog()`] names them for the
//! CLI (`kernbench lower KERNEL --param k=v`).

pub mod attention;
pub mod catalog;
pub mod gemm;
pub mod ring;
pub mod tp;

pub use attention::{flash_attention, flash_attention_block, AttnState};
pub use catalog::{catalog, find, params_text, CatalogError, KernelEntry, ParamSpec, Params};
pub use gemm::{matmul, matmul_grid};
pub use ring::{
    chunk_bounds, ring_allreduce, ring_allreduce_lockstep, ring_allreduce_with, Combine, ReduceOp,
};
