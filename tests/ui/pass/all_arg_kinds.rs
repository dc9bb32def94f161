use kernbench::prelude::*;
use kernbench_core::dsl::{ArgKind, ArgValue, DType, Kernel, KernelArgs};

/// Every supported parameter type.
#[kernel]
pub fn every_kind(
    a: Ptr<f16>,
    b: Ptr<f32>,
    n: usize,
    m: u32,
    o: i64,
    flag: bool,
    scale: f32,
    #[constexpr] bs: usize,
    #[constexpr] on: bool,
    #[constexpr] mut steps: u8,
    #[constexpr] stage: Stage,
    op: kernels::ReduceOp,
) {
    let t = tl::load_to(b.block([0, 0], [bs, bs]), stage);
    let t = if on { &t * scale } else { t };
    steps += 1;
    for _ in 0..steps {
        tl::store(b.block([0, 0], [bs, bs]), &t);
    }
    let _ = (a, n, m, o, flag, op);
}

fn main() {
    let args = every_kind::args(
        Ptr::new(0, 4, 4),
        Ptr::new(64, 4, 4),
        1,
        2,
        -3,
        true,
        0.5,
        4,
        true,
        1,
        Stage::Tcm,
        kernels::ReduceOp::Max,
    );
    let s = every_kind::trace_single(&args).unwrap();
    assert_eq!(s.counts().dma_write, 2);
    assert_eq!(every_kind::arg_meta()[0].kind, ArgKind::Ptr(DType::F16));
    assert_eq!(args.values()[4], ArgValue::Int(-3));
    assert_eq!(every_kind::arg_meta()[10].kind, ArgKind::Enum("staging"));
    assert_eq!(args.values()[11], ArgValue::Enum("max"));
    assert!(every_kind::arg_meta()[10].constexpr && !every_kind::arg_meta()[11].constexpr);
    assert_eq!(<every_kind as Kernel>::NAME, "every_kind");
}
