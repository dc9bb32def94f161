//! The machine and its timing: what the hardware is and how long moving
//! bytes through it takes.
//!
//! Owns the parsed machine description ([`topology`]), time and bandwidth
//! units ([`units`]), physical addresses and PE locations ([`addr`]), the
//! built machine of nodes and [`link`]s ([`machine`]), routing
//! ([`route`]), the discrete-event [`engine`] with its burst-level link
//! model, and [`probe`], which measures predefined transfers on it.
//!
//! May use: [`crate::support`] only. It knows nothing of kernels, command
//! streams or the PE pipeline: the engine moves bytes between endpoints and
//! hands back whatever token its caller attached.

pub mod addr;
pub mod engine;
pub mod link;
pub mod machine;
pub mod probe;
pub mod route;
pub mod topology;
pub mod units;
