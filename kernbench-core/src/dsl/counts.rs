//! Commands counted by kind: the counting rules of dsl.md, shared by a
//! traced stream ([`CommandStream::counts`](super::CommandStream::counts))
//! and a run's op log, so both count the same way.

use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

use super::cmd::CommandKind;

/// How many commands of each kind. Serialized with the op-log summary's
/// key names (`gemm_count`, `dma_read_count`, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandCounts {
    /// `DmaRead`s.
    #[serde(rename = "dma_read_count")]
    pub dma_read: usize,
    /// `DmaWrite`s.
    #[serde(rename = "dma_write_count")]
    pub dma_write: usize,
    /// `GemmCmd`s (one per `tl::dot`), not tiles.
    #[serde(rename = "gemm_count")]
    pub gemm: usize,
    /// `MathCmd`s.
    #[serde(rename = "math_count")]
    pub math: usize,
    /// `IpcqSend`s.
    #[serde(rename = "ipcq_send_count")]
    pub ipcq_send: usize,
    /// `IpcqRecv`s.
    #[serde(rename = "ipcq_recv_count")]
    pub ipcq_recv: usize,
}

impl CommandCounts {
    /// Counts one command of `kind`.
    pub fn add(&mut self, kind: CommandKind) {
        *self.get_mut(kind) += 1;
    }

    /// Commands of `kind`.
    pub fn get(&self, kind: CommandKind) -> usize {
        match kind {
            CommandKind::DmaRead => self.dma_read,
            CommandKind::DmaWrite => self.dma_write,
            CommandKind::Gemm => self.gemm,
            CommandKind::Math => self.math,
            CommandKind::IpcqSend => self.ipcq_send,
            CommandKind::IpcqRecv => self.ipcq_recv,
        }
    }

    fn get_mut(&mut self, kind: CommandKind) -> &mut usize {
        match kind {
            CommandKind::DmaRead => &mut self.dma_read,
            CommandKind::DmaWrite => &mut self.dma_write,
            CommandKind::Gemm => &mut self.gemm,
            CommandKind::Math => &mut self.math,
            CommandKind::IpcqSend => &mut self.ipcq_send,
            CommandKind::IpcqRecv => &mut self.ipcq_recv,
        }
    }
}

impl AddAssign for CommandCounts {
    fn add_assign(&mut self, o: Self) {
        for kind in CommandKind::ALL {
            *self.get_mut(kind) += o.get(kind);
        }
    }
}
