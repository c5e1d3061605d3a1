#![doc = include_str!("../README.md")]
#![doc(test(attr(deny(warnings))))]

// Lets `::nn::…` in generated code resolve inside this crate's own tests and docs too.
extern crate self as nn;

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
        check_finite, clip_grad_norm, Adam, AdamW, CosineAnnealingLR, LrScheduler, Optimizer,
        Parameters, RMSprop, StepLR, SGD,
    };
    pub use nn_runtime::{
        evaluate, Batch, Control, Dropout, EarlyStopping, EpochReport, Error, History, Labels,
        Linear, NamedTensors, Network, Progress, Trainer,
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
    pub use nn_runtime::{Batch, Dropout, Error, Linear, Network};
    pub use rand::rngs::StdRng;
    pub use rand::{Rng, RngCore, SeedableRng};
}
