//! Every kernel on every instruction set this CPU has, against plain `f64` loops.

use super::vector::{Portable, Vector};
use super::*;
use crate::activation::{Identity, ReLU, Sigmoid};
use crate::testing::assert_close;
use rand::{Rng, SeedableRng};

fn random(rng: &mut impl Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// `Σ_k A(i, k)·B(k, j)` in `f64`, for `i < m`, `j < n`.
fn product(
    (m, n, k): (usize, usize, usize),
    a: impl Fn(usize, usize) -> f32,
    b: impl Fn(usize, usize) -> f32,
) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|kk| f64::from(a(i, kk)) * f64::from(b(kk, j)))
                .sum();
        }
    }
    c
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Tolerance for sums of `k` products of values in ±1: 1e-5 up to `k = 64`, then growing like
/// `√k`, as the rounding error of an `f32` sum does (whatever the order of the sum).
fn tol(k: usize) -> f32 {
    1e-5 * (k as f32 / 64.0).sqrt().max(1.0)
}

/// `values` (`rows × cols`, row-major) transposed.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| values[(i % rows) * cols + i / rows])
        .collect()
}

/// Checks all three kernels at `level` for one shape, with the weight in both layouts.
fn check(level: Level, rows: usize, inputs: usize, outputs: usize) {
    for layout in [WeightLayout::OutIn, WeightLayout::InOut] {
        check_layout(level, rows, inputs, outputs, layout);
    }
}

fn check_layout(level: Level, rows: usize, inputs: usize, outputs: usize, layout: WeightLayout) {
    let what =
        |kernel: &str| format!("{level:?} {kernel} rows={rows} {inputs}→{outputs} {layout:?}");
    let mut rng = rand::rngs::StdRng::seed_from_u64((rows * 1000 + inputs * 10 + outputs) as u64);
    let dims = Dims {
        rows,
        inputs,
        outputs,
        layout,
    };
    let t = tol;
    let x = random(&mut rng, rows * inputs);
    // In PyTorch's order, as the expected values are computed; `stored` as the kernels see it.
    let w = random(&mut rng, outputs * inputs);
    let store = |pytorch: &[f32]| match layout {
        WeightLayout::OutIn => pytorch.to_vec(),
        WeightLayout::InOut => transpose(pytorch, outputs, inputs),
    };
    let stored_w = store(&w);
    let b = random(&mut rng, outputs);
    let dz = random(&mut rng, rows * outputs);

    // forward, with and without an activation
    let mut expected = product(
        (rows, outputs, inputs),
        |i, k| x[i * inputs + k],
        |k, j| w[j * inputs + k],
    );
    for (i, v) in expected.iter_mut().enumerate() {
        *v += f64::from(b[i % outputs]);
    }
    let expected = to_f32(&expected);
    let mut z = vec![f32::NAN; rows * outputs];
    forward_at(level, dims, &x, &stored_w, &b, &mut z, None, &Identity);
    assert_close(&what("forward z"), &z, &expected, t(inputs), t(inputs));
    let mut z = vec![f32::NAN; rows * outputs];
    let mut a = vec![f32::NAN; rows * outputs];
    forward_at(
        level,
        dims,
        &x,
        &stored_w,
        &b,
        &mut z,
        Some(&mut a),
        &Identity,
    );
    let close = |name: &str, values: &[f32], expected: &[f32]| {
        assert_close(&what(name), values, expected, t(inputs), t(inputs));
    };
    close("forward z (activated)", &z, &expected);
    close("forward a (activated)", &a, &expected);
    // ReLU is applied as the product stores (or after it, for dot products); `z` is only
    // scratch then.
    let mut a = vec![f32::NAN; rows * outputs];
    forward_at(level, dims, &x, &stored_w, &b, &mut z, Some(&mut a), &ReLU);
    let relu: Vec<f32> = expected.iter().map(|v| v.max(0.0)).collect();
    close("forward a (ReLU)", &a, &relu);

    // weight gradient, overwritten then accumulated
    let dw_expected = product(
        (outputs, inputs, rows),
        |i, k| dz[k * outputs + i],
        |k, j| x[k * inputs + j],
    );
    let db_expected: Vec<f64> = (0..outputs)
        .map(|o| (0..rows).map(|r| f64::from(dz[r * outputs + o])).sum())
        .collect();
    let mut dw = vec![f32::NAN; outputs * inputs];
    let mut db = vec![f32::NAN; outputs];
    weight_grad_at(level, dims, &x, &dz, &mut dw, &mut db, false);
    assert_close(
        &what("dW"),
        &dw,
        &store(&to_f32(&dw_expected)),
        t(rows),
        t(rows),
    );
    assert_close(&what("db"), &db, &to_f32(&db_expected), t(rows), t(rows));
    let start_w = random(&mut rng, outputs * inputs);
    let start_b = random(&mut rng, outputs);
    let (mut dw, mut db) = (store(&start_w), start_b.clone());
    weight_grad_at(level, dims, &x, &dz, &mut dw, &mut db, true);
    let plus = |start: &[f32], add: &[f64]| -> Vec<f32> {
        start
            .iter()
            .zip(add)
            .map(|(&s, &a)| (f64::from(s) + a) as f32)
            .collect()
    };
    assert_close(
        &what("dW accumulated"),
        &dw,
        &store(&plus(&start_w, &dw_expected)),
        t(rows),
        t(rows),
    );
    assert_close(
        &what("db accumulated"),
        &db,
        &plus(&start_b, &db_expected),
        t(rows),
        t(rows),
    );

    // input gradient, through the identity and through a sigmoid's derivative
    let dx_expected = to_f32(&product(
        (rows, inputs, outputs),
        |i, k| dz[i * outputs + k],
        |k, j| w[k * inputs + j],
    ));
    let prev_z = random(&mut rng, rows * inputs);
    let prev_a: Vec<f32> = prev_z.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect();
    let mut dx = vec![f32::NAN; rows * inputs];
    input_grad_at(
        level, dims, &dz, &stored_w, &prev_z, &prev_a, &Identity, &mut dx,
    );
    assert_close(&what("dx"), &dx, &dx_expected, t(outputs), t(outputs));
    let mut dx = vec![f32::NAN; rows * inputs];
    input_grad_at(
        level, dims, &dz, &stored_w, &prev_z, &prev_a, &Sigmoid, &mut dx,
    );
    let through: Vec<f32> = dx_expected
        .iter()
        .zip(&prev_a)
        .map(|(&g, &y)| g * y * (1.0 - y))
        .collect();
    assert_close(&what("dx (sigmoid)"), &dx, &through, t(outputs), t(outputs));
    // ReLU's derivative is applied as the product stores, from its output alone: `prev_z`
    // is scratch, and zero lanes of the output (about half) get a zero gradient.
    let relu: Vec<f32> = prev_z.iter().map(|&v| v.max(0.0)).collect();
    let through: Vec<f32> = dx_expected
        .iter()
        .zip(&relu)
        .map(|(&d, &y)| if y > 0.0 { d } else { 0.0 })
        .collect();
    let mut dx = vec![f32::NAN; rows * inputs];
    let scratch = vec![f32::NAN; rows * inputs];
    input_grad_at(level, dims, &dz, &stored_w, &scratch, &relu, &ReLU, &mut dx);
    assert_close(&what("dx (ReLU)"), &dx, &through, t(outputs), t(outputs));
}

/// Under Miri, which interprets every operation some ten thousand times slower: rows and
/// shapes that still reach each tile height (4, 2, 1), dot products of each shape, narrow and
/// wide tiles with edges, and (with Miri's smaller blocking sizes) packed and shared products.
#[cfg(miri)]
#[test]
fn every_level_agrees_with_f64_loops_on_awkward_shapes() {
    let shapes = [(1, 1), (7, 3), (3, 7), (9, 17), (5, 2)];
    for level in available_levels() {
        for rows in [1, 7] {
            for &(inputs, outputs) in &shapes {
                check(level, rows, inputs, outputs);
            }
        }
    }
}

#[cfg(not(miri))]
#[test]
fn every_level_agrees_with_f64_loops_on_awkward_shapes() {
    let shapes = [
        (1, 1),
        (7, 3),
        (3, 7),
        (8, 8),
        (17, 33),
        (33, 17),
        (64, 2),
        (33, 5),
        (64, 128),
        (128, 2),
        (128, 10),
        (1, 40),
        (40, 1),
    ];
    for level in available_levels() {
        for rows in [1, 2, 3, 4, 5, 7, 9, 12, 13, 16, 31, 33, 50, 97] {
            for &(inputs, outputs) in &shapes {
                check(level, rows, inputs, outputs);
            }
        }
    }
}

/// Under Miri, whose blocking sizes are smaller: products too large to be read in place, whose
/// blocks of `A` and `B` are packed (row-major and column-major `A`, `B` by rows and by
/// columns), over several blocks of `K` and two blocks of rows; and a product shared with the
/// helper thread, and not.
#[cfg(miri)]
#[test]
fn every_level_agrees_with_f64_loops_on_large_shapes() {
    for level in available_levels() {
        check(level, 5, 40, 5);
        check(level, 20, 3, 5);
    }
    for one_thread in [false, true] {
        super::threads::ONE_THREAD.with(|c| c.set(one_thread));
        for level in available_levels() {
            check(level, 5, 9, 20);
        }
    }
}

#[cfg(not(miri))]
#[test]
fn every_level_agrees_with_f64_loops_on_large_shapes() {
    for one_thread in [false, true] {
        super::threads::ONE_THREAD.with(|c| c.set(one_thread));
        for level in available_levels() {
            for rows in [1, 3, 4, 5, 9, 128] {
                check(level, rows, 784, 512);
            }
            check(level, 128, 512, 256);
            check(level, 61, 100, 300);
            check(level, 300, 129, 97);
        }
    }
}

#[test]
fn relu_lets_nan_through_and_clamps_the_rest() {
    for level in available_levels() {
        let shapes: &[_] = if cfg!(miri) {
            &[(5, 3, 40), (5, 3, 7), (5, 0, 20)]
        } else {
            &[(5, 3, 40), (5, 3, 7), (5, 0, 20), (33, 64, 128)]
        };
        for &(rows, inputs, outputs) in shapes {
            for layout in [WeightLayout::OutIn, WeightLayout::InOut] {
                let dims = Dims {
                    rows,
                    inputs,
                    outputs,
                    layout,
                };
                let mut x = vec![1.0; rows * inputs];
                if inputs > 0 {
                    x[inputs] = f32::NAN; // row 1
                }
                let w = vec![1.0; outputs * inputs];
                // Even outputs end at `inputs + 0.5`, odd ones at −0.5.
                let b: Vec<f32> = (0..outputs)
                    .map(|j| {
                        if j % 2 == 0 {
                            0.5
                        } else {
                            -(inputs as f32) - 0.5
                        }
                    })
                    .collect();
                let (mut z, mut a) = (vec![0.0; rows * outputs], vec![0.0; rows * outputs]);
                forward_at(level, dims, &x, &w, &b, &mut z, Some(&mut a), &ReLU);
                for (i, &v) in a.iter().enumerate() {
                    let (row, j) = (i / outputs, i % outputs);
                    let what = format!("{level:?} {dims:?}: a[{row}][{j}] = {v}");
                    if row == 1 && inputs > 0 {
                        assert!(v.is_nan(), "{what}");
                    } else if j % 2 == 0 {
                        assert_eq!(v, inputs as f32 + 0.5, "{what}");
                    } else {
                        assert_eq!(v.to_bits(), 0, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn empty_shapes_do_nothing_wrong() {
    for level in available_levels() {
        let shapes = [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0)];
        let layouts = [WeightLayout::OutIn, WeightLayout::InOut];
        for ((rows, inputs, outputs), layout) in shapes.into_iter().zip(layouts.iter().cycle()) {
            let dims = Dims {
                rows,
                inputs,
                outputs,
                layout: *layout,
            };
            let x = vec![1.0; rows * inputs];
            let w = vec![1.0; outputs * inputs];
            let b = vec![0.5; outputs];
            let mut z = vec![f32::NAN; rows * outputs];
            forward_at(level, dims, &x, &w, &b, &mut z, None, &Identity);
            assert!(z.iter().all(|&v| v == 0.5), "{level:?} {dims:?}: {z:?}");
            let dz = vec![1.0; rows * outputs];
            let (mut dw, mut db) = (vec![f32::NAN; outputs * inputs], vec![f32::NAN; outputs]);
            weight_grad_at(level, dims, &x, &dz, &mut dw, &mut db, false);
            assert!(dw.iter().all(|&v| v == 0.0), "{level:?} {dims:?}");
            assert!(db.iter().all(|&v| v == rows as f32), "{level:?} {dims:?}");
            let mut dx = vec![f32::NAN; rows * inputs];
            input_grad_at(level, dims, &dz, &w, &x, &x, &Identity, &mut dx);
            assert!(dx.iter().all(|&v| v == 0.0), "{level:?} {dims:?}");
        }
    }
}

#[test]
fn the_transposes_are_transposes() {
    fn check<S: Vector>() {
        let l = S::LANES;
        let src: Vec<f32> = (0..l * (l + 3)).map(|v| v as f32 + 1.0).collect();
        for (rows, width) in [
            (l, l),
            (l - 1, l),
            (l / 2, l),
            (l / 2, l / 2),
            (3, 3),
            (0, l),
        ] {
            let mut dst = vec![f32::NAN; l * (l + 1)];
            // SAFETY: `src` holds `l` rows of `l + 3`, `dst` `l` rows of `l + 1`; the level is
            // supported (callers check).
            unsafe { S::transpose(src.as_ptr(), l + 3, rows, dst.as_mut_ptr(), l + 1, width) };
            for c in 0..l {
                for r in 0..l + 1 {
                    let got = dst[c * (l + 1) + r];
                    if r >= width {
                        assert!(got.is_nan(), "{rows} {width}: wrote [{c}][{r}]");
                    } else if r >= rows {
                        assert_eq!(got, 0.0, "{rows} {width}: [{c}][{r}]");
                    } else {
                        assert_eq!(got, src[r * (l + 3) + c], "{rows} {width}: {r} {c}");
                    }
                }
            }
        }
    }
    check::<Portable>();
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2() {
            check::<vector::Avx2>();
        }
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn avx512() {
            check::<vector::Avx512>();
        }
        let levels = available_levels();
        if levels.contains(&Level::Avx2) {
            // SAFETY: the CPU has AVX2 and FMA.
            unsafe { avx2() };
        }
        if levels.contains(&Level::Avx512) {
            // SAFETY: the CPU has AVX-512F.
            unsafe { avx512() };
        }
    }
}

/// Speed of each kernel on the shapes of the benchmarks, at every level:
/// `cargo test --release -p nn-runtime --lib kernel::tests::speed -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test"]
fn speed() {
    use std::time::Instant;
    let shapes = [
        (1, 64, 128),
        (1, 128, 2),
        (32, 64, 128),
        (32, 128, 2),
        (64, 64, 128),
        (64, 128, 10),
        (128, 784, 512),
        (128, 512, 256),
        (128, 256, 10),
    ];
    let custom: Vec<(usize, usize, usize)> = std::env::var("SHAPES")
        .unwrap_or_default()
        .split(';')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let v: Vec<usize> = s.split(',').map(|v| v.trim().parse().unwrap()).collect();
            (v[0], v[1], v[2])
        })
        .collect();
    let shapes = if custom.is_empty() {
        &shapes[..]
    } else {
        &custom[..]
    };
    let filter = std::env::var("LEVEL").unwrap_or_default();
    for level in available_levels() {
        if !format!("{level:?}").contains(&filter) {
            continue;
        }
        for &(rows, inputs, outputs) in shapes {
            let dims = Dims {
                rows,
                inputs,
                outputs,
                layout: WeightLayout::for_outputs(outputs),
            };
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            let x = random(&mut rng, rows * inputs);
            let w = random(&mut rng, outputs * inputs);
            let b = random(&mut rng, outputs);
            let dz = random(&mut rng, rows * outputs);
            let mut z = vec![0.0; rows * outputs];
            let mut a = vec![0.0; rows * outputs];
            let (mut dw, mut db) = (vec![0.0; outputs * inputs], vec![0.0; outputs]);
            let mut dx = vec![0.0; rows * inputs];
            let flops = 2.0 * (rows * inputs * outputs) as f64;
            let time = |f: &mut dyn FnMut()| {
                let reps = (4e6 / flops).clamp(1.0, 20_000.0) as usize;
                for _ in 0..reps * 5 {
                    f();
                }
                let mut best = f64::INFINITY;
                for _ in 0..40 {
                    let start = Instant::now();
                    for _ in 0..reps {
                        f();
                    }
                    best = best.min(start.elapsed().as_secs_f64() / reps as f64);
                }
                best * 1e6
            };
            let fw = time(&mut || {
                forward_at(level, dims, &x, &w, &b, &mut z, Some(&mut a), &ReLU);
            });
            let wg = time(&mut || {
                weight_grad_at(level, dims, &x, &dz, &mut dw, &mut db, false);
            });
            let ig = time(&mut || {
                input_grad_at(level, dims, &dz, &w, &x, &x, &ReLU, &mut dx);
            });
            let g = |us: f64| flops / us / 1e3;
            eprintln!(
                "{level:?} {rows:>4}×{inputs:>4}→{outputs:<4} forward {fw:>9.3} µs {:>6.1} GF/s | weight_grad {wg:>9.3} µs {:>6.1} | input_grad {ig:>9.3} µs {:>6.1}",
                g(fw),
                g(wg),
                g(ig)
            );
        }
    }
}

/// Cost of handing an empty job to the helper thread, right after another job (the helper is
/// spinning) and after a pause (it sleeps): `… kernel::tests::pair_latency -- --ignored`.
#[test]
#[ignore = "a measurement, not a test"]
fn pair_latency() {
    use std::time::{Duration, Instant};
    if !super::threads::run_pair(&|| {}, || {}) {
        eprintln!("no helper thread (one core, or NN_THREADS=1)");
        return;
    }
    for gap in [0u64, 1000] {
        let mut total = 0.0;
        for _ in 0..200 {
            std::thread::sleep(Duration::from_micros(gap));
            let t = Instant::now();
            super::threads::run_pair(&|| {}, || {});
            total += t.elapsed().as_secs_f64();
        }
        eprintln!("gap {gap} µs: {:.2} µs per pair", total / 200.0 * 1e6);
    }
}

/// A layer with no inputs (reachable only through the runtime's own API: `network!` refuses
/// zero widths) outputs its bias; under Miri, no pointer leaves its buffer on the way.
#[test]
fn a_product_over_no_inputs_gives_the_bias() {
    for level in available_levels() {
        for layout in [WeightLayout::OutIn, WeightLayout::InOut] {
            let dims = Dims {
                rows: 8,
                inputs: 0,
                outputs: 8,
                layout,
            };
            let b: Vec<f32> = (0..8).map(|i| i as f32).collect();
            let mut z = vec![f32::NAN; 64];
            forward_at(level, dims, &[], &[], &b, &mut z, None, &Identity);
            for row in z.chunks(8) {
                assert_eq!(row, &b[..], "{level:?}, {layout:?}");
            }
        }
    }
}
