//! `kernbench run` and `kernbench list` driven through `cli::run` (no
//! process spawning): the `--json` document's keys and types, counts
//! derived from the matmul kernel's loop structure, the `--trace` timeline
//! in Chrome trace-event format, errors and determinism.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kernbench::cli::run::{self as cli_run, RunArgs};
use kernbench::cli::CliError;
use kernbench_core::Topology;
use serde_json::Value;

/// A bench run as the CLI would parse it.
fn args(bench: &str, params: &[&str]) -> RunArgs {
    RunArgs {
        bench: bench.to_string(),
        params: params.iter().map(|p| p.to_string()).collect(),
        check: false,
        timing_only: false,
        json: true,
        trace: None,
    }
}

/// Runs and parses the `--json` output; the run must pass its check.
fn run_json(a: &RunArgs) -> Value {
    let (out, ok) = cli_run::run(&Topology::default_topology(), a).unwrap();
    assert!(ok, "check failed:\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

fn run_err(a: &RunArgs) -> CliError {
    match cli_run::run(&Topology::default_topology(), a) {
        Ok((out, _)) => panic!("expected an error, got:\n{out}"),
        Err(e) => e,
    }
}

/// A fresh, empty directory of its own under the system temp dir.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("kernbench-run-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number: {}", v[key]))
}

fn count(v: &Value, key: &str) -> u64 {
    v["op_log_summary"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not an unsigned integer"))
}

/// A ragged shape: no dimension is a multiple of its block.
const SHAPE: [&str; 7] = [
    "m=100",
    "k=70",
    "n=50",
    "bm=32",
    "bn=32",
    "bk=32",
    "staging=tcm",
];
/// Its matmul grid and K loop: ceil(100/32) x ceil(50/32) programs, each
/// walking ceil(70/32) K steps.
const PROGRAMS: u64 = 4 * 2;
const K_STEPS: u64 = 3;

#[test]
fn json_has_the_documented_keys_and_types() {
    let mut a = args("gemm", &SHAPE);
    a.check = true;
    let v = run_json(&a);

    let top: BTreeSet<&str> = [
        "bench",
        "params",
        "wall_ns",
        "op_log_summary",
        "engines",
        "gemm_util_pct",
        "useful_eff_pct",
        "check",
        "events",
        "peak_commands",
        "network",
    ]
    .into();
    assert_eq!(keys(&v), top);
    assert_eq!(v["bench"], "gemm");
    assert_eq!(v["network"], "burst");
    assert!(v["events"].as_u64().unwrap() > 0);
    // One PE runs the programs one after another, each traced as it starts:
    // at most one program's commands are held, and every program here has
    // as many as the others.
    let s = &v["op_log_summary"];
    let total: u64 = [
        "dma_read_count",
        "dma_write_count",
        "gemm_count",
        "math_count",
        "ipcq_send_count",
        "ipcq_recv_count",
    ]
    .iter()
    .map(|k| s[k].as_u64().unwrap())
    .sum();
    assert_eq!(v["peak_commands"].as_u64().unwrap(), total / PROGRAMS);

    // Every parameter, defaults included, as strings; overrides applied.
    let params = v["params"].as_object().unwrap();
    for p in ["m", "k", "n", "staging", "bm", "bn", "bk"] {
        assert!(params[p].is_string(), "params.{p}: {}", params[p]);
    }
    assert_eq!(params["m"], "100");
    assert_eq!(params["staging"], "tcm");

    assert!(num(&v, "wall_ns") > 0.0);
    for k in ["gemm_util_pct", "useful_eff_pct"] {
        let x = num(&v, k);
        assert!(x > 0.0 && x <= 100.0, "{k} = {x}");
    }

    let summary = &v["op_log_summary"];
    for k in [
        "gemm_count",
        "dma_read_count",
        "dma_write_count",
        "math_count",
        "ipcq_send_count",
        "ipcq_recv_count",
    ] {
        assert!(keys(summary).contains(k), "op_log_summary lacks {k}");
    }
    for (k, x) in summary.as_object().unwrap() {
        assert!(x.is_u64(), "op_log_summary.{k} is not a count: {x}");
    }

    let engines = &v["engines"];
    for k in ["dma_in_ns", "fetch_ns", "gemm_ns", "dma_out_ns"] {
        assert!(keys(engines).contains(k), "engines lacks {k}");
    }
    for (k, x) in engines.as_object().unwrap() {
        let t = x.as_f64().unwrap_or(-1.0);
        assert!(
            t >= 0.0 && t <= num(&v, "wall_ns"),
            "engines.{k} = {x} outside [0, wall]"
        );
    }
    // The MAC array did work, so its lane was occupied.
    assert!(num(engines, "gemm_ns") > 0.0);

    let check = &v["check"];
    assert_eq!(keys(check), ["max_abs_err", "max_rel_err", "ok"].into());
    assert!(num(check, "max_abs_err") >= 0.0);
    assert!(num(check, "max_rel_err") >= 0.0);
    assert_eq!(check["ok"], true);
}

#[test]
fn counts_follow_the_kernel_loop_structure() {
    let v = run_json(&args("gemm", &SHAPE));
    // One tl::dot per K step per program.
    assert_eq!(count(&v, "gemm_count"), PROGRAMS * K_STEPS);
    // staging=tcm: each K step DMAs one A block and one B block into TCM.
    assert_eq!(count(&v, "dma_read_count"), 2 * PROGRAMS * K_STEPS);
    // One output block stored per program.
    assert_eq!(count(&v, "dma_write_count"), PROGRAMS);
    // tl::zeros (a fill) and the cast to f16 of the accumulator.
    assert_eq!(count(&v, "math_count"), 2 * PROGRAMS);
    assert_eq!(count(&v, "ipcq_send_count"), 0);
    assert_eq!(count(&v, "ipcq_recv_count"), 0);
}

#[test]
fn gemm_count_for_the_default_512_cube() {
    // Defaults: 512^3 in 128 x 128 output blocks, bk = 128:
    // 4 x 4 programs of 4 K steps each.
    let mut a = args("gemm", &[]);
    a.timing_only = true;
    let v = run_json(&a);
    assert_eq!(count(&v, "gemm_count"), 4 * 4 * 4);
    assert_eq!(v["params"]["m"], "512");
}

#[test]
fn check_is_null_without_check_and_timing_only_matches() {
    let v = run_json(&args("gemm", &SHAPE));
    assert!(v["check"].is_null(), "check: {}", v["check"]);
    let mut t = args("gemm", &SHAPE);
    t.timing_only = true;
    let w = run_json(&t);
    assert!(w["check"].is_null());
    // Data off changes nothing but the numerics.
    assert_eq!(v, w);
}

#[test]
fn the_same_run_twice_gives_identical_json() {
    let mut a = args("gemm", &SHAPE);
    a.check = true;
    let topo = Topology::default_topology();
    let first = cli_run::run(&topo, &a).unwrap();
    let second = cli_run::run(&topo, &a).unwrap();
    assert_eq!(first, second);
}

#[test]
fn text_output_without_json() {
    let mut a = args("gemm", &SHAPE);
    a.json = false;
    let (out, ok) = cli_run::run(&Topology::default_topology(), &a).unwrap();
    assert!(ok);
    assert!(out.starts_with("bench gemm"), "{out}");
    assert!(
        out.contains(&format!("gemm {}", PROGRAMS * K_STEPS)),
        "{out}"
    );
}

/// A parsed timeline and the facts the tests check about it.
struct Timeline {
    /// Pids named by `process_name` metadata events.
    processes: BTreeSet<u64>,
    /// Complete events.
    complete: Vec<Value>,
}

fn timeline(path: &Path) -> Timeline {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let events = doc["traceEvents"]
        .as_array()
        .unwrap_or_else(|| panic!("no traceEvents array"));
    let mut processes = BTreeSet::new();
    let mut threads = BTreeSet::new();
    let mut complete = Vec::new();
    for e in events {
        let pid = e["pid"].as_u64().unwrap_or_else(|| panic!("no pid: {e}"));
        match e["ph"].as_str() {
            Some("M") => {
                let label = e["args"]["name"].as_str().unwrap_or("");
                assert!(!label.is_empty(), "metadata without a name: {e}");
                match e["name"].as_str() {
                    Some("process_name") => assert!(processes.insert(pid), "{e}"),
                    Some("thread_name") => {
                        let tid = e["tid"].as_u64().unwrap_or_else(|| panic!("{e}"));
                        assert!(threads.insert((pid, tid)), "{e}");
                    }
                    _ => panic!("unexpected metadata event {e}"),
                }
            }
            Some("X") => {
                assert!(e["name"].as_str().is_some_and(|n| !n.is_empty()), "{e}");
                assert!(e["tid"].is_u64(), "{e}");
                for k in ["ts", "dur"] {
                    let x = e[k].as_f64().unwrap_or(-1.0);
                    assert!(x >= 0.0, "{k} of {e}");
                }
                complete.push(e.clone());
            }
            _ => panic!("unexpected event {e}"),
        }
    }
    // Every complete event is on a named process and thread.
    for e in &complete {
        let (pid, tid) = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        assert!(processes.contains(&pid), "unnamed process: {e}");
        assert!(threads.contains(&(pid, tid)), "unnamed thread: {e}");
    }
    Timeline {
        processes,
        complete,
    }
}

#[test]
fn trace_writes_a_chrome_timeline_atomically() {
    let dir = TempDir::new("single");
    let path = dir.0.join("t.json");
    let mut a = args("gemm", &SHAPE);
    a.trace = Some(path.clone());
    let v = run_json(&a);
    // Written whole: the file and nothing else (no temporary left behind).
    assert_eq!(dir.files(), ["t.json"]);

    let t = timeline(&path);
    assert_eq!(t.processes.len(), 1, "one PE, one process");
    // One complete event per op-log record.
    assert_eq!(t.complete.len() as u64, count(&v, "records"));
    let gemms = t.complete.iter().filter(|e| e["name"] == "gemm").count();
    assert_eq!(gemms as u64, PROGRAMS * K_STEPS);
    // Events lie within the run: their span (us) is at most the wall time.
    let first = t
        .complete
        .iter()
        .map(|e| e["ts"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    let last = t
        .complete
        .iter()
        .map(|e| e["ts"].as_f64().unwrap() + e["dur"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let wall_us = num(&v, "wall_ns") / 1000.0;
    assert!(
        last - first <= wall_us * (1.0 + 1e-9),
        "{first}..{last} vs {wall_us}"
    );

    // Tracing does not change the report, and a rerun overwrites the same
    // file with the same bytes.
    let before = std::fs::read(&path).unwrap();
    assert_eq!(run_json(&a), v);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(dir.files(), ["t.json"]);
    let mut plain = a.clone();
    plain.trace = None;
    assert_eq!(run_json(&plain), v);
}

#[test]
fn multi_pe_trace_has_one_process_per_pe_used() {
    let dir = TempDir::new("multi");
    let path = dir.0.join("multi.json");
    // 4 x 4 = 16 output blocks over the 4 PEs of one cube: every PE is used.
    let mut a = args(
        "gemm-multi-pe",
        &[
            "m=128", "k=64", "n=128", "bm=32", "bn=32", "bk=32", "pes=4", "cubes=1",
        ],
    );
    a.trace = Some(path.clone());
    a.json = false;
    let (out, ok) = cli_run::run(&Topology::default_topology(), &a).unwrap();
    assert!(ok);
    assert!(out.contains("16 program(s) on 4 PE(s)"), "{out}");
    assert_eq!(dir.files(), ["multi.json"]);
    let t = timeline(&path);
    assert_eq!(t.processes.len(), 4);
    // Each PE ran 4 programs of 2 K steps.
    for pid in &t.processes {
        let gemms = t
            .complete
            .iter()
            .filter(|e| e["pid"].as_u64() == Some(*pid) && e["name"] == "gemm")
            .count();
        assert_eq!(gemms, 4 * 2, "pid {pid}");
    }
}

#[test]
fn multi_cube_trace_uses_every_pe_of_every_cube() {
    let dir = TempDir::new("cubes");
    let path = dir.0.join("cubes.json");
    // 16 output blocks over 4 PEs on each of 2 cubes: 8 PEs, 2 programs each.
    let mut a = args(
        "gemm-multi-pe",
        &[
            "m=128", "k=64", "n=128", "bm=32", "bn=32", "bk=32", "pes=4", "cubes=2",
        ],
    );
    a.trace = Some(path.clone());
    let v = run_json(&a);
    assert_eq!(count(&v, "gemm_count"), 16 * 2);
    let t = timeline(&path);
    assert_eq!(t.processes.len(), 4 * 2, "processes {:?}", t.processes);
}

fn message(e: CliError) -> String {
    assert!(matches!(e, CliError::Usage(_)), "not a usage error: {e:?}");
    e.to_string()
}

#[test]
fn unknown_bench_names_the_valid_benches() {
    let m = message(run_err(&args("gemmm", &[])));
    assert!(m.contains("`gemmm`"), "{m}");
    for b in ["gemm", "gemm-multi-pe"] {
        assert!(m.contains(b), "{m}");
    }
}

#[test]
fn unknown_param_names_the_valid_params() {
    let m = message(run_err(&args("gemm", &["mm=4"])));
    assert!(m.contains("`mm`"), "{m}");
    for p in [
        "m=512",
        "k=512",
        "n=512",
        "staging=tcm",
        "bm=",
        "bn=",
        "bk=",
    ] {
        assert!(m.contains(p), "{m} lacks {p}");
    }
    // gemm-multi-pe's extra parameters are not gemm's.
    let m = message(run_err(&args("gemm", &["pes=2"])));
    assert!(m.contains("`pes`"), "{m}");
}

#[test]
fn bad_values_say_what_is_expected() {
    let m = message(run_err(&args("gemm", &["staging=dram"])));
    assert!(m.contains("`dram`"), "{m}");
    for v in ["hbm_ref", "tcm", "sram"] {
        assert!(m.contains(v), "{m} lacks {v}");
    }
    for bad in ["m=0", "m=-3", "k=abc", "bn="] {
        let m = message(run_err(&args("gemm", &[bad])));
        assert!(m.contains("an integer from 1 to"), "{bad}: {m}");
    }
    let m = message(run_err(&args("gemm", &["m"])));
    assert!(m.contains("key=value"), "{m}");
}

#[test]
fn list_shows_every_bench_with_its_params() {
    let out = cli_run::list();
    for b in kernbench::bench::registry() {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(b.name))
            .unwrap_or_else(|| panic!("{} not listed:\n{out}", b.name));
        assert!(line.contains(b.description), "{line}");
    }
    assert!(out.contains("params: m=512"), "{out}");
}

/// The lines `kernbench list` prints for the entry `name`: its header and
/// the indented lines under it, up to the next entry.
fn section<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = out.lines().collect();
    let start = lines
        .iter()
        .position(|l| {
            l.strip_prefix("  ")
                .is_some_and(|r| r.split_whitespace().next() == Some(name))
        })
        .unwrap_or_else(|| panic!("{name} not listed:\n{out}"));
    let rest = &lines[start + 1..];
    // Entries start at column 2; everything under one is indented further.
    let end = rest
        .iter()
        .position(|l| !l.starts_with("   "))
        .unwrap_or(rest.len());
    lines[start..start + 1 + end].to_vec()
}

/// Every parameter a spec declares is listed under its entry: in the
/// defaults line as `name=default`, and on a line of its own with its help
/// and, for a choice, every accepted value.
fn lists_every_param(out: &str, name: &str, specs: &[kernbench::params::ParamSpec]) {
    use kernbench::params::ParamKind;
    let sec = section(out, name);
    let defaults = sec
        .iter()
        .find(|l| l.trim_start().starts_with("params:"))
        .unwrap_or_else(|| panic!("{name}: no defaults line in {sec:?}"));
    for p in specs {
        assert!(
            defaults.contains(&format!("{}={}", p.name, p.default)),
            "{name}: {defaults} lacks {}={}",
            p.name,
            p.default
        );
        let line = sec
            .iter()
            .find(|l| l.split_whitespace().next() == Some(p.name))
            .unwrap_or_else(|| panic!("{name}: no line for `{}` in {sec:?}", p.name));
        assert!(line.contains(p.help), "{line} lacks its help");
        if let ParamKind::Choice { names, .. } = p.kind {
            for v in names().split(", ") {
                assert!(line.contains(v), "{line} lacks the value {v}");
            }
        }
    }
}

#[test]
fn list_shows_every_parameter_each_bench_and_kernel_accepts() {
    let out = cli_run::list();
    for b in kernbench::bench::registry() {
        lists_every_param(&out, b.name, b.params);
        // What the list shows is what the bench accepts: its defaults
        // resolve, and so does each parameter set to its default by name.
        for p in b.params {
            let kv = vec![(p.name.to_string(), p.default.to_string())];
            assert!(
                kernbench::params::Params::resolve(b.name, b.params, &kv).is_ok(),
                "{}: {}",
                b.name,
                p.name
            );
        }
    }
    for k in kernbench::catalog::catalog() {
        lists_every_param(&out, k.name, k.params);
        let kv: Vec<_> = k
            .params
            .iter()
            .map(|p| (p.name.to_string(), p.default.to_string()))
            .collect();
        assert!(k.resolve(&kv).is_ok(), "{}", k.name);
    }
}

/// `kernbench lower matmul` and `kernbench run --bench gemm` trace with one
/// SRAM-window rule: the same SRAM-staged shapes pass or fail in both.
#[test]
fn lower_and_run_accept_the_same_sram_staged_shapes() {
    let topo = Topology::default_topology();
    // (m, n, k, bm = bn, bk): the last is the shape, whose two
    // double-buffered 768 KiB operand blocks exceed a PE's SRAM window.
    let shapes = [
        (256, 256, 512, 128, 128),
        (256, 256, 2048, 256, 512),
        (256, 256, 2048, 256, 1024),
        (256, 256, 3072, 256, 1536),
    ];
    let mut outcomes = Vec::new();
    for (m, n, k, b, bk) in shapes {
        let kv = [
            ("m", m),
            ("n", n),
            ("k", k),
            ("bm", b),
            ("bn", b),
            ("bk", bk),
        ];
        let mut params: Vec<(String, String)> = kv
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        params.push(("staging".into(), "sram".into()));
        let lowered = kernbench::cli::lower::run(&topo, "matmul", &params);
        let mut a = args("gemm", &[]);
        a.params = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        a.timing_only = true;
        let ran = cli_run::run(&topo, &a);
        assert_eq!(
            lowered.is_ok(),
            ran.is_ok(),
            "{m}x{n}x{k} bm={b} bk={bk}: lower {:?}, run {:?}",
            lowered.err().map(|e| e.to_string()),
            ran.err().map(|e| e.to_string())
        );
        outcomes.push(lowered.is_ok());
    }
    assert!(outcomes[0], "a small shape fits");
    assert!(!outcomes[3], "the issue's shape overflows SRAM in both");
}

#[test]
fn shapes_past_memory_are_refused_before_any_host_array() {
    // k = 2^63 is past every integer parameter's range.
    let m = run_err(&args("gemm", &["m=2", "n=1", "k=9223372036854775808"])).to_string();
    assert!(m.contains("`k`") && m.contains("from 1 to 1048576"), "{m}");
    // 60000^3: 7.2 GB per fp16 operand (14 GB of f32 host arrays if made
    // first). With data on, A alone passes the data budget; timing-only,
    // A + B + C (21.6 GB) pass the 16 GiB slice.
    let shape = ["m=60000", "n=60000", "k=60000"];
    let m = run_err(&args("gemm", &shape)).to_string();
    let a_bytes = 60_000u64 * 60_000 * 2;
    assert!(
        m.contains("run budget exceeded") && m.contains(&a_bytes.to_string()),
        "{m}"
    );
    let mut timing = args("gemm", &shape);
    timing.timing_only = true;
    let m = run_err(&timing).to_string();
    assert!(
        m.contains("out of memory in") && m.contains("bytes requested"),
        "{m}"
    );
}
