//! Softsign.

use super::Activation;
use crate::error::Result;
use crate::onnx::OnnxGraph;

/// Softsign, PyTorch's `torch.nn.Softsign()`: `y = x / (1 + |x|)`.
///
/// Derivative from the input: `1 / (1 + |x|)²`. No kink: both are smooth at 0.
///
/// ```
/// use nn_runtime::{Activation, Softsign};
/// assert_eq!(Softsign.forward(1.0), 0.5);
/// assert_eq!(Softsign.derivative(1.0, 0.5), 0.25);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Softsign;

impl Activation for Softsign {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        Ok(graph.node("Softsign", &[x], &[]))
    }

    #[inline]
    fn forward(&self, x: f32) -> f32 {
        x / (1.0 + x.abs())
    }

    #[inline]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        let d = 1.0 + x.abs();
        1.0 / (d * d)
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
        check_against_fixture(&Softsign, "softsign");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        check_derivative_by_finite_differences(&Softsign, &[-8.0, -1.0, -0.3, 0.0, 0.7, 4.0]);
    }

    #[test]
    fn centre_and_extremes() {
        assert_eq!(Softsign.forward(0.0), 0.0);
        assert_eq!(Softsign.derivative(0.0, 0.0), 1.0);
        assert_eq!(Softsign.forward(-1.0), -0.5);
        assert!((Softsign.forward(1000.0) - 1000.0 / 1001.0).abs() < 1e-7);
        assert_eq!(Softsign.derivative(1e30, 1.0), 0.0);
        check_finite_at_extremes(&Softsign);
    }
}
