//! Kernel forms: no parameters, private and public, docs and lint
//! attributes, helpers taking the context, closures and macros in the body.
use kernbench::prelude::*;

#[kernel]
fn empty() {}

/// Documented, with a lint attribute.
#[kernel]
#[allow(unused_variables)]
pub(crate) fn documented(x: Ptr<f32>) {
    let unused = 1;
}

fn helper(cx: &KernelCx, x: Ptr<f32>) -> Tile<f32> {
    tl::load(cx, x.block([0, 0], [2, 2]))
}

#[kernel]
fn uses_helpers(x: Ptr<f32>) {
    let t = helper(tl::context(), x);
    let store = |t: &Tile<f32>| tl::store(x.block([0, 0], [2, 2]), t);
    store(&t);
    let ids = vec![tl::program_id(0), tl::rank(), tl::world_size()];
    assert_eq!(ids, [0, 0, 1]);
    let _stage = tl::Stage::Sram;
}

mod inner {
    use kernbench::prelude::*;

    #[kernel]
    pub fn in_module(x: Ptr<f16>) {
        let t = tl::load_to(x.block([0, 0], [4, 4]), Stage::Sram);
        let acc = tl::dot(&t, tl::trans(&t), tl::zeros::<f32>([4, 4]));
        tl::store(x.block([0, 0], [4, 4]), acc.cast::<f16>());
    }
}

fn main() {
    assert!(empty::trace_single(&empty::args()).unwrap().commands.is_empty());
    let x = Ptr::new(0, 2, 2);
    assert!(documented::trace_single(&documented::args(x)).is_ok());
    assert_eq!(uses_helpers::trace_single(&uses_helpers::args(x)).unwrap().commands.len(), 2);
    let y = Ptr::new(0, 4, 4);
    assert_eq!(inner::in_module::trace_single(&inner::in_module::args(y)).unwrap().counts().gemm, 1);
}
