//! Neural networks declared inline with [`network!`], checked at compile time, and trained by
//! code generated for that exact network. Layer names, arguments, defaults, weight names and
//! numerics are PyTorch's.
//!
//! ```
//! use nn::prelude::*;
//!
//! network! {
//!     /// Classifies points of the plane into three classes.
//!     struct Classifier {
//!         hidden: Linear(2, 16) -> ReLU -> Dropout(0.2) -> output: Linear(16, 3)
//!     }
//! }
//!
//! let mut model = Classifier::seeded(0);
//! let x = Batch::<2>::from_rows(&[[0.1, 0.2], [0.9, 0.8]]);
//! let y = Labels::new(vec![0, 2], 3)?;
//! let loss = model.train_step(&x, &y, &CrossEntropyLoss::new(), &mut Adam::new(0.01))?;
//! let scores: Batch<3> = model.forward(&x);
//! assert!(loss > 0.0 && scores.rows() == 2);
//! # Ok::<(), nn::Error>(())
//! ```
//!
//! [`prelude`] brings the macro, the layers and activations, the losses, the optimizers, the
//! [`Trainer`] and the error type.
//!
//! # Declaring a network
//!
//! `network! { struct Name { chain } }` declares a struct; doc comments, attributes
//! (`#[derive(Clone)]`) and a visibility (`pub struct`) pass through to it. The chain:
//!
//! * Layers are separated by `->`. The chain starts with a `Linear(in, out)`, which fixes the
//!   input width, and each later `Linear` takes the width of the layer before it; or with an
//!   `Input`, for convolutional networks (below).
//! * Widths are integer literals or `usize` constants: `Linear(20, HIDDEN)`; so is every
//!   other size (channels, kernel sizes, strides, padding).
//!   The macro checks literals, the compiler constants, in the same words.
//! * A label before a `Linear` (`hidden:`) names its field and its weights, `hidden.weight`
//!   (`[out, in]`) and `hidden.bias`: the names PyTorch gives a module's attribute
//!   `self.hidden = nn.Linear(2, 16)`. An unlabelled `Linear` at position `i` of the chain,
//!   counting every layer from 0 as `nn.Sequential` does, is the field `linear{i}` with the
//!   weights `{i}.weight` and `{i}.bias`. Only a `Linear` takes a label.
//! * Activations have PyTorch's names, arguments and defaults: `ReLU`, `Sigmoid`, `Tanh`,
//!   `LeakyReLU` (0.01) or `LeakyReLU(0.2)`, `ELU(alpha)`, `SELU`, `CELU(alpha)`, `GELU` or
//!   `GELU("tanh")`, `SiLU`, `Mish`, `Softplus(beta, threshold)`, `Softsign`,
//!   `Softshrink(lambd)`, `Tanhshrink`, `Hardtanh(min_val, max_val)`, `Hardsigmoid`,
//!   `Hardswish`, `ReLU6`, `Softmax` and `LogSoftmax` (over each row's features), `Identity`.
//!   Arguments may be named: `LeakyReLU(negative_slope = 0.2)`.
//! * `Dropout(p)` (default 0.5) zeroes each value with probability `p` in training steps and
//!   scales the others by `1/(1 − p)`; [`forward`](Network::forward) leaves it out.
//! * Any other name is a custom activation, below.
//!
//! `network!(chain)` is an expression instead: a network of a type declared inside it, which
//! code outside cannot name, initialised with `seeded(0)`.
//!
//! ## Convolutional and residual networks
//!
//! `Input(channels, length)` or `Input(channels, height, width)` opens a network that works on
//! channels. Its rows are still flat, each in PyTorch's contiguous `[C, L]` or `[C, H, W]`
//! order, so `x.view(n, -1)` of a PyTorch tensor is the same floats. The macro computes every
//! layer's output shape and checks each layer's input against it as it expands:
//!
//! * `Conv1d` and `Conv2d`, with PyTorch's arguments (positional or named) and defaults:
//!   `in_channels, out_channels, kernel_size, stride = 1, padding = 0, dilation = 1,
//!   groups = 1, bias = true`; fields [`Conv1d`] and `Conv2d`, weights
//!   `[out, in/groups, k]` or `[out, in/groups, k, k]`. They take a label as `Linear` does.
//! * `MaxPool1d` and `MaxPool2d`: `kernel_size, stride = kernel_size, padding = 0`;
//!   `AvgPool1d` and `AvgPool2d` likewise, each window's mean with the padding counted as
//!   zeros (PyTorch's `count_include_pad=True`); `AdaptiveAvgPool1d(1)` and
//!   `AdaptiveAvgPool2d(1)`: each channel's average.
//! * `BatchNorm1d(features)` (after a `Linear`, or on `(C, L)`) and `BatchNorm2d(channels)`
//!   (`eps = 1e-5, momentum = 0.1`): batch statistics in training steps, which update the
//!   running statistics that [`forward`](Network::forward) uses, as PyTorch's `train()` and
//!   `eval()`; `LayerNorm(features)` (`eps`, `elementwise_affine = true`) normalises each
//!   row's features. They take a label; their state dict names are PyTorch's
//!   (`bn.running_mean`, `bn.running_var`, `bn.num_batches_tracked`).
//! * `Flatten`: the channels as features, in PyTorch's order, for a `Linear` after them.
//! * `Residual(chain)`: `x + chain(x)`, for a chain that keeps the shape and starts with a layer
//!   with parameters. Its unlabelled layers are named as a nested `nn.Sequential` names them
//!   (`2.0.weight`), labelled ones by their label.
//! * Activations and `Dropout` work after any of them.
//!
//! Sizes are integer literals or `usize` constants; unlabelled layers after `Input` are
//! numbered from 0, as an `nn.Sequential` of them would be.
//!
//! ```
//! use nn::prelude::*;
//!
//! network! {
//!     /// A small convolutional classifier with a residual block.
//!     struct Net {
//!         Input(2, 16)
//!             -> conv: Conv1d(2, 8, 3, padding = 1) -> ReLU
//!             -> Residual(Conv1d(8, 8, 3, padding = 1) -> ReLU)
//!             -> MaxPool1d(2) -> Flatten -> Linear(64, 3)
//!     }
//! }
//!
//! let mut model = Net::seeded(0);
//! assert_eq!((Net::INPUT, Net::OUTPUT), (32, 3));
//! assert_eq!(model.conv.weight().dim(), (8, 2, 3));
//! let x = Batch::<32>::random(4, 1);
//! let y = Labels::new(vec![0, 1, 2, 1], 3)?;
//! let loss = model.train_step(&x, &y, &CrossEntropyLoss::new(), &mut Adam::new(1e-3))?;
//! assert!(loss.is_finite());
//! # Ok::<(), nn::Error>(())
//! ```
//!
//! ## Custom activations
//!
//! A custom activation is a type implementing [`Activation`]: `forward` and its
//! `derivative`, which is given both the input and the output. The chain names it as a value:
//! a unit struct as `Swish`, a tuple struct with its fields as `Swish(1.5)`.
//!
//! ```
//! use nn::prelude::*;
//!
//! /// Swish with a fixed β: `x·σ(β·x)`.
//! struct Swish(f32);
//!
//! impl Activation for Swish {
//!     fn forward(&self, x: f32) -> f32 {
//!         x / (1.0 + (-self.0 * x).exp())
//!     }
//!     fn derivative(&self, x: f32, y: f32) -> f32 {
//!         let s = 1.0 / (1.0 + (-self.0 * x).exp());
//!         s + self.0 * y * (1.0 - s)
//!     }
//! }
//!
//! let model = network!(Linear(2, 8) -> Swish(1.5) -> Linear(8, 1));
//! assert_eq!(model.forward(&Batch::from_rows(&[[0.5, -1.0]])).rows(), 1);
//! ```
//!
//! A network using it trains and saves its weights; to export it as ONNX, implement
//! [`Activation::onnx`] too (without it, `save_onnx` returns [`Error::NoOnnxForm`]).
//! `examples/custom_activation.rs` does, and checks the derivative by finite differences.
//!
//! # What gets generated
//!
//! For `struct Name { … }` with input width `IN` and output width `OUT`:
//!
//! * The struct, with a public field per `Linear` ([`Linear<in, out>`](Linear), whose
//!   `weight()` is `[out, in]` as in PyTorch), per convolution and pool, and per [`Dropout`],
//!   and the constants
//!   `Name::INPUT`, `Name::OUTPUT` and `Name::PARAMS` (weights and biases).
//! * `Name::new(&mut rng)`, initialised as PyTorch initialises each layer, and
//!   `Name::seeded(seed)`: the same seed, the same weights.
//! * `forward(&Batch<IN>) -> Batch<OUT>`, in evaluation mode (dropout off), and
//!   `forward_into(&x, &mut out)`, which reuses the network's buffers and, warm, allocates
//!   nothing.
//! * `train_step(&x, &target, &loss, &mut optimizer)`: forward, loss, backward and the
//!   optimizer's update, returning the loss before the update. `forward_train`, `backward` and
//!   `zero_grad` are its parts, for a loop of your own.
//! * [`Display`](std::fmt::Display): a summary of the layers, their output shapes and
//!   parameters.
//! * `save_safetensors(path)` and `load_safetensors(path)`, with the weights' PyTorch names
//!   and layouts: PyTorch loads the file (`safetensors.torch.load_file`, then
//!   `load_state_dict`), and a state dict saved with `safetensors.torch.save_file` loads here
//!   (`examples/from_pytorch.rs`).
//! * `save_onnx(path)` and `onnx_bytes()`: the evaluation graph, as `torch.onnx.export` writes
//!   it.
//! * The traits [`Network<IN, OUT>`](Network) (inference and training, for generic code such
//!   as the [`Trainer`]), [`Parameters`] (for optimizers) and [`NamedTensors`] (for weight files).
//!
//! ```
//! use nn::prelude::*;
//!
//! network! {
//!     struct Regressor {
//!         hidden: Linear(3, 8) -> Tanh -> Linear(8, 1)
//!     }
//! }
//!
//! let model = Regressor::seeded(42);
//! let x = Batch::<3>::random(5, 0);
//! let y: Batch<1> = model.forward(&x);
//! assert_eq!((Regressor::INPUT, Regressor::OUTPUT, Regressor::PARAMS), (3, 1, 41));
//! assert_eq!(model.hidden.weight().dim(), (8, 3));
//!
//! let path = std::env::temp_dir().join(format!("regressor-{}.safetensors", std::process::id()));
//! model.save_safetensors(&path)?; // hidden.weight, hidden.bias, 2.weight, 2.bias
//! let mut copy = Regressor::seeded(7);
//! copy.load_safetensors(&path)?;
//! assert_eq!(copy.forward(&x), y);
//! # std::fs::remove_file(&path)?;
//!
//! let onnx: Vec<u8> = model.onnx_bytes()?;
//! assert!(!onnx.is_empty());
//!
//! println!("{model}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! prints
//!
//! ```text
//! Regressor
//! layer                    output  parameters
//! -------------------------------------------
//! hidden (Linear(3, 8))         8          32
//! Tanh                          8           0
//! Linear(8, 1)                  1           9
//! -------------------------------------------
//! total                                    41
//! ```
//!
//! # Data
//!
//! * [`Batch<F>`](Batch) holds rows of `F` features, all `f32`. The width is in the type, so a
//!   batch of the wrong width does not compile; the number of rows is chosen at run time.
//!   Build one with `Batch::from_vec(rows, values)` (row-major, its length checked),
//!   `from_rows(&[[f32; F]])`, `from_array` (an `ndarray` view) or `random(rows, seed)` (uniform
//!   in `[0, 1)`, as `torch.rand`).
//! * Targets are a `Batch<OUT>` for regression and binary losses, or [`Labels`], one class
//!   index per row, for classification: `Labels::new(vec![0, 2, 1], 3)?`.
//! * [`data::Csv`] reads a data set from a CSV file, gzip-compressed or not: the features into
//!   a `Batch<F>` (the file must have exactly `F` feature columns), the target column into
//!   `Labels` (`read_classes`) or a `Batch<T>` (`read_values`). A bad field is an error that
//!   names the file, line and column.
//! * [`data::split`] shuffles row indices into parts by fraction, seeded, and
//!   [`Batch::select`] and [`Labels::select`] take those rows.
//! * [`data::Scaler`] standardises (or min–max scales) each feature with statistics of the
//!   training rows only; it saves into the model's weights file, so inference scales the same.
//!
//! ```
//! use nn::data::{split, Csv};
//!
//! let path = std::env::temp_dir().join(format!("points-{}.csv", std::process::id()));
//! std::fs::write(&path, "x,y,class\n0.1,0.2,0\n0.9,0.8,2\n0.5,0.4,1\n0.2,0.1,0\n")?;
//! let (points, classes) = Csv::new().target("class").read_classes::<2>(&path, 3)?;
//! assert_eq!(classes.indices(), [0, 2, 1, 0]);
//! # std::fs::remove_file(&path)?;
//!
//! let parts = split(points.rows(), &[0.75, 0.25], 0)?;
//! let (train_x, train_y) = (points.select(&parts[0]), classes.select(&parts[0]));
//! assert_eq!((train_x.rows(), train_y.len()), (3, 3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Training
//!
//! A training step takes a loss and an optimizer, each PyTorch's:
//!
//! * [Losses](loss) take the mean over the batch. `MSELoss`, `L1Loss`, `SmoothL1Loss`,
//!   `HuberLoss`, `BCELoss` and `BCEWithLogitsLoss` compare the output with a `Batch<OUT>`;
//!   `CrossEntropyLoss` (on scores) and `NLLLoss` (after `LogSoftmax`) with [`Labels`]. The
//!   wrong kind of target does not compile.
//! * [Optimizers](optim) have PyTorch's update rules and settings: `SGD::new(lr)` (with
//!   `.momentum(0.9)`, `.nesterov(true)`, `.weight_decay(…)`), `Adam::new(lr)`, `AdamW` and
//!   `RMSprop`. `StepLR`, `CosineAnnealingLR`, `OneCycleLR` and `ReduceLROnPlateau` give
//!   PyTorch's learning rates, and `clip_grad_norm` clips the gradients of a loop of your own.
//!
//! A step whose loss or gradients are not finite (a NaN in the data, a learning rate far too
//! large) returns an [`Error`] and leaves the parameters as they were.
//!
//! ## The trainer
//!
//! [`Trainer::new(epochs)`](Trainer::new) runs epochs of mini-batches over a data set and
//! returns the run's [`History`], an [`EpochReport`] per epoch (the mean loss, the accuracy for
//! [`Labels`], the validation figures, the learning rate, the time):
//!
//! * `.batch_size(n)`: mini-batches of `n` rows (by default the whole set);
//! * `.shuffle(seed)`: the rows in a new order each epoch, reproducibly;
//! * `.validate(&x_val, &y_val)`: the loss (and accuracy) on held-out rows after each epoch;
//! * `.early_stopping(EarlyStopping::new(patience))`: stop when the validation loss stops
//!   improving, and keep the best epoch's weights;
//! * `.lr_schedule(…)`, `.lr_schedule_per_step(…)`, `.reduce_lr_on_plateau(…)`: a learning-rate
//!   schedule; `.clip_grad_norm(max)`: clipped gradients;
//! * `.checkpoint_every(n, dir)` and `.resume(dir)`: stop a run and go on later, ending with the
//!   weights an uninterrupted run would have, bit for bit;
//! * `.progress(…)`: a bar on a terminal, a line per epoch otherwise (`Epoch [1/10], Loss:
//!   0.6931`); `.quiet()` for nothing;
//! * `.skip_non_finite()`: a mini-batch whose loss or gradients are not finite is left out
//!   instead of stopping training.
//!
//! [`fit`](Trainer::fit) trains; [`fit_with`](Trainer::fit_with) calls a function after each
//! epoch, which may return [`Control::Stop`]. The history prints as a table, writes itself as
//! CSV, and with the `plot` feature draws the loss curves as SVG. [`evaluate`] gives the loss,
//! the accuracy and, for labels, the [`ConfusionMatrix`] on another set, in evaluation mode.
//!
//! ```
//! use nn::prelude::*;
//!
//! network! {
//!     struct Classifier {
//!         hidden: Linear(2, 16) -> ReLU -> Dropout(0.2) -> output: Linear(16, 3)
//!     }
//! }
//!
//! // Points of the unit square, classed by the sum of their coordinates.
//! let x = Batch::<2>::random(150, 0);
//! let class = |p: &[f32]| match p[0] + p[1] {
//!     s if s < 0.7 => 0,
//!     s if s < 1.3 => 1,
//!     _ => 2,
//! };
//! let y = Labels::new(x.iter_rows().map(class).collect(), 3)?;
//!
//! let mut model = Classifier::seeded(0);
//! let loss = CrossEntropyLoss::new();
//! let val_x = Batch::<2>::random(50, 1);
//! let val_y = Labels::new(val_x.iter_rows().map(class).collect(), 3)?;
//! let history = Trainer::new(100)
//!     .batch_size(16)
//!     .shuffle(0)
//!     .validate(&val_x, &val_y)
//!     .early_stopping(EarlyStopping::new(10))
//!     .quiet()
//!     .fit(&mut model, &x, &y, &loss, &mut Adam::new(0.01))?;
//! assert!(history.last().unwrap().loss < history[0].loss / 4.0);
//!
//! let test_x = Batch::<2>::random(50, 2);
//! let test_y = Labels::new(test_x.iter_rows().map(class).collect(), 3)?;
//! let test = evaluate(&model, &test_x, &test_y, &loss)?;
//! assert!(test.accuracy.unwrap_or(0.0) > 0.9);
//! println!("{test}"); // the loss, the accuracy, and the confusion matrix
//! # Ok::<(), nn::Error>(())
//! ```
//!
//! # Compile errors
//!
//! `network!` checks the chain as it expands and reports each mistake at the token that is
//! wrong, every mistake of a call at once. A `Linear` whose input width is not what the layer
//! before it yields does not compile:
//!
//! ```compile_fail
//! use nn::prelude::*;
//!
//! network! {
//!     struct Broken {
//!         hidden: Linear(4, 16) -> ReLU -> output: Linear(8, 3)
//!     }
//! }
//! ```
//!
//! ```text
//! error: `output` takes 8 inputs, but `hidden` before it yields 16
//!  --> src/main.rs:5:57
//!   |
//! 5 |         hidden: Linear(4, 16) -> ReLU -> output: Linear(8, 3)
//!   |                                                         ^
//! ```
//!
//! Where the widths are constants, the compiler checks them and reports a mismatch at the
//! constant. A batch of the wrong width is a type error, ``expected `4`, found `5` ``:
//!
//! ```compile_fail,E0308
//! use nn::prelude::*;
//!
//! network! {
//!     struct Net {
//!         Linear(4, 16) -> ReLU -> Linear(16, 3)
//!     }
//! }
//!
//! let scores = Net::seeded(0).forward(&Batch::<5>::zeros(1));
//! assert_eq!(scores.rows(), 1);
//! ```
//!
//! Shapes are checked the same way: a `Linear` after `Flatten` that does not take what it
//! yields is ``error: `linear` takes 124 inputs, but `Flatten` yields 125 (25 channels × 5)``,
//! at the `124`.
//!
//! ```compile_fail
//! use nn::prelude::*;
//!
//! network! {
//!     struct Broken {
//!         Input(1, 40)
//!             -> Conv1d(1, 25, 5, stride = 2, padding = 1) -> ReLU
//!             -> Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
//!             -> Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
//!             -> Flatten -> linear: Linear(124, 10)
//!     }
//! }
//! ```
//!
//! So are mismatched channels, kernels longer than the padded input, `groups` that do not
//! divide the channels, pools that leave an empty output, a `Residual` whose chain changes the
//! shape, and a `Linear` straight after a convolution (``put `Flatten` between them``).
//!
//! Unknown names get a suggestion (``unknown layer `Sigmod`; did you mean `Sigmoid`?``), and
//! the number, types and ranges of arguments (`Dropout(1.5)`), labels and the syntax are
//! checked too. A custom activation that does not implement [`Activation`] is an error at its
//! name.
//!
//! # Examples
//!
//! In `examples/`, each run with `cargo run --release --example NAME`:
//!
//! * `seed`: PyTorch's activation-functions tutorial, step for step with PyTorch's losses;
//! * `digits`: a classifier of the scikit-learn digits, read with [`data::Csv`] and trained
//!   with the [`Trainer`];
//! * `custom_activation`: a Swish with a fixed β, used by name in `network!`;
//! * `from_pytorch`: a PyTorch state dict loaded and checked against PyTorch's outputs;
//! * `mnist1d`: logistic regression, a residual MLP and a convolutional network on MNIST-1D,
//!   with the data set's training loop, beside the paper's accuracies.
#![doc(test(attr(deny(warnings))))]

// Lets `::nn::…` in generated code resolve inside this crate's own tests and docs too.
extern crate self as nn;

// The README's examples run as doc tests too, so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Declares a neural network: a struct with statically shaped layers and generated forward and
/// backward passes.
///
/// See the [crate documentation](crate) for the grammar, the generated items and the errors.
pub use nn_macros::network;
pub use nn_runtime::*;

/// Everything a program that declares and trains networks needs: `use nn::prelude::*;`.
pub mod prelude {
    pub use crate::network;
    // Every built-in activation, and the two traits.
    pub use nn_runtime::activation::*;
    pub use nn_runtime::loss::{
        BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, Loss, MSELoss, NLLLoss,
        SmoothL1Loss,
    };
    pub use nn_runtime::optim::{
        check_finite, clip_grad_norm, Adam, AdamW, CosineAnnealingLR, LrScheduler, OneCycleLR,
        Optimizer, Parameters, RMSprop, ReduceLROnPlateau, StepLR, SGD,
    };
    pub use nn_runtime::{
        evaluate, AvgPool1d, AvgPool2d, Batch, BatchNorm, Control, Conv1d, Conv2d, Dropout,
        EarlyStopping, EpochReport, Error, GlobalAvgPool, History, Labels, LayerNorm, Linear,
        MaxPool1d, MaxPool2d, NamedTensors, Network, Progress, Trainer,
    };
}

/// What generated code names. Not a stable interface: its name carries the version of
/// `nn-macros` that generates code for it, so a mismatched pair fails to build.
#[doc(hidden)]
pub mod __private_0_1 {
    pub use nn_runtime::activation::*;
    pub use nn_runtime::io::{
        load_safetensors, save_safetensors, NamedTensors, TensorVisitor, TensorVisitorMut,
    };
    pub use nn_runtime::loss::Loss;
    pub use nn_runtime::onnx::{onnx_bytes, save_onnx, ExportOnnx, OnnxGraph};
    pub use nn_runtime::optim::{check_finite, Optimizer, ParameterVisitor, Parameters};
    pub use nn_runtime::private::*;
    pub use nn_runtime::{
        Batch, BatchNorm, Conv1d, Dropout, Error, GlobalAvgPool, LayerNorm, Linear, Network,
    };
    pub use rand::rngs::StdRng;
    pub use rand::{Rng, RngCore, SeedableRng};
}
