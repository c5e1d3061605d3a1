//! Writes the models that `bench/onnx_check.sh` checks with Python's `onnx` and `onnxruntime`:
//! one network per layer kind, the seed network (trained, from PyTorch's initial weights) and
//! the digits classifier, each as `NAME.onnx` with a random batch (`NAME.input.json`) and what
//! `forward` gives for it (`NAME.output.json`), plus the seed's weights as safetensors for the
//! round trip through `torch.onnx.export`.
//!
//! ```text
//! cargo run --release --example onnx_models -- DIR
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};

use nn::prelude::*;

#[macro_use]
mod layers;

/// One network per layer kind: `Linear(6, 16)` then the layer.
macro_rules! single_layer_networks {
    ($($name:ident: [$($layer:tt)*])*) => {
        $(network! { struct $name { Linear(6, 16) -> $($layer)* } })*

        fn write_single_layer_networks(dir: &Path) -> Result<(), Box<dyn Error>> {
            $({
                let model = $name::seeded(7);
                write(dir, stringify!($($layer)*), &model, &model.onnx_bytes()?)?;
            })*
            Ok(())
        }
    };
}

layer_kinds!(single_layer_networks);

network! {
    /// The seed network.
    struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid }
}

network! {
    /// The digits classifier of `examples/digits.rs`.
    struct DigitsNet { hidden: Linear(64, 128) -> ReLU -> output: Linear(128, 10) }
}

/// Writes `onnx` (the file of `model`) as `NAME.onnx`, a batch of 17 random rows in `[−4, 4]`
/// and its output. `NAME` is the layer as written, made a file name.
fn write<M, const IN: usize, const OUT: usize>(
    dir: &Path,
    layer: &str,
    model: &M,
    onnx: &[u8],
) -> Result<(), Box<dyn Error>>
where
    M: Network<IN, OUT>,
{
    let name: String = layer
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_matches('_').replace("__", "_");
    let path = |extension: &str| -> PathBuf { dir.join(format!("{name}.{extension}")) };
    std::fs::write(path("onnx"), onnx)?;
    let x = Batch::<IN>::random(17, IN as u64);
    let x = Batch::<IN>::from_vec(17, x.as_slice().iter().map(|v| 8.0 * v - 4.0).collect())?;
    let y = model.forward(&x);
    std::fs::write(path("input.json"), format!("{:?}", x.as_slice()))?;
    std::fs::write(path("output.json"), format!("{:?}", y.as_slice()))?;
    println!("wrote {}", path("onnx").display());
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "onnx-models".into()),
    );
    std::fs::create_dir_all(&dir)?;
    write_single_layer_networks(&dir)?;

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed");
    let mut seed = SimpleNN::seeded(0);
    seed.load_safetensors(fixtures.join("init.safetensors"))?;
    let data = nn::io::read_tensors(&fixtures.join("data.safetensors"))?;
    let x = Batch::<64>::from_vec(32, data["input"].values.clone())?;
    let y = Batch::<2>::from_vec(32, data["target"].values.clone())?;
    let mut adam = Adam::new(0.01);
    for _ in 0..10 {
        seed.train_step(&x, &y, &BCELoss::new(), &mut adam)?;
    }
    write(&dir, "SimpleNN", &seed, &seed.onnx_bytes()?)?;
    seed.save_safetensors(dir.join("SimpleNN.safetensors"))?;
    let digits = DigitsNet::seeded(3);
    write(&dir, "DigitsNet", &digits, &digits.onnx_bytes()?)?;
    Ok(())
}
