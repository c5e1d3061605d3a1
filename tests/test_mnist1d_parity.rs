//! The MNIST-1D baselines against PyTorch (`tests/fixtures/mnist1d`, made by
//! `tools/fixtures/mnist1d_parity.py`): PyTorch's state dicts load as they are, the initial
//! forward pass matches to rounding, and the data set's training loop follows PyTorch's for as
//! long as float32 rounding lets any two implementations agree (the script's docstring measures
//! how long that is).

mod common;

use common::{assert_close, fixture_path, load_fixture, tensors};
use nn::data::Csv;
use nn::prelude::*;

network! {
    /// The MNIST-1D convolutional baseline (`ConvBase`).
    pub struct ConvBase {
        Input(1, 40)
            -> conv1: Conv1d(1, 25, 5, stride = 2, padding = 1) -> ReLU
            -> conv2: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> conv3: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> Flatten -> linear: Linear(125, 10)
    }
}

network! {
    /// The MNIST-1D MLP baseline (`MLPBase`).
    pub struct MlpBase {
        linear1: Linear(40, 100) -> ReLU -> Residual(linear2: Linear(100, 100) -> ReLU) -> linear3: Linear(100, 10)
    }
}

/// The training rows, in file order.
fn training_data() -> (Batch<40>, Labels) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/mnist1d/mnist1d_train.csv.gz"
    );
    Csv::new()
        .target("label")
        .read_classes::<40>(path, 10)
        .expect("the MNIST-1D training set reads")
}

/// The data set's loop: Adam 1e-2, CrossEntropyLoss, batches of 100 in file order. Returns
/// each step's loss (before its update) and the weights after step `snapshot`.
fn train<const OUT: usize, M: Network<40, OUT>>(
    model: &mut M,
    steps: usize,
    snapshot: usize,
) -> (Vec<f32>, Vec<(String, Vec<f32>)>) {
    let (x, y) = training_data();
    let loss = CrossEntropyLoss::new();
    let mut optimizer = Adam::new(1e-2);
    let mut losses = Vec::new();
    let mut weights = Vec::new();
    for step in 0..steps {
        let start = step * 100 % 4000;
        let rows: Vec<usize> = (start..start + 100).collect();
        let value = model
            .train_step(&x.select(&rows), &y.select(&rows), &loss, &mut optimizer)
            .expect("a finite step");
        losses.push(value);
        if step + 1 == snapshot {
            weights = tensors(model);
        }
    }
    (losses, weights)
}

/// Checks a run against PyTorch's: its first `close_steps` losses within 1e-4 relative, and all
/// of them as closely as two float32 runs can stay.
fn check_run(name: &str, losses: &[f32], weights: &[(String, Vec<f32>)], close_steps: usize) {
    let expected = load_fixture(&format!("mnist1d/{name}_after200.safetensors"));
    let pytorch = &expected["losses"].data;
    // The first steps to rounding.
    assert_close(
        &format!("{name} losses[0]"),
        &losses[..1],
        &pytorch[..1],
        1e-6,
        1e-5,
    );
    assert_close(
        &format!("{name} losses[..10]"),
        &losses[..10],
        &pytorch[..10],
        1e-5,
        0.0,
    );
    let after10 = load_fixture(&format!("mnist1d/{name}_after10.safetensors"));
    for (key, values) in weights {
        assert_close(
            &format!("{name} {key} after 10 steps"),
            values,
            &after10[key].data,
            1e-3,
            0.0,
        );
    }
    assert_close(
        &format!("{name} losses[..{close_steps}]"),
        &losses[..close_steps],
        &pytorch[..close_steps],
        0.0,
        1e-4,
    );
    // What survives two float32 runs separating: the curve, and where it ends.
    assert_close(&format!("{name} losses"), losses, pytorch, 0.1, 0.0);
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (ours, theirs) = (mean(&losses[150..]), mean(&pytorch[150..]));
    assert!(
        (ours - theirs).abs() <= 1e-2,
        "{name}: mean loss of steps 150..200 is {ours}, PyTorch's {theirs}"
    );
}

#[test]
fn conv_base_loads_pytorch_weights_and_matches_its_forward_pass() {
    let mut model = ConvBase::seeded(0);
    model
        .load_safetensors(fixture_path("mnist1d/cnn_init.safetensors"))
        .expect("PyTorch's ConvBase state dict loads as it is");
    let expected = load_fixture("mnist1d/cnn_init_outputs.safetensors");
    let x = Batch::<40>::from_vec(8, expected["input"].data.clone()).unwrap();
    let output = model.forward(&x);
    assert_close(
        "logits",
        output.as_slice(),
        &expected["output"].data,
        1e-6,
        1e-5,
    );
}

#[test]
fn conv_base_trains_as_pytorch_does() {
    let mut model = ConvBase::seeded(0);
    model
        .load_safetensors(fixture_path("mnist1d/cnn_init.safetensors"))
        .unwrap();
    let (losses, weights) = train(&mut model, 200, 10);
    // PyTorch's own float64 run from these weights leaves its float32 run at step 78 (ours
    // follows it to step 86 here): the first 50 steps are as far as any two runs agree.
    check_run("cnn", &losses, &weights, 50);
}

#[test]
fn mlp_base_trains_as_pytorch_does() {
    let mut model = MlpBase::seeded(0);
    model
        .load_safetensors(fixture_path("mnist1d/mlp_init.safetensors"))
        .expect("PyTorch's MLPBase state dict loads as it is");
    let (losses, weights) = train(&mut model, 200, 10);
    check_run("mlp", &losses, &weights, 200);
}
