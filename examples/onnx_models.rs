//! Writes the models that `bench/onnx_check.sh` checks with Python's `onnx` and `onnxruntime`:
//! one network per layer kind, the seed network (trained, from PyTorch's initial weights) and
//! the digits classifier, each as `NAME.onnx` with a random batch (`NAME.input.json`) and what
//! `forward` gives for it (`NAME.output.json`), plus the seed's weights as safetensors for the
//! round trip through `torch.onnx.export`.
//!
//! ```text
//! cargo run --release --example onnx_models -- DIR
//! ```

use std::path::{Path, PathBuf};

use nn::prelude::*;

/// One network per layer kind: `Linear(6, 16)` then the layer.
macro_rules! single_layer_networks {
    ($($name:ident: [$($layer:tt)*])*) => {
        $(network! { struct $name { Linear(6, 16) -> $($layer)* } })*

        fn write_single_layer_networks(dir: &Path) -> Result<(), Error> {
            $(write(dir, stringify!($($layer)*), &$name::seeded(7), |m, p| m.save_onnx(p))?;)*
            Ok(())
        }
    };
}

single_layer_networks! {
    OnlyLinear: [Identity]
    WithReLU: [ReLU]
    WithSigmoid: [Sigmoid]
    WithTanh: [Tanh]
    WithLeakyReLU: [LeakyReLU(0.2)]
    WithELU: [ELU(0.5)]
    WithSELU: [SELU]
    WithCELU: [CELU(1.5)]
    WithGELU: [GELU]
    WithGELUTanh: [GELU("tanh")]
    WithSiLU: [SiLU]
    WithMish: [Mish]
    WithSoftplus: [Softplus]
    WithSoftplusBeta: [Softplus(2.0, 3.0)]
    WithSoftsign: [Softsign]
    WithHardtanh: [Hardtanh(-0.5, 0.7)]
    WithHardsigmoid: [Hardsigmoid]
    WithHardswish: [Hardswish]
    WithReLU6: [ReLU6]
    WithSoftshrink: [Softshrink(0.3)]
    WithTanhshrink: [Tanhshrink]
    WithSoftmax: [Softmax]
    WithLogSoftmax: [LogSoftmax]
    WithDropout: [Dropout(0.3)]
}

network! {
    /// The seed network.
    struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid }
}

network! {
    /// The digits classifier of `examples/digits.rs`.
    struct DigitsNet { hidden: Linear(64, 128) -> ReLU -> output: Linear(128, 10) }
}

/// Writes `model` as `NAME.onnx` (through `save`), a batch of 17 random rows in `[−4, 4]` and
/// its output. `NAME` is the layer as written, made a file name.
fn write<M, const IN: usize, const OUT: usize>(
    dir: &Path,
    layer: &str,
    model: &M,
    save: impl Fn(&M, &Path) -> Result<(), Error>,
) -> Result<(), Error>
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
    save(model, &path("onnx"))?;
    let x = Batch::<IN>::random(17, IN as u64);
    let x = Batch::<IN>::from_vec(17, x.as_slice().iter().map(|v| 8.0 * v - 4.0).collect())?;
    let y = model.forward(&x);
    let json = |values: &[f32]| format!("{values:?}");
    let io = |e: std::io::Error| Error::Io {
        path: dir.display().to_string(),
        source: nn::SourceError::new(e),
    };
    std::fs::write(path("input.json"), json(x.as_slice())).map_err(io)?;
    std::fs::write(path("output.json"), json(y.as_slice())).map_err(io)?;
    println!("wrote {}", path("onnx").display());
    Ok(())
}

fn main() -> Result<(), Error> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "onnx-models".into()),
    );
    std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
        path: dir.display().to_string(),
        source: nn::SourceError::new(e),
    })?;
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
    write(&dir, "SimpleNN", &seed, |m, p| m.save_onnx(p))?;
    seed.save_safetensors(dir.join("SimpleNN.safetensors"))?;
    write(&dir, "DigitsNet", &DigitsNet::seeded(3), |m, p| {
        m.save_onnx(p)
    })?;
    Ok(())
}
