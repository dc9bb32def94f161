//! IPCQ messages between ranks of the installed ring.

use crate::dsl::cmd::{Command, Space};
use crate::dsl::dtype::Elem;
use crate::dsl::error::OpError;
use crate::dsl::tile::{Loc, Tile};
use crate::dsl::trace::{KernelCx, State};

#[track_caller]
fn check_peer(s: &mut State, op: &'static str, peer: usize) -> bool {
    let world_size = s.program.world_size;
    if peer >= world_size {
        s.fail(op, OpError::Peer { peer, world_size });
        return false;
    }
    true
}

/// Sends a TCM tile to the program of ring rank `peer` (one `IpcqSend`).
/// A peer outside `0..world_size` is a trace error.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::load(x.block([0, 0], [1, 8]));
///     tl::send(1, &t);
/// }
/// let p = ProgramInfo::single().with_ring(0, 2);
/// let s = k::trace(&k::args(Ptr::vector(0, 8)), &p, &TraceConfig::default()).unwrap();
/// assert_eq!(s.counts().ipcq_send, 1);
/// ```
#[track_caller]
pub fn send<T: Elem>(cx: &KernelCx, peer: usize, tile: &Tile<T>) {
    let mut s = cx.shared().borrow_mut();
    if s.failed() || !check_peer(&mut s, "tl::send", peer) {
        return;
    }
    match tile.loc {
        Loc::Buf(src, Space::Tcm) => s.push(Command::IpcqSend { peer, src }),
        Loc::Poisoned => {}
        Loc::Buf(_, found) => s.fail(
            "tl::send",
            OpError::Space {
                found,
                needed: "tcm",
            },
        ),
        Loc::Hbm(_) => s.fail(
            "tl::send",
            OpError::Space {
                found: Space::Hbm,
                needed: "tcm",
            },
        ),
    }
}

/// Receives a `shape` tile of `T` from ring rank `peer` into TCM (one
/// `IpcqRecv`). A peer outside `0..world_size` is a trace error.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let t = tl::recv::<f32>(0, [1, 8]);
///     tl::store(x.block([0, 0], [1, 8]), t);
/// }
/// let p = ProgramInfo::single().with_ring(1, 2);
/// let s = k::trace(&k::args(Ptr::vector(0, 8)), &p, &TraceConfig::default()).unwrap();
/// assert_eq!(s.counts().ipcq_recv, 1);
/// ```
#[track_caller]
pub fn recv<T: Elem>(cx: &KernelCx, peer: usize, shape: [usize; 2]) -> Tile<T> {
    let st = cx.shared();
    let mut s = st.borrow_mut();
    if s.failed() || !check_peer(&mut s, "tl::recv", peer) {
        return Tile::new(st.clone(), Loc::Poisoned, shape);
    }
    if shape[0] == 0 || shape[1] == 0 {
        s.fail("tl::recv", OpError::Empty(shape));
        return Tile::new(st.clone(), Loc::Poisoned, shape);
    }
    let dst = s.new_buf(Space::Tcm, shape, T::DTYPE);
    s.push(Command::IpcqRecv { peer, dst });
    Tile::new(st.clone(), Loc::Buf(dst, Space::Tcm), shape)
}

/// Messages the IPCQ holds per ordered pair of ranks (`ipcq.depth` in
/// topology.yaml): a program may have this many sends to one peer not yet
/// received before its next send to that peer waits. A kernel that sends
/// more than this to a peer before receiving from anyone can deadlock, so
/// collectives size their batches by it.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn k(x: Ptr<f32>) {
///     let next = (tl::rank() + 1) % tl::world_size();
///     for _ in 0..tl::queue_depth() {
///         tl::send(next, &tl::load(x.block([0, 0], [1, 4])));
///     }
/// }
/// let p = ProgramInfo::single().with_ring(0, 2);
/// let cfg = TraceConfig { ipcq_depth: 2, ..TraceConfig::default() };
/// let s = k::trace(&k::args(Ptr::vector(0, 4)), &p, &cfg).unwrap();
/// assert_eq!(s.counts().ipcq_send, 2);
/// ```
pub fn queue_depth(cx: &KernelCx) -> usize {
    cx.shared().borrow().ipcq_depth
}
