//! LeNet-5 against PyTorch (`tests/fixtures/lenet`, made by `tools/fixtures/lenet.py`):
//! PyTorch's `nn.Sequential` state dict loads as it is, and the forward pass, the first step's
//! gradients and ten steps of Adam follow PyTorch's.

mod common;

use common::{assert_close, fixture_path, load_fixture, tensors};
use nn::prelude::*;

network! {
    /// LeNet-5 on 28×28 images.
    pub struct LeNet {
        Input(1, 28, 28)
            -> Conv2d(1, 6, 5, padding = 2) -> ReLU -> MaxPool2d(2)
            -> Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2)
            -> Flatten -> Linear(400, 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, 10)
    }
}

fn model_and_data() -> (LeNet, Batch<784>, Labels) {
    let mut model = LeNet::seeded(0);
    model
        .load_safetensors(fixture_path("lenet/init.safetensors"))
        .expect("PyTorch's LeNet state dict loads as it is");
    let data = load_fixture("lenet/data.safetensors");
    let x = Batch::from_vec(16, data["input"].data.clone()).unwrap();
    let classes = data["target"].data.iter().map(|&c| c as usize).collect();
    (model, x, Labels::new(classes, 10).unwrap())
}

#[test]
fn forward_and_first_gradients_match_pytorch() {
    let (mut model, x, y) = model_and_data();
    let expected = load_fixture("lenet/data.safetensors");
    let output = model.forward(&x);
    assert_close(
        "logits",
        output.as_slice(),
        &expected["output"].data,
        1e-6,
        1e-5,
    );

    model
        .train_step(&x, &y, &CrossEntropyLoss::new(), &mut SGD::new(0.0))
        .unwrap();
    let gradients: [(&str, Vec<f32>); 10] = [
        (
            "0.weight",
            model.conv0.weight_grad().iter().copied().collect(),
        ),
        ("0.bias", model.conv0.bias_grad().unwrap().to_vec()),
        (
            "3.weight",
            model.conv3.weight_grad().iter().copied().collect(),
        ),
        ("3.bias", model.conv3.bias_grad().unwrap().to_vec()),
        (
            "7.weight",
            model.linear7.weight_grad().iter().copied().collect(),
        ),
        ("7.bias", model.linear7.bias_grad().to_vec()),
        (
            "9.weight",
            model.linear9.weight_grad().iter().copied().collect(),
        ),
        ("9.bias", model.linear9.bias_grad().to_vec()),
        (
            "11.weight",
            model.linear11.weight_grad().iter().copied().collect(),
        ),
        ("11.bias", model.linear11.bias_grad().to_vec()),
    ];
    for (name, gradient) in gradients {
        assert_close(
            name,
            &gradient,
            &expected[&format!("grad.{name}")].data,
            1e-6,
            1e-4,
        );
    }
}

#[test]
fn ten_steps_of_adam_match_pytorch() {
    let (mut model, x, y) = model_and_data();
    let (loss, mut adam) = (CrossEntropyLoss::new(), Adam::new(1e-3));
    let losses: Vec<f32> = (0..10)
        .map(|_| model.train_step(&x, &y, &loss, &mut adam).unwrap())
        .collect();
    let expected = load_fixture("lenet/after10.safetensors");
    assert_close("losses", &losses, &expected["losses"].data, 1e-6, 1e-5);
    // Adam moves a weight by up to the learning rate per step whatever its gradient's size, so
    // a gradient that is rounding noise (summed in another order) moves it by ~1e-5 here: the
    // weights are held to a tenth of one step.
    for (name, values) in tensors(&model) {
        assert_close(&name, &values, &expected[&name].data, 1e-4, 1e-4);
    }
}
