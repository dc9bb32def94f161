use kernbench::prelude::*;

#[kernel]
fn k(x: Ptr<f32>) -> usize {
    x.rows()
}

fn main() {}
