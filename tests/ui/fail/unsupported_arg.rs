use kernbench::prelude::*;

#[kernel]
fn k(x: Ptr<f32>, shape: Vec<usize>, scale: f64) {
    let _ = (x, shape, scale);
}

fn main() {}
