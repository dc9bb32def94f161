//! Code generation from a checked [`KernelDef`](crate::parse::KernelDef).

mod body;
mod kernel;

pub use kernel::{fallback, kernel_items};
