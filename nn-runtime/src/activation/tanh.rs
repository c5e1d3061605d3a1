//! The hyperbolic tangent.

use super::Activation;
use crate::error::Result;
use crate::onnx::OnnxGraph;

/// Hyperbolic tangent, PyTorch's `torch.nn.Tanh()`: `y = tanh(x) = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ)`.
///
/// Derivative from the output: `1 − y²`, as PyTorch computes it, so it is exactly 0 once `y`
/// rounds to ±1 (|x| ≳ 9 in `f32`).
///
/// ```
/// use nn_runtime::{Activation, Tanh};
/// assert_eq!(Tanh.forward(0.0), 0.0);
/// assert_eq!(Tanh.derivative(0.0, 0.0), 1.0);
/// assert_eq!(Tanh.forward(100.0), 1.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tanh;

impl Activation for Tanh {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        Ok(graph.node("Tanh", &[x], &[]))
    }

    #[inline(always)]
    fn forward(&self, x: f32) -> f32 {
        crate::math::tanh(x)
    }

    #[inline(always)]
    fn derivative(&self, _x: f32, y: f32) -> f32 {
        1.0 - y * y
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
        check_against_fixture(&Tanh, "tanh");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        check_derivative_by_finite_differences(&Tanh, &[-4.0, -1.0, -0.3, 0.0, 0.2, 1.5, 3.0]);
    }

    #[test]
    fn saturation() {
        assert_eq!(Tanh.forward(100.0), 1.0);
        assert_eq!(Tanh.forward(-1000.0), -1.0);
        assert_eq!(Tanh.derivative(100.0, 1.0), 0.0);
        assert_eq!(Tanh.derivative(-100.0, -1.0), 0.0);
        assert_eq!(Tanh.forward(1e-8), 1e-8);
        check_finite_at_extremes(&Tanh);
    }
}
