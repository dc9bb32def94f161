//! Every registered bench's `--json` held against figures derived here from
//! first principles and topology.yaml, exactly where a derivation exists:
//! command counts from each kernel's loop structure, bytes and MACs from the
//! shapes, per-tile stage times from the MAC array, TCM and vector-engine
//! rates (on one PE, where stages cannot overlap), and the collective
//! model's terms from link and HBM bandwidths. Wall time and latency have
//! no closed form (transfers contend for pseudo-channels and ports), so they
//! are held to their compute, HBM and link bounds, and the figures computed
//! from them (utilization, efficiency, algbw, busbw) to their definitions.
//! A bench registered without a derivation fails.

mod common;

use kernbench::cli::run::{self as cli_run, RunArgs};
use kernbench_core::Topology;
use serde_json::Value;

fn run_json(bench: &str, params: &[&str]) -> Value {
    let a = RunArgs {
        bench: bench.to_string(),
        params: params.iter().map(|p| p.to_string()).collect(),
        check: false,
        timing_only: true,
        json: true,
        trace: None,
    };
    let (out, _) = cli_run::run(&Topology::default_topology(), &a).unwrap();
    serde_json::from_str(&out).unwrap()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}`: {}", v[key]))
}

fn count(v: &Value, key: &str) -> u64 {
    v["op_log_summary"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("op_log_summary.{key}"))
}

fn engine(v: &Value, key: &str) -> f64 {
    v["engines"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("engines.{key}"))
}

fn param(v: &Value, key: &str) -> u64 {
    v["params"][key]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("params.{key}: {}", v["params"][key]))
}

/// Equal up to the rounding of a float printed and parsed back.
fn close(got: f64, want: f64, what: &str) {
    let tol = 1e-9 * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "{what}: {got} != derived {want}");
}

/// The tiled matmul's figures: `bm x bn` output blocks, one `tl::dot` per
/// `bk` step, `pes` PEs. Shapes are multiples of the blocks and the blocks
/// of the tile, so no edge is ragged.
fn check_matmul(v: &Value, t: &Topology, pes: u64) {
    let (m, k, n) = (param(v, "m"), param(v, "k"), param(v, "n"));
    let (bm, bn, bk) = (param(v, "bm"), param(v, "bn"), param(v, "bk"));
    let staging = v["params"]["staging"].as_str().unwrap();
    let g = &t.pe_gemm;
    let (tm, tk, tn) = (
        u64::from(g.tile_m),
        u64::from(g.tile_k),
        u64::from(g.tile_n),
    );
    assert!(m % bm == 0 && n % bn == 0 && k % bk == 0, "shape is ragged");
    assert!(
        bm % tm == 0 && bn % tn == 0 && bk % tk == 0,
        "block is ragged"
    );
    let elem = u64::from(g.bytes_per_element);

    let programs = (m / bm) * (n / bn);
    let steps = k / bk;
    let dots = programs * steps;
    let tiles = dots * (bm / tm) * (bk / tk) * (bn / tn);
    assert_eq!(count(v, "gemm_count"), dots);
    // Staged operands: one DMA per block of A and of B per step.
    let staged = if staging == "hbm_ref" { 0 } else { 2 * dots };
    assert_eq!(count(v, "dma_read_count"), staged);
    assert_eq!(count(v, "dma_write_count"), programs);
    // The accumulator's zero fill and the final cast, per program.
    assert_eq!(count(v, "math_count"), 2 * programs);
    assert_eq!(count(v, "ipcq_send_count") + count(v, "ipcq_recv_count"), 0);
    assert_eq!(count(v, "gemm_tile_count"), tiles);
    assert_eq!(count(v, "tile_macs"), tiles * tm * tk * tn);
    assert_eq!(count(v, "useful_macs"), m * k * n);
    let operands = if staging == "hbm_ref" {
        // Streamed per tile: each tile's A and B slices.
        tiles * (tm * tk + tk * tn) * elem
    } else {
        dots * (bm * bk + bk * bn) * elem
    };
    assert_eq!(count(v, "dma_bytes"), operands + m * n * elem);

    // Per-tile stage times from the array, TCM and vector-engine rates.
    // The array works an output tile's K loop of one dot as one fold.
    let out_tiles = dots * (bm / tm) * (bn / tn);
    let fold_ns = common::os_fold_cycles(t, bk / tk) as f64 / g.clock_ghz;
    let fetch_ns = ((tm * tk + tk * tn) * elem) as f64 / t.pe_tcm.fetch_bw_gbs;
    let wall = num(v, "wall_ns");
    let busy = out_tiles as f64 * fold_ns;
    close(
        num(v, "gemm_util_pct"),
        100.0 * busy / (wall * pes as f64),
        "gemm_util_pct",
    );
    close(
        num(v, "useful_eff_pct"),
        100.0 * (m * k * n) as f64 / (wall * pes as f64 * g.macs_per_ns()),
        "useful_eff_pct",
    );
    if pes == 1 {
        // One PE: its stages never overlap themselves, so occupancy is the
        // sum of the stage times.
        close(engine(v, "gemm_ns"), busy, "engines.gemm_ns");
        close(
            engine(v, "fetch_ns"),
            tiles as f64 * fetch_ns,
            "engines.fetch_ns",
        );
        // A result tile (f32) is written back once its K loop ends.
        let wb_ns = (tm * tn * 4) as f64 / t.pe_tcm.fetch_bw_gbs;
        close(
            engine(v, "dma_out_ns"),
            out_tiles as f64 * wb_ns,
            "engines.dma_out_ns",
        );
        let m_cmd = |elems: u64| t.pe_math.overhead_ns + elems as f64 / t.pe_math.elems_per_ns;
        close(
            engine(v, "math_ns"),
            2.0 * programs as f64 * m_cmd(bm * bn),
            "engines.math_ns",
        );
    }
    // Never faster than the MAC array or the HBM slice allow.
    assert!(wall >= busy / pes as f64, "{wall} < compute bound");
    let hbm_ns = count(v, "dma_bytes") as f64 / t.hbm_ctrl.effective_bw_gbs();
    assert!(wall >= hbm_ns, "{wall} < HBM bound {hbm_ns}");
}

/// How a ring all-reduce of `S` bytes per rank loads the machine, derived
/// per bench: the busiest resource's time per phase (reduce-scatter and
/// all-gather load opposite directions the same way), and the bandwidth a
/// message sees on the slowest link of its way.
struct RingLoad {
    phase_ns: f64,
    message_gbs: f64,
}

/// The segmented ring all-reduce's figures on `n` ranks.
fn check_allreduce(v: &Value, t: &Topology, n: u64, bytes: u64, seg: u64, load: RingLoad) {
    let len = bytes / 2;
    let groups = len.div_ceil(n * seg);
    let chunk = len / (groups * n);
    assert_eq!(chunk * groups * n, len, "chunks are ragged");
    // Per rank and group: 2(n-1) messages; a load of its first chunk and
    // one per reduce-scatter step; a store of the reduced chunk and one per
    // all-gather step; n-1 combines.
    assert_eq!(count(v, "ipcq_send_count"), n * groups * 2 * (n - 1));
    assert_eq!(count(v, "ipcq_recv_count"), n * groups * 2 * (n - 1));
    assert_eq!(count(v, "dma_read_count"), n * groups * n);
    assert_eq!(count(v, "dma_write_count"), n * groups * n);
    assert_eq!(count(v, "math_count"), n * groups * (n - 1));
    assert_eq!(count(v, "gemm_count"), 0);
    assert_eq!(count(v, "dma_bytes"), 2 * n * groups * n * chunk * 2);

    let latency = num(v, "latency_ns");
    let algbw = bytes as f64 / latency;
    close(num(v, "algbw_gbs"), algbw, "algbw_gbs");
    let nf = n as f64;
    close(
        num(v, "busbw_gbs"),
        algbw * 2.0 * (nf - 1.0) / nf,
        "busbw_gbs",
    );
    let link = num(v, "model_link_gbs");
    close(
        num(v, "model_link_bound_ns"),
        2.0 * (nf - 1.0) / nf * bytes as f64 / link,
        "model_link_bound_ns",
    );
    // Posted sends: `depth` messages of one chunk per round trip (a step's
    // latency plus the message's serialization) on every ring edge.
    let alpha = num(v, "model_alpha_ns");
    let message = (chunk * 2) as f64;
    let credit = f64::from(t.ipcq.depth) * message / (alpha + message / load.message_gbs);
    close(num(v, "model_credit_gbs"), credit, "model_credit_gbs");
    let edge_ns = (nf - 1.0) / nf * bytes as f64 / credit;
    close(
        num(v, "model_busiest_ns"),
        2.0 * load.phase_ns,
        "model_busiest_ns",
    );
    // The kernel runs its groups a batch at a time: each batch pays the
    // n-1 steps' latency per phase, on top of the busiest resource's time,
    // unless the credits' round trips take longer. (Both benches receive
    // into TCM: nothing is stored and forwarded.)
    let batch = kernels::ring::window(t.ipcq.depth as usize) as u64;
    let rounds = groups.div_ceil(batch) as f64;
    let phase = (rounds * (nf - 1.0) * alpha + load.phase_ns).max(edge_ns);
    let model = 2.0 * phase;
    close(num(v, "model_ns"), model, "model_ns");
    close(num(v, "sim_over_model"), latency / model, "sim_over_model");
    // The simulation never beats the model's bandwidth terms.
    assert!(latency >= num(v, "model_link_bound_ns"));
    assert!(latency >= num(v, "model_hbm_bound_ns"));
}

fn gemm(t: &Topology) {
    for staging in ["tcm", "hbm_ref"] {
        let v = run_json("gemm", &[&format!("staging={staging}")]);
        check_matmul(&v, t, 1);
    }
}

fn gemm_multi_pe(t: &Topology) {
    let v = run_json("gemm-multi-pe", &[]);
    check_matmul(&v, t, param(&v, "pes") * param(&v, "cubes"));
}

fn ring_allreduce(t: &Topology) {
    let v = run_json("ring-allreduce", &[]);
    let (n, bytes) = (param(&v, "ranks"), param(&v, "bytes"));
    assert_eq!(v["params"]["home"], "hbm");
    assert_eq!(v["params"]["buffer"], "tcm");
    let (nf, s) = (n as f64, bytes as f64);
    let port = t.xbar.pe_port_bw_gbs;
    let hbm = t.hbm_ctrl.effective_bw_gbs();
    // Per phase, the cube's slice serves every rank's buffer (read in the
    // reduce-scatter, written in the all-gather); a PE's port carries that
    // buffer and (n-1)/n of it as messages.
    let load = RingLoad {
        phase_ns: (nf * s / hbm).max((1.0 + (nf - 1.0) / nf) * s / port),
        message_gbs: port,
    };
    check_allreduce(&v, t, n, bytes, param(&v, "seg"), load);
    // The 8 PEs of one cube: each sends through its own crossbar port.
    close(num(&v, "model_link_gbs"), port, "model_link_gbs");
    // A step: the send's and receive's IPCQ costs, one crossbar
    // arbitration, two port wires.
    close(
        num(&v, "model_alpha_ns"),
        2.0 * t.ipcq.overhead_ns + t.xbar.overhead_ns + 2.0 * t.xbar.port_mm * t.ns_per_mm,
        "model_alpha_ns",
    );
    // Every rank's buffer is in cube 0's slice, read and written once.
    close(
        num(&v, "model_hbm_bound_ns"),
        2.0 * nf * s / hbm,
        "model_hbm_bound_ns",
    );
}

fn tp_mlp(t: &Topology) {
    let v = run_json("tp-mlp", &[]);
    // The report is the final all-reduce: batch x hidden fp16 per SIP, one
    // group (the layers' all-reduce segments at kernels::tp::SEG elements).
    let n = u64::from(t.system.sips);
    let bytes = param(&v, "batch") * param(&v, "hidden") * 2;
    let (nf, s) = (n as f64, bytes as f64);
    let hbm = t.hbm_ctrl.effective_bw_gbs();
    // One rank per SIP: per phase its slice serves its buffer, its PE's
    // port carries the buffer and the messages, the SIP link the messages.
    let msgs = (nf - 1.0) / nf * s;
    let load = RingLoad {
        phase_ns: (s / hbm)
            .max((s + msgs) / t.xbar.pe_port_bw_gbs)
            .max(msgs / t.sip_link.bw_gbs),
        message_gbs: t.sip_link.bw_gbs,
    };
    check_allreduce(&v, t, n, bytes, kernels::tp::SEG as u64, load);
    close(
        num(&v, "model_link_gbs"),
        t.sip_link.bw_gbs,
        "model_link_gbs",
    );
    close(
        num(&v, "model_hbm_bound_ns"),
        2.0 * s / hbm,
        "model_hbm_bound_ns",
    );
    // The forward pass ends with this all-reduce.
    assert!(num(&v, "forward_ns") > num(&v, "wall_ns"));
}

/// Grouped-query attention without a mask: every stacked query tile meets
/// every K/V block of its head, two GEMMs each; the problem's MACs are
/// `2 x heads x seq^2 x d`; no run beats the MAC arrays of its PEs.
fn attention(t: &Topology) {
    let v = run_json("attention", &["mask=full"]);
    let (seq, heads, kv, d) = (
        param(&v, "seq"),
        param(&v, "heads"),
        param(&v, "kv_heads"),
        param(&v, "d"),
    );
    let (bm, bn, pes) = (param(&v, "bm"), param(&v, "bn"), param(&v, "pes"));
    let group = heads / kv;
    let programs = kv * (seq * group).div_ceil(bm);
    let blocks = seq.div_ceil(bn);
    assert_eq!(count(&v, "gemm_count"), 2 * programs * blocks);
    // Q once, then K and V per block, per program; O once.
    assert_eq!(count(&v, "dma_read_count"), programs * (1 + 2 * blocks));
    assert_eq!(count(&v, "dma_write_count"), programs);
    let macs = 2 * heads * seq * seq * d;
    assert_eq!(count(&v, "useful_macs"), macs);
    let wall = num(&v, "wall_ns");
    let peak = t.pe_gemm.macs_per_ns() * pes as f64;
    assert!(
        wall >= macs as f64 / peak,
        "wall {wall} ns beats the MAC arrays"
    );
    close(
        num(&v, "useful_eff_pct"),
        100.0 * macs as f64 / (wall * peak),
        "useful_eff_pct",
    );
    // Programs are alike; a PE holds one at a time.
    let total: u64 = [
        "dma_read_count",
        "dma_write_count",
        "gemm_count",
        "math_count",
    ]
    .iter()
    .map(|k| count(&v, k))
    .sum();
    assert_eq!(num(&v, "peak_commands") as u64, pes * total / programs);
}

/// The gqa panels at validation scale (one head, d 64, 16 tokens per rank,
/// one query block and one K/V block per rank). Prefill, per rank: `n`
/// ring steps of two GEMMs; the relay of each of the first `n - 1` steps
/// loads, sends, receives and stores K and V; every step loads Q, K and V,
/// the last `n - 1` load the softmax state (output, max, sum) and the
/// first `n - 1` store it, the last stores the output. Decode, per rank:
/// Q, K, V loaded, two GEMMs, the record's three parts stored; the one
/// record column goes once around the ring each way (`2(n - 1)` messages),
/// loaded `n` times and stored `n` times, and member 0 loads the sum and
/// output rows and stores the result.
fn gqa_panels(t: &Topology) {
    let peak = t.pe_gemm.macs_per_ns();
    let hbm = t.hbm_ctrl.xbar_to_hbm_bw_gbs * t.hbm_ctrl.efficiency;
    let (d, per_rank) = (64u64, 16u64);
    for (panel, n) in [
        ("single_user_prefill", 8u64),
        ("multi_user_prefill", 4),
        ("single_user_decode", 8),
        ("multi_user_decode", 4),
    ] {
        let v = run_json("milestone-gqa-llama70b", &[&format!("panel={panel}")]);
        let s = per_rank * n;
        let (gemm, sends, reads, writes, macs, bound);
        if panel.ends_with("prefill") {
            gemm = 2 * n * n;
            sends = n * 2 * (n - 1);
            reads = n * (2 * (n - 1) + 3 * n + 3 * (n - 1));
            writes = n * (2 * (n - 1) + 3 * (n - 1) + 1);
            macs = 2 * s * s * d;
            bound = macs as f64 / (n as f64 * peak);
        } else {
            gemm = 2 * n;
            sends = 2 * (n - 1);
            reads = 3 * n + n + 2;
            writes = 3 * n + n + 1;
            macs = 2 * s * d;
            // K and V of the whole cache in fp16 over the slices holding it.
            let slices = if panel.starts_with("multi") { n } else { 1 };
            bound = (2 * s * d * 2) as f64 / (slices as f64 * hbm);
        }
        assert_eq!(count(&v, "gemm_count"), gemm, "{panel}");
        assert_eq!(count(&v, "ipcq_send_count"), sends, "{panel}");
        assert_eq!(count(&v, "ipcq_recv_count"), sends, "{panel}");
        assert_eq!(count(&v, "dma_read_count"), reads, "{panel}");
        assert_eq!(count(&v, "dma_write_count"), writes, "{panel}");
        assert_eq!(count(&v, "useful_macs"), macs, "{panel}");
        close(num(&v, "bound_ns"), bound, panel);
        let latency = num(&v, "latency_ns");
        assert!(latency >= bound, "{panel}: {latency} ns beats its bound");
        let exposed = num(&v, "exposed_comm_ns");
        // Exposed is a difference of two unions: equal to comm up to rounding.
        assert!(exposed >= 0.0 && exposed <= num(&v, "comm_ns").min(latency) + 1e-6);
        assert!(num(&v, "compute_ns") <= latency);
    }
}

#[test]
fn every_bench_matches_its_derived_figures() {
    let t = Topology::default_topology();
    for b in kernbench::bench::registry() {
        match b.name {
            "gemm" => gemm(&t),
            "gemm-multi-pe" => gemm_multi_pe(&t),
            "ring-allreduce" => ring_allreduce(&t),
            "tp-mlp" => tp_mlp(&t),
            "attention" => attention(&t),
            "milestone-gqa-llama70b" => gqa_panels(&t),
            other => panic!("bench `{other}` has no derived figures here; add them"),
        }
    }
}
