//! The kernel language's math, masks and masked loads, run with data on the
//! simulated machine and compared with ndarray: a softmax over rows
//! narrower than its tile, log-softmax, and every element-wise function,
//! reduction, comparison and selection. (LayerNorm with `rsqrt` is
//! README.md's example, checked in tests/readme.rs.)

use kernbench::prelude::*;
use kernbench_core::host::{Device, LaunchOptions, Place, Tensor};
use kernbench_core::Topology;
use ndarray::{Array2, Axis};

mod common;
use common::{f16_round, matrix, max_abs_diff};

fn device() -> Device {
    Device::new(&Topology::default_topology())
}

fn upload<T: kernbench_core::dsl::Elem>(dev: &mut Device, data: &Array2<f32>) -> Tensor<T> {
    let t = dev
        .alloc::<T>(Place::hbm(0, 0), data.nrows(), data.ncols())
        .unwrap();
    dev.write(&t, data).unwrap();
    t
}

fn zeros<T: kernbench_core::dsl::Elem>(dev: &mut Device, rows: usize, cols: usize) -> Tensor<T> {
    dev.alloc::<T>(Place::hbm(0, 0), rows, cols).unwrap()
}

/// Row softmax with the tile wider than the row: the masked columns are
/// loaded as -inf, so they contribute e^-inf = 0.
#[kernel]
fn softmax_rows(x: Ptr<f32>, y: Ptr<f32>, #[constexpr] bm: usize, #[constexpr] width: usize) {
    let r0 = tl::program_id(0) * bm;
    let t = tl::load_or(x.block([r0, 0], [bm, width]), f32::NEG_INFINITY);
    let e = tl::exp(&(&t - &t.row_max()));
    tl::store(y.block([r0, 0], [bm, width]), &e / &e.row_sum());
}

fn softmax_ref(x: &Array2<f32>) -> Array2<f32> {
    let mut y = x.clone();
    for mut row in y.rows_mut() {
        let m = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - m).exp());
        let s = row.sum();
        row.mapv_inplace(|v| v / s);
    }
    y
}

#[test]
fn softmax_over_1000_columns_with_a_1024_wide_tile_uses_the_fill_value() {
    let (rows, cols, width, bm) = (8, 1000, 1024, 4);
    let xs = matrix(rows, cols, 1, -4.0, 4.0);
    let mut dev = device();
    let x = upload::<f32>(&mut dev, &xs);
    let y = zeros::<f32>(&mut dev, rows, cols);
    let args = softmax_rows::args(x.ptr(), y.ptr(), bm, width);
    dev.launch::<softmax_rows>(&args, &LaunchOptions::grid([rows / bm, 1, 1]))
        .unwrap();
    let got = dev.read(&y).unwrap();
    let want = softmax_ref(&xs);
    assert!(
        max_abs_diff(&got, &want) < 1e-6,
        "{}",
        max_abs_diff(&got, &want)
    );
    for s in got.sum_axis(Axis(1)) {
        assert!((s - 1.0).abs() < 1e-5, "row sum {s}");
    }
}

/// Loads a `rows x width` block of a narrower tensor and stores it whole
/// into a `rows x width` one, showing what the masked part read as.
#[kernel]
fn pad_probe(x: Ptr<f32>, y: Ptr<f32>, z: Ptr<f32>) {
    let block = [y.rows(), y.cols()];
    tl::store(y.block([0, 0], block), tl::load(x.block([0, 0], block)));
    tl::store(
        z.block([0, 0], block),
        tl::load_or(x.block([0, 0], block), 7.5),
    );
}

#[test]
fn a_masked_load_reads_zero_by_default_and_the_fill_value_with_load_or() {
    let xs = matrix(3, 5, 2, 1.0, 2.0);
    let mut dev = device();
    let x = upload::<f32>(&mut dev, &xs);
    let (y, z) = (zeros::<f32>(&mut dev, 4, 8), zeros::<f32>(&mut dev, 4, 8));
    dev.launch::<pad_probe>(
        &pad_probe::args(x.ptr(), y.ptr(), z.ptr()),
        &LaunchOptions::grid([1, 1, 1]),
    )
    .unwrap();
    let (yv, zv) = (dev.read(&y).unwrap(), dev.read(&z).unwrap());
    for r in 0..4 {
        for c in 0..8 {
            let inside = r < 3 && c < 5;
            let (want_y, want_z) = if inside {
                (xs[[r, c]], xs[[r, c]])
            } else {
                (0.0, 7.5)
            };
            assert_eq!((yv[[r, c]], zv[[r, c]]), (want_y, want_z), "[{r}, {c}]");
        }
    }
}

/// Log-softmax of each row: `x - max - log(sum(exp(x - max)))`.
#[kernel]
fn log_softmax(x: Ptr<f16>, y: Ptr<f16>, #[constexpr] bm: usize) {
    let r0 = tl::program_id(0) * bm;
    let t = tl::load(x.block([r0, 0], [bm, x.cols()])).cast::<f32>();
    let shifted = &t - &t.row_max();
    let lse = tl::log(&tl::exp(&shifted).row_sum());
    tl::store(
        y.block([r0, 0], [bm, y.cols()]),
        (&shifted - &lse).cast::<f16>(),
    );
}

#[test]
fn log_softmax_matches_ndarray_to_f16_tolerance() {
    let (rows, cols, bm) = (8, 128, 4);
    let xs = matrix(rows, cols, 4, -6.0, 6.0);
    let mut dev = device();
    let x = upload::<f16>(&mut dev, &xs);
    let y = zeros::<f16>(&mut dev, rows, cols);
    dev.launch::<log_softmax>(
        &log_softmax::args(x.ptr(), y.ptr(), bm),
        &LaunchOptions::grid([rows / bm, 1, 1]),
    )
    .unwrap();
    let got = dev.read(&y).unwrap();
    let want = softmax_ref(&f16_round(&xs)).mapv(f32::ln);
    // Values reach about -17: an f16 ulp there is 2^-6.
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs() / w.abs().max(1.0))
        .fold(0.0, f32::max);
    assert!(worst < 1e-3, "worst relative error {worst}");
}

/// Every element-wise function, reduction, comparison and selection once,
/// each written to its own row block of `out` (f32 throughout, so the
/// comparison with ndarray is exact up to libm).
#[kernel]
fn battery(x: Ptr<f32>, out: Ptr<f32>) {
    let [r, c] = [x.rows(), x.cols()];
    let t = tl::load(x.block([0, 0], [r, c]));
    let pos = tl::abs(&t) + 0.5;
    let slot = |i: usize| out.block([i * r, 0], [r, c]);
    tl::store(slot(0), tl::sqrt(&pos));
    tl::store(slot(1), tl::rsqrt(&pos));
    tl::store(slot(2), tl::log(&pos));
    tl::store(slot(3), tl::abs(&t));
    tl::store(slot(4), -&t);
    tl::store(slot(5), 1.0 / &pos);
    tl::store(slot(6), 2 - &t * 3);
    tl::store(slot(7), tl::min(&t, 0.25));
    tl::store(slot(8), tl::max(&t, t.col_max()));
    tl::store(slot(9), &t - &t.col_sum() + &t.row_min() - &t.col_min());
    // Masks: rows at or past the middle and strictly positive values.
    let lower = tl::arange_rows(0, r).ge(tl::full::<f32>([1, 1], (r / 2) as f32));
    let positive = t.gt(0.0);
    let both = &lower & &positive;
    let either = &lower | &positive;
    tl::store(slot(10), tl::select(&both, &t, -1.0));
    tl::store(slot(11), tl::select(&!either, 5.0, &t));
    let diag = tl::arange_rows(0, r).eq(tl::arange_cols(0, c));
    tl::store(slot(12), diag.cast::<f32>());
    tl::store(slot(13), tl::arange_cols(10, c) - tl::arange_rows(0, r));
}

#[test]
fn element_wise_functions_reductions_and_masks_match_ndarray() {
    let (r, c) = (6, 10);
    let xs = matrix(r, c, 5, -2.0, 2.0);
    let mut dev = device();
    let x = upload::<f32>(&mut dev, &xs);
    let out = zeros::<f32>(&mut dev, 14 * r, c);
    dev.launch::<battery>(
        &battery::args(x.ptr(), out.ptr()),
        &LaunchOptions::grid([1, 1, 1]),
    )
    .unwrap();
    let got = dev.read(&out).unwrap();
    let pos = xs.mapv(|v| v.abs() + 0.5);
    let col = |f: fn(f32, f32) -> f32, init: f32| {
        xs.fold_axis(Axis(0), init, |&a, &b| f(a, b))
            .insert_axis(Axis(0))
    };
    let col_max = col(f32::max, f32::NEG_INFINITY);
    let col_min = col(f32::min, f32::INFINITY);
    let col_sum = xs.sum_axis(Axis(0)).insert_axis(Axis(0));
    let row_min = xs
        .fold_axis(Axis(1), f32::INFINITY, |&a, &b| a.min(b))
        .insert_axis(Axis(1));
    let mask = |f: &dyn Fn(usize, usize, f32) -> f32| {
        Array2::from_shape_fn((r, c), |(i, j)| f(i, j, xs[[i, j]]))
    };
    let want: Vec<Array2<f32>> = vec![
        pos.mapv(f32::sqrt),
        pos.mapv(|v| 1.0 / v.sqrt()),
        pos.mapv(f32::ln),
        xs.mapv(f32::abs),
        xs.mapv(|v| -v),
        pos.mapv(|v| 1.0 / v),
        xs.mapv(|v| 2.0 - v * 3.0),
        xs.mapv(|v| v.min(0.25)),
        Array2::from_shape_fn((r, c), |(i, j)| xs[[i, j]].max(col_max[[0, j]])),
        &xs - &col_sum + &row_min - &col_min,
        mask(&|i, _, v| if i >= r / 2 && v > 0.0 { v } else { -1.0 }),
        mask(&|i, _, v| if !(i >= r / 2 || v > 0.0) { 5.0 } else { v }),
        mask(&|i, j, _| if i == j { 1.0 } else { 0.0 }),
        mask(&|i, j, _| (10 + j) as f32 - i as f32),
    ];
    for (k, w) in want.iter().enumerate() {
        let g = got.slice(ndarray::s![k * r..(k + 1) * r, ..]).to_owned();
        assert!(
            max_abs_diff(&g, w) <= 1e-6 * w.iter().fold(1.0f32, |m, v| m.max(v.abs())),
            "slot {k}: got\n{g}\nwant\n{w}"
        );
    }
}

/// Index tiles are exact only up to 2^24 in f32: beyond, a trace error.
#[kernel]
fn huge_index(x: Ptr<f32>, #[constexpr] start: usize) {
    tl::store(x.block([0, 0], [1, 4]), tl::arange_cols(start, 4));
}

#[test]
fn index_tiles_past_f32_exactness_are_an_error() {
    let x = Ptr::new(0, 1, 4);
    assert!(huge_index::trace_single(&huge_index::args(x, (1 << 24) - 4)).is_ok());
    let e = huge_index::trace_single(&huge_index::args(x, (1 << 24) - 3)).unwrap_err();
    assert!(e.to_string().contains("exceeds 16777216"), "{e}");
}

/// Marks where an f16 tile equals 0.1 — as f16 holds it.
#[kernel]
fn equals_tenth(x: Ptr<f16>, y: Ptr<f32>) {
    let t = tl::load(x.block([0, 0], [1, 4]));
    tl::store(y.block([0, 0], [1, 4]), t.eq(0.1).cast::<f32>());
}

#[test]
fn an_f16_tile_compares_with_the_scalar_rounded_to_f16() {
    // 0.1 is not an f16; the tile holds f16(0.1) = 0.0999755859375.
    let xs = Array2::from_shape_vec((1, 4), vec![0.1, 0.2, 0.1, 0.0]).unwrap();
    let mut dev = device();
    let x = upload::<f16>(&mut dev, &xs);
    let y = zeros::<f32>(&mut dev, 1, 4);
    dev.launch::<equals_tenth>(
        &equals_tenth::args(x.ptr(), y.ptr()),
        &LaunchOptions::grid([1, 1, 1]),
    )
    .unwrap();
    assert_eq!(
        dev.read(&y).unwrap().row(0).to_vec(),
        vec![1.0, 0.0, 1.0, 0.0]
    );
}
