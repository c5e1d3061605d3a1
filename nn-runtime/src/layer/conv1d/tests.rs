use rand::SeedableRng;

use super::*;
use crate::io::{serialize, tensor_entries};
use crate::optim::{Optimizer, SGD};
use crate::testing::{assert_close, load_fixture, Tensor};

/// The cases of `tools/fixtures/conv1d.py`: file, settings, rows.
fn cases() -> Vec<(&'static str, Conv1dSettings, usize)> {
    let new = Conv1dSettings::new;
    vec![
        ("mnist1d_conv1", new(1, 25, 5, 40).stride(2).padding(1), 8),
        ("mnist1d_conv2", new(25, 25, 3, 19).stride(2).padding(1), 8),
        ("dilation2", new(4, 6, 3, 17).padding(1).dilation(2), 3),
        ("groups5", new(10, 15, 3, 12).groups(5), 3),
        ("no_bias", new(3, 8, 4, 16).stride(3).bias(false), 3),
        ("padding3", new(2, 5, 3, 9).padding(3), 3),
        (
            "mixed",
            new(6, 4, 2, 20)
                .stride(3)
                .padding(2)
                .dilation(3)
                .groups(2)
                .bias(false),
            3,
        ),
        ("depthwise", new(4, 8, 3, 10).padding(1).groups(4), 2),
    ]
}

fn random(rng: &mut impl Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// The largest `|a − e|`; the largest `|a − e| / |e|` where `|e| ≥ 10⁻³`; and the largest
/// `|a − e|` over the largest `|e|`.
fn differences(actual: &[f32], expected: &[f32]) -> (f32, f32, f32) {
    let (mut abs, mut rel, mut scale) = (0.0f32, 0.0f32, 0.0f32);
    for (&a, &e) in actual.iter().zip(expected) {
        let difference = (a - e).abs();
        abs = abs.max(difference);
        scale = scale.max(e.abs());
        if e.abs() >= 1e-3 {
            rel = rel.max(difference / e.abs());
        }
    }
    (abs, rel, abs / scale)
}

/// Compares with PyTorch: within 10⁻⁵ relative, or 10⁻⁶ of the tensor's largest value (at least
/// 10⁻⁶) for entries that are sums which cancel, whose rounding errors scale with their terms
/// rather than with the sum (PyTorch's own results differ from a `f64` evaluation by as much).
#[track_caller]
fn compare(case: &str, what: &str, actual: &[f32], expected: &[f32]) {
    let (abs, rel, normwise) = differences(actual, expected);
    eprintln!(
        "{case:>14} {what:<12} max |Δ| {abs:.1e}, max |Δ|/|e| {rel:.1e}, max |Δ| / max |e| \
         {normwise:.1e}"
    );
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
        let fixture = load_fixture(&format!("conv1d/{case}.safetensors"));
        let tensor = |name: &str| -> &Tensor {
            fixture
                .get(name)
                .unwrap_or_else(|| panic!("{case}: no tensor `{name}`"))
        };
        let mut conv = Conv1d::zeros(settings).unwrap();
        let (c_in, c_out, length) = (settings.in_channels, settings.out_channels, settings.length);
        let output_length = conv.output_length();
        assert_eq!(tensor("input").shape, [rows, c_in, length], "{case}");
        assert_eq!(
            tensor("output").shape,
            [rows, c_out, output_length],
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
    fn new(conv: &Conv1d, rows: usize, input: &[f32], grad_output: &[f32]) -> Self {
        let s = *conv.settings();
        let (gi, go) = (s.in_channels / s.groups, s.out_channels / s.groups);
        let (length, lo, k) = (s.length, conv.output_length(), s.kernel_size);
        let weight: Vec<f32> = conv.weight().iter().copied().collect();
        let bias = conv.bias().map(|b| b.to_vec());
        let mut r = Reference {
            output: vec![0.0; rows * s.out_channels * lo],
            weight_grad: vec![0.0; weight.len()],
            bias_grad: vec![0.0; s.out_channels],
            input_grad: vec![0.0; input.len()],
        };
        for n in 0..rows {
            for o in 0..s.out_channels {
                let g = o / go;
                for t in 0..lo {
                    let out = (n * s.out_channels + o) * lo + t;
                    let dz = grad_output[out] as f64;
                    let mut sum = bias.as_ref().map_or(0.0, |b| b[o] as f64);
                    r.bias_grad[o] += dz;
                    for c in 0..gi {
                        for j in 0..k {
                            let position =
                                (t * s.stride + j * s.dilation) as isize - s.padding as isize;
                            if position < 0 || position >= length as isize {
                                continue;
                            }
                            let x = (n * s.in_channels + g * gi + c) * length + position as usize;
                            let w = (o * gi + c) * k + j;
                            sum += weight[w] as f64 * input[x] as f64;
                            r.weight_grad[w] += dz * input[x] as f64;
                            r.input_grad[x] += dz * weight[w] as f64;
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
    let new = Conv1dSettings::new;
    let settings = [
        new(1, 1, 1, 1),
        new(3, 2, 1, 7),
        new(2, 3, 5, 5),
        new(2, 3, 5, 5).padding(2),
        new(3, 17, 4, 23).stride(5),
        new(8, 40, 3, 11).padding(7).dilation(4),
        new(6, 6, 3, 13).groups(6).stride(2).padding(1),
        new(4, 12, 2, 9).groups(2).dilation(3).stride(4).padding(3),
        new(33, 9, 7, 30).groups(3).bias(false),
        // One output, every tap in the padding but one.
        new(2, 2, 3, 1).padding(1),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    for settings in settings {
        for rows in [1, 3, 5] {
            let mut conv = Conv1d::new(settings, &mut rng).unwrap();
            let input = random(&mut rng, rows * conv.input_width());
            let grad_output = random(&mut rng, rows * conv.output_width());
            let expected = Reference::new(&conv, rows, &input, &grad_output);
            let what = |name| format!("{settings:?}, {rows} rows: {name}");

            let mut workspace = vec![f32::NAN; conv.workspace_len(rows).unwrap()];
            let mut output = vec![f32::NAN; rows * conv.output_width()];
            conv.forward(rows, &input, &mut output, &mut workspace)
                .unwrap();
            assert_close(
                &what("output"),
                &output,
                &narrow(&expected.output),
                1e-5,
                1e-5,
            );

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
            assert_close(
                &what("dx"),
                &grad_input,
                &narrow(&expected.input_grad),
                1e-5,
                1e-5,
            );
        }
    }
}

/// `Σ output·weights` in `f64`, for finite differences.
fn loss(conv: &Conv1d, rows: usize, input: &[f32], weights: &[f32]) -> f64 {
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
fn parameter(layer: &mut Conv1d, i: usize) -> &mut f32 {
    let weights = layer.weight.len();
    if i < weights {
        &mut layer.weight[i]
    } else {
        &mut layer.bias[i - weights]
    }
}

#[test]
fn gradients_agree_with_finite_differences() {
    let settings = Conv1dSettings::new(4, 6, 3, 9)
        .stride(2)
        .padding(2)
        .dilation(2)
        .groups(2);
    let rows = 2;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut conv = Conv1d::new(settings, &mut rng).unwrap();
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
    for i in 0..conv.weight.len() + conv.bias.len() {
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
    let settings = Conv1dSettings::new(4, 6, 3, 10).padding(1).groups(2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let mut conv = Conv1d::new(settings, &mut rng).unwrap();
    let rows = 3;
    let input = random(&mut rng, rows * conv.input_width());
    let grad_output = random(&mut rng, rows * conv.output_width());
    let mut workspace = vec![0.0; conv.workspace_len(rows).unwrap()];
    let grads = |conv: &Conv1d| -> Vec<f32> {
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
    // Without `accumulate`, the gradient of this batch alone.
    conv.backward_params(rows, &input, &grad_output, &mut workspace, false)
        .unwrap();
    assert_close("overwritten", &grads(&conv), &once, 1e-6, 1e-6);
    conv.zero_grad();
    assert!(grads(&conv).iter().all(|&g| g == 0.0));

    // No rows: nothing to add, and nothing but zeros to overwrite with.
    conv.backward_params(rows, &input, &grad_output, &mut workspace, true)
        .unwrap();
    conv.backward_params(0, &[], &[], &mut [], true).unwrap();
    assert_close("no rows", &grads(&conv), &once, 0.0, 0.0);
    conv.backward_params(0, &[], &[], &mut [], false).unwrap();
    assert!(grads(&conv).iter().all(|&g| g == 0.0));
}

#[test]
fn initialisation_follows_pytorch_and_linear() {
    let settings = Conv1dSettings::new(10, 15, 3, 12).groups(5);
    let conv = Conv1d::new(settings, &mut rand::rngs::StdRng::seed_from_u64(1)).unwrap();
    assert_eq!(
        conv,
        Conv1d::new(settings, &mut rand::rngs::StdRng::seed_from_u64(1)).unwrap()
    );
    // Weight then bias, in PyTorch's order, each uniform in ±1/√(C_in/groups · k).
    let bound = 1.0 / 6f32.sqrt();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let drawn: Vec<f32> = (0..15 * 2 * 3 + 15)
        .map(|_| rng.gen_range(-bound..=bound))
        .collect();
    let values: Vec<f32> = conv
        .weight()
        .iter()
        .chain(conv.bias().unwrap().iter())
        .copied()
        .collect();
    assert_eq!(values, drawn);
    assert_eq!(conv.parameter_count(), 105);
    assert!(conv.weight_grad.iter().all(|&g| g == 0.0));

    let wide = Conv1dSettings::new(64, 64, 5, 20);
    let conv = Conv1d::new(wide, &mut rand::rngs::StdRng::seed_from_u64(3)).unwrap();
    let bound = 1.0 / 320f32.sqrt();
    assert!(conv
        .weight
        .iter()
        .chain(conv.bias.iter())
        .all(|v| v.abs() <= bound));
    let mean = conv.weight.iter().sum::<f32>() / conv.weight.len() as f32;
    assert!(mean.abs() < 0.02 * bound, "mean {mean}");

    let no_bias = Conv1d::new(wide.bias(false), &mut rand::rngs::StdRng::seed_from_u64(3)).unwrap();
    assert!(no_bias.bias().is_none() && no_bias.bias_grad().is_none());
    assert_eq!(no_bias.weight(), conv.weight());
    assert_eq!(no_bias.parameter_count(), 64 * 64 * 5);
}

#[test]
fn settings_pytorch_rejects_are_errors() {
    let new = Conv1dSettings::new;
    let invalid = |settings: Conv1dSettings, name: &str| {
        match Conv1d::new(settings, &mut rand::rngs::StdRng::seed_from_u64(0)) {
            Err(Error::InvalidArgument { name: found, .. }) => {
                assert_eq!(found, name, "{settings:?}")
            }
            other => panic!("{settings:?}: {other:?}"),
        }
        assert!(settings.output_length().is_err());
        assert!(Conv1d::zeros(settings).is_err());
    };
    invalid(new(2, 3, 0, 5), "Conv1d kernel_size");
    invalid(new(2, 3, 2, 5).stride(0), "Conv1d stride");
    invalid(new(2, 3, 2, 5).dilation(0), "Conv1d dilation");
    invalid(new(2, 3, 2, 5).groups(0), "Conv1d groups");
    invalid(new(3, 4, 2, 5).groups(2), "Conv1d groups");
    invalid(new(4, 3, 2, 5).groups(2), "Conv1d groups");
    invalid(new(0, 3, 2, 5), "Conv1d in_channels");
    invalid(new(2, 0, 2, 5), "Conv1d out_channels");
    invalid(new(2, 3, 1, 0).padding(1), "Conv1d input length");
    invalid(new(2, 3, 6, 5), "Conv1d input length");
    invalid(new(2, 3, 3, 5).dilation(3), "Conv1d input length");
    // Sizes that overflow are errors too, not panics or wrapped products.
    let huge = usize::MAX / 2;
    invalid(new(1, 1, 2, 4).padding(huge), "Conv1d settings");
    invalid(new(1, 1, huge, 4).dilation(4), "Conv1d settings");
    invalid(new(huge, 1, 1, 4), "Conv1d settings");
    invalid(new(4, huge, 1, 4), "Conv1d settings");
    invalid(new(1, 1 << 40, 1, 1 << 30), "Conv1d settings");

    assert_eq!(
        new(3, 4, 2, 5)
            .groups(2)
            .output_length()
            .unwrap_err()
            .to_string(),
        "invalid Conv1d groups: in_channels (3) must be divisible by groups (2)"
    );
    assert_eq!(
        new(2, 3, 6, 5).output_length().unwrap_err().to_string(),
        "invalid Conv1d input length: the kernel spans 6 samples (dilation·(kernel_size − 1) + \
         1), more than the 5 of the padded input (length + 2·padding): the output would be empty"
    );
    // Padding that makes room, as in PyTorch: (5 + 2 − 6) / 1 + 1.
    assert_eq!(new(2, 3, 6, 5).padding(1).output_length(), Ok(2));
    assert_eq!(new(2, 3, 2, 5).padding(5).output_length(), Ok(14));
    assert_eq!(
        new(1, 25, 5, 40).stride(2).padding(1).output_length(),
        Ok(19)
    );
    assert_eq!(
        new(25, 25, 3, 19).stride(2).padding(1).output_length(),
        Ok(10)
    );
}

#[test]
fn short_buffers_are_errors_and_long_ones_are_used_in_part() {
    let settings = Conv1dSettings::new(2, 3, 3, 8).padding(1);
    let conv = Conv1d::new(settings, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
    let mut trained = conv.clone();
    let rows = 2;
    let (iw, ow, needed) = (
        conv.input_width(),
        conv.output_width(),
        conv.workspace_len(rows).unwrap(),
    );
    // One chunk of both rows: 2 rows × 8 positions × (2·3 columns + 3 outputs).
    assert_eq!(needed, 2 * 8 * 9);
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
    assert_eq!(
        workspace_error.to_string(),
        "a workspace of 143 values is too short for 2 rows, which need 144"
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
    // A workspace sized for more rows serves fewer.
    let mut one = vec![0.0; ow];
    conv.forward(1, &input, &mut one, &mut long_workspace)
        .unwrap();
    assert_eq!(one[..], exact[..ow]);
}

#[test]
fn parameters_and_tensors_carry_pytorch_names_and_shapes() {
    let settings = Conv1dSettings::new(4, 6, 3, 10).groups(2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let mut conv = Conv1d::new(settings, &mut rng).unwrap();

    let mut seen = Vec::new();
    conv.visit_tensors_as("conv1.weight", "conv1.bias", &mut |name, shape, values| {
        seen.push((name.to_owned(), shape.to_vec(), values.len()));
    });
    assert_eq!(
        seen,
        [
            ("conv1.weight".to_owned(), vec![6, 2, 3], 36),
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
    assert_close(
        "stepped bias",
        conv.bias().unwrap().as_slice().unwrap(),
        &before
            .bias
            .iter()
            .zip(before.bias_grad.iter())
            .map(|(b, g)| b - 0.5 * g)
            .collect::<Vec<_>>(),
        1e-7,
        0.0,
    );

    // Saved and loaded as safetensors, under `weight` and `bias`.
    let bytes = serialize(&tensor_entries(&conv, ""), None).unwrap();
    let mut loaded = Conv1d::zeros(settings).unwrap();
    crate::io::load_safetensors_bytes(&mut loaded, &bytes).unwrap();
    assert_eq!(loaded.weight(), conv.weight());
    assert_eq!(loaded.bias(), conv.bias());
    // A layer without a bias has no `bias` tensor, and refuses a file that has one.
    let mut no_bias = Conv1d::zeros(settings.bias(false)).unwrap();
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

/// Time of each pass on MNIST-1D's two convolutions at 100 rows:
/// `cargo test --release -p nn-runtime --lib conv1d::tests::speed -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test"]
fn speed() {
    use std::time::Instant;
    let cases = [
        (
            "conv1",
            Conv1dSettings::new(1, 25, 5, 40).stride(2).padding(1),
        ),
        (
            "conv2",
            Conv1dSettings::new(25, 25, 3, 19).stride(2).padding(1),
        ),
    ];
    let rows = 100;
    for (name, settings) in cases {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut conv = Conv1d::new(settings, &mut rng).unwrap();
        let input = random(&mut rng, rows * conv.input_width());
        let grad_output = random(&mut rng, rows * conv.output_width());
        let mut output = vec![0.0; rows * conv.output_width()];
        let mut grad_input = vec![0.0; rows * conv.input_width()];
        let mut workspace = vec![0.0; conv.workspace_len(rows).unwrap()];
        let mut time = |f: &mut dyn FnMut(&mut Conv1d, &mut [f32])| {
            for _ in 0..200 {
                f(&mut conv, &mut workspace);
            }
            let mut best = f64::INFINITY;
            for _ in 0..30 {
                let start = Instant::now();
                for _ in 0..50 {
                    f(&mut conv, &mut workspace);
                }
                best = best.min(start.elapsed().as_secs_f64() / 50.0);
            }
            best * 1e6
        };
        let forward = time(&mut |conv, workspace| {
            conv.forward(rows, &input, &mut output, workspace).unwrap();
        });
        let params = time(&mut |conv, workspace| {
            conv.backward_params(rows, &input, &grad_output, workspace, true)
                .unwrap();
        });
        let inputs = time(&mut |conv, workspace| {
            conv.backward_input(rows, &grad_output, &mut grad_input, workspace)
                .unwrap();
        });
        eprintln!(
            "{name} {settings:?}, {rows} rows: forward {forward:.1} µs, backward_params \
             {params:.1} µs, backward_input {inputs:.1} µs; total {:.1} µs",
            forward + params + inputs
        );
    }
}
