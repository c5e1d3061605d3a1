//! Leaky ReLU.

use super::Activation;
use crate::error::Result;
use crate::onnx::{Attribute, OnnxGraph};

/// Leaky rectified linear unit, PyTorch's `torch.nn.LeakyReLU(negative_slope=0.01)`:
/// `y = x` if `x > 0`, else `negative_slope·x`.
///
/// Derivative from the input: 1 where `x > 0`, else `negative_slope` (PyTorch's choice at the
/// kink `x = 0`). [`Default`] is PyTorch's slope, 0.01.
///
/// ```
/// use nn_runtime::{Activation, LeakyReLU};
/// let act = LeakyReLU::new(0.2);
/// assert_eq!(act.forward(-2.0), -0.4);
/// assert_eq!(act.derivative(0.0, 0.0), 0.2);
/// assert_eq!(LeakyReLU::default().negative_slope, 0.01);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyReLU {
    /// The slope for `x ≤ 0` (PyTorch's `negative_slope`, default 0.01).
    pub negative_slope: f32,
}

impl LeakyReLU {
    /// Leaky ReLU with slope `negative_slope` for `x ≤ 0`.
    pub const fn new(negative_slope: f32) -> Self {
        Self { negative_slope }
    }
}

impl Default for LeakyReLU {
    /// PyTorch's default slope, 0.01.
    fn default() -> Self {
        Self::new(0.01)
    }
}

impl Activation for LeakyReLU {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        Ok(graph.node(
            "LeakyRelu",
            &[x],
            &[Attribute::float("alpha", self.negative_slope)],
        ))
    }

    #[inline]
    fn forward(&self, x: f32) -> f32 {
        if x > 0.0 {
            x
        } else {
            x * self.negative_slope
        }
    }

    #[inline]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if x > 0.0 {
            1.0
        } else {
            self.negative_slope
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
        check_against_fixture(&LeakyReLU::default(), "leaky_relu_0p01");
        check_against_fixture(&LeakyReLU::new(0.2), "leaky_relu_0p2");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let points = [-3.0, -0.5, -0.05, 0.05, 0.5, 3.0];
        check_derivative_by_finite_differences(&LeakyReLU::default(), &points);
        check_derivative_by_finite_differences(&LeakyReLU::new(0.2), &points);
    }

    #[test]
    fn kink_and_extremes() {
        let act = LeakyReLU::new(0.2);
        assert_eq!(act.forward(0.0), 0.0);
        assert_eq!(act.derivative(0.0, 0.0), 0.2);
        assert_eq!(act.derivative(1e-30, 1e-30), 1.0);
        assert_eq!(act.forward(-1000.0), -200.0);
        assert_eq!(LeakyReLU::default(), LeakyReLU::new(0.01));
        check_finite_at_extremes(&act);
    }
}
