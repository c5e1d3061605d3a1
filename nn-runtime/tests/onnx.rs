//! ONNX export, checked by an independent implementation: each exported file is decoded by
//! `tract-onnx` (its own bindings of `onnx.proto`) and run by its interpreter, and the outputs
//! are compared with `forward` on random batches of several sizes.
//!
//! `cargo test -p nn-runtime --test onnx -- --nocapture` prints the largest difference per
//! layer. (This test lives in the runtime's crate so that the facade's UI tests, which build
//! all of the facade's dev-dependencies, do not build tract too.)

use nn::prelude::*;
use rand::{Rng, SeedableRng};
use tract_onnx::pb;
use tract_onnx::prelude::*;

#[macro_use]
#[path = "../../examples/onnx_models/layers.rs"]
mod layers;

/// A network of one `Linear` and the layer under test, for each kind.
macro_rules! single_layer_networks {
    ($($name:ident: [$($layer:tt)*])*) => {
        $(network! { struct $name { Linear(6, 16) -> $($layer)* } })*

        /// `(layer, largest difference)` for each network above.
        fn single_layer_differences() -> Vec<(&'static str, f32)> {
            vec![$({
                let model = $name::seeded(7);
                (stringify!($($layer)*), largest_difference(&model, &model.onnx_bytes().expect("exports")))
            }),*]
        }
    };
}

layer_kinds!(single_layer_networks);

/// Layers where tract 0.23 departs from the ONNX standard, which ONNX Runtime follows
/// (`bench/onnx_check.sh`): its `Celu` leaves out the factor α of `α·(exp(x/α) − 1)`.
const TRACT_DEPARTS: [&str; 1] = ["CELU(1.5)"];

network! {
    /// The seed network.
    struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid }
}

network! {
    /// The digits classifier of `examples/digits.rs`.
    struct DigitsNet { hidden: Linear(64, 128) -> ReLU -> output: Linear(128, 10) }
}

network! {
    /// A classifier with dropout, unlabelled.
    struct Dropped { Linear(64, 128) -> ReLU -> Dropout(0.2) -> Linear(128, 10) }
}

network! {
    /// Activations after one another, and a stage of each kind.
    struct Deep { a: Linear(5, 12) -> GELU -> Tanh -> Linear(12, 12) -> ReLU -> ReLU6 -> Linear(12, 7) -> Softmax }
}

/// Batches of these sizes are run through both.
const ROWS: [usize; 4] = [1, 2, 5, 33];

/// Runs `bytes` in tract on `x` (`rows × inputs`).
fn run_in_tract(bytes: &[u8], x: &[f32], rows: usize, inputs: usize) -> Vec<f32> {
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("tract reads the file")
        .with_input_fact(0, f32::fact([rows, inputs]).into())
        .expect("an input fact")
        .into_optimized()
        .expect("tract optimises the graph")
        .into_runnable()
        .expect("a runnable plan");
    let input = tract_ndarray::Array2::from_shape_vec((rows, inputs), x.to_vec()).unwrap();
    let outputs = model
        .run(tvec!(Tensor::from(input).into()))
        .expect("tract runs");
    outputs[0]
        .to_plain_array_view::<f32>()
        .expect("float output")
        .iter()
        .copied()
        .collect()
}

/// The largest of `|ours − tract's| / max(1, |ours|)`, `bytes` being `model`'s file, over
/// random batches of every size in
/// [`ROWS`], with inputs in `[−4, 4]`.
fn largest_difference<M, const IN: usize, const OUT: usize>(model: &M, bytes: &[u8]) -> f32
where
    M: Network<IN, OUT>,
{
    let mut rng = rand::rngs::StdRng::seed_from_u64(IN as u64);
    let mut largest = 0.0f32;
    for rows in ROWS {
        let values: Vec<f32> = (0..rows * IN).map(|_| rng.gen_range(-4.0..4.0)).collect();
        let x = Batch::<IN>::from_vec(rows, values).unwrap();
        let ours = model.forward(&x);
        let theirs = run_in_tract(bytes, x.as_slice(), rows, IN);
        assert_eq!(theirs.len(), ours.as_slice().len());
        for (&a, &b) in ours.as_slice().iter().zip(&theirs) {
            largest = largest.max((a - b).abs() / a.abs().max(1.0));
        }
    }
    largest
}

/// Allowed: within `1e-5` relative to the output (absolute below 1).
const TOLERANCE: f32 = 1e-5;

#[test]
fn every_layer_runs_in_tract_as_forward_computes_it() {
    let mut failures = Vec::new();
    for (layer, difference) in single_layer_differences() {
        println!("{layer:<20} {difference:.1e}");
        if TRACT_DEPARTS.contains(&layer) {
            // Known, and checked to still be so: once tract follows the standard, the layer
            // leaves the list and is held to the tolerance like the others.
            assert!(
                difference > TOLERANCE,
                "tract now computes {layer} as ONNX says"
            );
        } else if difference > TOLERANCE {
            failures.push(format!("{layer}: {difference:e}"));
        }
    }
    assert!(failures.is_empty(), "beyond {TOLERANCE:e}: {failures:?}");
}

network! {
    /// MNIST-1D's `ConvBase`: the reshape to channels, convolutions, `Flatten`.
    struct ConvBase {
        Input(1, 40)
            -> conv1: Conv1d(1, 25, 5, stride = 2, padding = 1) -> ReLU
            -> conv2: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> conv3: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> Flatten -> linear: Linear(125, 10)
    }
}

network! {
    /// Residual sums, one inside another, a grouped, dilated convolution without a bias, and
    /// an average pool with padding.
    struct Residuals {
        Input(4, 12)
            -> Conv1d(4, 6, 3, padding = 2, dilation = 2, groups = 2, bias = false) -> Tanh
            -> AvgPool1d(3, 1, 1)
            -> Residual(Conv1d(6, 6, 3, padding = 1) -> ReLU -> Residual(Conv1d(6, 6, 1)))
            -> Flatten -> Linear(72, 16) -> Residual(Linear(16, 16) -> GELU) -> Linear(16, 3)
    }
}

network! {
    /// LeNet-5: two-dimensional convolutions and max pools.
    struct LeNet {
        Input(1, 28, 28)
            -> Conv2d(1, 6, 5, padding = 2) -> ReLU -> MaxPool2d(2)
            -> Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2)
            -> Flatten -> Linear(400, 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, 10)
    }
}

network! {
    /// Batch normalisation (trained a little, so its running statistics are not the initial
    /// ones), a max pool and an average pool with padding, a global average, and layer
    /// normalisation.
    struct Normalised {
        Input(2, 6, 6)
            -> Conv2d(2, 4, 3, padding = 1) -> BatchNorm2d(4) -> ReLU -> MaxPool2d(3, stride = 2, padding = 1)
            -> Conv2d(4, 6, 1) -> AvgPool2d(2, padding = 1) -> AdaptiveAvgPool2d(1) -> Flatten
            -> Linear(6, 8) -> BatchNorm1d(8) -> LayerNorm(8) -> Linear(8, 3)
    }
}

#[test]
fn convolutional_and_residual_networks_run_in_tract_as_forward_computes_them() {
    let (conv, residuals) = (ConvBase::seeded(5), Residuals::seeded(6));
    let lenet = LeNet::seeded(7);
    let mut normalised = Normalised::seeded(8);
    let x = Batch::<72>::random(16, 9);
    let y = Labels::random(16, 3, 10);
    for _ in 0..3 {
        normalised
            .train_step(&x, &y, &CrossEntropyLoss::new(), &mut Adam::new(0.01))
            .unwrap();
    }
    for (name, difference) in [
        (
            "LeNet",
            largest_difference(&lenet, &lenet.onnx_bytes().unwrap()),
        ),
        (
            "Normalised",
            largest_difference(&normalised, &normalised.onnx_bytes().unwrap()),
        ),
        (
            "ConvBase",
            largest_difference(&conv, &conv.onnx_bytes().unwrap()),
        ),
        (
            "Residuals",
            largest_difference(&residuals, &residuals.onnx_bytes().unwrap()),
        ),
    ] {
        println!("{name:<20} {difference:.1e}");
        assert!(difference <= TOLERANCE, "{name}: {difference:e}");
    }
}

#[test]
fn whole_networks_run_in_tract_as_forward_computes_them() {
    let mut seed = SimpleNN::seeded(0);
    // Trained a little, so that the weights are not the initial ones.
    let x = Batch::<64>::random(32, 1);
    let y = Batch::<2>::random(32, 2);
    for _ in 0..5 {
        seed.train_step(&x, &y, &BCELoss::new(), &mut Adam::new(0.01))
            .unwrap();
    }
    let (digits, deep) = (DigitsNet::seeded(3), Deep::seeded(4));
    for (name, difference) in [
        (
            "SimpleNN",
            largest_difference(&seed, &seed.onnx_bytes().unwrap()),
        ),
        (
            "DigitsNet",
            largest_difference(&digits, &digits.onnx_bytes().unwrap()),
        ),
        (
            "Deep",
            largest_difference(&deep, &deep.onnx_bytes().unwrap()),
        ),
    ] {
        println!("{name:<20} {difference:.1e}");
        assert!(difference <= TOLERANCE, "{name}: {difference:e}");
    }
}

/// The file decoded by tract's own `onnx.proto` bindings.
fn decode(bytes: &[u8]) -> pb::ModelProto {
    tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .expect("a valid ModelProto")
}

/// `[batch, width]`, as the file declares a value.
fn declared_shape(value: &pb::ValueInfoProto) -> Vec<String> {
    let Some(pb::type_proto::Value::TensorType(tensor)) =
        value.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        panic!("{} is not a tensor", value.name);
    };
    assert_eq!(tensor.elem_type, 1, "float");
    let shape = tensor.shape.as_ref().expect("a shape");
    shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(pb::tensor_shape_proto::dimension::Value::DimValue(n)) => n.to_string(),
            Some(pb::tensor_shape_proto::dimension::Value::DimParam(name)) => name.clone(),
            None => "?".into(),
        })
        .collect()
}

#[test]
fn the_file_looks_like_pytorchs_export() {
    let model = SimpleNN::seeded(0);
    let file = decode(&model.onnx_bytes().unwrap());
    assert_eq!((file.ir_version, file.producer_name.as_str()), (10, "nn"));
    assert_eq!(file.opset_import.len(), 1);
    assert_eq!(
        (
            file.opset_import[0].domain.as_str(),
            file.opset_import[0].version
        ),
        ("", 20)
    );
    let graph = file.graph.expect("a graph");
    assert_eq!(graph.name, "SimpleNN");
    let ops: Vec<(&str, &str)> = graph
        .node
        .iter()
        .map(|n| (n.name.as_str(), n.op_type.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("/fc1/Gemm", "Gemm"),
            ("/1/Relu", "Relu"),
            ("/fc2/Gemm", "Gemm"),
            ("/3/Sigmoid", "Sigmoid")
        ]
    );
    assert_eq!(graph.node[0].input, ["input", "fc1.weight", "fc1.bias"]);
    assert_eq!(graph.node.last().unwrap().output, ["output"]);
    assert_eq!(graph.input.len(), 1);
    assert_eq!(graph.input[0].name, "input");
    assert_eq!(declared_shape(&graph.input[0]), ["batch", "64"]);
    assert_eq!(graph.output[0].name, "output");
    assert_eq!(declared_shape(&graph.output[0]), ["batch", "2"]);

    // The weights as PyTorch lays them out, under its names.
    let initializers: Vec<(&str, &[i64])> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), &t.dims[..]))
        .collect();
    assert_eq!(
        initializers,
        [
            ("fc1.weight", &[128, 64][..]),
            ("fc1.bias", &[128][..]),
            ("fc2.weight", &[2, 128][..]),
            ("fc2.bias", &[2][..])
        ]
    );
    let fc2_weight: Vec<f32> = graph.initializer[2]
        .raw_data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let expected: Vec<f32> = model.fc2.weight().iter().copied().collect();
    assert_eq!(fc2_weight, expected);
}

#[test]
fn dropout_is_left_out_of_the_evaluation_graph() {
    let graph = decode(&Dropped::seeded(0).onnx_bytes().unwrap())
        .graph
        .unwrap();
    let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(ops, ["Gemm", "Relu", "Gemm"]);
    assert_eq!(graph.node[2].name, "/3/Gemm");
    assert_eq!(graph.initializer[2].name, "3.weight");
}

/// Swish with β = 1, with an ONNX form.
#[derive(Debug, Clone, Copy)]
struct Swish;

impl Activation for Swish {
    fn forward(&self, x: f32) -> f32 {
        x / (1.0 + (-x).exp())
    }
    fn derivative(&self, x: f32, y: f32) -> f32 {
        let s = 1.0 / (1.0 + (-x).exp());
        y + s * (1.0 - y)
    }
    fn onnx(&self, graph: &mut nn::onnx::OnnxGraph, x: &str) -> Result<String, Error> {
        let gate = graph.node("Sigmoid", &[x], &[]);
        Ok(graph.node("Mul", &[x, &gate], &[]))
    }
}

/// The same without one.
#[derive(Debug, Clone, Copy)]
struct Plain;

impl Activation for Plain {
    fn forward(&self, x: f32) -> f32 {
        x
    }
    fn derivative(&self, _x: f32, _y: f32) -> f32 {
        1.0
    }
}

network! { struct WithSwish { Linear(6, 16) -> Swish -> Linear(16, 3) } }
network! { struct WithPlain { Linear(4, 4) -> Plain } }

#[test]
fn a_custom_activation_exports_through_its_onnx_form() {
    let model = WithSwish::seeded(1);
    let difference = largest_difference(&model, &model.onnx_bytes().unwrap());
    assert!(difference <= TOLERANCE, "{difference:e}");
}

#[test]
fn a_custom_activation_without_an_onnx_form_is_an_error_that_names_it() {
    let model = WithPlain::seeded(0);
    let error = model.onnx_bytes().unwrap_err();
    assert_eq!(
        error,
        Error::NoOnnxForm {
            activation: "Plain".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "`Plain` has no ONNX form; implement `Activation::onnx`"
    );
    let path = std::env::temp_dir().join(format!("nn-no-onnx-{}.onnx", std::process::id()));
    assert!(model.save_onnx(&path).is_err());
    assert!(!path.exists(), "nothing is written");
}

#[test]
fn a_path_that_cannot_be_written_is_an_io_error_and_leaves_the_old_file() {
    let dir = std::env::temp_dir().join(format!("nn-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = SimpleNN::seeded(0);

    let missing_folder = dir.join("no such folder").join("model.onnx");
    let error = model.save_onnx(&missing_folder).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error:?}");

    let path = dir.join("model.onnx");
    model.save_onnx(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert_eq!(before, model.onnx_bytes().unwrap());
    // A folder where the file should be: the rename fails, nothing is left behind.
    let taken = dir.join("taken.onnx");
    std::fs::create_dir_all(&taken).unwrap();
    assert!(matches!(model.save_onnx(&taken), Err(Error::Io { .. })));
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["model.onnx", "taken.onnx"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
