//! Flow mode: sharing and queueing on its own terms, and agreement with the
//! burst model (the reference) on the probe, the GEMM benches and the ring
//! all-reduce. Bounds: 3% where no link is shared, 10% where links are.

mod common;

use std::sync::Arc;

use common::{at, machine, run_bench, timing_only};
use kernbench::bench::RunMode;
use kernbench_core::fabric::engine::Sim;
use kernbench_core::fabric::probe::probe_all;
use kernbench_core::fabric::topology::Network;
use kernbench_core::{Endpoint, Machine, PhysAddr, Space, Topology};

const MIB: u64 = 1 << 20;

fn topo(network: Network) -> Topology {
    let mut t = Topology::default_topology();
    t.sim.network = network;
    t
}

fn pe(cube: u32, pe: u32) -> Endpoint {
    at(cube, Space::Tcm { pe })
}

/// The slowest link of the route, bytes per ps: an uncontended flow's rate.
fn bottleneck(m: &Machine, src: Endpoint, dst: Endpoint) -> f64 {
    let r = m.route(src, dst).unwrap();
    r.hops
        .iter()
        .map(|h| m.links[h.link.0 as usize].bw.gbs() * 1e-3)
        .fold(f64::INFINITY, f64::min)
}

/// Starts `(src, dst, at_ps)` copies of `bytes`; returns each one's done time.
fn done_times(m: &Arc<Machine>, copies: &[(Endpoint, Endpoint, u64)], bytes: u64) -> Vec<u64> {
    let mut sim = Sim::new(m.clone());
    let ids: Vec<_> = copies
        .iter()
        .map(|&(s, d, t)| sim.start_copy(s, d, bytes, 0, t).unwrap())
        .collect();
    sim.run();
    ids.iter().map(|&id| sim.report(id).unwrap().done).collect()
}

#[test]
fn two_flows_on_one_link_each_get_half() {
    // Two PEs of cube 0 write 1 MiB each into cube 1's SRAM: they share the
    // UCIe link between the cubes and nothing slower.
    let m = machine(&topo(Network::Flow));
    let (a, b, dst) = (pe(0, 0), pe(0, 1), at(1, Space::Sram));
    let rate = bottleneck(&m, a, dst);
    let alone = done_times(&m, &[(a, dst, 0)], MIB)[0];
    let both = done_times(&m, &[(a, dst, 0), (b, dst, 0)], MIB);
    // Each drains at half the rate, so each takes one more whole drain.
    let drain = MIB as f64 / rate;
    for d in both {
        let extra = (d - alone) as f64;
        assert!(
            (extra - drain).abs() < 0.01 * drain,
            "a shared flow took {extra} ps more, half rate predicts {drain}"
        );
    }
}

#[test]
fn disjoint_flows_get_all_of_their_links() {
    let m = machine(&topo(Network::Flow));
    let one = done_times(&m, &[(pe(0, 0), at(0, Space::Hbm), 0)], MIB);
    let two = done_times(
        &m,
        &[
            (pe(0, 0), at(0, Space::Hbm), 0),
            (pe(15, 0), at(15, Space::Hbm), 0),
        ],
        MIB,
    );
    assert_eq!(two, vec![one[0], one[0]]);
}

#[test]
fn a_flow_joining_mid_transfer_slows_the_other_from_then_on() {
    let m = machine(&topo(Network::Flow));
    let (a, b, dst) = (pe(0, 0), pe(0, 1), at(1, Space::Sram));
    let rate = bottleneck(&m, a, dst);
    let drain = (MIB as f64 / rate) as u64;
    let alone = done_times(&m, &[(a, dst, 0)], MIB)[0];
    // B starts when A is half drained: A's second half goes at half rate,
    // so A ends half a drain later.
    let joined = done_times(&m, &[(a, dst, 0), (b, dst, drain / 2)], MIB);
    let late = (joined[0] - alone) as f64;
    assert!(
        (late - drain as f64 / 2.0).abs() < 0.01 * drain as f64,
        "A ended {late} ps late, half a drain is {}",
        drain / 2
    );
    // B shares until A drains (at twice A's lone drain less B's start),
    // having moved half a drain's bytes; the other half, alone, ends it
    // exactly one lone drain after A would have ended alone.
    let b_late = (joined[1] - alone) as f64;
    assert!(
        (b_late - drain as f64).abs() < 0.01 * drain as f64,
        "B ended {b_late} ps after A alone, a drain is {drain}"
    );
}

/// The least bandwidth of the hops of `src -> dst` before its last one
/// (a group of pseudo-channels counted whole), bytes per ps: how fast the
/// flow arrives at its last link when nothing else is in the way.
fn arrival(m: &Machine, src: Endpoint, dst: Endpoint) -> f64 {
    let r = m.route(src, dst).unwrap();
    r.hops[..r.hops.len() - 1]
        .iter()
        .map(|h| m.links[h.link.0 as usize].bw.gbs() * 1e-3 * f64::from(h.lanes))
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn a_shared_link_serves_flows_in_proportion_to_how_fast_they_arrive() {
    // PE 0 of SIP 0 loads 4 MiB from its slice while a PE of SIP 1 writes
    // 4 MiB into its TCM: both cross the crossbar's port into PE 0, the
    // load arriving at the slice's speed, the message at the SIP link's.
    // A first-come, first-served port serves each in proportion to how
    // fast it comes, not half and half.
    let bytes = 4 * MIB;
    let remote = Endpoint::Mem(PhysAddr {
        sip: 1,
        cube: 0,
        space: Space::Tcm { pe: 0 },
        offset: 0,
    });
    let (load_src, me) = (at(0, Space::Hbm), pe(0, 0));
    let m = machine(&topo(Network::Flow));
    let (a_load, a_msg) = (arrival(&m, load_src, me), arrival(&m, remote, me));
    let route = m.route(load_src, me).unwrap();
    let port = m.links[route.hops.last().unwrap().link.0 as usize].bw.gbs() * 1e-3;
    assert!(a_load + a_msg > port, "the port must be overloaded");
    let load_rate = port * a_load / (a_load + a_msg);
    let alone = done_times(&m, &[(load_src, me, 0)], bytes)[0];
    let shared = done_times(&m, &[(load_src, me, 0), (remote, me, 0)], bytes);
    // The load drains first (it is served faster); its lone drain is at its
    // arrival speed.
    let drain = bytes as f64 / load_rate;
    let late = (shared[0] - alone) as f64;
    let want = drain - bytes as f64 / a_load;
    assert!(
        (late - want).abs() < 0.02 * want,
        "the load ended {late} ps late, proportional service predicts {want}"
    );
    // Burst mode, the reference, serves the load the same.
    let mb = machine(&topo(Network::Burst));
    let burst = done_times(&mb, &[(load_src, me, 0), (remote, me, 0)], bytes);
    let (f, b) = (shared[0] as f64, burst[0] as f64);
    assert!((f - b).abs() < 0.01 * b, "load: flow {f} ps, burst {b} ps");
    // The message: its bytes keep crossing the SIP link at full speed and
    // queue in front of the port while the load holds it; once the load is
    // done the port drains the queue at its own speed, faster than the SIP
    // link refills it. Here the queue is gone before the SIP link has
    // sent the last byte, so the message ends as if it had been alone.
    let msg_rate = port - load_rate;
    let backlog = drain * (a_msg - msg_rate);
    let catch_up = backlog / (port - a_msg);
    assert!(
        drain + catch_up < bytes as f64 / a_msg,
        "the queue must drain before the message is sent"
    );
    let lone_msg = done_times(&m, &[(remote, me, 0)], bytes)[0] as f64;
    for (mode, end) in [("flow", shared[1]), ("burst", burst[1])] {
        let end = end as f64;
        assert!(
            (end - lone_msg).abs() < 0.01 * lone_msg,
            "message in {mode} mode: {end} ps, alone {lone_msg} ps"
        );
    }
}

#[test]
fn a_lone_transfer_takes_as_long_as_in_burst_mode() {
    // Nothing shared: the probe's cases agree within 3% (the flow's last
    // burst crosses the hops as in burst mode; only the HBM lanes' overlap
    // of the last bursts differs).
    let burst = probe_all(&machine(&topo(Network::Burst)), 64 << 10).unwrap();
    let flow = probe_all(&machine(&topo(Network::Flow)), 64 << 10).unwrap();
    for (b, f) in burst.cases.iter().zip(&flow.cases) {
        let (lb, lf) = (b.split.latency_ns, f.split.latency_ns);
        assert!(
            (lf - lb).abs() <= 0.03 * lb,
            "{}: flow {lf} ns, burst {lb} ns",
            b.name
        );
        // The route trace: the first byte reaches every node when it does
        // in burst mode (the fixed delays alone), and the last byte reaches
        // the destination at the measured latency.
        for (pb, pf) in b.route.iter().zip(&f.route) {
            assert_eq!(pb.node, pf.node);
            assert!(
                (pb.t_ns - pf.t_ns).abs() < 1e-9,
                "{}: {} first byte {} vs {}",
                b.name,
                pb.node,
                pb.t_ns,
                pf.t_ns
            );
            assert!(pf.t_ns <= pf.last_ns, "{}: {}", b.name, pf.node);
        }
        let end = f.route.last().unwrap().last_ns;
        assert!(
            (end - lf).abs() < 1e-6,
            "{}: last byte at {end} ns, latency {lf} ns",
            b.name
        );
    }
}

#[test]
fn posted_sends_on_one_route_arrive_in_the_order_they_were_sent() {
    // Each send starts when the previous one's source is free, as the
    // IPCQ engine posts them: its bursts queue behind the earlier sends'
    // on the way, so they arrive in order whatever their sizes; a lone
    // burst does not overtake.
    use kernbench_core::fabric::engine::Notice;
    let sizes = [64 << 10, 64 << 10, 256];
    let (src, dst) = (
        Endpoint::Mem(PhysAddr {
            sip: 0,
            cube: 0,
            space: Space::Tcm { pe: 0 },
            offset: 0,
        }),
        Endpoint::Mem(PhysAddr {
            sip: 1,
            cube: 0,
            space: Space::Tcm { pe: 0 },
            offset: 0,
        }),
    );
    for n in [Network::Burst, Network::Flow] {
        let mut sim: Sim<(bool, usize)> = Sim::tagged(machine(&topo(n)));
        sim.start_copy_posted(src, dst, sizes[0], 0, 0, (true, 0), (false, 0))
            .unwrap();
        let mut arrived = Vec::new();
        while let Some((now, notice)) = sim.next_notice() {
            match notice {
                Notice::Timer { token: (true, k) } if k + 1 < sizes.len() => {
                    let next = (true, k + 1);
                    sim.start_copy_posted(src, dst, sizes[k + 1], 0, now, next, (false, k + 1))
                        .unwrap();
                }
                Notice::TransferDone {
                    token: (false, k), ..
                } => arrived.push(k),
                _ => {}
            }
        }
        assert_eq!(arrived, [0, 1, 2], "{n:?}");
    }
}

#[test]
fn one_burst_transfers_move_exactly_as_in_burst_mode() {
    // A single burst has nothing to share: it crosses hop by hop, first
    // come, first served, in both modes. B reaches the SRAM port before
    // A's burst, which started earlier but has a UCIe crossing to make:
    // B must not wait behind it.
    let copies = [
        (pe(0, 0), at(1, Space::Sram), 0),
        (pe(1, 0), at(1, Space::Sram), 10_000),
    ];
    let burst = done_times(&machine(&topo(Network::Burst)), &copies, 256);
    let flow = done_times(&machine(&topo(Network::Flow)), &copies, 256);
    assert_eq!(flow, burst);
    let alone = done_times(&machine(&topo(Network::Flow)), &copies[1..], 256);
    assert_eq!(flow[1], alone[0]);
}

#[test]
fn a_copy_within_one_tcm_moves_nothing_in_either_mode() {
    for n in [Network::Burst, Network::Flow] {
        let m = machine(&topo(n));
        let mut sim = Sim::new(m);
        let id = sim
            .start_copy(pe(0, 0), pe(0, 0), MIB, 5_000, 1_000)
            .unwrap();
        sim.run();
        assert_eq!(sim.report(id).unwrap().done, 6_000, "{n:?}: setup only");
    }
}

/// Wall (or collective latency) of a bench in both modes.
fn both(name: &str, params: &[(&str, &str)]) -> (f64, f64, u64, u64) {
    let run = |n| {
        let r = run_bench(&topo(n), name, params, timing_only());
        let t = r.extra.get("latency_ns").copied().unwrap_or(r.run.wall_ns);
        (t, r.events)
    };
    let ((b, eb), (f, ef)) = (run(Network::Burst), run(Network::Flow));
    (b, f, eb, ef)
}

fn agree(name: &str, params: &[(&str, &str)], bound: f64) {
    let (b, f, ..) = both(name, params);
    assert!(
        (f - b).abs() <= bound * b,
        "{name} {params:?}: flow {f:.1} ns vs burst {b:.1} ns ({:+.1}%)",
        100.0 * (f - b) / b
    );
}

#[test]
fn gemm_512_agrees_in_each_staging() {
    // Operands staged in TCM or SRAM: one transfer at a time per link.
    agree("gemm", &[("staging", "tcm")], 0.03);
    agree("gemm", &[("staging", "sram")], 0.03);
    // Streamed from HBM: A and B tiles share the slice's pseudo-channels.
    agree("gemm", &[("staging", "hbm_ref")], 0.10);
}

#[test]
fn gemm_over_32_pes_agrees_and_flow_takes_far_fewer_events() {
    let p = [("staging", "hbm_ref"), ("pes", "8"), ("cubes", "4")];
    agree("gemm-multi-pe", &p, 0.10);
    let (.., burst, flow) = both("gemm-multi-pe", &p);
    assert!(flow * 5 <= burst, "events: flow {flow}, burst {burst}");
}

#[test]
fn ring_allreduce_agrees_per_ring_kind_at_64_kib() {
    for ring in ["intracube_pe_ring", "intercube_multisip", "sip"] {
        agree(
            "ring-allreduce",
            &[("ring", ring), ("bytes", "65536")],
            0.10,
        );
    }
}

#[test]
fn ring_allreduce_agrees_per_ring_kind_at_16_mib() {
    for ring in ["intracube_pe_ring", "intercube_multisip", "sip"] {
        agree(
            "ring-allreduce",
            &[("ring", ring), ("bytes", "16777216")],
            0.10,
        );
    }
}

#[test]
fn reruns_and_data_on_or_off_are_identical_in_both_modes() {
    for n in [Network::Burst, Network::Flow] {
        let t = topo(n);
        let json = |data| {
            let mode = RunMode {
                data,
                ..RunMode::default()
            };
            let r = run_bench(&t, "attention", &[("seq", "256")], mode);
            r.to_json().to_string()
        };
        let first = json(true);
        assert_eq!(first, json(true), "{n:?} rerun");
        assert_eq!(first, json(false), "{n:?} data off");
    }
}

#[test]
fn a_million_commands_are_held_one_program_per_pe_at_a_time() {
    use kernbench_core::dsl::ProgramInfo;
    use kernbench_core::host::trace_config;
    use kernels::{gqa_attention, gqa_programs};

    let (seq, heads, kv_heads, d, bm, bn, pes) = (4096, 32, 4, 64, 64, 64, 8);
    let t = topo(Network::Flow);
    let text = [seq, heads, kv_heads, d, bm, bn, pes].map(|v| v.to_string());
    let names = ["seq", "heads", "kv_heads", "d", "bm", "bn", "pes"];
    let p: Vec<(&str, &str)> = names
        .iter()
        .copied()
        .zip(text.iter().map(String::as_str))
        .collect();
    let r = run_bench(&t, "attention", &p, timing_only());
    let c = r.run.summary.commands;
    let total = c.dma_read + c.dma_write + c.gemm + c.math + c.ipcq_send + c.ipcq_recv;
    assert!(total >= 1_000_000, "{total} commands");
    // The largest program is the last query block of a head (it sees every
    // key); a PE holds one program at a time.
    let group = heads / kv_heads;
    let grid = [gqa_programs(kv_heads, seq, group, bm), 1, 1];
    let last = grid[0] / kv_heads - 1;
    let args = gqa_attention::args(
        kernbench_core::dsl::Ptr::new(0, kv_heads * seq * group, d),
        kernbench_core::dsl::Ptr::new(0, kv_heads * seq, d),
        kernbench_core::dsl::Ptr::new(0, kv_heads * seq, d),
        kernbench_core::dsl::Ptr::new(0, kv_heads * seq * group, d),
        seq,
        group,
        d,
        bm,
        bn,
        true,
        0.125,
    );
    let info = ProgramInfo::grid([last, 0, 0], grid);
    let largest = gqa_attention::trace(&args, &info, &trace_config(&t))
        .unwrap()
        .commands
        .len() as u64;
    assert!(
        r.run.peak_commands <= pes as u64 * largest,
        "peak {} commands, {pes} PEs x {largest}",
        r.run.peak_commands
    );
    assert!(r.run.peak_commands * 100 < total as u64);
}
