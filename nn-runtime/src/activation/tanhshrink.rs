//! Tanh shrinkage.

use super::Activation;
use crate::error::Result;
use crate::onnx::OnnxGraph;

/// Tanh shrinkage, PyTorch's `torch.nn.Tanhshrink()`: `y = x − tanh(x)`.
///
/// Derivative from the input: `tanh²(x)`. Computed from `x`, not from `y`: `x − y` would give
/// `tanh(x)` with the rounding error of `y`, large where `|x|` is.
///
/// ```
/// use nn_runtime::{Activation, Tanhshrink};
/// assert_eq!(Tanhshrink.forward(0.0), 0.0);
/// assert_eq!(Tanhshrink.forward(20.0), 19.0);
/// assert_eq!(Tanhshrink.derivative(20.0, 19.0), 1.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tanhshrink;

impl Activation for Tanhshrink {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        let tanh = graph.node("Tanh", &[x], &[]);
        Ok(graph.node("Sub", &[x, &tanh], &[]))
    }

    #[inline(always)]
    fn forward(&self, x: f32) -> f32 {
        x - crate::math::tanh(x)
    }

    #[inline(always)]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        let t = crate::math::tanh(x);
        t * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::test_support::{
        check_against_fixture, check_derivative_by_finite_differences, check_finite_at_extremes,
    };

    #[test]
    fn matches_pytorch() {
        check_against_fixture(&Tanhshrink, "tanhshrink");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        check_derivative_by_finite_differences(&Tanhshrink, &[-8.0, -1.0, -0.3, 0.0, 0.7, 4.0]);
    }

    #[test]
    fn centre_and_extremes() {
        assert_eq!(Tanhshrink.derivative(0.0, 0.0), 0.0);
        assert_eq!(Tanhshrink.forward(-100.0), -99.0);
        check_finite_at_extremes(&Tanhshrink);
    }
}
