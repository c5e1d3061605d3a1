use rand::{Rng, SeedableRng};

use super::*;
use crate::io::{load_safetensors, load_safetensors_bytes, serialize, tensor_entries};
use crate::optim::{Optimizer, SGD};
use crate::testing::{assert_close, fixtures_dir, load_fixture, Tensor};

/// The batch normalisation cases of `tools/fixtures/norm.py`: file, channels, positions, rows,
/// eps, momentum.
const CASES: [(&str, usize, usize, usize, f32, f32); 4] = [
    ("batch_norm1d_2d", 5, 1, 8, 1e-5, 0.1),
    ("batch_norm1d_3d", 4, 7, 6, 1e-3, 0.3),
    ("batch_norm2d", 3, 30, 4, 1e-5, 0.1),
    ("batch_norm1d_two_rows", 3, 1, 2, 1e-5, 0.1),
];

fn random(rng: &mut impl Rng, len: usize, shift: f32, scale: f32) -> Vec<f32> {
    (0..len)
        .map(|_| shift + scale * rng.gen_range(-1.0..1.0f32))
        .collect()
}

/// Compares with PyTorch: within 10⁻⁵ relative, or 10⁻⁶ of the tensor's largest value (at
/// least 10⁻⁶) for entries near 0, sums that cancel.
#[track_caller]
fn compare(case: &str, what: &str, actual: &[f32], expected: &[f32]) {
    let scale = expected.iter().fold(1.0f32, |scale, e| scale.max(e.abs()));
    assert_close(
        &format!("{case}: {what}"),
        actual,
        expected,
        1e-6 * scale,
        1e-5,
    );
}

/// A layer with the fixture's weight and bias.
fn layer(case: &str, fixture: &std::collections::HashMap<String, Tensor>) -> BatchNorm {
    let (_, channels, positions, _, eps, momentum) = *CASES.iter().find(|c| c.0 == case).unwrap();
    let mut bn = BatchNorm::new(channels, positions, eps, momentum).unwrap();
    bn.weight.copy_from_slice(&fixture["weight"].data);
    bn.bias.copy_from_slice(&fixture["bias"].data);
    bn
}

#[test]
fn passes_match_pytorch() {
    for (case, channels, positions, rows, _, _) in CASES {
        let fixture = load_fixture(&format!("norm/{case}.safetensors"));
        let tensor = |name: &str| -> &[f32] {
            &fixture
                .get(name)
                .unwrap_or_else(|| panic!("{case}: no tensor `{name}`"))
                .data
        };
        let mut bn = layer(case, &fixture);
        let width = bn.width();
        assert_eq!(width, channels * positions);
        assert_eq!(tensor("input").len(), rows * width, "{case}");

        // NaN in every buffer: a pass that read what it had not written would show it.
        let mut output = vec![f32::NAN; rows * width];
        bn.forward_train(rows, tensor("input"), &mut output)
            .unwrap();
        compare(case, "output", &output, tensor("output"));
        bn.backward_params(rows, tensor("input"), tensor("grad_output"), false)
            .unwrap();
        compare(
            case,
            "weight.grad",
            bn.weight_grad.as_ref(),
            tensor("weight.grad"),
        );
        compare(
            case,
            "bias.grad",
            bn.bias_grad.as_ref(),
            tensor("bias.grad"),
        );
        let mut grad_input = vec![f32::NAN; rows * width];
        bn.backward_input(
            rows,
            tensor("input"),
            tensor("grad_output"),
            &mut grad_input,
        )
        .unwrap();
        compare(case, "input.grad", &grad_input, tensor("input.grad"));
        compare(
            case,
            "running_mean.1",
            &bn.running_mean,
            tensor("running_mean.1"),
        );
        compare(
            case,
            "running_var.1",
            &bn.running_var,
            tensor("running_var.1"),
        );
        assert_eq!(bn.num_batches_tracked(), 1);

        for n in [2, 3] {
            bn.forward_train(rows, tensor(&format!("input.{n}")), &mut output)
                .unwrap();
        }
        compare(
            case,
            "running_mean.3",
            &bn.running_mean,
            tensor("running_mean.3"),
        );
        compare(
            case,
            "running_var.3",
            &bn.running_var,
            tensor("running_var.3"),
        );
        assert_eq!(bn.num_batches_tracked(), 3);
        let mut eval_output = vec![f32::NAN; rows * width];
        bn.forward_eval(rows, tensor("input"), &mut eval_output)
            .unwrap();
        compare(case, "eval_output", &eval_output, tensor("eval_output"));

        // PyTorch's state dict after the three passes loads, its count an int64 scalar, and
        // gives the same layer.
        let state = fixtures_dir().join(format!("norm/{case}_state.safetensors"));
        let mut loaded = BatchNorm::new(channels, positions, bn.eps, bn.momentum).unwrap();
        load_safetensors(&mut loaded, &state).unwrap();
        assert_eq!(loaded.num_batches_tracked(), 3);
        assert_eq!(loaded.weight(), bn.weight());
        assert_eq!(loaded.bias(), bn.bias());
        compare(
            case,
            "loaded running_mean",
            &loaded.running_mean,
            &bn.running_mean,
        );
        compare(
            case,
            "loaded running_var",
            &loaded.running_var,
            &bn.running_var,
        );
    }
}

/// The definition in `f64`: the output of a training pass, and each channel's mean and
/// unbiased variance.
fn definition(bn: &BatchNorm, rows: usize, input: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (width, positions) = (bn.width(), bn.positions);
    let mut output = vec![0.0; input.len()];
    let (mut means, mut vars) = (Vec::new(), Vec::new());
    for c in 0..bn.channels {
        let at = |n: usize, p: usize| n * width + c * positions + p;
        let all = || (0..rows).flat_map(move |n| (0..positions).map(move |p| at(n, p)));
        let count = (rows * positions) as f64;
        let mean = all().map(|i| f64::from(input[i])).sum::<f64>() / count;
        let squares: f64 = all().map(|i| (f64::from(input[i]) - mean).powi(2)).sum();
        let invstd = 1.0 / (squares / count + f64::from(bn.eps)).sqrt();
        for i in all() {
            output[i] = (f64::from(input[i]) - mean) * invstd * f64::from(bn.weight[c])
                + f64::from(bn.bias[c]);
        }
        means.push(mean);
        vars.push(squares / (count - 1.0));
    }
    (output, means, vars)
}

fn narrow(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

#[test]
fn large_batches_far_from_zero_agree_with_the_definition() {
    // 64 rows × 1024 positions per channel, with means far larger than the spread: a sum
    // of squares in `f32`, or `E[x²] − E[x]²`, would lose the variance.
    let (rows, positions) = (64, 1024);
    let mut bn = BatchNorm::new(2, positions, 1e-5, 0.1).unwrap();
    bn.weight.copy_from_slice(&[1.5, 0.75]);
    bn.bias.copy_from_slice(&[-0.25, 2.0]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let input: Vec<f32> = (0..rows)
        .flat_map(|_| {
            let mut row = random(&mut rng, positions, 1000.0, 0.5);
            row.extend(random(&mut rng, positions, -3.0, 1e-2));
            row
        })
        .collect();
    let (expected, means, vars) = definition(&bn, rows, &input);
    let mut output = vec![0.0; input.len()];
    bn.forward_train(rows, &input, &mut output).unwrap();
    compare("large", "output", &output, &narrow(&expected));
    let running_mean: Vec<f64> = means.iter().map(|m| 0.1 * m).collect();
    let running_var: Vec<f64> = vars.iter().map(|v| 0.9 + 0.1 * v).collect();
    assert_close(
        "running_mean",
        &bn.running_mean,
        &narrow(&running_mean),
        0.0,
        1e-6,
    );
    assert_close(
        "running_var",
        &bn.running_var,
        &narrow(&running_var),
        0.0,
        1e-6,
    );
}

/// A pass large enough to share its channels with the helper thread gives the same bits as
/// on one thread, and one backward step the same as the two passes apart.
#[test]
fn shared_passes_and_the_joint_backward_change_no_result() {
    let (channels, positions, rows) = (6, 100, 64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let input = random(&mut rng, rows * channels * positions, 0.5, 2.0);
    let grad = random(&mut rng, input.len(), 0.0, 1.0);
    assert!(shared(&input));
    let run = |one_thread: bool| {
        crate::kernel::ONE_THREAD.with(|c| c.set(one_thread));
        let mut bn = BatchNorm::new(channels, positions, 1e-5, 0.1).unwrap();
        bn.weight
            .iter_mut()
            .enumerate()
            .for_each(|(c, w)| *w = 0.5 + c as f32);
        let mut output = vec![0.0; input.len()];
        bn.forward_train(rows, &input, &mut output).unwrap();
        let mut eval = vec![0.0; input.len()];
        bn.forward_eval(rows, &input, &mut eval).unwrap();
        let mut joint = vec![0.0; input.len()];
        bn.backward(rows, &input, &grad, Some(&mut joint), false)
            .unwrap();
        let grads = (bn.weight_grad.to_vec(), bn.bias_grad.to_vec());
        let mut apart = vec![0.0; input.len()];
        bn.backward_params(rows, &input, &grad, false).unwrap();
        bn.backward_input(rows, &input, &grad, &mut apart).unwrap();
        assert_eq!(joint, apart);
        assert_eq!(grads, (bn.weight_grad.to_vec(), bn.bias_grad.to_vec()));
        crate::kernel::ONE_THREAD.with(|c| c.set(false));
        (
            output,
            eval,
            joint,
            grads,
            bn.running_mean.to_vec(),
            bn.running_var.to_vec(),
        )
    };
    assert_eq!(run(false), run(true));
}

/// `Σ output·weights` of a training pass of the definition, in `f64`.
fn loss(bn: &BatchNorm, rows: usize, input: &[f32], weights: &[f32]) -> f64 {
    let (output, _, _) = definition(bn, rows, input);
    output
        .iter()
        .zip(weights)
        .map(|(&y, &g)| y * f64::from(g))
        .sum()
}

/// Value `i` of the weight followed by the bias.
fn parameter(layer: &mut BatchNorm, i: usize) -> &mut f32 {
    let channels = layer.channels;
    if i < channels {
        &mut layer.weight[i]
    } else {
        &mut layer.bias[i - channels]
    }
}

#[test]
fn gradients_agree_with_finite_differences() {
    // One position per channel, several, and one row of several positions.
    for (channels, positions, rows) in [(3, 1, 4), (2, 5, 3), (2, 4, 1)] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut bn = BatchNorm::new(channels, positions, 1e-3, 0.1).unwrap();
        for i in 0..channels {
            *parameter(&mut bn, i) = rng.gen_range(0.5..1.5);
            *parameter(&mut bn, channels + i) = rng.gen_range(-1.0..1.0);
        }
        let mut input = random(&mut rng, rows * bn.width(), 0.5, 2.0);
        let grad_output = random(&mut rng, rows * bn.width(), 0.0, 1.0);
        let mut output = vec![0.0; input.len()];
        bn.forward_train(rows, &input, &mut output).unwrap();
        bn.backward_params(rows, &input, &grad_output, false)
            .unwrap();
        let mut grad_input = vec![0.0; input.len()];
        bn.backward_input(rows, &input, &grad_output, &mut grad_input)
            .unwrap();

        // The definition in `f64` has rounding errors far below a step of 10⁻³, whose
        // truncation error is of its square; the loss is linear in the weight and the bias.
        const STEP: f32 = 1e-3;
        let central = |plus: f64, minus: f64| ((plus - minus) / (2.0 * f64::from(STEP))) as f32;
        let mut numeric = Vec::new();
        for i in 0..2 * channels {
            let mut nudged = bn.clone();
            *parameter(&mut nudged, i) += STEP;
            let plus = loss(&nudged, rows, &input, &grad_output);
            *parameter(&mut nudged, i) -= 2.0 * STEP;
            numeric.push(central(plus, loss(&nudged, rows, &input, &grad_output)));
        }
        let analytic: Vec<f32> = bn
            .weight_grad
            .iter()
            .chain(bn.bias_grad.iter())
            .copied()
            .collect();
        let shape = (channels, positions, rows);
        assert_close(
            &format!("{shape:?}: weight and bias"),
            &analytic,
            &numeric,
            1e-4,
            1e-3,
        );

        let mut numeric = Vec::new();
        for i in 0..input.len() {
            let original = input[i];
            input[i] = original + STEP;
            let plus = loss(&bn, rows, &input, &grad_output);
            input[i] = original - STEP;
            numeric.push(central(plus, loss(&bn, rows, &input, &grad_output)));
            input[i] = original;
        }
        assert_close(
            &format!("{shape:?}: input"),
            &grad_input,
            &numeric,
            1e-4,
            1e-3,
        );
    }
}

#[test]
fn gradients_add_up_until_zeroed() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let (rows, mut bn) = (3, BatchNorm::new(2, 3, 1e-5, 0.1).unwrap());
    let input = random(&mut rng, rows * bn.width(), 0.0, 1.0);
    let grad_output = random(&mut rng, rows * bn.width(), 0.0, 1.0);
    let mut output = vec![0.0; input.len()];
    bn.forward_train(rows, &input, &mut output).unwrap();
    bn.backward_params(rows, &input, &grad_output, false)
        .unwrap();
    let once = (bn.weight_grad().to_vec(), bn.bias_grad().to_vec());
    bn.backward_params(rows, &input, &grad_output, true)
        .unwrap();
    let twice: Vec<f32> = once.0.iter().map(|g| 2.0 * g).collect();
    assert_close("weight.grad", &bn.weight_grad, &twice, 1e-7, 1e-6);
    let twice: Vec<f32> = once.1.iter().map(|g| 2.0 * g).collect();
    assert_close("bias.grad", &bn.bias_grad, &twice, 1e-7, 1e-6);
    bn.zero_grad();
    assert!(bn
        .weight_grad
        .iter()
        .chain(bn.bias_grad.iter())
        .all(|&g| g == 0.0));
    // Overwriting ignores what was there.
    bn.weight_grad.fill(7.0);
    bn.backward_params(rows, &input, &grad_output, false)
        .unwrap();
    assert_eq!(bn.weight_grad().to_vec(), once.0);
    // No rows, no gradient.
    bn.backward_params(0, &[], &[], false).unwrap();
    assert!(bn
        .weight_grad
        .iter()
        .chain(bn.bias_grad.iter())
        .all(|&g| g == 0.0));
}

#[test]
fn arguments_pytorch_rejects_are_errors() {
    let invalid = |result: Result<BatchNorm>, name: &str| match result {
        Err(Error::InvalidArgument { name: found, .. }) => assert_eq!(found, name),
        other => panic!("{name}: {other:?}"),
    };
    invalid(BatchNorm::new(0, 1, 1e-5, 0.1), "BatchNorm channels");
    invalid(BatchNorm::new(3, 0, 1e-5, 0.1), "BatchNorm positions");
    invalid(
        BatchNorm::new(1 << 40, 1 << 40, 1e-5, 0.1),
        "BatchNorm positions",
    );
    for eps in [-1e-5, f32::NAN, f32::INFINITY] {
        invalid(BatchNorm::new(3, 1, eps, 0.1), "BatchNorm eps");
    }
    for momentum in [-0.1, 1.5, f32::NAN] {
        invalid(BatchNorm::new(3, 1, 1e-5, momentum), "BatchNorm momentum");
    }
    assert_eq!(
        BatchNorm::new(3, 1, -1.0, 0.1).unwrap_err().to_string(),
        "invalid BatchNorm eps: must be finite and at least 0, found -1"
    );
    // The ends of the ranges are PyTorch's too: no eps, and a momentum of 0 or 1.
    assert!(BatchNorm::new(3, 1, 0.0, 0.0).is_ok());
    assert!(BatchNorm::new(3, 1, 1e-5, 1.0).is_ok());

    // One value per channel has no variance: PyTorch raises, and so does training here.
    let mut bn = BatchNorm::new(3, 1, 1e-5, 0.1).unwrap();
    let before = bn.clone();
    let mut output = [f32::NAN; 3];
    assert_eq!(
        bn.forward_train(1, &[1.0, 2.0, 3.0], &mut output),
        Err(Error::OneValuePerChannel)
    );
    assert_eq!(bn.check_training_rows(1), Err(Error::OneValuePerChannel));
    assert_eq!(bn, before);
    assert!(output.iter().all(|v| v.is_nan()));
    assert!(Error::OneValuePerChannel
        .to_string()
        .starts_with("batch normalisation needs more than 1 value per channel when training"));
    // Evaluation, and one row of several positions, are fine.
    bn.forward_eval(1, &[1.0, 2.0, 3.0], &mut output).unwrap();
    let mut wide = BatchNorm::new(3, 2, 1e-5, 0.1).unwrap();
    assert_eq!(wide.check_training_rows(1), Ok(()));
    wide.forward_train(1, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut [0.0; 6])
        .unwrap();
}

#[test]
#[should_panic(
    expected = "more than 1 value per channel when training; the batch has one \
                           example of one position; check BatchNorm::check_training_rows"
)]
fn the_generated_training_pass_panics_on_one_value_per_channel() {
    let mut bn = super::super::batch_norm(3, 1, 1e-5, 0.1);
    super::super::batch_norm_forward_train(&mut bn, 1, &[1.0, 2.0, 3.0], &mut [0.0; 3]);
}

#[test]
fn short_buffers_are_errors_and_long_ones_are_used_in_part() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut bn = BatchNorm::new(2, 3, 1e-5, 0.1).unwrap();
    let (rows, width) = (4, bn.width());
    let input = random(&mut rng, rows * width, 0.0, 1.0);
    let grad = random(&mut rng, rows * width, 0.0, 1.0);
    let short = |found: usize| Err(Error::Length { rows, width, found });
    let before = bn.clone();
    let mut output = vec![0.0; rows * width];
    let mut small = vec![0.0; rows * width - 1];
    assert_eq!(bn.forward_train(rows, &input[1..], &mut output), short(23));
    assert_eq!(bn.forward_train(rows, &input, &mut small), short(23));
    assert_eq!(bn.forward_eval(rows, &input[1..], &mut output), short(23));
    assert_eq!(bn.forward_eval(rows, &input, &mut small), short(23));
    assert_eq!(
        bn.backward_params(rows, &input[1..], &grad, false),
        short(23)
    );
    assert_eq!(
        bn.backward_params(rows, &input, &grad[1..], true),
        short(23)
    );
    assert_eq!(
        bn.backward_input(rows, &input[1..], &grad, &mut output),
        short(23)
    );
    assert_eq!(
        bn.backward_input(rows, &input, &grad[1..], &mut output),
        short(23)
    );
    assert_eq!(
        bn.backward_input(rows, &input, &grad, &mut small),
        short(23)
    );
    assert_eq!(bn, before, "a failed pass changes nothing");
    assert_eq!(
        bn.forward_eval(usize::MAX, &input, &mut output),
        Err(Error::TooLarge {
            rows: usize::MAX,
            width
        })
    );

    bn.forward_train(rows, &input, &mut output).unwrap();
    let mut long_input = input.clone();
    long_input.push(f32::NAN);
    let mut long_output = vec![7.0; rows * width + 2];
    let mut again = before.clone();
    again
        .forward_train(rows, &long_input, &mut long_output)
        .unwrap();
    assert_eq!(long_output[..rows * width], output[..]);
    assert_eq!(long_output[rows * width..], [7.0, 7.0]);
    assert_eq!(again, bn);
    let mut long_grad_input = vec![7.0; rows * width + 1];
    bn.backward_input(rows, &long_input, &grad, &mut long_grad_input)
        .unwrap();
    assert_eq!(long_grad_input[rows * width], 7.0);
}

#[test]
fn batches_without_statistics_leave_the_running_ones() {
    let mut bn = BatchNorm::new(2, 2, 1e-5, 0.1).unwrap();
    let input = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let mut output = [0.0; 8];
    bn.forward_train(2, &input, &mut output).unwrap();
    let trained = bn.clone();

    // A NaN in one channel: its output is NaN, the other channel's is not, and neither
    // channel's running statistics move, nor the count.
    let mut poisoned = input;
    poisoned[5] = f32::NAN;
    bn.forward_train(2, &poisoned, &mut output).unwrap();
    for (i, value) in output.iter().enumerate() {
        // Rows of two channels of two positions: channel 0 is values 0, 1, 4 and 5.
        assert_eq!(value.is_nan(), i % 4 < 2, "{i}: {value}");
    }
    assert_eq!(bn.running_mean, trained.running_mean);
    assert_eq!(bn.running_var, trained.running_var);
    assert_eq!(bn.num_batches_tracked(), 1);
    // A variance beyond `f32::MAX`: the output is finite, the running statistics unchanged.
    let huge = [1e20, -1e20, 1.0, 2.0, -1e20, 1e20, 3.0, 4.0];
    bn.forward_train(2, &huge, &mut output).unwrap();
    assert!(output.iter().all(|v| v.is_finite()), "{output:?}");
    assert_eq!(bn.running_var, trained.running_var);
    assert_eq!(bn.num_batches_tracked(), 1);

    // No rows: nothing to normalise, and PyTorch counts the pass.
    bn.forward_train(0, &[], &mut []).unwrap();
    assert_eq!(bn.running_mean, trained.running_mean);
    assert_eq!(bn.num_batches_tracked(), 2);
}

#[test]
fn tensors_carry_pytorch_names_and_survive_a_file() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let mut bn = BatchNorm::new(3, 2, 1e-5, 0.1).unwrap();
    let rows = 4;
    let mut output = vec![0.0; rows * bn.width()];
    for _ in 0..5 {
        let input = random(&mut rng, rows * bn.width(), 2.0, 3.0);
        bn.forward_train(rows, &input, &mut output).unwrap();
    }
    bn.weight_mut().fill(1.25);
    bn.bias_mut()[1] = -0.5;

    let mut seen = Vec::new();
    bn.visit_tensors_as("features.1", &mut |name, shape, values| {
        seen.push((name.to_owned(), shape.to_vec(), values.to_vec()));
    });
    let expected = [
        ("features.1.weight", vec![3], bn.weight().to_vec()),
        ("features.1.bias", vec![3], bn.bias().to_vec()),
        (
            "features.1.running_mean",
            vec![3],
            bn.running_mean().to_vec(),
        ),
        ("features.1.running_var", vec![3], bn.running_var().to_vec()),
        ("features.1.num_batches_tracked", vec![], vec![5.0]),
    ]
    .map(|(name, shape, values)| (name.to_owned(), shape, values));
    assert_eq!(seen, expected);
    let mut visited = Vec::new();
    bn.visit_parameters_as(
        "bn1.weight",
        "bn1.bias",
        &mut |name: &str, value: &mut [f32], grad: &mut [f32]| {
            assert_eq!((value.len(), grad.len()), (3, 3));
            visited.push(name.to_owned());
        },
    );
    assert_eq!(visited, ["bn1.weight", "bn1.bias"]);
    assert_eq!(bn.parameter_count(), 6);

    // Saved as PyTorch saves it, the count an int64 scalar, and loaded back whole.
    let bytes = serialize(&tensor_entries(&bn, ""), None).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let count = file.tensor("num_batches_tracked").unwrap();
    assert_eq!(count.dtype(), safetensors::Dtype::I64);
    assert_eq!(count.shape(), [0usize; 0]);
    let mut loaded = BatchNorm::new(3, 2, 1e-5, 0.1).unwrap();
    load_safetensors_bytes(&mut loaded, &bytes).unwrap();
    let mut saved = bn.clone();
    // What the last training batch left for the backward passes is not part of the file.
    (saved.batch, saved.sums) = (loaded.batch.clone(), loaded.sums.clone());
    assert_eq!(loaded, saved);
    assert_eq!(loaded.num_batches_tracked(), 5);
    // Another layer's file does not fit.
    let mut wider = BatchNorm::new(4, 2, 1e-5, 0.1).unwrap();
    assert!(matches!(
        load_safetensors_bytes(&mut wider, &bytes),
        Err(Error::TensorShape { .. })
    ));

    // An optimizer steps only the weight and the bias.
    let input = random(&mut rng, rows * bn.width(), 0.0, 1.0);
    bn.forward_train(rows, &input, &mut output).unwrap();
    bn.backward_params(rows, &input, &input, false).unwrap();
    let before = bn.clone();
    SGD::new(0.5).step(&mut bn);
    let stepped: Vec<f32> = before
        .weight
        .iter()
        .zip(before.weight_grad.iter())
        .map(|(w, g)| w - 0.5 * g)
        .collect();
    assert_close("stepped weight", &bn.weight, &stepped, 1e-7, 0.0);
    assert_eq!(bn.running_mean, before.running_mean);
    assert_eq!(bn.running_var, before.running_var);
}

/// Time of each pass on a `BatchNorm2d(16)` of 14×14 images at 64 rows:
/// `cargo test --release -p nn-runtime --lib batch_norm::tests::speed -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test"]
fn speed() {
    use std::time::Instant;
    let rows = 64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut bn = BatchNorm::new(16, 14 * 14, 1e-5, 0.1).unwrap();
    let input = random(&mut rng, rows * bn.width(), 0.0, 1.0);
    let grad_output = random(&mut rng, rows * bn.width(), 0.0, 1.0);
    let mut output = vec![0.0; input.len()];
    let mut grad_input = vec![0.0; input.len()];
    let mut time = |f: &mut dyn FnMut(&mut BatchNorm)| {
        let mut best = f64::INFINITY;
        for _ in 0..20 {
            let start = Instant::now();
            for _ in 0..20 {
                f(&mut bn);
            }
            best = best.min(start.elapsed().as_secs_f64() / 20.0);
        }
        best * 1e6
    };
    let train = time(&mut |bn| bn.forward_train(rows, &input, &mut output).unwrap());
    let eval = time(&mut |bn| bn.forward_eval(rows, &input, &mut output).unwrap());
    let params = time(&mut |bn| {
        bn.backward_params(rows, &input, &grad_output, true)
            .unwrap()
    });
    let inputs = time(&mut |bn| {
        bn.backward_input(rows, &input, &grad_output, &mut grad_input)
            .unwrap()
    });
    eprintln!(
        "{rows} rows of {}: forward_train {train:.1} µs, forward_eval {eval:.1} µs, \
         backward_params {params:.1} µs, backward_input {inputs:.1} µs",
        bn.width()
    );
}
