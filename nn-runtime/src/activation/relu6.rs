//! ReLU6.

use super::Activation;
use crate::error::Result;
use crate::onnx::OnnxGraph;

/// ReLU capped at 6, PyTorch's `torch.nn.ReLU6()`: `y = min(max(x, 0), 6)`, that is
/// `Hardtanh(0, 6)`.
///
/// Derivative from the input: 1 where `0 < x < 6`, else 0 (PyTorch's choice at both kinks:
/// 0 at `x = 0` and at `x = 6`).
///
/// ```
/// use nn_runtime::{Activation, ReLU6};
/// assert_eq!(ReLU6.forward(-1.0), 0.0);
/// assert_eq!(ReLU6.forward(7.0), 6.0);
/// assert_eq!(ReLU6.derivative(6.0, 6.0), 0.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct ReLU6;

impl Activation for ReLU6 {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        let (min, max) = (graph.constant(0.0), graph.constant(6.0));
        Ok(graph.node("Clip", &[x, &min, &max], &[]))
    }

    #[inline]
    fn forward(&self, x: f32) -> f32 {
        // `clamp` keeps NaN, as PyTorch's does; constant bounds cannot make it panic.
        x.clamp(0.0, 6.0)
    }

    #[inline]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if 0.0 < x && x < 6.0 {
            1.0
        } else {
            0.0
        }
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
        check_against_fixture(&ReLU6, "relu6");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        check_derivative_by_finite_differences(&ReLU6, &[-2.0, -0.05, 0.05, 3.0, 5.95, 6.05, 9.0]);
    }

    #[test]
    fn kinks_and_extremes() {
        assert_eq!(ReLU6.forward(0.0), 0.0);
        assert_eq!(ReLU6.forward(6.0), 6.0);
        assert_eq!(ReLU6.derivative(0.0, 0.0), 0.0);
        assert_eq!(ReLU6.derivative(6.0, 6.0), 0.0);
        assert_eq!(ReLU6.derivative(1e-30, 1e-30), 1.0);
        assert_eq!(ReLU6.forward(1000.0), 6.0);
        assert_eq!(ReLU6.forward(-1000.0), 0.0);
        check_finite_at_extremes(&ReLU6);
    }
}
