//! Misuse caught while tracing: each error names kernel, program and the
//! operation or command; none panics.

use kernbench::prelude::*;
use kernbench_core::dsl::{Command, Kernel, OpError, TraceErrorKind};
use kernels::{flash_attention, flash_attention_block};

#[kernel]
fn oob(x: Ptr<f16>, #[constexpr] r0: usize) {
    let t = tl::load(x.block([r0, 0], [8, 8]));
    tl::store(x.block([0, 0], [8, 8]), t);
}

#[test]
fn block_fully_outside_is_out_of_bounds() {
    let p = ProgramInfo::grid([1, 0, 0], [2, 1, 1]);
    let cfg = TraceConfig::default();
    assert!(
        oob::trace(&oob::args(Ptr::new(0, 10, 8), 9), &p, &cfg).is_ok(),
        "partly inside is masked"
    );
    let e = oob::trace(&oob::args(Ptr::new(0, 10, 8), 10), &p, &cfg).unwrap_err();
    assert!(matches!(
        *e.kind,
        TraceErrorKind::Op {
            op: "tl::load",
            index: 0,
            error: OpError::OutOfBounds { .. }
        }
    ));
    let msg = e.to_string();
    assert!(
        msg.contains("kernel `oob`") && msg.contains("program (1,0,0) of (2,1,1)"),
        "{msg}"
    );
    assert!(
        msg.contains("out of bounds: block at [10, 0] of shape 8x8 lies outside the 10x8 tensor"),
        "{msg}"
    );
}

#[kernel]
fn bad_dot(a: Ptr<f16>, b: Ptr<f16>) {
    let x = tl::load(a.block([0, 0], [16, 32]));
    let y = tl::load(b.block([0, 0], [16, 16]));
    let acc = tl::dot(&x, &y, tl::zeros::<f32>([16, 16]));
    tl::store(b.block([0, 0], [16, 16]), acc.cast::<f16>());
}

#[test]
fn dot_shape_mismatch_names_the_op() {
    let e = bad_dot::trace_single(&bad_dot::args(Ptr::new(0, 16, 32), Ptr::new(0, 16, 16)))
        .unwrap_err();
    assert!(
        matches!(
            *e.kind,
            TraceErrorKind::Op {
                op: "tl::dot",
                index: 3,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("kernel `bad_dot`") && msg.contains("`tl::dot`"),
        "{msg}"
    );
    assert!(msg.contains("a is 16x32, b is 16x16"), "{msg}");
}

#[kernel]
fn bad_broadcast(x: Ptr<f32>) {
    let a = tl::load(x.block([0, 0], [4, 8]));
    let b = tl::zeros::<f32>([8, 4]);
    tl::store(x.block([0, 0], [4, 8]), &a + &b);
}

#[test]
fn elementwise_shapes_must_broadcast() {
    let e = bad_broadcast::trace_single(&bad_broadcast::args(Ptr::new(0, 4, 8))).unwrap_err();
    assert!(
        e.to_string().contains("cannot broadcast 4x8 with 8x4"),
        "{e}"
    );
}

#[kernel]
fn bad_axis(x: Ptr<f32>, #[constexpr] step: usize) {
    let r = tl::program_id(3);
    for i in (0..4).step_by(step) {
        tl::store(x.block([r + i, 0], [1, 1]), tl::zeros::<f32>([1, 1]));
    }
}

#[kernel]
fn stepped(x: Ptr<f32>, #[constexpr] step: usize) {
    for i in (0..4).step_by(step) {
        tl::store(x.block([i, 0], [1, 1]), tl::zeros::<f32>([1, 1]));
    }
}

#[test]
fn bad_axis_and_user_panics_become_errors() {
    let e = bad_axis::trace_single(&bad_axis::args(Ptr::new(0, 4, 1), 1)).unwrap_err();
    assert!(e.to_string().contains("axis 3 is not 0, 1 or 2"), "{e}");
    // The body stops at the bad axis: `step_by(0)` after it never runs.
    let e = bad_axis::trace_single(&bad_axis::args(Ptr::new(0, 4, 1), 0)).unwrap_err();
    assert!(e.to_string().contains("axis 3 is not 0, 1 or 2"), "{e}");
    // `step_by(0)` panics inside the body: reported, not propagated.
    let e = stepped::trace_single(&stepped::args(Ptr::new(0, 4, 1), 0)).unwrap_err();
    assert!(matches!(*e.kind, TraceErrorKind::Panic(_)), "{e:?}");
}

#[test]
fn program_outside_the_grid_is_rejected() {
    let p = ProgramInfo::grid([2, 0, 0], [2, 1, 1]);
    let e = oob::trace(
        &oob::args(Ptr::new(0, 8, 8), 0),
        &p,
        &TraceConfig::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("program_id(0) = 2 is outside the grid of 2"),
        "{e}"
    );
}

#[test]
fn runaway_traces_are_cut_off() {
    let cfg = TraceConfig::default();
    let e = oob::trace(
        &oob::args(Ptr::new(0, 8, 8), 0),
        &ProgramInfo::single(),
        &TraceConfig {
            max_commands: 1,
            ..cfg
        },
    );
    assert!(e.unwrap_err().to_string().contains("exceeded 1 commands"));
}

#[test]
fn metadata_describes_the_signature() {
    let meta = kernels::matmul::arg_meta();
    let names: Vec<_> = meta.iter().map(|m| m.name).collect();
    assert_eq!(
        names,
        ["a", "b", "c", "m", "n", "k", "bm", "bn", "bk", "staging"]
    );
    assert_eq!(meta[0].ty, "Ptr<f16>");
    let constexpr: Vec<_> = meta
        .iter()
        .filter(|m| m.constexpr)
        .map(|m| m.name)
        .collect();
    assert_eq!(constexpr, ["bm", "bn", "bk", "staging"]);
    assert_eq!(<kernels::matmul as Kernel>::NAME, "matmul");
}

#[test]
fn attention_is_two_dots_per_kv_block() {
    let (sq, skv, d, bm, bn) = (128, 200, 64, 64, 64);
    let args = flash_attention::args(
        Ptr::new(0x1000, sq, d),
        Ptr::new(0x2000, skv, d),
        Ptr::new(0x3000, skv, d),
        Ptr::new(0x4000, sq, d),
        skv,
        d,
        bm,
        bn,
        0.125,
    );
    let p = ProgramInfo::grid([1, 0, 0], [sq / bm, 1, 1]);
    let s = flash_attention::trace(&args, &p, &TraceConfig::default()).unwrap();
    let kv_blocks = skv.div_ceil(bn);
    let c = s.counts();
    assert_eq!(c.gemm, 2 * kv_blocks);
    assert_eq!(c.dma_read, 1 + 2 * kv_blocks, "q once, k and v per block");
    assert_eq!(c.dma_write, 1);
    let gemms: Vec<_> = s
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Gemm(g) => Some(*g),
            _ => None,
        })
        .collect();
    // q @ k^T then p @ v; the last kv block is shortened, not masked.
    let last = skv - (kv_blocks - 1) * bn;
    assert!(gemms[0].b.trans && !gemms[1].b.trans);
    assert_eq!((gemms[0].m, gemms[0].k, gemms[0].n), (bm, d, bn));
    assert_eq!((gemms[1].m, gemms[1].k, gemms[1].n), (bm, bn, d));
    let n = gemms.len();
    assert_eq!((gemms[n - 2].n, gemms[n - 1].k), (last, last));
}

#[kernel]
fn attention_from_helper(q: Ptr<f16>, k: Ptr<f16>, v: Ptr<f16>, o: Ptr<f16>) {
    let qt = tl::load(q.block([0, 0], [16, 32]));
    let st = flash_attention_block(tl::context(), &qt, k, v, 0, 48, 16, 1.0);
    tl::store(o.block([0, 0], [16, 32]), st.output().cast::<f16>());
}

#[test]
fn attention_block_is_reusable_from_other_kernels() {
    let p = |b| Ptr::new(b, 48, 32);
    let s = attention_from_helper::trace_single(&attention_from_helper::args(
        p(0),
        p(1 << 20),
        p(2 << 20),
        p(3 << 20),
    ));
    assert_eq!(s.unwrap().counts().gemm, 2 * 3);
}

#[kernel]
fn huge(x: Ptr<f32>) {
    let t = tl::load(x.block([0, 0], [usize::MAX / 2, 4]));
    tl::store(x.block([0, 0], [usize::MAX / 2, 4]), t);
}

#[test]
fn absurd_shapes_fail_allocation_instead_of_overflowing() {
    let e = huge::trace_single(&huge::args(Ptr::new(0, 8, 4))).unwrap_err();
    assert!(
        matches!(*e.kind, TraceErrorKind::Overflow { index: 0, .. }),
        "{e:?}"
    );
}

/// The 1-based line of this file holding `marker` (written once, in a
/// comment on the line a test expects an error to name).
fn line_of(marker: &str) -> u32 {
    let src = include_str!("dsl_errors.rs");
    let at: Vec<usize> = src
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(marker) && l.contains("// at:"))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(at.len(), 1, "marker {marker} must be on exactly one line");
    at[0] as u32
}

#[kernel]
fn located(a: Ptr<f16>, b: Ptr<f16>, #[constexpr] which: usize) {
    let x = tl::load(a.block([0, 0], [16, 32]));
    let y = tl::load(b.block([0, 0], [16, 16]));
    if which == 0 {
        let acc = tl::dot(&x, &y, tl::zeros::<f32>([16, 16])); // at: DOT
        tl::store(b.block([0, 0], [16, 16]), acc.cast::<f16>());
    } else if which == 1 {
        let bad = &x.cast::<f32>() + &y.cast::<f32>(); // at: ADD
        tl::store(a.block([0, 0], [16, 32]), bad.cast::<f16>());
    } else if which == 2 {
        tl::store(a.block([99, 0], [16, 32]), x); // at: STORE
    } else {
        let v: Vec<usize> = Vec::new();
        let _ = v[which]; // at: PANIC
    }
}

#[test]
fn trace_errors_name_the_source_line_of_the_call() {
    let args = |which| located::args(Ptr::new(0, 16, 32), Ptr::new(1 << 12, 16, 16), which);
    for (which, marker, op) in [
        (0, "DOT", "tl::dot"),
        (1, "ADD", "+"),
        (2, "STORE", "tl::store"),
    ] {
        let e = located::trace_single(&args(which)).unwrap_err();
        let at =
            e.at.clone()
                .unwrap_or_else(|| panic!("{marker}: no location in {e}"));
        assert!(at.file.ends_with("dsl_errors.rs"), "{at}");
        assert_eq!(at.line, line_of(marker), "{marker}: {e}");
        assert!(
            matches!(&*e.kind, TraceErrorKind::Op { op: o, .. } if *o == op),
            "{e:?}"
        );
        // Compiler style: the location leads the message.
        assert!(
            e.to_string()
                .starts_with(&format!("{at}: kernel `located`")),
            "{e}"
        );
    }
    let e = located::trace_single(&args(3)).unwrap_err();
    assert!(matches!(*e.kind, TraceErrorKind::Panic(_)), "{e:?}");
    assert_eq!(
        e.at.map(|a| a.line),
        Some(line_of("PANIC")),
        "the panic's line"
    );
}

/// Two 512 KiB loads fill the 1 MiB scratch: the sum is what does not fit,
/// and the overflow names its line.
#[kernel]
fn overflowing(x: Ptr<f32>) {
    let a = tl::load(x.block([0, 0], [256, 512]));
    let b = tl::load(x.block([0, 0], [256, 512]));
    let sum = &a + &b; // at: OVERFLOW
    tl::store(x.block([0, 0], [256, 512]), sum);
}

#[test]
fn an_allocation_overflow_names_the_line_of_the_command_that_did_not_fit() {
    let e = overflowing::trace_single(&overflowing::args(Ptr::new(0, 256, 512))).unwrap_err();
    assert!(matches!(*e.kind, TraceErrorKind::Overflow { .. }), "{e:?}");
    assert_eq!(
        e.at.clone().map(|a| a.line),
        Some(line_of("OVERFLOW")),
        "{e}"
    );
}

#[test]
fn a_kernel_panic_prints_nothing() {
    // Run again as a child process, so the panic hook's output can be read
    // from its stderr: the kernel's panic must print nothing, while a panic
    // outside a kernel body still reaches the usual hook.
    if std::env::var_os("KERNBENCH_PANIC_CHILD").is_some() {
        let args = located::args(Ptr::new(0, 16, 32), Ptr::new(1 << 12, 16, 16), 3);
        let e = located::trace_single(&args).unwrap_err();
        assert!(e.to_string().contains("index out of bounds"), "{e}");
        let other = std::panic::catch_unwind(|| panic!("an ordinary panic"));
        assert!(other.is_err());
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_kernel_panic_prints_nothing",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KERNBENCH_PANIC_CHILD", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test: {stdout}"
    );
    assert!(
        !stderr.contains("index out of bounds"),
        "kernel panic printed: {stderr}"
    );
    assert!(
        stderr.contains("an ordinary panic"),
        "the usual hook is gone: {stderr}"
    );
}

/// Loads the same block `n` times: a body that would run for hours if it
/// kept looping after its first error.
#[kernel]
fn many_loads(x: Ptr<f16>, n: u64) {
    for _ in 0..n {
        tl::load(x.block([0, 0], [8, 8]));
    }
}

#[test]
fn a_trace_stops_at_its_first_error() {
    let cfg = TraceConfig {
        max_commands: 100,
        ..TraceConfig::default()
    };
    let p = ProgramInfo::single();
    // 10^12 iterations past a cap of 100: the body must stop at the cap.
    let e = many_loads::trace(
        &many_loads::args(Ptr::new(0, 8, 8), 1_000_000_000_000),
        &p,
        &cfg,
    )
    .unwrap_err();
    assert!(matches!(*e.kind, TraceErrorKind::TooLong(100)), "{e}");
    // A failing op stops it too: the error is the first one, not a later.
    let e = oob::trace(&oob::args(Ptr::new(0, 10, 8), 10), &p, &cfg).unwrap_err();
    assert!(
        matches!(*e.kind, TraceErrorKind::Op { index: 0, .. }),
        "{e}"
    );
    // And the next trace on this thread runs normally.
    assert!(many_loads::trace(&many_loads::args(Ptr::new(0, 8, 8), 3), &p, &cfg).is_ok());
}
