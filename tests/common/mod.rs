//! Helpers shared by the integration tests.
#![allow(dead_code, unused_imports)] // each test binary uses a different part

use std::path::PathBuf;

// The runtime's own test helpers, compiled here too: they are not part of its API.
#[path = "../../nn-runtime/src/testing.rs"]
mod testing;

pub use testing::{assert_close, load_fixture};

/// `tests/fixtures/<relative>`.
pub fn fixture_path(relative: &str) -> PathBuf {
    testing::fixtures_dir().join(relative)
}

/// Every tensor of `model` by name, in visiting order: what a state dict holds.
pub fn tensors<M: nn::prelude::NamedTensors>(model: &M) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    model.visit_tensors(&mut |name: &str, _: &[usize], values: &[f32]| {
        out.push((name.to_owned(), values.to_vec()))
    });
    out
}

/// Every parameter's gradient, in visiting order and as stored (a wide layer keeps its weight's
/// gradient transposed, as its weight).
pub fn gradients<M: nn::prelude::Parameters>(model: &mut M) -> Vec<f32> {
    let mut out = Vec::new();
    model.visit_parameters(&mut |_: &str, _: &mut [f32], grad: &mut [f32]| {
        out.extend_from_slice(grad)
    });
    out
}

/// A layer's gradients in PyTorch's layout: the weight's `[out, in]` (whatever the storage),
/// then the bias's.
pub fn layer_gradients<const IN: usize, const OUT: usize>(
    layer: &nn::prelude::Linear<IN, OUT>,
) -> (Vec<f32>, Vec<f32>) {
    let weight = layer.weight_grad().iter().copied().collect();
    (weight, layer.bias_grad().to_vec())
}

/// Points in the four quadrants around the origin, labelled by the sign of `x·y` (XOR).
pub fn quadrants(rows: usize, seed: u64) -> (nn::Batch<2>, nn::Labels) {
    let points = nn::Batch::<2>::random(rows, seed);
    let centred: Vec<f32> = points.as_slice().iter().map(|v| 2.0 * v - 1.0).collect();
    let labels = centred
        .chunks(2)
        .map(|p| usize::from(p[0] * p[1] > 0.0))
        .collect();
    (
        nn::Batch::from_vec(rows, centred).unwrap(),
        nn::Labels::new(labels, 2).unwrap(),
    )
}
