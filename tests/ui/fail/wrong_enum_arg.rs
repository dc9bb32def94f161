use kernbench::prelude::*;

/// An enum that is not a kernel argument: it does not implement `KernelArg`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    RowMajor,
}

#[kernel]
fn k(x: Ptr<f16>, #[constexpr] stage: Stage, layout: Layout) {
    let _ = (x, stage, layout);
}

fn main() {
    let x = Ptr::<f16>::new(0, 4, 4);
    // A `ReduceOp` where the kernel takes a `Stage`.
    let _ = k::args(x, kernels::ReduceOp::Sum, Layout::RowMajor);
}
