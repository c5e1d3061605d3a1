//! Recreates the PyTorch activation-functions tutorial end to end: `SimpleNN`
//! (`Linear(64, 128) -> ReLU -> Linear(128, 2) -> Sigmoid`) trained with `BCELoss` and
//! `Adam(lr=0.01)` for 10 epochs on a random batch of 32.
//!
//! ```text
//! cargo run --release --example seed
//! ```

use nn::prelude::*;

network! {
    /// The model from the PyTorch activation-functions tutorial.
    #[derive(Clone)]
    pub struct SimpleNN {
        fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid
    }
}

fn main() -> Result<(), Error> {
    let mut model = SimpleNN::seeded(0);
    println!("{model}\n");

    // torch.rand(32, 64) and torch.randint(0, 2, (32, 2)).float()
    let x = Batch::<64>::random(32, 1);
    let y = Batch::<2>::from_vec(
        32,
        Labels::random(64, 2, 2)
            .indices()
            .iter()
            .map(|&l| l as f32)
            .collect(),
    )?;

    let mut optimizer = Adam::new(0.01);
    let loss = BCELoss::new();
    for epoch in 1..=10 {
        let value = model.train_step(&x, &y, &loss, &mut optimizer)?;
        println!("Epoch [{epoch}/10], Loss: {value:.4}");
    }

    let probabilities: Batch<2> = model.forward(&x);
    println!("\nfirst row after training: {:?}", probabilities.row(0));
    model.save_safetensors("simple_nn.safetensors")?;
    println!("weights saved to simple_nn.safetensors");
    Ok(())
}
