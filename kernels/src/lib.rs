//! Kernels written in kernbench's kernel language.
