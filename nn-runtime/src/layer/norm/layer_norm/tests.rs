use rand::{Rng, SeedableRng};

use super::*;
use crate::error::Error;
use crate::io::{load_safetensors_bytes, serialize, tensor_entries};
use crate::optim::{Optimizer, SGD};
use crate::testing::{assert_close, load_fixture};

/// The layer normalisation cases of `tools/fixtures/norm.py`: file, width, rows, eps,
/// elementwise_affine.
const CASES: [(&str, usize, usize, f32, bool); 3] = [
    ("layer_norm_affine", 12, 5, 1e-5, true),
    ("layer_norm_plain", 20, 4, 1e-3, false),
    ("layer_norm_wide", 96, 3, 1e-5, true),
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

#[test]
fn passes_match_pytorch() {
    for (case, width, rows, eps, affine) in CASES {
        let fixture = load_fixture(&format!("norm/{case}.safetensors"));
        let tensor = |name: &str| -> &[f32] {
            &fixture
                .get(name)
                .unwrap_or_else(|| panic!("{case}: no tensor `{name}`"))
                .data
        };
        let mut norm = LayerNorm::new(width, eps, affine).unwrap();
        assert_eq!(fixture.contains_key("weight"), affine, "{case}");
        // Loaded as a weights file is, through the tensors' names and shapes.
        let mut loaded = 0;
        norm.visit_tensors_mut(&mut |name, shape, values| {
            assert_eq!(fixture[name].shape, shape, "{case}: {name}");
            values.copy_from_slice(&fixture[name].data);
            loaded += 1;
        });
        assert_eq!(loaded, if affine { 2 } else { 0 });

        let input = tensor("input");
        let mut output = vec![f32::NAN; rows * width];
        norm.forward(rows, input, &mut output).unwrap();
        compare(case, "output", &output, tensor("output"));
        let grad_output = tensor("grad_output");
        let mut grad_input = vec![f32::NAN; rows * width];
        norm.backward_input(rows, input, grad_output, &mut grad_input)
            .unwrap();
        compare(case, "input.grad", &grad_input, tensor("input.grad"));
        norm.backward_params(rows, input, grad_output, false)
            .unwrap();
        if affine {
            compare(
                case,
                "weight.grad",
                &norm.weight_grad,
                tensor("weight.grad"),
            );
            compare(case, "bias.grad", &norm.bias_grad, tensor("bias.grad"));
        } else {
            assert_eq!(norm.weight_grad(), None);
        }
    }
}

/// The definition in `f64`: the output.
fn definition(norm: &LayerNorm, rows: usize, input: &[f32]) -> Vec<f64> {
    let width = norm.width;
    let mut output = Vec::new();
    for row in input[..rows * width].chunks(width) {
        let mean = row.iter().map(|&x| f64::from(x)).sum::<f64>() / width as f64;
        let var = row
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / width as f64;
        let invstd = 1.0 / (var + f64::from(norm.eps)).sqrt();
        for (j, &x) in row.iter().enumerate() {
            let normalised = (f64::from(x) - mean) * invstd;
            output.push(if norm.elementwise_affine {
                normalised * f64::from(norm.weight[j]) + f64::from(norm.bias[j])
            } else {
                normalised
            });
        }
    }
    output
}

/// `Σ output·weights` of the definition, in `f64`.
fn loss(norm: &LayerNorm, rows: usize, input: &[f32], weights: &[f32]) -> f64 {
    let output = definition(norm, rows, input);
    output
        .iter()
        .zip(weights)
        .map(|(&y, &g)| y * f64::from(g))
        .sum()
}

/// Value `i` of the weight followed by the bias.
fn parameter(layer: &mut LayerNorm, i: usize) -> &mut f32 {
    let width = layer.weight.len();
    if i < width {
        &mut layer.weight[i]
    } else {
        &mut layer.bias[i - width]
    }
}

#[test]
fn passes_agree_with_the_definition_far_from_zero() {
    let (rows, width) = (4, 1024);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut norm = LayerNorm::new(width, 1e-5, true).unwrap();
    norm.weight
        .copy_from_slice(&random(&mut rng, width, 1.0, 0.5));
    norm.bias
        .copy_from_slice(&random(&mut rng, width, 0.0, 1.0));
    let input = random(&mut rng, rows * width, 1000.0, 0.5);
    let expected: Vec<f32> = definition(&norm, rows, &input)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let mut output = vec![0.0; rows * width];
    norm.forward(rows, &input, &mut output).unwrap();
    compare("far", "output", &output, &expected);
}

#[test]
fn gradients_agree_with_finite_differences() {
    for (width, rows, affine) in [(7, 3, true), (5, 2, false), (2, 1, true)] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let mut norm = LayerNorm::new(width, 1e-3, affine).unwrap();
        for i in 0..norm.weight.len() {
            *parameter(&mut norm, i) = rng.gen_range(0.5..1.5);
            *parameter(&mut norm, width + i) = rng.gen_range(-1.0..1.0);
        }
        let mut input = random(&mut rng, rows * width, 0.5, 2.0);
        let grad_output = random(&mut rng, rows * width, 0.0, 1.0);
        norm.backward_params(rows, &input, &grad_output, false)
            .unwrap();
        let mut grad_input = vec![0.0; input.len()];
        norm.backward_input(rows, &input, &grad_output, &mut grad_input)
            .unwrap();

        // The definition in `f64` has rounding errors far below a step of 10⁻³, whose
        // truncation error is of its square; the loss is linear in the weight and the bias.
        const STEP: f32 = 1e-3;
        let central = |plus: f64, minus: f64| ((plus - minus) / (2.0 * f64::from(STEP))) as f32;
        let case = (width, rows, affine);
        let mut numeric = Vec::new();
        for i in 0..norm.parameter_count() {
            let mut nudged = norm.clone();
            *parameter(&mut nudged, i) += STEP;
            let plus = loss(&nudged, rows, &input, &grad_output);
            *parameter(&mut nudged, i) -= 2.0 * STEP;
            numeric.push(central(plus, loss(&nudged, rows, &input, &grad_output)));
        }
        let analytic: Vec<f32> = norm
            .weight_grad
            .iter()
            .chain(norm.bias_grad.iter())
            .copied()
            .collect();
        assert_close(
            &format!("{case:?}: parameters"),
            &analytic,
            &numeric,
            1e-4,
            1e-3,
        );

        let mut numeric = Vec::new();
        for i in 0..input.len() {
            let original = input[i];
            input[i] = original + STEP;
            let plus = loss(&norm, rows, &input, &grad_output);
            input[i] = original - STEP;
            numeric.push(central(plus, loss(&norm, rows, &input, &grad_output)));
            input[i] = original;
        }
        assert_close(
            &format!("{case:?}: input"),
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
    let (rows, mut norm) = (3, LayerNorm::new(6, 1e-5, true).unwrap());
    let input = random(&mut rng, rows * 6, 0.0, 1.0);
    let grad_output = random(&mut rng, rows * 6, 0.0, 1.0);
    norm.backward_params(rows, &input, &grad_output, false)
        .unwrap();
    let once = norm.weight_grad.to_vec();
    norm.backward_params(rows, &input, &grad_output, true)
        .unwrap();
    let twice: Vec<f32> = once.iter().map(|g| 2.0 * g).collect();
    assert_close("weight.grad", &norm.weight_grad, &twice, 1e-7, 1e-6);
    norm.zero_grad();
    assert!(norm
        .weight_grad
        .iter()
        .chain(norm.bias_grad.iter())
        .all(|&g| g == 0.0));
    norm.weight_grad.fill(7.0);
    norm.backward_params(rows, &input, &grad_output, false)
        .unwrap();
    assert_eq!(norm.weight_grad.to_vec(), once);
    norm.backward_params(0, &[], &[], false).unwrap();
    assert!(norm.weight_grad.iter().all(|&g| g == 0.0));
}

#[test]
fn arguments_pytorch_rejects_are_errors_and_bad_rows_stay_apart() {
    let invalid = |result: Result<LayerNorm>, name: &str| match result {
        Err(Error::InvalidArgument { name: found, .. }) => assert_eq!(found, name),
        other => panic!("{name}: {other:?}"),
    };
    invalid(LayerNorm::new(0, 1e-5, true), "LayerNorm width");
    for eps in [-1e-5, f32::NAN, f32::NEG_INFINITY] {
        invalid(LayerNorm::new(4, eps, true), "LayerNorm eps");
    }
    assert!(LayerNorm::new(4, 0.0, false).is_ok());

    // A NaN makes its row NaN, and only its row.
    let norm = LayerNorm::new(2, 1e-5, true).unwrap();
    let mut output = [0.0; 4];
    norm.forward(2, &[1.0, f32::NAN, 1.0, 3.0], &mut output)
        .unwrap();
    assert!(output[..2].iter().all(|v| v.is_nan()));
    assert_close("second row", &output[2..], &[-1.0, 1.0], 1e-4, 0.0);
}

#[test]
fn short_buffers_are_errors_and_long_ones_are_used_in_part() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut norm = LayerNorm::new(6, 1e-5, true).unwrap();
    let (rows, width) = (4, 6);
    let input = random(&mut rng, rows * width, 0.0, 1.0);
    let grad = random(&mut rng, rows * width, 0.0, 1.0);
    let short = |found: usize| Err(Error::Length { rows, width, found });
    let mut output = vec![0.0; rows * width];
    let mut small = vec![0.0; rows * width - 1];
    assert_eq!(norm.forward(rows, &input[1..], &mut output), short(23));
    assert_eq!(norm.forward(rows, &input, &mut small), short(23));
    norm.weight_grad.fill(7.0);
    assert_eq!(
        norm.backward_params(rows, &input[1..], &grad, false),
        short(23)
    );
    assert_eq!(
        norm.backward_params(rows, &input, &grad[1..], false),
        short(23)
    );
    assert!(norm.weight_grad.iter().all(|&g| g == 7.0), "unchanged");
    assert_eq!(
        norm.backward_input(rows, &input[1..], &grad, &mut output),
        short(23)
    );
    assert_eq!(
        norm.backward_input(rows, &input, &grad[1..], &mut output),
        short(23)
    );
    assert_eq!(
        norm.backward_input(rows, &input, &grad, &mut small),
        short(23)
    );
    assert_eq!(
        norm.forward(usize::MAX, &input, &mut output),
        Err(Error::TooLarge {
            rows: usize::MAX,
            width
        })
    );

    norm.forward(rows, &input, &mut output).unwrap();
    let mut long_input = input.clone();
    long_input.push(f32::NAN);
    let mut long_output = vec![7.0; rows * width + 2];
    norm.forward(rows, &long_input, &mut long_output).unwrap();
    assert_eq!(long_output[..rows * width], output[..]);
    assert_eq!(long_output[rows * width..], [7.0, 7.0]);
}

#[test]
fn tensors_carry_pytorch_names_and_survive_a_file() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let mut norm = LayerNorm::new(3, 1e-5, true).unwrap();
    norm.weight.copy_from_slice(&random(&mut rng, 3, 1.0, 0.5));
    norm.bias.copy_from_slice(&random(&mut rng, 3, 0.0, 1.0));
    let mut seen = Vec::new();
    norm.visit_tensors_as("norm1.weight", "norm1.bias", &mut |name, shape, values| {
        seen.push((name.to_owned(), shape.to_vec(), values.len()));
    });
    assert_eq!(
        seen,
        [
            ("norm1.weight".to_owned(), vec![3], 3),
            ("norm1.bias".to_owned(), vec![3], 3)
        ]
    );
    let bytes = serialize(&tensor_entries(&norm, ""), None).unwrap();
    let mut loaded = LayerNorm::new(3, 1e-5, true).unwrap();
    load_safetensors_bytes(&mut loaded, &bytes).unwrap();
    assert_eq!(loaded, norm);

    // An optimizer steps the weight and the bias.
    let input = random(&mut rng, 6, 0.0, 1.0);
    norm.backward_params(2, &input, &input, false).unwrap();
    let before = norm.clone();
    SGD::new(0.5).step(&mut norm);
    let stepped: Vec<f32> = before
        .bias
        .iter()
        .zip(before.bias_grad.iter())
        .map(|(b, g)| b - 0.5 * g)
        .collect();
    assert_close("stepped bias", &norm.bias, &stepped, 1e-7, 0.0);

    // Without elementwise_affine: no parameters, no tensors, and a file with some is refused.
    let mut plain = LayerNorm::new(3, 1e-5, false).unwrap();
    let mut names = Vec::new();
    plain.visit_parameters(&mut |name: &str, _: &mut [f32], _: &mut [f32]| {
        names.push(name.to_owned())
    });
    plain.visit_tensors(&mut |name, _, _| names.push(name.to_owned()));
    assert!(names.is_empty());
    assert_eq!((plain.parameter_count(), plain.weight()), (0, None));
    assert_eq!(
        load_safetensors_bytes(&mut plain, &bytes),
        Err(Error::UnexpectedTensor {
            name: "bias".to_owned()
        })
    );
}

#[test]
fn the_generated_entry_points_run_the_passes() {
    let mut norm = super::super::layer_norm(2, 1e-5, true);
    let (input, grad) = ([1.0, 3.0, 0.0, 4.0], [1.0, -1.0, 0.5, 0.5]);
    let mut output = [0.0; 4];
    super::super::layer_norm_forward(&norm, 2, &input, &mut output);
    assert_close("output", &output, &[-1.0, 1.0, -1.0, 1.0], 1e-4, 0.0);
    let mut grad_input = [f32::NAN; 4];
    super::super::layer_norm_backward(&mut norm, 2, &input, &grad, Some(&mut grad_input), false);
    assert_eq!(norm.bias_grad().unwrap().to_vec(), [1.5, -0.5]);
    assert!(grad_input.iter().all(|v| v.is_finite()));
}
