//! The tutorial program against PyTorch: same initial weights and data in, same forward pass,
//! gradients, per-epoch losses and final weights out (`tests/fixtures/seed`).

mod common;

use common::{assert_close, fixture_path, load_fixture, tensors};
use nn::prelude::*;

network! {
    struct SimpleNN {
        fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid
    }
}

fn seed_model_and_data() -> (SimpleNN, Batch<64>, Batch<2>) {
    let mut model = SimpleNN::seeded(0);
    model
        .load_safetensors(fixture_path("seed/init.safetensors"))
        .expect("PyTorch's state dict loads");
    let data = load_fixture("seed/data.safetensors");
    let x = Batch::from_vec(32, data["input"].data.clone()).unwrap();
    let y = Batch::from_vec(32, data["target"].data.clone()).unwrap();
    (model, x, y)
}

/// Each parameter's gradient in PyTorch's layout (the weight views iterate `[out, in]`,
/// whatever the storage).
fn gradients(model: &SimpleNN) -> Vec<(String, Vec<f32>)> {
    let (fc1_weight, fc1_bias) = common::layer_gradients(&model.fc1);
    let (fc2_weight, fc2_bias) = common::layer_gradients(&model.fc2);
    vec![
        ("fc1.weight".into(), fc1_weight),
        ("fc1.bias".into(), fc1_bias),
        ("fc2.weight".into(), fc2_weight),
        ("fc2.bias".into(), fc2_bias),
    ]
}

#[test]
fn first_forward_pass_matches() {
    let (model, x, y) = seed_model_and_data();
    let expected = load_fixture("seed/forward0.safetensors");
    let output = model.forward(&x);
    assert_close(
        "output",
        output.as_slice(),
        &expected["output"].data,
        1e-6,
        1e-5,
    );
    let loss = BCELoss::new().value(&output, &y).unwrap();
    assert_close("loss", &[loss], &expected["loss"].data, 1e-6, 1e-5);
}

#[test]
fn first_gradients_match_fused_and_unfused() {
    let expected = load_fixture("seed/grads0.safetensors");

    // Fused: the training step's sigmoid + BCE gradient. A zero learning rate keeps the weights.
    let (mut model, x, y) = seed_model_and_data();
    model
        .train_step(&x, &y, &BCELoss::new(), &mut SGD::new(0.0))
        .unwrap();
    for (name, grad) in gradients(&model) {
        assert_close(&name, &grad, &expected[&name].data, 1e-6, 1e-5);
    }

    // Unfused, the PyTorch way: forward, loss gradient, backward.
    let (mut model, x, y) = seed_model_and_data();
    let output = model.forward_train(&x);
    let (_, d_output) = BCELoss::new().value_and_grad(&output, &y).unwrap();
    assert_close(
        "d_output",
        d_output.as_slice(),
        &expected["d_output"].data,
        1e-6,
        1e-5,
    );
    model.backward(&d_output).unwrap();
    for (name, grad) in gradients(&model) {
        assert_close(&name, &grad, &expected[&name].data, 1e-6, 1e-5);
    }
}

#[test]
fn ten_epochs_of_adam_match_losses_and_weights() {
    let (mut model, x, y) = seed_model_and_data();
    let expected = load_fixture("seed/losses.safetensors");
    let per_step = load_fixture("seed/params_per_step.safetensors");
    let mut optimizer = Adam::new(0.01);
    let mut losses = Vec::new();
    for step in 1..=10 {
        losses.push(
            model
                .train_step(&x, &y, &BCELoss::new(), &mut optimizer)
                .unwrap(),
        );
        for (name, values) in tensors(&model) {
            let key = format!("step{step}.{name}");
            assert_close(&key, &values, &per_step[&key].data, 1e-5, 0.0);
        }
    }
    assert_close("losses", &losses, &expected["losses"].data, 1e-6, 1e-5);
    let final_weights = load_fixture("seed/final.safetensors");
    for (name, values) in tensors(&model) {
        assert_close(&name, &values, &final_weights[&name].data, 1e-5, 0.0);
    }
    let output = model.forward(&x);
    assert_close(
        "final output",
        output.as_slice(),
        &expected["final_output"].data,
        1e-6,
        1e-5,
    );
}
