//! Loads a PyTorch model's weights and checks that it computes what PyTorch computed.
//!
//! `from_pytorch/make_state_dict.py` defines a small classifier in PyTorch (`hidden` =
//! `Linear(4, 16)`, `tanh`, `output` = `Linear(16, 3)`), seeds torch, and saves its
//! `state_dict()` with `safetensors.torch.save_file`, with eight input rows and PyTorch's
//! outputs for them. Here the same network is declared with `network!`, its weights are loaded
//! from that file, and it runs the same rows: the example prints both outputs side by side and
//! the largest difference, and fails if any output differs by more than 1e-6. The files are
//! committed; the script remakes them (with torch and safetensors installed).
//!
//! ```text
//! cargo run --release --example from_pytorch
//! python3 examples/from_pytorch/make_state_dict.py   # to remake the files
//! ```

use std::error::Error;
use std::path::Path;

use nn::prelude::*;

network! {
    /// The PyTorch `Classifier` of `make_state_dict.py`: its labels are the module's attribute
    /// names, so its weights are `hidden.weight`, `hidden.bias`, `output.weight` and
    /// `output.bias`, as in the state dict.
    struct Classifier {
        hidden: Linear(4, 16) -> Tanh -> output: Linear(16, 3)
    }
}

/// The largest difference allowed between an output here and PyTorch's: a few float32 roundings
/// of outputs below 1 in size (the products add their terms in another order than PyTorch's).
const TOLERANCE: f32 = 1e-6;

/// The same inputs through PyTorch and through the loaded network.
struct Comparison {
    pytorch: Batch<3>,
    ours: Batch<3>,
}

impl Comparison {
    /// Loads `state_dict.safetensors` into a [`Classifier`] and runs it on the inputs of
    /// `samples.safetensors`, beside PyTorch's outputs for them.
    fn run() -> Result<Self, Box<dyn Error>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/from_pytorch");
        // Every weight is replaced by the load, so the seed does not matter.
        let mut model = Classifier::seeded(0);
        model.load_safetensors(dir.join("state_dict.safetensors"))?;

        let samples = nn::io::read_tensors(&dir.join("samples.safetensors"))?;
        let tensor = |name: &str| {
            samples
                .get(name)
                .ok_or_else(|| format!("samples.safetensors has no tensor `{name}`"))
        };
        let (input, pytorch) = (tensor("input")?, tensor("output")?);
        let rows = input.shape.first().copied().unwrap_or(0);
        let input = Batch::<4>::from_vec(rows, input.values.clone())?;
        let pytorch = Batch::<3>::from_vec(rows, pytorch.values.clone())?;
        let ours = model.forward(&input);
        Ok(Comparison { pytorch, ours })
    }

    /// The largest absolute difference between the two outputs.
    fn largest_difference(&self) -> f32 {
        let pairs = self.pytorch.as_slice().iter().zip(self.ours.as_slice());
        pairs.map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
    }

    /// The largest difference, or an error if it is above [`TOLERANCE`] (or NaN).
    fn check(&self) -> Result<f32, String> {
        let largest = self.largest_difference();
        if largest <= TOLERANCE {
            Ok(largest)
        } else {
            Err(format!(
                "the outputs differ from PyTorch's by {largest:e}, more than {TOLERANCE:e}"
            ))
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let comparison = Comparison::run()?;
    let format = |row: &[f32]| {
        let values: Vec<String> = row.iter().map(|v| format!("{v:>10.6}")).collect();
        values.join(" ")
    };
    println!("row  {:^32}   {:^32}   difference", "PyTorch", "nn");
    for (i, (pytorch, ours)) in comparison
        .pytorch
        .iter_rows()
        .zip(comparison.ours.iter_rows())
        .enumerate()
    {
        let difference = pytorch
            .iter()
            .zip(ours)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        println!(
            "{i:>3}  {}   {}   {difference:.1e}",
            format(pytorch),
            format(ours)
        );
    }
    let largest = comparison.check()?;
    println!("largest difference {largest:.1e} (at most {TOLERANCE:.0e} allowed)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the example checks, as a test: the loaded network computes PyTorch's outputs.
    #[test]
    fn the_loaded_network_matches_pytorch() {
        let comparison = Comparison::run().unwrap();
        assert_eq!(comparison.ours.rows(), 8);
        comparison.check().unwrap();
    }
}
