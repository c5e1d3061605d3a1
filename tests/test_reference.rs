//! Generated (fused) forward and backward passes against a slow, obviously correct reference:
//! plain loops over the same weights, one layer at a time, each activation applied on its own.
//! Catches fusion mistakes (a wrong buffer, a wrong order) that per-op tests cannot.

mod common;

use common::assert_close;
use nn::prelude::*;

/// `(input, output, width)`: an activation's forward pass over a batch.
type RowForward = dyn Fn(&[f32], &mut [f32], usize);
/// `(input, output, grad, width)`: its backward pass, in place on `grad`.
type RowBackward = dyn Fn(&[f32], &[f32], &mut [f32], usize);

/// One layer of the reference: a linear map, or an activation applied row by row.
enum Step {
    Linear {
        weight: Vec<f32>,
        bias: Vec<f32>,
        inputs: usize,
        outputs: usize,
    },
    Activation(Box<RowForward>, Box<RowBackward>),
}

fn activation<A: RowActivation + Copy + 'static>(a: A) -> Step {
    Step::Activation(
        Box::new(move |x, y, w| a.forward_rows(x, y, w)),
        Box::new(move |x, y, g, w| a.backward_rows(x, y, g, w)),
    )
}

fn linear<const IN: usize, const OUT: usize>(layer: &Linear<IN, OUT>) -> Step {
    Step::Linear {
        weight: layer.weight().iter().copied().collect(),
        bias: layer.bias().to_vec(),
        inputs: IN,
        outputs: OUT,
    }
}

/// Gradients of every `Linear` (weight then bias, first layer first) by plain loops.
fn reference_gradients<L: Loss<OUT>, const IN: usize, const OUT: usize>(
    steps: &[Step],
    x: &Batch<IN>,
    target: &L::Target,
    loss: &L,
) -> Vec<f32> {
    let rows = x.rows();
    // values[i] is the input of step i; the last is the network's output.
    let mut values = vec![x.to_vec()];
    let mut width = IN;
    for step in steps {
        let input = values.last().unwrap();
        let output = match step {
            Step::Linear {
                weight,
                bias,
                inputs,
                outputs,
            } => {
                let mut out = vec![0.0f32; rows * outputs];
                for r in 0..rows {
                    for o in 0..*outputs {
                        let mut sum = f64::from(bias[o]);
                        for i in 0..*inputs {
                            sum += f64::from(input[r * inputs + i])
                                * f64::from(weight[o * inputs + i]);
                        }
                        out[r * outputs + o] = sum as f32;
                    }
                }
                width = *outputs;
                out
            }
            Step::Activation(forward, _) => {
                let mut out = vec![0.0f32; input.len()];
                forward(input, &mut out, width);
                out
            }
        };
        values.push(output);
    }
    let mut grad = vec![0.0f32; rows * OUT];
    loss.loss_and_grad(values.last().unwrap(), target, &mut grad);

    let mut parameter_grads = Vec::new();
    for (i, step) in steps.iter().enumerate().rev() {
        let input = &values[i];
        match step {
            Step::Linear {
                weight,
                inputs,
                outputs,
                ..
            } => {
                let (n_in, n_out) = (*inputs, *outputs);
                let mut dw = vec![0.0f32; n_out * n_in];
                let mut db = vec![0.0f32; n_out];
                let mut dx = vec![0.0f32; rows * n_in];
                for r in 0..rows {
                    for o in 0..n_out {
                        let g = grad[r * n_out + o];
                        db[o] += g;
                        for k in 0..n_in {
                            dw[o * n_in + k] += g * input[r * n_in + k];
                            dx[r * n_in + k] += g * weight[o * n_in + k];
                        }
                    }
                }
                parameter_grads.push(db);
                parameter_grads.push(dw);
                grad = dx;
                width = n_in;
            }
            Step::Activation(_, backward) => backward(input, &values[i + 1], &mut grad, width),
        }
    }
    parameter_grads.into_iter().rev().flatten().collect()
}

/// One training step with a zero learning rate: the parameters keep their values and hold
/// their gradients.
fn train_once<M, L, const IN: usize, const OUT: usize>(
    model: &mut M,
    x: &Batch<IN>,
    target: &L::Target,
    loss: &L,
) where
    M: Network<IN, OUT>,
    L: Loss<OUT>,
{
    model
        .train_step(x, target, loss, &mut SGD::new(0.0))
        .unwrap();
}

/// A layer's gradients, weight then bias in PyTorch's layout, as the reference lists them.
fn gradients<const IN: usize, const OUT: usize>(layer: &Linear<IN, OUT>) -> Vec<f32> {
    let (weight, bias) = common::layer_gradients(layer);
    [weight, bias].concat()
}

network! { struct Kinks { a: Linear(7, 16) -> ReLU -> b: Linear(16, 9) -> LeakyReLU(0.2) -> c: Linear(9, 5) -> Hardtanh -> d: Linear(5, 3) } }
network! { struct Hard { a: Linear(4, 13) -> Hardswish -> b: Linear(13, 6) -> ReLU6 -> c: Linear(6, 2) -> Hardsigmoid } }
network! { struct Exponential { a: Linear(5, 8) -> SELU -> b: Linear(8, 8) -> ELU(0.5) -> Tanh -> c: Linear(8, 4) -> Softmax } }
network! { struct Shrinks { a: Linear(6, 10) -> Softshrink(0.3) -> b: Linear(10, 4) -> Tanhshrink -> c: Linear(4, 2) } }
network! { struct Logits { a: Linear(33, 17) -> ReLU -> ReLU6 -> b: Linear(17, 10) -> LogSoftmax } }

#[test]
fn fused_code_matches_the_plain_reference() {
    for rows in [1, 3, 4, 9] {
        let mut model = Kinks::seeded(rows as u64);
        let steps = [
            linear(&model.a),
            activation(ReLU),
            linear(&model.b),
            activation(LeakyReLU::new(0.2)),
            linear(&model.c),
            activation(Hardtanh::default()),
            linear(&model.d),
        ];
        let x = Batch::<7>::random(rows, 1);
        let y = Batch::<3>::random(rows, 2);
        let loss = MSELoss::new();
        let expected = reference_gradients(&steps, &x, &y, &loss);
        train_once(&mut model, &x, &y, &loss);
        assert_close(
            "Kinks",
            &[
                gradients(&model.a),
                gradients(&model.b),
                gradients(&model.c),
                gradients(&model.d),
            ]
            .concat(),
            &expected,
            1e-5,
            1e-4,
        );

        let mut model = Hard::seeded(rows as u64);
        let steps = [
            linear(&model.a),
            activation(Hardswish),
            linear(&model.b),
            activation(ReLU6),
            linear(&model.c),
            activation(Hardsigmoid),
        ];
        let x = Batch::<4>::random(rows, 3);
        let y = Batch::<2>::random(rows, 4);
        let loss = BCELoss::new();
        let expected = reference_gradients(&steps, &x, &y, &loss);
        train_once(&mut model, &x, &y, &loss);
        assert_close(
            "Hard",
            &[
                gradients(&model.a),
                gradients(&model.b),
                gradients(&model.c),
            ]
            .concat(),
            &expected,
            1e-5,
            1e-4,
        );

        let mut model = Exponential::seeded(rows as u64);
        let steps = [
            linear(&model.a),
            activation(SELU),
            linear(&model.b),
            activation(ELU::new(0.5)),
            activation(Tanh),
            linear(&model.c),
            activation(Softmax),
        ];
        let x = Batch::<5>::random(rows, 5);
        let y = Batch::<4>::random(rows, 6);
        let loss = L1Loss::new();
        let expected = reference_gradients(&steps, &x, &y, &loss);
        train_once(&mut model, &x, &y, &loss);
        assert_close(
            "Exponential",
            &[
                gradients(&model.a),
                gradients(&model.b),
                gradients(&model.c),
            ]
            .concat(),
            &expected,
            1e-5,
            1e-4,
        );

        let mut model = Logits::seeded(rows as u64);
        let steps = [
            linear(&model.a),
            activation(ReLU),
            activation(ReLU6),
            linear(&model.b),
            activation(LogSoftmax),
        ];
        let x = Batch::<33>::random(rows, 7);
        let labels = Labels::random(rows, 10, 8);
        let loss = NLLLoss::new();
        let expected = reference_gradients::<_, 33, 10>(&steps, &x, &labels, &loss);
        train_once(&mut model, &x, &labels, &loss);
        assert_close(
            "Logits",
            &[gradients(&model.a), gradients(&model.b)].concat(),
            &expected,
            1e-5,
            1e-4,
        );

        let mut model = Shrinks::seeded(rows as u64);
        let steps = [
            linear(&model.a),
            activation(Softshrink::new(0.3)),
            linear(&model.b),
            activation(Tanhshrink),
            linear(&model.c),
        ];
        let x = Batch::<6>::random(rows, 9);
        let y = Batch::<2>::random(rows, 10);
        let loss = MSELoss::new();
        let expected = reference_gradients(&steps, &x, &y, &loss);
        train_once(&mut model, &x, &y, &loss);
        assert_close(
            "Shrinks",
            &[
                gradients(&model.a),
                gradients(&model.b),
                gradients(&model.c),
            ]
            .concat(),
            &expected,
            1e-5,
            1e-4,
        );
    }
}
