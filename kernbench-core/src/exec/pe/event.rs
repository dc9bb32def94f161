//! The pipeline's events: what each engine notice wakes.
//!
//! Every transfer and timer the pipeline starts carries a [`PeEvent`]; the
//! engine hands it back unchanged when the transfer lands or the timer
//! expires, and the executor dispatches on it. Slots index the executor's
//! PEs; `cmd` indexes the running program's stream; `tile` a GEMM's tile
//! plan.

/// What a notice from the engine means to the PE pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeEvent {
    /// The PE's launch descriptor has arrived from the host.
    Launch {
        /// The PE.
        slot: u32,
    },
    /// The PE should try to start commands again: a command's issue time
    /// has come.
    Pump {
        /// The PE.
        slot: u32,
    },
    /// A command of the PE's running program has finished.
    Done {
        /// The PE.
        slot: u32,
        /// The command.
        cmd: u32,
    },
    /// One operand transfer of a GEMM tile's DMA-in has landed.
    TilePart {
        /// The PE.
        slot: u32,
        /// The tile.
        tile: u32,
    },
    /// A streamed tile's Fetch has started, freeing its staging buffer.
    Fetched {
        /// The PE.
        slot: u32,
    },
    /// An IPCQ send's tile has been injected: the send is done.
    Injected {
        /// The sending PE.
        slot: u32,
        /// The send command.
        cmd: u32,
    },
    /// An IPCQ message has landed in the receiver's buffer.
    Landed {
        /// The queue (sender x ranks + receiver).
        pair: u32,
        /// The message's place in the queue's send order.
        seq: u32,
    },
    /// An IPCQ receive has its message in TCM.
    Received {
        /// The receiving PE.
        slot: u32,
        /// The receive command.
        cmd: u32,
    },
    /// A host upload or read-back, which the device runs to completion on
    /// its own; it wakes no PE.
    Host,
}
