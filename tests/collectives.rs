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

/// A ring all-reduce of `bytes` per rank with buffers and messages in TCM,
/// on `topo`.
fn in_tcm(topo: &Topology, ring: RingKind, ranks: usize, bytes: u64, seg: usize) -> f64 {
    let mut c = cfg(ring, ranks, bytes, BufferKind::Tcm);
    c.home = Home::Tcm;
    c.seg = seg;
    run_allreduce(topo, &c, timing()).unwrap().extra["latency_ns"]
}

#[test]
fn with_buffers_in_tcm_every_ring_kind_nears_its_link_bound() {
    let t = Topology::default_topology();
    // Nothing but the ring's links limits it: each rank sends 2(n-1)/n of
    // its buffer over its slowest link. No link carries two edges: the PE
    // ring uses each PE's own crossbar port; the cube ring is the first 8
    // cubes of a snake tour whose closing edge runs down column 0, which no
    // other edge uses; the SIP ring is one SIP link each way.
    let port_or_ucie = t.xbar.pe_port_bw_gbs.min(t.ucie.bw_gbs);
    for (kind, n, link) in [
        (RingKind::IntracubePe, 8, t.xbar.pe_port_bw_gbs),
        (RingKind::IntercubeMultisip, 8, port_or_ucie),
        (RingKind::Sip, t.system.sips as usize, t.sip_link.bw_gbs),
    ] {
        let bytes = 1u64 << 20;
        let lat = in_tcm(&t, kind, n, bytes, 16384);
        let bound = 2.0 * (n as f64 - 1.0) / n as f64 * bytes as f64 / link;
        assert!(
            lat >= bound && lat <= 1.25 * bound,
            "{kind:?}: {lat} ns vs link bound {bound} ns"
        );
    }
}

#[test]
fn queue_depth_matters_on_a_latency_bound_ring() {
    // 64 KiB over 32 ranks: 2 KiB messages, each step a few tens of ns of
    // latency against 8 ns of serialization. With one credit a rank cannot
    // send a step's message until its neighbour has received the last one,
    // so every step waits for the slowest neighbour's round trip; with 16
    // it sends as soon as its data is ready.
    let at = |depth: &str| {
        let t = topo_with("  depth: 4\n", &format!("  depth: {depth}\n"));
        in_tcm(&t, RingKind::IntercubeMultisip, 32, 64 << 10, 16384)
    };
    let (shallow, deep) = (at("1"), at("16"));
    assert!(
        shallow > 1.5 * deep,
        "depth 1: {shallow} ns, depth 16: {deep} ns"
    );
}

/// The fixed delay of a route from a PE of SIP 0 to a PE of SIP 1: out
/// through the crossbar and UCIe to the IO chiplet's NOC router, over the
/// SIP link, and back in the same way on the other side, ns.
fn sip_route_ns(t: &Topology) -> f64 {
    let mm = t.ns_per_mm;
    let xbar = t.xbar.overhead_ns + t.xbar.port_mm * mm;
    let ucie = 2.0 * t.ucie.overhead_ns + t.ucie.length_mm * mm;
    let noc = t.io_chiplet.noc.overhead_ns + t.io_chiplet.noc.hop_mm * mm;
    let sip = t.sip_link.overhead_ns + t.sip_link.length_mm * mm;
    2.0 * (xbar + ucie + noc) + sip
}

/// A message's credit round trip between the SIPs: posted with the IPCQ
/// cost, the route's delay and its serialization on the SIP link, then
/// received with the IPCQ cost, which frees its slot.
fn sip_round_trip_ns(t: &Topology, message: u64) -> f64 {
    2.0 * t.ipcq.overhead_ns + sip_route_ns(t) + message as f64 / t.sip_link.bw_gbs
}

#[test]
fn link_overhead_hides_behind_enough_credits() {
    // 16 MiB from HBM in 64 KiB messages: four credits keep 256 KiB in
    // flight, more than the SIP link's bandwidth-delay product even with
    // its overhead raised fourfold; the ring stays bandwidth bound.
    let base = Topology::default_topology();
    let slow = topo_with("  overhead_ns: 100.0", "  overhead_ns: 400.0");
    let message = 32768 * 2;
    let credits = f64::from(slow.ipcq.depth) * message as f64;
    let bdp = slow.sip_link.bw_gbs * sip_round_trip_ns(&slow, message);
    assert!(credits > bdp, "{credits} B in flight, BDP {bdp} B");
    let run = |t: &Topology| {
        let mut c = cfg(RingKind::Sip, 2, 16 << 20, BufferKind::Tcm);
        c.seg = 32768;
        run_allreduce(t, &c, timing()).unwrap().extra["latency_ns"]
    };
    let (fast, slowed) = (run(&base), run(&slow));
    assert!(
        slowed < 1.1 * fast,
        "overhead x4: {fast} -> {slowed} ns, credits cover the BDP"
    );
}

#[test]
fn without_enough_credits_the_round_trip_sets_the_pace() {
    // One credit, 8 KiB messages: each message waits for the one before
    // it to be received, so a rank's 128 messages (64 groups of 2 steps)
    // go one round trip apart, and raising the link's overhead slows the
    // ring by exactly what it adds to the round trip.
    let edits = |overhead: &str| {
        common::topo_with_all(&[
            ("  depth: 4\n", "  depth: 1\n"),
            ("  overhead_ns: 100.0", overhead),
        ])
    };
    let message = 4096 * 2;
    let bytes = 1u64 << 20;
    let messages = (bytes / message) as f64;
    for overhead in ["  overhead_ns: 100.0", "  overhead_ns: 400.0"] {
        let t = edits(overhead);
        let lat = in_tcm(&t, RingKind::Sip, 2, bytes, 4096);
        let want = messages * sip_round_trip_ns(&t, message);
        assert!(
            (lat - want).abs() < 0.1 * want,
            "{overhead}: {lat} ns, credits allow {want} ns"
        );
    }
}

#[test]
fn the_model_follows_the_simulation_at_16_mib() {
    let t = Topology::default_topology();
    for (kind, n) in [
        (RingKind::IntracubePe, 8),
        (RingKind::IntercubeMultisip, 8),
        (RingKind::Sip, t.system.sips as usize),
    ] {
        for buffer in KINDS {
            let r = run_allreduce(&t, &cfg(kind, n, 16 << 20, buffer), timing()).unwrap();
            let ratio = r.extra["sim_over_model"];
            assert!(
                (ratio - 1.0).abs() <= 0.15,
                "{kind:?} {buffer:?}: sim / model = {ratio}"
            );
        }
    }
}

#[test]
fn a_shallow_queue_narrows_the_batch_instead_of_deadlocking() {
    // Eight groups: each lockstep step sends one message per group of its
    // batch before receiving, so the kernel batches no more groups than
    // the queue holds.
    for depth in ["1", "2", "3"] {
        let t = topo_with("  depth: 4\n", &format!("  depth: {depth}\n"));
        let mut c = cfg(
            RingKind::IntercubeMultisip,
            4,
            2 * 8 * 4 * 16,
            BufferKind::Sram,
        );
        c.seg = 16;
        let r = run_allreduce(&t, &c, checked()).unwrap();
        assert!(r.check.unwrap().ok, "depth {depth}");
    }
}

#[test]
fn the_model_follows_credit_bound_and_store_and_forward_rings() {
    let t = Topology::default_topology();
    let run = |ring, buffer, seg| {
        let mut c = cfg(ring, 8, 1 << 20, buffer);
        c.home = Home::Tcm;
        c.seg = seg;
        run_allreduce(&t, &c, timing()).unwrap().extra["sim_over_model"]
    };
    // 2 KiB messages across the SIP link: four credits per round trip set
    // the pace, and each round trip already holds a step's latency.
    let credit_bound = run(RingKind::Sip, BufferKind::Tcm, 1024);
    // One 128 KiB message per step through the cube's SRAM: stored, then
    // copied out, nothing to overlap the two.
    let relayed = run(RingKind::IntracubePe, BufferKind::Sram, 0);
    for (what, ratio) in [
        ("credit bound", credit_bound),
        ("store and forward", relayed),
    ] {
        assert!((ratio - 1.0).abs() <= 0.15, "{what}: sim / model = {ratio}");
    }
}
