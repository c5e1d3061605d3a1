//! Hardtanh.

use super::Activation;
use crate::error::Result;
use crate::onnx::OnnxGraph;

/// Hard tanh, PyTorch's `torch.nn.Hardtanh(min_val=-1.0, max_val=1.0)`:
/// `y = clamp(x, min_val, max_val)`.
///
/// Derivative from the input: 1 where `min_val < x < max_val`, else 0 (PyTorch's choice at both
/// kinks: 0 at `x = min_val` and at `x = max_val`). `min_val < max_val` is expected, as PyTorch
/// asserts; a NaN input stays NaN. [`Default`] is PyTorch's `[-1, 1]`.
///
/// ```
/// use nn_runtime::{Activation, Hardtanh};
/// let act = Hardtanh::default();
/// assert_eq!(act.forward(-3.0), -1.0);
/// assert_eq!(act.forward(0.5), 0.5);
/// assert_eq!(act.derivative(1.0, 1.0), 0.0);
/// assert_eq!(Hardtanh::new(0.0, 2.0).forward(3.0), 2.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardtanh {
    /// Lower end of the linear region (PyTorch's `min_val`, default −1).
    pub min_val: f32,
    /// Upper end of the linear region (PyTorch's `max_val`, default 1).
    pub max_val: f32,
}

impl Hardtanh {
    /// Hardtanh clamping to `[min_val, max_val]` (`min_val < max_val`).
    pub const fn new(min_val: f32, max_val: f32) -> Self {
        Self { min_val, max_val }
    }
}

impl Default for Hardtanh {
    /// PyTorch's defaults, `[-1, 1]`.
    fn default() -> Self {
        Self::new(-1.0, 1.0)
    }
}

impl Activation for Hardtanh {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        let (min, max) = (graph.constant(self.min_val), graph.constant(self.max_val));
        Ok(graph.node("Clip", &[x, &min, &max], &[]))
    }

    #[inline]
    fn forward(&self, x: f32) -> f32 {
        if x < self.min_val {
            self.min_val
        } else if x > self.max_val {
            self.max_val
        } else {
            x
        }
    }

    #[inline]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if self.min_val < x && x < self.max_val {
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
        check_against_fixture(&Hardtanh::default(), "hardtanh");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let points = [-3.0, -1.05, -0.95, -0.3, 0.0, 0.95, 1.05, 4.0];
        check_derivative_by_finite_differences(&Hardtanh::default(), &points);
        let points = [-3.0, -0.55, -0.45, 0.0, 1.95, 2.05, 4.0];
        check_derivative_by_finite_differences(&Hardtanh::new(-0.5, 2.0), &points);
    }

    #[test]
    fn kinks_and_extremes() {
        let act = Hardtanh::default();
        assert_eq!(act.forward(1.0), 1.0);
        assert_eq!(act.forward(-1.0), -1.0);
        assert_eq!(act.derivative(1.0, 1.0), 0.0);
        assert_eq!(act.derivative(-1.0, -1.0), 0.0);
        assert_eq!(act.derivative(0.999_999_94, 0.999_999_94), 1.0);
        assert_eq!(act.forward(1000.0), 1.0);
        assert_eq!(act.forward(-1000.0), -1.0);
        assert!(act.forward(f32::NAN).is_nan());
        let shifted = Hardtanh::new(-0.5, 2.0);
        assert_eq!(shifted.forward(-3.0), -0.5);
        assert_eq!(shifted.derivative(2.0, 2.0), 0.0);
        assert_eq!(shifted.derivative(1.5, 1.5), 1.0);
        check_finite_at_extremes(&act);
    }
}
