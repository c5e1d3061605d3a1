//! Hardsigmoid.

use super::Activation;
use crate::error::Result;
use crate::onnx::{Attribute, OnnxGraph};

/// Piecewise-linear sigmoid, PyTorch's `torch.nn.Hardsigmoid()`:
/// `y = relu6(x + 3)/6`, that is 0 for `x ≤ −3`, 1 for `x ≥ 3` and `x/6 + 1/2` between.
///
/// Derivative from the input: `1/6` where `−3 < x < 3`, else 0 (PyTorch's choice at both
/// kinks: 0 at `x = ±3`).
///
/// ```
/// use nn_runtime::{Activation, Hardsigmoid};
/// assert_eq!(Hardsigmoid.forward(0.0), 0.5);
/// assert_eq!(Hardsigmoid.forward(4.0), 1.0);
/// assert_eq!(Hardsigmoid.derivative(3.0, 1.0), 0.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hardsigmoid;

impl Activation for Hardsigmoid {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        // PyTorch's `x/6 + 1/2`, clamped; ONNX's default α is 0.2.
        let attributes = [
            Attribute::float("alpha", 1.0 / 6.0),
            Attribute::float("beta", 0.5),
        ];
        Ok(graph.node("HardSigmoid", &[x], &attributes))
    }

    #[inline]
    fn forward(&self, x: f32) -> f32 {
        (x + 3.0).clamp(0.0, 6.0) / 6.0
    }

    #[inline]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if -3.0 < x && x < 3.0 {
            1.0 / 6.0
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
        check_against_fixture(&Hardsigmoid, "hardsigmoid");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let points = [-5.0, -3.05, -2.95, 0.0, 1.0, 2.95, 3.05, 5.0];
        check_derivative_by_finite_differences(&Hardsigmoid, &points);
    }

    #[test]
    fn kinks_and_extremes() {
        assert_eq!(Hardsigmoid.forward(-3.0), 0.0);
        assert_eq!(Hardsigmoid.forward(3.0), 1.0);
        assert_eq!(Hardsigmoid.derivative(-3.0, 0.0), 0.0);
        assert_eq!(Hardsigmoid.derivative(3.0, 1.0), 0.0);
        assert_eq!(Hardsigmoid.derivative(0.0, 0.5), 1.0 / 6.0);
        assert_eq!(Hardsigmoid.forward(1000.0), 1.0);
        assert_eq!(Hardsigmoid.forward(-1000.0), 0.0);
        check_finite_at_extremes(&Hardsigmoid);
    }
}
