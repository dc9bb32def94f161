use kernbench::prelude::*;

#[kernel]
fn k(x: Ptr<f16>, n: usize, #[constexpr] bs: usize) {
    let _ = (x, n, bs);
}

fn main() {
    let x: Ptr<f32> = Ptr::new(0, 4, 4);
    let _ = k::args(x, 4, 2);
    let _ = k::args(Ptr::<f16>::new(0, 4, 4), 4);
}
