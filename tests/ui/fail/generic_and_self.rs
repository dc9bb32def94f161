use kernbench::prelude::*;

#[kernel]
fn k<T>(x: Ptr<f32>, t: T) {
    let _ = (x, t);
}

#[kernel(fast)]
fn j(x: Ptr<f32>) {
    let _ = x;
}

fn main() {}
