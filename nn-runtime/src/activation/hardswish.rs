//! Hardswish.

use super::Activation;
use crate::error::Result;
use crate::onnx::OnnxGraph;

/// Piecewise-quadratic swish, PyTorch's `torch.nn.Hardswish()`: `y = x·relu6(x + 3)/6`, that is
/// 0 for `x ≤ −3`, `x` for `x ≥ 3` and `x·(x + 3)/6` between.
///
/// Derivative from the input: 0 where `x ≤ −3`, `x/3 + 1/2` where `−3 < x < 3`, 1 where `x ≥ 3`.
/// At the kinks this is PyTorch's choice, 0 at `x = −3` and 1 at `x = 3`, not the inner
/// formula's −0.5 and 1.5.
///
/// ```
/// use nn_runtime::{Activation, Hardswish};
/// assert_eq!(Hardswish.forward(1.0), 2.0 / 3.0);
/// assert_eq!(Hardswish.derivative(0.0, 0.0), 0.5);
/// assert_eq!(Hardswish.derivative(3.0, 3.0), 1.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hardswish;

impl Activation for Hardswish {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        Ok(graph.node("HardSwish", &[x], &[]))
    }

    #[inline]
    fn forward(&self, x: f32) -> f32 {
        x * (x + 3.0).clamp(0.0, 6.0) / 6.0
    }

    #[inline]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if x <= -3.0 {
            0.0
        } else if x < 3.0 {
            x / 3.0 + 0.5
        } else {
            1.0
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
        check_against_fixture(&Hardswish, "hardswish");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let points = [-5.0, -3.05, -2.95, -1.5, 0.0, 1.0, 2.95, 3.05, 5.0];
        check_derivative_by_finite_differences(&Hardswish, &points);
    }

    #[test]
    fn kinks_and_extremes() {
        assert_eq!(Hardswish.forward(-3.0), 0.0);
        assert_eq!(Hardswish.forward(3.0), 3.0);
        assert_eq!(Hardswish.derivative(-3.0, 0.0), 0.0);
        assert_eq!(Hardswish.derivative(3.0, 3.0), 1.0);
        assert_eq!(Hardswish.derivative(-1.5, -0.375), 0.0);
        assert_eq!(Hardswish.forward(1000.0), 1000.0);
        assert_eq!(Hardswish.forward(-1000.0), 0.0);
        assert_eq!(Hardswish.derivative(-1000.0, 0.0), 0.0);
        check_finite_at_extremes(&Hardswish);
    }
}
