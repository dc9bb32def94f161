use kernbench::prelude::*;

#[kernel]
fn k(x: Ptr<f32>, #[constexpr] scale: f32) {
    let _ = (x, scale);
}

fn main() {}
