//! The kernel of README.md's "Writing a kernel", kept compiling.

use kernbench::prelude::*;

/// y = x * scale, one bs-row block per program.
#[kernel]
fn scale(x: Ptr<f32>, y: Ptr<f32>, s: f32, #[constexpr] bs: usize) {
    let r0 = tl::program_id(0) * bs;
    let t = tl::load(x.block([r0, 0], [bs, x.cols()])); // masked past the last row
    tl::store(y.block([r0, 0], [bs, y.cols()]), &t * s);
}

#[test]
fn readme_kernel_traces_and_prints() {
    let (rows, cols, bs) = (100, 8, 32);
    let args = scale::args(
        Ptr::new(0x1000, rows, cols),
        Ptr::new(0x9000, rows, cols),
        2.0,
        bs,
    );
    let programs = rows.div_ceil(bs);
    let last = ProgramInfo::grid([programs - 1, 0, 0], [programs, 1, 1]);
    let s = scale::trace(&args, &last, &TraceConfig::default()).unwrap();
    let text = s.to_string();
    let valid = rows - (programs - 1) * bs;
    assert!(text.contains(&format!("valid {valid}x{cols}")), "{text}");
    assert!(text.contains("math.mul") && text.contains(" 2"), "{text}");
}
