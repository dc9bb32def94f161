//! Why a host operation failed.

use crate::dsl::TraceError;
use crate::exec::budget::BudgetError;
use crate::exec::pe::ExecError;
use crate::fabric::addr::AddrError;
use crate::fabric::engine::TransferError;

use super::place::Place;
use super::ring::RingError;

/// Why a host operation failed. Each cause keeps its source error, so a
/// caller can tell a deadlock ([`ExecError::Deadlock`]) or an
/// out-of-memory from the rest by matching; a wrapped cause is returned by
/// `source()`, not repeated in the message
/// ([`error_chain`](crate::support::error_chain) prints the whole chain).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    /// A kernel failed to trace: a misused `tl::` operation, or buffers that
    /// overflow the TCM scratch or the SRAM window.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// A program failed while running, or the PEs deadlocked.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A [`Place`] or tensor argument names memory that does not exist on
    /// the topology.
    #[error(transparent)]
    Addr(#[from] AddrError),
    /// A host transfer found no route between the host and the memory, or
    /// is too large for the engine.
    #[error(transparent)]
    Transfer(#[from] TransferError),
    /// The run asked for more host resources than its budget.
    #[error(transparent)]
    Budget(#[from] BudgetError),
    /// An allocation does not fit in what is left of its place.
    #[error("out of memory in {place:?}: {need} bytes requested, {free} free")]
    OutOfMemory {
        /// Where the allocation was asked for.
        place: Place,
        /// Bytes the tensor needs.
        need: u64,
        /// Bytes left at `place` (after alignment).
        free: u64,
    },
    /// A host array's shape differs from the tensor's.
    #[error("shape mismatch: tensor is {expected:?}, array is {got:?}")]
    Shape {
        /// The tensor's `[rows, cols]`.
        expected: [usize; 2],
        /// The array's `[rows, cols]`.
        got: [usize; 2],
    },
    /// A host array could not be built from a tensor's values.
    #[error("cannot build the host array: {0}")]
    HostArray(#[from] ndarray::ShapeError),
    /// [`Device::read`](super::Device::read) on a device running
    /// timing-only ([`Device::with_data`](super::Device::with_data) `false`).
    #[error("cannot read tensor values: the device runs timing-only (data off)")]
    DataDisabled,
    /// A launch with no programs: some grid axis is 0.
    #[error("invalid launch: empty grid {0:?}")]
    EmptyGrid([usize; 3]),
    /// A tensor argument whose rows run past the memory its base is in,
    /// or overlap (rows fewer elements apart than a row holds).
    #[error("tensor at {base:#x} ({rows} x {cols}, rows {row_stride} elements apart) overlaps itself or runs past the memory it starts in")]
    TensorPastMemory {
        /// Its first element's address.
        base: u64,
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Elements from one row to the next.
        row_stride: usize,
    },
    /// A launch of more programs than the most one may have
    /// ([`MAX_PROGRAMS`](crate::host::MAX_PROGRAMS)).
    #[error("invalid launch: grid {grid:?} has more than {max} programs")]
    GridTooLarge {
        /// The grid asked for.
        grid: [usize; 3],
        /// The most programs a launch may have.
        max: usize,
    },
    /// A launch whose [`Mapping::Pes`](super::Mapping::Pes) lists no PE.
    #[error("invalid launch: mapping names no PE")]
    NoPes,
    /// The tensor-parallel process group failed (shut down, a rank or a
    /// device operation panicked, a merged launch failed).
    #[error(transparent)]
    Group(#[from] GroupError),
    /// A tensor-parallel collective failed: ranks disagreed (tensor shapes,
    /// all-reduce vs barrier), one skipped it, or the all-reduce failed.
    #[error(transparent)]
    Collective(#[from] CollectiveError),
}

/// Why the process group could not serve a rank.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GroupError {
    /// The coordinator has stopped answering (the group is shutting down).
    #[error("the process group has shut down")]
    ShutDown,
    /// The rank's own program panicked.
    #[error("rank program panicked: {0}")]
    RankPanicked(String),
    /// The rank's thread ended without a result.
    #[error("rank thread died")]
    RankDied,
    /// A device operation run for the rank panicked.
    #[error("device operation panicked: {0}")]
    DevicePanicked(String),
    /// The coordinator answered a launch or all-reduce without its report
    /// (a defect of the group, not of the rank's program).
    #[error("the process group answered without a run report")]
    NoReport,
    /// The launch this rank's work was merged into failed.
    #[error("launch failed")]
    Launch(#[source] Box<RuntimeError>),
    /// The topology has no SIP ring to form the group on.
    #[error(transparent)]
    Ring(#[from] RingError),
}

/// Why a collective of the process group failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CollectiveError {
    /// Some ranks returned without joining the collective the others wait in.
    #[error("collective cannot complete: rank(s) {0:?} returned without joining it")]
    Absent(Vec<usize>),
    /// Ranks passed all-reduce tensors of different shapes.
    #[error("all_reduce: ranks passed tensors of different shapes")]
    Shapes,
    /// Some ranks are in an all-reduce, others in a barrier.
    #[error("mismatched collectives: some ranks are in all_reduce, others in barrier")]
    Mismatched,
    /// The all-reduce itself failed.
    #[error("all_reduce failed")]
    AllReduce(#[source] Box<RuntimeError>),
}
