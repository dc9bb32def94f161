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

#[test]
fn bad_axis_and_user_panics_become_errors() {
    let e = bad_axis::trace_single(&bad_axis::args(Ptr::new(0, 4, 1), 1)).unwrap_err();
    assert!(e.to_string().contains("axis 3 is not 0, 1 or 2"), "{e}");
    // `step_by(0)` panics inside the body: reported, not propagated.
    let e = bad_axis::trace_single(&bad_axis::args(Ptr::new(0, 4, 1), 0)).unwrap_err();
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
