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
    /// Most commands traced over a whole run: a bound on its work.
    pub run_commands: u64,
    /// Most op-log records kept (for a timeline) over a run.
    pub records: usize,
    /// Most bytes of device memory contents kept for data execution:
    /// tensors allocated while data is on, and whatever kernels write. The
    /// host arrays a bench builds beside them (f32, twice an f16 tensor,
    /// a reference and a read-back besides) count against it too.
    pub data_bytes: u64,
}

impl Budget {
    /// 4 Mi commands held (about 1.5 GB), 2^28 commands traced (minutes
    /// of simulation: the 32K-context attention prefill of one layer is
    /// 36 M), 8 Mi records (about 450 MB, and a 1 GB timeline) and 1 GiB
    /// of tensor values.
    pub const DEFAULT: Budget = Budget {
        held_commands: 4 << 20,
        run_commands: 1 << 28,
        records: 8 << 20,
        data_bytes: 1 << 30,
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
    /// More commands traced over the run than `run_commands`.
    #[error("run budget exceeded: more than {limit} commands traced, the budget `run_commands` (smaller shapes, or larger blocks)")]
    RunCommands {
        /// The budget.
        limit: u64,
    },
    /// More op-log records kept than `records`.
    #[error("run budget exceeded: more than {limit} op-log records kept for the timeline, the budget `records` (drop --trace, or a smaller run)")]
    Records {
        /// The budget.
        limit: usize,
    },
    /// Host arrays of a bench past `data_bytes`.
    #[error("run budget exceeded: the bench's host arrays would take {need} bytes, the budget `data_bytes` is {limit}")]
    HostArrays {
        /// Bytes the arrays would take.
        need: u64,
        /// The budget.
        limit: u64,
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
