//! Networks with batch and layer normalisation: training steps use batch statistics and move
//! the running ones, `forward` uses the running ones, the gradients are right (central
//! differences of the training-mode loss), the state dict carries PyTorch's names, and a
//! training step on one row is an error that changes nothing.

mod common;

use common::gradients;
use nn::prelude::*;
use rand::{Rng, SeedableRng};

network! {
    #[derive(Clone)]
    struct Normed {
        Input(3, 6)
            -> Conv1d(3, 4, 3, padding = 1) -> bn1: BatchNorm1d(4) -> Tanh
            -> Flatten -> Linear(24, 8) -> bn2: BatchNorm1d(8, eps = 1e-3, momentum = 0.3) -> SiLU
            -> ln: LayerNorm(8) -> Linear(8, 3)
    }
}

fn data(rows: usize, seed: u64) -> (Batch<18>, Labels) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let values = (0..rows * 18).map(|_| rng.gen_range(-2.0..2.0)).collect();
    (
        Batch::from_vec(rows, values).unwrap(),
        Labels::random(rows, 3, seed),
    )
}

/// The training-mode loss (batch statistics), on a copy so the running statistics stay.
fn training_loss(model: &Normed, x: &Batch<18>, y: &Labels) -> f64 {
    let output = model.clone().forward_train(x);
    f64::from(CrossEntropyLoss::new().value(&output, y).unwrap())
}

#[test]
fn gradients_match_central_differences_of_the_training_loss() {
    let mut model = Normed::seeded(1);
    let (x, y) = data(5, 2);
    let mut probe = model.clone();
    probe
        .train_step(&x, &y, &CrossEntropyLoss::new(), &mut SGD::new(0.0))
        .unwrap();
    let analytic = gradients(&mut probe);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let direction: Vec<f32> = analytic.iter().map(|_| rng.gen_range(-1.0..1.0)).collect();
    let shift = |model: &mut Normed, step: f32| {
        let mut offset = 0;
        model.visit_parameters(&mut |_: &str, value: &mut [f32], _: &mut [f32]| {
            for (p, d) in value.iter_mut().zip(&direction[offset..]) {
                *p += step * d;
            }
            offset += value.len();
        });
    };
    let h = 1e-2;
    shift(&mut model, h);
    let plus = training_loss(&model, &x, &y);
    shift(&mut model, -2.0 * h);
    let minus = training_loss(&model, &x, &y);
    let numeric = (plus - minus) / (2.0 * f64::from(h));
    let projected: f64 = analytic
        .iter()
        .zip(&direction)
        .map(|(&g, &d)| f64::from(g) * f64::from(d))
        .sum();
    assert!(
        (numeric - projected).abs() <= 1e-2 * numeric.abs().max(projected.abs()).max(1e-3),
        "finite differences {numeric}, backward {projected}"
    );
}

#[test]
fn training_moves_running_statistics_that_forward_uses() {
    let mut model = Normed::seeded(4);
    let (x, y) = data(8, 5);
    let before = model.forward(&x);
    assert_eq!(model.bn1.num_batches_tracked(), 0);
    model
        .train_step(&x, &y, &CrossEntropyLoss::new(), &mut SGD::new(0.0))
        .unwrap();
    assert_eq!(model.bn1.num_batches_tracked(), 1);
    assert!(model.bn2.running_mean().iter().any(|&m| m != 0.0));
    // No parameter moved (learning rate 0), but the running statistics did.
    assert_ne!(model.forward(&x), before);
    // `forward` is evaluation: it moves nothing.
    let again = model.forward(&x);
    assert_eq!(model.forward(&x), again);
    assert_eq!(model.bn1.num_batches_tracked(), 1);
}

#[test]
fn one_row_in_a_training_step_is_an_error_that_changes_nothing() {
    let mut model = Normed::seeded(6);
    let (x, y) = data(1, 7);
    let before = model.forward(&x);
    let error = model
        .train_step(&x, &y, &CrossEntropyLoss::new(), &mut Adam::new(0.1))
        .unwrap_err();
    assert!(error.to_string().contains("value per channel"), "{error}");
    assert_eq!(model.forward(&x), before);
    assert_eq!(model.bn1.num_batches_tracked(), 0);
}

#[test]
fn the_state_dict_has_pytorchs_names_and_round_trips() {
    let mut model = Normed::seeded(8);
    let (x, y) = data(6, 9);
    model
        .train_step(&x, &y, &CrossEntropyLoss::new(), &mut Adam::new(0.01))
        .unwrap();
    let mut names = Vec::new();
    model.visit_tensors(&mut |name: &str, _: &[usize], _: &[f32]| names.push(name.to_owned()));
    for name in [
        "0.weight",
        "bn1.weight",
        "bn1.bias",
        "bn1.running_mean",
        "bn1.running_var",
        "bn1.num_batches_tracked",
        "4.weight",
        "bn2.running_var",
        "ln.weight",
        "ln.bias",
        "8.bias",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let path = std::env::temp_dir().join(format!("normed-{}.safetensors", std::process::id()));
    model.save_safetensors(&path).unwrap();
    let mut copy = Normed::seeded(10);
    copy.load_safetensors(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(copy.forward(&x), model.forward(&x));
    assert_eq!(copy.bn2.num_batches_tracked(), 1);
}
