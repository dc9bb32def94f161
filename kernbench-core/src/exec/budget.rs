//! What one run may cost the host: a bound on the commands it holds at once
//! and on the device-memory contents data execution keeps, so a bench
//! parameter that asks for too much ends in an error naming the budget
//! instead of exhausting the host's memory.

/// The host resources one run may use. The defaults fit a machine with a
/// few GB to spare; tests shrink them to exercise the refusals cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Most traced commands held at once over a run (a command is a few
    /// hundred bytes; the per-program cap of the trace alone does not bound
    /// a run of many programs).
    pub held_commands: usize,
    /// Most bytes of device memory contents kept for data execution:
    /// tensors allocated while data is on, and whatever kernels write.
    pub data_bytes: u64,
}

impl Budget {
    /// 8 Mi commands (about 3 GB) and 4 GiB of memory contents.
    pub const DEFAULT: Budget = Budget {
        held_commands: 8 << 20,
        data_bytes: 4 << 30,
    };
}

impl Default for Budget {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A run asked for more than its [`Budget`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// More commands held at once than `held_commands`.
    #[error("run budget exceeded: {held} commands held at once, the budget `held_commands` is {limit} (fewer programs in flight, or larger messages / tiles)")]
    Commands {
        /// Commands the run would hold.
        held: usize,
        /// The budget.
        limit: usize,
    },
    /// More device memory contents than `data_bytes`.
    #[error("run budget exceeded: data execution would keep {need} bytes of tensor values, the budget `data_bytes` is {limit}")]
    Data {
        /// Bytes the contents would reach.
        need: u64,
        /// The budget.
        limit: u64,
    },
}
