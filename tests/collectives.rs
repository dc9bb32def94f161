//! Collectives on the machine: IPCQ, ring installs and the ring all-reduce,
//! with expectations derived from the ring's size and topology.yaml.

mod common;

use common::topo_with;
use kernbench::bench::ring::{run_allreduce, AllReduceConfig, Home};
use kernbench::bench::RunMode;
use kernbench_core::dsl::prelude::*;
use kernbench_core::dsl::CommandKind;
use kernbench_core::exec::oplog::RecordKind;
use kernbench_core::host::{BufferKind, Ring, RingKind};
use kernbench_core::host::{Device, Place, RuntimeError};
use kernbench_core::model::AllReduceModel;
use kernbench_core::Topology;
use kernels::ReduceOp;
use proptest::prelude::*;

fn cfg(ring: RingKind, ranks: usize, bytes: u64, buffer: BufferKind) -> AllReduceConfig {
    AllReduceConfig {
        ring,
        bytes,
        buffer,
        ranks,
        seg: 16384,
        op: ReduceOp::Sum,
        home: Home::Hbm,
    }
}

fn checked() -> RunMode {
    RunMode {
        check: true,
        ..RunMode::default()
    }
}

fn timing() -> RunMode {
    RunMode {
        data: false,
        ..RunMode::default()
    }
}

const KINDS: [BufferKind; 3] = [BufferKind::Tcm, BufferKind::Sram, BufferKind::Hbm];

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    /// Every ring kind and buffer kind, ragged lengths, 2..16 ranks where
    /// the ring allows them; every rank ends with the same, correct sum.
    #[test]
    fn allreduce_is_correct_everywhere(len in 1usize..3000, ranks in 2usize..=16, seg in 0usize..700, max in any::<bool>()) {
        let topo = Topology::default_topology();
        for (kind, n) in [
            (RingKind::IntracubePe, ranks.min(8)),
            (RingKind::IntercubeMultisip, ranks),
            (RingKind::Sip, 2),
        ] {
            for buffer in KINDS {
                let mut c = cfg(kind, n, 2 * len as u64, buffer);
                c.seg = seg;
                c.op = if max { ReduceOp::Max } else { ReduceOp::Sum };
                let r = run_allreduce(&topo, &c, checked()).unwrap();
                let check = r.check.unwrap();
                prop_assert!(check.ok, "{kind:?} n={n} {buffer:?} len={len} seg={seg}: {check:?}");
            }
        }
    }
}

#[test]
fn each_rank_sends_and_receives_2_n_minus_1_times_per_group() {
    let topo = Topology::default_topology();
    for n in 2..=16 {
        // 64 elements per rank: every chunk non-empty, one group when seg
        // covers a chunk.
        let len = 64 * n;
        let mut c = cfg(
            RingKind::IntercubeMultisip,
            n,
            2 * len as u64,
            BufferKind::Tcm,
        );
        c.seg = 64;
        let s = run_allreduce(&topo, &c, timing()).unwrap().summary();
        let per_rank = 2 * (n - 1);
        assert_eq!(s.commands.ipcq_send, n * per_rank, "n={n}");
        assert_eq!(s.commands.ipcq_recv, n * per_rank, "n={n}");
        // Segmenting into g groups multiplies the messages by g.
        c.seg = 16;
        let s = run_allreduce(&topo, &c, timing()).unwrap().summary();
        assert_eq!(s.commands.ipcq_send, 4 * n * per_rank, "n={n}, 4 groups");
    }
}

#[test]
fn latency_grows_with_size_and_busbw_stays_under_the_slowest_link() {
    let topo = Topology::default_topology();
    for kind in [
        RingKind::IntracubePe,
        RingKind::IntercubeMultisip,
        RingKind::Sip,
    ] {
        for buffer in KINDS {
            let mut last = 0.0;
            for bytes in [4u64 << 10, 64 << 10, 1 << 20] {
                let r = run_allreduce(&topo, &cfg(kind, 8, bytes, buffer), timing()).unwrap();
                let lat = r.extra["latency_ns"];
                assert!(
                    lat > last,
                    "{kind:?} {buffer:?} {bytes}: {lat} after {last}"
                );
                last = lat;
                // The slowest link any rank's message crosses, shared among
                // the ranks crossing it, bounds the bus bandwidth.
                let busbw = r.extra["busbw_gbs"];
                assert!(
                    busbw <= r.extra["model_link_gbs"],
                    "{kind:?} {buffer:?}: {busbw}"
                );
            }
        }
    }
}

#[test]
fn large_messages_approach_the_bound_of_the_ring() {
    let topo = Topology::default_topology();
    let n = 8;
    let bytes = 1 << 20;
    let mut c = cfg(RingKind::IntracubePe, n, bytes, BufferKind::Tcm);
    // Buffers in the ranks' own TCM: nothing but the ring's links limits it.
    c.home = Home::Tcm;
    let r = run_allreduce(&topo, &c, timing()).unwrap();
    let link = topo.xbar.pe_port_bw_gbs;
    let busbw = r.extra["busbw_gbs"];
    assert!(
        busbw <= link && busbw >= 0.8 * link,
        "busbw {busbw} vs PE port {link}"
    );
    // 16 MiB per rank only fits in HBM; the 8 ranks of a cube then share its
    // slice, each reading and writing its buffer once: the bound is that slice.
    let big = cfg(RingKind::IntracubePe, n, 16 << 20, BufferKind::Tcm);
    let r = run_allreduce(&topo, &big, timing()).unwrap();
    let slice_ns = (2 * n) as f64 * (16u64 << 20) as f64 / topo.hbm_ctrl.effective_bw_gbs();
    let lat = r.extra["latency_ns"];
    assert!(
        lat >= slice_ns && lat <= 1.2 * slice_ns,
        "{lat} vs HBM bound {slice_ns}"
    );
}

#[test]
fn small_messages_cost_per_step_overheads() {
    let n = 8;
    let steps = 2.0 * (n as f64 - 1.0);
    let run = |t: &Topology| {
        let mut c = cfg(RingKind::IntracubePe, n, 256, BufferKind::Tcm);
        c.home = Home::Tcm;
        run_allreduce(t, &c, timing()).unwrap()
    };
    let base = Topology::default_topology();
    let r = run(&base);
    let lat = r.extra["latency_ns"];
    let ring = Ring::install(&base, RingKind::IntracubePe, n).unwrap();
    let model = AllReduceModel::new(
        &kernbench_core::Machine::new(&base),
        &ring,
        BufferKind::Tcm,
        false,
    );
    // Never faster than the chain of per-step latencies, and the bytes
    // hardly matter.
    assert!(
        lat >= steps * model.alpha_ns,
        "{lat} < {}",
        steps * model.alpha_ns
    );
    assert!(model.link_ns(n, 256) < 0.05 * lat);
    // Each step puts a send and a receive on the critical path: raising the
    // IPCQ overhead by d adds about 2 d per step.
    let d = 20.0;
    let slow = topo_with("  overhead_ns: 10.0\n", "  overhead_ns: 30.0\n");
    let grown = run(&slow).extra["latency_ns"] - lat;
    let want = steps * 2.0 * d;
    assert!(
        (grown - want).abs() < 0.2 * want,
        "grew {grown}, want about {want}"
    );
}

#[kernel]
fn recv_first(buf: Ptr<f16>) {
    // Every rank waits for its left neighbour before sending: a cycle.
    let (r, n) = (tl::rank(), tl::world_size());
    let t = tl::recv::<f16>((r + n - 1) % n, [1, 8]);
    tl::send((r + 1) % n, &t);
    tl::store(buf.block([0, 0], [1, 8]), t);
}

#[test]
fn a_receive_cycle_is_a_deadlock_naming_every_pe() {
    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo);
    let ring = Ring::intracube_pe_ring(&topo, 0, 0, 4).unwrap();
    let buf = dev.alloc::<f16>(Place::hbm(0, 0), 1, 8).unwrap();
    let e = dev
        .launch_ring::<recv_first>(&ring, BufferKind::Tcm, |_| recv_first::args(buf.ptr()))
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, RuntimeError::Exec(_)), "{msg}");
    assert!(msg.contains("deadlock"), "{msg}");
    for r in 0..4 {
        let left = (r + 3) % 4;
        assert!(
            msg.contains(&format!("rank {r} on sip0.cube(0,0).pe{r}"))
                && msg.contains(&format!(
                    "waits for a message from rank {left} (sip0.cube(0,0).pe{left})"
                )),
            "rank {r}: {msg}"
        );
    }
}

#[kernel]
fn burst(buf: Ptr<f32>, #[constexpr] messages: usize) {
    if tl::rank() == 0 {
        let t = tl::load(buf.block([0, 0], [1, 256]));
        for _ in 0..messages {
            tl::send(1, &t);
        }
    } else {
        for _ in 0..messages {
            let t = tl::recv::<f32>(0, [1, 256]);
            tl::store(buf.block([0, 0], [1, 256]), t);
        }
    }
}

/// (start, end) of rank 0's sends and rank 1's receives, in order.
type Spans = Vec<(u64, u64)>;

fn burst_spans(topo: &Topology, messages: usize) -> (Spans, Spans) {
    let mut dev = Device::new(topo).with_records(true);
    let ring = Ring::intracube_pe_ring(topo, 0, 0, 2).unwrap();
    let buf = dev.alloc::<f32>(Place::hbm(0, 0), 1, 256).unwrap();
    let r = dev
        .launch_ring::<burst>(&ring, BufferKind::Hbm, |_| burst::args(buf.ptr(), messages))
        .unwrap();
    let spans = |kind| {
        let mut v: Spans = r
            .log
            .records()
            .iter()
            .filter(|x| x.kind == kind)
            .map(|x| (x.start, x.end))
            .collect();
        v.sort_unstable();
        v
    };
    (
        spans(RecordKind::Command(CommandKind::IpcqSend)),
        spans(RecordKind::Command(CommandKind::IpcqRecv)),
    )
}

#[test]
fn a_full_queue_back_pressures_the_sender() {
    let messages = 12;
    let shallow = topo_with("  depth: 4\n", "  depth: 1\n");
    let (sends, recvs) = burst_spans(&shallow, messages);
    assert_eq!((sends.len(), recvs.len()), (messages, messages));
    // Depth 1: a send takes the only slot, so send k cannot deliver before
    // receive k - 1 has copied its message out and freed the slot.
    for k in 1..messages {
        assert!(
            sends[k].1 > recvs[k - 1].1,
            "send {k} delivered before receive {} ended",
            k - 1
        );
    }
    // With room for every message the sender runs ahead of the receiver.
    let deep = topo_with("  depth: 4\n", "  depth: 64\n");
    let (sends, recvs) = burst_spans(&deep, messages);
    assert!((1..messages).any(|k| sends[k].1 < recvs[k - 1].1));
    assert!(sends.last().unwrap().1 < recvs.last().unwrap().1);
}

#[kernel]
fn mismatched(buf: Ptr<f32>) {
    if tl::rank() == 0 {
        let t = tl::load(buf.block([0, 0], [1, 8]));
        tl::send(1, &t);
    } else {
        let t = tl::recv::<f32>(0, [1, 16]);
        tl::store(buf.block([0, 0], [1, 16]), t);
    }
}

#[test]
fn a_receive_of_the_wrong_shape_is_an_error() {
    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo);
    let ring = Ring::intracube_pe_ring(&topo, 0, 0, 2).unwrap();
    let buf = dev.alloc::<f32>(Place::hbm(0, 0), 1, 16).unwrap();
    let e = dev
        .launch_ring::<mismatched>(&ring, BufferKind::Tcm, |_| mismatched::args(buf.ptr()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`mismatched`")
            && e.contains("receives a 1x16 f32 tile, but rank 0 sent a 1x8 f32 one"),
        "{e}"
    );
}
