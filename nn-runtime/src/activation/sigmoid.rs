//! The logistic sigmoid.

use super::{Activation, Builtin};
use crate::error::Result;
use crate::onnx::OnnxGraph;

/// Logistic sigmoid, PyTorch's `torch.nn.Sigmoid()`: `y = 1 / (1 + exp(−x))`.
///
/// Derivative from the output: `y·(1 − y)`, so it is exactly 0 once `y` rounds to 1, as in
/// PyTorch. Followed by [`BCELoss`](crate::BCELoss), the loss uses the combined gradient
/// `σ(x) − t` instead.
///
/// ```
/// use nn_runtime::{Activation, Sigmoid};
/// assert_eq!(Sigmoid.forward(0.0), 0.5);
/// assert_eq!(Sigmoid.derivative(0.0, 0.5), 0.25);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sigmoid;

impl Activation for Sigmoid {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        Ok(graph.node("Sigmoid", &[x], &[]))
    }

    const BUILTIN: Builtin = Builtin::Sigmoid;

    // With the crate's `math::exp`, so that a row of it is vector code.
    #[inline(always)]
    fn forward(&self, x: f32) -> f32 {
        1.0 / (1.0 + crate::math::exp(-x))
    }

    #[inline(always)]
    fn derivative(&self, _x: f32, y: f32) -> f32 {
        y * (1.0 - y)
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
        check_against_fixture(&Sigmoid, "sigmoid");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        check_derivative_by_finite_differences(&Sigmoid, &[-8.0, -2.0, -0.5, 0.0, 0.3, 1.0, 5.0]);
    }

    #[test]
    fn saturation() {
        // exp(100) overflows to inf: exactly 0, as PyTorch.
        assert_eq!(Sigmoid.forward(-100.0), 0.0);
        assert_eq!(Sigmoid.forward(-1000.0), 0.0);
        assert_eq!(Sigmoid.forward(100.0), 1.0);
        assert_eq!(Sigmoid.forward(17.0), 1.0);
        // From the output: exactly 0 once y rounds to 1.
        assert_eq!(Sigmoid.derivative(17.0, Sigmoid.forward(17.0)), 0.0);
        check_finite_at_extremes(&Sigmoid);
    }
}
