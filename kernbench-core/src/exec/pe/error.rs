//! Why a launch could not run to completion.

use crate::dsl::SourceLoc;
use crate::exec::budget::BudgetError;
use crate::exec::memory::MemoryError;
use crate::fabric::addr::AddrError;
use crate::fabric::engine::TransferError;

/// Why a launch could not run to completion.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    /// A command failed while running (e.g. a received IPCQ message does not
    /// match the receive buffer's shape or dtype).
    #[error("{}kernel `{kernel}` on {pe}: command #{cmd} `{text}`: {reason}", at.as_ref().map(|a| format!("{a}: ")).unwrap_or_default())]
    Command {
        /// Name of the kernel.
        kernel: String,
        /// Name of the PE's node in the machine.
        pe: String,
        /// Index of the command in its program's stream.
        cmd: usize,
        /// The command as text.
        text: String,
        /// The kernel source line of the `tl::` call that recorded it.
        at: Option<Box<SourceLoc>>,
        /// Why it failed.
        reason: String,
    },
    /// No event remains but PEs still wait (e.g. on a receive no rank sends
    /// to).
    #[error("deadlock: no event remains but PEs still wait:\n{}", waiting.join("\n"))]
    Deadlock {
        /// One line per stuck PE: what it is waiting on.
        waiting: Vec<String>,
    },
    /// A transfer found no route through the fabric, or is too large for
    /// the engine.
    #[error(transparent)]
    Transfer(#[from] TransferError),
    /// A deferred program failed to trace when its PE started it.
    #[error(transparent)]
    Trace(#[from] crate::dsl::TraceError),
    /// A command names memory that does not exist on the topology.
    #[error(transparent)]
    Addr(#[from] AddrError),
    /// Simulated time passed [`TIME_LIMIT`](crate::fabric::units::TIME_LIMIT).
    #[error("simulated time reached {at} ps, past the limit of 2^62 ps (53 days): the workload or the topology's costs are out of any hardware range")]
    TimeLimit {
        /// The event time that passed the limit.
        at: crate::fabric::units::Ps,
    },
    /// The run asked for more host resources than its budget.
    #[error(transparent)]
    Budget(#[from] BudgetError),
}

impl From<MemoryError> for ExecError {
    fn from(e: MemoryError) -> Self {
        match e {
            MemoryError::Addr(a) => ExecError::Addr(a),
            MemoryError::Budget(b) => ExecError::Budget(b),
        }
    }
}
