//! The ring all-reduce kernel: send/recv counts and pairing across ranks.

use kernbench::prelude::*;
use kernbench_core::dsl::{Command, TraceErrorKind};
use kernels::{chunk_bounds, ring_allreduce, ReduceOp};

fn trace_rank(len: usize, rank: usize, ws: usize, op: ReduceOp) -> CommandStream {
    let args = ring_allreduce::args(Ptr::vector(0x1000, len), len, op, 0);
    let p = ProgramInfo::single().with_ring(rank, ws);
    ring_allreduce::trace(&args, &p, &TraceConfig::default()).unwrap()
}

/// (peer, shape) of one message.
type Msg = (usize, [usize; 2]);

/// (peer, shape) of each send / recv, in order.
fn messages(s: &CommandStream) -> (Vec<Msg>, Vec<Msg>) {
    let shape = |id| s.buffer(id).map(|b| b.shape).unwrap_or([0, 0]);
    let (mut sends, mut recvs) = (Vec::new(), Vec::new());
    for c in &s.commands {
        match c {
            Command::IpcqSend { peer, src } => sends.push((*peer, shape(*src))),
            Command::IpcqRecv { peer, dst } => recvs.push((*peer, shape(*dst))),
            _ => {}
        }
    }
    (sends, recvs)
}

#[test]
fn two_n_minus_one_sends_and_recvs_per_rank() {
    for ws in 2..=8 {
        for rank in 0..ws {
            let c = trace_rank(1000, rank, ws, ReduceOp::Sum).counts();
            assert_eq!(c.ipcq_send, 2 * (ws - 1), "ws {ws} rank {rank}");
            assert_eq!(c.ipcq_recv, 2 * (ws - 1), "ws {ws} rank {rank}");
            // One combine per reduce-scatter step; each rank writes all n chunks.
            assert_eq!(c.math, ws - 1);
            assert_eq!(c.dma_write, ws);
        }
    }
}

#[test]
fn sends_go_to_next_and_match_the_next_ranks_recvs() {
    for ws in 2..=8 {
        let len = 1000; // not a multiple of most ws: chunks differ by one
        let all: Vec<_> = (0..ws)
            .map(|r| messages(&trace_rank(len, r, ws, ReduceOp::Sum)))
            .collect();
        for r in 0..ws {
            let next = (r + 1) % ws;
            let (sends, _) = &all[r];
            let (_, next_recvs) = &all[next];
            assert!(sends.iter().all(|(p, _)| *p == next));
            assert!(next_recvs.iter().all(|(p, _)| *p == r));
            let sent: Vec<_> = sends.iter().map(|(_, s)| *s).collect();
            let got: Vec<_> = next_recvs.iter().map(|(_, s)| *s).collect();
            assert_eq!(sent, got, "ws {ws}: rank {r} -> {next} shapes in order");
        }
    }
}

#[test]
fn uneven_chunks_cover_the_buffer() {
    for ws in 2..=8 {
        for len in [ws, 7 * ws + 3, 1000] {
            let sizes: Vec<usize> = (0..ws)
                .map(|i| chunk_bounds(len, ws, i))
                .map(|(s, e)| e - s)
                .collect();
            assert_eq!(sizes.iter().sum::<usize>(), len);
            let (lo, hi) = (sizes.iter().min().copied(), sizes.iter().max().copied());
            assert!(hi.unwrap_or(0) - lo.unwrap_or(0) <= 1);
            // Every rank stores every element exactly once.
            let s = trace_rank(len, 0, ws, ReduceOp::Max);
            let stored: usize = s
                .commands
                .iter()
                .filter_map(|c| match c {
                    Command::DmaWrite { dst, .. } => Some(dst.valid[1]),
                    _ => None,
                })
                .sum();
            assert_eq!(stored, len, "ws {ws} len {len}");
        }
    }
}

#[test]
fn single_rank_is_a_no_op() {
    assert!(trace_rank(64, 0, 1, ReduceOp::Sum).commands.is_empty());
}

#[kernel]
fn bad_peer(x: Ptr<f32>) {
    let t = tl::load(x.block([0, 0], [1, 4]));
    tl::send(tl::world_size(), &t);
}

#[test]
fn peer_outside_the_ring_is_an_error() {
    let p = ProgramInfo::single().with_ring(1, 4);
    let e = bad_peer::trace(
        &bad_peer::args(Ptr::vector(0, 4)),
        &p,
        &TraceConfig::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            *e.kind,
            TraceErrorKind::Op {
                op: "tl::send",
                index: 1,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("kernel `bad_peer`"), "{msg}");
    assert!(msg.contains("rank 1 of 4"), "{msg}");
    assert!(
        msg.contains("peer rank 4 is outside the ring 0..4"),
        "{msg}"
    );
}
