//! The kernel language's runtime: `tl::` operations, tracing and the command
//! stream. (Being built: see issue "The #[kernel] DSL".)
