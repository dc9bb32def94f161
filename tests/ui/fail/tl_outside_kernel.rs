use kernbench::prelude::*;

fn not_a_kernel(x: Ptr<f32>) {
    let t = tl::load(x.block([0, 0], [4, 4]));
    let _ = t;
}

fn main() {}
