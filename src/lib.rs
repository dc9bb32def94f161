//! kernbench: the CLI and milestone benches on top of the simulator.
//!
//! [`params`] parses `--param key=value` into each bench's and catalog
//! kernel's typed parameters; [`bench`](mod@bench) is the registry `kernbench run`
//! runs; [`catalog`] names the kernels `kernbench lower` prints; [`cli`]
//! holds one module per subcommand; [`milestone`] the evaluation sweeps,
//! their analysis and figures; [`files`] writes output files whole.

pub mod bench;
pub mod catalog;
pub mod cli;
pub mod files;
pub mod milestone;
pub mod params;

/// Everything a kernel file needs: `use kernbench::prelude::*;` (the kernel
/// language's prelude: `#[kernel]`, `tl`, `Ptr`, `Tile`, `f16`, ...).
pub mod prelude {
    pub use kernbench_core::dsl::prelude::*;
}
