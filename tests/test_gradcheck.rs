//! Generated backward passes against central finite differences, for networks of every smooth
//! activation, depths 1 to 4, widths 1 to 33, and every loss.
//!
//! The runtime computes in `f32`, so the check follows one random direction `v` over all
//! parameters (as JAX's `check_grads` does) and compares `⟨∇L, v⟩` with
//! `(L(θ + hv) − L(θ − hv)) / 2h` at `h = 1e-2`, to a relative tolerance of 1e-2. Activations
//! with kinks are checked exactly against a plain reference in `test_reference.rs` instead.

mod common;

use common::gradients;

use nn::prelude::*;
use rand::{Rng, SeedableRng};

network! { #[derive(Clone)] struct Depth1 { Linear(5, 3) } }
network! { #[derive(Clone)] struct TanhSigmoid { Linear(7, 33) -> Tanh -> Linear(33, 4) -> Sigmoid } }
network! { #[derive(Clone)] struct GeluSiluLogSoftmax { Linear(1, 9) -> GELU -> Linear(9, 17) -> SiLU -> Linear(17, 5) -> LogSoftmax } }
network! { #[derive(Clone)] struct Depth4 { Linear(6, 12) -> Mish -> Linear(12, 8) -> Softplus -> Linear(8, 8) -> Softsign -> Linear(8, 3) } }
network! { #[derive(Clone)] struct CeluSoftmax { Linear(4, 6) -> CELU -> Linear(6, 2) -> Softmax } }
network! { #[derive(Clone)] struct Stacked { Linear(3, 5) -> ELU(1.0) -> Tanh -> Linear(5, 1) } }
network! { #[derive(Clone)] struct GeluTanh { Linear(8, 4) -> GELU("tanh") -> Linear(4, 4) -> Sigmoid -> Linear(4, 2) } }
network! { #[derive(Clone)] struct Wide { Linear(33, 33) -> Tanh -> Linear(33, 1) -> Sigmoid } }
network! {
    #[derive(Clone)]
    struct ConvResidual {
        Input(2, 9) -> Conv1d(2, 4, 3, padding = 1) -> Tanh -> AvgPool1d(3, 1, 1)
            -> Residual(Conv1d(4, 4, 3, padding = 2, dilation = 2, groups = 2) -> SiLU)
            -> Conv1d(4, 3, 2, stride = 2, bias = false) -> GELU
            -> Flatten -> Linear(12, 5)
            -> Residual(Linear(5, 5) -> Tanh -> Residual(Linear(5, 5))) -> Linear(5, 3)
    }
}
network! {
    #[derive(Clone)]
    struct ResidualFirst {
        Input(3, 5) -> Residual(Conv1d(3, 3, 3, padding = 1) -> Tanh) -> Flatten -> Linear(15, 2)
    }
}

/// The mean loss of `model` on `(x, target)` in evaluation mode.
fn loss_of<M, L, const IN: usize, const OUT: usize>(
    model: &M,
    x: &Batch<IN>,
    target: &L::Target,
    loss: &L,
) -> f64
where
    M: Network<IN, OUT>,
    L: Loss<OUT>,
{
    f64::from(loss.value(&model.forward(x), target).unwrap())
}

/// Moves every parameter by `step · v`.
fn shift<M: Parameters>(model: &mut M, v: &[f32], step: f32) {
    let mut offset = 0;
    model.visit_parameters(&mut |_: &str, value: &mut [f32], _: &mut [f32]| {
        for (p, d) in value.iter_mut().zip(&v[offset..]) {
            *p += step * d;
        }
        offset += value.len();
    });
}

/// Checks the training step's gradients (fused path) and `forward_train` + `backward` (the
/// PyTorch-style path) against finite differences along three random directions.
fn check<M, L, const IN: usize, const OUT: usize>(
    mut model: M,
    rows: usize,
    target: &L::Target,
    loss: &L,
) where
    M: Network<IN, OUT> + Clone,
    L: Loss<OUT>,
{
    let x = Batch::<IN>::from_vec(rows, {
        let mut rng = rand::rngs::StdRng::seed_from_u64(rows as u64);
        (0..rows * IN).map(|_| rng.gen_range(-2.0..2.0)).collect()
    })
    .unwrap();

    model
        .train_step(&x, target, loss, &mut SGD::new(0.0))
        .unwrap();
    let fused = gradients(&mut model);

    let mut manual = model.clone();
    manual.zero_grad();
    let output = manual.forward_train(&x);
    let (_, d_output) = loss.value_and_grad(&output, target).unwrap();
    manual.backward(&d_output).unwrap();
    common::assert_close(
        "backward() against train_step",
        &gradients(&mut manual),
        &fused,
        1e-5,
        1e-3,
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    for _ in 0..3 {
        let v: Vec<f32> = (0..fused.len()).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let analytic: f64 = fused
            .iter()
            .zip(&v)
            .map(|(g, d)| f64::from(*g) * f64::from(*d))
            .sum();
        let h = 1e-2;
        let mut plus = model.clone();
        shift(&mut plus, &v, h);
        let mut minus = model.clone();
        shift(&mut minus, &v, -h);
        let numeric = (loss_of(&plus, &x, target, loss) - loss_of(&minus, &x, target, loss))
            / (2.0 * f64::from(h));
        let allowed = 1e-3 + 1e-2 * analytic.abs();
        assert!(
            (analytic - numeric).abs() <= allowed,
            "directional derivative: backward {analytic}, finite differences {numeric}"
        );
    }
}

fn targets<const F: usize>(rows: usize, seed: u64) -> Batch<F> {
    Batch::random(rows, seed)
}

#[test]
fn elementwise_losses() {
    check(Depth1::seeded(1), 4, &targets::<3>(4, 1), &MSELoss::new());
    check(Depth1::seeded(2), 1, &targets::<3>(1, 2), &L1Loss::new());
    check(
        Stacked::seeded(3),
        6,
        &targets::<1>(6, 3),
        &HuberLoss::new(),
    );
    check(
        Stacked::seeded(4),
        5,
        &targets::<1>(5, 4),
        &SmoothL1Loss::new(),
    );
    check(
        CeluSoftmax::seeded(5),
        7,
        &targets::<2>(7, 5),
        &MSELoss::new(),
    );
}

#[test]
fn binary_cross_entropy_fused_and_with_logits() {
    check(
        TanhSigmoid::seeded(6),
        9,
        &targets::<4>(9, 6),
        &BCELoss::new(),
    );
    check(Wide::seeded(7), 33, &targets::<1>(33, 7), &BCELoss::new());
    check(
        GeluTanh::seeded(8),
        5,
        &targets::<2>(5, 8),
        &BCEWithLogitsLoss::new(),
    );
}

#[test]
fn a_residual_at_the_input() {
    check(
        ResidualFirst::seeded(13),
        4,
        &targets::<2>(4, 13),
        &MSELoss::new(),
    );
}

#[test]
fn class_index_losses() {
    check(
        Depth4::seeded(9),
        8,
        &Labels::random(8, 3, 9),
        &CrossEntropyLoss::new(),
    );
    check(
        Depth4::seeded(10),
        8,
        &Labels::random(8, 3, 10),
        &CrossEntropyLoss::new().label_smoothing(0.1),
    );
    check(
        ConvResidual::seeded(12),
        6,
        &Labels::random(6, 3, 12),
        &CrossEntropyLoss::new(),
    );
    check(
        GeluSiluLogSoftmax::seeded(11),
        10,
        &Labels::random(10, 5, 11),
        &NLLLoss::new(),
    );
}
