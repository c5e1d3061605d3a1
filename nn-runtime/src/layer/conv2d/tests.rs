use rand::SeedableRng;

use super::*;
use crate::io::{serialize, tensor_entries};
use crate::optim::{Optimizer, SGD};
use crate::testing::{assert_close, load_fixture, Tensor};
use crate::{Conv1d, Conv1dSettings};

/// The cases of `tools/fixtures/conv2d.py`: file, settings, rows.
fn cases() -> Vec<(&'static str, Conv2dSettings, usize)> {
    let new = Conv2dSettings::new;
    vec![
        ("lenet_conv1", new(1, 6, 5, 28, 28).padding(2), 3),
        ("lenet_conv2", new(6, 16, 5, 14, 14), 3),
        ("stride2", new(3, 5, 3, 11, 9).stride(2).padding(1), 2),
        ("dilation2", new(4, 6, 3, 10, 12).padding(2).dilation(2), 2),
        ("groups2", new(4, 6, 3, 8, 8).padding(1).groups(2), 2),
        ("no_bias", new(3, 8, 2, 7, 7).bias(false), 2),
        (
            "non_square",
            Conv2dSettings {
                kernel_size: (3, 2),
                stride: (2, 3),
                padding: (1, 2),
                dilation: (1, 2),
                ..new(2, 4, 0, 9, 13)
            },
            2,
        ),
        (
            "depthwise",
            new(3, 6, 2, 5, 6)
                .stride(2)
                .padding(2)
                .groups(3)
                .bias(false),
            2,
        ),
    ]
}

fn random(rng: &mut impl Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// Compares with PyTorch: within 10⁻⁵ relative, or 10⁻⁶ of the tensor's largest value (at least
/// 10⁻⁶) for entries that are sums which cancel, whose rounding errors scale with their terms
/// rather than with the sum.
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

#[test]
fn passes_match_pytorch() {
    for (case, settings, rows) in cases() {
        let fixture = load_fixture(&format!("conv2d/{case}.safetensors"));
        let tensor = |name: &str| -> &Tensor {
            fixture
                .get(name)
                .unwrap_or_else(|| panic!("{case}: no tensor `{name}`"))
        };
        let mut conv = Conv2d::zeros(settings).unwrap();
        let (c_in, c_out) = (settings.in_channels, settings.out_channels);
        let (height, width) = (settings.height, settings.width);
        let (out_height, out_width) = conv.output_size();
        assert_eq!(tensor("input").shape, [rows, c_in, height, width], "{case}");
        assert_eq!(
            tensor("output").shape,
            [rows, c_out, out_height, out_width],
            "{case}"
        );
        assert_eq!(fixture.contains_key("bias"), settings.bias, "{case}");
        // Loaded as a weights file is, through the tensors' names and shapes.
        let mut loaded = 0;
        conv.visit_tensors_mut(&mut |name, shape, values| {
            assert_eq!(tensor(name).shape, shape, "{case}: {name}");
            values.copy_from_slice(&tensor(name).data);
            loaded += 1;
        });
        assert_eq!(loaded, 1 + usize::from(settings.bias));

        // NaN in every buffer: a pass that read what it had not written would show it.
        let mut workspace = vec![f32::NAN; conv.workspace_len(rows).unwrap()];
        let mut output = vec![f32::NAN; rows * conv.output_width()];
        let input = &tensor("input").data;
        conv.forward(rows, input, &mut output, &mut workspace)
            .unwrap();
        compare(case, "output", &output, &tensor("output").data);

        let grad_output = &tensor("grad_output").data;
        conv.backward_params(rows, input, grad_output, &mut workspace, false)
            .unwrap();
        let weight_grad: Vec<f32> = conv.weight_grad().iter().copied().collect();
        compare(
            case,
            "weight.grad",
            &weight_grad,
            &tensor("weight.grad").data,
        );
        if let Some(bias_grad) = conv.bias_grad() {
            compare(
                case,
                "bias.grad",
                bias_grad.as_slice().unwrap(),
                &tensor("bias.grad").data,
            );
        }

        let mut grad_input = vec![f32::NAN; rows * conv.input_width()];
        conv.backward_input(rows, grad_output, &mut grad_input, &mut workspace)
            .unwrap();
        compare(case, "input.grad", &grad_input, &tensor("input.grad").data);
    }
}

/// A convolution by its definition, in `f64`: the output, and the gradients of
/// `Σ output·grad_output` with respect to the weight, the bias and the input.
struct Reference {
    output: Vec<f64>,
    weight_grad: Vec<f64>,
    bias_grad: Vec<f64>,
    input_grad: Vec<f64>,
}

impl Reference {
    fn new(conv: &Conv2d, rows: usize, input: &[f32], grad_output: &[f32]) -> Self {
        let s = *conv.settings();
        let (gi, go) = (s.in_channels / s.groups, s.out_channels / s.groups);
        let (height, width) = (s.height, s.width);
        let (out_height, out_width) = conv.output_size();
        let (kh, kw) = s.kernel_size;
        let weight: Vec<f32> = conv.weight().iter().copied().collect();
        let bias = conv.bias().map(|b| b.to_vec());
        let mut r = Reference {
            output: vec![0.0; rows * conv.output_width()],
            weight_grad: vec![0.0; weight.len()],
            bias_grad: vec![0.0; s.out_channels],
            input_grad: vec![0.0; input.len()],
        };
        // The input coordinate that tap `tap` reads at output `t` along one axis, if any.
        let along = |t: usize, tap: usize, stride: usize, dilation: usize, padding: usize| {
            (t * stride + tap * dilation).checked_sub(padding)
        };
        for n in 0..rows {
            for o in 0..s.out_channels {
                let g = o / go;
                for (y, x) in (0..out_height).flat_map(|y| (0..out_width).map(move |x| (y, x))) {
                    let out = ((n * s.out_channels + o) * out_height + y) * out_width + x;
                    let dz = grad_output[out] as f64;
                    let mut sum = bias.as_ref().map_or(0.0, |b| b[o] as f64);
                    r.bias_grad[o] += dz;
                    for c in 0..gi {
                        for (i, j) in (0..kh).flat_map(|i| (0..kw).map(move |j| (i, j))) {
                            let row = along(y, i, s.stride.0, s.dilation.0, s.padding.0);
                            let column = along(x, j, s.stride.1, s.dilation.1, s.padding.1);
                            let (Some(row), Some(column)) = (row, column) else {
                                continue;
                            };
                            if row >= height || column >= width {
                                continue;
                            }
                            let channel = n * s.in_channels + g * gi + c;
                            let at = (channel * height + row) * width + column;
                            let w = ((o * gi + c) * kh + i) * kw + j;
                            sum += weight[w] as f64 * input[at] as f64;
                            r.weight_grad[w] += dz * input[at] as f64;
                            r.input_grad[at] += dz * weight[w] as f64;
                        }
                    }
                    r.output[out] = sum;
                }
            }
        }
        r
    }
}

fn narrow(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

#[test]
fn passes_agree_with_the_definition_on_awkward_shapes() {
    let new = Conv2dSettings::new;
    let settings = [
        new(1, 1, 1, 1, 1),
        new(3, 2, 1, 4, 7),
        new(2, 3, 3, 3, 3),
        new(2, 3, 3, 3, 3).padding(1),
        new(3, 5, 2, 9, 8).stride(3),
        new(4, 8, 3, 7, 6).padding(4).dilation(2),
        new(4, 4, 3, 6, 7).groups(4).stride(2).padding(1),
        Conv2dSettings {
            kernel_size: (1, 3),
            stride: (2, 1),
            padding: (0, 1),
            dilation: (3, 2),
            ..new(6, 4, 0, 5, 9).groups(2)
        },
        Conv2dSettings {
            kernel_size: (4, 1),
            padding: (3, 0),
            ..new(5, 3, 0, 4, 1).bias(false)
        },
        // One output, every tap in the padding but one.
        new(2, 2, 3, 1, 1).padding(1),
        // Runs copied a register at a time: runs of 9 writing into the next output row, wide
        // padding and dilation, margins along the width alone, and runs of exactly one
        // register.
        new(2, 3, 3, 5, 9).padding(1),
        new(3, 2, 4, 4, 12).padding(3).dilation(3),
        Conv2dSettings {
            kernel_size: (1, 5),
            padding: (0, 4),
            ..new(2, 2, 0, 3, 12)
        },
        new(1, 2, 1, 2, 8),
        // Outputs narrower than a register: copies that run into the next output row or the
        // next example, with padding and without.
        new(2, 3, 3, 1, 6).padding(1),
        new(1, 2, 2, 3, 5),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    for settings in settings {
        for rows in [1, 3] {
            let mut conv = Conv2d::new(settings, &mut rng).unwrap();
            let input = random(&mut rng, rows * conv.input_width());
            let grad_output = random(&mut rng, rows * conv.output_width());
            let expected = Reference::new(&conv, rows, &input, &grad_output);
            let what = |name| format!("{settings:?}, {rows} rows: {name}");

            let mut workspace = vec![f32::NAN; conv.workspace_len(rows).unwrap()];
            let mut output = vec![f32::NAN; rows * conv.output_width()];
            conv.forward(rows, &input, &mut output, &mut workspace)
                .unwrap();
            let expected_output = narrow(&expected.output);
            assert_close(&what("output"), &output, &expected_output, 1e-5, 1e-5);

            conv.backward_params(rows, &input, &grad_output, &mut workspace, false)
                .unwrap();
            let weight_grad: Vec<f32> = conv.weight_grad().iter().copied().collect();
            let expected_weight_grad = narrow(&expected.weight_grad);
            assert_close(&what("dW"), &weight_grad, &expected_weight_grad, 1e-5, 1e-5);
            match conv.bias_grad() {
                Some(bias_grad) => assert_close(
                    &what("db"),
                    bias_grad.as_slice().unwrap(),
                    &narrow(&expected.bias_grad),
                    1e-5,
                    1e-5,
                ),
                None => assert!(conv.bias_grad.is_empty()),
            }

            let mut grad_input = vec![f32::NAN; rows * conv.input_width()];
            conv.backward_input(rows, &grad_output, &mut grad_input, &mut workspace)
                .unwrap();
            let expected_input_grad = narrow(&expected.input_grad);
            assert_close(&what("dx"), &grad_input, &expected_input_grad, 1e-5, 1e-5);
        }
    }
}

#[test]
fn a_conv2d_one_row_high_is_a_conv1d() {
    let one = Conv1dSettings::new(4, 6, 3, 11)
        .stride(2)
        .padding(2)
        .dilation(2)
        .groups(2);
    let two = Conv2dSettings {
        kernel_size: (1, 3),
        stride: (1, 2),
        padding: (0, 2),
        dilation: (1, 2),
        ..Conv2dSettings::new(4, 6, 0, 1, 11).groups(2)
    };
    let mut conv1d = Conv1d::new(one, &mut rand::rngs::StdRng::seed_from_u64(8)).unwrap();
    let mut conv2d = Conv2d::new(two, &mut rand::rngs::StdRng::seed_from_u64(8)).unwrap();
    assert_eq!(conv2d.output_size(), (1, conv1d.output_length()));
    assert_eq!(conv2d.workspace_len(3), conv1d.workspace_len(3));
    assert_eq!(two.workspace_per_row(), one.workspace_per_row());
    // The same draws, in the same order, give the same values.
    assert!(conv2d.weight().iter().eq(conv1d.weight().iter()));

    let rows = 3;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let input = random(&mut rng, rows * conv1d.input_width());
    let grad_output = random(&mut rng, rows * conv1d.output_width());
    let mut workspace = vec![0.0; conv1d.workspace_len(rows).unwrap()];
    let (mut output1, mut output2) = (vec![0.0; grad_output.len()], vec![0.0; grad_output.len()]);
    conv1d
        .forward(rows, &input, &mut output1, &mut workspace)
        .unwrap();
    conv2d
        .forward(rows, &input, &mut output2, &mut workspace)
        .unwrap();
    assert_eq!(output1, output2);
    conv1d
        .backward_params(rows, &input, &grad_output, &mut workspace, false)
        .unwrap();
    conv2d
        .backward_params(rows, &input, &grad_output, &mut workspace, false)
        .unwrap();
    assert!(conv2d.weight_grad().iter().eq(conv1d.weight_grad().iter()));
    assert_eq!(conv2d.bias_grad(), conv1d.bias_grad());
}

/// `Σ output·weights` in `f64`, for finite differences.
fn loss(conv: &Conv2d, rows: usize, input: &[f32], weights: &[f32]) -> f64 {
    let mut output = vec![0.0; rows * conv.output_width()];
    let mut workspace = vec![0.0; conv.workspace_len(rows).unwrap()];
    conv.forward(rows, input, &mut output, &mut workspace)
        .unwrap();
    output
        .iter()
        .zip(weights)
        .map(|(&y, &g)| y as f64 * g as f64)
        .sum()
}

/// Value `i` of the weight followed by the bias.
fn parameter(layer: &mut Conv2d, i: usize) -> &mut f32 {
    let weights = layer.weight.len();
    if i < weights {
        &mut layer.weight[i]
    } else {
        &mut layer.bias[i - weights]
    }
}

#[test]
fn gradients_agree_with_finite_differences() {
    let settings = Conv2dSettings {
        kernel_size: (3, 2),
        stride: (2, 1),
        padding: (1, 1),
        dilation: (1, 2),
        ..Conv2dSettings::new(4, 6, 0, 6, 5).groups(2)
    };
    let rows = 2;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut conv = Conv2d::new(settings, &mut rng).unwrap();
    let mut input = random(&mut rng, rows * conv.input_width());
    let grad_output = random(&mut rng, rows * conv.output_width());
    let mut workspace = vec![0.0; conv.workspace_len(rows).unwrap()];
    conv.backward_params(rows, &input, &grad_output, &mut workspace, false)
        .unwrap();
    let mut grad_input = vec![0.0; rows * conv.input_width()];
    conv.backward_input(rows, &grad_output, &mut grad_input, &mut workspace)
        .unwrap();

    // The loss is linear in each value, so central differences have no truncation error, and
    // a large step keeps float32 rounding small beside the difference.
    const STEP: f32 = 0.5;
    let central = |plus: f64, minus: f64| ((plus - minus) / (2.0 * STEP as f64)) as f32;
    let mut numeric = Vec::new();
    for i in 0..conv.parameter_count() {
        let mut nudged = conv.clone();
        *parameter(&mut nudged, i) += STEP;
        let plus = loss(&nudged, rows, &input, &grad_output);
        *parameter(&mut nudged, i) -= 2.0 * STEP;
        numeric.push(central(plus, loss(&nudged, rows, &input, &grad_output)));
    }
    let analytic: Vec<f32> = conv
        .weight_grad
        .iter()
        .chain(conv.bias_grad.iter())
        .copied()
        .collect();
    assert_close("weight and bias", &analytic, &numeric, 1e-4, 1e-4);

    let mut numeric = Vec::new();
    for i in 0..input.len() {
        input[i] += STEP;
        let plus = loss(&conv, rows, &input, &grad_output);
        input[i] -= 2.0 * STEP;
        numeric.push(central(plus, loss(&conv, rows, &input, &grad_output)));
        input[i] += STEP;
    }
    assert_close("input", &grad_input, &numeric, 1e-4, 1e-4);
}

#[test]
fn gradients_add_up_until_zeroed() {
    let settings = Conv2dSettings::new(4, 6, 3, 5, 6).padding(1).groups(2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let mut conv = Conv2d::new(settings, &mut rng).unwrap();
    let rows = 3;
    let input = random(&mut rng, rows * conv.input_width());
    let grad_output = random(&mut rng, rows * conv.output_width());
    let mut workspace = vec![0.0; conv.workspace_len(rows).unwrap()];
    let grads = |conv: &Conv2d| -> Vec<f32> {
        conv.weight_grad
            .iter()
            .chain(conv.bias_grad.iter())
            .copied()
            .collect()
    };

    conv.backward_params(rows, &input, &grad_output, &mut workspace, true)
        .unwrap();
    let once = grads(&conv);
    assert!(once.iter().all(|g| g.is_finite()) && once.iter().any(|&g| g != 0.0));
    conv.backward_params(rows, &input, &grad_output, &mut workspace, true)
        .unwrap();
    let twice: Vec<f32> = once.iter().map(|g| 2.0 * g).collect();
    assert_close("accumulated", &grads(&conv), &twice, 1e-6, 1e-6);
    conv.backward_params(rows, &input, &grad_output, &mut workspace, false)
        .unwrap();
    assert_close("overwritten", &grads(&conv), &once, 1e-6, 1e-6);
    conv.zero_grad();
    assert!(grads(&conv).iter().all(|&g| g == 0.0));
    conv.backward_params(rows, &input, &grad_output, &mut workspace, true)
        .unwrap();
    conv.backward_params(0, &[], &[], &mut [], true).unwrap();
    assert_close("no rows", &grads(&conv), &once, 0.0, 0.0);
    conv.backward_params(0, &[], &[], &mut [], false).unwrap();
    assert!(grads(&conv).iter().all(|&g| g == 0.0));
}

#[test]
fn initialisation_follows_pytorch() {
    let settings = Conv2dSettings {
        kernel_size: (3, 2),
        ..Conv2dSettings::new(6, 9, 0, 5, 5).groups(3)
    };
    let conv = Conv2d::new(settings, &mut rand::rngs::StdRng::seed_from_u64(1)).unwrap();
    // Weight then bias, in PyTorch's order, each uniform in ±1/√(C_in/groups · kh·kw).
    let bound = 1.0 / 12f32.sqrt();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let drawn: Vec<f32> = (0..9 * 2 * 3 * 2 + 9)
        .map(|_| rng.gen_range(-bound..=bound))
        .collect();
    let values: Vec<f32> = conv
        .weight()
        .iter()
        .chain(conv.bias().unwrap().iter())
        .copied()
        .collect();
    assert_eq!(values, drawn);
    assert_eq!(conv.weight().dim(), (9, 2, 3, 2));
    assert_eq!(conv.parameter_count(), 117);
    assert!(conv.weight_grad.iter().all(|&g| g == 0.0));

    let no_bias = Conv2d::new(
        settings.bias(false),
        &mut rand::rngs::StdRng::seed_from_u64(1),
    )
    .unwrap();
    assert!(no_bias.bias().is_none() && no_bias.bias_grad().is_none());
    assert_eq!(no_bias.weight(), conv.weight());
    assert_eq!(no_bias.parameter_count(), 108);
}

#[test]
fn settings_pytorch_rejects_are_errors() {
    let new = Conv2dSettings::new;
    let invalid = |settings: Conv2dSettings, name: &str| {
        match Conv2d::new(settings, &mut rand::rngs::StdRng::seed_from_u64(0)) {
            Err(Error::InvalidArgument { name: found, .. }) => {
                assert_eq!(found, name, "{settings:?}")
            }
            other => panic!("{settings:?}: {other:?}"),
        }
        assert!(settings.output_size().is_err());
        assert!(Conv2d::zeros(settings).is_err());
    };
    let base = new(2, 3, 2, 5, 5);
    invalid(new(2, 3, 0, 5, 5), "Conv2d kernel_size");
    invalid(
        Conv2dSettings {
            kernel_size: (2, 0),
            ..base
        },
        "Conv2d kernel_size",
    );
    invalid(base.stride(0), "Conv2d stride");
    invalid(
        Conv2dSettings {
            stride: (1, 0),
            ..base
        },
        "Conv2d stride",
    );
    invalid(base.dilation(0), "Conv2d dilation");
    invalid(base.groups(0), "Conv2d groups");
    invalid(new(3, 4, 2, 5, 5).groups(2), "Conv2d groups");
    invalid(new(0, 3, 2, 5, 5), "Conv2d in_channels");
    invalid(new(2, 0, 2, 5, 5), "Conv2d out_channels");
    invalid(new(2, 3, 1, 0, 5).padding(1), "Conv2d input height");
    invalid(new(2, 3, 1, 5, 0).padding(1), "Conv2d input width");
    invalid(new(2, 3, 6, 5, 9), "Conv2d input height");
    invalid(new(2, 3, 6, 9, 5), "Conv2d input width");
    invalid(
        Conv2dSettings {
            dilation: (1, 3),
            ..new(2, 3, 3, 5, 5)
        },
        "Conv2d input width",
    );
    // Sizes that overflow are errors too, not panics or wrapped products.
    let huge = usize::MAX / 2;
    invalid(new(1, 1, 2, 4, 4).padding(huge), "Conv2d settings");
    invalid(new(1, 1, 1, 1 << 32, 1 << 32), "Conv2d settings");
    invalid(new(1 << 20, 1, 1, 1 << 22, 1 << 22), "Conv2d settings");
    invalid(new(1, 1, 1 << 32, 1 << 32, 1 << 32), "Conv2d settings");

    assert_eq!(
        new(2, 3, 6, 9, 5).output_size().unwrap_err().to_string(),
        "invalid Conv2d input width: the kernel spans 6 columns (dilation·(kernel_size − 1) + \
         1), more than the 5 of the padded input (width + 2·padding): the output would be empty"
    );
    assert_eq!(
        new(4, 3, 2, 5, 5)
            .groups(2)
            .output_size()
            .unwrap_err()
            .to_string(),
        "invalid Conv2d groups: out_channels (3) must be divisible by groups (2)"
    );
    // As in PyTorch: (28 + 4 − 5) / 1 + 1, (14 − 5) + 1, (11 + 2 − 3) / 2 + 1 by (9 + 2 − 3) / 2
    // + 1.
    assert_eq!(new(1, 6, 5, 28, 28).padding(2).output_size(), Ok((28, 28)));
    assert_eq!(new(6, 16, 5, 14, 14).output_size(), Ok((10, 10)));
    assert_eq!(
        new(3, 5, 3, 11, 9).stride(2).padding(1).output_size(),
        Ok((6, 5))
    );
}

#[test]
fn short_buffers_are_errors_and_long_ones_are_used_in_part() {
    let settings = Conv2dSettings::new(2, 3, 3, 4, 5).padding(1);
    let conv = Conv2d::new(settings, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
    let mut trained = conv.clone();
    let rows = 2;
    let (iw, ow, needed) = (
        conv.input_width(),
        conv.output_width(),
        conv.workspace_len(rows).unwrap(),
    );
    // One chunk of both rows: 2 rows × 20 positions × (2·9 columns + 3 outputs).
    assert_eq!(needed, 2 * 20 * 21);
    // Two threads' chunks and two halves' sums of the weight's 54 and the bias's 3 gradients.
    assert_eq!(
        settings.workspace_per_row(),
        2 * (20 * 21 + 54 + 3),
        "enough for any number of rows"
    );
    let input = vec![1.0; rows * iw];
    let grad = vec![1.0; rows * ow];
    let length = |width: usize, found: usize| Error::Length { rows, width, found };

    let mut output = vec![7.0; rows * ow];
    let mut workspace = vec![0.0; needed];
    let short = rows * iw - 1;
    assert_eq!(
        conv.forward(rows, &input[..short], &mut output, &mut workspace),
        Err(length(iw, short))
    );
    assert_eq!(
        conv.forward(rows, &input, &mut output[..ow], &mut workspace),
        Err(length(ow, ow))
    );
    let workspace_error = Error::Workspace {
        rows,
        needed,
        found: needed - 1,
    };
    assert_eq!(
        conv.forward(rows, &input, &mut output, &mut workspace[1..]),
        Err(workspace_error.clone())
    );
    assert!(output.iter().all(|&v| v == 7.0), "nothing written on error");
    assert_eq!(
        trained.backward_params(rows, &input, &grad[..1], &mut workspace, false),
        Err(length(ow, 1))
    );
    assert_eq!(
        trained.backward_params(rows, &input, &grad, &mut workspace[1..], false),
        Err(workspace_error.clone())
    );
    assert_eq!(trained, conv, "no gradient changed on error");
    let mut grad_input = vec![0.0; rows * iw];
    assert_eq!(
        conv.backward_input(rows, &grad, &mut grad_input[..3], &mut workspace),
        Err(length(iw, 3))
    );
    assert_eq!(
        conv.backward_input(rows, &grad, &mut grad_input, &mut workspace[1..]),
        Err(workspace_error)
    );
    let too_many = usize::MAX / 4;
    assert_eq!(
        conv.forward(too_many, &input, &mut output, &mut workspace),
        Err(Error::TooLarge {
            rows: too_many,
            width: iw
        })
    );
    // The passes work through chunks of examples: the workspace stops growing with one.
    assert_eq!(conv.workspace_len(too_many), conv.workspace_len(1 << 20));

    // Longer buffers: the first rows are read and written, the rest left as they were.
    let mut exact = vec![0.0; rows * ow];
    conv.forward(rows, &input, &mut exact, &mut workspace)
        .unwrap();
    let mut long_output = vec![7.0; rows * ow + 5];
    let mut long_workspace = vec![f32::NAN; needed + 5];
    let mut long_input = input.clone();
    long_input.push(f32::NAN);
    conv.forward(rows, &long_input, &mut long_output, &mut long_workspace)
        .unwrap();
    assert_eq!(long_output[..rows * ow], exact[..]);
    assert!(long_output[rows * ow..].iter().all(|&v| v == 7.0));
    assert!(long_workspace[needed..].iter().all(|v| v.is_nan()));
    let mut long_grad_input = vec![7.0; rows * iw + 1];
    conv.backward_input(rows, &grad, &mut long_grad_input, &mut long_workspace)
        .unwrap();
    assert_eq!(long_grad_input[rows * iw], 7.0);
    let mut one = vec![0.0; ow];
    conv.forward(1, &input, &mut one, &mut long_workspace)
        .unwrap();
    assert_eq!(one[..], exact[..ow]);
}

#[test]
fn parameters_and_tensors_carry_pytorch_names_and_shapes() {
    let settings = Conv2dSettings::new(4, 6, 3, 5, 5).groups(2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let mut conv = Conv2d::new(settings, &mut rng).unwrap();

    let mut seen = Vec::new();
    conv.visit_tensors_as("conv1.weight", "conv1.bias", &mut |name, shape, values| {
        seen.push((name.to_owned(), shape.to_vec(), values.len()));
    });
    assert_eq!(
        seen,
        [
            ("conv1.weight".to_owned(), vec![6, 2, 3, 3], 108),
            ("conv1.bias".to_owned(), vec![6], 6)
        ]
    );
    let mut visited = Vec::new();
    conv.visit_parameters_as(
        "conv1.weight",
        "conv1.bias",
        &mut |name: &str, value: &mut [f32], grad: &mut [f32]| {
            assert_eq!(value.len(), grad.len());
            visited.push(name.to_owned());
        },
    );
    assert_eq!(visited, ["conv1.weight", "conv1.bias"]);

    // An optimizer steps the lone layer through `Parameters`.
    let rows = 2;
    let input = random(&mut rng, rows * conv.input_width());
    let grad_output = random(&mut rng, rows * conv.output_width());
    let mut workspace = vec![0.0; conv.workspace_len(rows).unwrap()];
    conv.backward_params(rows, &input, &grad_output, &mut workspace, false)
        .unwrap();
    let before = conv.clone();
    SGD::new(0.5).step(&mut conv);
    let expected: Vec<f32> = before
        .weight
        .iter()
        .zip(before.weight_grad.iter())
        .map(|(w, g)| w - 0.5 * g)
        .collect();
    assert_close("stepped weight", &conv.weight, &expected, 1e-7, 0.0);

    // Saved and loaded as safetensors, under `weight` and `bias`.
    let bytes = serialize(&tensor_entries(&conv, ""), None).unwrap();
    let mut loaded = Conv2d::zeros(settings).unwrap();
    crate::io::load_safetensors_bytes(&mut loaded, &bytes).unwrap();
    assert_eq!(loaded.weight(), conv.weight());
    assert_eq!(loaded.bias(), conv.bias());
    let mut no_bias = Conv2d::zeros(settings.bias(false)).unwrap();
    assert_eq!(
        crate::io::load_safetensors_bytes(&mut no_bias, &bytes),
        Err(Error::UnexpectedTensor {
            name: "bias".to_owned()
        })
    );
    let mut names = Vec::new();
    no_bias.visit_parameters(&mut |name: &str, _: &mut [f32], _: &mut [f32]| {
        names.push(name.to_owned())
    });
    assert_eq!(names, ["weight"]);
}

/// A batch is worked through in chunks of examples, shared by two threads when it is large:
/// each example's outputs and input gradients are those it has alone, bit for bit, the weight
/// gradients are the sums of the examples', and a pass gives the same bits every time. The
/// workspace that `workspace_per_row` sizes is enough for every number of rows.
#[test]
fn chunks_and_threads_change_no_result() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for settings in [
        // Many positions: one example per chunk.
        Conv2dSettings::new(2, 4, 3, 14, 14).padding(1),
        // Few positions: several examples per chunk, several chunks.
        Conv2dSettings::new(24, 8, 3, 5, 5).stride(2).groups(2),
    ] {
        let conv = Conv2d::new(settings, &mut rng).unwrap();
        for rows in 1..300 {
            let needed = conv.workspace_len(rows).unwrap();
            assert!(needed <= rows * settings.workspace_per_row(), "{rows} rows");
        }
        let rows = 150;
        let (iw, ow) = (conv.input_width(), conv.output_width());
        let input = random(&mut rng, rows * iw);
        let grad = random(&mut rng, rows * ow);
        let mut workspace = vec![0.0; rows * settings.workspace_per_row()];
        let mut output = vec![0.0; rows * ow];
        conv.forward(rows, &input, &mut output, &mut workspace)
            .unwrap();
        let mut grad_input = vec![0.0; rows * iw];
        conv.backward_input(rows, &grad, &mut grad_input, &mut workspace)
            .unwrap();
        let mut batch = conv.clone();
        batch
            .backward_params(rows, &input, &grad, &mut workspace, false)
            .unwrap();
        let mut again = conv.clone();
        again
            .backward_params(rows, &input, &grad, &mut workspace, false)
            .unwrap();
        assert_eq!(
            again.weight_grad, batch.weight_grad,
            "the same bits every time"
        );

        let mut one = conv.clone();
        for n in 0..rows {
            let (x, g) = (&input[n * iw..][..iw], &grad[n * ow..][..ow]);
            let mut out = vec![0.0; ow];
            conv.forward(1, x, &mut out, &mut workspace).unwrap();
            assert_eq!(out[..], output[n * ow..][..ow], "example {n}'s outputs");
            let mut gi = vec![0.0; iw];
            conv.backward_input(1, g, &mut gi, &mut workspace).unwrap();
            assert_eq!(
                gi[..],
                grad_input[n * iw..][..iw],
                "example {n}'s input gradient"
            );
            one.backward_params(1, x, g, &mut workspace, n > 0).unwrap();
        }
        assert_close(
            "weight gradient",
            &batch.weight_grad,
            &one.weight_grad,
            1e-4,
            1e-5,
        );
        assert_close(
            "bias gradient",
            &batch.bias_grad,
            &one.bias_grad,
            1e-4,
            1e-5,
        );
    }
}
