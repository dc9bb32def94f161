//! Fuzzing, bounded so the suite stays fast: mutated topology.yaml files
//! and hostile bench parameters either end in one clear line of error or
//! give a result whose figures obey what a hardware engineer would check
//! (utilization at most 1, percentages at most 100, a probe's latency the
//! sum of its overhead, wire and drain, a GEMM no faster than its MACs at
//! peak). A panic fails the test. The random streams are seeded, so every
//! run fuzzes the same cases.

mod common;

use std::sync::Arc;

use kernbench::bench;
use kernbench::cli::run::{self as cli_run, RunArgs};
use kernbench::prelude::*;
use kernbench_core::fabric::probe::{self, ProbeCase};
use kernbench_core::fabric::topology::DEFAULT_TOPOLOGY_YAML;
use kernbench_core::{Machine, Topology};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

/// Values a hostile user writes into a number's place.
const HOSTILE_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "3",
    "0.5",
    "1e-15",
    "0.0005",
    "0.001",
    "1e6",
    "1e7",
    "2e16",
    "1e300",
    ".nan",
    ".inf",
    "-.inf",
    "65536",
    "4294967296",
    "18446744073709551616",
    "abc",
    "\"8\"",
    "[1, 2]",
    "",
];

/// Plausible edits: the original number scaled, so that the fuzzer also
/// reaches machines that load and run.
const SCALES: &[f64] = &[0.1, 0.5, 1.5, 2.0, 4.0, 10.0];

/// The replacement for `orig` of value index `v`: a hostile value, or
/// `orig` scaled (integers stay integers).
fn replacement(orig: &str, v: usize) -> String {
    match HOSTILE_NUMBERS.get(v) {
        Some(h) => h.to_string(),
        None => {
            let f = SCALES[(v - HOSTILE_NUMBERS.len()) % SCALES.len()];
            match orig.parse::<u64>() {
                Ok(n) => ((n as f64 * f).round() as u64).to_string(),
                Err(_) => format!("{}", orig.parse::<f64>().unwrap_or(1.0) * f),
            }
        }
    }
}

/// Values a hostile user passes as `--param key=VALUE`.
const HOSTILE_PARAMS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "16",
    "64",
    "100",
    "4",
    "8",
    "32",
    "128",
    "256",
    "1048577",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "1.5",
    "abc",
    "",
    "tcm",
    "hbm",
    "sram",
    "causal",
];

/// Every line of the default topology that holds a number after a key
/// (the inline mesh counts as one), with the byte span of that number.
fn numeric_spans() -> Vec<(usize, usize)> {
    let text = DEFAULT_TOPOLOGY_YAML;
    let mut spans = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let body = line.split('#').next().unwrap_or("");
        let mut i = 0;
        while let Some(colon) = body[i..].find(": ") {
            let start = i + colon + 2;
            let len = body[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .unwrap_or(body.len() - start);
            let value = &body[start..start + len];
            if value.parse::<f64>().is_ok() {
                spans.push((at + start, at + start + len));
            }
            i = start;
        }
        at += line.len();
    }
    spans
}

/// The default text with the numbers at `edits` (span index, value index)
/// replaced, last span first so earlier offsets hold.
fn mutate(spans: &[(usize, usize)], edits: &[(usize, usize)]) -> String {
    let mut edits: Vec<(usize, usize)> = edits.iter().map(|&(s, v)| (s % spans.len(), v)).collect();
    edits.sort_unstable();
    edits.dedup_by_key(|e| e.0);
    let mut text = DEFAULT_TOPOLOGY_YAML.to_string();
    for &(s, v) in edits.iter().rev() {
        let (a, b) = spans[s];
        let with = replacement(&DEFAULT_TOPOLOGY_YAML[a..b], v);
        text.replace_range(a..b, &with);
    }
    text
}

/// `cases`, or `KERNBENCH_FUZZ_CASES` times as many (a long fuzz:
/// `KERNBENCH_FUZZ_CASES=50 cargo test --release --test fuzz`).
fn runner(cases: u32) -> TestRunner {
    let times = std::env::var("KERNBENCH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1);
    let config = Config {
        cases: cases.saturating_mul(times),
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Runs `case` on `cases` values of `strategy` (see [`runner`]); each
/// returns its outcome, "ran" or "refused". Prints the counts and the
/// slowest case, and checks that both outcomes happened more than `least`
/// times: the fuzzer reaches valid runs, not only refusals.
fn fuzz<S: Strategy>(
    what: &str,
    cases: u32,
    least: u32,
    strategy: &S,
    case: impl Fn(S::Value) -> Result<&'static str, TestCaseError>,
) {
    let outcomes = std::cell::RefCell::new(std::collections::BTreeMap::<&str, u32>::new());
    let slowest = std::cell::Cell::new(0.0f64);
    runner(cases)
        .run(strategy, |v| {
            let t = std::time::Instant::now();
            let outcome = case(v)?;
            slowest.set(slowest.get().max(t.elapsed().as_secs_f64()));
            *outcomes.borrow_mut().entry(outcome).or_default() += 1;
            Ok(())
        })
        .unwrap();
    let outcomes = outcomes.into_inner();
    eprintln!(
        "{what} fuzz: {outcomes:?}, slowest case {:.2} s",
        slowest.get()
    );
    for outcome in ["ran", "refused"] {
        let n = outcomes.get(outcome).copied().unwrap_or(0);
        assert!(n > least, "{what}: {outcomes:?}");
    }
}

/// A refusal: one non-empty line.
fn one_line(e: &str) -> Result<(), TestCaseError> {
    prop_assert!(!e.is_empty() && !e.contains('\n'), "not one line: {e:?}");
    Ok(())
}

fn small_run(bench: &str, params: &[String]) -> RunArgs {
    RunArgs {
        bench: bench.to_string(),
        params: params.to_vec(),
        check: false,
        timing_only: true,
        json: true,
        trace: None,
    }
}

/// A bench's JSON figures against their bounds.
fn figures_hold(topo: &Topology, out: &str) -> Result<(), TestCaseError> {
    let v: Value = serde_json::from_str(out).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let num = |k: &str| v[k].as_f64();
    for pct in ["gemm_util_pct", "useful_eff_pct"] {
        if let Some(p) = num(pct) {
            prop_assert!((0.0..=100.0 + 1e-9).contains(&p), "{pct} = {p}");
        }
    }
    let wall = num("wall_ns").unwrap_or(0.0);
    prop_assert!(wall.is_finite() && wall > 0.0, "wall_ns = {wall}");
    prop_assert!(v["events"].as_u64().unwrap_or(0) > 0);
    if v["bench"] == "gemm" {
        // No faster than its MACs at the array's peak.
        let p = |k: &str| v["params"][k].as_str().and_then(|s| s.parse::<f64>().ok());
        if let (Some(m), Some(n), Some(k)) = (p("m"), p("n"), p("k")) {
            let bound = m * n * k / topo.pe_gemm.macs_per_ns();
            prop_assert!(wall >= bound * (1.0 - 1e-9), "{wall} ns < {bound} ns");
        }
    }
    Ok(())
}

/// One mutated topology: refused in one line, or a machine whose probe
/// and small GEMM obey their bounds.
fn topology_case(text: &str) -> Result<&'static str, TestCaseError> {
    let topo = match Topology::parse(text, "fuzz.yaml") {
        Ok(t) => t,
        Err(e) => {
            let m = e.to_string();
            one_line(&m)?;
            prop_assert!(m.starts_with("fuzz.yaml"), "{m}");
            return Ok("refused");
        }
    };
    let machine = Arc::new(Machine::new(&topo));
    for case in [ProbeCase::PeLocalHbm, ProbeCase::HostWrite] {
        let s = probe::measure(&machine, case, 4096)
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .split;
        let sum = s.overhead_ns + s.wire_ns + s.drain_ns;
        prop_assert!((s.latency_ns - sum).abs() <= 1e-6 * s.latency_ns.max(1.0));
        prop_assert!(s.utilization <= 1.0 + 1e-9, "utilization {}", s.utilization);
        prop_assert!(s.effective_bw_gbs <= s.bottleneck_bw_gbs * (1.0 + 1e-9));
    }
    let params = ["m=64", "n=64", "k=64", "bm=64", "bn=64", "bk=64"].map(String::from);
    match cli_run::run(&topo, &small_run("gemm", &params)) {
        Ok((out, _)) => figures_hold(&topo, &out)?,
        Err(e) => one_line(&e.to_string())?,
    }
    Ok("ran")
}

#[test]
fn mutated_topologies_are_refused_or_obey_the_bounds() {
    let spans = numeric_spans();
    assert!(spans.len() > 50, "the topology's numbers: {}", spans.len());
    let values = HOSTILE_NUMBERS.len() + 2 * SCALES.len();
    let edits = prop::collection::vec((0..spans.len(), 0..values), 1..4);
    fuzz("topology", 400, 20, &edits, |e| {
        topology_case(&mutate(&spans, &e))
    });
}

#[test]
fn hostile_bench_parameters_are_refused_or_obey_the_bounds() {
    let topo = Topology::default_topology();
    // The small validation-scale gqa panel takes seconds per run in a debug
    // build; the others run at their defaults or smaller.
    let benches: Vec<_> = bench::registry()
        .iter()
        .filter(|b| b.name != "milestone-gqa-llama70b")
        .collect();
    let case = (
        0..benches.len(),
        prop::collection::vec((0..12usize, 0..HOSTILE_PARAMS.len()), 1..3),
    );
    fuzz("parameter", 300, 10, &case, |(b, edits)| {
        let spec = benches[b];
        let params: Vec<String> = edits
            .iter()
            .map(|&(p, v)| {
                // An index past the specs names an unknown parameter.
                let key = spec.params.get(p).map_or("nosuch", |s| s.name);
                format!("{key}={}", HOSTILE_PARAMS[v])
            })
            .collect();
        match cli_run::run(&topo, &small_run(spec.name, &params)) {
            Ok((out, _)) => figures_hold(&topo, &out).map(|_| "ran"),
            Err(e) => one_line(&e.to_string()).map(|_| "refused"),
        }
    });
}

/// A kernel whose every size comes from its arguments.
#[kernel]
fn sized(
    x: Ptr<f16>,
    y: Ptr<f16>,
    #[constexpr] origin: usize,
    #[constexpr] rows: usize,
    #[constexpr] cols: usize,
    #[constexpr] steps: usize,
) {
    for i in 0..steps {
        let t = tl::load(x.block([origin.saturating_add(i), 0], [rows, cols]));
        let acc = tl::dot(&t, tl::trans(&t), tl::zeros::<f32>([rows, rows]));
        tl::store(y.block([origin, 0], [rows, rows]), acc.cast::<f16>());
    }
}

#[test]
fn hostile_kernel_arguments_trace_to_an_error_or_run() {
    use kernbench_core::exec::pe::ExecError;
    use kernbench_core::host::{LaunchOptions, Place, RuntimeError};
    use kernbench_core::Device;
    // Small sizes twice as likely, so that valid launches run too.
    const SIZES: &[usize] = &[
        1,
        7,
        16,
        64,
        1,
        7,
        16,
        64,
        0,
        1 << 20,
        1 << 32,
        1 << 63,
        usize::MAX - 1,
        usize::MAX,
    ];
    let topo = Topology::default_topology();
    let n = SIZES.len();
    let case = (0..n, 0..n, 0..n, 0..n, 0..n, 0..n, 0..n);
    fuzz(
        "kernel argument",
        600,
        10,
        &case,
        |(tr, tc, o, r, c, s, base)| {
            let mut dev = Device::new(&topo).with_data(false);
            let y = dev
                .alloc::<f16>(Place::hbm(0, 0), 64, 64)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            // A tensor view of any shape at any address (the launch decodes it).
            let at = [0, 1 << 20, SIZES[base] as u64][base % 3];
            let x = Ptr::<f16>::new(at, SIZES[tr], SIZES[tc]);
            let steps = SIZES[s].min(4);
            let args = sized::args(x, y.ptr(), SIZES[o], SIZES[r], SIZES[c], steps);
            match dev.launch::<sized>(&args, &LaunchOptions::grid([1, 1, 1])) {
                Ok(report) => {
                    prop_assert!(report.wall_ns.is_finite() && report.wall_ns >= 0.0);
                    Ok("ran")
                }
                // A deadlock lists every waiting PE, a line each.
                Err(e @ RuntimeError::Exec(ExecError::Deadlock { .. })) => {
                    prop_assert!(e.to_string().starts_with("deadlock: "));
                    Ok("refused")
                }
                Err(e) => one_line(&e.to_string()).map(|_| "refused"),
            }
        },
    );
}
