//! The `#[kernel]` attribute of kernbench's kernel language.
