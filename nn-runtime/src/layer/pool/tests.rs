use rand::{Rng, SeedableRng};

use super::*;
use crate::testing::{assert_close, load_fixture, Tensor};

/// A layer of any of the four kinds, as the tests drive it.
#[derive(Debug, Clone, Copy)]
enum Pool {
    One(MaxPool1d),
    Two(MaxPool2d),
    AvgOne(AvgPool1d),
    AvgTwo(AvgPool2d),
}

impl Pool {
    fn windows(&self) -> &Windows {
        match self {
            Pool::One(pool) => &pool.windows,
            Pool::Two(pool) => &pool.windows,
            Pool::AvgOne(pool) => &pool.windows,
            Pool::AvgTwo(pool) => &pool.windows,
        }
    }

    /// Whether PyTorch's tensors have a height.
    fn two_dimensional(&self) -> bool {
        matches!(self, Pool::Two(_) | Pool::AvgTwo(_))
    }

    fn forward(&self, rows: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        match self {
            Pool::One(pool) => pool.forward(rows, input, output),
            Pool::Two(pool) => pool.forward(rows, input, output),
            Pool::AvgOne(pool) => pool.forward(rows, input, output),
            Pool::AvgTwo(pool) => pool.forward(rows, input, output),
        }
    }

    fn backward(
        &self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        grad_input: &mut [f32],
    ) -> Result<()> {
        match self {
            Pool::One(pool) => pool.backward(rows, input, grad_output, grad_input),
            Pool::Two(pool) => pool.backward(rows, input, grad_output, grad_input),
            Pool::AvgOne(pool) => pool.backward(rows, grad_output, grad_input),
            Pool::AvgTwo(pool) => pool.backward(rows, grad_output, grad_input),
        }
    }
}

/// The cases of `tools/fixtures/pool.py`: file and layer; the rows are the input's first
/// dimension.
fn cases() -> Vec<(&'static str, Pool)> {
    let one = |channels, length, kernel, stride, padding| {
        Pool::One(MaxPool1d::new(channels, length, kernel, stride, padding).unwrap())
    };
    let two = |channels, height, width, kernel, stride, padding| {
        Pool::Two(MaxPool2d::new(channels, height, width, kernel, stride, padding).unwrap())
    };
    let avg_one = |channels, length, kernel, stride, padding| {
        Pool::AvgOne(AvgPool1d::new(channels, length, kernel, stride, padding).unwrap())
    };
    let avg_two = |channels, height, width, kernel, stride, padding| {
        Pool::AvgTwo(AvgPool2d::new(channels, height, width, kernel, stride, padding).unwrap())
    };
    vec![
        ("max1d_k2s2", one(3, 10, 2, 2, 0)),
        ("max1d_k3s2p1", one(2, 11, 3, 2, 1)),
        ("max1d_k3s1", one(2, 9, 3, 1, 0)),
        ("max1d_ties", one(3, 12, 4, 1, 2)),
        ("max2d_lenet", two(6, 28, 28, 2, 2, 0)),
        ("max2d_k3s2p1", two(3, 9, 11, 3, 2, 1)),
        ("max2d_k3s1", two(2, 7, 8, 3, 1, 0)),
        ("max2d_odd", two(2, 7, 9, 2, 2, 0)),
        ("max2d_ties", two(3, 6, 7, 3, 1, 1)),
        ("max2d_nan", two(2, 5, 6, 2, 1, 0)),
        ("avg1d_k3", avg_one(3, 10, 3, 3, 0)),
        ("avg1d_k3s2p1", avg_one(2, 11, 3, 2, 1)),
        ("avg1d_k4s1p2", avg_one(3, 12, 4, 1, 2)),
        ("avg2d_k2", avg_two(3, 8, 8, 2, 2, 0)),
        ("avg2d_k3s2p1", avg_two(3, 9, 11, 3, 2, 1)),
        ("avg2d_k3s1", avg_two(2, 7, 8, 3, 1, 0)),
        ("avg2d_odd", avg_two(2, 7, 9, 2, 2, 0)),
        ("avg2d_k2s1p1", avg_two(2, 5, 6, 2, 1, 1)),
    ]
}

/// `assert_close` at 10⁻⁶ absolute and 10⁻⁵ relative, with NaN where PyTorch has NaN.
#[track_caller]
fn compare(what: &str, actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len(), "{what}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a.is_nan(), e.is_nan(), "{what}[{i}]: got {a}, expected {e}");
    }
    let finite = |values: &[f32]| -> Vec<f32> {
        values
            .iter()
            .map(|&v| if v.is_nan() { 0.0 } else { v })
            .collect()
    };
    assert_close(what, &finite(actual), &finite(expected), 1e-6, 1e-5);
}

#[test]
fn passes_match_pytorch() {
    for (case, pool) in cases() {
        let fixture = load_fixture(&format!("pool/{case}.safetensors"));
        let tensor = |name: &str| -> &Tensor {
            fixture
                .get(name)
                .unwrap_or_else(|| panic!("{case}: no tensor `{name}`"))
        };
        let windows = pool.windows();
        let (input, grad_output) = (&tensor("input").data, &tensor("grad_output").data);
        let rows = tensor("input").shape[0];
        let mut shape = vec![rows, windows.channels];
        let mut output_shape = shape.clone();
        if pool.two_dimensional() {
            shape.push(windows.input[0]);
            output_shape.push(windows.output[0]);
        }
        shape.push(windows.input[1]);
        output_shape.push(windows.output[1]);
        assert_eq!(tensor("input").shape, shape, "{case}");
        assert_eq!(tensor("output").shape, output_shape, "{case}");

        let mut output = vec![f32::NAN; rows * windows.output_width];
        pool.forward(rows, input, &mut output).unwrap();
        compare(&format!("{case}: output"), &output, &tensor("output").data);
        let mut grad_input = vec![f32::NAN; rows * windows.input_width];
        pool.backward(rows, input, grad_output, &mut grad_input)
            .unwrap();
        let expected = &tensor("input.grad").data;
        compare(&format!("{case}: input.grad"), &grad_input, expected);
    }
}

#[test]
fn ties_go_to_the_first_largest_value_and_nan_wins() {
    // Windows of 3, stride 1, padding 1: [−∞ 2 2], [2 2 1], [2 1 2], [1 2 −∞], which take
    // inputs 0, 0, 1 and 3.
    let pool = MaxPool1d::new(1, 4, 3, 1, 1).unwrap();
    let input = [2.0, 2.0, 1.0, 2.0];
    let mut output = [0.0; 4];
    pool.forward(1, &input, &mut output).unwrap();
    assert_eq!(output, [2.0; 4]);
    let mut grad_input = [0.0; 4];
    pool.backward(1, &input, &[1.0, 10.0, 100.0, 1000.0], &mut grad_input)
        .unwrap();
    assert_eq!(grad_input, [11.0, 100.0, 0.0, 1000.0]);

    // NaN takes its window, wherever it lies; the last of several does.
    let input = [1.0, f32::NAN, 5.0, f32::NAN];
    pool.forward(1, &input, &mut output).unwrap();
    assert!(output.iter().all(|v| v.is_nan()), "{output:?}");
    pool.backward(1, &input, &[1.0, 10.0, 100.0, 1000.0], &mut grad_input)
        .unwrap();
    assert_eq!(grad_input, [0.0, 11.0, 0.0, 1100.0]);

    // A window of −∞ takes its first value.
    let pool = MaxPool2d::new(1, 2, 2, 2, 1, 0).unwrap();
    let mut grad_input = [f32::NAN; 4];
    pool.backward(1, &[f32::NEG_INFINITY; 4], &[3.0], &mut grad_input)
        .unwrap();
    assert_eq!(grad_input, [3.0, 0.0, 0.0, 0.0]);
}

/// `Σ output·weights` in `f64`.
fn loss(pool: &Pool, rows: usize, input: &[f32], weights: &[f32]) -> f64 {
    let mut output = vec![0.0; weights.len()];
    pool.forward(rows, input, &mut output).unwrap();
    output
        .iter()
        .zip(weights)
        .map(|(&y, &g)| y as f64 * g as f64)
        .sum()
}

#[test]
fn gradients_agree_with_finite_differences() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let pools = [
        Pool::One(MaxPool1d::new(3, 13, 3, 2, 1).unwrap()),
        Pool::One(MaxPool1d::new(2, 9, 4, 1, 2).unwrap()),
        Pool::Two(MaxPool2d::new(2, 7, 6, 3, 2, 1).unwrap()),
        Pool::Two(MaxPool2d::new(3, 5, 5, 2, 1, 1).unwrap()),
        Pool::AvgOne(AvgPool1d::new(3, 13, 3, 2, 1).unwrap()),
        Pool::AvgOne(AvgPool1d::new(2, 9, 4, 1, 2).unwrap()),
        Pool::AvgTwo(AvgPool2d::new(2, 7, 6, 3, 2, 1).unwrap()),
        Pool::AvgTwo(AvgPool2d::new(3, 5, 5, 2, 1, 1).unwrap()),
    ];
    for pool in pools {
        let rows = 2;
        let windows = *pool.windows();
        let average = matches!(pool, Pool::AvgOne(_) | Pool::AvgTwo(_));
        // Max pools: values far apart, so that a small step changes no window's largest
        // value. Averages are linear, so any step will do; a long one on small values keeps
        // the outputs' rounding far below the differences.
        let (mut input, step): (Vec<f32>, f32) = if average {
            let input = (0..rows * windows.input_width)
                .map(|_| rng.gen_range(-1.0..1.0))
                .collect();
            (input, 0.5)
        } else {
            let mut input: Vec<f32> = (0..rows * windows.input_width)
                .map(|i| i as f32 * 0.25)
                .collect();
            for i in (1..input.len()).rev() {
                input.swap(i, rng.gen_range(0..=i));
            }
            (input, 0.0625)
        };
        let grad_output: Vec<f32> = (0..rows * windows.output_width)
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let mut grad_input = vec![f32::NAN; input.len()];
        pool.backward(rows, &input, &grad_output, &mut grad_input)
            .unwrap();
        let mut numeric = Vec::new();
        for i in 0..input.len() {
            input[i] += step;
            let plus = loss(&pool, rows, &input, &grad_output);
            input[i] -= 2.0 * step;
            let minus = loss(&pool, rows, &input, &grad_output);
            input[i] += step;
            numeric.push(((plus - minus) / (2.0 * step as f64)) as f32);
        }
        assert_close(&format!("{pool:?}"), &grad_input, &numeric, 1e-5, 1e-5);
    }
}

#[test]
fn settings_pytorch_rejects_are_errors() {
    let name = |result: Result<Windows>| match result {
        Err(Error::InvalidArgument { name, .. }) => name,
        other => panic!("{other:?}"),
    };
    let one = |c, l, k, s, p| name(MaxPool1d::new(c, l, k, s, p).map(|pool| pool.windows));
    let two = |c, h, w, k, s, p| name(MaxPool2d::new(c, h, w, k, s, p).map(|pool| pool.windows));
    assert_eq!(one(2, 8, 0, 1, 0), "MaxPool1d kernel_size");
    assert_eq!(one(2, 8, 2, 0, 0), "MaxPool1d stride");
    assert_eq!(one(2, 8, 3, 1, 2), "MaxPool1d padding");
    assert_eq!(one(2, 8, 1, 1, 1), "MaxPool1d padding");
    assert_eq!(one(0, 8, 2, 2, 0), "MaxPool1d channels");
    assert_eq!(one(2, 0, 2, 2, 1), "MaxPool1d input length");
    assert_eq!(one(2, 3, 6, 1, 1), "MaxPool1d input length");
    assert_eq!(one(usize::MAX / 2, 8, 2, 2, 0), "MaxPool1d settings");
    assert_eq!(one(1, 8, 4, 1, usize::MAX / 2), "MaxPool1d padding");
    assert_eq!(two(2, 8, 8, 0, 1, 0), "MaxPool2d kernel_size");
    assert_eq!(two(2, 8, 8, 2, 0, 0), "MaxPool2d stride");
    assert_eq!(two(2, 8, 8, 2, 2, 2), "MaxPool2d padding");
    assert_eq!(two(2, 0, 8, 2, 2, 0), "MaxPool2d input height");
    assert_eq!(two(2, 8, 0, 2, 2, 0), "MaxPool2d input width");
    assert_eq!(two(2, 8, 3, 4, 1, 0), "MaxPool2d input width");
    assert_eq!(two(2, 1, 8, 4, 1, 1), "MaxPool2d input height");
    assert_eq!(two(1, 1 << 32, 1 << 32, 1, 1, 0), "MaxPool2d settings");
    // The average pools check the same windows, under their own names.
    let avg_one = |c, l, k, s, p| name(AvgPool1d::new(c, l, k, s, p).map(|pool| pool.windows));
    let avg_two =
        |c, h, w, k, s, p| name(AvgPool2d::new(c, h, w, k, s, p).map(|pool| pool.windows));
    assert_eq!(avg_one(2, 8, 0, 1, 0), "AvgPool1d kernel_size");
    assert_eq!(avg_one(2, 8, 2, 0, 0), "AvgPool1d stride");
    assert_eq!(avg_one(2, 8, 3, 1, 2), "AvgPool1d padding");
    assert_eq!(avg_one(0, 8, 2, 2, 0), "AvgPool1d channels");
    assert_eq!(avg_one(2, 3, 6, 1, 1), "AvgPool1d input length");
    assert_eq!(avg_two(2, 8, 8, 2, 2, 2), "AvgPool2d padding");
    assert_eq!(avg_two(2, 8, 3, 4, 1, 0), "AvgPool2d input width");
    assert_eq!(avg_two(2, 1, 8, 4, 1, 1), "AvgPool2d input height");
    assert_eq!(avg_two(1, 1 << 32, 1 << 32, 1, 1, 0), "AvgPool2d settings");

    assert_eq!(
        MaxPool1d::new(2, 8, 3, 1, 2).unwrap_err().to_string(),
        "invalid MaxPool1d padding: must be at most half the kernel size (3), found 2"
    );
    assert_eq!(
        MaxPool2d::new(2, 8, 3, 4, 1, 0).unwrap_err().to_string(),
        "invalid MaxPool2d input width: the kernel spans 4, more than the 3 of the padded input \
         (width + 2·padding): the output would be empty"
    );
    // As PyTorch: (28 − 2) / 2 + 1, (11 + 2 − 3) / 2 + 1, (7 − 2) / 2 + 1 by (9 − 2) / 2 + 1.
    assert_eq!(
        MaxPool2d::new(6, 28, 28, 2, 2, 0).unwrap().output_size(),
        (14, 14)
    );
    assert_eq!(MaxPool1d::new(2, 11, 3, 2, 1).unwrap().output_length(), 6);
    assert_eq!(
        MaxPool2d::new(2, 7, 9, 2, 2, 0).unwrap().output_size(),
        (3, 4)
    );
    // Padding up to half the kernel, and a kernel as long as the padded input.
    assert_eq!(MaxPool1d::new(1, 1, 3, 1, 1).unwrap().output_length(), 1);
    assert_eq!(MaxPool1d::new(1, 1, 2, 1, 1).unwrap().output_length(), 2);
}

#[test]
fn short_buffers_are_errors_and_long_ones_are_used_in_part() {
    let pool = MaxPool2d::new(2, 4, 5, 2, 2, 1).unwrap();
    assert_eq!(pool.output_size(), (3, 3));
    let (iw, ow) = (pool.input_width(), pool.output_width());
    assert_eq!((iw, ow), (40, 18));
    let rows = 2;
    let input: Vec<f32> = (0..rows * iw).map(|i| (i % 7) as f32).collect();
    let grad = vec![1.0; rows * ow];
    let length = |width: usize, found: usize| Error::Length { rows, width, found };

    let mut output = vec![7.0; rows * ow];
    assert_eq!(
        pool.forward(rows, &input[..5], &mut output),
        Err(length(iw, 5))
    );
    assert_eq!(
        pool.forward(rows, &input, &mut output[..ow]),
        Err(length(ow, ow))
    );
    assert!(output.iter().all(|&v| v == 7.0), "nothing written on error");
    let mut grad_input = vec![7.0; rows * iw];
    assert_eq!(
        pool.backward(rows, &input[..1], &grad, &mut grad_input),
        Err(length(iw, 1))
    );
    assert_eq!(
        pool.backward(rows, &input, &grad[..ow], &mut grad_input),
        Err(length(ow, ow))
    );
    assert_eq!(
        pool.backward(rows, &input, &grad, &mut grad_input[..iw]),
        Err(length(iw, iw))
    );
    assert!(
        grad_input.iter().all(|&v| v == 7.0),
        "nothing written on error"
    );
    let too_many = usize::MAX / 4;
    assert_eq!(
        pool.forward(too_many, &input, &mut output),
        Err(Error::TooLarge {
            rows: too_many,
            width: iw
        })
    );

    let mut exact = vec![0.0; rows * ow];
    pool.forward(rows, &input, &mut exact).unwrap();
    let mut long_output = vec![7.0; rows * ow + 3];
    let mut long_input = input.clone();
    long_input.push(f32::NAN);
    pool.forward(rows, &long_input, &mut long_output).unwrap();
    assert_eq!(long_output[..rows * ow], exact[..]);
    assert!(long_output[rows * ow..].iter().all(|&v| v == 7.0));
    let mut long_grad_input = vec![7.0; rows * iw + 2];
    pool.backward(rows, &long_input, &grad, &mut long_grad_input)
        .unwrap();
    assert!(long_grad_input[rows * iw..].iter().all(|&v| v == 7.0));
    // The gradient is written whole: each of the nine windows of each channel passes 1 on.
    let total: f32 = long_grad_input[..rows * iw].iter().sum();
    assert_eq!(total, (rows * ow) as f32);
    pool.forward(0, &[], &mut []).unwrap();
    pool.backward(0, &[], &[], &mut []).unwrap();
}

#[test]
fn generated_code_runs_either_pooling_through_one_trait() {
    let one = max_pool1d(1, 6, 2, 2, 0);
    let two = max_pool2d(1, 2, 3, 2, 1, 0);
    let input = [1.0, 5.0, 2.0, 0.0, 3.0, 4.0];
    let mut output = [0.0; 3];
    pool_forward(&one, 1, &input, &mut output);
    assert_eq!(output, [5.0, 2.0, 4.0]);
    let mut output = [0.0; 2];
    pool_forward(&two, 1, &input, &mut output);
    assert_eq!(output, [5.0, 5.0]);
    let mut grad_input = [f32::NAN; 6];
    pool_backward(&two, 1, &input, &[1.0, 2.0], &mut grad_input);
    assert_eq!(grad_input, [0.0, 3.0, 0.0, 0.0, 0.0, 0.0]);

    let one = avg_pool1d(1, 6, 2, 2, 0);
    let two = avg_pool2d(1, 2, 3, 2, 1, 0);
    let mut output = [0.0; 3];
    pool_forward(&one, 1, &input, &mut output);
    assert_eq!(output, [3.0, 1.0, 3.5]);
    let mut output = [0.0; 2];
    pool_forward(&two, 1, &input, &mut output);
    assert_eq!(output, [2.25, 3.5]);
    // The input is not read: the gradient is the same whatever it holds.
    pool_backward(&two, 1, &[f32::NAN; 6], &[4.0, 8.0], &mut grad_input);
    assert_eq!(grad_input, [1.0, 3.0, 2.0, 1.0, 3.0, 2.0]);
}

#[test]
fn averages_count_the_padding_and_ignore_the_input_in_backward() {
    // One sample, windows of 2 with padding 1: [0 x] and [x 0], each divided by 2.
    let pool = AvgPool1d::new(1, 1, 2, 1, 1).unwrap();
    let mut output = [f32::NAN; 2];
    pool.forward(1, &[6.0], &mut output).unwrap();
    assert_eq!(output, [3.0, 3.0]);
    let mut grad_input = [f32::NAN];
    pool.backward(1, &[1.0, 3.0], &mut grad_input).unwrap();
    assert_eq!(grad_input, [2.0]);

    // A 3 × 3 window at each corner of 2 × 2, padding 1: four inputs over nine.
    let pool = AvgPool2d::new(1, 2, 2, 3, 1, 1).unwrap();
    assert_eq!(pool.output_size(), (2, 2));
    let mut output = [f32::NAN; 4];
    pool.forward(1, &[1.0, 2.0, 3.0, 3.0], &mut output).unwrap();
    assert_eq!(output, [1.0; 4]);
    // NaN and infinities are summed as they are, as PyTorch does.
    pool.forward(1, &[f32::NAN, 0.0, f32::INFINITY, 0.0], &mut output)
        .unwrap();
    assert!(output.iter().all(|v| v.is_nan()), "{output:?}");

    // Short buffers are errors, and nothing is written then.
    let pool = AvgPool2d::new(2, 4, 5, 2, 2, 1).unwrap();
    let (iw, ow) = (pool.input_width(), pool.output_width());
    let mut grad_input = vec![7.0; 2 * iw];
    let length = |width: usize, found: usize| Error::Length {
        rows: 2,
        width,
        found,
    };
    assert_eq!(
        pool.backward(2, &vec![1.0; ow], &mut grad_input),
        Err(length(ow, ow))
    );
    assert_eq!(
        pool.backward(2, &vec![1.0; 2 * ow], &mut grad_input[..iw]),
        Err(length(iw, iw))
    );
    let mut output = vec![7.0; 2 * ow];
    assert_eq!(
        pool.forward(2, &vec![1.0; iw], &mut output),
        Err(length(iw, iw))
    );
    assert!(grad_input.iter().chain(&output).all(|&v| v == 7.0));
    // Each window passes on its whole gradient, one kernel_size² share to each of its places;
    // the shares in the padding are dropped.
    pool.backward(2, &vec![4.0; 2 * ow], &mut grad_input)
        .unwrap();
    assert!(grad_input.iter().all(|&v| v == 1.0), "{grad_input:?}");
}
