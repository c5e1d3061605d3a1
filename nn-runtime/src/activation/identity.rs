//! The identity, used where a linear layer is followed by no activation.

use super::Activation;
use crate::error::Result;
use crate::onnx::OnnxGraph;

/// `y = x`, PyTorch's `torch.nn.Identity`. Derivative: 1.
///
/// Generated code passes it where a `Linear` is not followed by an activation, so the fused
/// kernels need no special case; the compiler removes the multiplication by one.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Identity;

impl Activation for Identity {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        Ok(graph.node("Identity", &[x], &[]))
    }

    #[inline]
    fn forward(&self, x: f32) -> f32 {
        x
    }

    #[inline]
    fn derivative(&self, _x: f32, _y: f32) -> f32 {
        1.0
    }
}
