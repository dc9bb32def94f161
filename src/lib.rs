//! kernbench: the CLI and milestone benches on top of the simulator.
pub mod bench;
pub mod cli;

/// Everything a kernel file needs: `use kernbench::prelude::*;` (the kernel
/// language's prelude: `#[kernel]`, `tl`, `Ptr`, `Tile`, `f16`, ...).
pub mod prelude {
    pub use kernbench_core::dsl::prelude::*;
}
