//! Recreates the PyTorch activation-functions tutorial end to end: `SimpleNN`
//! (`Linear(64, 128) -> ReLU -> Linear(128, 2) -> Sigmoid`) trained with `BCELoss` and
//! `Adam(lr=0.01)` for 10 epochs on a random batch of 32.
//!
//! It starts from the weights and the batch PyTorch drew with `torch.manual_seed(0)` (saved as
//! safetensors in `tests/fixtures/seed`), so its losses can be read against PyTorch's, printed
//! beside them. It saves the trained weights (`simple_nn.safetensors`) and the model as ONNX
//! (`simple_nn.onnx`).
//!
//! ```text
//! cargo run --release --example seed
//! ```

use std::path::Path;

use nn::prelude::*;

network! {
    /// The model from the PyTorch activation-functions tutorial.
    #[derive(Clone)]
    pub struct SimpleNN {
        fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid
    }
}

fn main() -> Result<(), Error> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed");

    let mut model = SimpleNN::seeded(0);
    model.load_safetensors(fixtures.join("init.safetensors"))?; // a PyTorch state_dict
    println!("{model}\n");

    // input = torch.rand(32, 64); target = torch.randint(0, 2, (32, 2)).float()
    let data = nn::io::read_tensors(&fixtures.join("data.safetensors"))?;
    let x = Batch::<64>::from_vec(32, data["input"].values.clone())?;
    let y = Batch::<2>::from_vec(32, data["target"].values.clone())?;
    let pytorch = nn::io::read_tensors(&fixtures.join("losses.safetensors"))?;
    let pytorch_losses = &pytorch["losses"].values;

    let mut optimizer = Adam::new(0.01);
    let criterion = BCELoss::new();
    for epoch in 1..=10 {
        let loss = model.train_step(&x, &y, &criterion, &mut optimizer)?;
        println!(
            "Epoch [{epoch}/10], Loss: {loss:.4}    (PyTorch: {:.4}, difference {:.1e})",
            pytorch_losses[epoch - 1],
            (loss - pytorch_losses[epoch - 1]).abs()
        );
    }

    let probabilities: Batch<2> = model.forward(&x);
    println!("\nfirst row after training: {:?}", probabilities.row(0));
    model.save_safetensors("simple_nn.safetensors")?;
    println!("weights saved to simple_nn.safetensors");
    model.save_onnx("simple_nn.onnx")?;
    println!("model saved to simple_nn.onnx, for ONNX Runtime and other ONNX tools");
    Ok(())
}
