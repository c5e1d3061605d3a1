//! Sizes given as constants: a network written with them is the network written with their
//! values, in its types, its weights, its forward pass and its training steps.
#![deny(warnings)]

mod common;

use common::tensors;
use nn::prelude::*;

const CHANNELS: usize = 25;
const KERNEL: usize = 5;

mod sizes {
    pub const STRIDE: usize = 2;
    pub const PADDING: usize = 1;
}

network! {
    /// The MNIST-1D convolutional baseline, its channels and first kernel constants.
    pub struct ConvBaseConstants {
        Input(1, 40)
            -> conv1: Conv1d(1, CHANNELS, KERNEL, stride = sizes::STRIDE, padding = sizes::PADDING) -> ReLU
            -> conv2: Conv1d(CHANNELS, CHANNELS, 3, stride = 2, padding = 1) -> ReLU
            -> conv3: Conv1d(CHANNELS, CHANNELS, 3, stride = 2, padding = 1) -> ReLU
            -> Flatten -> linear: Linear(125, 10)
    }
}

network! {
    /// The same network with literals.
    pub struct ConvBaseLiterals {
        Input(1, 40)
            -> conv1: Conv1d(1, 25, 5, stride = 2, padding = 1) -> ReLU
            -> conv2: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> conv3: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> Flatten -> linear: Linear(125, 10)
    }
}

const IN: usize = 2;
const SIDE: usize = 6;
const WIDE: usize = 8;
const GROUPS: usize = 2;
const POOL: usize = 2;
const ONE: usize = 1;
const LENGTH: usize = 9;
const WINDOW: usize = 3;

network! {
    /// Every layer whose sizes can be constants, with constants.
    pub struct EveryLayerConstants {
        Input(IN, SIDE, SIDE)
            -> conv: Conv2d(IN, WIDE, WINDOW, padding = ONE, dilation = ONE, groups = GROUPS)
            -> bn: BatchNorm2d(WIDE) -> ReLU
            -> MaxPool2d(POOL, stride = POOL, padding = ONE) -> AvgPool2d(POOL, stride = ONE)
            -> AdaptiveAvgPool2d(ONE) -> Flatten
            -> norm: LayerNorm(WIDE) -> Linear(WIDE, 3)
    }
}

network! {
    /// The same network with literals.
    pub struct EveryLayerLiterals {
        Input(2, 6, 6)
            -> conv: Conv2d(2, 8, 3, padding = 1, dilation = 1, groups = 2)
            -> bn: BatchNorm2d(8) -> ReLU
            -> MaxPool2d(2, stride = 2, padding = 1) -> AvgPool2d(2, stride = 1)
            -> AdaptiveAvgPool2d(1) -> Flatten
            -> norm: LayerNorm(8) -> Linear(8, 3)
    }
}

network! {
    /// A one-dimensional network that ends in a convolution, so its output width is an
    /// expression over constants, and a residual block that keeps a computed length.
    pub struct OneDimensionalConstants {
        Input(IN, LENGTH)
            -> Conv1d(IN, WIDE, WINDOW, stride = POOL) -> BatchNorm1d(WIDE) -> ReLU
            -> Residual(Conv1d(WIDE, WIDE, WINDOW, padding = ONE) -> ReLU)
            -> MaxPool1d(WINDOW, stride = ONE) -> Conv1d(WIDE, 3, 1)
    }
}

network! {
    /// The same network with literals.
    pub struct OneDimensionalLiterals {
        Input(2, 9)
            -> Conv1d(2, 8, 3, stride = 2) -> BatchNorm1d(8) -> ReLU
            -> Residual(Conv1d(8, 8, 3, padding = 1) -> ReLU)
            -> MaxPool1d(3, stride = 1) -> Conv1d(8, 3, 1)
    }
}

#[test]
fn conv_base_with_constants_is_conv_base() {
    assert_eq!(
        (
            ConvBaseConstants::INPUT,
            ConvBaseConstants::OUTPUT,
            ConvBaseConstants::PARAMS
        ),
        (
            ConvBaseLiterals::INPUT,
            ConvBaseLiterals::OUTPUT,
            ConvBaseLiterals::PARAMS
        )
    );
    let mut literals = ConvBaseLiterals::seeded(3);
    let mut constants = ConvBaseConstants::seeded(4);
    // The weights of one, through a weights file, as a user would copy them.
    let path =
        std::env::temp_dir().join(format!("nn-constants-{}.safetensors", std::process::id()));
    literals.save_safetensors(&path).unwrap();
    constants.load_safetensors(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(constants.conv1.weight().dim(), (25, 1, 5));

    let x = Batch::<40>::random(8, 7);
    let y = Labels::new(vec![0, 1, 2, 3, 4, 5, 6, 7], 10).unwrap();
    assert_eq!(
        constants.forward(&x).as_slice(),
        literals.forward(&x).as_slice()
    );
    let loss = CrossEntropyLoss::new();
    let (mut adam_a, mut adam_b) = (Adam::new(0.01), Adam::new(0.01));
    for _ in 0..3 {
        let a = constants.train_step(&x, &y, &loss, &mut adam_a).unwrap();
        let b = literals.train_step(&x, &y, &loss, &mut adam_b).unwrap();
        assert_eq!(a, b);
    }
    assert_eq!(tensors(&constants), tensors(&literals));
    assert_eq!(
        constants.forward(&x).as_slice(),
        literals.forward(&x).as_slice()
    );
    assert!(constants.to_string().contains("(25, 19)"));
}

#[test]
fn every_layer_with_constants_is_the_same_network() {
    assert_eq!(
        (EveryLayerConstants::INPUT, EveryLayerConstants::PARAMS),
        (EveryLayerLiterals::INPUT, EveryLayerLiterals::PARAMS)
    );
    let mut literals = EveryLayerLiterals::seeded(5);
    let mut constants = EveryLayerConstants::seeded(5);
    assert_eq!(tensors(&constants), tensors(&literals));

    let x = Batch::<{ IN * SIDE * SIDE }>::random(4, 2);
    let y = Labels::new(vec![0, 1, 2, 1], 3).unwrap();
    let loss = CrossEntropyLoss::new();
    let (mut sgd_a, mut sgd_b) = (SGD::new(0.1), SGD::new(0.1));
    for _ in 0..2 {
        let a = constants.train_step(&x, &y, &loss, &mut sgd_a).unwrap();
        let b = literals.train_step(&x, &y, &loss, &mut sgd_b).unwrap();
        assert_eq!(a, b);
    }
    assert_eq!(tensors(&constants), tensors(&literals));
    assert_eq!(
        constants.forward(&x).as_slice(),
        literals.forward(&x).as_slice()
    );
    assert!(constants.onnx_bytes().is_ok());
}

#[test]
fn an_output_width_computed_from_constants_types_the_batches() {
    // (9 − 3) / 2 + 1 = 4 samples, kept by the residual block; the pool leaves 2, three channels.
    let output: Batch<6> = OneDimensionalConstants::seeded(0).forward(&Batch::<18>::random(2, 0));
    assert_eq!(output.rows(), 2);
    assert_eq!(OneDimensionalConstants::OUTPUT, 6);

    let mut literals = OneDimensionalLiterals::seeded(1);
    let mut constants = OneDimensionalConstants::seeded(1);
    let x = Batch::<18>::random(3, 4);
    let y = Batch::<6>::random(3, 5);
    let (mut adam_a, mut adam_b) = (Adam::new(0.01), Adam::new(0.01));
    for _ in 0..2 {
        let a = constants
            .train_step(&x, &y, &MSELoss::new(), &mut adam_a)
            .unwrap();
        let b = literals
            .train_step(&x, &y, &MSELoss::new(), &mut adam_b)
            .unwrap();
        assert_eq!(a, b);
    }
    assert_eq!(tensors(&constants), tensors(&literals));
}
