//! The log-sum-exp combine of split-KV decode, run with data on the
//! simulated machine: merged partial records equal the softmax over all
//! keys computed here from the scores, the merge is associative, and a
//! record that saw no key is the identity (two of them merge to zeros,
//! not NaN).

use kernbench::prelude::*;
use kernbench_core::host::{Device, LaunchOptions, Place, Tensor};
use kernbench_core::Topology;
use kernels::{Combine, LogSumExp};
use ndarray::Array2;

mod common;
use common::matrix;

const D: usize = 4;
const COLS: usize = 3;
const ROWS: usize = D + 2;

/// `left = (a ⊕ b) ⊕ c` and `right = a ⊕ (b ⊕ c)`.
#[kernel]
fn merge_three(
    a: Ptr<f32>,
    b: Ptr<f32>,
    c: Ptr<f32>,
    left: Ptr<f32>,
    right: Ptr<f32>,
    #[constexpr] rows: usize,
    #[constexpr] cols: usize,
) {
    let cx = tl::context();
    let shape = [rows, cols];
    let x = tl::load(a.block([0, 0], shape));
    let y = tl::load(b.block([0, 0], shape));
    let z = tl::load(c.block([0, 0], shape));
    let xy = LogSumExp.combine(cx, &x, &y);
    tl::store(left.block([0, 0], shape), LogSumExp.combine(cx, &xy, &z));
    let yz = LogSumExp.combine(cx, &y, &z);
    tl::store(right.block([0, 0], shape), LogSumExp.combine(cx, &x, &yz));
}

/// The record of some keys: per column (query head) `m` = the max score,
/// `l` = Σ e^(s - m), `o` = Σ e^(s - m) v; no key gives `(-inf, 0, 0)`.
fn record(scores: &Array2<f32>, values: &Array2<f32>) -> Array2<f32> {
    let mut r = Array2::<f32>::zeros((ROWS, COLS));
    for j in 0..COLS {
        let m = scores.column(j).fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        r[[0, j]] = m;
        for (k, &s) in scores.column(j).iter().enumerate() {
            let w = (f64::from(s) - f64::from(m)).exp() as f32;
            r[[1, j]] += w;
            for e in 0..D {
                r[[2 + e, j]] += w * values[[k, e]];
            }
        }
    }
    r
}

/// Scores (`keys x COLS`) and values (`keys x D`) of `keys` keys, scores
/// shifted by `shift` so the parts' maxima differ.
fn part(keys: usize, seed: u64, shift: f32) -> (Array2<f32>, Array2<f32>) {
    let s = matrix(keys, COLS, seed, -4.0, 4.0) + shift;
    (s, matrix(keys, D, seed + 100, -1.0, 1.0))
}

fn upload(dev: &mut Device, data: &Array2<f32>) -> Tensor<f32> {
    let t = dev.alloc::<f32>(Place::hbm(0, 0), ROWS, COLS).unwrap();
    dev.write(&t, data).unwrap();
    t
}

/// Merges three records in both orders on the machine.
fn merge(recs: [&Array2<f32>; 3]) -> (Array2<f32>, Array2<f32>) {
    let mut dev = Device::new(&Topology::default_topology());
    let [a, b, c] = recs.map(|r| upload(&mut dev, r));
    let zero = Array2::zeros((ROWS, COLS));
    let (left, right) = (upload(&mut dev, &zero), upload(&mut dev, &zero));
    let args = merge_three::args(
        a.ptr(),
        b.ptr(),
        c.ptr(),
        left.ptr(),
        right.ptr(),
        ROWS,
        COLS,
    );
    dev.launch::<merge_three>(&args, &LaunchOptions::grid([1, 1, 1]))
        .unwrap();
    (dev.read(&left).unwrap(), dev.read(&right).unwrap())
}

fn rel_err(got: f32, want: f32) -> f32 {
    (got - want).abs() / want.abs().max(1e-6)
}

#[test]
fn merged_records_are_the_softmax_over_all_keys_in_either_order() {
    // Three shards of 5, 7 and 3 keys; the second's scores sit 20 higher,
    // so the others' weights are rescaled by e^-20 or so.
    let parts = [part(5, 1, 0.0), part(7, 2, 20.0), part(3, 3, -3.0)];
    let recs: Vec<_> = parts.iter().map(|(s, v)| record(s, v)).collect();
    let (left, right) = merge([&recs[0], &recs[1], &recs[2]]);
    // The whole softmax, from every key's score at once.
    let stack = |v: Vec<_>| ndarray::concatenate(ndarray::Axis(0), &v).unwrap();
    let scores = stack(parts.iter().map(|p| p.0.view()).collect());
    let values = stack(parts.iter().map(|p| p.1.view()).collect());
    let want = record(&scores, &values);
    for j in 0..COLS {
        assert_eq!(left[[0, j]], want[[0, j]], "max of column {j}");
        for r in 1..ROWS {
            assert!(
                rel_err(left[[r, j]], want[[r, j]]) < 1e-5,
                "row {r} col {j}: {} vs {}",
                left[[r, j]],
                want[[r, j]]
            );
            assert!(
                rel_err(left[[r, j]], right[[r, j]]) < 1e-5,
                "order matters at row {r} col {j}: {} vs {}",
                left[[r, j]],
                right[[r, j]]
            );
        }
    }
}

#[test]
fn a_record_that_saw_no_key_is_the_identity() {
    let (s, v) = part(6, 7, 1.0);
    let seen = record(&s, &v);
    let empty = record(&Array2::zeros((0, COLS)), &Array2::zeros((0, D)));
    assert!(empty[[0, 0]] == f32::NEG_INFINITY && empty[[1, 0]] == 0.0);
    // Empty on either side of a real record leaves it as it was.
    let (left, right) = merge([&empty, &seen, &empty]);
    for r in 0..ROWS {
        for j in 0..COLS {
            assert_eq!(left[[r, j]], seen[[r, j]], "row {r} col {j}");
            assert_eq!(right[[r, j]], seen[[r, j]], "row {r} col {j}");
        }
    }
    // Nothing seen anywhere: zero weight and zero output, never NaN.
    let (left, _) = merge([&empty, &empty, &empty]);
    assert!(left.iter().all(|x| !x.is_nan()), "{left:?}");
    assert!(left
        .rows()
        .into_iter()
        .skip(1)
        .all(|r| r.iter().all(|&x| x == 0.0)));
}
